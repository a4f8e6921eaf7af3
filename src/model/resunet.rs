//! BiaPy's residual U-Net (`biapy/models/resunet.py`, after Zhang et al. 2018, "Road extraction
//! by deep residual U-Net"), reproduced block for block: [`ResUNet`], [`ResConvBlock`],
//! [`ResUpBlock`]; and its squeeze-and-excitation sibling `resunet_se`
//! (`biapy/models/resunet_se.py`), whose every residual block has BiaPy's `extra_conv` (a conv
//! unit `in → out` first, then `block(p) + p`, no 1×1 shortcut) and an SE block on the sum.
//!
//! * Residual block: `out = block(x) + shortcut(x)`. `block` is, for every block but the first
//!   encoder level, full pre-activation `norm(in) → act`, then a conv unit `in → out` (conv →
//!   norm → act → dropout), then a bare conv `out → out` (no norm, no activation). `shortcut`
//!   is a 1×1 conv `in → out` with bias and no norm, even when the channels agree.
//! * Encoder level `i`: residual block `in → F[i]`, kept as skip, then max-pool; bottleneck:
//!   residual block `F[d−1] → F[d]`.
//! * Decoder step for level `i`: transposed conv `in → in` (kernel = stride = pool factors, no
//!   norm, no activation) or, with `upsampling`, a parameter-free bi/trilinear resize; concat
//!   `[up, skip]`; residual block `in + F[i] → F[i]`.
//! * Head: 1×1 conv `F[0] → C_out`.
//!
//! `resunet++` (`resunet_pp.rs`) builds the same blocks with BiaPy's `skip_k_size = k` and
//! `skip_norm`: a k×k shortcut convolution followed by a norm ([`ResBlockKind::PlusPlus`]).
//!
//! BiaPy's residual block always has two convolutions and the conv → norm → act order, so
//! `ModelSpec::validate` rejects other `CONV_LAYERS` / `CONV_BLOCK_ORDER` values for `resunet`.
//! This file must not read the config.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ModelSpec;
use super::blocks::{ConvBlock, Geometry, UnitSpec};
use super::heads::{self, ContrastHeads, HeadNormKind, Init};
use super::layers::{ConvNd, ConvTransposeNd, NameList, Norm, activate, upsample};
use super::seunet::SqExBlock;
use super::skeleton::Skeleton;
use crate::config::{Activation, ConvBlockOrder, UpsampleLayer};

/// Which of BiaPy's `ResConvBlock` configurations a block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResBlockKind {
    /// `resunet`: 1×1 shortcut convolution, no norm on it.
    Plain,
    /// `resunet_se`: `extra_conv` (identity shortcut) and squeeze-and-excitation on the sum.
    SqueezeExcite,
    /// `resunet++`: k×k shortcut convolution followed by a norm (`skip_k_size`, `skip_norm`).
    PlusPlus,
}

/// BiaPy's `ResConvBlock`, plain (`resunet`), with `extra_conv` and squeeze-and-excitation
/// (`resunet_se`), or with a k×k normalised shortcut (`resunet++`).
#[derive(Module, Debug)]
pub struct ResConvBlock {
    /// Pre-activation norm over the input channels (absent in the first block).
    pub pre_norm: Option<Norm>,
    /// `extra_conv`: a conv unit `in → out` (with norm, activation, dropout) after the
    /// pre-activation; the residual then adds its output (BiaPy's `pre_conv`).
    pub extra: Option<ConvBlock>,
    /// Conv unit with norm, activation and dropout: `in → out`, or `out → out` after `extra`.
    pub conv1: ConvBlock,
    /// Bare conv `out → out`.
    pub conv2: ConvBlock,
    /// 1×1 (`resunet`) or k×k (`resunet++`) conv `in → out`; `None` (identity) with `extra`.
    pub shortcut: Option<ConvNd>,
    /// The norm after a `resunet++` shortcut conv (BiaPy's `shortcut.1`).
    pub shortcut_norm: Option<Norm>,
    /// Squeeze-and-excitation on the sum (`resunet_se`).
    pub se: Option<SqExBlock>,
    /// Pre-activation (absent in the first block).
    #[module(skip)]
    pub pre_act: Option<Activation>,
}

