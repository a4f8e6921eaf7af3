//! The encoder–bottleneck–decoder–head skeleton every U-shaped network here shares (the U-Net
//! family and the residual U-Net): the data flow of `forward` with its skip connections, the
//! BiaPy state-dict name list and the per-block parameter counts, written once over two small
//! traits. The networks own their blocks; this file owns only the order they are visited in.

use burn::module::Module;
use burn::tensor::Tensor;

use super::blocks::ConvBlock;
use super::heads::{self, ContrastHeads};
use super::layers::{ConvNd, NameList, max_pool, n_trainable_params};

/// An encoder level or bottleneck: `[batch, c_in, (z,) y, x]` → `[batch, c_out, (z,) y, x]`.
pub trait LevelBlock: Module {
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D>;
    fn biapy_names(&self, prefix: &str, out: &mut NameList);
}

/// A decoder step: up-samples `x` and joins the encoder's `skip` of the same level.
pub trait DecoderBlock: Module {
    fn forward<const D: usize>(&self, x: Tensor<D>, skip: Tensor<D>) -> Tensor<D>;
    fn biapy_names(&self, prefix: &str, out: &mut NameList);
}

/// Borrowed view of a U-shaped network's blocks.
pub struct Skeleton<'a, E: LevelBlock, U: DecoderBlock> {
    pub down_path: &'a [E],
    pub bottleneck: &'a E,
    /// Deepest first.
    pub up_paths: &'a [U],
    pub heads: &'a [ConvNd],
    /// `LOSS.CONTRAST`'s heads, in place of `heads`.
    pub contrast: Option<&'a ContrastHeads>,
    /// `(z, y, x)` pool factors per encoder level.
    pub pools: &'a [[usize; 3]],
    /// `MODEL.LARGER_IO`'s units before the encoder and after the decoder.
    pub conv_in: Option<&'a ConvBlock>,
    pub conv_out: Option<&'a ConvBlock>,
}

impl<E: LevelBlock, U: DecoderBlock> Skeleton<'_, E, U> {
    /// Logits: `[batch, in_channels, (z,) y, x]` → `[batch, out_channels, (z,) y, x]`, and with
    /// `embed` the contrastive embedding `[batch, proj_dim, (z,) y, x]` (when the network has
    /// the heads).
    pub fn forward<const D: usize>(&self, x: Tensor<D>, embed: bool) -> (Tensor<D>, Option<Tensor<D>>) {
        let mut skips = Vec::with_capacity(self.down_path.len());
        let mut x = match self.conv_in {
            Some(unit) => unit.forward(x),
            None => x,
        };
        for (level, block) in self.down_path.iter().enumerate() {
            let features = block.forward(x);
            x = max_pool(features.clone(), self.pools[level]);
            skips.push(features);
        }
        x = self.bottleneck.forward(x);
        for up in self.up_paths {
            let skip = skips.pop().expect("one skip connection per decoder step");
            x = up.forward(x, skip);
        }
        if let Some(unit) = self.conv_out {
            x = unit.forward(x);
        }
        heads::output(self.heads, self.contrast, x, embed)
    }

    /// Parameter names and PyTorch shapes in BiaPy's state-dict layout, in module order
    /// (`down_path.{i}.…`, `conv_in.…`, `bottleneck.…`, `up_paths.0.{d}.…`, `conv_out.0.…`,
    /// `heads.{h}.…`: BiaPy registers `down_path` before `conv_in`). Trainable parameters only:
    /// batch-norm buffers are not listed.
    pub fn biapy_state_dict_names(&self) -> NameList {
        let mut out = Vec::new();
        for (i, block) in self.down_path.iter().enumerate() {
            block.biapy_names(&format!("down_path.{i}"), &mut out);
        }
        if let Some(unit) = self.conv_in {
            unit.biapy_names("conv_in", &mut out);
        }
        self.bottleneck.biapy_names("bottleneck", &mut out);
        for (d, up) in self.up_paths.iter().enumerate() {
            up.biapy_names(&format!("up_paths.0.{d}"), &mut out);
        }
        if let Some(unit) = self.conv_out {
            unit.biapy_names("conv_out.0", &mut out);
        }
        heads::biapy_names(self.heads, self.contrast, &mut out);
        out
    }

    /// Trainable parameters per block, in data-flow order: encoder levels, bottleneck, decoder
    /// steps (deepest first), head. `MODEL.LARGER_IO`'s units count with the first encoder level
    /// and with the head.
    pub fn block_params(&self) -> Vec<usize> {
        let io = |unit: Option<&ConvBlock>| unit.map_or(0, n_trainable_params);
        let mut counts: Vec<usize> = self.down_path.iter().map(n_trainable_params).collect();
        counts[0] += io(self.conv_in);
        counts.push(n_trainable_params(self.bottleneck));
        counts.extend(self.up_paths.iter().map(n_trainable_params));
        counts.push(heads::n_params(self.heads, self.contrast) + io(self.conv_out));
        counts
    }
}

use super::blocks::{ConvStack, UpBlock};
use super::resunet::{ResConvBlock, ResUpBlock};

/// The blocks' own methods, seen through the skeleton's traits.
macro_rules! level_block {
    ($($block:ty),*) => {$(
        impl LevelBlock for $block {
            fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
                <$block>::forward(self, x)
            }
            fn biapy_names(&self, prefix: &str, out: &mut NameList) {
                <$block>::biapy_names(self, prefix, out)
            }
        }
    )*};
}

macro_rules! decoder_block {
    ($($block:ty),*) => {$(
        impl DecoderBlock for $block {
            fn forward<const D: usize>(&self, x: Tensor<D>, skip: Tensor<D>) -> Tensor<D> {
                <$block>::forward(self, x, skip)
            }
            fn biapy_names(&self, prefix: &str, out: &mut NameList) {
                <$block>::biapy_names(self, prefix, out)
            }
        }
    )*};
}

level_block!(ConvStack, ResConvBlock);
decoder_block!(UpBlock, ResUpBlock);
