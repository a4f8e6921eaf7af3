//! BiaPy's HRNet (`biapy/models/hrnet.py`, `HighResolutionNet` with the FCN head): [`Hrnet`],
//! its stem, bottleneck `layer1`, transitions and multi-resolution modules ([`HrModule`]).
//!
//! Built for BiaPy's presets `W18`, `W32`, `W48`, `W64` (the ones its `check_configuration`
//! fills in): three stages of 1, 4 and 3 modules with 2, 3 and 4 branches of widths `W·2^b`,
//! four basic blocks per branch, branches down-sampled by 2 in y and x only (z never).
//!
//! * `CBN` = convolution (3×3 with padding 1 or 1×1, no bias) → `MODEL.NORMALIZATION` norm →
//!   `MODEL.ACTIVATION` where BiaPy puts one. Residual blocks have no activation between their
//!   convolutions and a fixed ReLU after the sum (BiaPy's quirk).
//! * Stem: two stride-2 CBNs (64 channels, the second activated) → S/4; `layer1`: four
//!   bottlenecks (64 → 256, a 1×1 CBN shortcut on the first).
//! * Each module: basic blocks per branch, then `fuse_layers.i.j` into every branch i: 1×1 CBN
//!   and bilinear/trilinear interpolation with `align_corners=True` from a coarser branch,
//!   chains of stride-2 3×3 CBNs (activated but the last) from a finer one;
//!   `y_i = act(Σ_j f_ij(x_j))`.
//! * FCN head: branch 0 and the others interpolated to its size (`align_corners=True`),
//!   concatenated (15W channels), `heads.0` 1×1 (with bias), then ×4 bi/trilinear up-sampling
//!   (`align_corners=False`).
//!
//! Every layer keeps PyTorch's default initialisation (BiaPy does not call `init_weights`).
//! Sizes are divided by 2 with rounding up by the strided convolutions, and the interpolations
//! resize to the exact branch sizes, so any multiple of 4 works, as in BiaPy. This file must
//! not read the config.

use burn::module::Module;
use burn::tensor::{Device, Tensor, activation};

use super::blocks::Geometry;
use super::heads::{self, ContrastHeads, HeadNormKind, Init};
use super::layers::{ConvNd, NameList, Norm, activate, n_trainable_params, resize_align_corners, upsample};
use super::{ModelError, ModelSpec};
use crate::config::{Activation, Hrnet as HrnetConfig};

/// Modules per stage (BiaPy's presets).
pub const MODULES: [usize; 3] = [1, 4, 3];
/// Basic blocks per branch.
pub const BLOCKS: usize = 4;
/// The stem's width and `layer1`'s bottleneck width (×4 out).
const STEM: usize = 64;

/// The preset width `W` of `MODEL.HRNET` (`W18` → 18), checked: `custom` topologies, other
/// block types and the non-FCN heads are refused by key.
pub fn width_from_config(hrnet: &HrnetConfig) -> Result<usize, ModelError> {
    let fail = |key: &'static str, message: String| Err(ModelError::InvalidSpec { key, message });
    let width = match hrnet.variant.as_str() {
        "W18" => 18,
        "W32" => 32,
        "W48" => 48,
        "W64" => 64,
        "custom" => {
            let message = "`custom` HRNet topologies are not built by segsweep yet; use `W18`, `W32`, `W48` or `W64`";
            return fail("MODEL.HRNET.VARIANT", message.into());
        }
        other => {
            return fail("MODEL.HRNET.VARIANT", format!("`{other}`: expected `W18`, `W32`, `W48`, `W64` or `custom`"));
        }
    };
    match hrnet.head_type.as_str() {
        "FCN" => Ok(width),
        "ASPP" | "PSP" | "OCR" => {
            let message = format!(
                "`{}` is refused: BiaPy 3.7.1's head ends at 256 channels with no classifier, so its output is not the \
                 classes (spec architectures §9.3); use `FCN`",
                hrnet.head_type
            );
            fail("MODEL.HRNET.HEAD_TYPE", message)
        }
        other => fail("MODEL.HRNET.HEAD_TYPE", format!("`{other}`: expected `FCN`, `ASPP`, `PSP` or `OCR`")),
    }
}

/// A stride-2 step `(z, y, x)` of the presets: y and x only (`HRNET.Z_DOWN` is 1).
pub const STEP: [usize; 3] = [1, 2, 2];

