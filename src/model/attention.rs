//! The attention gate of BiaPy's `attention_unet` ([`AttentionBlock`], after Oktay et al. 2018,
//! "Attention U-Net"), which weights a skip connection by a map computed from it and the
//! up-sampled decoder features before they are concatenated.
//!
//! It reproduces BiaPy 3.7.1's `AttentionBlock` exactly, including a quirk: BiaPy builds
//! `W_g = Sequential(conv, norm)` before it appends the norm meant for `W_x` to the same list, so
//! that norm is dropped: `W_g` is `conv → norm` and `W_x` a bare 1×1 conv. Parameter counts and
//! state-dict names (`w_g.0`, `w_g.1`, `w_x.0`, `psi.0`, `psi.1`) are BiaPy's, measured from it.
//! This file must not know about levels or the decoder.

use burn::module::Module;
use burn::tensor::{Device, Tensor, activation};

use super::layers::{ConvNd, NameList, Norm};
use crate::config::{Ndim, NormLayer};

/// `att = x · σ(norm(psi(relu(W_g(g) + W_x(x)))))`, with 1×1 convolutions.
#[derive(Module, Debug)]
pub struct AttentionBlock {
    /// `W_g`: 1×1 conv `C → C/2` on the gating signal.
    pub w_g: ConvNd,
    /// The norm after `W_g` (`W_x` has none: see the module docs).
    pub w_g_norm: Norm,
    /// `W_x`: 1×1 conv `C → C/2` on the skip connection.
    pub w_x: ConvNd,
    /// `psi`: 1×1 conv `C/2 → 1`.
    pub psi: ConvNd,
    /// Norm over the single attention channel (before the sigmoid).
    pub psi_norm: Norm,
}

impl AttentionBlock {
    /// A gate for `channels`-channel features (BiaPy: `in_size = F[i]`, `out_size = F[i] // 2`,
    /// here at least 1).
    pub fn new(ndim: Ndim, channels: usize, norm: NormLayer, device: &Device) -> Self {
        let inter = (channels / 2).max(1);
        let one = [1, 1, 1];
        Self {
            w_g: ConvNd::new(ndim, [channels, inter], one, device),
            w_g_norm: Norm::new(norm, ndim, inter, device),
            w_x: ConvNd::new(ndim, [channels, inter], one, device),
            psi: ConvNd::new(ndim, [inter, 1], one, device),
            psi_norm: Norm::new(norm, ndim, 1, device),
        }
    }

    /// `g` (gating signal, the up-sampled decoder features) and `x` (skip connection), both
    /// `[batch, channels, (z,) y, x]`; returns `x` weighted by the attention map
    /// `[batch, 1, (z,) y, x]`, shape of `x`.
    pub fn forward<const D: usize>(&self, g: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
        let g1 = self.w_g_norm.forward(self.w_g.forward(g));
        let x1 = self.w_x.forward(x.clone());
        let psi = activation::relu(g1 + x1);
        let psi = activation::sigmoid(self.psi_norm.forward(self.psi.forward(psi)));
        x * psi
    }

    /// Appends `{prefix}.w_g.*`, `{prefix}.w_x.0.*` and `{prefix}.psi.*`.
    pub fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        self.w_g.biapy_names(&format!("{prefix}.w_g.0"), out);
        self.w_g_norm.biapy_names(&format!("{prefix}.w_g.1"), out);
        self.w_x.biapy_names(&format!("{prefix}.w_x.0"), out);
        self.psi.biapy_names(&format!("{prefix}.psi.0"), out);
        self.psi_norm.biapy_names(&format!("{prefix}.psi.1"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::layers::n_trainable_params;
    use burn::tensor::Distribution;

    #[test]
    fn gates_the_skip_connection_without_changing_its_shape() {
        let device = Device::flex();
        let gate = AttentionBlock::new(Ndim::D2, 8, NormLayer::In, &device);
        let g = Tensor::<4>::random([2, 8, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        let x = Tensor::<4>::random([2, 8, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        let out = gate.forward(g, x.clone());
        assert_eq!(out.dims(), [2, 8, 6, 6]);
        // A sigmoid weight in (0, 1) never flips a sign and never grows a value.
        let (out, x): (Vec<f32>, Vec<f32>) =
            (out.into_data().try_into_vec().expect("f32"), x.into_data().try_into_vec().expect("f32"));
        assert!(out.iter().zip(&x).all(|(o, v)| o * v >= 0.0 && o.abs() <= v.abs()));
    }

    #[test]
    fn counts_biapy_parameters() {
        let device = Device::flex();
        let gate = AttentionBlock::new(Ndim::D3, 16, NormLayer::In, &device);
        // W_g 16·8+8, its norm 2·8, W_x 16·8+8, psi 8+1, psi norm 2.
        assert_eq!(n_trainable_params(&gate), 136 + 16 + 136 + 9 + 2);
        let mut names = Vec::new();
        gate.biapy_names("g", &mut names);
        let total: usize = names.iter().map(|(_, s, _)| s.iter().product::<usize>()).sum();
        assert_eq!(total, n_trainable_params(&gate));
        assert_eq!((names[0].0.clone(), names[0].1.clone()), ("g.w_g.0.weight".to_string(), vec![8, 16, 1, 1, 1]));
    }
}
