//! BiaPy's UNETR (`biapy/models/unetr.py`, after Hatamizadeh et al. 2022): [`Unetr`], a ViT
//! encoder ([`VitBlock`]: pre-norm multi-head self-attention and GELU MLP, as timm's `Block`)
//! and a convolutional decoder, with the encoder's [`VitTopology`] read from `MODEL.VIT_*` /
//! `MODEL.UNETR_*`.
//!
//! * Tokens: `patch_embed.proj` (convolution, kernel = stride = token size P) flattened in
//!   row-major order, a trainable `cls_token` prepended, `pos_embed` added. BiaPy's quirk kept:
//!   `pos_embed` is frozen and never initialised, so it stays zero.
//! * `blocks.b`: `x += proj(MHSA(LN(x)))`, `x += fc2(GELU(fc1(LN(x))))`, layer-norm ε 1e-5, no
//!   final norm. The token maps after blocks `h, 2h, …, (L−1)h` (L = log₂ P) are the skips.
//! * Decoder (transposed convolutions with kernel 2 and no bias; conv units with
//!   `MODEL.KERNEL_SIZE`, `ACTIVATION`, `NORMALIZATION` and the one `DROPOUT_VALUES` value):
//!   `bottleneck` on the last tokens; per level, `mid_blue_block.t` lifts its skip with
//!   `L − ℓ` (transposed conv, unit) pairs, `two_yellow_layers.t` joins, `up_green_layers.t`
//!   up-samples; the image itself goes through `two_yellow_layers.(L−1)`, joins first, then
//!   `two_yellow_layers.L` and `heads.0`.
//!
//! The network takes inputs of exactly `DATA.PATCH_SIZE` (one embedding per token). BiaPy's
//! `init_weights`: Xavier-uniform convolutions and linear layers with zero bias, PyTorch's
//! default for the transposed convolutions. This file must not read the config beyond the
//! model section [`VitTopology::from_config`] is given.

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor, activation};

use super::blocks::{ConvBlock, ConvStack, Geometry, UnitSpec};
use super::convnext::{layer_norm_names, linear_names};
use super::heads::{self, ContrastHeads, HeadNormKind, Init};
use super::layers::{ConvNd, ConvTransposeNd, NameList, n_trainable_params, xavier_linear};
use super::{ModelError, ModelSpec};
use crate::config::{ConvBlockOrder, Model, Ndim};

/// The ViT encoder and the decoder's widths.
#[derive(Clone, Debug, PartialEq)]
pub struct VitTopology {
    /// Token size P (a power of two ≥ 2).
    pub token: usize,
    /// Embedding width E.
    pub embed: usize,
    /// Transformer blocks.
    pub depth: usize,
    /// Attention heads (E is a multiple).
    pub heads: usize,
    /// The MLP's hidden width, `int(E · VIT_MLP_RATIO)`.
    pub mlp_hidden: usize,
    /// `UNETR_VIT_NUM_FILTERS`.
    pub filters: usize,
    /// A skip every `skip_every` blocks.
    pub skip_every: usize,
    /// The decoder's dropout (`DROPOUT_VALUES[0]`).
    pub dropout: f64,
    /// The one input size `(z, y, x)` (`z` 1 in 2D): a square or cubic patch.
    pub patch: [usize; 3],
}

