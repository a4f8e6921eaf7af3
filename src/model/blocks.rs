//! The U-Net's building blocks, after BiaPy's `biapy/models/blocks.py`: the conv unit
//! [`ConvBlock`], a level's stack of units [`ConvStack`] (BiaPy's `DoubleConvBlock`), the decoder
//! step [`UpBlock`], and the input-shape guard [`Geometry`].
//!
//! Each block is generic over the tensor rank (`[batch, channel, y, x]` or `[batch, channel, z,
//! y, x]`) and can list its parameters under BiaPy's state-dict names (`biapy_names`), whose
//! `nn.Sequential` indices count parameter-free layers too. This file must not decide the
//! network's layout (levels, channels): that is `unet.rs` and `resunet.rs`.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor};

use super::ModelError;
use super::attention::AttentionBlock;
use super::layers::{ConvNd, ConvTransposeNd, NameList, Norm, activate, upsample};
use super::seunet::SqExBlock;
use crate::config::{Activation, ConvBlockOrder, Ndim, NormLayer};

/// How the conv units of one block are built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnitSpec {
    /// 2D or 3D layers.
    pub ndim: Ndim,
    /// Kernel `(kz, ky, kx)` (`kz` ignored in 2D).
    pub kernel: [usize; 3],
    /// Normalisation, or none (ResUNet's second convolution).
    pub norm: Option<NormLayer>,
    /// Activation, or none; `Some(Activation::None)` is an identity layer that still takes an
    /// index in BiaPy's `nn.Sequential`.
    pub act: Option<Activation>,
    /// Element-wise dropout after the activation; 0 = no layer.
    pub dropout: f64,
    /// A squeeze-and-excitation block at the end of the unit (SE-U-Net).
    pub se: bool,
    /// `conv → norm → act` or `norm → act → conv`.
    pub order: ConvBlockOrder,
}

impl UnitSpec {
    /// A unit `in_channels → out_channels`.
    pub fn build(&self, in_channels: usize, out_channels: usize, device: &Device) -> ConvBlock {
        let norm_channels = match self.order {
            ConvBlockOrder::ConvNormAct => out_channels,
            ConvBlockOrder::NormActConv => in_channels,
        };
        ConvBlock {
            conv: ConvNd::new(self.ndim, [in_channels, out_channels], self.kernel, device),
            norm: self.norm.map(|kind| Norm::new(kind, self.ndim, norm_channels, device)),
            dropout: (self.dropout > 0.0).then(|| DropoutConfig::new(self.dropout).init()),
            se: self.se.then(|| SqExBlock::new(out_channels, device)),
            act: self.act,
            order: self.order,
        }
    }
}

/// BiaPy's `ConvBlock`: `conv → norm → act → dropout → SE` (or `norm → act → conv → dropout →
/// SE` with `CONV_BLOCK_ORDER: norm_act_conv`; the dropout place there is segsweep's choice).
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The k×k(×k) convolution.
    pub conv: ConvNd,
    /// Over the output channels (`conv_norm_act`) or the input channels (`norm_act_conv`).
    pub norm: Option<Norm>,
    /// Present when the level's dropout is above 0.
    pub dropout: Option<Dropout>,
    /// SE-U-Net only.
    pub se: Option<SqExBlock>,
    /// The activation layer, if the unit has one.
    #[module(skip)]
    pub act: Option<Activation>,
    /// Layer order.
    #[module(skip)]
    pub order: ConvBlockOrder,
}

impl ConvBlock {
    /// `[batch, in, (z,) y, x]` → `[batch, out, (z,) y, x]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let x = match self.order {
            ConvBlockOrder::ConvNormAct => self.norm_act(self.conv.forward(x)),
            ConvBlockOrder::NormActConv => self.conv.forward(self.norm_act(x)),
        };
        let x = match &self.dropout {
            Some(dropout) => dropout.forward(x),
            None => x,
        };
        match &self.se {
            Some(se) => se.forward(x),
            None => x,
        }
    }

    fn norm_act<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        match self.act {
            Some(act) => activate(act, x),
            None => x,
        }
    }

    /// Appends this unit's parameters as `{prefix}.block.{index}.*`, in layer order.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        let has_act = usize::from(self.act.is_some());
        let has_norm = usize::from(self.norm.is_some());
        let (conv_idx, norm_idx) = match self.order {
            ConvBlockOrder::ConvNormAct => (0, 1),
            ConvBlockOrder::NormActConv => (has_norm + has_act, 0),
        };
        let conv = |out: &mut NameList| self.conv.biapy_names(&format!("{prefix}.block.{conv_idx}"), out);
        if self.order == ConvBlockOrder::ConvNormAct {
            conv(out);
        }
        if let Some(norm) = &self.norm {
            norm.biapy_names(&format!("{prefix}.block.{norm_idx}"), out);
        }
        if self.order == ConvBlockOrder::NormActConv {
            conv(out);
        }
        if let Some(se) = &self.se {
            let se_idx = 1 + has_norm + has_act + usize::from(self.dropout.is_some());
            se.biapy_names(&format!("{prefix}.block.{se_idx}"), out);
        }
    }
}

/// The conv units of one level (BiaPy's `DoubleConvBlock`, with `MODEL.CONV_LAYERS[i]` units):
/// `in → out`, then `out → out`.
#[derive(Module, Debug)]
pub struct ConvStack {
    /// The units, in order.
    pub block: Vec<ConvBlock>,
}

impl ConvStack {
    /// `n_units` units (at least one).
    pub fn new(unit: &UnitSpec, channels: [usize; 2], n_units: usize, device: &Device) -> Self {
        let block = (0..n_units.max(1))
            .map(|j| unit.build(if j == 0 { channels[0] } else { channels[1] }, channels[1], device))
            .collect();
        Self { block }
    }

