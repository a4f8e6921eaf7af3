//! The optimiser of `TRAIN.OPTIMIZER` (spec §8.2): `SGD` (Nesterov, momentum 0.9, no
//! dampening), `ADAM` (coupled L2 weight decay) or `ADAMW` (decoupled), with `TRAIN.W_DECAY` on
//! every parameter, `TRAIN.OPT_BETAS`, eps 1e-8 (PyTorch's), and global-norm gradient clipping
//! when `TRAIN.GRADIENT_CLIP_NORM` > 0. With a [`MomentumDial`] (the one-cycle schedule) the
//! same update rules come from [`super::cycled`], whose momentum / β₁ the dial sets.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};

use super::cycled::{CycledAdam, CycledSgd, MomentumDial};
use crate::config::{Optimizer, Train};

/// The optimiser a resolved config asks for; with `dial`, one whose momentum / β₁ it sets.
pub fn optimizer(train: &Train, dial: Option<&MomentumDial>) -> ModuleOptimizer {
    let [beta_1, beta_2] = match train.opt_betas.first().map(Vec::as_slice) {
        Some(&[b1, b2]) => [b1 as f32, b2 as f32],
        _ => [0.9, 0.999],
    };
    let decay = train.w_decay as f32;
    let clip =
        (train.gradient_clip_norm > 0.0).then_some(GradientClippingConfig::Norm(train.gradient_clip_norm as f32));
    let kind = train.optimizer.first().copied().unwrap_or(Optimizer::Sgd);
    if let Some(dial) = dial {
        let (dial, weight_decay) = (dial.clone(), f64::from(decay));
        let optim: ModuleOptimizer = match kind {
            Optimizer::Sgd => CycledSgd { dial, weight_decay }.into(),
            Optimizer::Adam | Optimizer::AdamW => {
                let decoupled = kind == Optimizer::AdamW;
                CycledAdam { dial, beta_2: f64::from(beta_2), epsilon: 1e-8, weight_decay, decoupled }.into()
            }
        };
        return match clip {
            Some(clip) => optim.with_grad_clipping(clip.init()),
            None => optim,
        };
    }
    match kind {
        Optimizer::Sgd => SgdConfig::new()
            .with_momentum(Some(MomentumConfig::new().with_momentum(0.9).with_dampening(0.0).with_nesterov(true)))
            .with_weight_decay((decay > 0.0).then(|| WeightDecayConfig::new(decay)))
            .with_gradient_clipping(clip)
            .init(),
        Optimizer::Adam => AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(1e-8)
            .with_weight_decay((decay > 0.0).then(|| WeightDecayConfig::new(decay)))
            .with_grad_clipping(clip)
            .init(),
        Optimizer::AdamW => AdamWConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(1e-8)
            .with_weight_decay(decay)
            .with_grad_clipping(clip)
            .init(),
    }
}