/// BiaPy's `ConvBlock(..., bias=False)`: conv → norm → activation (when given).
#[derive(Module, Debug)]
pub struct Cbn {
    pub conv: ConvNd,
    pub norm: Norm,
    #[module(skip)]
    pub act: Option<Activation>,
}

impl Cbn {
    fn new(
        spec: &ModelSpec,
        channels: [usize; 2],
        kernel: usize,
        stride: [usize; 3],
        act: bool,
        device: &Device,
    ) -> Self {
        Self {
            conv: ConvNd::unbiased(spec.ndim, channels, [kernel; 3], stride, device),
            norm: Norm::new(spec.norm, spec.ndim, channels[1], device),
            act: act.then_some(spec.activation),
        }
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let y = self.norm.forward(self.conv.forward(x));
        match self.act {
            Some(act) => activate(act, y),
            None => y,
        }
    }

    fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        self.conv.biapy_names(&format!("{prefix}.block.0"), out);
        self.norm.biapy_names(&format!("{prefix}.block.1"), out);
    }
}

/// `HRBottleneck` (1×1 → 3×3 → 1×1 ×4, no activations inside) or `HRBasicBlock` (3×3 → 3×3),
/// plus the shortcut (a 1×1 conv and norm when the width changes), then ReLU.
#[derive(Module, Debug)]
pub struct ResBlock {
    pub convs: Vec<Cbn>,
    pub downsample: Option<(ConvNd, Norm)>,
}

impl ResBlock {
    fn bottleneck(spec: &ModelSpec, in_channels: usize, device: &Device) -> Self {
        let convs = vec![
            Cbn::new(spec, [in_channels, STEM], 1, [1; 3], false, device),
            Cbn::new(spec, [STEM, STEM], 3, [1; 3], false, device),
            Cbn::new(spec, [STEM, 4 * STEM], 1, [1; 3], false, device),
        ];
        let downsample = (in_channels != 4 * STEM).then(|| {
            let conv = ConvNd::unbiased(spec.ndim, [in_channels, 4 * STEM], [1; 3], [1; 3], device);
            (conv, Norm::new(spec.norm, spec.ndim, 4 * STEM, device))
        });
        Self { convs, downsample }
    }

    fn basic(spec: &ModelSpec, channels: usize, device: &Device) -> Self {
        let convs = vec![
            Cbn::new(spec, [channels, channels], 3, [1; 3], false, device),
            Cbn::new(spec, [channels, channels], 3, [1; 3], false, device),
        ];
        Self { convs, downsample: None }
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let residual = match &self.downsample {
            Some((conv, norm)) => norm.forward(conv.forward(x.clone())),
            None => x.clone(),
        };
        let y = self.convs.iter().fold(x, |x, c| c.forward(x));
        activation::relu(y + residual)
    }

    fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        for (k, conv) in self.convs.iter().enumerate() {
            conv.biapy_names(&format!("{prefix}.conv{}_block", k + 1), out);
        }
        if let Some((conv, norm)) = &self.downsample {
            conv.biapy_names(&format!("{prefix}.downsample.0"), out);
            norm.biapy_names(&format!("{prefix}.downsample.1"), out);
        }
    }
}

/// CBNs in a row: one BiaPy `ConvBlock` (names `{p}.block.…`), or an `nn.Sequential` of them
/// (`sequential`: names `{p}.{k}.block.…`). A fuse path from a coarser branch is one 1×1 CBN
/// (then interpolated), from a finer one a chain of stride-2 CBNs; a transition is one CBN on
/// the same branch, or a chain of one stride-2 CBN for a new branch.
#[derive(Module, Debug)]
pub struct CbnPath {
    pub units: Vec<Cbn>,
    #[module(skip)]
    pub sequential: bool,
}

impl CbnPath {
    fn single(unit: Cbn) -> Self {
        Self { units: vec![unit], sequential: false }
    }

    fn chain(units: Vec<Cbn>) -> Self {
        Self { units, sequential: true }
    }

    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.units.iter().fold(x, |x, unit| unit.forward(x))
    }

    fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        for (k, unit) in self.units.iter().enumerate() {
            match self.sequential {
                true => unit.biapy_names(&format!("{prefix}.{k}"), out),
                false => unit.biapy_names(prefix, out),
            }
        }
    }
}