impl VitTopology {
    /// BiaPy's rules (spec architectures §6): the backbone preset or `custom` keys, a
    /// power-of-two token size, heads dividing the width, skips that fit the depth, one dropout
    /// value, and a square (cubic) patch that is a multiple of the token size.
    pub fn from_config(model: &Model, ndim: Ndim, patch: &[usize]) -> Result<Self, ModelError> {
        let fail = |key: &'static str, message: String| Err(ModelError::InvalidSpec { key, message });
        let (token, embed, depth, heads, ratio) = match model.unetr_vit_model.as_str() {
            "custom" => (
                model.vit_token_size,
                model.vit_embed_dim,
                model.vit_num_layers,
                model.vit_num_heads,
                model.vit_mlp_ratio,
            ),
            "vit_base_patch16" => (16, 768, 12, 12, 4.0),
            "vit_large_patch16" => (16, 1024, 24, 16, 4.0),
            "vit_huge_patch14" => {
                let message = "`vit_huge_patch14` has 14-voxel tokens, and UNETR's decoder needs a power of two (as \
                               BiaPy checks)";
                return fail("MODEL.UNETR_VIT_MODEL", message.into());
            }
            "sam3_vit" => {
                let message = "SAM 3's image encoder (rotary, windowed attention and its gated Hugging Face weights) \
                               is not built by segsweep; use `custom`, `vit_base_patch16` or `vit_large_patch16`";
                return fail("MODEL.UNETR_VIT_MODEL", message.into());
            }
            other => {
                let message = format!(
                    "`{other}`: expected `custom`, `vit_base_patch16`, `vit_large_patch16` (BiaPy also knows \
                     `vit_huge_patch14` and `sam3_vit`)"
                );
                return fail("MODEL.UNETR_VIT_MODEL", message);
            }
        };
        if token < 2 || !token.is_power_of_two() {
            return fail(
                "MODEL.VIT_TOKEN_SIZE",
                format!("{token}: expected a power of two ≥ 2 (the decoder doubles per level)"),
            );
        }
        if embed == 0 || heads == 0 || embed % heads != 0 {
            let message = format!("{embed} is not a positive multiple of `MODEL.VIT_NUM_HEADS` ({heads})");
            return fail("MODEL.VIT_EMBED_DIM", message);
        }
        if depth == 0 {
            return fail("MODEL.VIT_NUM_LAYERS", "expected at least one transformer block".into());
        }
        // Python's `int(dim * mlp_ratio)`.
        let mlp_hidden = (embed as f64 * ratio) as usize;
        if ratio.is_nan() || ratio <= 0.0 || mlp_hidden == 0 {
            return fail("MODEL.VIT_MLP_RATIO", format!("{ratio}: expected a positive ratio"));
        }
        if model.unetr_vit_num_filters == 0 {
            return fail("MODEL.UNETR_VIT_NUM_FILTERS", "expected at least one filter".into());
        }
        let levels = token.trailing_zeros() as usize;
        let skip_every = match model.unetr_vit_hidd_mult {
            m if m <= 0 => (depth / levels).max(1),
            m => m as usize,
        };
        if skip_every * (levels - 1) > depth {
            let message = format!(
                "{skip_every} × {} skips reaches past the {depth} transformer blocks (use -1 to space them evenly)",
                levels - 1
            );
            return fail("MODEL.UNETR_VIT_HIDD_MULT", message);
        }
        let dropout = match model.dropout_values.as_slice() {
            [p] => *p,
            values if values.iter().all(|&p| p == 0.0) => 0.0,
            values => {
                return fail("MODEL.DROPOUT_VALUES", format!("{values:?}: `unetr` takes one value"));
            }
        };
        if !(0.0..1.0).contains(&dropout) {
            return fail("MODEL.DROPOUT_VALUES", format!("{dropout} is outside [0, 1)"));
        }
        let n_axes = ndim.n_axes();
        let spatial = patch.get(..n_axes).unwrap_or_default();
        if spatial.len() != n_axes
            || spatial.iter().any(|&s| s != spatial[0])
            || spatial[0] % token != 0
            || spatial[0] == 0
        {
            let message = format!(
                "{patch:?} does not fit `unetr`: its spatial sizes must be equal (a square or cubic patch) and a \
                 multiple of the token size {token}"
            );
            return fail("DATA.PATCH_SIZE", message);
        }
        let size = spatial[0];
        let patch = match ndim {
            Ndim::D2 => [1, size, size],
            Ndim::D3 => [size; 3],
        };
        Ok(Self {
            token,
            embed,
            depth,
            heads,
            mlp_hidden,
            filters: model.unetr_vit_num_filters,
            skip_every,
            dropout,
            patch,
        })
    }

