//! BiaPy's U-NeXt V1 and V2 (`biapy/models/unext_v1.py`, `unext_v2.py`): [`Unext`], a U-Net of
//! ConvNeXt blocks ([`super::convnext`]).
//!
//! * Stem (`down_path.0`): convolution with kernel = stride = `(STEM_K·zf, STEM_K, STEM_K)`
//!   (`zf = max(Z_DOWN[0] / STEM_K, 1)` truncated; 2D without z) → channel norm (ε 1e-5).
//! * Encoder level i (`down_path.{i+1}`): `CONV_LAYERS[i]` ConvNeXt blocks of `F[i]` channels,
//!   kept as the skip; `downsample_layers.i`: channel norm → convolution with kernel = stride =
//!   the level's pool factors. Bottleneck: `CONV_LAYERS[D]` blocks of `F[D]`.
//! * Decoder step back to level i (`up_paths.0.{D−1−i}`): channel norm → transposed
//!   convolution (or bi/trilinear resize and 1×1 convolution) to `F[i]`, `cat[up, skip]`, a bare
//!   1×1 convolution `2F[i] → F[i]`, then level i's blocks again with their drop-path
//!   probabilities reversed.
//! * Inverted stem (`up_paths.0.D`): transposed convolution with the stem's kernel → channel
//!   norm; `heads.0`: 1×1 convolution.
//!
//! GELU, layer norms and 7×7 depth-wise kernels are fixed: `ACTIVATION`, `NORMALIZATION`,
//! `DROPOUT_VALUES`, `KERNEL_SIZE` and `LARGER_IO` are not read. BiaPy's quirks kept: a level with
//! `ISOTROPY` false switches the depth-wise kernel to `(1, 7, 7)` for every block built after it
//! (deeper levels, the bottleneck and the whole decoder); the stem always strides z by at least
//! `STEM_K`, so the input must be a multiple of the stem times the pools (BiaPy checks only the
//! pools; its 3D template fails to build). This file must not read the config.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ModelSpec;
use super::blocks::{Geometry, Upsampler};
use super::convnext::{ChannelNorm, ConvNextBlock, Version};
use super::heads::{self, ContrastHeads, HeadNormKind, Init};
use super::layers::{ConvNd, ConvTransposeNd, NameList, n_trainable_params};
use crate::config::{Ndim, UpsampleLayer};

/// The channel norms' ε outside the ConvNeXt blocks (stem, down- and up-sampling).
pub const EPSILON: f64 = 1e-5;

/// The depth-wise kernel of the ConvNeXt blocks.
const KERNEL: usize = 7;

/// The stem's kernel and stride `(z, y, x)` (`z` is 1 in 2D).
pub fn stem_factors(spec: &ModelSpec) -> [usize; 3] {
    let k = spec.convnext.stem_kernel;
    match spec.ndim {
        Ndim::D2 => [1, k, k],
        Ndim::D3 => {
            // Python's `int(max(z_down[0] / stem_k, 1))`.
            let zf = (spec.z_down[0] as f64 / k as f64).max(1.0) as usize;
            [k * zf, k, k]
        }
    }
}

/// The depth-wise kernels as BiaPy's constructor assigns them: `(encoder levels, bottleneck,
/// decoder levels by level)`. One variable carried through the loops: once a level is
/// anisotropic in 3D, every block built after it gets `(1, 7, 7)`.
fn kernels(spec: &ModelSpec) -> (Vec<[usize; 3]>, [usize; 3], Vec<[usize; 3]>) {
    let depth = spec.depth();
    let mut kernel = [KERNEL; 3];
    let mut visit = |level: usize| {
        if spec.ndim == Ndim::D3 && !spec.isotropy[level] {
            kernel = [1, KERNEL, KERNEL];
        }
        kernel
    };
    let encoder: Vec<[usize; 3]> = (0..depth).map(&mut visit).collect();
    let bottleneck = visit(depth);
    let mut decoder = vec![[KERNEL; 3]; depth];
    for level in (0..depth).rev() {
        decoder[level] = visit(level);
    }
    (encoder, bottleneck, decoder)
}