impl ResConvBlock {
    /// A block `channels[0] → channels[1]` of `kind` with the kernel and dropout of `level`
    /// (`depth` = bottleneck).
    pub fn new(
        spec: &ModelSpec,
        level: usize,
        channels: [usize; 2],
        first: bool,
        kind: ResBlockKind,
        device: &Device,
    ) -> Self {
        Self::with_kernel(spec, spec.kernel(level), spec.dropout[level], channels, first, kind, device)
    }

    /// A block `channels[0] → channels[1]` with an explicit kernel and dropout (`resunet++`
    /// takes them from other levels than the block's own).
    pub fn with_kernel(
        spec: &ModelSpec,
        kernel: [usize; 3],
        dropout: f64,
        channels: [usize; 2],
        first: bool,
        kind: ResBlockKind,
        device: &Device,
    ) -> Self {
        let unit = UnitSpec {
            ndim: spec.ndim,
            kernel,
            norm: Some(spec.norm),
            act: Some(spec.activation),
            dropout,
            se: false,
            order: ConvBlockOrder::ConvNormAct,
        };
        let bare = UnitSpec { norm: None, act: None, dropout: 0.0, ..unit };
        let se_extra = kind == ResBlockKind::SqueezeExcite;
        let main_in = if se_extra { channels[1] } else { channels[0] };
        let shortcut_kernel = if kind == ResBlockKind::PlusPlus { kernel } else { [1, 1, 1] };
        Self {
            pre_norm: (!first).then(|| Norm::new(spec.norm, spec.ndim, channels[0], device)),
            extra: se_extra.then(|| unit.build(channels[0], channels[1], device)),
            conv1: unit.build(main_in, channels[1], device),
            conv2: bare.build(channels[1], channels[1], device),
            shortcut: (!se_extra).then(|| ConvNd::new(spec.ndim, channels, shortcut_kernel, device)),
            shortcut_norm: (kind == ResBlockKind::PlusPlus)
                .then(|| Norm::new(spec.norm, spec.ndim, channels[1], device)),
            se: se_extra.then(|| SqExBlock::new(channels[1], device)),
            pre_act: (!first).then_some(spec.activation),
        }
    }

    /// `[batch, in, (z,) y, x]` → `[batch, out, (z,) y, x]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let mut y = x.clone();
        if let Some(norm) = &self.pre_norm {
            y = norm.forward(y);
        }
        if let Some(act) = self.pre_act {
            y = activate(act, y);
        }
        // With `extra`, the residual is the extra unit's output (BiaPy's identity shortcut).
        let (y, residual) = match &self.extra {
            Some(extra) => {
                let p = extra.forward(y);
                (p.clone(), p)
            }
            None => (y, x),
        };
        let shortcut = match (&self.shortcut, &self.shortcut_norm) {
            (Some(conv), Some(norm)) => norm.forward(conv.forward(residual)),
            (Some(conv), None) => conv.forward(residual),
            (None, _) => residual,
        };
        let out = self.conv2.forward(self.conv1.forward(y)) + shortcut;
        match &self.se {
            Some(se) => se.forward(out),
            None => out,
        }
    }

    /// Appends `{prefix}.block.*` and `{prefix}.shortcut.{0,1}.*`, or, with `extra`,
    /// `{prefix}.pre_conv.*`, `{prefix}.block.{0,1}.*` and `{prefix}.se_block.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        let pre_index =
            |offset: usize| offset + usize::from(self.pre_norm.is_some()) + usize::from(self.pre_act.is_some());
        if let Some(extra) = &self.extra {
            if let Some(norm) = &self.pre_norm {
                norm.biapy_names(&format!("{prefix}.pre_conv.0"), out);
            }
            extra.biapy_names(&format!("{prefix}.pre_conv.{}", pre_index(0)), out);
            self.conv1.biapy_names(&format!("{prefix}.block.0"), out);
            self.conv2.biapy_names(&format!("{prefix}.block.1"), out);
        } else {
            if let Some(norm) = &self.pre_norm {
                norm.biapy_names(&format!("{prefix}.block.0"), out);
            }
            let idx = pre_index(0);
            self.conv1.biapy_names(&format!("{prefix}.block.{idx}"), out);
            self.conv2.biapy_names(&format!("{prefix}.block.{}", idx + 1), out);
        }
        if let Some(shortcut) = &self.shortcut {
            shortcut.biapy_names(&format!("{prefix}.shortcut.0"), out);
        }
        if let Some(norm) = &self.shortcut_norm {
            norm.biapy_names(&format!("{prefix}.shortcut.1"), out);
        }
        if let Some(se) = &self.se {
            se.biapy_names(&format!("{prefix}.se_block"), out);
        }
    }
}

