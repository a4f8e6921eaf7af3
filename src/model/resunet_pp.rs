//! BiaPy's ResUNet++ (`biapy/models/resunet++.py`, after Jha et al. 2019): residual blocks
//! with a normalised k×k shortcut, squeeze-and-excitation after the encoder levels, an ASPP
//! bridge and output, and an attention gate on every decoder input. [`ResUNetPlusPlus`],
//! [`Aspp`], [`PlusAttention`].
//!
//! With `F = MODEL.FEATURE_MAPS` the depth is `D = len(F) − 2`: the last entry is the ASPP
//! bridge's width.
//! * Encoder level 0: residual block `C_in → F0` (first: no pre-activation), SE; **not pooled**.
//!   Level `j = 1…D`: residual block `F[j−1] → F[j]` (kernel and dropout of level `j−1`), SE for
//!   `j < D`, then max-pool by level `j`'s factors. Each level's (pooled) output is its skip.
//! * Bridge: ASPP `F[D] → F[D+1]` on the deepest skip.
//! * Decoder step for level `i = D−1…0`: attention gate with the skip `s_i`, then the residual
//!   up-block (transposed conv or resize by level `i+1`'s factors, concat `[up, s_i]`, residual
//!   block `→ F[i+1]` with dropout `DROPOUT[i+2]`).
//! * Output: ASPP `F1 → F0` at full resolution, then the 1×1 head.
//!
//! BiaPy's quirks are kept (spec `biapy-architectures.md` §3): level 0's pool factors and the
//! last `CONV_LAYERS` entry are unused, the attention has no sigmoid and a fixed ReLU, ASPP
//! applies ReLU before its norm. This file must not read the config.

use burn::module::Module;
use burn::tensor::{Device, Tensor, activation};

use super::ModelSpec;
use super::blocks::{ConvBlock, Geometry};
use super::heads::{self, ContrastHeads, HeadNormKind, Init};
use super::layers::{ConvNd, ConvTransposeNd, NameList, Norm, max_pool, n_trainable_params};
use super::resunet::{ResBlockKind, ResConvBlock, ResUpBlock};
use super::seunet::SqExBlock;
use crate::config::{Ndim, NormLayer, UpsampleLayer};

/// ASPP's dilation rates (BiaPy's default `rate=[6, 12, 18]`).
pub const ASPP_RATES: [usize; 3] = [6, 12, 18];

/// One ASPP branch: dilated 3×3(×3) conv → ReLU → norm (BiaPy's order).
#[derive(Module, Debug)]
pub struct AsppBranch {
    /// `aspp_block{r}.0`.
    pub conv: ConvNd,
    /// `aspp_block{r}.2`.
    pub norm: Norm,
}

/// Atrous spatial pyramid pooling: three dilated branches, concatenated, fused by a 1×1 conv.
#[derive(Module, Debug)]
pub struct Aspp {
    /// Dilation 6, 12, 18.
    pub branches: Vec<AsppBranch>,
    /// 1×1 conv `3·out → out` (`output`), no norm or activation after it.
    pub output: ConvNd,
}

impl Aspp {
    /// `channels[0] → channels[1]`.
    pub fn new(ndim: Ndim, channels: [usize; 2], norm: NormLayer, device: &Device) -> Self {
        let branches = ASPP_RATES
            .iter()
            .map(|&rate| AsppBranch {
                conv: ConvNd::dilated(ndim, channels, rate, device),
                norm: Norm::new(norm, ndim, channels[1], device),
            })
            .collect();
        let fused = [ASPP_RATES.len() * channels[1], channels[1]];
        Self { branches, output: ConvNd::new(ndim, fused, [1, 1, 1], device) }
    }

    /// `[batch, in, (z,) y, x]` → `[batch, out, (z,) y, x]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let branches = self
            .branches
            .iter()
            .map(|branch| branch.norm.forward(activation::relu(branch.conv.forward(x.clone()))))
            .collect();
        self.output.forward(Tensor::cat(branches, 1))
    }

    /// Appends `{prefix}.aspp_block{1,2,3}.{0,2}.*` and `{prefix}.output.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        for (i, branch) in self.branches.iter().enumerate() {
            branch.conv.biapy_names(&format!("{prefix}.aspp_block{}.0", i + 1), out);
            branch.norm.biapy_names(&format!("{prefix}.aspp_block{}.2", i + 1), out);
        }
        self.output.biapy_names(&format!("{prefix}.output"), out);
    }
}