    /// Decoder levels `L = log₂ P`.
    pub fn levels(&self) -> usize {
        self.token.trailing_zeros() as usize
    }

    /// Tokens per axis.
    pub fn grid(&self) -> usize {
        self.patch[2] / self.token
    }

    /// 1-based indices of the blocks whose output feeds a skip, shallowest first.
    pub fn skip_blocks(&self) -> Vec<usize> {
        (1..self.levels()).map(|level| self.skip_every * level).collect()
    }
}

/// timm's `Block` with timm's `Attention` (fused `qkv`, no q/k norm, no dropout, no layer
/// scale, no drop path).
#[derive(Module, Debug)]
pub struct VitBlock {
    pub norm1: LayerNorm,
    pub qkv: Linear,
    pub proj: Linear,
    pub norm2: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    #[module(skip)]
    pub heads: usize,
}

/// The layer norms' ε (`nn.LayerNorm`'s default; BiaPy ignores `MODEL.VIT_NORM_EPS`).
pub const EPSILON: f64 = 1e-5;

impl VitBlock {
    fn new(t: &VitTopology, device: &Device) -> Self {
        let e = t.embed;
        let norm = || LayerNormConfig::new(e).with_epsilon(EPSILON).init(device);
        Self {
            norm1: norm(),
            qkv: xavier_linear(e, 3 * e, device),
            proj: xavier_linear(e, e, device),
            norm2: norm(),
            fc1: xavier_linear(e, t.mlp_hidden, device),
            fc2: xavier_linear(t.mlp_hidden, e, device),
            heads: t.heads,
        }
    }

    /// `[batch, tokens, E]` → same shape.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.attention(self.norm1.forward(x));
        let mlp = self.fc2.forward(activation::gelu(self.fc1.forward(self.norm2.forward(x.clone()))));
        x + mlp
    }

    /// `softmax(q·kᵀ / √d)·v` per head, then `proj`.
    fn attention(&self, x: Tensor<3>) -> Tensor<3> {
        let [batch, tokens, embed] = x.dims();
        let head_dim = embed / self.heads;
        // [b, n, 3E] → [b, n, 3, H, d] → [3, b, H, n, d]
        let qkv = self.qkv.forward(x).reshape([batch, tokens, 3, self.heads, head_dim]).permute([2, 0, 3, 1, 4]);
        let part =
            |i: usize| -> Tensor<4> { qkv.clone().narrow(0, i, 1).reshape([batch, self.heads, tokens, head_dim]) };
        let (q, k, v) = (part(0), part(1), part(2));
        let scores = q.mul_scalar((head_dim as f64).powf(-0.5)).matmul(k.swap_dims(2, 3));
        let attended = activation::softmax(scores, 3).matmul(v);
        self.proj.forward(attended.swap_dims(1, 2).reshape([batch, tokens, embed]))
    }

    fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        layer_norm_names(&self.norm1, &format!("{prefix}.norm1"), out);
        linear_names(&self.qkv, &format!("{prefix}.attn.qkv"), out);
        linear_names(&self.proj, &format!("{prefix}.attn.proj"), out);
        layer_norm_names(&self.norm2, &format!("{prefix}.norm2"), out);
        linear_names(&self.fc1, &format!("{prefix}.mlp.fc1"), out);
        linear_names(&self.fc2, &format!("{prefix}.mlp.fc2"), out);
    }
}

/// One `(transposed convolution, conv unit)` pair of a blue block.
#[derive(Module, Debug)]
pub struct BlueStep {
    pub up: ConvTransposeNd,
    pub unit: ConvBlock,
}

