//! The segmentation networks: BiaPy's U-Net family (`unet`, `attention_unet`, `resunet`,
//! `seunet`, `resunet_se`, `resunet++`), `multiresunet`, `stunet`, `unext_v1`/`unext_v2`, `unetr` and `hrnet` in 2D and 3D, built from a [`ModelSpec`] into one burn module, [`SegModel`].
//!
//! Data flow: resolved [`Config`] → [`ModelSpec::from_config`] (checks what the builders need) →
//! [`SegModel::new`] → [`SegModel::forward2d`] / [`SegModel::forward3d`] → logits (no final
//! activation: the loss takes logits); [`predict::Predictor`] is the trained model as a function
//! from patches to probabilities (sigmoid or softmax), for the test phase and training previews. [`summary`] lists blocks,
//! output shapes and parameter counts; [`max_pool3d`] fills a gap in burn 0.22.1.
//!
//! Files: `layers` (2D/3D leaf layers, initialisation), `blocks` (conv unit, level, decoder step),
//! `unet`, `attention`, `seunet`, `resunet`, `resunet_pp`, `multiresunet`, `stunet`, `convnext`, `unext`, `unetr`, `hrnet`, `heads` (the output head every
//! network ends in, and `LOSS.CONTRAST`'s heads with their embedding), `pool3d`, `summary`, `predict`. This module must not read files;
//! the device comes from the caller (only [`summary`] builds a throw-away model on the CPU device,
//! with lazily initialised weights, to count parameters).
//!
//! ```
//! use segsweep::model::{ModelSpec, SegModel};
//! let loaded = segsweep::config::load_str("TRAIN: {ENABLE: True}\nMODEL: {FEATURE_MAPS: [4, 8, 16]}", &[]).unwrap();
//! let spec = ModelSpec::from_config(&loaded.config).unwrap();
//! let model = SegModel::new(&spec, &burn::tensor::Device::flex());
//! assert_eq!(model.n_params(), 7_581);
//! ```

pub mod attention;
pub mod biapy_names;
pub mod blocks;
pub mod convnext;
pub mod heads;
pub mod hrnet;
pub mod layers;
pub mod multiresunet;
pub mod pool3d;
pub mod predict;
pub mod resunet;
pub mod resunet_pp;
pub mod seunet;
pub mod skeleton;
pub mod stunet;
pub mod summary;
pub mod unet;
pub mod unetr;
pub mod unext;

use burn::module::Module;
use burn::tensor::{Device, Tensor};

pub use blocks::Geometry;
pub use hrnet::Hrnet;
pub use layers::{NameList, n_trainable_params};
pub use multiresunet::MultiResUnet;
pub use pool3d::max_pool3d;
pub use resunet::ResUNet;
pub use resunet_pp::ResUNetPlusPlus;
pub use stunet::Stunet;
pub use summary::{LayerRow, summary};
pub use unet::{UNet, UNetVariant};
pub use unetr::Unetr;
pub use unext::Unext;

use crate::config::{Activation, Config, ConvBlockOrder, Ndim, NormLayer, UpsampleLayer};

/// Why a model cannot be described, built or run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ModelError {
    /// `MODEL.ARCHITECTURE` names a network segsweep does not build.
    #[error(
        "`MODEL.ARCHITECTURE`: `{0}` is not built by segsweep; available: `unet`, `attention_unet`, `resunet`, `seunet`, `resunet_se`, `resunet++`, `multiresunet`, `stunet`, `unext_v1`, `unext_v2`, `unetr`, `hrnet`"
    )]
    UnsupportedArchitecture(String),
    /// A model key has a value the builders cannot use.
    #[error("`{key}`: {message}")]
    InvalidSpec {
        /// The config key.
        key: &'static str,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A tensor given to the network has the wrong rank, channels or size.
    #[error("model input has shape {got:?}; expected {expected}")]
    Input {
        /// The input's dims.
        got: Vec<usize>,
        /// What the network accepts.
        expected: String,
    },
}

