//! Leaf layers that work on 2D and 3D tensors alike: [`ConvNd`], [`ConvTransposeNd`], [`Norm`],
//! the conv-unit activation ([`activate`]), parameter-free resampling ([`max_pool`],
//! [`upsample`]) and the trainable-parameter counter [`n_trainable_params`].
//!
//! Blocks above this file are generic over the tensor rank `D` (4 = `[batch, channel, y, x]`,
//! 5 = `[batch, channel, z, y, x]`); each leaf holds a 2D or a 3D burn layer and reshapes the
//! tensor to the rank that layer takes. This file owns initialisation (BiaPy's: Xavier-uniform
//! convolutions with zero bias, PyTorch-default transposed convolutions, norms at weight 1 and
//! bias 0). It must not know about U-Net levels or BiaPy's state-dict names beyond one leaf.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::conv::{
    Conv2d, Conv2dConfig, Conv3d, Conv3dConfig, ConvTranspose2d, ConvTranspose2dConfig, ConvTranspose3d,
    ConvTranspose3dConfig,
};
use burn::nn::{
    BatchNorm, BatchNormConfig, GroupNorm, GroupNormConfig, Initializer, InstanceNorm, InstanceNormConfig, Linear,
    LinearConfig, PaddingConfig2d, PaddingConfig3d,
};
use burn::tensor::module::{interpolate, max_pool2d};
use burn::tensor::ops::{InterpolateMode, InterpolateOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor, activation};

use super::pool3d::max_pool3d;
use crate::config::{Activation, Ndim, NormLayer};

/// A list of `(name, PyTorch shape, parameter id)` triples, as in a BiaPy state dict; the id
/// ties each name to the burn parameter it names (`crate::model::biapy_names`).
pub type NameList = Vec<(String, Vec<usize>, ParamId)>;

/// Reinterprets a rank-`A` tensor as rank `B` with the same shape.
///
/// # Panics
/// If `A != B`: the model checks the input rank before any layer runs, so this is an internal
/// invariant.
pub(crate) fn same_rank<const A: usize, const B: usize>(x: Tensor<A>) -> Tensor<B> {
    assert_eq!(A, B, "a rank-{A} tensor reached a rank-{B} layer");
    let dims = x.dims();
    let shape: [usize; B] = core::array::from_fn(|i| dims[i]);
    x.reshape(shape)
}

/// A convolution with zero "same" padding and a bias: `Conv2d` or `Conv3d` (dilated for ASPP:
/// [`ConvNd::dilated`]; strided for STU-Net: [`ConvNd::strided`]; depth-wise and
/// kernel = stride for the ConvNeXt networks: [`ConvNd::depthwise`], [`ConvNd::patchify`]).
#[derive(Module, Debug)]
pub enum ConvNd {
    /// Takes `[batch, channel, y, x]`.
    D2(Conv2d),
    /// Takes `[batch, channel, z, y, x]`.
    D3(Conv3d),
}

/// A convolution's geometry, `(z, y, x)` (`z` ignored in 2D).
#[derive(Clone, Copy)]
struct ConvShape {
    kernel: [usize; 3],
    stride: [usize; 3],
    dilation: usize,
    groups: usize,
    /// Zero padding `dilation·(k − 1)/2` per side (kernels are odd); `false`: none.
    padded: bool,
    bias: bool,
}

impl ConvShape {
    fn same(kernel: [usize; 3]) -> Self {
        Self { kernel, stride: [1; 3], dilation: 1, groups: 1, padded: true, bias: true }
    }
}

impl ConvNd {
    /// BiaPy's initialisation: Xavier-uniform weight (gain 1), bias 0. `kernel` is
    /// `(kz, ky, kx)`; `kz` is ignored in 2D.
    pub fn new(ndim: Ndim, channels: [usize; 2], kernel: [usize; 3], device: &Device) -> Self {
        Self::build(ndim, channels, ConvShape::same(kernel), true, device)
    }

    /// A convolution with stride `stride` `(sz, sy, sx)` and zero padding `k // 2` on both sides
    /// of each axis (odd kernels: the size is divided by the stride), initialised as
    /// [`ConvNd::new`] (STU-Net's down-sampling convolutions).
    pub fn strided(ndim: Ndim, channels: [usize; 2], kernel: [usize; 3], stride: [usize; 3], device: &Device) -> Self {
        Self::build(ndim, channels, ConvShape { stride, ..ConvShape::same(kernel) }, true, device)
    }

    /// A 3×3(×3) convolution with dilation `rate` in every axis and zero padding `rate`, so the
    /// size is kept (BiaPy's ASPP branches); initialised as [`ConvNd::new`].
    pub fn dilated(ndim: Ndim, channels: [usize; 2], rate: usize, device: &Device) -> Self {
        Self::build(ndim, channels, ConvShape { dilation: rate, ..ConvShape::same([3; 3]) }, true, device)
    }