/// Drop-path probabilities per encoder level and the bottleneck: `SD_PROB · b / (Σ blocks − 1)`
/// for the running block index b.
fn drop_probs(spec: &ModelSpec) -> Vec<Vec<f64>> {
    let total: usize = spec.conv_layers.iter().sum();
    let mut index = 0;
    spec.conv_layers
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| {
                    let p = spec.convnext.drop_path * index as f64 / (total as f64 - 1.0);
                    index += 1;
                    p
                })
                .collect()
        })
        .collect()
}

fn run_blocks<const D: usize>(blocks: &[ConvNextBlock], x: Tensor<D>) -> Tensor<D> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}

/// One decoder step (BiaPy's `UpConvNeXtBlock_V1/V2` without attention).
#[derive(Module, Debug)]
pub struct UpStep {
    /// `up.0.1`.
    pub norm: ChannelNorm,
    /// `up.1` (transposed convolution) or `up.2` (1×1 after the resize).
    pub up: Upsampler,
    /// `conv_block.block.0`: bare 1×1 `2F → F`.
    pub conv_block: ConvNd,
    /// `cn_block.j`.
    pub cn_block: Vec<ConvNextBlock>,
    /// Up-sampling factors `(fz, fy, fx)`.
    #[module(skip)]
    pub factors: [usize; 3],
}

impl UpStep {
    /// `x` at the coarser level, `skip` at this one.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, skip: Tensor<D>) -> Tensor<D> {
        let up = self.up.forward(self.norm.forward(x), self.factors);
        run_blocks(&self.cn_block, self.conv_block.forward(Tensor::cat(vec![up, skip], 1)))
    }

    fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        self.norm.biapy_names(&format!("{prefix}.up.0.1"), out);
        match &self.up {
            Upsampler::Transpose(conv) => conv.biapy_names(&format!("{prefix}.up.1"), out),
            Upsampler::Resize(conv) => conv.biapy_names(&format!("{prefix}.up.2"), out),
        }
        self.conv_block.biapy_names(&format!("{prefix}.conv_block.block.0"), out);
        for (j, block) in self.cn_block.iter().enumerate() {
            block.biapy_names(&format!("{prefix}.cn_block.{j}"), out);
        }
    }
}

/// The U-NeXt (V1 or V2).
#[derive(Module, Debug)]
pub struct Unext {
    /// `down_path.0.0` and `down_path.0.2`.
    pub stem: ConvNd,
    pub stem_norm: ChannelNorm,
    /// `down_path.{i+1}`.
    pub levels: Vec<Vec<ConvNextBlock>>,
    /// `downsample_layers.i.1` and `.3`.
    pub down_norms: Vec<ChannelNorm>,
    pub down_convs: Vec<ConvNd>,
    /// `bottleneck.j`.
    pub bottleneck: Vec<ConvNextBlock>,
    /// `up_paths.0.{0…D−1}`, deepest first.
    pub ups: Vec<UpStep>,
    /// `up_paths.0.D.0` and `.2`.
    pub inverted_stem: ConvTransposeNd,
    pub inverted_stem_norm: ChannelNorm,
    /// `heads.0`.
    pub heads: Vec<ConvNd>,
    /// `LOSS.CONTRAST`'s heads (BiaPy's `heads` and `proj_head`), in place of `heads`.
    pub contrast: Option<ContrastHeads>,
    /// Accepted input: the stem, then the level pools.
    #[module(skip)]
    pub geometry: Geometry,
}