/// The networks segsweep builds (`MODEL.ARCHITECTURE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `unet`.
    Unet,
    /// `attention_unet`.
    AttentionUnet,
    /// `resunet`.
    Resunet,
    /// `seunet`.
    Seunet,
    /// `resunet_se`.
    ResunetSe,
    /// `resunet++`.
    ResunetPlusPlus,
    /// `multiresunet`.
    Multiresunet,
    /// `stunet`.
    Stunet,
    /// `unext_v1`.
    UnextV1,
    /// `unext_v2`.
    UnextV2,
    /// `unetr`.
    Unetr,
    /// `hrnet`.
    Hrnet,
}

impl Arch {
    /// Every architecture, in BiaPy's order of the U-Net family first.
    pub const ALL: [Arch; 12] = [
        Arch::Unet,
        Arch::AttentionUnet,
        Arch::Resunet,
        Arch::Seunet,
        Arch::ResunetSe,
        Arch::ResunetPlusPlus,
        Arch::Multiresunet,
        Arch::Stunet,
        Arch::UnextV1,
        Arch::UnextV2,
        Arch::Unetr,
        Arch::Hrnet,
    ];

    /// Parses BiaPy's name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "unet" => Some(Arch::Unet),
            "attention_unet" => Some(Arch::AttentionUnet),
            "resunet" => Some(Arch::Resunet),
            "seunet" => Some(Arch::Seunet),
            "resunet_se" => Some(Arch::ResunetSe),
            "resunet++" => Some(Arch::ResunetPlusPlus),
            "multiresunet" => Some(Arch::Multiresunet),
            "stunet" => Some(Arch::Stunet),
            "unext_v1" => Some(Arch::UnextV1),
            "unext_v2" => Some(Arch::UnextV2),
            "unetr" => Some(Arch::Unetr),
            "hrnet" => Some(Arch::Hrnet),
            _ => None,
        }
    }

    /// `unext_v1` or `unext_v2`.
    pub fn is_unext(self) -> bool {
        matches!(self, Arch::UnextV1 | Arch::UnextV2)
    }

    /// Whether the network's norms follow `MODEL.NORMALIZATION` (`multiresunet`, `stunet` and
    /// the `unext_*` have fixed ones).
    pub fn reads_normalization(self) -> bool {
        !matches!(self, Arch::Multiresunet | Arch::Stunet | Arch::UnextV1 | Arch::UnextV2)
    }

    /// BiaPy's name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Unet => "unet",
            Arch::AttentionUnet => "attention_unet",
            Arch::Resunet => "resunet",
            Arch::Seunet => "seunet",
            Arch::ResunetSe => "resunet_se",
            Arch::ResunetPlusPlus => "resunet++",
            Arch::Multiresunet => "multiresunet",
            Arch::Stunet => "stunet",
            Arch::UnextV1 => "unext_v1",
            Arch::UnextV2 => "unext_v2",
            Arch::Unetr => "unetr",
            Arch::Hrnet => "hrnet",
        }
    }
}

