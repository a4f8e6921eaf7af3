//! The optimisers used with the one-cycle schedule, whose momentum moves every step as PyTorch's
//! `OneCycleLR` moves it (`cycle_momentum=True`: SGD's `momentum`, Adam's β₁). burn's optimisers
//! fix their momentum when built, so these two read it from a [`MomentumDial`] that the epoch
//! loop turns before each step. The arithmetic is PyTorch's `SGD` (Nesterov, no dampening) and
//! `Adam`/`AdamW` (bias correction with the current β₁, as PyTorch computes it).
//!
//! Owns the update rules only: the schedule's values come from [`super::schedule`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// The momentum (SGD) or β₁ (Adam) the next step uses; clones share one value.
#[derive(Clone, Debug)]
pub struct MomentumDial(Arc<AtomicU64>);

impl MomentumDial {
    pub fn new(value: f64) -> Self {
        MomentumDial(Arc::new(AtomicU64::new(value.to_bits())))
    }

    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }

    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// PyTorch's Nesterov SGD with dampening 0 and L2 weight decay, momentum from the dial.
#[derive(Clone, Debug)]
pub struct CycledSgd {
    pub dial: MomentumDial,
    pub weight_decay: f64,
}

/// The momentum buffer of one parameter.
#[derive(Clone)]
pub struct CycledSgdState<const D: usize> {
    pub velocity: Tensor<D>,
}

impl<const D: usize> RecordState for CycledSgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "velocity", self.velocity.to_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let data = src.take_tensor(prefix, "velocity")?;
        Some(CycledSgdState { velocity: Tensor::from_data(data, device) })
    }
}

impl Optimizer for CycledSgd {
    type State<const D: usize> = CycledSgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let momentum = self.dial.get();
        let grad = if self.weight_decay > 0.0 { grad + tensor.clone().mul_scalar(self.weight_decay) } else { grad };
        let velocity = match state {
            Some(state) => state.velocity.mul_scalar(momentum) + grad.clone(),
            None => grad.clone(),
        };
        let update = grad + velocity.clone().mul_scalar(momentum);
        (tensor - update.mul_scalar(lr), Some(CycledSgdState { velocity }))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        CycledSgdState { velocity: state.velocity.to_device(device) }
    }
}

/// PyTorch's `Adam` (`decoupled: false`, L2 decay added to the gradient) or `AdamW` (decoupled
/// decay), β₁ from the dial.
#[derive(Clone, Debug)]
pub struct CycledAdam {
    pub dial: MomentumDial,
    pub beta_2: f64,
    pub epsilon: f64,
    pub weight_decay: f64,
    pub decoupled: bool,
}

impl Optimizer for CycledAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (beta_1, beta_2) = (self.dial.get(), self.beta_2);
        let (tensor, grad) = match (self.weight_decay > 0.0, self.decoupled) {
            (false, _) => (tensor, grad),
            (true, true) => (tensor.mul_scalar(1.0 - lr * self.weight_decay), grad),
            (true, false) => {
                let grad = grad + tensor.clone().mul_scalar(self.weight_decay);
                (tensor, grad)
            }
        };
        let momentum = match state {
            Some(AdamState { momentum: mut m }) => {
                m.moment_1 = m.moment_1.mul_scalar(beta_1) + grad.clone().mul_scalar(1.0 - beta_1);
                m.moment_2 = m.moment_2.mul_scalar(beta_2) + grad.square().mul_scalar(1.0 - beta_2);
                m.time += 1;
                m
            }
            None => AdaptiveMomentumState::new(
                1,
                grad.clone().mul_scalar(1.0 - beta_1),
                grad.square().mul_scalar(1.0 - beta_2),
            ),
        };
        let t = momentum.time as i32;
        let correction_1 = 1.0 - beta_1.powi(t);
        let correction_2_sqrt = (1.0 - beta_2.powi(t)).sqrt();
        let denominator = momentum.moment_2.clone().sqrt().div_scalar(correction_2_sqrt).add_scalar(self.epsilon);
        let update = momentum.moment_1.clone().div(denominator).mul_scalar(lr / correction_1);
        (tensor - update, Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamState::new(state.momentum.to_device(device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn tensor(values: &[f32], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
    }

    fn values(t: &Tensor<1>) -> Vec<f64> {
        t.to_data().try_to_vec::<f32>().unwrap().into_iter().map(f64::from).collect()
    }

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-5 * y.abs().max(1.0), "{a:?} vs {b:?}");
        }
    }

    /// Two steps with the momentum changed between them, against PyTorch's update written out
    /// by hand for one scalar parameter p = 1 with gradients 0.5 then −0.25.
    #[test]
    fn sgd_follows_pytorch_nesterov_with_a_moving_momentum() {
        let device = Device::flex();
        let dial = MomentumDial::new(0.95);
        let sgd = CycledSgd { dial: dial.clone(), weight_decay: 0.1 };
        let (p, state) = sgd.step(0.1, tensor(&[1.0], &device), tensor(&[0.5], &device), None);
        // g = 0.5 + 0.1·1 = 0.6; buf = 0.6; update = 0.6 + 0.95·0.6 = 1.17; p = 1 − 0.117.
        close(&values(&p), &[0.883]);
        dial.set(0.85);
        let (p, _) = sgd.step(0.1, p, tensor(&[-0.25], &device), state);
        // g = −0.25 + 0.0883 = −0.1617; buf = 0.85·0.6 − 0.1617 = 0.3483;
        // update = −0.1617 + 0.85·0.3483 = 0.134355; p = 0.883 − 0.0134355.
        close(&values(&p), &[0.8695645]);
    }

    #[test]
    fn adam_and_adamw_follow_pytorch_with_a_moving_beta_1() {
        let device = Device::flex();
        for decoupled in [false, true] {
            let dial = MomentumDial::new(0.95);
            let adam = CycledAdam { dial: dial.clone(), beta_2: 0.999, epsilon: 1e-8, weight_decay: 0.01, decoupled };
            let mut p = 1.0f64;
            let (mut m, mut v) = (0.0f64, 0.0f64);
            let mut param = tensor(&[1.0], &device);
            let mut state = None;
            for (t, (g, beta_1)) in [(0.5f64, 0.95f64), (-0.25, 0.9), (0.125, 0.85)].into_iter().enumerate() {
                dial.set(beta_1);
                let lr = 0.01;
                // PyTorch's torch.optim.Adam / AdamW (single-tensor path), written out.
                let mut grad = g;
                if decoupled {
                    p *= 1.0 - lr * 0.01;
                } else {
                    grad += 0.01 * p;
                }
                m = beta_1 * m + (1.0 - beta_1) * grad;
                v = 0.999 * v + (1.0 - 0.999) * grad * grad;
                let step = (t + 1) as i32;
                let bias_1 = 1.0 - beta_1.powi(step);
                let bias_2 = 1.0 - 0.999f64.powi(step);
                p -= lr / bias_1 * m / (v.sqrt() / bias_2.sqrt() + 1e-8);
                let (next, next_state) = adam.step(lr, param, tensor(&[g as f32], &device), state);
                (param, state) = (next, next_state);
                close(&values(&param), &[p]);
            }
        }
    }
}