/// BiaPy's `ResUpBlock`: up-sample (channels kept), concat `[up, skip]`, residual block.
#[derive(Module, Debug)]
pub struct ResUpBlock {
    /// Transposed conv `in → in`; `None` = bi/trilinear resize.
    pub up: Option<ConvTransposeNd>,
    /// Residual block `in + F[i] → F[i]`.
    pub conv_block: ResConvBlock,
    /// Up-sampling factors `(fz, fy, fx)`.
    #[module(skip)]
    pub factors: [usize; 3],
}

impl ResUpBlock {
    /// `x`: `[batch, in, …]` at the coarser level; `bridge`: `[batch, F[i], …]`. Returns
    /// `[batch, F[i], …]` at the bridge's size.
    pub fn forward<const D: usize>(&self, x: Tensor<D>, bridge: Tensor<D>) -> Tensor<D> {
        let up = match &self.up {
            Some(conv) => conv.forward(x),
            None => upsample(x, self.factors),
        };
        self.conv_block.forward(Tensor::cat(vec![up, bridge], 1))
    }

    /// Appends `{prefix}.up.*` and `{prefix}.conv_block.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        if let Some(conv) = &self.up {
            conv.biapy_names(&format!("{prefix}.up"), out);
        }
        self.conv_block.biapy_names(&format!("{prefix}.conv_block"), out);
    }
}

/// The residual U-Net.
#[derive(Module, Debug)]
pub struct ResUNet {
    /// Encoder levels.
    pub down_path: Vec<ResConvBlock>,
    /// The deepest level.
    pub bottleneck: ResConvBlock,
    /// Decoder steps, deepest first (BiaPy's `up_paths.0`).
    pub up_paths: Vec<ResUpBlock>,
    /// The 1×1 output convolution (BiaPy's `heads.0`).
    pub heads: Vec<ConvNd>,
    /// `LOSS.CONTRAST`'s heads (BiaPy's `heads` and `proj_head`), in place of `heads`.
    pub contrast: Option<ContrastHeads>,
    /// `MODEL.LARGER_IO`: `(k+2)` conv units before the encoder and after the decoder.
    pub conv_in: Option<ConvBlock>,
    pub conv_out: Option<ConvBlock>,
    /// Accepted input.
    #[module(skip)]
    pub geometry: Geometry,
}