/// Everything the builders need, read off the resolved config. Per-level vectors have one
/// entry per level (`feature_maps.len()`, bottleneck last) or per pooling step (`z_down`,
/// `yx_down`: one fewer).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// `MODEL.ARCHITECTURE`.
    pub arch: Arch,
    /// `PROBLEM.NDIM`.
    pub ndim: Ndim,
    /// Last entry of `DATA.PATCH_SIZE`.
    pub in_channels: usize,
    /// 1 when `DATA.N_CLASSES ≤ 2` (binary, one logit), else `N_CLASSES`.
    pub out_channels: usize,
    /// `MODEL.FEATURE_MAPS`.
    pub feature_maps: Vec<usize>,
    /// `MODEL.DROPOUT_VALUES`.
    pub dropout: Vec<f64>,
    /// `MODEL.NORMALIZATION`.
    pub norm: NormLayer,
    /// `MODEL.KERNEL_SIZE`.
    pub kernel_size: usize,
    /// `MODEL.UPSAMPLE_LAYER`.
    pub upsample: UpsampleLayer,
    /// `MODEL.ACTIVATION`.
    pub activation: Activation,
    /// `MODEL.Z_DOWN` (3D only).
    pub z_down: Vec<usize>,
    /// `MODEL.YX_DOWN`.
    pub yx_down: Vec<usize>,
    /// `MODEL.ISOTROPY` (3D only: `false` → `(1, k, k)` kernels at that level).
    pub isotropy: Vec<bool>,
    /// `MODEL.CONV_LAYERS`.
    pub conv_layers: Vec<usize>,
    /// `MODEL.CONV_BLOCK_ORDER`.
    pub conv_block_order: ConvBlockOrder,
    /// `MODEL.LARGER_IO`: an extra conv unit with a `(k+2)` kernel before the encoder
    /// (`conv_in`) and after the decoder (`conv_out.0`).
    pub larger_io: bool,
    /// `MODEL.STUNET`'s stages (`stunet` only; `None` for the other networks).
    pub stunet: Option<stunet::Topology>,
    /// `MODEL.CONVNEXT_*` (read by `unext_v1` and `unext_v2` only).
    pub convnext: convnext::Settings,
    /// The ViT encoder and decoder widths (`unetr` only).
    pub vit: Option<unetr::VitTopology>,
    /// `MODEL.HRNET.VARIANT`'s width W (`hrnet` only).
    pub hrnet_width: Option<usize>,
    /// `LOSS.CONTRAST.PROJ_DIM` when `LOSS.CONTRAST.ENABLE`: the network gets BiaPy's
    /// contrastive heads ([`heads`]).
    pub contrast: Option<usize>,
}

impl ModelSpec {
    /// Reads the model keys of a resolved config and [validates](ModelSpec::validate) them.
    pub fn from_config(config: &Config) -> Result<Self, ModelError> {
        let model = &config.model;
        let arch = Arch::from_name(&model.architecture)
            .ok_or_else(|| ModelError::UnsupportedArchitecture(model.architecture.clone()))?;
        let in_channels = *config.data.patch_size.last().ok_or_else(|| ModelError::InvalidSpec {
            key: "DATA.PATCH_SIZE",
            message: "is empty; expected spatial sizes then channels".into(),
        })?;
        let n_classes = config.data.n_classes;
        let spec = Self {
            arch,
            ndim: config.problem.ndim,
            in_channels,
            out_channels: if n_classes <= 2 { 1 } else { n_classes },
            feature_maps: model.feature_maps.clone(),
            dropout: model.dropout_values.clone(),
            norm: model.normalization,
            kernel_size: model.kernel_size,
            upsample: model.upsample_layer,
            activation: model.activation,
            z_down: model.z_down.clone(),
            yx_down: model.yx_down.clone(),
            isotropy: model.isotropy.clone(),
            conv_layers: model.conv_layers.clone(),
            conv_block_order: model.conv_block_order,
            larger_io: model.larger_io,
            convnext: convnext::Settings {
                drop_path: model.convnext_sd_prob,
                layer_scale: model.convnext_layer_scale,
                stem_kernel: model.convnext_stem_k_size,
            },
            contrast: match &config.loss.contrast {
                c if c.enable => Some(usize::try_from(c.proj_dim).map_err(|_| ModelError::InvalidSpec {
                    key: "LOSS.CONTRAST.PROJ_DIM",
                    message: format!("{} is negative; expected a positive width", c.proj_dim),
                })?),
                _ => None,
            },
            hrnet_width: match arch {
                Arch::Hrnet => Some(hrnet::width_from_config(&model.hrnet)?),
                _ => None,
            },
            vit: match arch {
                Arch::Unetr => {
                    Some(unetr::VitTopology::from_config(model, config.problem.ndim, &config.data.patch_size)?)
                }
                _ => None,
            },
            stunet: match arch {
                Arch::Stunet => Some(stunet::Topology::from_config(&model.stunet, config.problem.ndim)?),
                _ => None,
            },
        };
        spec.validate()?;
        spec.check_patch(&config.data.patch_size)?;
        Ok(spec)
    }