    /// A depth-wise convolution (`groups = channels`) that keeps the size (odd kernels), with
    /// Xavier-uniform weights as PyTorch bounds them for a `[c, 1, k…]` weight (fan-out `c·k…`,
    /// where burn would take `k…`) and zero bias (the ConvNeXt blocks' 7×7 convolution).
    pub fn depthwise(ndim: Ndim, channels: usize, kernel: [usize; 3], device: &Device) -> Self {
        let shape = ConvShape { groups: channels, ..ConvShape::same(kernel) };
        Self::build(ndim, [channels; 2], shape, true, device)
    }

    /// A convolution with kernel = stride = `factors` and no padding (a ConvNeXt stem or
    /// down-sampling layer), initialised as [`ConvNd::new`].
    pub fn patchify(ndim: Ndim, channels: [usize; 2], factors: [usize; 3], device: &Device) -> Self {
        let shape = ConvShape { kernel: factors, stride: factors, padded: false, ..ConvShape::same(factors) };
        Self::build(ndim, channels, shape, true, device)
    }

    /// A convolution without bias, stride `stride` and zero padding `k // 2`, with PyTorch's
    /// default initialisation (HRNet's, which BiaPy does not re-initialise).
    pub fn unbiased(ndim: Ndim, channels: [usize; 2], kernel: [usize; 3], stride: [usize; 3], device: &Device) -> Self {
        Self::build(ndim, channels, ConvShape { stride, bias: false, ..ConvShape::same(kernel) }, false, device)
    }

    /// A 1×1 convolution without bias, initialised as [`ConvNd::new`] (the contrastive
    /// segmentation head's classifier, `heads.3`).
    pub fn without_bias(ndim: Ndim, channels: [usize; 2], device: &Device) -> Self {
        Self::build(ndim, channels, ConvShape { bias: false, ..ConvShape::same([1; 3]) }, true, device)
    }

    /// PyTorch's default initialisation, for the networks BiaPy does not re-initialise
    /// (`multiresunet`): weight and bias uniform in ±1/√fan_in (burn's default, Kaiming-uniform
    /// with gain 1/√3).
    pub fn torch_default(ndim: Ndim, channels: [usize; 2], kernel: [usize; 3], device: &Device) -> Self {
        Self::build(ndim, channels, ConvShape::same(kernel), false, device)
    }

    fn build(ndim: Ndim, channels: [usize; 2], shape: ConvShape, biapy_init: bool, device: &Device) -> Self {
        let ConvShape { kernel, stride, dilation, groups, padded, bias: with_bias } = shape;
        let pad = |k: usize| if padded { dilation * (k - 1) / 2 } else { 0 };
        let receptive: usize = match ndim {
            Ndim::D2 => kernel[1] * kernel[2],
            Ndim::D3 => kernel.iter().product(),
        };
        let init = if groups == 1 {
            Initializer::XavierUniform { gain: 1.0 }
        } else {
            // PyTorch reads fan-in and fan-out off the `[out, in/groups, k…]` weight.
            let fan = (channels[0] / groups + channels[1]) * receptive;
            let bound = (6.0 / fan as f64).sqrt();
            Initializer::Uniform { min: -bound, max: bound }
        };
        let bias = || Some(Initializer::Zeros.init([channels[1]], device));
        let keeps_size = padded && dilation == 1 && stride == [1; 3];
        match ndim {
            Ndim::D2 => {
                let padding = if keeps_size {
                    PaddingConfig2d::Same
                } else {
                    PaddingConfig2d::Explicit(pad(kernel[1]), pad(kernel[2]), pad(kernel[1]), pad(kernel[2]))
                };
                let config = Conv2dConfig::new(channels, [kernel[1], kernel[2]])
                    .with_stride([stride[1], stride[2]])
                    .with_dilation([dilation; 2])
                    .with_groups(groups)
                    .with_bias(with_bias)
                    .with_padding(padding);
                if !biapy_init {
                    return ConvNd::D2(config.init(device));
                }
                let mut conv = config.with_initializer(init).init(device);
                conv.bias = if with_bias { bias() } else { None };
                ConvNd::D2(conv)
            }
            Ndim::D3 => {
                let padding = if keeps_size {
                    PaddingConfig3d::Same
                } else {
                    PaddingConfig3d::Explicit(pad(kernel[0]), pad(kernel[1]), pad(kernel[2]))
                };
                let config = Conv3dConfig::new(channels, kernel)
                    .with_stride(stride)
                    .with_dilation([dilation; 3])
                    .with_groups(groups)
                    .with_bias(with_bias)
                    .with_padding(padding);
                if !biapy_init {
                    return ConvNd::D3(config.init(device));
                }
                let mut conv = config.with_initializer(init).init(device);
                conv.bias = if with_bias { bias() } else { None };
                ConvNd::D3(conv)
            }
        }
    }

