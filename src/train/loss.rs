//! Losses of `LOSS.*` (spec §8.1; D10), on logits: `CE` (binary: BCE with logits; multi-class:
//! softmax cross-entropy with class weights and an ignore index), `DICE` (soft batch Dice on
//! sigmoid/softmax probabilities, smooth 1e-5) and `DICE+CE` weighted by `LOSS.WEIGHTS`.
//!
//! Shapes: logits `[batch, channel, (z,) y, x]` (1 channel when binary, `N_CLASSES` otherwise),
//! targets `[batch, 1, (z,) y, x]` integer labels. Pixels whose label is `LOSS.IGNORE_INDEX` count
//! in no loss (BiaPy ignores it for BCE; segsweep applies it to every loss, so a user's ignore
//! label is never trained as a class). Class weights apply to the CE term when
//! `LOSS.CLASS_REBALANCE` is `manual`, in the binary case too (D10); the weighted mean divides by
//! the sum of the weights, as PyTorch's `CrossEntropyLoss` does.

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax, sigmoid, softmax};

use crate::config::{ClassRebalance, Config};

const SMOOTH: f32 = 1e-5;

/// One term of the loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossTerm {
    CrossEntropy,
    Dice,
}

/// The configured loss.
#[derive(Clone, Debug, PartialEq)]
pub struct LossFn {
    pub terms: Vec<(LossTerm, f32)>,
    pub n_classes: usize,
    pub class_weights: Option<Vec<f32>>,
    pub ignore_index: Option<i64>,
}

impl LossFn {
    /// The loss a resolved config asks for (its names were checked: `CE` and/or `DICE`).
    pub fn from_config(config: &Config) -> Self {
        let loss = &config.loss;
        let terms = loss
            .r#type
            .iter()
            .zip(&loss.weights)
            .map(|(name, &w)| (if name == "DICE" { LossTerm::Dice } else { LossTerm::CrossEntropy }, w as f32))
            .collect();
        let manual = loss.class_rebalance == ClassRebalance::Manual;
        Self {
            terms,
            n_classes: config.data.n_classes,
            class_weights: manual.then(|| loss.class_weights.iter().map(|&w| w as f32).collect()),
            ignore_index: (loss.ignore_index >= 0).then_some(loss.ignore_index),
        }
    }

    fn binary(&self) -> bool {
        self.n_classes <= 2
    }

    /// The scalar loss of a batch.
    pub fn forward<const D: usize>(&self, logits: Tensor<D>, target: Tensor<D, Int>) -> Tensor<1> {
        let valid = self.valid_mask(&target);
        // Ignored pixels get label 0 so indexing stays in range; their weight is 0.
        let target = target.mask_fill(valid.clone().equal_elem(0.0), 0);
        let mut total: Option<Tensor<1>> = None;
        for &(term, weight) in &self.terms {
            let value = match term {
                LossTerm::CrossEntropy => self.cross_entropy(logits.clone(), target.clone(), valid.clone()),
                LossTerm::Dice => self.dice(logits.clone(), target.clone(), valid.clone()),
            } * weight;
            total = Some(match total {
                Some(t) => t + value,
                None => value,
            });
        }
        total.unwrap_or_else(|| logits.sum() * 0.0)
    }

    /// 1 where the label counts, 0 where it is the ignore index; `[batch, 1, …]`.
    fn valid_mask<const D: usize>(&self, target: &Tensor<D, Int>) -> Tensor<D> {
        match self.ignore_index {
            Some(ignore) => target.clone().not_equal_elem(ignore).float(),
            None => target.clone().float().ones_like(),
        }
    }

    /// Per-pixel weight: class weight of the label (if any) times the valid mask.
    fn pixel_weights<const D: usize>(&self, target: &Tensor<D, Int>, valid: Tensor<D>) -> Tensor<D> {
        let Some(weights) = &self.class_weights else { return valid };
        let device = target.device();
        let table = Tensor::<1>::from_data(TensorData::new(weights.clone(), [weights.len()]), &device);
        let dims = target.dims();
        let flat: Tensor<1, Int> = target.clone().flatten(0, D - 1);
        table.select(0, flat).reshape(dims) * valid
    }

    fn cross_entropy<const D: usize>(&self, logits: Tensor<D>, target: Tensor<D, Int>, valid: Tensor<D>) -> Tensor<1> {
        let weights = self.pixel_weights(&target, valid);
        let per_pixel = if self.binary() {
            let t = target.float();
            // BCE with logits: (1 − t)·x − log σ(x), numerically stable.
            (t.neg() + 1.0) * logits.clone() - log_sigmoid(logits)
        } else {
            log_softmax(logits, 1).gather(1, target).neg()
        };
        (per_pixel * weights.clone()).sum() / weights.sum().clamp_min(1e-12)
    }