    /// Checks that `DATA.PATCH_SIZE` survives the network's down-sampling. BiaPy checks the pools
    /// of `FEATURE_MAPS` levels only; a network with other strides (`unext_*`'s stem, `stunet`'s
    /// stages) needs its own multiples, or its skip connections would not line up.
    pub fn check_patch(&self, patch: &[usize]) -> Result<(), ModelError> {
        let n_axes = self.ndim.n_axes();
        if patch.len() != n_axes + 1 {
            // The config check names a patch of the wrong rank.
            return Ok(());
        }
        let geometry = self.geometry();
        let multiples = &geometry.total_factors()[3 - n_axes..];
        if patch[..n_axes].iter().zip(multiples).all(|(&size, &m)| size > 0 && size % m == 0) {
            return Ok(());
        }
        Err(ModelError::InvalidSpec {
            key: "DATA.PATCH_SIZE",
            message: format!(
                "{patch:?} does not fit `{}`: its spatial sizes must be multiples of {multiples:?}, the network's total \
                 down-sampling",
                self.arch.name()
            ),
        })
    }

    /// Checks that the builders can use every value (lengths, ranges, combinations).
    pub fn validate(&self) -> Result<(), ModelError> {
        let fail = |key: &'static str, message: String| Err(ModelError::InvalidSpec { key, message });
        let n_levels = self.feature_maps.len();
        if n_levels < 2 || self.feature_maps.contains(&0) {
            return fail("MODEL.FEATURE_MAPS", format!("{:?}: expected at least 2 positive values", self.feature_maps));
        }
        // `unetr` takes one dropout value (its topology checks it).
        let dropout_len = if self.arch == Arch::Unetr { n_levels } else { self.dropout.len() };
        let per_level = [
            ("MODEL.DROPOUT_VALUES", dropout_len, n_levels),
            ("MODEL.CONV_LAYERS", self.conv_layers.len(), n_levels),
            ("MODEL.ISOTROPY", self.isotropy.len(), n_levels),
            ("MODEL.YX_DOWN", self.yx_down.len(), n_levels - 1),
            ("MODEL.Z_DOWN", self.z_down.len(), n_levels - 1),
        ];
        for (key, len, expected) in per_level {
            if len != expected {
                return fail(key, format!("has {len} values; expected {expected} (from `MODEL.FEATURE_MAPS`)"));
            }
        }
        if let Some(p) = self.dropout.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return fail("MODEL.DROPOUT_VALUES", format!("{p} is outside [0, 1)"));
        }
        if self.conv_layers.contains(&0) {
            return fail("MODEL.CONV_LAYERS", "every level needs at least one convolution".into());
        }
        if self.yx_down.contains(&0) || self.z_down.contains(&0) {
            return fail("MODEL.YX_DOWN", "pooling factors must be positive (`MODEL.Z_DOWN` too)".into());
        }
        if self.kernel_size.is_multiple_of(2) {
            return fail("MODEL.KERNEL_SIZE", format!("{} is even; expected an odd size", self.kernel_size));
        }
        if self.in_channels == 0 || self.out_channels == 0 {
            return fail("DATA.PATCH_SIZE", "the input needs at least one channel".into());
        }
        self.validate_combinations()
    }

    fn validate_combinations(&self) -> Result<(), ModelError> {
        let fail = |key: &'static str, message: String| Err(ModelError::InvalidSpec { key, message });
        let reads_norm = self.arch.reads_normalization();
        if reads_norm && self.norm == NormLayer::Ln {
            return fail("MODEL.NORMALIZATION", "`ln` is not available in the U-Net family".into());
        }
        let groups = layers::group_norm_groups(self.ndim);
        let widths_from_feature_maps = reads_norm && !matches!(self.arch, Arch::Unetr | Arch::Hrnet);
        if widths_from_feature_maps && self.norm == NormLayer::Gn && self.feature_maps.iter().any(|f| f % groups != 0) {
            let message =
                format!("`gn` uses {groups} groups here; every `MODEL.FEATURE_MAPS` value must be a multiple");
            return fail("MODEL.NORMALIZATION", message);
        }
        if matches!(self.arch, Arch::Resunet | Arch::ResunetSe | Arch::ResunetPlusPlus) {
            let arch = self.arch.name();
            if self.conv_layers.iter().any(|&n| n != 2) {
                let message =
                    format!("`{arch}` is built with two convolutions per residual block here; expected all 2");
                return fail("MODEL.CONV_LAYERS", message);
            }
            if self.conv_block_order != ConvBlockOrder::ConvNormAct {
                return fail("MODEL.CONV_BLOCK_ORDER", format!("`{arch}` is built with `conv_norm_act` only here"));
            }
        }
        if self.arch == Arch::Multiresunet && self.z_down.len() != multiresunet::DEPTH {
            let message = format!(
                "`multiresunet` always down-samples {} times (BiaPy checks 4 values); found {}",
                multiresunet::DEPTH,
                self.z_down.len()
            );
            return fail("MODEL.Z_DOWN", message);
        }
        if self.arch.is_unext() {
            let arch = self.arch.name();
            if self.conv_block_order != ConvBlockOrder::ConvNormAct {
                return fail(
                    "MODEL.CONV_BLOCK_ORDER",
                    format!("`{arch}` takes only `conv_norm_act` (as BiaPy checks)"),
                );
            }
            if !(0.0..1.0).contains(&self.convnext.drop_path) {
                let message = format!("{} is outside [0, 1)", self.convnext.drop_path);
                return fail("MODEL.CONVNEXT_SD_PROB", message);
            }
            if self.convnext.stem_kernel == 0 {
                return fail("MODEL.CONVNEXT_STEM_K_SIZE", "the stem's kernel must be at least 1".into());
            }
        }
        if self.arch == Arch::Hrnet && self.hrnet_width.is_none() {
            return fail(
                "MODEL.HRNET.VARIANT",
                "`hrnet` needs its width (`ModelSpec::from_config` resolves it)".into(),
            );
        }
        if self.arch == Arch::Unetr && self.vit.is_none() {
            return fail(
                "MODEL.UNETR_VIT_MODEL",
                "`unetr` needs its encoder (`ModelSpec::from_config` resolves it)".into(),
            );
        }
        if self.arch == Arch::Stunet && self.stunet.is_none() {
            return fail("MODEL.STUNET", "`stunet` needs its stages (`ModelSpec::from_config` resolves them)".into());
        }
        if self.contrast == Some(0) {
            return fail("LOSS.CONTRAST.PROJ_DIM", "is 0; expected a positive width".into());
        }
        if self.contrast.is_some() && self.arch == Arch::Stunet {
            return fail("LOSS.CONTRAST.ENABLE", "BiaPy does not build `stunet` with contrastive heads".into());
        }
        if self.arch == Arch::ResunetPlusPlus && self.feature_maps.len() < 3 {
            let message = "`resunet++` needs at least 3 values (the last is the ASPP bridge's width)".into();
            return fail("MODEL.FEATURE_MAPS", message);
        }
        Ok(())
    }

    /// Number of pooling steps (`len(FEATURE_MAPS) − 1`).
    pub fn depth(&self) -> usize {
        self.feature_maps.len() - 1
    }

    /// Pooling (and decoder up-sampling) factors `(z, y, x)` after encoder level `level`;
    /// `z` is 1 in 2D.
    pub fn pool_factors(&self, level: usize) -> [usize; 3] {
        let yx = self.yx_down[level];
        match self.ndim {
            Ndim::D2 => [1, yx, yx],
            Ndim::D3 => [self.z_down[level], yx, yx],
        }
    }

    /// The `MODEL.LARGER_IO` units' kernel: `k + 2`, `(1, k+2, k+2)` in 3D when the first level
    /// is anisotropic (as BiaPy).
    pub fn io_kernel(&self) -> [usize; 3] {
        let [z, y, x] = self.kernel(0);
        [if z == 1 && self.ndim == Ndim::D3 { 1 } else { z + 2 }, y + 2, x + 2]
    }

    /// The `MODEL.LARGER_IO` input and output units (`conv_in`, `conv_out.0`): conv, norm,
    /// activation, no dropout; `None` without it.
    pub fn io_units(&self, device: &burn::tensor::Device) -> (Option<blocks::ConvBlock>, Option<blocks::ConvBlock>) {
        if !self.larger_io {
            return (None, None);
        }
        let unit = blocks::UnitSpec {
            ndim: self.ndim,
            kernel: self.io_kernel(),
            norm: Some(self.norm),
            act: Some(self.activation),
            dropout: 0.0,
            se: false,
            order: self.conv_block_order,
        };
        let f0 = self.feature_maps[0];
        (Some(unit.build(self.in_channels, f0, device)), Some(unit.build(f0, f0, device)))
    }

    /// The output head over `in_channels` decoder features, with `norm` in the contrastive
    /// segmentation head and the network's `init`.
    pub fn head(&self, in_channels: usize, norm: heads::HeadNormKind, init: heads::Init) -> heads::HeadSpec {
        heads::HeadSpec {
            ndim: self.ndim,
            in_channels,
            out_channels: self.out_channels,
            proj_dim: self.contrast,
            norm,
            init,
        }
    }

    /// The first encoder level's input channels: `feature_maps[0]` after `conv_in`.
    pub fn encoder_in_channels(&self) -> usize {
        if self.larger_io { self.feature_maps[0] } else { self.in_channels }
    }

    /// Conv kernel `(kz, ky, kx)` at `level` (`depth()` = bottleneck): `(1, k, k)` where
    /// `ISOTROPY` is false in 3D; `kz` is ignored in 2D.
    pub fn kernel(&self, level: usize) -> [usize; 3] {
        let k = self.kernel_size;
        let isotropic = self.isotropy.get(level).copied().unwrap_or(true);
        match self.ndim {
            Ndim::D3 if !isotropic => [1, k, k],
            _ => [k, k, k],
        }
    }

    /// The input a network built from this spec accepts: its pools in the order applied
    /// (`resunet++` pools after levels `1…len(F)−2`, not after level 0; `multiresunet` by 2 in
    /// y and x; `stunet` by its stages' strides; the `unext_*` by their stem first).
    pub fn geometry(&self) -> Geometry {
        let levels = match self.arch {
            Arch::ResunetPlusPlus => 1..self.depth(),
            _ => 0..self.depth(),
        };
        if let Some(vit) = &self.vit {
            let step = match self.ndim {
                Ndim::D2 => [1, 2, 2],
                Ndim::D3 => [2; 3],
            };
            let pools = vec![step; vit.levels()];
            return Geometry { ndim: self.ndim, in_channels: self.in_channels, pools, fixed: Some(vit.patch) };
        }
        let pools = match &self.stunet {
            Some(topology) => topology.pools.clone(),
            // The stem's two stride-2 convolutions; the branches below round up and are
            // interpolated back to exact sizes.
            None if self.arch == Arch::Hrnet => vec![hrnet::STEP; 2],
            None if self.arch.is_unext() => {
                std::iter::once(unext::stem_factors(self)).chain(levels.map(|l| self.pool_factors(l))).collect()
            }
            None => levels.map(|l| self.pool_factors(l)).collect(),
        };
        Geometry { ndim: self.ndim, in_channels: self.in_channels, pools, fixed: None }
    }
}

