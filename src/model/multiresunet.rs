//! BiaPy's MultiResUNet (`biapy/models/multiresunet.py`, after Ibtehaz & Rahman 2020):
//! [`MultiResUnet`], [`MultiResBlock`], [`ResPath`], [`ConvBn`].
//!
//! A fixed topology, as BiaPy builds it whatever `MODEL.FEATURE_MAPS`, `NORMALIZATION`,
//! `ACTIVATION`, `DROPOUT_VALUES`, `KERNEL_SIZE`, `YX_DOWN`, `UPSAMPLE_LAYER`, `ISOTROPY`,
//! `LARGER_IO` and `CONV_LAYERS` say: four down-samplings by 2 in y and x (`Z_DOWN[i]` in z),
//! base width 32, α = 1.67, batch norm, ReLU, 3×3(×3) kernels, transposed-convolution
//! up-sampling. Every layer keeps PyTorch's default initialisation (BiaPy does not call its
//! `init_weights` here).
//!
//! * Multires block `(in, U)`: `W = 1.67·U`, widths `a = ⌊0.167W⌋, b = ⌊0.333W⌋, c = ⌊0.5W⌋`;
//!   three chained 3×3 conv–BN–ReLU units `in → a → b → c`, concatenated, BN, plus a 1×1
//!   conv–BN shortcut `in → a+b+c`, BN, ReLU.
//! * Res path `(in → out, L)`: L times `x = relu(bn(relu(bn(conv₃(x))) + conv₁bn(x)))` with
//!   **one** BN module per step applied twice (BiaPy's quirk: shared affine, running statistics
//!   updated twice per pass).
//! * Encoder: blocks of U = 32, 64, 128, 256 with res paths of length 4, 3, 2, 1 on their
//!   skips, then U = 512 at 1/16; decoder: transposed conv (kernel = stride = level's factor)
//!   to U, concat `[up, res path]`, block of U; 1×1 head.
//!
//! This file must not read the config.

use burn::module::Module;
use burn::tensor::{Device, Tensor, activation};

use super::ModelSpec;
use super::blocks::Geometry;
use super::heads::{self, ContrastHeads, HeadNormKind, Init};
use super::layers::{ConvNd, ConvTransposeNd, NameList, Norm, max_pool, n_trainable_params};
use crate::config::{Ndim, NormLayer};

/// BiaPy's hard-coded width multiplier.
pub const ALPHA: f64 = 1.67;
/// The first level's `U`; each level doubles it.
pub const BASE_FILTERS: usize = 32;
/// Down-sampling steps (fixed).
pub const DEPTH: usize = 4;

/// The three chained units' widths `(a, b, c)` of a multires block with `U` filters, computed
/// as Python does (`int(U * 1.67 * 0.167)` in double precision).
pub fn multires_widths(filters: usize) -> [usize; 3] {
    let w = filters as f64 * ALPHA;
    [(w * 0.167) as usize, (w * 0.333) as usize, (w * 0.5) as usize]
}

/// A multires block's output channels `a + b + c`.
pub fn multires_channels(filters: usize) -> usize {
    multires_widths(filters).iter().sum()
}

/// BiaPy's `Conv_batchnorm`: conv → batch norm → ReLU (when `relu`).
#[derive(Module, Debug)]
pub struct ConvBn {
    /// `conv1`.
    pub conv: ConvNd,
    /// `batchnorm`.
    pub bn: Norm,
    #[module(skip)]
    pub relu: bool,
}

impl ConvBn {
    fn new(ndim: Ndim, channels: [usize; 2], kernel: usize, relu: bool, device: &Device) -> Self {
        Self {
            conv: ConvNd::torch_default(ndim, channels, [kernel; 3], device),
            bn: Norm::new(NormLayer::Bn, ndim, channels[1], device),
            relu,
        }
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let y = self.bn.forward(self.conv.forward(x));
        if self.relu { activation::relu(y) } else { y }
    }

    fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        self.conv.biapy_names(&format!("{prefix}.conv1"), out);
        self.bn.biapy_names(&format!("{prefix}.batchnorm"), out);
    }
}

