//! A block-level summary of a network ([`summary`]): one [`LayerRow`] per encoder level,
//! bottleneck, decoder step and head, with the output shape for one input of a given spatial
//! size and the block's trainable parameters. `segsweep model` prints it; a network diagram
//! can be drawn from it.
//!
//! Shapes are computed from the spec, not by running the network; parameters are counted on a
//! network built with lazily initialised weights (no weight tensor is materialised). This file
//! must not print or format.

use burn::tensor::Device;

use super::{Arch, ModelError, ModelSpec, SegModel};

/// One block of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRow {
    /// `encoder {i}`, `bottleneck`, `decoder {i}` (the level it returns to) or `head`.
    pub name: String,
    /// `[1, channels, (z,) y, x]` after the block (encoder rows: before pooling, except
    /// `resunet++`'s, which pool before their skip).
    pub output_shape: Vec<usize>,
    /// Trainable parameters of the block.
    pub n_params: usize,
}

/// The blocks of `spec`'s network in data-flow order, for a batch of 1 with spatial size
/// `input_spatial` (`[y, x]` or `[z, y, x]`). The `n_params` add up to the model's total.
///
/// Errors if the spec is invalid or the size does not fit the network (rank, or a size that
/// is not a multiple of the total pooling on its axis).
pub fn summary(spec: &ModelSpec, input_spatial: &[usize]) -> Result<Vec<LayerRow>, ModelError> {
    spec.validate()?;
    let geometry = spec.geometry();
    let mut dims = vec![1, spec.in_channels];
    dims.extend_from_slice(input_spatial);
    geometry.check(&dims)?;
    // Parameters are lazy: building on the CPU device allocates only batch-norm buffers.
    let model = SegModel::try_new(spec, &Device::flex())?;
    let params = model.block_params();
    let n_axes = spec.ndim.n_axes();
    let shape_at = |scale: usize, channels: usize| -> Vec<usize> {
        let mut spatial = input_spatial.to_vec();
        for factors in &geometry.pools[..scale] {
            for (size, f) in spatial.iter_mut().zip(&factors[3 - n_axes..]) {
                *size /= f;
            }
        }
        let mut shape = vec![1, channels];
        shape.extend(spatial);
        shape
    };
    let blocks = block_layout(spec);
    debug_assert_eq!(blocks.len(), params.len(), "one parameter count per block");
    Ok(blocks
        .into_iter()
        .zip(params)
        .map(|((name, channels, scale), n_params)| LayerRow { name, output_shape: shape_at(scale, channels), n_params })
        .collect())
}

