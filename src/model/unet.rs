//! BiaPy's U-Net (`biapy/models/unet.py`) and the two variants that share its skeleton:
//! attention U-Net (attention gates on the skip connections) and SE-U-Net (squeeze-and-excitation
//! after every encoder and decoder conv unit). One struct, [`UNet`], built with
//! [`UNetVariant`].
//!
//! Layout (spec §7.3), `F = MODEL.FEATURE_MAPS`, depth `d = len(F) − 1`:
//! encoder level `i < d`: `CONV_LAYERS[i]` conv units `in → F[i]`, …, kept as skip, then
//! max-pool `(z_down[i], yx_down[i], yx_down[i])`; bottleneck: units `F[d−1] → F[d]`; decoder
//! step for level `i = d−1 … 0`: up-sample `→ F[i]` + norm + activation, concat `[up, skip]`,
//! units `2·F[i] → F[i]`; head: 1×1 conv `F[0] → C_out`, logits. Field names follow BiaPy's
//! state dict (`down_path`, `bottleneck`, `up_paths.0`, `heads`). This file must not read the
//! config: it takes a [`ModelSpec`].

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::ModelSpec;
use super::attention::AttentionBlock;
use super::blocks::{ConvBlock, ConvStack, Geometry, UnitSpec, UpBlock, Upsampler};
use super::heads::{self, ContrastHeads, HeadNormKind, Init};
use super::layers::{ConvNd, ConvTransposeNd, NameList, Norm};
use super::skeleton::Skeleton;
use crate::config::UpsampleLayer;

/// Which member of the U-Net family to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UNetVariant {
    /// `unet`.
    Plain,
    /// `attention_unet`.
    Attention,
    /// `seunet`.
    SqueezeExcite,
}

/// The U-Net family network.
#[derive(Module, Debug)]
pub struct UNet {
    /// Encoder levels `0 … d−1`.
    pub down_path: Vec<ConvStack>,
    /// The deepest level.
    pub bottleneck: ConvStack,
    /// Decoder steps, deepest first (BiaPy's `up_paths.0`).
    pub up_paths: Vec<UpBlock>,
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

impl UNet {
    /// Builds the network of `spec` (assumed valid: see [`ModelSpec::validate`]).
    pub fn new(spec: &ModelSpec, variant: UNetVariant, device: &Device) -> Self {
        let depth = spec.depth();
        let se = variant == UNetVariant::SqueezeExcite;
        let mut down_path = Vec::with_capacity(depth);
        let (conv_in, conv_out) = spec.io_units(device);
        let mut in_channels = spec.encoder_in_channels();
        for level in 0..depth {
            let unit = unit_spec(spec, level, se);
            let channels = [in_channels, spec.feature_maps[level]];
            down_path.push(ConvStack::new(&unit, channels, spec.conv_layers[level], device));
            in_channels = spec.feature_maps[level];
        }
        // BiaPy passes `se_block` to the bottleneck too (`bottleneck.block.{0,1}.block.3.excitation`).
        let bottom = unit_spec(spec, depth, se);
        let bottleneck =
            ConvStack::new(&bottom, [in_channels, spec.feature_maps[depth]], spec.conv_layers[depth], device);
        let up_paths = (0..depth).rev().map(|level| up_block(spec, level, variant, device)).collect();
        let head = spec.head(spec.feature_maps[0], HeadNormKind::Layer(spec.norm), Init::Biapy);
        let (heads, contrast) = heads::build(&head, device);
        Self { down_path, bottleneck, up_paths, heads, contrast, conv_in, conv_out, geometry: spec.geometry() }
    }

