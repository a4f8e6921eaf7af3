//! ConvNeXt building blocks as BiaPy's `unext_v1` / `unext_v2` use them (`biapy/models/blocks.py`):
//! [`ChannelNorm`] (layer norm over channels), [`DropPath`] (torchvision's row-wise stochastic
//! depth), [`Grn`] (ConvNeXt V2's global response normalisation) and [`ConvNextBlock`] (V1 with
//! layer scale, V2 with GRN).
//!
//! Tensors are channels-first (`[batch, channel, (z,) y, x]`) between blocks; inside a block the
//! MLP runs channels-last, as BiaPy's permutations do. Initialisation is BiaPy's `init_weights`:
//! Xavier-uniform convolutions and linear layers with zero bias, layer norms at 1 and 0. This
//! file must not know about U-Net levels.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Distribution, Tensor, activation};

use super::layers::{ConvNd, NameList, xavier_linear};
use crate::config::Ndim;

/// `MODEL.CONVNEXT_*`: what the `unext_*` networks read besides the U-Net keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// `CONVNEXT_SD_PROB`: the last bottleneck block's drop-path probability.
    pub drop_path: f64,
    /// `CONVNEXT_LAYER_SCALE`: V1's initial layer scale (none when ≤ 0).
    pub layer_scale: f64,
    /// `CONVNEXT_STEM_K_SIZE`: the stem's kernel and stride.
    pub stem_kernel: usize,
}

/// Which ConvNeXt block: V1 (layer scale) or V2 (GRN, no layer scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The permutation that moves channels last (`[0, 2, …, D−1, 1]`).
fn channels_last<const D: usize>() -> [usize; D] {
    core::array::from_fn(|i| match i {
        0 => 0,
        _ if i == D - 1 => 1,
        _ => i + 1,
    })
}

/// The permutation that moves channels back to axis 1 (`[0, D−1, 1, …, D−2]`).
fn channels_first<const D: usize>() -> [usize; D] {
    core::array::from_fn(|i| match i {
        0 => 0,
        1 => D - 1,
        _ => i - 1,
    })
}

/// `permute → LayerNorm(C) → permute back`: each voxel's channels normalised (biased variance,
/// ε inside the root), then scaled and shifted per channel.
#[derive(Module, Debug)]
pub struct ChannelNorm {
    pub norm: LayerNorm,
    /// ε (burn keeps its own private; the ONNX export needs it).
    #[module(skip)]
    pub epsilon: f64,
}

impl ChannelNorm {
    /// A norm over `channels` with weight 1, bias 0 and `epsilon`.
    pub fn new(channels: usize, epsilon: f64, device: &Device) -> Self {
        Self { norm: LayerNormConfig::new(channels).with_epsilon(epsilon).init(device), epsilon }
    }

    /// Channels-first in and out.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.norm.forward(x.permute(channels_last::<D>())).permute(channels_first::<D>())
    }

    /// Channels-last in and out.
    pub fn forward_last<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.norm.forward(x)
    }

    /// Appends `{prefix}.weight` and `{prefix}.bias`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        layer_norm_names(&self.norm, prefix, out);
    }
}

/// torchvision's `StochasticDepth(p, "row")`: while training, each sample's branch is kept with
/// probability `1 − p` and then divided by `1 − p`, or zeroed; the identity at inference. The
/// training switch is burn's dropout's (a training device and not frozen).
#[derive(Module, Debug)]
pub struct DropPath {
    pub dropout: Dropout,
}

impl DropPath {
    /// Drops with probability `prob` (in `[0, 1)`).
    pub fn new(prob: f64) -> Self {
        Self { dropout: DropoutConfig::new(prob).init() }
    }

    /// The probability.
    pub fn prob(&self) -> f64 {
        self.dropout.prob
    }

    /// `[batch, …]` → same shape.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let prob = self.dropout.prob;
        if !self.dropout.training.is_enabled() || !x.device().is_autodiff() || prob == 0.0 {
            return x;
        }
        let keep = 1.0 - prob;
        let mut shape = [1usize; D];
        shape[0] = x.dims()[0];
        let noise = Tensor::<D>::random(shape, Distribution::Bernoulli(keep), &x.device());
        x * noise.div_scalar(keep)
    }
}

/// ConvNeXt V2's global response normalisation, on a channels-last tensor: `G = ‖x‖₂` over axes
/// 1 and 2, `N = G / (mean_c G + 1e-6)`, `γ·(x·N) + β + x`. BiaPy's quirk kept: in 3D the norm
/// covers (z, y), not x.
#[derive(Module, Debug)]
pub struct Grn {
    /// `[1, 1, 1, C]`, zeros (BiaPy's shape in 2D and 3D).
    pub gamma: Param<Tensor<4>>,
    pub beta: Param<Tensor<4>>,
}

