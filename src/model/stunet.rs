//! BiaPy's STU-Net (`biapy/models/stunet.py`, after OrgMIM's nnU-Net-style residual U-Net):
//! [`Stunet`], [`BasicResBlock`], and the stage [`Topology`] that `MODEL.STUNET` selects.
//!
//! A network of its own: fixed instance norm (affine, ε 1e-5) and leaky ReLU (0.01), whatever
//! `MODEL.FEATURE_MAPS`, `NORMALIZATION`, `ACTIVATION`, `DROPOUT_VALUES`, `KERNEL_SIZE`,
//! `Z_DOWN`/`YX_DOWN`, `UPSAMPLE_LAYER`, `ISOTROPY`, `LARGER_IO` and `CONV_LAYERS` say.
//!
//! * Residual block `(in → out, k, stride)`: `conv1` (k, stride, padding k//2) → IN → leaky
//!   ReLU → `conv2` (k) → IN, plus `conv3` (1×1, stride) on the input in each stage's first
//!   block (even when `in = out` and stride 1) or the input itself, then leaky ReLU.
//! * Encoder: stage 0 at full size, stage d ≥ 1 down-samples by `pools[d−1]` in its first
//!   block's convolutions; the last stage (the bottleneck) has stride 1 in the presets.
//! * Decoder step u: nearest up-sampling by the pool it undoes, a 1×1 convolution to the
//!   stage's width, `cat[up, skip]`, then the stage's blocks.
//! * Output: `seg_outputs.0` (1×1 to the classes) then `heads.0` (1×1, classes → classes): two
//!   stacked 1×1 convolutions with nothing between them, as BiaPy builds it.
//!
//! BiaPy's `init_weights`: Xavier-uniform convolutions with zero bias. This file must not read
//! the config; [`Topology::from_config`] reads the `MODEL.STUNET` section it is given.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::blocks::Geometry;
use super::layers::{ConvNd, NameList, Norm, activate, n_trainable_params, upsample_nearest};
use super::{ModelError, ModelSpec};
use crate::config::{Activation, Ndim, NormLayer, Stunet as StunetConfig, StunetVariant};

/// The stages of a STU-Net: widths, blocks per stage, strides and kernels, all `(z, y, x)`
/// (`z` is 1 in 2D).
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    /// Residual blocks per stage (`DEPTH`).
    pub depth: Vec<usize>,
    /// Channels per stage (`DIMS`).
    pub dims: Vec<usize>,
    /// Stride of stage d + 1's first block (`POOL_OP_KERNEL_SIZES`): one fewer than stages.
    pub pools: Vec<[usize; 3]>,
    /// Convolution kernel per stage (`CONV_KERNEL_SIZES`).
    pub kernels: Vec<[usize; 3]>,
}

impl Topology {
    /// BiaPy's presets: 3×3(×3) kernels everywhere, strides 2 (z included in 3D) four times then
    /// 1; `small` widths 16…256, `base` 32…512 (one block per stage), `large` 64…1024 (two).
    pub fn preset(variant: StunetVariant) -> Self {
        let (base, blocks) = match variant {
            StunetVariant::Small => (16, 1),
            StunetVariant::Base | StunetVariant::Custom => (32, 1),
            StunetVariant::Large => (64, 2),
        };
        let mut dims: Vec<usize> = (0..5).map(|d| base << d).collect();
        dims.push(base << 4);
        Self { depth: vec![blocks; 6], dims, pools: [vec![[2; 3]; 4], vec![[1; 3]]].concat(), kernels: vec![[3; 3]; 6] }
    }

