//! A block-level summary of a network ([`summary`]): one [`LayerRow`] per encoder level,
//! bottleneck, decoder step and head, with the output shape for one input of a given spatial
//! size and the block's trainable parameters. `segsweep model` prints it; a network diagram
//! can be drawn from it.
//!
//! Shapes are computed from the spec, not by running the network; parameters are counted on a
//! network built with lazily initialised weights (no weight tensor is materialised). This file
//! must not print or format.

use burn::tensor::Device;

use super::{ModelError, ModelSpec, SegModel};

/// One block of the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRow {
    /// `encoder {i}`, `bottleneck`, `decoder {i}` (the level it returns to) or `head`.
    pub name: String,
    /// `[1, channels, (z,) y, x]` after the block (encoder rows: before pooling).
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
    let depth = spec.depth();
    let n_axes = spec.ndim.n_axes();
    let shape_at = |level: usize, channels: usize| -> Vec<usize> {
        let mut spatial = input_spatial.to_vec();
        for factors in &geometry.pools[..level] {
            for (size, f) in spatial.iter_mut().zip(&factors[3 - n_axes..]) {
                *size /= f;
            }
        }
        let mut shape = vec![1, channels];
        shape.extend(spatial);
        shape
    };
    let mut rows = Vec::with_capacity(2 * depth + 2);
    for (level, &n_params) in params[..depth].iter().enumerate() {
        rows.push(row(format!("encoder {level}"), shape_at(level, spec.feature_maps[level]), n_params));
    }
    rows.push(row("bottleneck".into(), shape_at(depth, spec.feature_maps[depth]), params[depth]));
    for (step, level) in (0..depth).rev().enumerate() {
        let shape = shape_at(level, spec.feature_maps[level]);
        rows.push(row(format!("decoder {level}"), shape, params[depth + 1 + step]));
    }
    rows.push(row("head".into(), shape_at(0, spec.out_channels), params[2 * depth + 1]));
    Ok(rows)
}

fn row(name: String, output_shape: Vec<usize>, n_params: usize) -> LayerRow {
    LayerRow { name, output_shape, n_params }
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