impl Grn {
    /// A GRN over `channels`, γ = β = 0 (the identity).
    pub fn new(channels: usize, device: &Device) -> Self {
        let zeros = || Initializer::Zeros.init([1, 1, 1, channels], device);
        Self { gamma: zeros(), beta: zeros() }
    }

    /// `[batch, (z,) y, x, channel]` → same shape.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        // The sum of squares is floored at the smallest normal f32 before the root: an all-zero
        // slab then gets gradient 0 (PyTorch's `norm` subgradient) instead of 0·∞ = NaN, and the
        // output is unchanged (x is 0 wherever the floor applies).
        let g = x.clone().square().sum_dim(1).sum_dim(2).clamp_min(f32::MIN_POSITIVE).sqrt();
        let n = g.clone() / (g.mean_dim(D - 1).add_scalar(1e-6));
        let channels = self.gamma.dims()[3];
        let mut shape = [1usize; D];
        shape[D - 1] = channels;
        let gamma = self.gamma.val().reshape(shape);
        let beta = self.beta.val().reshape(shape);
        gamma * (x.clone() * n) + beta + x
    }

    /// Appends `{prefix}.gamma` and `{prefix}.beta`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        out.push((format!("{prefix}.gamma"), self.gamma.lazy_shape().to_vec(), self.gamma.id));
        out.push((format!("{prefix}.beta"), self.beta.lazy_shape().to_vec(), self.beta.id));
    }
}

/// ConvNeXt V1's per-channel layer scale, held in PyTorch's shape (`[d, 1, 1]` in 2D, `[d, 1,
/// 1, 1]` in 3D) so checkpoints map tensor for tensor.
#[derive(Module, Debug)]
pub enum LayerScale {
    D2(Param<Tensor<3>>),
    D3(Param<Tensor<4>>),
}

impl LayerScale {
    /// Every channel's scale at `value`.
    pub fn new(ndim: Ndim, dim: usize, value: f64, device: &Device) -> Self {
        let init = Initializer::Constant { value };
        match ndim {
            Ndim::D2 => LayerScale::D2(init.init([dim, 1, 1], device)),
            Ndim::D3 => LayerScale::D3(init.init([dim, 1, 1, 1], device)),
        }
    }

    /// The scales as a flat `[d]` tensor.
    pub fn values(&self) -> Tensor<1> {
        match self {
            LayerScale::D2(p) => p.val().flatten(0, 2),
            LayerScale::D3(p) => p.val().flatten(0, 3),
        }
    }

    /// Channels-first `x` scaled per channel.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let scale = self.values();
        let mut shape = [1usize; D];
        shape[1] = scale.dims()[0];
        x * scale.reshape(shape)
    }

    /// Appends `{name}` with its PyTorch shape.
    pub fn biapy_names(&self, name: &str, out: &mut NameList) {
        let (shape, id) = match self {
            LayerScale::D2(p) => (p.lazy_shape().to_vec(), p.id),
            LayerScale::D3(p) => (p.lazy_shape().to_vec(), p.id),
        };
        out.push((name.to_string(), shape, id));
    }
}

/// A ConvNeXt block on `d` channels: depth-wise `k` conv (7×7, or `(1, 7, 7)` in anisotropic
/// 3D) → channels-last → LN (ε 1e-6) → `Linear(d → 4d)` → GELU → [V2: GRN(4d)] →
/// `Linear(4d → d)` → channels-first → [V1: × layer scale] → drop path → + input.
#[derive(Module, Debug)]
pub struct ConvNextBlock {
    /// `block.0`.
    pub dwconv: ConvNd,
    /// `block.2`.
    pub norm: ChannelNorm,
    /// `block.3`.
    pub fc1: Linear,
    /// V2's `block.5`.
    pub grn: Option<Grn>,
    /// `block.5` (V1) or `block.6` (V2).
    pub fc2: Linear,
    /// V1's `layer_scale`; `None` when the initial value is ≤ 0, and for V2.
    pub layer_scale: Option<LayerScale>,
    pub drop_path: DropPath,
}

/// The ConvNeXt blocks' layer-norm ε.
pub const BLOCK_EPSILON: f64 = 1e-6;