    /// The topology `MODEL.STUNET` selects, checked (BiaPy's `check_configuration` rules for
    /// `custom`, and odd kernels: BiaPy pads `k // 2`, which keeps sizes only for odd `k`).
    pub fn from_config(stunet: &StunetConfig, ndim: Ndim) -> Result<Self, ModelError> {
        let fail = |key: &'static str, message: String| Err(ModelError::InvalidSpec { key, message });
        if stunet.variant != StunetVariant::Custom {
            return Ok(Self::preset(stunet.variant));
        }
        let n_axes = ndim.n_axes();
        let stages = stunet.dims.len();
        if stages < 2 || stunet.dims.contains(&0) {
            return fail("MODEL.STUNET.DIMS", format!("{:?}: expected at least 2 positive widths", stunet.dims));
        }
        if stunet.depth.len() != stages || stunet.depth.contains(&0) {
            let message =
                format!("{:?}: expected {stages} values ≥ 1 (one per `MODEL.STUNET.DIMS` stage)", stunet.depth);
            return fail("MODEL.STUNET.DEPTH", message);
        }
        let triples = |key: &'static str, entries: &[Vec<usize>], expected: usize| -> Result<Vec<[usize; 3]>, _> {
            if entries.len() != expected {
                let message = format!("has {} entries; expected {expected} (from `MODEL.STUNET.DIMS`)", entries.len());
                return Err(ModelError::InvalidSpec { key, message });
            }
            entries
                .iter()
                .map(|entry| match (entry.len() == n_axes, entry.contains(&0)) {
                    (true, false) if n_axes == 2 => Ok([1, entry[0], entry[1]]),
                    (true, false) => Ok([entry[0], entry[1], entry[2]]),
                    _ => {
                        let message = format!("{entry:?}: expected {n_axes} positive values per entry (one per axis)");
                        Err(ModelError::InvalidSpec { key, message })
                    }
                })
                .collect()
        };
        let pools = triples("MODEL.STUNET.POOL_OP_KERNEL_SIZES", &stunet.pool_op_kernel_sizes, stages - 1)?;
        let kernels = triples("MODEL.STUNET.CONV_KERNEL_SIZES", &stunet.conv_kernel_sizes, stages)?;
        if let Some(kernel) = kernels.iter().find(|k| k.iter().any(|s| s % 2 == 0)) {
            let message = format!("{kernel:?}: every size must be odd (BiaPy pads k // 2, which keeps only odd sizes)");
            return fail("MODEL.STUNET.CONV_KERNEL_SIZES", message);
        }
        Ok(Self { depth: stunet.depth.clone(), dims: stunet.dims.clone(), pools, kernels })
    }

    /// Number of down-sampling steps (stages − 1).
    pub fn n_pools(&self) -> usize {
        self.pools.len()
    }
}

/// OrgMIM's `BasicResBlock`.
#[derive(Module, Debug)]
pub struct BasicResBlock {
    pub conv1: ConvNd,
    pub norm1: Norm,
    pub conv2: ConvNd,
    pub norm2: Norm,
    /// The 1×1 (strided) projection of the input; `None`: the input itself.
    pub conv3: Option<ConvNd>,
}

impl BasicResBlock {
    fn new(
        ndim: Ndim,
        channels: [usize; 2],
        kernel: [usize; 3],
        stride: [usize; 3],
        project: bool,
        device: &Device,
    ) -> Self {
        let out = channels[1];
        Self {
            conv1: ConvNd::strided(ndim, channels, kernel, stride, device),
            norm1: Norm::new(NormLayer::In, ndim, out, device),
            conv2: ConvNd::new(ndim, [out, out], kernel, device),
            norm2: Norm::new(NormLayer::In, ndim, out, device),
            conv3: project.then(|| ConvNd::strided(ndim, channels, [1; 3], stride, device)),
        }
    }

    /// `[batch, in, …]` → `[batch, out, …/stride]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let y = activate(Activation::LeakyRelu, self.norm1.forward(self.conv1.forward(x.clone())));
        let y = self.norm2.forward(self.conv2.forward(y));
        let residual = match &self.conv3 {
            Some(conv) => conv.forward(x),
            None => x,
        };
        activate(Activation::LeakyRelu, y + residual)
    }

    /// Appends `{prefix}.{conv1,norm1,conv2,norm2,conv3}.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        self.conv1.biapy_names(&format!("{prefix}.conv1"), out);
        self.norm1.biapy_names(&format!("{prefix}.norm1"), out);
        self.conv2.biapy_names(&format!("{prefix}.conv2"), out);
        self.norm2.biapy_names(&format!("{prefix}.norm2"), out);
        if let Some(conv) = &self.conv3 {
            conv.biapy_names(&format!("{prefix}.conv3"), out);
        }
    }
}

/// A stage: its blocks, the first projecting (and striding).
fn stage(
    ndim: Ndim,
    channels: [usize; 2],
    kernel: [usize; 3],
    stride: [usize; 3],
    blocks: usize,
    device: &Device,
) -> Vec<BasicResBlock> {
    let out = channels[1];
    std::iter::once(BasicResBlock::new(ndim, channels, kernel, stride, true, device))
        .chain((1..blocks).map(|_| BasicResBlock::new(ndim, [out, out], kernel, [1; 3], false, device)))
        .collect()
}

fn run_stage<const D: usize>(blocks: &[BasicResBlock], x: Tensor<D>) -> Tensor<D> {
    blocks.iter().fold(x, |x, block| block.forward(x))
}

/// The STU-Net.
#[derive(Module, Debug)]
pub struct Stunet {
    /// `conv_blocks_context.d`: the encoder stages, the last one the bottleneck.
    pub conv_blocks_context: Vec<Vec<BasicResBlock>>,
    /// `upsample_layers.u.conv`: the 1×1 convolution after each nearest up-sampling.
    pub upsample_layers: Vec<ConvNd>,
    /// `conv_blocks_localization.u`: the decoder stages, deepest first.
    pub conv_blocks_localization: Vec<Vec<BasicResBlock>>,
    /// `seg_outputs.0`, then `heads.0`.
    pub seg_outputs: Vec<ConvNd>,
    pub heads: Vec<ConvNd>,
    /// Accepted input: the stages' strides.
    #[module(skip)]
    pub geometry: Geometry,
}