    /// `[batch, in, (z,) y, x]` → `[batch, out, (z,) y, x]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.block.iter().fold(x, |x, unit| unit.forward(x))
    }

    /// Appends `{prefix}.block.{j}.block.*` for every unit `j`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        for (j, unit) in self.block.iter().enumerate() {
            unit.biapy_names(&format!("{prefix}.block.{j}"), out);
        }
    }
}

/// How a decoder step up-samples.
#[derive(Module, Debug)]
pub enum Upsampler {
    /// `UPSAMPLE_LAYER: convtranspose`: a transposed convolution, kernel = stride = factors.
    Transpose(ConvTransposeNd),
    /// `UPSAMPLE_LAYER: upsampling`: bi/trilinear resize, then this 1×1(×1) convolution.
    Resize(ConvNd),
}

impl Upsampler {
    /// `[batch, in, …]` → `[batch, out, …·factors]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, factors: [usize; 3]) -> Tensor<D> {
        match self {
            Upsampler::Transpose(conv) => conv.forward(x),
            Upsampler::Resize(conv) => conv.forward(upsample(x, factors)),
        }
    }
}

/// One decoder step (BiaPy's `UpBlock`): up-sample `in → out` channels, norm, activation;
/// optionally gate the skip connection; concatenate `[upsampled, skip]`; run the conv units.
#[derive(Module, Debug)]
pub struct UpBlock {
    /// Up-sampling layer.
    pub up: Upsampler,
    /// Norm after up-sampling (BiaPy's `up.1`, or `up.2` after a resize).
    pub up_norm: Norm,
    /// Attention U-Net only.
    pub attention_gate: Option<AttentionBlock>,
    /// Conv units `2·out → out`, `out → out`, ….
    pub conv_block: ConvStack,
    /// Activation after `up_norm`.
    #[module(skip)]
    pub act: Activation,
    /// Up-sampling factors `(fz, fy, fx)`.
    #[module(skip)]
    pub factors: [usize; 3],
}

impl UpBlock {
    /// `x`: `[batch, in, …]` at the coarser level; `bridge`: `[batch, out, …]`, the skip
    /// connection. Returns `[batch, out, …]` at the bridge's size.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, bridge: Tensor<D>) -> Tensor<D> {
        let up = activate(self.act, self.up_norm.forward(self.up.forward(x, self.factors)));
        let bridge = match &self.attention_gate {
            Some(gate) => gate.forward(up.clone(), bridge),
            None => bridge,
        };
        self.conv_block.forward(Tensor::cat(vec![up, bridge], 1))
    }

    /// Appends `{prefix}.up.*`, `{prefix}.attention_gate.*` and `{prefix}.conv_block.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        let norm_idx = match &self.up {
            Upsampler::Transpose(conv) => {
                conv.biapy_names(&format!("{prefix}.up.0"), out);
                1
            }
            Upsampler::Resize(conv) => {
                conv.biapy_names(&format!("{prefix}.up.1"), out);
                2
            }
        };
        self.up_norm.biapy_names(&format!("{prefix}.up.{norm_idx}"), out);
        if let Some(gate) = &self.attention_gate {
            gate.biapy_names(&format!("{prefix}.attention_gate"), out);
        }
        self.conv_block.biapy_names(&format!("{prefix}.conv_block"), out);
    }
}

/// What input a built network accepts: rank, channels and the pooling that every spatial size
/// must survive.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    /// 2D or 3D.
    pub ndim: Ndim,
    /// Input channels.
    pub in_channels: usize,
    /// Pooling factors `(fz, fy, fx)` per encoder level.
    pub pools: Vec<[usize; 3]>,
    /// The only spatial size `(z, y, x)` accepted, for a network built for one input size
    /// (`unetr`'s positional embedding); `None`: any multiple of the pools.
    pub fixed: Option<[usize; 3]>,
}

impl Geometry {
    /// Checks `[batch, channel, (z,) y, x]` dims: rank, channels, and each spatial size a
    /// multiple of the product of its pooling factors (otherwise the skip connections would not
    /// line up).
    pub fn check(&self, dims: &[usize]) -> Result<(), ModelError> {
        let n_axes = self.ndim.n_axes();
        let factors = self.total_factors();
        let spatial_ok = dims.len() == n_axes + 2
            && dims[2..].iter().zip(&factors[3 - n_axes..]).all(|(&size, &f)| size > 0 && size % f == 0)
            && self.fixed.is_none_or(|fixed| dims[2..] == fixed[3 - n_axes..]);
        if dims.len() == n_axes + 2 && dims[1] == self.in_channels && dims[0] > 0 && spatial_ok {
            return Ok(());
        }
        let axes = if n_axes == 2 { "y, x" } else { "z, y, x" };
        let multiples: Vec<usize> = factors[3 - n_axes..].to_vec();
        let sizes = match self.fixed {
            Some(fixed) => format!("spatial sizes exactly {:?}", &fixed[3 - n_axes..]),
            None => format!("spatial sizes multiples of {multiples:?}"),
        };
        Err(ModelError::Input {
            got: dims.to_vec(),
            expected: format!("[batch, {}, {axes}] with {sizes}", self.in_channels),
        })
    }

    /// Product of the pooling factors over all levels, `(z, y, x)`.
    pub fn total_factors(&self) -> [usize; 3] {
        self.pools.iter().fold([1, 1, 1], |acc, f| [acc[0] * f[0], acc[1] * f[1], acc[2] * f[2]])
    }
}