/// One type for every network, so training code holds one model.
// A run holds one model, so the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum SegModel {
    /// `unet`.
    Unet(UNet),
    /// `attention_unet`.
    AttentionUnet(UNet),
    /// `seunet`.
    Seunet(UNet),
    /// `resunet`.
    Resunet(ResUNet),
    /// `resunet_se`.
    ResunetSe(ResUNet),
    /// `resunet++`.
    ResunetPlusPlus(ResUNetPlusPlus),
    /// `multiresunet`.
    Multiresunet(MultiResUnet),
    /// `stunet`.
    Stunet(Stunet),
    /// `unext_v1`.
    UnextV1(Unext),
    /// `unext_v2`.
    UnextV2(Unext),
    /// `unetr`.
    Unetr(Unetr),
    /// `hrnet`.
    Hrnet(Hrnet),
}

impl SegModel {
    /// Builds the network of a spec, checking it first.
    pub fn try_new(spec: &ModelSpec, device: &Device) -> Result<Self, ModelError> {
        spec.validate()?;
        Ok(match spec.arch {
            Arch::Unet => SegModel::Unet(UNet::new(spec, UNetVariant::Plain, device)),
            Arch::AttentionUnet => SegModel::AttentionUnet(UNet::new(spec, UNetVariant::Attention, device)),
            Arch::Seunet => SegModel::Seunet(UNet::new(spec, UNetVariant::SqueezeExcite, device)),
            Arch::Resunet => SegModel::Resunet(ResUNet::new(spec, device)),
            Arch::ResunetSe => SegModel::ResunetSe(ResUNet::new(spec, device)),
            Arch::ResunetPlusPlus => SegModel::ResunetPlusPlus(ResUNetPlusPlus::new(spec, device)),
            Arch::Multiresunet => SegModel::Multiresunet(MultiResUnet::new(spec, device)),
            Arch::Stunet => SegModel::Stunet(Stunet::new(spec, device)),
            Arch::UnextV1 => SegModel::UnextV1(Unext::new(spec, convnext::Version::V1, device)),
            Arch::UnextV2 => SegModel::UnextV2(Unext::new(spec, convnext::Version::V2, device)),
            Arch::Unetr => SegModel::Unetr(Unetr::new(spec, device)),
            Arch::Hrnet => SegModel::Hrnet(Hrnet::new(spec, device)),
        })
    }