impl Unext {
    /// Builds `version`'s network of `spec` (assumed valid).
    pub fn new(spec: &ModelSpec, version: Version, device: &Device) -> Self {
        let ndim = spec.ndim;
        let fm = &spec.feature_maps;
        let depth = spec.depth();
        let (enc_kernels, bottleneck_kernel, dec_kernels) = kernels(spec);
        let probs = drop_probs(spec);
        let scale = spec.convnext.layer_scale;
        let block = |dim: usize, kernel: [usize; 3], drop: f64| {
            ConvNextBlock::new(version, ndim, dim, kernel, scale, drop, device)
        };
        let stem = stem_factors(spec);
        let levels = (0..depth).map(|i| probs[i].iter().map(|&p| block(fm[i], enc_kernels[i], p)).collect()).collect();
        let ups = (0..depth)
            .rev()
            .map(|i| {
                let channels = [fm[i + 1], fm[i]];
                let factors = spec.pool_factors(i);
                let up = match spec.upsample {
                    UpsampleLayer::Convtranspose => {
                        Upsampler::Transpose(ConvTransposeNd::new(ndim, channels, factors, device))
                    }
                    UpsampleLayer::Upsampling => Upsampler::Resize(ConvNd::new(ndim, channels, [1; 3], device)),
                };
                UpStep {
                    norm: ChannelNorm::new(fm[i + 1], EPSILON, device),
                    up,
                    conv_block: ConvNd::new(ndim, [2 * fm[i], fm[i]], [1; 3], device),
                    cn_block: probs[i].iter().rev().map(|&p| block(fm[i], dec_kernels[i], p)).collect(),
                    factors,
                }
            })
            .collect();
        let (heads, contrast) = heads::build(&spec.head(fm[0], HeadNormKind::Channel, Init::Biapy), device);
        Self {
            stem: ConvNd::patchify(ndim, [spec.in_channels, fm[0]], stem, device),
            stem_norm: ChannelNorm::new(fm[0], EPSILON, device),
            levels,
            down_norms: (0..depth).map(|i| ChannelNorm::new(fm[i], EPSILON, device)).collect(),
            down_convs: (0..depth)
                .map(|i| ConvNd::patchify(ndim, [fm[i], fm[i + 1]], spec.pool_factors(i), device))
                .collect(),
            bottleneck: probs[depth].iter().map(|&p| block(fm[depth], bottleneck_kernel, p)).collect(),
            ups,
            inverted_stem: ConvTransposeNd::new(ndim, [fm[0], fm[0]], stem, device),
            inverted_stem_norm: ChannelNorm::new(fm[0], EPSILON, device),
            heads,
            contrast,
            geometry: spec.geometry(),
        }
    }