    /// `[batch, in, (z,) y, x]` → `[batch, out, (z,) y, x]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            ConvNd::D2(conv) => same_rank(conv.forward(same_rank::<D, 4>(x))),
            ConvNd::D3(conv) => same_rank(conv.forward(same_rank::<D, 5>(x))),
        }
    }

    /// Appends `{prefix}.weight` (`[out, in, (kz,) ky, kx]`) and `{prefix}.bias`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        let (weight, bias) = match self {
            ConvNd::D2(conv) => ((conv.weight.lazy_shape(), conv.weight.id), conv.bias.as_ref()),
            ConvNd::D3(conv) => ((conv.weight.lazy_shape(), conv.weight.id), conv.bias.as_ref()),
        };
        out.push((format!("{prefix}.weight"), weight.0.to_vec(), weight.1));
        if let Some(bias) = bias {
            out.push((format!("{prefix}.bias"), bias.lazy_shape().to_vec(), bias.id));
        }
    }
}

/// A transposed convolution with kernel = stride (the decoder's learned up-sampling).
#[derive(Module, Debug)]
pub enum ConvTransposeNd {
    /// Takes `[batch, channel, y, x]`.
    D2(ConvTranspose2d),
    /// Takes `[batch, channel, z, y, x]`.
    D3(ConvTranspose3d),
}

impl ConvTransposeNd {
    /// `factors` is `(fz, fy, fx)` (`fz` ignored in 2D). PyTorch's default initialisation, which
    /// BiaPy keeps: weight and bias uniform in ±1/√fan_in with fan_in = out·fz·fy·fx (PyTorch
    /// reads fan-in off dimension 1 of the `[in, out, k…]` weight).
    pub fn new(ndim: Ndim, channels: [usize; 2], factors: [usize; 3], device: &Device) -> Self {
        Self::build(ndim, channels, factors, true, device)
    }

    /// As [`ConvTransposeNd::new`] without a bias (UNETR's decoder).
    pub fn without_bias(ndim: Ndim, channels: [usize; 2], factors: [usize; 3], device: &Device) -> Self {
        Self::build(ndim, channels, factors, false, device)
    }

    fn build(ndim: Ndim, channels: [usize; 2], factors: [usize; 3], bias: bool, device: &Device) -> Self {
        let receptive: usize = match ndim {
            Ndim::D2 => factors[1] * factors[2],
            Ndim::D3 => factors.iter().product(),
        };
        let bound = 1.0 / ((channels[1] * receptive) as f64).sqrt();
        let init = Initializer::Uniform { min: -bound, max: bound };
        match ndim {
            Ndim::D2 => {
                let k = [factors[1], factors[2]];
                let conv = ConvTranspose2dConfig::new(channels, k)
                    .with_stride(k)
                    .with_bias(bias)
                    .with_initializer(init)
                    .init(device);
                ConvTransposeNd::D2(conv)
            }
            Ndim::D3 => {
                let conv = ConvTranspose3dConfig::new(channels, factors)
                    .with_stride(factors)
                    .with_bias(bias)
                    .with_initializer(init)
                    .init(device);
                ConvTransposeNd::D3(conv)
            }
        }
    }

    /// `[batch, in, (z,) y, x]` → `[batch, out, (fz·z,) fy·y, fx·x]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            ConvTransposeNd::D2(conv) => same_rank(conv.forward(same_rank::<D, 4>(x))),
            ConvTransposeNd::D3(conv) => same_rank(conv.forward(same_rank::<D, 5>(x))),
        }
    }

    /// Appends `{prefix}.weight` (`[in, out, (kz,) ky, kx]`) and `{prefix}.bias`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        let (weight, bias) = match self {
            ConvTransposeNd::D2(conv) => ((conv.weight.lazy_shape(), conv.weight.id), conv.bias.as_ref()),
            ConvTransposeNd::D3(conv) => ((conv.weight.lazy_shape(), conv.weight.id), conv.bias.as_ref()),
        };
        out.push((format!("{prefix}.weight"), weight.0.to_vec(), weight.1));
        if let Some(bias) = bias {
            out.push((format!("{prefix}.bias"), bias.lazy_shape().to_vec(), bias.id));
        }
    }
}

/// A `Linear` layer as BiaPy's `init_weights` leaves it: Xavier-uniform weight, zero bias.
pub fn xavier_linear(d_in: usize, d_out: usize, device: &Device) -> Linear {
    let mut fc = LinearConfig::new(d_in, d_out).with_initializer(Initializer::XavierUniform { gain: 1.0 }).init(device);
    fc.bias = Some(Initializer::Zeros.init([d_out], device));
    fc
}

/// `MODEL.NORMALIZATION`: instance norm (affine, instance statistics at inference too), batch
/// norm (running statistics) or group norm (16 groups in 2D, 8 in 3D).
#[derive(Module, Debug)]
pub enum Norm {
    /// `in`.
    Instance(InstanceNorm),
    /// `bn` and `sync_bn` (one device: the same thing).
    Batch(BatchNorm),
    /// `gn`.
    Group(GroupNorm),
}