/// `(name, output channels, pools applied)` of each block, in [`SegModel::block_params`]'s order.
fn block_layout(spec: &ModelSpec) -> Vec<(String, usize, usize)> {
    let fm = &spec.feature_maps;
    let depth = spec.depth();
    let mut blocks = Vec::with_capacity(2 * depth + 2);
    match spec.arch {
        // Levels 0…D (level j's output pooled j times), the ASPP bridge, D decoder steps that
        // return to level i with F[i+1] channels, and the ASPP output + head.
        Arch::ResunetPlusPlus => {
            let d = depth - 1;
            blocks.extend((0..=d).map(|j| (format!("encoder {j}"), fm[j], j)));
            blocks.push(("bottleneck".into(), fm[d + 1], d));
            blocks.extend((0..d).rev().map(|i| (format!("decoder {i}"), fm[i + 1], i)));
        }
        // Fixed widths: multires blocks of 32·2^level filters (the res path counts with its
        // encoder row, the transposed conv with its decoder row).
        Arch::Multiresunet => {
            use super::multiresunet::{BASE_FILTERS, multires_channels};
            let width = |level: usize| multires_channels(BASE_FILTERS << level);
            blocks.extend((0..depth).map(|level| (format!("encoder {level}"), width(level), level)));
            blocks.push(("bottleneck".into(), width(depth), depth));
            blocks.extend((0..depth).rev().map(|level| (format!("decoder {level}"), width(level), level)));
        }
        // Stages at their own resolution (stage d is strided d times), the bottleneck stage,
        // decoder steps back to stage s with its width, and the two 1×1 outputs.
        Arch::Stunet => {
            let t = spec.stunet.as_ref().expect("a validated stunet spec has a topology");
            let n = t.n_pools();
            blocks.extend((0..n).map(|d| (format!("encoder {d}"), t.dims[d], d)));
            blocks.push(("bottleneck".into(), t.dims[n], n));
            blocks.extend((0..n).rev().map(|s| (format!("decoder {s}"), t.dims[s], s)));
        }
        // The stem divides by its factors before level 0: level j's blocks run after j + 1
        // down-samplings, and the decoder's last row ends with the inverted stem at full size.
        Arch::UnextV1 | Arch::UnextV2 => {
            blocks.extend((0..depth).map(|level| (format!("encoder {level}"), fm[level], level + 1)));
            blocks.push(("bottleneck".into(), fm[depth], depth + 1));
            blocks.extend((0..depth).rev().map(|level| {
                let scale = if level == 0 { 0 } else { level + 1 };
                (format!("decoder {level}"), fm[level], scale)
            }));
        }
        // The token map at 1/P, each transformer block on it, then the decoder: the
        // bottleneck at 2/P, each level up to the next scale, the image branch and last
        // yellow layers at full size.
        Arch::Unetr => {
            let t = spec.vit.as_ref().expect("a validated unetr spec has a topology");
            let levels = t.levels();
            blocks.push(("embedding".into(), t.embed, levels));
            blocks.extend((0..t.depth).map(|b| (format!("block {b}"), t.embed, levels)));
            blocks.push(("bottleneck".into(), t.filters << (levels - 1), levels - 1));
            blocks.extend((1..levels).rev().map(|l| (format!("decoder {}", l - 1), t.filters << (l - 1), l - 1)));
            blocks.push(("image branch".into(), t.filters, 0));
        }
        // The stem and `layer1` at 1/4, each stage (shown by its full-resolution branch), and
        // the head after its ×4 up-sampling.
        Arch::Hrnet => {
            let w = spec.hrnet_width.expect("a validated hrnet spec has a width");
            blocks.push(("stem".into(), 64, 2));
            blocks.push(("layer1".into(), 256, 2));
            blocks.extend((0..super::hrnet::MODULES.len()).map(|k| (format!("stage {k}"), w, 2)));
        }
        // Encoder rows before their pooling.
        _ => {
            blocks.extend((0..depth).map(|level| (format!("encoder {level}"), fm[level], level)));
            blocks.push(("bottleneck".into(), fm[depth], depth));
            blocks.extend((0..depth).rev().map(|level| (format!("decoder {level}"), fm[level], level)));
        }
    }
    blocks.push(("head".into(), spec.out_channels, 0));
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testutil::spec;

    #[test]
    fn default_2d_rows_match_biapys_breakdown() {
        let rows = summary(&spec(""), &[256, 256]).expect("fits");
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "encoder 0",
                "encoder 1",
                "encoder 2",
                "encoder 3",
                "bottleneck",
                "decoder 3",
                "decoder 2",
                "decoder 1",
                "decoder 0",
                "head"
            ]
        );
        let params: Vec<usize> = rows.iter().map(|r| r.n_params).collect();
        assert_eq!(params, [2_544, 14_016, 55_680, 221_952, 886_272, 574_592, 143_936, 36_128, 9_104, 17]);
        assert_eq!(params.iter().sum::<usize>(), 1_944_241);
        assert_eq!(rows[0].output_shape, [1, 16, 256, 256]);
        assert_eq!(rows[4].output_shape, [1, 256, 16, 16]);
        assert_eq!(rows[5].output_shape, [1, 128, 32, 32]);
        assert_eq!(rows[9].output_shape, [1, 1, 256, 256]);
    }

    #[test]
    fn stunet_rows_follow_its_stages() {
        let rows = summary(&spec("MODEL: {ARCHITECTURE: stunet}"), &[256, 256]).expect("fits");
        let shapes: Vec<(&str, &[usize])> = rows.iter().map(|r| (r.name.as_str(), &r.output_shape[..])).collect();
        assert_eq!(shapes[0], ("encoder 0", &[1, 32, 256, 256][..]));
        assert_eq!(shapes[4], ("encoder 4", &[1, 512, 16, 16][..]));
        assert_eq!(shapes[5], ("bottleneck", &[1, 512, 16, 16][..]));
        assert_eq!(shapes[6], ("decoder 4", &[1, 512, 16, 16][..]));
        assert_eq!(shapes[10], ("decoder 0", &[1, 32, 256, 256][..]));
        assert_eq!(shapes[11], ("head", &[1, 1, 256, 256][..]));
        assert_eq!(rows.iter().map(|r| r.n_params).sum::<usize>(), 20_445_571);
    }

    #[test]
    fn unext_rows_start_after_the_stem() {
        let rows = summary(&spec("MODEL: {ARCHITECTURE: unext_v2}"), &[256, 256]).expect("fits");
        assert_eq!(rows[0].output_shape, [1, 16, 128, 128]);
        assert_eq!(rows[4].output_shape, [1, 256, 8, 8]);
        assert_eq!(rows[5].output_shape, [1, 128, 16, 16]);
        assert_eq!(rows[8].output_shape, [1, 16, 256, 256]);
        assert_eq!(rows.iter().map(|r| r.n_params).sum::<usize>(), 2_235_857);
    }

    #[test]
    fn anisotropic_3d_keeps_z_where_z_down_is_one() {
        let yaml = "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: [8, 64, 64, 1]}\nMODEL: {Z_DOWN: [1, 1, 2, 2]}";
        let spec = spec(yaml);
        let rows = summary(&spec, &[8, 64, 64]).expect("fits");
        assert_eq!(rows[2].output_shape, [1, 64, 8, 16, 16]);
        assert_eq!(rows[4].output_shape, [1, 256, 2, 4, 4]);
        let total: usize = rows.iter().map(|r| r.n_params).sum();
        assert_eq!(total, SegModel::new(&spec, &Device::flex()).n_params());
    }

    #[test]
    fn sizes_that_do_not_pool_evenly_are_an_error() {
        let err = summary(&spec(""), &[100, 256]).expect_err("100 is not a multiple of 16");
        assert!(matches!(err, ModelError::Input { .. }), "{err}");
        assert!(summary(&spec(""), &[64, 64, 64]).is_err());
    }
}