    /// Builds the network of a spec from [`ModelSpec::from_config`] (or otherwise validated).
    ///
    /// # Panics
    /// If the spec fails [`ModelSpec::validate`]; use [`SegModel::try_new`] for unchecked specs.
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        Self::try_new(spec, device).expect("a validated ModelSpec (see ModelSpec::validate)")
    }

    /// 2D logits: `[batch, in_channels, y, x]` → `[batch, out_channels, y, x]`. Errors if the
    /// model is 3D or the input's channels or sizes do not fit (sizes must be multiples of the
    /// total pooling per axis).
    pub fn forward2d(&self, x: Tensor<4>) -> Result<Tensor<4>, ModelError> {
        self.geometry().check(&x.dims())?;
        Ok(self.forward(x))
    }

    /// 3D logits: `[batch, in_channels, z, y, x]` → `[batch, out_channels, z, y, x]`. Errors
    /// as [`SegModel::forward2d`].
    pub fn forward3d(&self, x: Tensor<5>) -> Result<Tensor<5>, ModelError> {
        self.geometry().check(&x.dims())?;
        Ok(self.forward(x))
    }

    /// 2D or 3D logits, by the input's rank; errors as [`SegModel::forward2d`].
    pub fn logits<const D: usize>(&self, x: Tensor<D>) -> Result<Tensor<D>, ModelError> {
        self.geometry().check(&x.dims())?;
        Ok(self.forward(x))
    }

    /// Logits and, when the network has `LOSS.CONTRAST`'s heads, the embedding `[batch,
    /// PROJ_DIM, …]` of the same features (full size; `hrnet`'s at a quarter of y and x). Errors as
    /// [`SegModel::forward2d`].
    pub fn forward_embed<const D: usize>(&self, x: Tensor<D>) -> Result<(Tensor<D>, Option<Tensor<D>>), ModelError> {
        self.geometry().check(&x.dims())?;
        Ok(match self {
            SegModel::Unet(net) | SegModel::AttentionUnet(net) | SegModel::Seunet(net) => net.forward_embed(x),
            SegModel::Resunet(net) | SegModel::ResunetSe(net) => net.forward_embed(x),
            SegModel::ResunetPlusPlus(net) => net.forward_embed(x),
            SegModel::Multiresunet(net) => net.forward_embed(x),
            SegModel::Stunet(net) => (net.forward(x), None),
            SegModel::UnextV1(net) | SegModel::UnextV2(net) => net.forward_embed(x),
            SegModel::Unetr(net) => net.forward_embed(x),
            SegModel::Hrnet(net) => net.forward_embed(x),
        })
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            SegModel::Unet(net) | SegModel::AttentionUnet(net) | SegModel::Seunet(net) => net.forward(x),
            SegModel::Resunet(net) | SegModel::ResunetSe(net) => net.forward(x),
            SegModel::ResunetPlusPlus(net) => net.forward(x),
            SegModel::Multiresunet(net) => net.forward(x),
            SegModel::Stunet(net) => net.forward(x),
            SegModel::UnextV1(net) | SegModel::UnextV2(net) => net.forward(x),
            SegModel::Unetr(net) => net.forward(x),
            SegModel::Hrnet(net) => net.forward(x),
        }
    }

    /// The input the network accepts.
    pub fn geometry(&self) -> &Geometry {
        match self {
            SegModel::Unet(net) | SegModel::AttentionUnet(net) | SegModel::Seunet(net) => &net.geometry,
            SegModel::Resunet(net) | SegModel::ResunetSe(net) => &net.geometry,
            SegModel::ResunetPlusPlus(net) => &net.geometry,
            SegModel::Multiresunet(net) => &net.geometry,
            SegModel::Stunet(net) => &net.geometry,
            SegModel::UnextV1(net) | SegModel::UnextV2(net) => &net.geometry,
            SegModel::Unetr(net) => &net.geometry,
            SegModel::Hrnet(net) => &net.geometry,
        }
    }

    /// 2D or 3D.
    pub fn ndim(&self) -> Ndim {
        self.geometry().ndim
    }

    /// Trainable parameters (batch-norm running statistics excluded, as in PyTorch).
    pub fn n_params(&self) -> usize {
        n_trainable_params(self)
    }

    /// Trainable parameters per block: encoder levels, bottleneck, decoder steps (deepest
    /// first), head (for `resunet++`: see [`ResUNetPlusPlus::block_params`]).
    pub fn block_params(&self) -> Vec<usize> {
        match self {
            SegModel::Unet(net) | SegModel::AttentionUnet(net) | SegModel::Seunet(net) => net.block_params(),
            SegModel::Resunet(net) | SegModel::ResunetSe(net) => net.block_params(),
            SegModel::ResunetPlusPlus(net) => net.block_params(),
            SegModel::Multiresunet(net) => net.block_params(),
            SegModel::Stunet(net) => net.block_params(),
            SegModel::UnextV1(net) | SegModel::UnextV2(net) => net.block_params(),
            SegModel::Unetr(net) => net.block_params(),
            SegModel::Hrnet(net) => net.block_params(),
        }
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict layout (trainable parameters
    /// only; see [`UNet::biapy_state_dict_names`]).
    pub fn biapy_state_dict_names(&self) -> NameList {
        match self {
            SegModel::Unet(net) | SegModel::AttentionUnet(net) | SegModel::Seunet(net) => net.biapy_state_dict_names(),
            SegModel::Resunet(net) | SegModel::ResunetSe(net) => net.biapy_state_dict_names(),
            SegModel::ResunetPlusPlus(net) => net.biapy_state_dict_names(),
            SegModel::Multiresunet(net) => net.biapy_state_dict_names(),
            SegModel::Stunet(net) => net.biapy_state_dict_names(),
            SegModel::UnextV1(net) | SegModel::UnextV2(net) => net.biapy_state_dict_names(),
            SegModel::Unetr(net) => net.biapy_state_dict_names(),
            SegModel::Hrnet(net) => net.biapy_state_dict_names(),
        }
    }
}

#[cfg(all(test, feature = "tch"))]
mod tch_gradients;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