/// BiaPy's `HighResolutionModule`.
#[derive(Module, Debug)]
pub struct HrModule {
    pub branches: Vec<Vec<ResBlock>>,
    /// `fuse_layers.i.j` (`None` on the diagonal).
    pub fuse_layers: Vec<Vec<Option<CbnPath>>>,
    #[module(skip)]
    pub act: Activation,
}

impl HrModule {
    fn new(spec: &ModelSpec, widths: &[usize], device: &Device) -> Self {
        let n = widths.len();
        let branches =
            widths.iter().map(|&c| (0..BLOCKS).map(|_| ResBlock::basic(spec, c, device)).collect()).collect();
        let fuse_layers = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| match j.cmp(&i) {
                        std::cmp::Ordering::Equal => None,
                        std::cmp::Ordering::Greater => {
                            Some(CbnPath::single(Cbn::new(spec, [widths[j], widths[i]], 1, [1; 3], false, device)))
                        }
                        std::cmp::Ordering::Less => {
                            let steps = i - j;
                            let chain = (0..steps)
                                .map(|k| {
                                    let last = k == steps - 1;
                                    let out = if last { widths[i] } else { widths[j] };
                                    Cbn::new(spec, [widths[j], out], 3, STEP, !last, device)
                                })
                                .collect();
                            Some(CbnPath::chain(chain))
                        }
                    })
                    .collect()
            })
            .collect();
        Self { branches, fuse_layers, act: spec.activation }
    }

    fn forward<const D: usize>(&self, xs: Vec<Tensor<D>>) -> Vec<Tensor<D>> {
        let xs: Vec<Tensor<D>> =
            xs.into_iter().zip(&self.branches).map(|(x, blocks)| blocks.iter().fold(x, |x, b| b.forward(x))).collect();
        self.fuse_layers
            .iter()
            .enumerate()
            .map(|(i, paths)| {
                let target = spatial(&xs[i]);
                let mut sum = xs[i].clone();
                for (j, path) in paths.iter().enumerate() {
                    let Some(path) = path else { continue };
                    let term = path.forward(xs[j].clone());
                    let term = if j > i { resize_align_corners(term, target) } else { term };
                    sum = sum + term;
                }
                activate(self.act, sum)
            })
            .collect()
    }

    fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        for (b, blocks) in self.branches.iter().enumerate() {
            for (k, block) in blocks.iter().enumerate() {
                block.biapy_names(&format!("{prefix}.branches.{b}.{k}"), out);
            }
        }
        for (i, paths) in self.fuse_layers.iter().enumerate() {
            for (j, path) in paths.iter().enumerate() {
                if let Some(path) = path {
                    path.biapy_names(&format!("{prefix}.fuse_layers.{i}.{j}"), out);
                }
            }
        }
    }
}

/// `(z, y, x)` of a `[batch, channel, (z,) y, x]` tensor (`z` 1 in 2D).
fn spatial<const D: usize>(x: &Tensor<D>) -> [usize; 3] {
    let dims = x.dims();
    match D {
        4 => [1, dims[2], dims[3]],
        _ => [dims[2], dims[3], dims[4]],
    }
}

/// The HRNet.
#[derive(Module, Debug)]
pub struct Hrnet {
    pub conv1_block: Cbn,
    pub conv2_block: Cbn,
    pub layer1: Vec<ResBlock>,
    /// `transitions.k.b` (`None` where the branch passes through): on the same branch when the
    /// width changes, from the coarsest previous branch for a new one.
    pub transitions: Vec<Vec<Option<CbnPath>>>,
    /// `stages.k.m`.
    pub stages: Vec<Vec<HrModule>>,
    pub heads: Vec<ConvNd>,
    /// `LOSS.CONTRAST`'s heads (FCN head), in place of `heads`; the embedding stays at the
    /// branches' quarter resolution, as BiaPy's.
    pub contrast: Option<ContrastHeads>,
    #[module(skip)]
    pub geometry: Geometry,
}

