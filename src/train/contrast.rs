//! `LOSS.CONTRAST` (D30): BiaPy's `ContrastCELoss` — the configured loss plus `PixelContrastLoss`
//! against a `MemoryBank` — on the embedding of the networks' projection head
//! ([`crate::model::heads`]).
//!
//! Each training step: labels and predictions (binary: logit > 0; else argmax) are read on the
//! embedding's grid (every `s`-th position, `s` = input size / embedding size: 1, or 4 for
//! `hrnet`), as BiaPy's nearest interpolation and stride slicing do. Per image, each class with
//! more than one position (not `LOSS.IGNORE_INDEX`) gives one anchor: with BiaPy's
//! `max_views = 1` its "hard-anchor" sampling takes a correctly predicted position when there is
//! one and a mis-predicted one otherwise (`max_samples = 1024`). Anchors are compared at temperature 0.07 with the bank,
//! laid out as BiaPy's `_sample_negative` lays it: for each class c ≥ 1 its segment queue then its
//! pixel queue (`MEMORY_SIZE` rows each), then `2·MEMORY_SIZE` zero rows labelled 0, which are
//! the background anchors' positives. After the loss the bank takes, per image and foreground
//! class, the class's mean embedding (segment queue, one row) and up to `PIXEL_UPD_FREQ` of its
//! positions (pixel queue). The bank starts as unit-length Gaussian rows.
//!
//! Where BiaPy 3.7.1 fails or does other than it says, this file does what it says (decisions in
//! `docs/compatibility.md`, D30): it runs on any device (BiaPy allocates with `.cuda()`); binary
//! predictions are logit > 0 (BiaPy's `[1, 2]` offsets broadcast against the batch axis, so only
//! batches of one or two run, with channel indices for predictions); the pixel queue takes
//! positions of the class (BiaPy: the patch's first positions) and advances by the number taken
//! (BiaPy: by one); with `warmupcosine` the warm-up counts in iterations (BiaPy adds its epoch
//! count to an iteration count). The contrastive term joins the loss from iteration
//! `MEMORY_SIZE` (plus the warm-up) on; the bank fills from the first. Random draws come from the
//! run's seed and the iteration, so a step is the same after a resume; the bank itself restarts
//! with a resumed training, as BiaPy's does.
//!
//! Holds no file and no model: tensors in, a loss term out.

use burn::prelude::*;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};

use super::seed::derive;
use crate::config::{Config, SchedulerName};
use crate::model::heads::l2_normalize;

/// `PixelContrastLoss`'s temperature and base temperature.
pub const TEMPERATURE: f32 = 0.07;
pub const BASE_TEMPERATURE: f32 = 0.07;
/// `PixelContrastLoss`'s `max_samples` and `max_views`.
pub const MAX_SAMPLES: usize = 1024;
pub const MAX_VIEWS: usize = 1;

/// What the loss and the bank need from the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContrastSettings {
    /// `DATA.N_CLASSES`: one queue per class.
    pub n_classes: usize,
    /// `LOSS.CONTRAST.MEMORY_SIZE`: rows per class and queue.
    pub memory_size: usize,
    /// `LOSS.CONTRAST.PROJ_DIM`.
    pub proj_dim: usize,
    /// `LOSS.CONTRAST.PIXEL_UPD_FREQ`: pixel rows a class takes per image and step.
    pub pixel_update: usize,
    /// `LOSS.IGNORE_INDEX` when set.
    pub ignore_index: Option<i64>,
    /// The first iteration (from 0, over the whole training) whose loss has the term.
    pub start_iteration: usize,
}