    /// The shared U skeleton over this network's blocks.
    fn skeleton(&self) -> Skeleton<'_, ConvStack, UpBlock> {
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
    /// caller checks the input against [`UNet::geometry`].
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

/// The conv units of `level` (`depth` = bottleneck).
fn unit_spec(spec: &ModelSpec, level: usize, se: bool) -> UnitSpec {
    UnitSpec {
        ndim: spec.ndim,
        kernel: spec.kernel(level),
        norm: Some(spec.norm),
        act: Some(spec.activation),
        dropout: spec.dropout[level],
        se,
        order: spec.conv_block_order,
    }
}

/// The decoder step that returns to `level`.
fn up_block(spec: &ModelSpec, level: usize, variant: UNetVariant, device: &Device) -> UpBlock {
    let out = spec.feature_maps[level];
    let channels = [spec.feature_maps[level + 1], out];
    let factors = spec.pool_factors(level);
    let up = match spec.upsample {
        UpsampleLayer::Convtranspose => {
            Upsampler::Transpose(ConvTransposeNd::new(spec.ndim, channels, factors, device))
        }
        UpsampleLayer::Upsampling => Upsampler::Resize(ConvNd::new(spec.ndim, channels, [1, 1, 1], device)),
    };
    let attention_gate =
        (variant == UNetVariant::Attention).then(|| AttentionBlock::new(spec.ndim, out, spec.norm, device));
    let unit = unit_spec(spec, level, variant == UNetVariant::SqueezeExcite);
    UpBlock {
        up,
        up_norm: Norm::new(spec.norm, spec.ndim, out, device),
        attention_gate,
        conv_block: ConvStack::new(&unit, [2 * out, out], spec.conv_layers[level], device),
        act: spec.activation,
        factors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::NormLayer;
    use crate::model::layers::n_trainable_params;
    use crate::model::testutil::spec;
    use burn::tensor::Distribution;

    fn count(yaml: &str) -> usize {
        let spec = spec(yaml);
        n_trainable_params(&UNet::new(&spec, UNetVariant::Plain, &Device::flex()))
    }

    #[test]
    fn default_2d_unet_has_biapys_parameter_count_block_by_block() {
        let unet = UNet::new(&spec(""), UNetVariant::Plain, &Device::flex());
        assert_eq!(n_trainable_params(&unet), 1_944_241);
        assert_eq!(
            unet.block_params(),
            vec![2_544, 14_016, 55_680, 221_952, 886_272, 574_592, 143_936, 36_128, 9_104, 17]
        );
    }

    #[test]
    fn parameter_counts_match_biapy() {
        assert_eq!(count("DATA: {N_CLASSES: 3}"), 1_944_275);
        assert_eq!(count("MODEL: {UPSAMPLE_LAYER: upsampling}"), 1_813_681);
        assert_eq!(count("MODEL: {NORMALIZATION: bn}"), 1_944_241);
        assert_eq!(count("MODEL: {NORMALIZATION: gn}"), 1_944_241);
        assert_eq!(count("PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [64, 64, 64, 1]}"), 5_648_337);
    }

    #[test]
    fn burn_counts_batch_norm_buffers_but_segsweep_does_not() {
        let spec = spec("MODEL: {NORMALIZATION: bn}");
        assert_eq!(spec.norm, NormLayer::Bn);
        let unet = UNet::new(&spec, UNetVariant::Plain, &Device::flex());
        assert!(unet.num_params() > n_trainable_params(&unet));
    }

    #[test]
    fn state_dict_names_follow_biapy_and_add_up() {
        let unet = UNet::new(&spec(""), UNetVariant::Plain, &Device::flex());
        let names = unet.biapy_state_dict_names();
        assert_eq!(
            (names[0].0.clone(), names[0].1.clone()),
            ("down_path.0.block.0.block.0.weight".to_string(), vec![16, 1, 3, 3])
        );
        assert_eq!(
            (names[1].0.clone(), names[1].1.clone()),
            ("down_path.0.block.0.block.0.bias".to_string(), vec![16])
        );
        assert_eq!(
            (names[2].0.clone(), names[2].1.clone()),
            ("down_path.0.block.0.block.1.weight".to_string(), vec![16])
        );
        let up = names.iter().find(|(n, _, _)| n == "up_paths.0.0.up.0.weight").expect("transposed conv");
        assert_eq!(up.1, vec![256, 128, 2, 2]);
        assert!(names.iter().any(|(n, _, _)| n == "up_paths.0.3.conv_block.block.1.block.1.bias"));
        assert!(names.iter().any(|(n, _, _)| n == "bottleneck.block.1.block.0.weight"));
        assert_eq!(
            (names[names.len() - 1].0.clone(), names[names.len() - 1].1.clone()),
            ("heads.0.bias".to_string(), vec![1])
        );
        assert_eq!(
            (names[names.len() - 2].0.clone(), names[names.len() - 2].1.clone()),
            ("heads.0.weight".to_string(), vec![1, 16, 1, 1])
        );
        let total: usize = names.iter().map(|(_, shape, _)| shape.iter().product::<usize>()).sum();
        assert_eq!(total, 1_944_241);
        let mut unique: Vec<&String> = names.iter().map(|(n, _, _)| n).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn upsampling_names_skip_the_resize_layer() {
        let unet = UNet::new(&spec("MODEL: {UPSAMPLE_LAYER: upsampling}"), UNetVariant::Plain, &Device::flex());
        let names = unet.biapy_state_dict_names();
        assert!(names.iter().any(|(n, s, _)| n == "up_paths.0.0.up.1.weight" && s == &vec![128, 256, 1, 1]));
        assert!(names.iter().any(|(n, _, _)| n == "up_paths.0.0.up.2.bias"));
        let total: usize = names.iter().map(|(_, shape, _)| shape.iter().product::<usize>()).sum();
        assert_eq!(total, 1_813_681);
    }

    #[test]
    fn forward_keeps_the_spatial_size() {
        let device = Device::flex();
        let unet = UNet::new(&spec("DATA: {N_CLASSES: 3}"), UNetVariant::Plain, &device);
        let x = Tensor::<4>::random([2, 1, 32, 32], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(unet.forward(x).dims(), [2, 3, 32, 32]);
    }
}