/// BiaPy's `Multiresblock`.
#[derive(Module, Debug)]
pub struct MultiResBlock {
    /// 1×1 conv–BN `in → a+b+c`, no ReLU.
    pub shortcut: ConvBn,
    /// `in → a`, `a → b`, `b → c` (BiaPy's `conv_3x3`, `conv_5x5`, `conv_7x7`: all 3×3).
    pub conv_3x3: ConvBn,
    pub conv_5x5: ConvBn,
    pub conv_7x7: ConvBn,
    /// On the concatenation, then on the sum with the shortcut.
    pub batch_norm1: Norm,
    pub batch_norm2: Norm,
}

impl MultiResBlock {
    /// A block `in_channels → multires_channels(filters)`.
    pub fn new(ndim: Ndim, in_channels: usize, filters: usize, device: &Device) -> Self {
        let [a, b, c] = multires_widths(filters);
        let n = a + b + c;
        Self {
            shortcut: ConvBn::new(ndim, [in_channels, n], 1, false, device),
            conv_3x3: ConvBn::new(ndim, [in_channels, a], 3, true, device),
            conv_5x5: ConvBn::new(ndim, [a, b], 3, true, device),
            conv_7x7: ConvBn::new(ndim, [b, c], 3, true, device),
            batch_norm1: Norm::new(NormLayer::Bn, ndim, n, device),
            batch_norm2: Norm::new(NormLayer::Bn, ndim, n, device),
        }
    }

    /// `[batch, in, …]` → `[batch, a+b+c, …]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let shortcut = self.shortcut.forward(x.clone());
        let a = self.conv_3x3.forward(x);
        let b = self.conv_5x5.forward(a.clone());
        let c = self.conv_7x7.forward(b.clone());
        let joined = self.batch_norm1.forward(Tensor::cat(vec![a, b, c], 1));
        activation::relu(self.batch_norm2.forward(joined + shortcut))
    }

    /// Appends `{prefix}.{shortcut,conv_3x3,conv_5x5,conv_7x7}.*` and `{prefix}.batch_norm{1,2}.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        self.shortcut.biapy_names(&format!("{prefix}.shortcut"), out);
        self.conv_3x3.biapy_names(&format!("{prefix}.conv_3x3"), out);
        self.conv_5x5.biapy_names(&format!("{prefix}.conv_5x5"), out);
        self.conv_7x7.biapy_names(&format!("{prefix}.conv_7x7"), out);
        self.batch_norm1.biapy_names(&format!("{prefix}.batch_norm1"), out);
        self.batch_norm2.biapy_names(&format!("{prefix}.batch_norm2"), out);
    }
}

/// BiaPy's `Respath`: the residual convolutions on a skip connection.
#[derive(Module, Debug)]
pub struct ResPath {
    /// 1×1 conv–BN per step.
    pub shortcuts: Vec<ConvBn>,
    /// 3×3 conv–BN–ReLU per step.
    pub convs: Vec<ConvBn>,
    /// One BN per step, applied twice.
    pub bns: Vec<Norm>,
}

impl ResPath {
    /// `length` steps `in_channels → out_channels` (the first), then `out → out`.
    pub fn new(ndim: Ndim, channels: [usize; 2], length: usize, device: &Device) -> Self {
        let input = |step: usize| if step == 0 { channels[0] } else { channels[1] };
        Self {
            shortcuts: (0..length).map(|l| ConvBn::new(ndim, [input(l), channels[1]], 1, false, device)).collect(),
            convs: (0..length).map(|l| ConvBn::new(ndim, [input(l), channels[1]], 3, true, device)).collect(),
            bns: (0..length).map(|_| Norm::new(NormLayer::Bn, ndim, channels[1], device)).collect(),
        }
    }

    /// `[batch, in, …]` → `[batch, out, …]`.
    pub fn forward<const D: usize>(&self, mut x: Tensor<D>) -> Tensor<D> {
        for ((shortcut, conv), bn) in self.shortcuts.iter().zip(&self.convs).zip(&self.bns) {
            let skip = shortcut.forward(x.clone());
            let y = activation::relu(bn.forward(conv.forward(x)));
            x = activation::relu(bn.forward(y + skip));
        }
        x
    }

    /// Appends `{prefix}.shortcuts.{l}.*`, `{prefix}.convs.{l}.*`, `{prefix}.bns.{l}.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        for (l, shortcut) in self.shortcuts.iter().enumerate() {
            shortcut.biapy_names(&format!("{prefix}.shortcuts.{l}"), out);
        }
        for (l, conv) in self.convs.iter().enumerate() {
            conv.biapy_names(&format!("{prefix}.convs.{l}"), out);
        }
        for (l, bn) in self.bns.iter().enumerate() {
            bn.biapy_names(&format!("{prefix}.bns.{l}"), out);
        }
    }
}