impl Stunet {
    /// Builds the network of `spec` (assumed valid: it carries a [`Topology`]).
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let ndim = spec.ndim;
        let t = spec.stunet.as_ref().expect("a validated stunet spec has a topology");
        let n = t.n_pools();
        let mut conv_blocks_context =
            vec![stage(ndim, [spec.in_channels, t.dims[0]], t.kernels[0], [1; 3], t.depth[0], device)];
        for d in 1..=n {
            conv_blocks_context.push(stage(
                ndim,
                [t.dims[d - 1], t.dims[d]],
                t.kernels[d],
                t.pools[d - 1],
                t.depth[d],
                device,
            ));
        }
        // Decoder step u returns to stage n − 1 − u.
        let upsample_layers =
            (0..n).map(|u| ConvNd::new(ndim, [t.dims[n - u], t.dims[n - 1 - u]], [1; 3], device)).collect();
        let conv_blocks_localization = (0..n)
            .map(|u| {
                let s = n - 1 - u;
                stage(ndim, [2 * t.dims[s], t.dims[s]], t.kernels[s], [1; 3], t.depth[s], device)
            })
            .collect();
        let out = spec.out_channels;
        Self {
            conv_blocks_context,
            upsample_layers,
            conv_blocks_localization,
            seg_outputs: vec![ConvNd::new(ndim, [t.dims[0], out], [1; 3], device)],
            heads: vec![ConvNd::new(ndim, [out, out], [1; 3], device)],
            geometry: spec.geometry(),
        }
    }

    /// Logits: `[batch, in_channels, (z,) y, x]` → `[batch, out_channels, (z,) y, x]`. The
    /// caller checks the input against [`Stunet::geometry`].
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let (bottleneck, encoder) = self.conv_blocks_context.split_last().expect("at least two stages");
        let mut skips = Vec::with_capacity(encoder.len());
        let mut x = x;
        for blocks in encoder {
            x = run_stage(blocks, x);
            skips.push(x.clone());
        }
        x = run_stage(bottleneck, x);
        let pools = &self.geometry.pools;
        for (u, (up, blocks)) in self.upsample_layers.iter().zip(&self.conv_blocks_localization).enumerate() {
            let skip = skips.pop().expect("one skip per decoder stage");
            let upsampled = up.forward(upsample_nearest(x, pools[pools.len() - 1 - u]));
            x = run_stage(blocks, Tensor::cat(vec![upsampled, skip], 1));
        }
        self.heads[0].forward(self.seg_outputs[0].forward(x))
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict order.
    pub fn biapy_state_dict_names(&self) -> NameList {
        let mut out = Vec::new();
        let stages = |name: &str, stages: &[Vec<BasicResBlock>], out: &mut NameList| {
            for (d, blocks) in stages.iter().enumerate() {
                for (b, block) in blocks.iter().enumerate() {
                    block.biapy_names(&format!("{name}.{d}.{b}"), out);
                }
            }
        };
        stages("conv_blocks_context", &self.conv_blocks_context, &mut out);
        for (u, conv) in self.upsample_layers.iter().enumerate() {
            conv.biapy_names(&format!("upsample_layers.{u}.conv"), &mut out);
        }
        stages("conv_blocks_localization", &self.conv_blocks_localization, &mut out);
        self.seg_outputs[0].biapy_names("seg_outputs.0", &mut out);
        self.heads[0].biapy_names("heads.0", &mut out);
        out
    }

    /// Trainable parameters per block: encoder stages, the bottleneck stage, decoder steps
    /// deepest first (up-sampling convolution and stage), the two output convolutions.
    pub fn block_params(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = self.conv_blocks_context.iter().map(n_trainable_params).collect();
        for (up, blocks) in self.upsample_layers.iter().zip(&self.conv_blocks_localization) {
            counts.push(n_trainable_params(up) + n_trainable_params(blocks));
        }
        counts.push(n_trainable_params(&self.seg_outputs[0]) + n_trainable_params(&self.heads[0]));
        counts
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;
    use crate::model::testutil::spec;

    #[test]
    fn parameter_counts_per_block_are_biapys() {
        // Spec §8, base 2D: encoder stages, up-sampling convs, decoder stages, outputs.
        let net = Stunet::new(&spec("MODEL: {ARCHITECTURE: stunet}"), &Device::flex());
        let encoder: Vec<usize> = net.conv_blocks_context.iter().map(n_trainable_params).collect();
        assert_eq!(encoder, [9_760, 57_792, 230_272, 919_296, 3_673_600, 4_984_320]);
        let ups: Vec<usize> = net.upsample_layers.iter().map(n_trainable_params).collect();
        assert_eq!(ups, [262_656, 131_328, 32_896, 8_256, 2_080]);
        let decoder: Vec<usize> = net.conv_blocks_localization.iter().map(n_trainable_params).collect();
        assert_eq!(decoder, [7_605_760, 1_902_336, 476_032, 119_232, 29_920]);
        assert_eq!((n_trainable_params(&net.seg_outputs[0]), n_trainable_params(&net.heads[0])), (33, 2));
        assert_eq!(net.block_params().iter().sum::<usize>(), 20_445_571);
    }

    #[test]
    fn variants_have_biapys_counts() {
        for (variant, classes, total) in
            [("small", 2, 5_116_099), ("small", 3, 5_116_143), ("large", 2, 150_931_459), ("large", 3, 150_931_599)]
        {
            let yaml = format!(
                "DATA: {{N_CLASSES: {classes}}}\nMODEL: {{ARCHITECTURE: stunet, STUNET: {{VARIANT: {variant}}}}}"
            );
            let net = Stunet::new(&spec(&yaml), &Device::flex());
            assert_eq!(net.block_params().iter().sum::<usize>(), total, "{variant} {classes}");
        }
    }

    #[test]
    fn a_custom_anisotropic_3d_net_keeps_the_size() {
        let yaml = "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [4, 16, 16, 1]}\nMODEL: {ARCHITECTURE: stunet, FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1], STUNET: \
                    {VARIANT: custom, DEPTH: [1, 2, 1], DIMS: [4, 8, 8], POOL_OP_KERNEL_SIZES: [[1, 2, 2], [2, 2, 2]], \
                    CONV_KERNEL_SIZES: [[1, 3, 3], [3, 3, 3], [3, 3, 3]]}}";
        let spec = spec(yaml);
        assert_eq!(spec.geometry().pools, vec![[1, 2, 2], [2, 2, 2]]);
        let net = Stunet::new(&spec, &Device::flex());
        assert_eq!(net.conv_blocks_context[1].len(), 2);
        assert!(net.conv_blocks_context[1][1].conv3.is_none());
        let x = Tensor::<5>::random([2, 1, 4, 16, 16], Distribution::Normal(0.0, 1.0), &Device::flex());
        assert_eq!(net.forward(x).dims(), [2, 1, 4, 16, 16]);
    }

    #[test]
    fn custom_topologies_are_checked_by_key() {
        let custom = |extra: &str| {
            let yaml = format!(
                "TRAIN: {{ENABLE: True}}\nMODEL: {{ARCHITECTURE: stunet, STUNET: {{VARIANT: custom, {extra}}}}}"
            );
            let config = crate::config::load_str(&yaml, &[]).expect("config").config;
            crate::model::ModelSpec::from_config(&config).expect_err("refused").to_string()
        };
        let depth = custom("DEPTH: [1, 1]");
        assert!(depth.starts_with("`MODEL.STUNET.DEPTH`"), "{depth}");
        let pools = custom("POOL_OP_KERNEL_SIZES: [[2, 2, 2]]");
        assert!(pools.starts_with("`MODEL.STUNET.POOL_OP_KERNEL_SIZES`") && pools.contains("expected 5"), "{pools}");
        // A 2D net takes two values per entry (BiaPy's default has three).
        let axes = custom("POOL_OP_KERNEL_SIZES: [[2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2], [1, 1, 1]]");
        assert!(axes.contains("expected 2 positive values"), "{axes}");
        let even = custom(
            "POOL_OP_KERNEL_SIZES: [[2, 2], [2, 2], [2, 2], [2, 2], [1, 1]], \
             CONV_KERNEL_SIZES: [[3, 3], [3, 3], [2, 2], [3, 3], [3, 3], [3, 3]]",
        );
        assert!(even.starts_with("`MODEL.STUNET.CONV_KERNEL_SIZES`") && even.contains("odd"), "{even}");
    }

    #[test]
    fn every_parameter_gets_a_gradient() {
        use burn::optim::GradientsParams;
        let device = Device::flex().autodiff();
        let yaml = "MODEL: {ARCHITECTURE: stunet, STUNET: {VARIANT: custom, DEPTH: [2, 1, 1], DIMS: [4, 8, 8], \
                    POOL_OP_KERNEL_SIZES: [[2, 2], [1, 1]], CONV_KERNEL_SIZES: [[3, 3], [3, 3], [1, 1]]}}";
        let model = crate::model::SegModel::new(&spec(yaml), &device);
        let x = Tensor::<4>::random([2, 1, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let logits = model.forward2d(x).expect("fits");
        assert_eq!(logits.dims(), [2, 1, 8, 8]);
        let loss = (logits.clone() * logits).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        assert_eq!(grads.len(), model.biapy_state_dict_names().len());
    }
}