impl Norm {
    /// A norm over `channels`, weight 1 and bias 0, eps 1e-5 (BN momentum 0.1).
    ///
    /// Group norm uses `gcd(groups, channels)` groups, so the 1-channel attention map and the
    /// halved attention channels get a valid layer (BiaPy would fail to build those); the
    /// main path's feature maps are checked to be divisible in `ModelSpec::validate`.
    /// `ln` is rejected by `ModelSpec::validate` and treated as `in` here.
    pub fn new(kind: NormLayer, ndim: Ndim, channels: usize, device: &Device) -> Self {
        match kind {
            NormLayer::Bn | NormLayer::SyncBn => Norm::Batch(BatchNormConfig::new(channels).init(device)),
            NormLayer::Gn => {
                let groups = gcd(group_norm_groups(ndim), channels);
                Norm::Group(GroupNormConfig::new(groups, channels).init(device))
            }
            NormLayer::In | NormLayer::Ln => Norm::Instance(InstanceNormConfig::new(channels).init(device)),
        }
    }

    /// `[batch, channel, …]` → same shape.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Norm::Instance(norm) => instance_norm(norm, x),
            Norm::Batch(norm) => norm.forward(x),
            Norm::Group(norm) => norm.forward(x),
        }
    }

    /// Appends `{prefix}.weight` and `{prefix}.bias` (BN running statistics are buffers, not
    /// listed).
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        let (gamma, beta) = match self {
            Norm::Instance(norm) => (norm.gamma.as_ref(), norm.beta.as_ref()),
            Norm::Batch(norm) => (Some(&norm.gamma), Some(&norm.beta)),
            Norm::Group(norm) => (norm.gamma.as_ref(), norm.beta.as_ref()),
        };
        if let Some(gamma) = gamma {
            out.push((format!("{prefix}.weight"), gamma.lazy_shape().to_vec(), gamma.id));
        }
        if let Some(beta) = beta {
            out.push((format!("{prefix}.bias"), beta.lazy_shape().to_vec(), beta.id));
        }
    }
}

/// Instance norm as PyTorch computes it: the batch norm, with its own statistics, of the
/// `[1, batch·channels, …]` view, γ and β repeated per sample. burn's `batch_norm_train` is one
/// backend operation with its own gradient (single kernels over the data in the vendored
/// burn-flex, libtorch's in burn-tch), where burn-nn's `InstanceNorm` composes about a dozen
/// tensor operations, each with its own backward. The same formula: biased variance, ε inside
/// the root.
fn instance_norm<const D: usize>(norm: &InstanceNorm, x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    let (batch, channels) = (dims[0], dims[1]);
    let rest = dims[2..].iter().product::<usize>();
    let flat: Tensor<3> = x.reshape([1, batch * channels, rest]);
    let (gamma, beta) = match (&norm.gamma, &norm.beta) {
        (Some(gamma), Some(beta)) => (gamma.val().repeat_dim(0, batch), beta.val().repeat_dim(0, batch)),
        _ => {
            let device = flat.device();
            (Tensor::ones([batch * channels], &device), Tensor::zeros([batch * channels], &device))
        }
    };
    burn::tensor::module::batch_norm_train(flat, gamma, beta, norm.epsilon).output.reshape(dims)
}