    fn dice<const D: usize>(&self, logits: Tensor<D>, target: Tensor<D, Int>, valid: Tensor<D>) -> Tensor<1> {
        let (probs, onehot) = if self.binary() {
            (sigmoid(logits), target.float())
        } else {
            let classes = (0..self.n_classes as i64).map(|c| target.clone().equal_elem(c).float()).collect();
            (softmax(logits, 1), Tensor::cat(classes, 1))
        };
        let probs = probs * valid.clone();
        let onehot = onehot * valid;
        let n_channels = probs.dims()[1];
        let per_channel = |t: Tensor<D>| -> Tensor<1> {
            let numel: usize = t.dims().iter().product();
            t.swap_dims(0, 1).reshape([n_channels, numel / n_channels]).sum_dim(1).reshape([n_channels])
        };
        let intersection = per_channel(probs.clone() * onehot.clone());
        let denominator = per_channel(probs) + per_channel(onehot);
        let dice = (intersection * 2.0 + SMOOTH) / (denominator + SMOOTH);
        dice.mean().neg() + 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(terms: &[(LossTerm, f32)], n_classes: usize) -> LossFn {
        LossFn { terms: terms.to_vec(), n_classes, class_weights: None, ignore_index: None }
    }

    fn logits(values: Vec<f32>, shape: [usize; 4]) -> Tensor<4> {
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    fn labels(values: Vec<i64>, shape: [usize; 4]) -> Tensor<4, Int> {
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    fn value(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    fn close(a: f32, b: f32) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }

    #[test]
    fn binary_cross_entropy_by_hand() {
        let ce = loss(&[(LossTerm::CrossEntropy, 1.0)], 2);
        let got = value(ce.forward(logits(vec![0.0, 3f32.ln()], [1, 1, 1, 2]), labels(vec![0, 1], [1, 1, 1, 2])));
        close(got, (2f32.ln() + (4.0f32 / 3.0).ln()) / 2.0);
    }

    #[test]
    fn binary_class_weights_d10() {
        let mut ce = loss(&[(LossTerm::CrossEntropy, 1.0)], 2);
        ce.class_weights = Some(vec![1.0, 3.0]);
        let got = value(ce.forward(logits(vec![0.0, 3f32.ln()], [1, 1, 1, 2]), labels(vec![0, 1], [1, 1, 1, 2])));
        close(got, (2f32.ln() + 3.0 * (4.0f32 / 3.0).ln()) / 4.0);
    }

    #[test]
    fn multi_class_cross_entropy_weights_and_ignore() {
        // Two pixels, three classes: [0,0,0] with label 0 → ln 3; [ln 2, 0, 0] with label 0 → ln 2.
        let x = logits(vec![0.0, 2f32.ln(), 0.0, 0.0, 0.0, 0.0], [1, 3, 1, 2]);
        let ce = loss(&[(LossTerm::CrossEntropy, 1.0)], 3);
        close(value(ce.forward(x.clone(), labels(vec![0, 0], [1, 1, 1, 2]))), (3f32.ln() + 2f32.ln()) / 2.0);
        let mut ignoring = ce.clone();
        ignoring.ignore_index = Some(255);
        close(value(ignoring.forward(x.clone(), labels(vec![255, 0], [1, 1, 1, 2]))), 2f32.ln());
        let mut weighted = ce;
        weighted.class_weights = Some(vec![1.0, 1.0, 2.0]);
        // Pixel 1 has label 2: −log(1/4) with weight 2.
        let expected = (3f32.ln() + 2.0 * 4f32.ln()) / 3.0;
        close(value(weighted.forward(x, labels(vec![0, 2], [1, 1, 1, 2]))), expected);
    }

    #[test]
    fn dice_by_hand_and_dice_plus_ce() {
        // p = 0.5 everywhere, truth [1, 0]: dice = (2·0.5 + s) / (1 + 1 + s).
        let x = logits(vec![0.0, 0.0], [1, 1, 1, 2]);
        let t = labels(vec![1, 0], [1, 1, 1, 2]);
        let dice = 1.0 - (1.0 + SMOOTH) / (2.0 + SMOOTH);
        close(value(loss(&[(LossTerm::Dice, 1.0)], 2).forward(x.clone(), t.clone())), dice);
        let combined = loss(&[(LossTerm::Dice, 0.3), (LossTerm::CrossEntropy, 0.7)], 2);
        close(value(combined.forward(x, t)), 0.3 * dice + 0.7 * 2f32.ln());
    }

    #[test]
    fn multi_class_dice_perfect_prediction_is_near_zero() {
        let x = logits(vec![20.0, -20.0, -20.0, 20.0, -20.0, -20.0], [1, 3, 1, 2]);
        let got = value(loss(&[(LossTerm::Dice, 1.0)], 3).forward(x, labels(vec![0, 1], [1, 1, 1, 2])));
        // Class 2 is absent from both: its dice is s/s = 1, so the mean is ~1 and the loss ~0.
        assert!(got.abs() < 1e-4, "{got}");
    }
}