/// BiaPy's `ResUNetPlusPlus_AttentionBlock`: `e = pool(conv₃(relu(norm(skip))))`, `d =
/// conv₃(relu(norm(x)))`, `a = conv₁(relu(norm(e + d)))` (one channel, no sigmoid), `x · a`.
#[derive(Module, Debug)]
pub struct PlusAttention {
    /// `conv_encoder.0`, `.2`: skip channels → decoder channels.
    pub encoder_norm: Norm,
    pub encoder_conv: ConvNd,
    /// `conv_decoder.0`, `.2`.
    pub decoder_norm: Norm,
    pub decoder_conv: ConvNd,
    /// `conv_attn.0`, `.2`: decoder channels → 1.
    pub attn_norm: Norm,
    pub attn_conv: ConvNd,
    /// The pool that brings the skip to the decoder input's size.
    #[module(skip)]
    pub pool: [usize; 3],
}

impl PlusAttention {
    /// A gate for a skip with `skip_channels` and a decoder input with `channels`.
    pub fn new(
        ndim: Ndim,
        skip_channels: usize,
        channels: usize,
        norm: NormLayer,
        pool: [usize; 3],
        device: &Device,
    ) -> Self {
        Self {
            encoder_norm: Norm::new(norm, ndim, skip_channels, device),
            encoder_conv: ConvNd::new(ndim, [skip_channels, channels], [3, 3, 3], device),
            decoder_norm: Norm::new(norm, ndim, channels, device),
            decoder_conv: ConvNd::new(ndim, [channels, channels], [3, 3, 3], device),
            attn_norm: Norm::new(norm, ndim, channels, device),
            attn_conv: ConvNd::new(ndim, [channels, 1], [1, 1, 1], device),
            pool,
        }
    }

    /// `skip`: `[batch, F[i], …]` at level `i`; `x`: `[batch, c, …]` one level deeper. Returns
    /// `x` scaled voxel by voxel.
    pub fn forward<const D: usize>(&self, skip: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
        let e = max_pool(self.encoder_conv.forward(activation::relu(self.encoder_norm.forward(skip))), self.pool);
        let d = self.decoder_conv.forward(activation::relu(self.decoder_norm.forward(x.clone())));
        let attention = self.attn_conv.forward(activation::relu(self.attn_norm.forward(e + d)));
        x * attention
    }

    /// Appends `{prefix}.conv_{encoder,decoder,attn}.{0,2}.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        let pairs = [
            ("conv_encoder", &self.encoder_norm, &self.encoder_conv),
            ("conv_decoder", &self.decoder_norm, &self.decoder_conv),
            ("conv_attn", &self.attn_norm, &self.attn_conv),
        ];
        for (name, norm, conv) in pairs {
            norm.biapy_names(&format!("{prefix}.{name}.0"), out);
            conv.biapy_names(&format!("{prefix}.{name}.2"), out);
        }
    }
}

/// The ResUNet++.
#[derive(Module, Debug)]
pub struct ResUNetPlusPlus {
    /// Encoder levels `0…D`.
    pub down_path: Vec<ResConvBlock>,
    /// SE after levels `0…D−1`.
    pub sqex_blocks: Vec<SqExBlock>,
    /// `MODEL.LARGER_IO`'s input unit.
    pub conv_in: Option<ConvBlock>,
    /// ASPP `F[D] → F[D+1]`.
    pub aspp_bridge: Aspp,
    /// Decoder steps, deepest first (BiaPy's `up_paths.0`).
    pub up_paths: Vec<ResUpBlock>,
    /// The gate before each decoder step (BiaPy's `attentions.0`).
    pub attentions: Vec<PlusAttention>,
    /// ASPP `F1 → F0` (BiaPy's `aspp_out.0`).
    pub aspp_out: Aspp,
    /// `MODEL.LARGER_IO`'s output unit (`conv_out.0`).
    pub conv_out: Option<ConvBlock>,
    /// The 1×1 output convolution (`heads.0`).
    pub heads: Vec<ConvNd>,
    /// `LOSS.CONTRAST`'s heads (BiaPy's `heads` and `proj_head`), in place of `heads`.
    pub contrast: Option<ContrastHeads>,
    /// Accepted input; its pools are levels `1…D`'s, in order.
    #[module(skip)]
    pub geometry: Geometry,
}