/// The UNETR.
#[derive(Module, Debug)]
pub struct Unetr {
    /// `patch_embed.proj`.
    pub patch_embed: ConvNd,
    /// `cls_token` `[1, 1, E]`, zeros.
    pub cls_token: Param<Tensor<3>>,
    /// `pos_embed` `[1, tokens + 1, E]`, zeros, frozen.
    pub pos_embed: Param<Tensor<3>>,
    pub blocks: Vec<VitBlock>,
    /// `bottleneck`: `E → nf·2^(L−1)`.
    pub bottleneck: ConvTransposeNd,
    /// `mid_blue_block.t`, deepest skip first.
    pub mid_blue_block: Vec<Vec<BlueStep>>,
    /// `two_yellow_layers.t` (`L + 1` double conv units; `L − 1` on the image, `L` last).
    pub two_yellow_layers: Vec<ConvStack>,
    /// `up_green_layers.t`.
    pub up_green_layers: Vec<ConvTransposeNd>,
    pub heads: Vec<ConvNd>,
    /// `LOSS.CONTRAST`'s heads (BiaPy's `heads` and `proj_head`), in place of `heads`.
    pub contrast: Option<ContrastHeads>,
    #[module(skip)]
    pub topology: VitTopology,
    #[module(skip)]
    pub geometry: Geometry,
}

impl Unetr {
    /// Builds the network of `spec` (assumed valid: it carries a [`VitTopology`]).
    pub fn new(spec: &ModelSpec, device: &Device) -> Self {
        let ndim = spec.ndim;
        let t = spec.vit.clone().expect("a validated unetr spec has a topology");
        let (e, nf, levels) = (t.embed, t.filters, t.levels());
        let n_tokens = t.grid().pow(ndim.n_axes() as u32);
        let up = |channels: [usize; 2]| ConvTransposeNd::without_bias(ndim, channels, [2; 3], device);
        let unit = UnitSpec {
            ndim,
            kernel: [spec.kernel_size; 3],
            norm: Some(spec.norm),
            act: Some(spec.activation),
            dropout: t.dropout,
            se: false,
            order: ConvBlockOrder::ConvNormAct,
        };
        let width = |level: usize| nf << level;
        let mut mid_blue_block = Vec::new();
        let mut two_yellow_layers = Vec::new();
        let mut up_green_layers = Vec::new();
        for level in (1..levels).rev() {
            let mut steps = Vec::new();
            let mut in_size = e;
            for _ in 0..levels - level {
                steps.push(BlueStep {
                    up: up([in_size, width(level)]),
                    unit: unit.build(width(level), width(level), device),
                });
                in_size = width(level);
            }
            mid_blue_block.push(steps);
            two_yellow_layers.push(ConvStack::new(&unit, [2 * in_size, in_size], 2, device));
            up_green_layers.push(up([in_size, width(level - 1)]));
        }
        two_yellow_layers.push(ConvStack::new(&unit, [spec.in_channels, nf], 2, device));
        two_yellow_layers.push(ConvStack::new(&unit, [2 * nf, nf], 2, device));
        let zeros = |shape: [usize; 3]| Initializer::Zeros.init(shape, device);
        let (heads, contrast) = heads::build(&spec.head(nf, HeadNormKind::Layer(spec.norm), Init::Biapy), device);
        Self {
            patch_embed: ConvNd::patchify(ndim, [spec.in_channels, e], [t.token; 3], device),
            cls_token: zeros([1, 1, e]),
            pos_embed: zeros([1, n_tokens + 1, e]).set_require_grad(false),
            blocks: (0..t.depth).map(|_| VitBlock::new(&t, device)).collect(),
            bottleneck: up([e, width(levels - 1)]),
            mid_blue_block,
            two_yellow_layers,
            up_green_layers,
            heads,
            contrast,
            geometry: spec.geometry(),
            topology: t,
        }
    }

    /// `[batch, N, E]` tokens (no cls) → `[batch, E, g, g(, g)]`.
    fn token_map<const D: usize>(&self, tokens: Tensor<3>) -> Tensor<D> {
        let [batch, _, embed] = tokens.dims();
        let g = self.topology.grid();
        let mut shape = [g; D];
        shape[0] = batch;
        shape[1] = embed;
        // [b, N, E] → [b, E, N] → [b, E, g, g(, g)] (row-major tokens).
        tokens.swap_dims(1, 2).reshape(shape)
    }