impl Hrnet {
    /// Builds the preset of `spec` (assumed valid: it carries the width).
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let w = spec.hrnet_width.expect("a validated hrnet spec has a width");
        let s = STEP;
        let layer1 = (0..4).map(|b| ResBlock::bottleneck(spec, if b == 0 { STEM } else { 4 * STEM }, device)).collect();
        let mut previous = vec![4 * STEM];
        let mut transitions = Vec::new();
        let mut stages = Vec::new();
        for (k, &modules) in MODULES.iter().enumerate() {
            let widths: Vec<usize> = (0..k + 2).map(|b| w << b).collect();
            transitions.push(
                widths
                    .iter()
                    .enumerate()
                    .map(|(b, &c)| match previous.get(b) {
                        Some(&p) if p == c => None,
                        Some(&p) => Some(CbnPath::single(Cbn::new(spec, [p, c], 3, [1; 3], true, device))),
                        None => {
                            let from = *previous.last().expect("a previous branch");
                            Some(CbnPath::chain(vec![Cbn::new(spec, [from, c], 3, s, true, device)]))
                        }
                    })
                    .collect(),
            );
            stages.push((0..modules).map(|_| HrModule::new(spec, &widths, device)).collect());
            previous = widths;
        }
        let head_in: usize = previous.iter().sum();
        let (heads, contrast) = heads::build(&spec.head(head_in, HeadNormKind::Layer(spec.norm), Init::Torch), device);
        Self {
            conv1_block: Cbn::new(spec, [spec.in_channels, STEM], 3, s, false, device),
            conv2_block: Cbn::new(spec, [STEM, STEM], 3, s, true, device),
            layer1,
            transitions,
            stages,
            heads,
            contrast,
            geometry: spec.geometry(),
        }
    }

    /// Logits at the input's size (a multiple of 4 in y and x; the caller checks it against
    /// [`Hrnet::geometry`]).
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        self.forward_with(input, false).0
    }

    /// Logits and, with contrastive heads, the embedding at a quarter of the input's y and x
    /// (see [`heads::output`]).
    pub fn forward_embed<const D: usize>(&self, input: Tensor<D>) -> (Tensor<D>, Option<Tensor<D>>) {
        self.forward_with(input, true)
    }

    fn forward_with<const D: usize>(&self, input: Tensor<D>, embed: bool) -> (Tensor<D>, Option<Tensor<D>>) {
        let x = self.conv2_block.forward(self.conv1_block.forward(input));
        let x = self.layer1.iter().fold(x, |x, b| b.forward(x));
        let mut ys = vec![x];
        for (transition, modules) in self.transitions.iter().zip(&self.stages) {
            let mut xs: Vec<Tensor<D>> = transition
                .iter()
                .enumerate()
                .map(|(b, t)| {
                    let input = ys.get(b).unwrap_or_else(|| ys.last().expect("a branch")).clone();
                    match t {
                        None => input,
                        Some(path) => path.forward(input),
                    }
                })
                .collect();
            for module in modules {
                xs = module.forward(xs);
            }
            ys = xs;
        }
        let target = spatial(&ys[0]);
        let mut feats = vec![ys[0].clone()];
        feats.extend(ys[1..].iter().map(|y| resize_align_corners(y.clone(), target)));
        let (logits, embedding) = heads::output(&self.heads, self.contrast.as_ref(), Tensor::cat(feats, 1), embed);
        let [_, sy, sx] = STEP;
        (upsample(logits, [1, sy * sy, sx * sx]), embedding)
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict order.
    pub fn biapy_state_dict_names(&self) -> NameList {
        let mut out = Vec::new();
        self.conv1_block.biapy_names("conv1_block", &mut out);
        self.conv2_block.biapy_names("conv2_block", &mut out);
        for (b, block) in self.layer1.iter().enumerate() {
            block.biapy_names(&format!("layer1.{b}"), &mut out);
        }
        for (k, branches) in self.transitions.iter().enumerate() {
            for (b, t) in branches.iter().enumerate() {
                if let Some(path) = t {
                    path.biapy_names(&format!("transitions.{k}.{b}"), &mut out);
                }
            }
        }
        for (k, modules) in self.stages.iter().enumerate() {
            for (m, module) in modules.iter().enumerate() {
                module.biapy_names(&format!("stages.{k}.{m}"), &mut out);
            }
        }
        heads::biapy_names(&self.heads, self.contrast.as_ref(), &mut out);
        out
    }

    /// Trainable parameters per block: the stem, `layer1`, each stage with its transition, the
    /// head.
    pub fn block_params(&self) -> Vec<usize> {
        let mut counts = vec![n_trainable_params(&self.conv1_block) + n_trainable_params(&self.conv2_block)];
        counts.push(n_trainable_params(&self.layer1));
        for (t, modules) in self.transitions.iter().zip(&self.stages) {
            counts.push(n_trainable_params(t) + n_trainable_params(modules));
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
    fn parameter_counts_per_part_are_biapys() {
        // Spec §9.2, W18 2D: stem 704 + 36,992; layer1 286,208; transitions; stages; head 271.
        let yaml = "MODEL: {ARCHITECTURE: hrnet, HRNET: {VARIANT: W18}}";
        let net = Hrnet::new(&spec(yaml), &Device::flex());
        assert_eq!((n_trainable_params(&net.conv1_block), n_trainable_params(&net.conv2_block)), (704, 36_992));
        assert_eq!(n_trainable_params(&net.layer1), 286_208);
        let transitions: Vec<usize> = net.transitions.iter().map(n_trainable_params).collect();
        assert_eq!(transitions, [124_524, 23_472, 93_600]);
        let stages: Vec<usize> = net.stages.iter().map(n_trainable_params).collect();
        assert_eq!(stages, [124_092, 2_162_880, 6_708_636]);
        assert_eq!(n_trainable_params(&net.heads[0]), 271);
        assert_eq!(net.block_params().iter().sum::<usize>(), 9_561_379);
        assert_eq!(net.biapy_state_dict_names().len(), 917);
    }

    #[test]
    fn variants_have_biapys_counts() {
        for (variant, classes, total) in [("W32", 2, 29_304_865), ("W48", 3, 65_326_131), ("W64", 2, 115_697_409)] {
            let yaml = format!(
                "DATA: {{N_CLASSES: {classes}}}\nMODEL: {{ARCHITECTURE: hrnet, HRNET: {{VARIANT: {variant}}}}}"
            );
            let spec = spec(&yaml);
            // Lazily built: counting materialises nothing.
            let net = crate::model::SegModel::new(&spec, &Device::flex());
            assert_eq!(net.n_params(), total, "{variant}");
        }
    }

    #[test]
    fn custom_topologies_and_the_broken_heads_are_refused_by_key() {
        let err = |hrnet: &str| {
            let yaml = format!("TRAIN: {{ENABLE: True}}\nMODEL: {{ARCHITECTURE: hrnet, HRNET: {{{hrnet}}}}}");
            let config = crate::config::load_str(&yaml, &[]).expect("config").config;
            crate::model::ModelSpec::from_config(&config).expect_err("refused").to_string()
        };
        assert!(err("VARIANT: custom").starts_with("`MODEL.HRNET.VARIANT`"));
        assert!(err("VARIANT: W18, HEAD_TYPE: PSP").starts_with("`MODEL.HRNET.HEAD_TYPE`"));
    }

    #[test]
    fn sizes_that_are_not_multiples_of_the_branches_still_come_back_whole() {
        use burn::optim::GradientsParams;
        let device = Device::flex().autodiff();
        // W18 is the smallest preset; 36 is a multiple of 4 but not of 32 (branches at 9, 5, 3, 2).
        let yaml = "DATA: {PATCH_SIZE: [32, 32, 1]}\nMODEL: {ARCHITECTURE: hrnet, FEATURE_MAPS: [4, 8, 16], \
                    HRNET: {VARIANT: W18}}";
        let model = crate::model::SegModel::new(&spec(yaml), &device);
        let x = Tensor::<4>::random([1, 1, 36, 36], Distribution::Normal(0.0, 1.0), &device);
        let y = model.forward2d(x).expect("a multiple of 4");
        assert_eq!(y.dims(), [1, 1, 36, 36]);
        let grads = GradientsParams::from_grads((y.clone() * y).mean().backward(), &model);
        assert_eq!(grads.len(), model.biapy_state_dict_names().len());
        let yaml3 = "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [4, 16, 16, 1]}\nMODEL: {ARCHITECTURE: hrnet, \
                     FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1], HRNET: {VARIANT: W18}}";
        let net = Hrnet::new(&spec(yaml3), &Device::flex());
        let x = Tensor::<5>::random([1, 1, 3, 16, 16], Distribution::Normal(0.0, 1.0), &Device::flex());
        assert_eq!(net.forward(x).dims(), [1, 1, 3, 16, 16]);
    }
}