impl ContrastSettings {
    /// The settings of a checked config with `LOSS.CONTRAST.ENABLE` (`None` without it);
    /// `steps_per_epoch` turns `warmupcosine`'s warm-up epochs into iterations.
    pub fn from_config(config: &Config, steps_per_epoch: usize) -> Option<Self> {
        let c = &config.loss.contrast;
        if !c.enable {
            return None;
        }
        let count = |v: i64| usize::try_from(v).unwrap_or(0);
        let sched = &config.train.lr_scheduler;
        let warmup = match sched.name {
            SchedulerName::Warmupcosine => count(sched.warmup_cosine_decay_epochs) * steps_per_epoch,
            _ => 0,
        };
        Some(Self {
            n_classes: config.data.n_classes,
            memory_size: count(c.memory_size),
            proj_dim: count(c.proj_dim),
            pixel_update: count(c.pixel_upd_freq),
            ignore_index: (config.loss.ignore_index >= 0).then_some(config.loss.ignore_index),
            start_iteration: count(c.memory_size) + warmup,
        })
    }
}

/// Per-class queues of unit-length embeddings: `[classes, MEMORY_SIZE, PROJ_DIM]` each, with
/// the next row to write per class.
pub struct MemoryBank {
    segment: Tensor<3>,
    pixel: Tensor<3>,
    segment_ptr: Vec<usize>,
    pixel_ptr: Vec<usize>,
}

impl MemoryBank {
    /// Unit-length standard-normal rows from `seed`.
    pub fn new(settings: &ContrastSettings, seed: u64, device: &Device) -> Self {
        let (c, m, p) = (settings.n_classes, settings.memory_size, settings.proj_dim);
        let queue = |label: &str| {
            let mut rng = ChaCha8Rng::seed_from_u64(derive(seed, label, &[]));
            let values: Vec<f32> = (0..c * m * p).map(|_| StandardNormal.sample(&mut rng)).collect();
            let rows = Tensor::<2>::from_data(TensorData::new(values, [c * m, p]), device);
            l2_normalize(rows).reshape([c, m, p])
        };
        Self {
            segment: queue("contrast-segment-queue"),
            pixel: queue("contrast-pixel-queue"),
            segment_ptr: vec![0; c],
            pixel_ptr: vec![0; c],
        }
    }

    /// A bank holding `segment` and `pixel` (`[classes, MEMORY_SIZE, PROJ_DIM]` each), both
    /// pointers at row 0.
    pub fn from_queues(segment: Tensor<3>, pixel: Tensor<3>) -> Self {
        let classes = segment.dims()[0];
        Self { segment, pixel, segment_ptr: vec![0; classes], pixel_ptr: vec![0; classes] }
    }

    /// `[segment queue; pixel queue]` of classes `1…C−1`, then `2·MEMORY_SIZE` zero rows:
    /// `[C · 2·MEMORY_SIZE, PROJ_DIM]`, and each row's label.
    pub fn contrast_rows(&self) -> (Tensor<2>, Vec<i64>) {
        let [c, m, p] = self.segment.dims();
        let queue = |q: &Tensor<3>, class: usize| q.clone().slice([class..class + 1, 0..m, 0..p]).reshape([m, p]);
        let mut parts = Vec::with_capacity(2 * c);
        let mut labels = Vec::with_capacity(2 * c * m);
        for class in 1..c {
            parts.push(queue(&self.segment, class));
            parts.push(queue(&self.pixel, class));
            labels.extend(std::iter::repeat_n(class as i64, 2 * m));
        }
        parts.push(Tensor::zeros([2 * m, p], &self.segment.device()));
        labels.extend(std::iter::repeat_n(0, 2 * m));
        (Tensor::cat(parts, 0), labels)
    }