/// Groups of BiaPy's group norm: 16 in 2D, 8 in 3D.
pub fn group_norm_groups(ndim: Ndim) -> usize {
    match ndim {
        Ndim::D2 => 16,
        Ndim::D3 => 8,
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

/// The negative slope of `leaky_relu`: `nn.LeakyReLU()`'s default, which BiaPy uses.
pub const LEAKY_RELU_SLOPE: f64 = 0.01;

/// `MODEL.ACTIVATION` as BiaPy's `get_activation` builds it: leaky ReLU with PyTorch's default
/// slope 0.01 (`nn.LeakyReLU()`), ELU α 1,
/// exact (erf) GELU, softplus β 1, softmax over channels; `linear` and `none` are identities.
pub fn activate<const D: usize>(act: Activation, x: Tensor<D>) -> Tensor<D> {
    match act {
        Activation::Relu => activation::relu(x),
        Activation::Tanh => activation::tanh(x),
        Activation::LeakyRelu => activation::leaky_relu(x, LEAKY_RELU_SLOPE),
        Activation::Elu => elu(x),
        Activation::Gelu => activation::gelu(x),
        Activation::Silu => activation::silu(x),
        Activation::Sigmoid => activation::sigmoid(x),
        Activation::Softmax => activation::softmax(x, 1),
        Activation::Softplus => activation::softplus(x, 1.0),
        Activation::Linear | Activation::None => x,
    }
}

/// ELU with α = 1 from operations every backend has a fused kernel for, forward and backward:
/// `relu(x) + (exp(x - relu(x)) - 1)`. burn's `elu` is `mask_where(x <= 0, α(exp(x) - 1), x)`, and
/// the where-kernels of that and of its gradient took a fifth of a libtorch training step.
/// Equal to burn's bit for bit for every finite input (for x > 0 the second term is exp(0) − 1 = 0;
/// for x ≤ 0 the first is 0); +∞ gives NaN instead of +∞.
fn elu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let positive = activation::relu(x.clone());
    let negative = (x - positive.clone()).exp().sub_scalar(1);
    positive + negative
}

/// Max-pooling with kernel = stride = `factors` `(fz, fy, fx)` (`fz` ignored in 2D); odd sizes
/// are floored as in PyTorch. `[batch, channel, (z,) y, x]` → `[batch, channel, (z/fz,) y/fy,
/// x/fx]`.
pub fn max_pool<const D: usize>(x: Tensor<D>, factors: [usize; 3]) -> Tensor<D> {
    if factors == [1, 1, 1] {
        return x;
    }
    match D {
        4 => {
            let options = MaxPoolOptions::new([factors[1], factors[2]]);
            same_rank(max_pool2d(same_rank::<D, 4>(x), options))
        }
        _ => same_rank(max_pool3d(same_rank::<D, 5>(x), factors)),
    }
}

/// `nn.Upsample(scale_factor=factors)`: bilinear (2D) or trilinear (3D), `align_corners=False`.
/// Trilinear is done separably: bilinear over (y, x), then linear over z.
pub fn upsample<const D: usize>(x: Tensor<D>, factors: [usize; 3]) -> Tensor<D> {
    let bilinear = InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(false);
    match D {
        4 => {
            let x4 = same_rank::<D, 4>(x);
            let [_, _, h, w] = x4.dims();
            let size = [h * factors[1], w * factors[2]];
            same_rank(interpolate(x4, bilinear.with_output_size(size)))
        }
        _ => {
            let x5 = same_rank::<D, 5>(x);
            let [b, c, z, h, w] = x5.dims();
            let (h2, w2) = (h * factors[1], w * factors[2]);
            let yx = interpolate(x5.reshape([b, c * z, h, w]), bilinear.clone().with_output_size([h2, w2]));
            let mut out = yx.reshape([b, c, z, h2, w2]);
            if factors[0] > 1 {
                // As [b, c·y, z, x]: interpolating (z, x) with x kept is linear in z alone.
                let zx = out.permute([0, 1, 3, 2, 4]).reshape([b, c * h2, z, w2]);
                let zx = interpolate(zx, bilinear.with_output_size([z * factors[0], w2]));
                out = zx.reshape([b, c, h2, z * factors[0], w2]).permute([0, 1, 3, 2, 4]);
            }
            same_rank(out)
        }
    }
}

/// `F.interpolate(x, size, mode="bilinear"/"trilinear", align_corners=True)`: to the spatial
/// size `size` (`(z, y, x)`, `z` ignored in 2D), corners mapped onto corners. Trilinear is done
/// separably (bilinear over (y, x), then linear over z), which is the same interpolation.
pub fn resize_align_corners<const D: usize>(x: Tensor<D>, size: [usize; 3]) -> Tensor<D> {
    let aligned = InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(true);
    match D {
        4 => {
            let x4 = same_rank::<D, 4>(x);
            same_rank(interpolate(x4, aligned.with_output_size([size[1], size[2]])))
        }
        _ => {
            let x5 = same_rank::<D, 5>(x);
            let [b, c, z, h, w] = x5.dims();
            let [z2, h2, w2] = size;
            let mut out = x5;
            if [h, w] != [h2, w2] {
                let yx = interpolate(out.reshape([b, c * z, h, w]), aligned.clone().with_output_size([h2, w2]));
                out = yx.reshape([b, c, z, h2, w2]);
            }
            if z != z2 {
                // As [b, c·y, z, x]: interpolating (z, x) with x kept is linear in z alone.
                let zx = out.permute([0, 1, 3, 2, 4]).reshape([b, c * h2, z, w2]);
                let zx = interpolate(zx, aligned.with_output_size([z2, w2]));
                out = zx.reshape([b, c, h2, z2, w2]).permute([0, 1, 3, 2, 4]);
            }
            same_rank(out)
        }
    }
}

/// `F.interpolate(mode="nearest", scale_factor=factors)` for integer factors `(fz, fy, fx)`
/// (`fz` ignored in 2D): every value repeated `f` times along its axis, which is what PyTorch's
/// `floor(dst / f)` source index gives. Built from reshapes and `repeat_dim`, so it has a
/// gradient (the sum over each block) on every backend.
pub fn upsample_nearest<const D: usize>(x: Tensor<D>, factors: [usize; 3]) -> Tensor<D> {
    let n_axes = D - 2;
    let mut x = x;
    for (axis, &factor) in (2..D).zip(&factors[3 - n_axes..]) {
        if factor == 1 {
            continue;
        }
        let dims = x.dims();
        // [.., n, rest] → [.., n, 1, rest] → repeated → [.., n·f, rest]: each row f times.
        let before: usize = dims[..=axis].iter().product();
        let after: usize = dims[axis + 1..].iter().product();
        let repeated: Tensor<3> = x.reshape([before, 1, after]).repeat_dim(1, factor);
        let mut out = dims;
        out[axis] *= factor;
        x = repeated.reshape(out);
    }
    x
}

/// Trainable parameters of a module: what burn's `num_params` counts minus batch-norm running
/// statistics (which burn visits as float tensors; PyTorch calls them buffers).
pub fn n_trainable_params<M: Module>(module: &M) -> usize {
    let mut counter = TrainableCounter { path: Vec::new(), total: 0 };
    module.visit(&mut counter);
    counter.total
}

struct TrainableCounter {
    path: Vec<String>,
    total: usize,
}

impl ModuleVisitor for TrainableCounter {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let buffer = matches!(self.path.last().map(String::as_str), Some("running_mean" | "running_var"));
        if !buffer {
            self.total += param.lazy_shape().num_elements();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against PyTorch's rule `out[i] = in[floor(i / f)]` per axis, and the gradient of `Σ y·g`
    /// (each input collects the sum of `g` over its `fz·fy·fx` copies).
    #[test]
    fn nearest_upsampling_repeats_each_value_and_sums_its_gradient() {
        let device = Device::flex().autodiff();
        let (dims, f) = ([2usize, 3, 2, 3, 4], [2usize, 1, 3]);
        let n: usize = dims.iter().product();
        let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let xt = Tensor::<5>::from_data(TensorData::new(x.clone(), dims), &device).require_grad();
        let y = upsample_nearest(xt.clone(), f);
        let out = [dims[0], dims[1], dims[2] * f[0], dims[3] * f[1], dims[4] * f[2]];
        assert_eq!(y.dims(), out);
        let m: usize = out.iter().product();
        let g: Vec<f32> = (0..m).map(|i| ((i * 131) % 17) as f32 - 8.0).collect();
        let grads = (y.clone() * Tensor::<5>::from_data(TensorData::new(g.clone(), out), &device)).sum().backward();
        let y = y.into_data().try_to_vec::<f32>().unwrap();
        let dx = xt.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let mut want_dx = vec![0.0f32; n];
        for i in 0..m {
            let mut rest = i;
            let mut index = [0usize; 5];
            for axis in (0..5).rev() {
                index[axis] = rest % out[axis];
                rest /= out[axis];
            }
            let (z, yy, xx) = (index[2] / f[0], index[3] / f[1], index[4] / f[2]);
            let source = (((index[0] * dims[1] + index[1]) * dims[2] + z) * dims[3] + yy) * dims[4] + xx;
            assert_eq!(y[i], x[source], "output {i}");
            want_dx[source] += g[i];
        }
        assert_eq!(dx, want_dx);
        let x4 = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]), &Device::flex());
        let y4 = upsample_nearest(x4, [7, 2, 1]).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y4, [1.0, 2.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]);
    }

    /// PyTorch's `align_corners=True`: `out[i] = in[i·(n−1)/(m−1)]` interpolated, per axis.
    #[test]
    fn align_corners_resizing_maps_corners_onto_corners() {
        let device = Device::flex();
        let x = Tensor::<5>::from_data(TensorData::new(vec![0.0f32, 3.0, 6.0, 9.0], [1, 1, 2, 1, 2]), &device);
        // z 2 → 3, y 1 → 1, x 2 → 4: x positions 0, 1/3, 2/3, 1; z positions 0, 1/2, 1.
        let y = resize_align_corners(x, [3, 1, 4]).into_data().try_to_vec::<f32>().unwrap();
        let want = [0.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 6.0, 7.0, 8.0, 9.0];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{y:?}");
        }
        let x4 = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 2.0], [1, 1, 1, 2]), &device);
        let y4 = resize_align_corners(x4, [1, 1, 3]).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(y4, [0.0, 1.0, 2.0]);
    }

    /// PyTorch's `Conv2d(k=3, stride=2, padding=1)` and `Conv3d(k=(1,3,3), stride=(1,2,2),
    /// padding=(0,1,1))` halve even sizes.
    #[test]
    fn strided_convolutions_divide_the_size_by_the_stride() {
        let device = Device::flex();
        let conv = ConvNd::strided(Ndim::D2, [2, 5], [3, 3, 3], [2, 2, 2], &device);
        assert_eq!(conv.forward(Tensor::<4>::zeros([1, 2, 8, 6], &device)).dims(), [1, 5, 4, 3]);
        let conv = ConvNd::strided(Ndim::D3, [2, 5], [1, 3, 3], [1, 2, 2], &device);
        assert_eq!(conv.forward(Tensor::<5>::zeros([1, 2, 3, 8, 6], &device)).dims(), [1, 5, 3, 4, 3]);
        let one = ConvNd::strided(Ndim::D3, [2, 5], [1, 1, 1], [2, 2, 2], &device);
        assert_eq!(one.forward(Tensor::<5>::zeros([1, 2, 4, 8, 6], &device)).dims(), [1, 5, 2, 4, 3]);
    }

    #[test]
    fn elu_equals_burns_bit_for_bit() {
        let device = Device::flex();
        let values: Vec<f32> = (-40..40)
            .map(|i| i as f32 * 0.173)
            .chain([0.0, -0.0, 1e-30, -1e-30, 80.0, -80.0, f32::MIN, f32::MAX])
            .collect();
        let x = Tensor::<1>::from_data(TensorData::new(values.clone(), [values.len()]), &device);
        let ours = elu(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        let burns = activation::elu(x, 1.0).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(
            ours.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            burns.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    /// The batch norm of a training step on `flex` (the vendored crate's fused kernels) against
    /// the textbook formulas in `f64`: output, batch mean and biased variance, and the gradients
    /// of `Σ y·g` with respect to the input, γ and β.
    #[test]
    fn batch_norm_training_matches_the_formulas() {
        let [n, c, h, w] = [3usize, 2, 4, 5];
        let m = n * h * w;
        let x: Vec<f32> = (0..n * c * h * w).map(|i| 50.0 + ((i * 7919) % 29) as f32 / 5.0).collect();
        let g: Vec<f32> = (0..x.len()).map(|i| ((i * 131) % 17) as f32 / 8.0 - 1.0).collect();
        let (gamma, beta, eps) = ([0.7f32, 1.3], [0.1f32, -0.2], 1e-5f64);
        let device = Device::flex().autodiff();
        let xt = Tensor::<4>::from_data(TensorData::new(x.clone(), [n, c, h, w]), &device).require_grad();
        let gt = Tensor::<1>::from_data(TensorData::new(gamma.to_vec(), [c]), &device).require_grad();
        let bt = Tensor::<1>::from_data(TensorData::new(beta.to_vec(), [c]), &device).require_grad();
        let out = burn::tensor::module::batch_norm_train(xt.clone(), gt.clone(), bt.clone(), eps);
        let grads = (out.output.clone() * Tensor::<4>::from_data(TensorData::new(g.clone(), [n, c, h, w]), &device))
            .sum()
            .backward();
        let vec = |t: Tensor<4>| t.into_data().try_to_vec::<f32>().unwrap();
        let vec1 = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
        let (y, dx) = (vec(out.output), vec(xt.grad(&grads).unwrap()));
        let (mean, var) = (vec1(out.mean), vec1(out.variance));
        let (dgamma, dbeta) = (vec1(gt.grad(&grads).unwrap()), vec1(bt.grad(&grads).unwrap()));
        let at = |s: usize, ch: usize, p: usize| (s * c + ch) * h * w + p;
        for ch in 0..c {
            let idx: Vec<usize> = (0..n).flat_map(|s| (0..h * w).map(move |p| at(s, ch, p))).collect();
            let mu = idx.iter().map(|&i| x[i] as f64).sum::<f64>() / m as f64;
            let v = idx.iter().map(|&i| (x[i] as f64 - mu).powi(2)).sum::<f64>() / m as f64;
            let sigma = (v + eps).sqrt();
            let xhat = |i: usize| (x[i] as f64 - mu) / sigma;
            let sum_g = idx.iter().map(|&i| g[i] as f64).sum::<f64>();
            let sum_gx = idx.iter().map(|&i| g[i] as f64 * xhat(i)).sum::<f64>();
            let near = |a: f32, b: f64, what: &str| {
                assert!((a as f64 - b).abs() <= 1e-4 * b.abs().max(1.0), "{what}: {a} vs {b}")
            };
            near(mean[ch], mu, "mean");
            near(var[ch], v, "variance");
            near(dbeta[ch], sum_g, "beta gradient");
            near(dgamma[ch], sum_gx, "gamma gradient");
            for &i in &idx {
                near(y[i], xhat(i) * gamma[ch] as f64 + beta[ch] as f64, "output");
                let dxi = gamma[ch] as f64 / sigma * (g[i] as f64 - sum_g / m as f64 - xhat(i) * sum_gx / m as f64);
                near(dx[i], dxi, "input gradient");
            }
        }
    }

    #[test]
    fn instance_norm_equals_burn_nns_with_its_gradients() {
        let device = Device::flex().autodiff();
        for (affine, dims) in [(true, [3usize, 4, 5, 6, 1]), (false, [2, 3, 2, 3, 4])] {
            let mut norm = InstanceNormConfig::new(dims[1]).with_affine(affine).init(&device);
            if affine {
                let c = dims[1];
                norm.gamma = Some(burn::module::Param::from_tensor(Tensor::from_data(
                    TensorData::new((0..c).map(|i| 0.5 + i as f32 * 0.3).collect::<Vec<f32>>(), [c]),
                    &device,
                )));
            }
            let n: usize = dims.iter().product();
            let x: Vec<f32> = (0..n).map(|i| 3.0 + ((i * 7919) % 37) as f32 / 9.0).collect();
            let g: Vec<f32> = (0..n).map(|i| ((i * 131) % 17) as f32 / 8.0 - 1.0).collect();
            let run = |ours: bool| {
                let xt = Tensor::<5>::from_data(TensorData::new(x.clone(), dims), &device).require_grad();
                let y = if ours { instance_norm(&norm, xt.clone()) } else { norm.forward(xt.clone()) };
                let grads =
                    (y.clone() * Tensor::<5>::from_data(TensorData::new(g.clone(), dims), &device)).sum().backward();
                let gamma =
                    norm.gamma.as_ref().map(|p| p.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap());
                let to_vec = |t: Tensor<5>| t.into_data().try_to_vec::<f32>().unwrap();
                (to_vec(y), to_vec(xt.grad(&grads).unwrap()), gamma)
            };
            let (ours, burns) = (run(true), run(false));
            let close = |a: &[f32], b: &[f32], what: &str| {
                for (p, q) in a.iter().zip(b) {
                    assert!((p - q).abs() <= 2e-5 * q.abs().max(1.0), "{what} (affine {affine}): {p} vs {q}");
                }
            };
            close(&ours.0, &burns.0, "output");
            close(&ours.1, &burns.1, "input gradient");
            if let (Some(a), Some(b)) = (&ours.2, &burns.2) {
                close(a, b, "gamma gradient");
            }
        }
    }

    #[test]
    fn elu_gradient_equals_burns() {
        let device = Device::flex().autodiff();
        let values: Vec<f32> = (-30..30).map(|i| i as f32 * 0.21).chain([0.0, -0.0, 1e-30, -1e-30]).collect();
        let grad_of = |f: &dyn Fn(Tensor<1>) -> Tensor<1>| {
            let x = Tensor::<1>::from_data(TensorData::new(values.clone(), [values.len()]), &device).require_grad();
            let grads = f(x.clone()).sum().backward();
            x.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap()
        };
        assert_eq!(grad_of(&|x| elu(x)), grad_of(&|x| activation::elu(x, 1.0)));
    }
    use burn::tensor::{TensorData, Tolerance};

    /// PyTorch's 1-D linear weights for ×2, `align_corners=False`: source index
    /// `max((dst + 0.5) / 2 − 0.5, 0)`, neighbour clamped at the border.
    const W2: [[f32; 2]; 4] = [[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]];

    #[test]
    fn bilinear_upsampling_matches_pytorch() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(vec![0.0f32, 1.0, 2.0, 3.0], [1, 1, 2, 2]), &device);
        let expected = vec![0.0f32, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75, 3.0];
        upsample(x, [1, 2, 2])
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::new(expected, [1, 1, 4, 4]), Tolerance::absolute(1e-6));
    }

    #[test]
    fn trilinear_upsampling_is_the_separable_product() {
        let device = Device::flex();
        let values: Vec<f32> = (0..8).map(|v| (v * v) as f32).collect();
        let x = Tensor::<5>::from_data(TensorData::new(values.clone(), [1, 1, 2, 2, 2]), &device);
        let mut expected = Vec::new();
        for wz in &W2 {
            for wy in &W2 {
                for wx in &W2 {
                    let weight = |i: usize| wz[i / 4] * wy[(i / 2) % 2] * wx[i % 2];
                    expected.push(values.iter().enumerate().map(|(i, v)| weight(i) * v).sum::<f32>());
                }
            }
        }
        upsample(x.clone(), [2, 2, 2])
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::new(expected, [1, 1, 4, 4, 4]), Tolerance::absolute(1e-5));
        assert_eq!(upsample(x, [1, 2, 2]).dims(), [1, 1, 2, 4, 4]);
    }

    #[test]
    fn transposed_conv_bounds_follow_pytorch_fan_in() {
        let device = Device::flex();
        let ConvTransposeNd::D2(conv) = ConvTransposeNd::new(Ndim::D2, [8, 4], [1, 2, 2], &device) else {
            panic!("2D layer expected");
        };
        // fan_in = out · k² = 16 → bound 0.25.
        let max = conv.weight.val().abs().max().into_scalar::<f32>();
        assert!(max <= 0.25 && max > 0.15, "max |w| = {max}");
    }

    #[test]
    fn convs_are_xavier_with_zero_bias() {
        let ConvNd::D3(conv) = ConvNd::new(Ndim::D3, [2, 3], [1, 3, 3], &Device::flex()) else {
            panic!("3D layer expected");
        };
        assert_eq!(conv.weight.dims(), [3, 2, 1, 3, 3]);
        // Xavier-uniform: bound √(6 / (fan_in + fan_out)) with fan_in = 2·9, fan_out = 3·9.
        let max = conv.weight.val().abs().max().into_scalar::<f32>();
        assert!(max <= (6.0f32 / 45.0).sqrt(), "max |w| = {max}");
        let bias = conv.bias.expect("bias").val();
        assert_eq!(bias.abs().sum().into_scalar::<f32>(), 0.0);
    }
}