impl ResUNet {
    /// Builds the network of `spec` (assumed valid: see [`ModelSpec::validate`]).
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let depth = spec.depth();
        let fm = &spec.feature_maps;
        let kind = if spec.arch == super::Arch::ResunetSe { ResBlockKind::SqueezeExcite } else { ResBlockKind::Plain };
        let mut down_path = Vec::with_capacity(depth);
        let (conv_in, conv_out) = spec.io_units(device);
        let mut in_channels = spec.encoder_in_channels();
        for (level, &channels) in fm[..depth].iter().enumerate() {
            down_path.push(ResConvBlock::new(spec, level, [in_channels, channels], level == 0, kind, device));
            in_channels = channels;
        }
        let bottleneck = ResConvBlock::new(spec, depth, [in_channels, fm[depth]], false, kind, device);
        let up_paths = (0..depth)
            .rev()
            .map(|level| {
                let factors = spec.pool_factors(level);
                let in_channels = fm[level + 1];
                let up = (spec.upsample == UpsampleLayer::Convtranspose)
                    .then(|| ConvTransposeNd::new(spec.ndim, [in_channels, in_channels], factors, device));
                let channels = [in_channels + fm[level], fm[level]];
                let conv_block = ResConvBlock::new(spec, level, channels, false, kind, device);
                ResUpBlock { up, conv_block, factors }
            })
            .collect();
        let head = spec.head(spec.feature_maps[0], HeadNormKind::Layer(spec.norm), Init::Biapy);
        let (heads, contrast) = heads::build(&head, device);
        Self { down_path, bottleneck, up_paths, heads, contrast, conv_in, conv_out, geometry: spec.geometry() }
    }

    /// The shared U skeleton over this network's blocks.
    fn skeleton(&self) -> Skeleton<'_, ResConvBlock, ResUpBlock> {
        Skeleton {
            down_path: &self.down_path,
            bottleneck: &self.bottleneck,
            up_paths: &self.up_paths,
            heads: &self.heads,
            contrast: self.contrast.as_ref(),
            pools: &self.geometry.pools,
            conv_in: self.conv_in.as_ref(),
            conv_out: self.conv_out.as_ref(),
        }
    }

    /// Logits: `[batch, in_channels, (z,) y, x]` → `[batch, out_channels, (z,) y, x]`. The
    /// caller checks the input against [`ResUNet::geometry`].
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.skeleton().forward(x, false).0
    }

    /// Logits and, with contrastive heads, the embedding (see [`heads::output`]).
    pub fn forward_embed<const D: usize>(&self, x: Tensor<D>) -> (Tensor<D>, Option<Tensor<D>>) {
        self.skeleton().forward(x, true)
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict layout (see
    /// [`Skeleton::biapy_state_dict_names`]).
    pub fn biapy_state_dict_names(&self) -> NameList {
        self.skeleton().biapy_state_dict_names()
    }

    /// Trainable parameters per block: encoder levels, bottleneck, decoder steps (deepest
    /// first), head.
    pub fn block_params(&self) -> Vec<usize> {
        self.skeleton().block_params()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::layers::n_trainable_params;
    use crate::model::testutil::spec;

    fn resunet(yaml: &str) -> ResUNet {
        ResUNet::new(&spec(yaml), &Device::flex())
    }

    #[test]
    fn first_level_has_no_pre_activation_and_names_add_up() {
        let net = resunet("MODEL: {ARCHITECTURE: resunet}");
        assert!(net.down_path[0].pre_norm.is_none());
        assert!(net.down_path[1].pre_norm.is_some());
        let names = net.biapy_state_dict_names();
        assert_eq!(names[0].0, "down_path.0.block.0.block.0.weight");
        assert!(names.iter().any(|(n, _, _)| n == "down_path.1.block.0.weight"));
        assert!(names.iter().any(|(n, _, _)| n == "down_path.1.block.2.block.1.weight"));
        assert!(names.iter().any(|(n, s, _)| n == "up_paths.0.0.up.weight" && s == &vec![256, 256, 2, 2]));
        let total: usize = names.iter().map(|(_, s, _)| s.iter().product::<usize>()).sum();
        assert_eq!(total, n_trainable_params(&net));
        assert_eq!(net.block_params().iter().sum::<usize>(), total);
    }

    #[test]
    fn level_zero_block_costs_what_biapy_builds() {
        let net = resunet("MODEL: {ARCHITECTURE: resunet}");
        // Conv 1→16 (9·16+16) + IN (32) + conv 16→16 (9·256+16) + shortcut 1×1 1→16 (16+16).
        assert_eq!(n_trainable_params(&net.down_path[0]), 160 + 32 + 2_320 + 32);
    }
}