    /// Enqueues, per image and foreground class of `labels` (on the embedding's grid), the
    /// class's mean embedding and up to `pixel_update` of its rows of `keys` (`[batch·grid,
    /// PROJ_DIM]`, detached).
    fn enqueue(
        &mut self,
        keys: &Tensor<2>,
        labels: &[i64],
        grid: usize,
        settings: &ContrastSettings,
        rng: &mut ChaCha8Rng,
    ) {
        let [_, m, p] = self.segment.dims();
        let device = keys.device();
        let rows = |indices: &[usize]| {
            let indices: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
            let n = indices.len();
            keys.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(indices, [n]), &device))
        };
        for (image, image_labels) in labels.chunks(grid).enumerate() {
            for (class, mut positions) in classes(image_labels, settings.ignore_index) {
                if class == 0 || class as usize >= settings.n_classes {
                    continue;
                }
                let class = class as usize;
                for position in &mut positions {
                    *position += image * grid;
                }
                let mean = l2_normalize(rows(&positions).mean_dim(0));
                let ptr = self.segment_ptr[class];
                self.segment =
                    self.segment.clone().slice_assign([class..class + 1, ptr..ptr + 1, 0..p], mean.reshape([1, 1, p]));
                self.segment_ptr[class] = (ptr + 1) % m;
                let k = positions.len().min(settings.pixel_update).min(m);
                positions.shuffle(rng);
                let picked = l2_normalize(rows(&positions[..k])).reshape([1, k, p]);
                let ptr = self.pixel_ptr[class];
                let (at, next) = if ptr + k >= m { (m - k, 0) } else { (ptr, ptr + k) };
                self.pixel = self.pixel.clone().slice_assign([class..class + 1, at..at + k, 0..p], picked);
                self.pixel_ptr[class] = next;
            }
        }
    }
}

/// The classes of one image's labels, ascending, with their positions (the ignore label left out).
fn classes(labels: &[i64], ignore: Option<i64>) -> Vec<(i64, Vec<usize>)> {
    let mut by_class: std::collections::BTreeMap<i64, Vec<usize>> = std::collections::BTreeMap::new();
    for (position, &label) in labels.iter().enumerate() {
        if Some(label) != ignore {
            by_class.entry(label).or_default().push(position);
        }
    }
    by_class.into_iter().collect()
}

/// Anchors drawn from a batch: rows of the `[batch·grid, PROJ_DIM]` embedding, view-major
/// (`rows[v·A + a]` is anchor `a`'s view `v`, as BiaPy's `cat(unbind(X, 1))`), and each row's class.
#[derive(Debug, PartialEq, Eq)]
pub struct Anchors {
    pub rows: Vec<usize>,
    pub labels: Vec<i64>,
}

/// BiaPy's `_hard_anchor_sampling`: per image, each class with more than [`MAX_VIEWS`]
/// positions gives one anchor of `n_view` positions, half mis-predicted and half correct where
/// both suffice, else as many of the scarcer kind as there are. `None` when no class qualifies
/// (or there are more than [`MAX_SAMPLES`] anchors, where BiaPy would take zero views).
pub fn sample_anchors(
    labels: &[i64],
    predicted: &[i64],
    grid: usize,
    ignore: Option<i64>,
    rng: &mut ChaCha8Rng,
) -> Option<Anchors> {
    let per_image: Vec<Vec<(i64, Vec<usize>)>> = labels
        .chunks(grid)
        .map(|image| classes(image, ignore).into_iter().filter(|(_, at)| at.len() > MAX_VIEWS).collect())
        .collect();
    let total: usize = per_image.iter().map(Vec::len).sum();
    if total == 0 {
        return None;
    }
    let n_view = (MAX_SAMPLES / total).min(MAX_VIEWS);
    if n_view == 0 {
        return None;
    }
    let mut views: Vec<(Vec<usize>, i64)> = Vec::with_capacity(total);
    for (image, image_classes) in per_image.into_iter().enumerate() {
        let offset = image * grid;
        for (class, positions) in image_classes {
            let (mut hard, mut easy): (Vec<usize>, Vec<usize>) =
                positions.into_iter().map(|at| at + offset).partition(|&row| predicted[row] != class);
            let half = n_view as f64 / 2.0;
            let (n_hard, n_easy) = (hard.len() as f64, easy.len() as f64);
            let (hard_keep, easy_keep) = if n_hard >= half && n_easy >= half {
                (n_view / 2, n_view - n_view / 2)
            } else if n_hard >= half {
                (n_view - easy.len(), easy.len())
            } else {
                (hard.len(), n_view - hard.len())
            };
            hard.shuffle(rng);
            easy.shuffle(rng);
            let chosen: Vec<usize> = hard[..hard_keep].iter().chain(&easy[..easy_keep]).copied().collect();
            views.push((chosen, class));
        }
    }
    let mut anchors = Anchors { rows: Vec::with_capacity(total * n_view), labels: Vec::with_capacity(total * n_view) };
    for v in 0..n_view {
        for (chosen, class) in &views {
            anchors.rows.push(chosen[v]);
            anchors.labels.push(*class);
        }
    }
    Some(anchors)
}