impl ConvNextBlock {
    /// A block of `version` on `dim` channels with depth-wise kernel `kernel` `(kz, ky, kx)`,
    /// initial layer scale `layer_scale` (V1; none when ≤ 0) and drop-path probability `drop`.
    pub fn new(
        version: Version,
        ndim: Ndim,
        dim: usize,
        kernel: [usize; 3],
        layer_scale: f64,
        drop: f64,
        device: &Device,
    ) -> Self {
        let scale =
            (version == Version::V1 && layer_scale > 0.0).then(|| LayerScale::new(ndim, dim, layer_scale, device));
        Self {
            dwconv: ConvNd::depthwise(ndim, dim, kernel, device),
            norm: ChannelNorm::new(dim, BLOCK_EPSILON, device),
            fc1: xavier_linear(dim, 4 * dim, device),
            grn: (version == Version::V2).then(|| Grn::new(4 * dim, device)),
            fc2: xavier_linear(4 * dim, dim, device),
            layer_scale: scale,
            drop_path: DropPath::new(drop),
        }
    }

    /// `[batch, d, …]` → same shape.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let y = self.dwconv.forward(x.clone()).permute(channels_last::<D>());
        let y = activation::gelu(self.fc1.forward(self.norm.forward_last(y)));
        let y = match &self.grn {
            Some(grn) => grn.forward(y),
            None => y,
        };
        let mut y = self.fc2.forward(y).permute(channels_first::<D>());
        if let Some(scale) = &self.layer_scale {
            y = scale.forward(y);
        }
        x + self.drop_path.forward(y)
    }

    /// Appends `{prefix}.layer_scale` (V1) and `{prefix}.block.{0,2,3,(5 GRN),5|6}.*` with
    /// PyTorch's shapes (`Linear` weights `[out, in]`, layer scale `[d, 1, 1(, 1)]`).
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        if let Some(scale) = &self.layer_scale {
            scale.biapy_names(&format!("{prefix}.layer_scale"), out);
        }
        self.dwconv.biapy_names(&format!("{prefix}.block.0"), out);
        self.norm.biapy_names(&format!("{prefix}.block.2"), out);
        linear_names(&self.fc1, &format!("{prefix}.block.3"), out);
        let fc2 = match &self.grn {
            Some(grn) => {
                grn.biapy_names(&format!("{prefix}.block.5"), out);
                6
            }
            None => 5,
        };
        linear_names(&self.fc2, &format!("{prefix}.block.{fc2}"), out);
    }
}

/// A `LayerNorm`'s `{prefix}.weight` and `{prefix}.bias`.
pub fn layer_norm_names(norm: &LayerNorm, prefix: &str, out: &mut NameList) {
    out.push((format!("{prefix}.weight"), norm.gamma.lazy_shape().to_vec(), norm.gamma.id));
    if let Some(beta) = &norm.beta {
        out.push((format!("{prefix}.bias"), beta.lazy_shape().to_vec(), beta.id));
    }
}