    /// Logits: `[batch, in_channels, (z,) y, x]` → `[batch, out_channels, (z,) y, x]`. The
    /// caller checks the input against [`Unext::geometry`].
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.forward_with(x, false).0
    }

    /// Logits and, with contrastive heads, the embedding (see [`heads::output`]).
    pub fn forward_embed<const D: usize>(&self, x: Tensor<D>) -> (Tensor<D>, Option<Tensor<D>>) {
        self.forward_with(x, true)
    }

    fn forward_with<const D: usize>(&self, x: Tensor<D>, embed: bool) -> (Tensor<D>, Option<Tensor<D>>) {
        let mut x = self.stem_norm.forward(self.stem.forward(x));
        let mut skips = Vec::with_capacity(self.levels.len());
        for ((blocks, norm), conv) in self.levels.iter().zip(&self.down_norms).zip(&self.down_convs) {
            x = run_blocks(blocks, x);
            skips.push(x.clone());
            x = conv.forward(norm.forward(x));
        }
        x = run_blocks(&self.bottleneck, x);
        for up in &self.ups {
            x = up.forward(x, skips.pop().expect("one skip per decoder step"));
        }
        let x = self.inverted_stem_norm.forward(self.inverted_stem.forward(x));
        heads::output(&self.heads, self.contrast.as_ref(), x, embed)
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict order.
    pub fn biapy_state_dict_names(&self) -> NameList {
        let mut out = Vec::new();
        self.stem.biapy_names("down_path.0.0", &mut out);
        self.stem_norm.biapy_names("down_path.0.2", &mut out);
        for (i, blocks) in self.levels.iter().enumerate() {
            for (j, block) in blocks.iter().enumerate() {
                block.biapy_names(&format!("down_path.{}.{j}", i + 1), &mut out);
            }
        }
        for (i, (norm, conv)) in self.down_norms.iter().zip(&self.down_convs).enumerate() {
            norm.biapy_names(&format!("downsample_layers.{i}.1"), &mut out);
            conv.biapy_names(&format!("downsample_layers.{i}.3"), &mut out);
        }
        for (j, block) in self.bottleneck.iter().enumerate() {
            block.biapy_names(&format!("bottleneck.{j}"), &mut out);
        }
        for (step, up) in self.ups.iter().enumerate() {
            up.biapy_names(&format!("up_paths.0.{step}"), &mut out);
        }
        let last = self.ups.len();
        self.inverted_stem.biapy_names(&format!("up_paths.0.{last}.0"), &mut out);
        self.inverted_stem_norm.biapy_names(&format!("up_paths.0.{last}.2"), &mut out);
        heads::biapy_names(&self.heads, self.contrast.as_ref(), &mut out);
        out
    }

    /// Trainable parameters per block: encoder levels (the stem counts with level 0, each
    /// down-sampling layer with the level it leaves), the bottleneck, decoder steps deepest first
    /// (the inverted stem counts with the last), the head.
    pub fn block_params(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = self
            .levels
            .iter()
            .zip(&self.down_norms)
            .zip(&self.down_convs)
            .map(|((blocks, norm), conv)| {
                n_trainable_params(blocks) + n_trainable_params(norm) + n_trainable_params(conv)
            })
            .collect();
        counts[0] += n_trainable_params(&self.stem) + n_trainable_params(&self.stem_norm);
        counts.push(n_trainable_params(&self.bottleneck));
        counts.extend(self.ups.iter().map(n_trainable_params));
        *counts.last_mut().expect("at least one decoder step") +=
            n_trainable_params(&self.inverted_stem) + n_trainable_params(&self.inverted_stem_norm);
        counts.push(heads::n_params(&self.heads, self.contrast.as_ref()));
        counts
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::model::testutil::spec;

    #[test]
    fn parameter_counts_per_part_are_biapys() {
        // Spec §7, v1 2D template: stem 112, levels, down-sampling, bottleneck, decoder, head.
        let net = Unext::new(&spec("MODEL: {ARCHITECTURE: unext_v1}"), Version::V1, &Device::flex());
        assert_eq!(n_trainable_params(&net.stem) + n_trainable_params(&net.stem_norm), 112);
        let levels: Vec<usize> = net.levels.iter().map(n_trainable_params).collect();
        assert_eq!(levels, [5_952, 20_096, 72_960, 276_992]);
        let downs: Vec<usize> = net
            .down_norms
            .iter()
            .zip(&net.down_convs)
            .map(|(n, c)| n_trainable_params(n) + n_trainable_params(c))
            .collect();
        assert_eq!(downs, [2_112, 8_320, 33_024, 131_584]);
        assert_eq!(n_trainable_params(&net.bottleneck), 1_078_272);
        let decoder = n_trainable_params(&net.ups)
            + n_trainable_params(&net.inverted_stem)
            + n_trainable_params(&net.inverted_stem_norm);
        assert_eq!(decoder, 596_112);
        assert_eq!(net.block_params().iter().sum::<usize>(), 2_225_553);
    }

    #[test]
    fn drop_path_grows_to_the_bottleneck_and_the_decoder_reverses_each_level() {
        let spec = spec("MODEL: {ARCHITECTURE: unext_v2, FEATURE_MAPS: [4, 8, 16], CONV_LAYERS: [2, 1, 3]}");
        let probs = drop_probs(&spec);
        let want = [vec![0.0, 0.02], vec![0.04], vec![0.06, 0.08, 0.1]];
        for (level, want) in probs.iter().zip(&want) {
            for (p, w) in level.iter().zip(want) {
                assert!((p - w).abs() < 1e-12, "{probs:?}");
            }
        }
        let net = Unext::new(&spec, Version::V2, &Device::flex());
        let decoder_level0: Vec<f64> = net.ups[1].cn_block.iter().map(|b| b.drop_path.prob()).collect();
        assert_eq!(decoder_level0, [probs[0][1], probs[0][0]]);
    }

    #[test]
    fn one_anisotropic_level_flattens_every_later_kernel() {
        let yaml = "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [32, 64, 64, 1]}\n\
                    MODEL: {ARCHITECTURE: unext_v1, ISOTROPY: [true, false, true, true, true]}";
        let (encoder, bottleneck, decoder) = kernels(&spec(yaml));
        assert_eq!(encoder, [[7; 3], [1, 7, 7], [1, 7, 7], [1, 7, 7]]);
        assert_eq!(bottleneck, [1, 7, 7]);
        assert_eq!(decoder, vec![[1, 7, 7]; 4]);
        let isotropic =
            kernels(&spec("PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [32, 64, 64, 1]}\nMODEL: {ARCHITECTURE: unext_v1}"));
        assert_eq!(isotropic.2, vec![[7; 3]; 4]);
    }

    /// BiaPy's 3D template passes BiaPy's patch check and fails its build; here the config is
    /// refused by key.
    #[test]
    fn a_patch_that_does_not_survive_the_stem_is_refused_by_key() {
        let yaml = "TRAIN: {ENABLE: True}\nPROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [80, 80, 80, 1]}\n\
                    MODEL: {ARCHITECTURE: unext_v1}";
        let config = crate::config::load_str(yaml, &[]).expect("BiaPy's check passes").config;
        let err = ModelSpec::from_config(&config).expect_err("refused").to_string();
        assert!(err.starts_with("`DATA.PATCH_SIZE`") && err.contains("multiples of [32, 32, 32]"), "{err}");
    }

    #[test]
    fn the_stem_strides_z_by_at_least_its_kernel() {
        let yaml = |z: &str| {
            format!(
                "PROBLEM: {{NDIM: 3D}}\nDATA: {{PATCH_SIZE: [32, 64, 64, 1]}}\nMODEL: {{ARCHITECTURE: unext_v1, Z_DOWN: {z}}}"
            )
        };
        assert_eq!(stem_factors(&spec(&yaml("[1, 1, 1, 1]"))), [2, 2, 2]);
        assert_eq!(stem_factors(&spec(&yaml("[2, 2, 2, 2]"))), [2, 2, 2]);
        let net = Unext::new(&spec(&yaml("[1, 2, 1, 2]")), Version::V1, &Device::flex());
        assert_eq!(net.geometry.total_factors(), [8, 32, 32]);
    }

    #[test]
    fn both_versions_keep_the_size_in_2d_and_3d_and_get_every_gradient() {
        use burn::optim::GradientsParams;
        let device = Device::flex().autodiff();
        for (arch, version) in [("unext_v1", Version::V1), ("unext_v2", Version::V2)] {
            for upsample in ["convtranspose", "upsampling"] {
                let yaml =
                    format!("MODEL: {{ARCHITECTURE: {arch}, FEATURE_MAPS: [4, 8, 16], UPSAMPLE_LAYER: {upsample}}}");
                let net = Unext::new(&spec(&yaml), version, &device);
                let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Normal(0.0, 1.0), &device);
                let y = net.forward(x);
                assert_eq!(y.dims(), [2, 1, 16, 16]);
                let grads = GradientsParams::from_grads((y.clone() * y).mean().backward(), &net);
                assert_eq!(grads.len(), net.biapy_state_dict_names().len(), "{arch} {upsample}");
            }
            let yaml = format!(
                "PROBLEM: {{NDIM: 3D}}\nDATA: {{PATCH_SIZE: [8, 16, 16, 1]}}\n\
                 MODEL: {{ARCHITECTURE: {arch}, FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 2], ISOTROPY: [false, true, true]}}"
            );
            let net = Unext::new(&spec(&yaml), version, &Device::flex());
            let x = Tensor::<5>::random([1, 1, 8, 16, 16], Distribution::Normal(0.0, 1.0), &Device::flex());
            assert_eq!(net.forward(x).dims(), [1, 1, 8, 16, 16], "{arch} 3D");
        }
    }
}