/// BiaPy's `_contrastive` with a queue: the mean over anchors of
/// `−(T/T₀) · mean over positives p of log(e^{s_p} / (e^{s_p} + Σ_negatives e^{s_n}))`, with
/// `s = anchor · row / T` shifted by each anchor's maximum. Positives are the rows of the anchor's
/// class except row `i` for anchor `i` (BiaPy's self-contrast mask, which with a queue drops one
/// queue row); negatives the rows of other classes.
pub fn contrastive(anchors: Tensor<2>, anchor_labels: &[i64], rows: Tensor<2>, row_labels: &[i64]) -> Tensor<1> {
    let device = anchors.device();
    let (a, n) = (anchor_labels.len(), row_labels.len());
    let mut positive = vec![0f32; a * n];
    let mut negative = vec![0f32; a * n];
    for (i, &ya) in anchor_labels.iter().enumerate() {
        for (j, &yr) in row_labels.iter().enumerate() {
            if ya == yr {
                positive[i * n + j] = if i == j { 0.0 } else { 1.0 };
            } else {
                negative[i * n + j] = 1.0;
            }
        }
    }
    let positive = Tensor::<2>::from_data(TensorData::new(positive, [a, n]), &device);
    let negative = Tensor::<2>::from_data(TensorData::new(negative, [a, n]), &device);
    let scores = anchors.matmul(rows.transpose()).div_scalar(TEMPERATURE);
    let logits = scores.clone() - scores.max_dim(1).detach();
    let exp = logits.clone().exp();
    let negatives = (exp.clone() * negative).sum_dim(1);
    let log_prob = logits - (exp + negatives).log();
    let mean_positive = (positive.clone() * log_prob).sum_dim(1) / positive.sum_dim(1);
    mean_positive.mean().mul_scalar(-(TEMPERATURE / BASE_TEMPERATURE))
}

/// The contrastive term of a training run and its bank.
pub struct ContrastLoss {
    pub settings: ContrastSettings,
    bank: MemoryBank,
    seed: u64,
}

impl ContrastLoss {
    /// A fresh bank for a run with seed `seed`.
    pub fn new(settings: ContrastSettings, seed: u64, device: &Device) -> Self {
        let bank = MemoryBank::new(&settings, seed, device);
        Self { settings, bank, seed }
    }

    /// One training step: the contrastive term of `embed` (`[batch, PROJ_DIM, grid…]`) at
    /// `iteration` — `None` before `start_iteration` or without anchors — then the bank update.
    /// `logits` give the predictions, `labels` are the batch's `[batch, 1, z, y, x]` labels with
    /// spatial sizes `full` (`z` = 1 in 2D).
    pub fn step<const D: usize>(
        &mut self,
        logits: &Tensor<D>,
        embed: Tensor<D>,
        labels: &[i64],
        full: [usize; 3],
        iteration: usize,
    ) -> Option<Tensor<1>> {
        let dims = embed.dims();
        let (batch, proj) = (dims[0], dims[1]);
        let mut grid_dims = [1usize; 3];
        grid_dims[3 - (D - 2)..].copy_from_slice(&dims[2..]);
        let grid: usize = grid_dims.iter().product();
        let on_grid = |values: &[i64]| subsample(values, batch, full, grid_dims);
        let labels = on_grid(labels);
        let mut rng = ChaCha8Rng::seed_from_u64(derive(self.seed, "contrast", &[iteration as u64]));
        let rows = embed.movedim(1, D - 1).reshape([batch * grid, proj]);
        let term = if iteration >= self.settings.start_iteration {
            // Predictions only pick anchors: not pulled from the device while the bank fills.
            let predicted = on_grid(&predictions(logits));
            sample_anchors(&labels, &predicted, grid, self.settings.ignore_index, &mut rng).map(|anchors| {
                let device = rows.device();
                let n = anchors.rows.len();
                let index: Vec<i64> = anchors.rows.iter().map(|&r| r as i64).collect();
                let picked = rows.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(index, [n]), &device));
                let (queue, queue_labels) = self.bank.contrast_rows();
                contrastive(picked, &anchors.labels, queue, &queue_labels)
            })
        } else {
            None
        };
        self.bank.enqueue(&rows.detach(), &labels, grid, &self.settings, &mut rng);
        term
    }
}