/// `{prefix}.weight` with PyTorch's `[out, in]` shape (burn stores `[in, out]`) and `{prefix}.bias`.
pub fn linear_names(fc: &Linear, prefix: &str, out: &mut NameList) {
    let mut shape = fc.weight.lazy_shape().to_vec();
    shape.reverse();
    out.push((format!("{prefix}.weight"), shape, fc.weight.id));
    if let Some(bias) = &fc.bias {
        out.push((format!("{prefix}.bias"), bias.lazy_shape().to_vec(), bias.id));
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;

    use super::*;
    use crate::model::layers::n_trainable_params;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn permutations_move_channels_last_and_back() {
        assert_eq!(channels_last::<4>(), [0, 2, 3, 1]);
        assert_eq!(channels_first::<4>(), [0, 3, 1, 2]);
        assert_eq!(channels_last::<5>(), [0, 2, 3, 4, 1]);
        assert_eq!(channels_first::<5>(), [0, 4, 1, 2, 3]);
    }

    #[test]
    fn parameter_counts_follow_the_spec_formulas() {
        // Spec §7: V1 8d² + 58d (3D 8d² + 352d), V2 8d² + 65d (3D 8d² + 359d).
        let device = Device::flex();
        for (version, ndim, kernel, per_d) in [
            (Version::V1, Ndim::D2, [7; 3], 58),
            (Version::V1, Ndim::D3, [7; 3], 352),
            (Version::V2, Ndim::D2, [7; 3], 65),
            (Version::V2, Ndim::D3, [7; 3], 359),
        ] {
            let block = ConvNextBlock::new(version, ndim, 16, kernel, 1e-6, 0.0, &device);
            assert_eq!(n_trainable_params(&block), 8 * 16 * 16 + per_d * 16, "{version:?} {ndim:?}");
        }
    }

    /// The channel norm against the formula at every voxel.
    #[test]
    fn channel_norm_normalises_each_voxels_channels() {
        let device = Device::flex();
        let (c, h, w) = (3usize, 2, 2);
        let x: Vec<f32> = (0..c * h * w).map(|i| ((i * 7) % 5) as f32 + i as f32 * 0.5).collect();
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [1, c, h, w]), &device);
        let y = values(ChannelNorm::new(c, 1e-5, &device).forward(xt));
        for p in 0..h * w {
            let v: Vec<f64> = (0..c).map(|ch| x[ch * h * w + p] as f64).collect();
            let mean = v.iter().sum::<f64>() / c as f64;
            let var = v.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / c as f64;
            for ch in 0..c {
                let want = (v[ch] - mean) / (var + 1e-5).sqrt();
                assert!((y[ch * h * w + p] as f64 - want).abs() < 1e-5, "{p} {ch}");
            }
        }
    }

    /// GRN with γ = 1, β = 0.5 against the formula (2D: norm over y and x per channel).
    #[test]
    fn grn_follows_the_formula_and_reduces_over_axes_one_and_two() {
        let device = Device::flex();
        let (h, w, c) = (2usize, 3, 2);
        let x: Vec<f32> = (0..h * w * c).map(|i| (i as f32 - 4.0) * 0.25).collect();
        let mut grn = Grn::new(c, &device);
        grn.gamma = Param::from_tensor(Tensor::ones([1, 1, 1, c], &device));
        grn.beta = Param::from_tensor(Tensor::ones([1, 1, 1, c], &device).mul_scalar(0.5));
        let y = values(grn.forward(Tensor::<4>::from_data(TensorData::new(x.clone(), [1, h, w, c]), &device)));
        let g: Vec<f64> =
            (0..c).map(|ch| (0..h * w).map(|p| (x[p * c + ch] as f64).powi(2)).sum::<f64>().sqrt()).collect();
        let mean = g.iter().sum::<f64>() / c as f64;
        for p in 0..h * w {
            for ch in 0..c {
                let xv = x[p * c + ch] as f64;
                let want = xv * g[ch] / (mean + 1e-6) + 0.5 + xv;
                assert!((y[p * c + ch] as f64 - want).abs() < 1e-5, "{p} {ch}");
            }
        }
    }

    #[test]
    fn grn_of_an_all_zero_slab_has_a_zero_gradient_not_nan() {
        let device = Device::flex().autodiff();
        let mut grn = Grn::new(2, &device);
        grn.gamma = Param::from_tensor(Tensor::ones([1, 1, 1, 2], &device));
        let x = Tensor::<4>::zeros([1, 2, 3, 2], &device).require_grad();
        let y = grn.forward(x.clone());
        assert_eq!(values(y.clone()), vec![0.0; 12]);
        let grads = y.sum().backward();
        let dx = x.grad(&grads).expect("a gradient").into_data().try_to_vec::<f32>().unwrap();
        assert!(dx.iter().all(|v| v.is_finite()), "{dx:?}");
    }

    #[test]
    fn drop_path_drops_whole_samples_only_while_training() {
        let x = Tensor::<4>::ones([64, 2, 3, 3], &Device::flex());
        assert_eq!(values(DropPath::new(0.5).forward(x.clone())), values(x), "identity at inference");
        let device = Device::flex().autodiff();
        let y = values(DropPath::new(0.5).forward(Tensor::<4>::ones([64, 2, 3, 3], &device)));
        let per_sample: Vec<f32> = y.chunks(18).map(|s| s[0]).collect();
        for (sample, chunk) in per_sample.iter().zip(y.chunks(18)) {
            assert!(chunk.iter().all(|v| v == sample), "one draw per sample");
            assert!(*sample == 0.0 || *sample == 2.0, "kept samples are divided by 1 − p: {sample}");
        }
        let kept = per_sample.iter().filter(|&&v| v > 0.0).count();
        assert!((16..=48).contains(&kept), "about half kept: {kept}");
    }

    #[test]
    fn a_block_keeps_the_shape_and_every_parameter_gets_a_gradient() {
        use burn::optim::GradientsParams;
        let device = Device::flex().autodiff();
        for version in [Version::V1, Version::V2] {
            let block = ConvNextBlock::new(version, Ndim::D3, 4, [1, 7, 7], 0.5, 0.1, &device);
            let x = Tensor::<5>::random([2, 4, 2, 8, 8], Distribution::Normal(0.0, 1.0), &device);
            let y = block.forward(x.clone());
            assert_eq!(y.dims(), [2, 4, 2, 8, 8]);
            let grads = GradientsParams::from_grads((y.clone() * y).mean().backward(), &block);
            let mut names = Vec::new();
            block.biapy_names("b", &mut names);
            assert_eq!(grads.len(), names.len(), "{version:?}");
        }
    }
}