impl ResUNetPlusPlus {
    /// Builds the network of `spec` (assumed valid: see [`ModelSpec::validate`]).
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let fm = &spec.feature_maps;
        let depth = fm.len() - 2;
        let (ndim, norm) = (spec.ndim, spec.norm);
        let (conv_in, conv_out) = spec.io_units(device);
        let block = |kernel_level: usize, dropout: f64, channels: [usize; 2], first: bool| {
            let kernel = spec.kernel(kernel_level);
            ResConvBlock::with_kernel(spec, kernel, dropout, channels, first, ResBlockKind::PlusPlus, device)
        };
        let mut down_path = vec![block(0, spec.dropout[0], [spec.encoder_in_channels(), fm[0]], true)];
        for j in 1..=depth {
            down_path.push(block(j - 1, spec.dropout[j - 1], [fm[j - 1], fm[j]], false));
        }
        let sqex_blocks = fm[..depth].iter().map(|&c| SqExBlock::new(c, device)).collect();
        let aspp_bridge = Aspp::new(ndim, [fm[depth], fm[depth + 1]], norm, device);
        let mut up_paths = Vec::with_capacity(depth);
        let mut attentions = Vec::with_capacity(depth);
        let mut channels = fm[depth + 1];
        for level in (0..depth).rev() {
            let factors = spec.pool_factors(level + 1);
            attentions.push(PlusAttention::new(ndim, fm[level], channels, norm, factors, device));
            let up = (spec.upsample == UpsampleLayer::Convtranspose)
                .then(|| ConvTransposeNd::new(ndim, [channels, channels], factors, device));
            let conv_block = block(level, spec.dropout[level + 2], [channels + fm[level], fm[level + 1]], false);
            up_paths.push(ResUpBlock { up, conv_block, factors });
            channels = fm[level + 1];
        }
        let aspp_out = Aspp::new(ndim, [fm[1], fm[0]], norm, device);
        let (heads, contrast) = heads::build(&spec.head(fm[0], HeadNormKind::Layer(norm), Init::Biapy), device);
        Self {
            down_path,
            sqex_blocks,
            conv_in,
            aspp_bridge,
            up_paths,
            attentions,
            aspp_out,
            conv_out,
            heads,
            contrast,
            geometry: spec.geometry(),
        }
    }

    /// Logits: `[batch, in_channels, (z,) y, x]` → `[batch, out_channels, (z,) y, x]`. The
    /// caller checks the input against [`ResUNetPlusPlus::geometry`].
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.forward_with(x, false).0
    }

    /// Logits and, with contrastive heads, the embedding (see [`heads::output`]).
    pub fn forward_embed<const D: usize>(&self, x: Tensor<D>) -> (Tensor<D>, Option<Tensor<D>>) {
        self.forward_with(x, true)
    }

    fn forward_with<const D: usize>(&self, x: Tensor<D>, embed: bool) -> (Tensor<D>, Option<Tensor<D>>) {
        let mut x = match &self.conv_in {
            Some(unit) => unit.forward(x),
            None => x,
        };
        let mut skips = Vec::with_capacity(self.down_path.len());
        for (level, block) in self.down_path.iter().enumerate() {
            x = block.forward(x);
            if let Some(se) = self.sqex_blocks.get(level) {
                x = se.forward(x);
            }
            if level > 0 {
                x = max_pool(x, self.geometry.pools[level - 1]);
            }
            skips.push(x.clone());
        }
        x = self.aspp_bridge.forward(x);
        for (step, (attention, up)) in self.attentions.iter().zip(&self.up_paths).enumerate() {
            let skip = skips[skips.len() - 2 - step].clone();
            x = up.forward(attention.forward(skip.clone(), x), skip);
        }
        x = self.aspp_out.forward(x);
        if let Some(unit) = &self.conv_out {
            x = unit.forward(x);
        }
        heads::output(&self.heads, self.contrast.as_ref(), x, embed)
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict order: `down_path`,
    /// `sqex_blocks`, `conv_in`, `aspp_bridge`, `up_paths.0`, `attentions.0`, `aspp_out.0`,
    /// `conv_out.0`, `heads`.
    pub fn biapy_state_dict_names(&self) -> NameList {
        let mut out = Vec::new();
        for (i, block) in self.down_path.iter().enumerate() {
            block.biapy_names(&format!("down_path.{i}"), &mut out);
        }
        for (i, se) in self.sqex_blocks.iter().enumerate() {
            se.biapy_names(&format!("sqex_blocks.{i}"), &mut out);
        }
        if let Some(unit) = &self.conv_in {
            unit.biapy_names("conv_in", &mut out);
        }
        self.aspp_bridge.biapy_names("aspp_bridge", &mut out);
        for (t, up) in self.up_paths.iter().enumerate() {
            up.biapy_names(&format!("up_paths.0.{t}"), &mut out);
        }
        for (t, attention) in self.attentions.iter().enumerate() {
            attention.biapy_names(&format!("attentions.0.{t}"), &mut out);
        }
        self.aspp_out.biapy_names("aspp_out.0", &mut out);
        if let Some(unit) = &self.conv_out {
            unit.biapy_names("conv_out.0", &mut out);
        }
        heads::biapy_names(&self.heads, self.contrast.as_ref(), &mut out);
        out
    }

    /// Trainable parameters per block, in data-flow order: encoder levels `0…D` (with their SE
    /// and `conv_in`), the ASPP bridge, the decoder steps deepest first (gate and up-block),
    /// then the ASPP output with `conv_out` and the head.
    pub fn block_params(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = self.down_path.iter().map(n_trainable_params).collect();
        for (count, se) in counts.iter_mut().zip(&self.sqex_blocks) {
            *count += n_trainable_params(se);
        }
        counts[0] += self.conv_in.as_ref().map_or(0, n_trainable_params);
        counts.push(n_trainable_params(&self.aspp_bridge));
        for (attention, up) in self.attentions.iter().zip(&self.up_paths) {
            counts.push(n_trainable_params(attention) + n_trainable_params(up));
        }
        let conv_out = self.conv_out.as_ref().map_or(0, n_trainable_params);
        counts
            .push(n_trainable_params(&self.aspp_out) + conv_out + heads::n_params(&self.heads, self.contrast.as_ref()));
        counts
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::model::testutil::spec;

    fn net(yaml: &str) -> ResUNetPlusPlus {
        ResUNetPlusPlus::new(&spec(yaml), &Device::flex())
    }

    #[test]
    fn parameter_counts_per_block_are_biapys() {
        // Spec §3: down 2,704 / 18,688 / 74,240 / 295,936; SE 32 + 128 + 512; bridge 1,083,904;
        // aspp_out 14,752; head 17.
        let net = net("MODEL: {ARCHITECTURE: resunet++}");
        let down: Vec<usize> = net.down_path.iter().map(n_trainable_params).collect();
        assert_eq!(down, [2_704, 18_688, 74_240, 295_936]);
        let se: Vec<usize> = net.sqex_blocks.iter().map(n_trainable_params).collect();
        assert_eq!(se, [32, 128, 512]);
        assert_eq!(n_trainable_params(&net.aspp_bridge), 1_083_904);
        assert_eq!(n_trainable_params(&net.aspp_out), 14_752);
        assert_eq!(net.up_paths.iter().map(n_trainable_params).sum::<usize>(), 1_508_416);
        assert_eq!(net.attentions.iter().map(n_trainable_params).sum::<usize>(), 971_043);
        assert_eq!(net.block_params().iter().sum::<usize>(), 3_970_372);
    }

    #[test]
    fn aspp_keeps_the_size_and_equals_its_definition() {
        let device = Device::flex();
        let aspp = Aspp::new(Ndim::D2, [2, 3], NormLayer::In, &device);
        let x = Tensor::<4>::random([1, 2, 20, 20], Distribution::Normal(0.0, 1.0), &device);
        let y = aspp.forward(x.clone());
        assert_eq!(y.dims(), [1, 3, 20, 20]);
        // By hand: each branch conv → ReLU → norm, concatenated, 1×1 conv.
        let parts: Vec<Tensor<4>> =
            aspp.branches.iter().map(|b| b.norm.forward(activation::relu(b.conv.forward(x.clone())))).collect();
        let want = aspp.output.forward(Tensor::cat(parts, 1));
        assert_eq!(y.into_data(), want.into_data());
    }

    #[test]
    fn the_gate_scales_the_decoder_input_by_one_map() {
        let device = Device::flex();
        let gate = PlusAttention::new(Ndim::D2, 4, 6, NormLayer::In, [1, 2, 2], &device);
        let skip = Tensor::<4>::random([2, 4, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let x = Tensor::<4>::random([2, 6, 4, 4], Distribution::Normal(0.0, 1.0), &device);
        let y = gate.forward(skip, x.clone());
        assert_eq!(y.dims(), [2, 6, 4, 4]);
        // Every channel of a voxel is multiplied by the same factor.
        let ratio = (y / x).into_data().try_to_vec::<f32>().unwrap();
        for voxel in 0..2 * 16 {
            let (b, v) = (voxel / 16, voxel % 16);
            let first = ratio[b * 96 + v];
            for c in 1..6 {
                assert!((ratio[b * 96 + c * 16 + v] - first).abs() <= 1e-4 * first.abs().max(1.0));
            }
        }
    }

    #[test]
    fn group_norm_builds_runs_and_has_instance_norms_parameter_count() {
        // D21: BiaPy 3.7.1 crashes on `gn`; segsweep builds it (16 groups in 2D, 8 in 3D).
        for (ndim, patch, input) in
            [("2D", "[32, 32, 1]", vec![2, 1, 32, 32]), ("3D", "[8, 32, 32, 1]", vec![1, 1, 8, 32, 32])]
        {
            let yaml = |norm: &str| {
                format!(
                    "PROBLEM: {{NDIM: {ndim}}}\nDATA: {{PATCH_SIZE: {patch}}}\n\
                     MODEL: {{ARCHITECTURE: resunet++, FEATURE_MAPS: [16, 32, 32], Z_DOWN: [1, 1], NORMALIZATION: {norm}}}"
                )
            };
            let gn = net(&yaml("gn"));
            assert!(
                matches!(gn.aspp_bridge.branches[0].norm, Norm::Group(_))
                    && matches!(gn.attentions[0].attn_norm, Norm::Group(_))
            );
            assert_eq!(n_trainable_params(&gn), n_trainable_params(&net(&yaml("in"))), "{ndim}");
            let device = Device::flex();
            let y = if ndim == "2D" {
                let x = Tensor::<4>::random([2, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
                gn.forward(x).dims().to_vec()
            } else {
                let x = Tensor::<5>::random([1, 1, 8, 32, 32], Distribution::Normal(0.0, 1.0), &device);
                gn.forward(x).dims().to_vec()
            };
            assert_eq!(y, input, "{ndim}");
        }
    }

    #[test]
    fn a_3d_anisotropic_net_runs_and_keeps_the_size() {
        let yaml = "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [4, 16, 16, 1]}\n\
                    MODEL: {ARCHITECTURE: resunet++, FEATURE_MAPS: [2, 4, 8, 8], Z_DOWN: [1, 1, 2]}";
        let net = net(yaml);
        assert_eq!(net.geometry.pools, vec![[1, 2, 2], [2, 2, 2]]);
        let x = Tensor::<5>::random([1, 1, 4, 16, 16], Distribution::Normal(0.0, 1.0), &Device::flex());
        assert_eq!(net.forward(x).dims(), [1, 1, 4, 16, 16]);
    }
}