/// Class predictions `[batch, grid…]` of logits: logit > 0 with one channel, else the argmax.
fn predictions<const D: usize>(logits: &Tensor<D>) -> Vec<i64> {
    let logits = logits.clone().detach();
    let classes = if logits.dims()[1] == 1 { logits.greater_elem(0.0).int() } else { logits.argmax(1) };
    classes.into_data().convert::<i64>().try_to_vec::<i64>().unwrap_or_default()
}

/// `[batch, full…]` values at every `full / grid`-th position (nearest down-sampling by an
/// integer factor; the identity when the sizes agree).
fn subsample(values: &[i64], batch: usize, full: [usize; 3], grid: [usize; 3]) -> Vec<i64> {
    if full == grid {
        return values.to_vec();
    }
    let stride: Vec<usize> = full.iter().zip(&grid).map(|(f, g)| f / g.max(&1)).collect();
    let per_image: usize = full.iter().product();
    let mut out = Vec::with_capacity(batch * grid.iter().product::<usize>());
    for image in values.chunks(per_image).take(batch) {
        for z in 0..grid[0] {
            for y in 0..grid[1] {
                for x in 0..grid[2] {
                    let at = ((z * stride[0]) * full[1] + y * stride[1]) * full[2] + x * stride[2];
                    out.push(image[at]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn one_view_anchors_are_easy_where_possible_and_skip_single_positions() {
        // Image 0: class 0 at 0, 1 (1 mis-predicted), class 1 at 2, 3 (both mis-predicted),
        // class 2 at 4 only. Image 1: class 1 but the ignore label at 9, 6 mis-predicted.
        let labels = [0, 0, 1, 1, 2, 1, 1, 1, 1, 255];
        let predicted = [0, 1, 0, 0, 2, 1, 0, 1, 1, 1];
        let anchors = sample_anchors(&labels, &predicted, 5, Some(255), &mut rng()).unwrap();
        assert_eq!(anchors.labels, vec![0, 1, 1]);
        assert_eq!(anchors.rows[0], 0, "one view: the easy position when there is one");
        assert!([2, 3].contains(&anchors.rows[1]), "a hard one when there is no easy one");
        assert!([5, 7, 8].contains(&anchors.rows[2]), "{:?}", anchors.rows);
        assert_eq!(sample_anchors(&[0, 1, 2], &[0, 0, 0], 3, None, &mut rng()), None);
    }

    #[test]
    fn contrastive_loss_matches_the_formula_by_hand() {
        let device = Device::flex();
        // Two unit anchors (classes 1, 0) against three rows (classes 1, 1, 0).
        let anchors = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.0, 1.0], [2, 2]), &device);
        let rows = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.0, 0.6, 0.8, 0.0, 0.0], [3, 2]), &device);
        let got = contrastive(anchors, &[1, 0], rows, &[1, 1, 0]).into_scalar::<f32>();
        let t = f64::from(TEMPERATURE);
        // Anchor 0 (class 1): scores 1/t, 0.6/t, 0; row 0 is its own index, so only row 1 is a
        // positive; negative: row 2.
        let s = [1.0 / t, 0.6 / t, 0.0];
        let max = s[0];
        let neg = (s[2] - max).exp();
        let a0 = (s[1] - max) - ((s[1] - max).exp() + neg).ln();
        // Anchor 1 (class 0): scores 0, 0.8/t, 0; positive row 2, negatives rows 0, 1.
        let s = [0.0, 0.8 / t, 0.0];
        let max = s[1];
        let neg = (s[0] - max).exp() + (s[1] - max).exp();
        let a1 = (s[2] - max) - ((s[2] - max).exp() + neg).ln();
        let want = -(a0 + a1) / 2.0;
        assert!((f64::from(got) - want).abs() < 1e-4 * want.abs().max(1.0), "{got} vs {want}");
    }

    #[test]
    fn subsample_takes_every_stride_th_position() {
        let values: Vec<i64> = (0..32).collect();
        assert_eq!(subsample(&values, 2, [1, 4, 4], [1, 2, 2]), vec![0, 2, 8, 10, 16, 18, 24, 26]);
        assert_eq!(subsample(&values, 2, [1, 4, 4], [1, 4, 4]), values);
    }

    fn settings(memory_size: usize) -> ContrastSettings {
        ContrastSettings {
            n_classes: 2,
            memory_size,
            proj_dim: 2,
            pixel_update: 3,
            ignore_index: None,
            start_iteration: 1,
        }
    }

    #[test]
    fn the_bank_takes_class_means_and_pixels_and_wraps() {
        let device = Device::flex();
        let mut bank = MemoryBank::new(&settings(4), 1, &device);
        let norms = bank.segment.clone().powi_scalar(2).sum_dim(2).into_data().try_to_vec::<f32>().unwrap();
        assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5));
        // One image, four positions: class 1 at positions 1, 2 with keys (3, 0) and (0, 4).
        let keys =
            Tensor::<2>::from_data(TensorData::new(vec![9.0f32, 9.0, 3.0, 0.0, 0.0, 4.0, 9.0, 9.0], [4, 2]), &device);
        bank.enqueue(&keys, &[0, 1, 1, 0], 4, &settings(4), &mut rng());
        let segment = bank.segment.clone().slice([1..2, 0..1, 0..2]).into_data().try_to_vec::<f32>().unwrap();
        assert!((segment[0] - 0.6).abs() < 1e-6 && (segment[1] - 0.8).abs() < 1e-6, "{segment:?}");
        assert_eq!((bank.segment_ptr.clone(), bank.pixel_ptr.clone()), (vec![0, 1], vec![0, 2]));
        let mut pixels = bank.pixel.clone().slice([1..2, 0..2, 0..2]).into_data().try_to_vec::<f32>().unwrap();
        pixels.sort_by(f32::total_cmp);
        assert_eq!(pixels, vec![0.0, 0.0, 1.0, 1.0], "the class's two positions, unit length");
        // A third position of class 1 no longer fits after row 2: the last rows are written, the pointer restarts.
        bank.enqueue(&keys, &[1, 1, 1, 0], 4, &settings(4), &mut rng());
        assert_eq!(bank.pixel_ptr, vec![0, 0]);
        let (rows, labels) = bank.contrast_rows();
        assert_eq!(rows.dims(), [16, 2]);
        assert_eq!(labels, [vec![1; 8], vec![0; 8]].concat());
    }

    #[test]
    fn the_term_starts_at_its_iteration_and_carries_a_gradient() {
        let device = Device::flex().autodiff();
        let mut loss = ContrastLoss::new(settings(4), 3, &device);
        let embed = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.6, 0.8, 0.0, 1.0, 0.8, 0.6], [1, 2, 2, 2]),
            &device,
        )
        .require_grad();
        let logits = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, -1.0, 1.0, -1.0], [1, 1, 2, 2]), &device);
        let labels = [1, 1, 0, 0];
        assert!(loss.step(&logits, embed.clone(), &labels, [1, 2, 2], 0).is_none());
        let term = loss.step(&logits, embed.clone(), &labels, [1, 2, 2], 1).expect("active from iteration 1");
        assert!(term.clone().into_scalar::<f32>().is_finite());
        let grads = term.backward();
        let grad = embed.grad(&grads).expect("a gradient on the embedding");
        assert!(grad.abs().sum().into_scalar::<f32>() > 0.0);
    }
}