/// The MultiResUNet.
#[derive(Module, Debug)]
pub struct MultiResUnet {
    /// `multiresblock1…9`: four encoder levels, the bottom, four decoder levels (deepest first).
    pub blocks: Vec<MultiResBlock>,
    /// `respath1…4` on the encoder levels' outputs.
    pub respaths: Vec<ResPath>,
    /// `upsample6…9`, deepest first.
    pub ups: Vec<ConvTransposeNd>,
    /// `heads.0`: 1×1 conv, PyTorch's default initialisation.
    pub heads: Vec<ConvNd>,
    /// `LOSS.CONTRAST`'s heads (BiaPy's `heads` and `proj_head`), in place of `heads`.
    pub contrast: Option<ContrastHeads>,
    /// Accepted input: pools `(Z_DOWN[i], 2, 2)`.
    #[module(skip)]
    pub geometry: Geometry,
}

impl MultiResUnet {
    /// Builds the network of `spec` (assumed valid: four `Z_DOWN` values).
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let ndim = spec.ndim;
        let filters = |level: usize| BASE_FILTERS << level;
        let mut blocks = Vec::with_capacity(2 * DEPTH + 1);
        let mut respaths = Vec::with_capacity(DEPTH);
        let mut in_channels = spec.in_channels;
        for level in 0..=DEPTH {
            blocks.push(MultiResBlock::new(ndim, in_channels, filters(level), device));
            in_channels = multires_channels(filters(level));
            if level < DEPTH {
                respaths.push(ResPath::new(ndim, [in_channels, filters(level)], DEPTH - level, device));
            }
        }
        let geometry = spec.geometry();
        let mut ups = Vec::with_capacity(DEPTH);
        for level in (0..DEPTH).rev() {
            ups.push(ConvTransposeNd::new(ndim, [in_channels, filters(level)], geometry.pools[level], device));
            blocks.push(MultiResBlock::new(ndim, 2 * filters(level), filters(level), device));
            in_channels = multires_channels(filters(level));
        }
        // BiaPy passes the `BatchNorm` class, not a layer, to its contrastive head (which then
        // fails to build); the batch norm it names is built here.
        let head = spec.head(in_channels, HeadNormKind::Layer(NormLayer::Bn), Init::Torch);
        let (heads, contrast) = heads::build(&head, device);
        Self { blocks, respaths, ups, heads, contrast, geometry }
    }

    /// Logits: `[batch, in_channels, (z,) y, x]` → `[batch, out_channels, (z,) y, x]`. The
    /// caller checks the input against [`MultiResUnet::geometry`].
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.forward_with(x, false).0
    }

    /// Logits and, with contrastive heads, the embedding (see [`heads::output`]).
    pub fn forward_embed<const D: usize>(&self, x: Tensor<D>) -> (Tensor<D>, Option<Tensor<D>>) {
        self.forward_with(x, true)
    }

    fn forward_with<const D: usize>(&self, x: Tensor<D>, embed: bool) -> (Tensor<D>, Option<Tensor<D>>) {
        let mut skips = Vec::with_capacity(DEPTH);
        let mut x = x;
        for level in 0..DEPTH {
            let features = self.blocks[level].forward(x);
            x = max_pool(features.clone(), self.geometry.pools[level]);
            skips.push(self.respaths[level].forward(features));
        }
        x = self.blocks[DEPTH].forward(x);
        for (step, up) in self.ups.iter().enumerate() {
            let skip = skips.pop().expect("one res path per decoder step");
            x = self.blocks[DEPTH + 1 + step].forward(Tensor::cat(vec![up.forward(x), skip], 1));
        }
        heads::output(&self.heads, self.contrast.as_ref(), x, embed)
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict order (`multiresblock1`,
    /// `respath1`, …, `multiresblock5`, `upsample6`, `multiresblock6`, …, `heads.0`).
    pub fn biapy_state_dict_names(&self) -> NameList {
        let mut out = Vec::new();
        for level in 0..DEPTH {
            self.blocks[level].biapy_names(&format!("multiresblock{}", level + 1), &mut out);
            self.respaths[level].biapy_names(&format!("respath{}", level + 1), &mut out);
        }
        self.blocks[DEPTH].biapy_names(&format!("multiresblock{}", DEPTH + 1), &mut out);
        for (step, up) in self.ups.iter().enumerate() {
            let index = DEPTH + 2 + step;
            up.biapy_names(&format!("upsample{index}"), &mut out);
            self.blocks[DEPTH + 1 + step].biapy_names(&format!("multiresblock{index}"), &mut out);
        }
        heads::biapy_names(&self.heads, self.contrast.as_ref(), &mut out);
        out
    }

    /// Trainable parameters per block: encoder levels (block and res path), the bottom block,
    /// decoder steps deepest first (transposed conv and block), head.
    pub fn block_params(&self) -> Vec<usize> {
        let mut counts: Vec<usize> = (0..DEPTH)
            .map(|level| n_trainable_params(&self.blocks[level]) + n_trainable_params(&self.respaths[level]))
            .collect();
        counts.push(n_trainable_params(&self.blocks[DEPTH]));
        for (step, up) in self.ups.iter().enumerate() {
            counts.push(n_trainable_params(up) + n_trainable_params(&self.blocks[DEPTH + 1 + step]));
        }
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
    fn widths_follow_pythons_rounding() {
        // Spec §5: U → (a, b, c, n).
        assert_eq!(multires_widths(32), [8, 17, 26]);
        assert_eq!(multires_widths(64), [17, 35, 53]);
        assert_eq!(multires_widths(128), [35, 71, 106]);
        assert_eq!(multires_widths(256), [71, 142, 213]);
        assert_eq!(multires_widths(512), [142, 284, 427]);
        assert_eq!(multires_channels(512), 853);
    }

    #[test]
    fn parameter_counts_per_block_are_biapys() {
        // Spec §5: MRB1–9, respaths, ConvTs, head.
        let net = MultiResUnet::new(&spec("MODEL: {ARCHITECTURE: multiresunet}"), &Device::flex());
        let blocks: Vec<usize> = net.blocks.iter().map(n_trainable_params).collect();
        assert_eq!(blocks, [5_835, 36_258, 147_554, 592_992, 2_370_700, 912_492, 227_131, 56_124, 13_584]);
        let respaths: Vec<usize> = net.respaths.iter().map(n_trainable_params).collect();
        assert_eq!(respaths, [48_064, 150_656, 437_248, 1_092_608]);
        let ups: Vec<usize> = net.ups.iter().map(n_trainable_params).collect();
        assert_eq!(ups, [873_728, 218_240, 54_336, 13_472]);
        assert_eq!(n_trainable_params(&net.heads[0]), 52);
        assert_eq!(net.block_params().iter().sum::<usize>(), 7_251_074);
    }

    #[test]
    fn the_res_path_applies_its_one_norm_twice() {
        let device = Device::flex();
        let path = ResPath::new(Ndim::D2, [3, 4], 1, &device);
        let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let bn = &path.bns[0];
        let skip = path.shortcuts[0].forward(x.clone());
        let y = activation::relu(bn.forward(path.convs[0].forward(x.clone())));
        let want = activation::relu(bn.forward(y + skip));
        assert_eq!(path.forward(x).into_data(), want.into_data());
    }

    #[test]
    fn every_parameter_gets_a_gradient() {
        use burn::optim::GradientsParams;
        let device = Device::flex().autodiff();
        let model = crate::model::SegModel::new(&spec("MODEL: {ARCHITECTURE: multiresunet}"), &device);
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Normal(0.0, 1.0), &device);
        let logits = model.forward2d(x).expect("fits");
        assert_eq!(logits.dims(), [2, 1, 16, 16]);
        let loss = (logits.clone() * logits).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        assert_eq!(grads.len(), model.biapy_state_dict_names().len());
    }

    #[test]
    fn a_3d_net_keeps_the_size_with_z_down_one() {
        let yaml = "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [16, 32, 32, 1]}\n\
                    MODEL: {ARCHITECTURE: multiresunet, Z_DOWN: [2, 2, 1, 1]}";
        let net = MultiResUnet::new(&spec(yaml), &Device::flex());
        assert_eq!(net.geometry.pools, vec![[2, 2, 2], [2, 2, 2], [1, 2, 2], [1, 2, 2]]);
        let x = Tensor::<5>::random([1, 1, 16, 16, 16], Distribution::Normal(0.0, 1.0), &Device::flex());
        assert_eq!(net.forward(x).dims(), [1, 1, 16, 16, 16]);
    }
}