    /// Logits for an input of exactly the patch size (the caller checks it against
    /// [`Unetr::geometry`]).
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        self.forward_with(input, false).0
    }

    /// Logits and, with contrastive heads, the embedding (see [`heads::output`]).
    pub fn forward_embed<const D: usize>(&self, input: Tensor<D>) -> (Tensor<D>, Option<Tensor<D>>) {
        self.forward_with(input, true)
    }

    fn forward_with<const D: usize>(&self, input: Tensor<D>, embed: bool) -> (Tensor<D>, Option<Tensor<D>>) {
        let batch = input.dims()[0];
        let e = self.topology.embed;
        let embedded = self.patch_embed.forward(input.clone());
        let n: usize = embedded.dims()[2..].iter().product();
        let tokens: Tensor<3> = embedded.reshape([batch, e, n]).swap_dims(1, 2);
        let cls = self.cls_token.val().expand([batch, 1, e]);
        let mut x = Tensor::cat(vec![cls, tokens], 1) + self.pos_embed.val();
        let taps = self.topology.skip_blocks();
        let mut skips = Vec::with_capacity(taps.len());
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x);
            if taps.contains(&(i + 1)) {
                skips.insert(0, x.clone().narrow(1, 1, n));
            }
        }
        let mut y: Tensor<D> = self.bottleneck.forward(self.token_map(x.narrow(1, 1, n)));
        for (t, skip) in skips.into_iter().enumerate() {
            let mut z: Tensor<D> = self.token_map(skip);
            for step in &self.mid_blue_block[t] {
                z = step.unit.forward(step.up.forward(z));
            }
            y = self.two_yellow_layers[t].forward(Tensor::cat(vec![y, z], 1));
            y = self.up_green_layers[t].forward(y);
        }
        let levels = self.topology.levels();
        let first = self.two_yellow_layers[levels - 1].forward(input);
        let y = self.two_yellow_layers[levels].forward(Tensor::cat(vec![first, y], 1));
        heads::output(&self.heads, self.contrast.as_ref(), y, embed)
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict order (`pos_embed` included:
    /// frozen, but part of the state dict).
    pub fn biapy_state_dict_names(&self) -> NameList {
        let mut out = vec![
            ("cls_token".to_string(), self.cls_token.lazy_shape().to_vec(), self.cls_token.id),
            ("pos_embed".to_string(), self.pos_embed.lazy_shape().to_vec(), self.pos_embed.id),
        ];
        self.patch_embed.biapy_names("patch_embed.proj", &mut out);
        for (b, block) in self.blocks.iter().enumerate() {
            block.biapy_names(&format!("blocks.{b}"), &mut out);
        }
        self.bottleneck.biapy_names("bottleneck", &mut out);
        for (t, steps) in self.mid_blue_block.iter().enumerate() {
            for (s, step) in steps.iter().enumerate() {
                step.up.biapy_names(&format!("mid_blue_block.{t}.{}", 2 * s), &mut out);
                step.unit.biapy_names(&format!("mid_blue_block.{t}.{}", 2 * s + 1), &mut out);
            }
        }
        for (t, stack) in self.two_yellow_layers.iter().enumerate() {
            stack.biapy_names(&format!("two_yellow_layers.{t}"), &mut out);
        }
        for (t, conv) in self.up_green_layers.iter().enumerate() {
            conv.biapy_names(&format!("up_green_layers.{t}"), &mut out);
        }
        heads::biapy_names(&self.heads, self.contrast.as_ref(), &mut out);
        out
    }

    /// Parameters per block: the embedding (patch projection, cls token, positional
    /// embedding), each transformer block, the bottleneck, each decoder level deepest first
    /// (blue, yellow, green), the image branch with the last yellow layers, the head.
    pub fn block_params(&self) -> Vec<usize> {
        let mut counts = vec![
            n_trainable_params(&self.patch_embed)
                + self.cls_token.lazy_shape().iter().product::<usize>()
                + self.pos_embed.lazy_shape().iter().product::<usize>(),
        ];
        counts.extend(self.blocks.iter().map(n_trainable_params));
        counts.push(n_trainable_params(&self.bottleneck));
        let levels = self.topology.levels();
        for t in 0..levels - 1 {
            counts.push(
                n_trainable_params(&self.mid_blue_block[t])
                    + n_trainable_params(&self.two_yellow_layers[t])
                    + n_trainable_params(&self.up_green_layers[t]),
            );
        }
        counts.push(
            n_trainable_params(&self.two_yellow_layers[levels - 1])
                + n_trainable_params(&self.two_yellow_layers[levels]),
        );
        counts.push(heads::n_params(&self.heads, self.contrast.as_ref()));
        counts
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, TensorData};

    use super::*;
    use crate::model::testutil::spec;

    #[test]
    fn parameter_counts_per_part_are_biapys() {
        // Spec §6, 2D template.
        let net = Unetr::new(&spec("MODEL: {ARCHITECTURE: unetr}"), &Device::flex());
        assert_eq!(net.pos_embed.lazy_shape().to_vec(), [1, 257, 768]);
        assert_eq!(n_trainable_params(&net.patch_embed), 197_376);
        assert!(net.blocks.iter().all(|b| n_trainable_params(b) == 7_087_872));
        assert_eq!(n_trainable_params(&net.bottleneck), 393_216);
        let blue: Vec<usize> = net.mid_blue_block.iter().map(n_trainable_params).collect();
        assert_eq!(blue, [541_056, 287_104, 134_432]);
        let yellow: Vec<usize> = net.two_yellow_layers.iter().map(n_trainable_params).collect();
        assert_eq!(yellow, [443_136, 110_976, 27_840, 2_544, 7_008]);
        let green: Vec<usize> = net.up_green_layers.iter().map(n_trainable_params).collect();
        assert_eq!(green, [32_768, 8_192, 2_048]);
        assert_eq!(net.block_params().iter().sum::<usize>(), 87_440_321);
    }

    /// One head, one token pair: attention weights from the formula.
    #[test]
    fn attention_is_the_scaled_dot_product_softmax() {
        let device = Device::flex();
        let yaml = "DATA: {PATCH_SIZE: [16, 16, 1]}\nMODEL: {ARCHITECTURE: unetr, VIT_TOKEN_SIZE: 2, VIT_EMBED_DIM: 4, \
                    VIT_NUM_HEADS: 2, VIT_NUM_LAYERS: 1, FEATURE_MAPS: [4, 8, 16], DROPOUT_VALUES: [0.0]}";
        let block = VitBlock::new(&spec(yaml).vit.expect("unetr"), &device);
        let (n, e, h) = (3usize, 4usize, 2usize);
        let x: Vec<f32> = (0..n * e).map(|i| ((i * 7) % 5) as f32 * 0.3 - 0.5).collect();
        let xt = Tensor::<3>::from_data(TensorData::new(x.clone(), [1, n, e]), &device);
        let ours = block.attention(xt.clone()).into_data().try_to_vec::<f32>().unwrap();
        let qkv = block.qkv.forward(xt).into_data().try_to_vec::<f32>().unwrap();
        let d = e / h;
        let mut heads_out = vec![0.0f64; n * e];
        for head in 0..h {
            let at = |token: usize, which: usize, i: usize| qkv[token * 3 * e + which * e + head * d + i] as f64;
            for qi in 0..n {
                let scores: Vec<f64> = (0..n)
                    .map(|ki| (0..d).map(|i| at(qi, 0, i) * at(ki, 1, i)).sum::<f64>() / (d as f64).sqrt())
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                for i in 0..d {
                    heads_out[qi * e + head * d + i] = (0..n).map(|ki| weights[ki] / total * at(ki, 2, i)).sum();
                }
            }
        }
        let heads_t = Tensor::<3>::from_data(
            TensorData::new(heads_out.iter().map(|&v| v as f32).collect::<Vec<_>>(), [1, n, e]),
            &device,
        );
        let want = block.proj.forward(heads_t).into_data().try_to_vec::<f32>().unwrap();
        for (a, b) in ours.iter().zip(&want) {
            assert!((a - b).abs() < 1e-5, "{ours:?} vs {want:?}");
        }
    }

    #[test]
    fn the_vit_rules_are_checked_by_key() {
        let err = |extra: &str| {
            let yaml = format!("TRAIN: {{ENABLE: True}}\nMODEL: {{ARCHITECTURE: unetr, {extra}}}");
            let config = crate::config::load_str(&yaml, &[]).expect("config").config;
            crate::model::ModelSpec::from_config(&config).expect_err("refused").to_string()
        };
        assert!(err("VIT_TOKEN_SIZE: 12").starts_with("`MODEL.VIT_TOKEN_SIZE`"));
        assert!(err("VIT_NUM_HEADS: 5").starts_with("`MODEL.VIT_EMBED_DIM`"));
        assert!(err("UNETR_VIT_HIDD_MULT: 5").starts_with("`MODEL.UNETR_VIT_HIDD_MULT`"));
        assert!(err("UNETR_VIT_MODEL: vit_huge_patch14").contains("power of two"));
        assert!(err("UNETR_VIT_MODEL: sam3_vit").contains("not built by segsweep"));
        let patch = |p: &str| {
            let yaml = format!("TRAIN: {{ENABLE: True}}\nDATA: {{PATCH_SIZE: {p}}}\nMODEL: {{ARCHITECTURE: unetr}}");
            let config = crate::config::load_str(&yaml, &[]).expect("BiaPy's check passes").config;
            crate::model::ModelSpec::from_config(&config).err().map(|e| e.to_string())
        };
        assert!(patch("[256, 128, 1]").is_some_and(|e| e.starts_with("`DATA.PATCH_SIZE`")));
        assert!(patch("[128, 128, 1]").is_none());
    }

    #[test]
    fn tiny_nets_keep_the_size_in_2d_and_3d_and_train_all_but_the_frozen_embedding() {
        use burn::optim::GradientsParams;
        let device = Device::flex().autodiff();
        let yaml = "DATA: {PATCH_SIZE: [16, 16, 1]}\nMODEL: {ARCHITECTURE: unetr, VIT_TOKEN_SIZE: 8, VIT_EMBED_DIM: 8, \
                    VIT_NUM_HEADS: 2, VIT_NUM_LAYERS: 3, UNETR_VIT_NUM_FILTERS: 4, FEATURE_MAPS: [4, 8, 16]}";
        let spec2 = spec(yaml);
        assert_eq!(spec2.vit.as_ref().unwrap().skip_blocks(), [1, 2]);
        let net = Unetr::new(&spec2, &device);
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Normal(0.0, 1.0), &device);
        let y = net.forward(x);
        assert_eq!(y.dims(), [2, 1, 16, 16]);
        let grads = GradientsParams::from_grads((y.clone() * y).mean().backward(), &net);
        assert_eq!(grads.len(), net.biapy_state_dict_names().len() - 1, "all but pos_embed");
        let yaml3 = "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [8, 8, 8, 1]}\nMODEL: {ARCHITECTURE: unetr, VIT_TOKEN_SIZE: 4, \
                     VIT_EMBED_DIM: 8, VIT_NUM_HEADS: 2, VIT_NUM_LAYERS: 2, UNETR_VIT_NUM_FILTERS: 2, \
                     FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1]}";
        let net = Unetr::new(&spec(yaml3), &Device::flex());
        let x = Tensor::<5>::random([1, 1, 8, 8, 8], Distribution::Normal(0.0, 1.0), &Device::flex());
        assert_eq!(net.forward(x).dims(), [1, 1, 8, 8, 8]);
        assert!(net.geometry.check(&[1, 1, 16, 16, 16]).is_err(), "only the patch size");
    }
}
