//! The squeeze-and-excitation block of BiaPy's `seunet` ([`SqExBlock`], after Hu et al. 2018,
//! via BiaPy's `SqExBlock`): global average pool → FC `C → C/16` → ReLU → FC `C/16 → C` →
//! sigmoid → per-channel scale. Both FCs have no bias and Xavier-uniform weights.
//!
//! In the SE-U-Net every conv unit of the encoder levels, the bottleneck and the decoder steps
//! ends with one (not the up-sampling layers), as in BiaPy 3.7.1's state dict; `unet.rs` wires
//! that. This file must not
//! know about levels. One deviation: BiaPy's hidden width `C // 16` is 0 below 16 channels;
//! here it is at least 1.

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation};

use super::layers::NameList;

/// BiaPy's reduction ratio.
pub const SE_RATIO: usize = 16;

/// Channel recalibration: `x · σ(W₂ relu(W₁ mean(x)))`.
#[derive(Module, Debug)]
pub struct SqExBlock {
    /// `C → C/16`, no bias (BiaPy's `excitation.0`).
    pub fc1: Linear,
    /// `C/16 → C`, no bias (BiaPy's `excitation.2`).
    pub fc2: Linear,
}

impl SqExBlock {
    /// A block for `channels` channels.
    pub fn new(channels: usize, device: &Device) -> Self {
        let hidden = (channels / SE_RATIO).max(1);
        let linear = |d_in, d_out| {
            LinearConfig::new(d_in, d_out)
                .with_bias(false)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device)
        };
        Self { fc1: linear(channels, hidden), fc2: linear(hidden, channels) }
    }

    /// `[batch, channel, (z,) y, x]` → same shape, each channel scaled by a weight in (0, 1).
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let dims = x.dims();
        let (batch, channels) = (dims[0], dims[1]);
        let n_voxels: usize = dims[2..].iter().product();
        let squeezed = x.clone().reshape([batch, channels, n_voxels]).mean_dim(2).reshape([batch, channels]);
        let weights = activation::sigmoid(self.fc2.forward(activation::relu(self.fc1.forward(squeezed))));
        let mut shape = [1usize; D];
        shape[0] = batch;
        shape[1] = channels;
        x * weights.reshape(shape)
    }

    /// Appends `{prefix}.excitation.0.weight` and `{prefix}.excitation.2.weight` with PyTorch's
    /// `[out, in]` shapes (burn stores `[in, out]`).
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        for (idx, fc) in [(0, &self.fc1), (2, &self.fc2)] {
            let mut shape = fc.weight.lazy_shape().to_vec();
            shape.reverse();
            out.push((format!("{prefix}.excitation.{idx}.weight"), shape, fc.weight.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::layers::n_trainable_params;
    use burn::tensor::{Distribution, TensorData, Tolerance};

    #[test]
    fn scales_whole_channels() {
        let device = Device::flex();
        let se = SqExBlock::new(32, &device);
        assert_eq!(n_trainable_params(&se), 2 * 32 * 2);
        let x = Tensor::<5>::random([1, 32, 2, 3, 3], Distribution::Uniform(0.5, 1.0), &device);
        let out = se.forward(x.clone());
        assert_eq!(out.dims(), [1, 32, 2, 3, 3]);
        // out / x is one constant per channel.
        let ratio = out / x;
        let spread = ratio.clone().max_dim(2).max_dim(3).max_dim(4) - ratio.min_dim(2).min_dim(3).min_dim(4);
        spread
            .into_data()
            .assert_approx_eq::<f32>(&TensorData::new(vec![0.0f32; 32], [1, 32, 1, 1, 1]), Tolerance::absolute(1e-5));
    }

    #[test]
    fn names_use_pytorch_shapes() {
        let se = SqExBlock::new(64, &Device::flex());
        let mut names = Vec::new();
        se.biapy_names("b", &mut names);
        let shown: Vec<(String, Vec<usize>)> = names.into_iter().map(|(n, s, _)| (n, s)).collect();
        assert_eq!(
            shown,
            vec![
                ("b.excitation.0.weight".to_string(), vec![4, 64]),
                ("b.excitation.2.weight".to_string(), vec![64, 4]),
            ]
        );
    }
}
