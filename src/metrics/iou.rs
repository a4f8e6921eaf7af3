//! IoU (Jaccard) from raw counts, exactly as spec §5.1 with decision D5: binary IoU is the
//! foreground `TP / (TP + FP + FN)`; multi-class IoU is the mean over classes (background
//! included) of the per-class IoU, skipping classes absent from both prediction and truth; the
//! empty-truth-and-empty-prediction case follows `TEST.EMPTY_IOU`.
//!
//! Pure arithmetic on [`Counts`], which keep the raw numbers so every mean can be recomputed
//! (nnU-Net's habit). Counting on tensors happens in the stages; counting on host arrays is here.
//!
//! ```
//! use segsweep::metrics::iou::{Counts, iou};
//! use segsweep::config::EmptyIou;
//! // All-background prediction vs a 2×2 truth with one class-1 pixel, 2 classes counted as
//! // multi-class: (0.75 + 0) / 2.
//! let counts = Counts::from_labels(&[0, 0, 0, 0], &[0, 1, 0, 0], 3, None);
//! assert_eq!(iou(&counts, EmptyIou::Zero), Some(0.375));
//! ```

use rayon::prelude::*;

use crate::config::EmptyIou;

/// Pixels one rayon task counts (integer sums, so the split never changes the result).
const PIXELS_PER_TASK: usize = 1 << 16;

/// Per-class true positives and predicted / true pixel counts. For the binary case there is
/// one class: the foreground.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    pub binary: bool,
    pub tp: Vec<u64>,
    pub pred: Vec<u64>,
    pub truth: Vec<u64>,
}

impl Counts {
    /// Empty counts for `n_classes` (≤ 2 means binary).
    pub fn new(n_classes: usize) -> Self {
        let n = if n_classes <= 2 { 1 } else { n_classes };
        Self { binary: n_classes <= 2, tp: vec![0; n], pred: vec![0; n], truth: vec![0; n] }
    }

    /// Counts of predicted labels against true labels (same length); pixels whose truth equals
    /// `ignore` are skipped. Binary when `n_classes <= 2` (foreground = label 1). Counted in
    /// parallel blocks of [`PIXELS_PER_TASK`].
    pub fn from_labels(pred: &[u16], truth: &[u16], n_classes: usize, ignore: Option<u16>) -> Self {
        pred.par_chunks(PIXELS_PER_TASK)
            .zip(truth.par_chunks(PIXELS_PER_TASK))
            .map(|(pred, truth)| Self::count_block(pred, truth, n_classes, ignore))
            .reduce(
                || Self::new(n_classes),
                |mut all, block| {
                    all.merge(&block);
                    all
                },
            )
    }

    fn count_block(pred: &[u16], truth: &[u16], n_classes: usize, ignore: Option<u16>) -> Self {
        let mut counts = Self::new(n_classes);
        for (&p, &t) in pred.iter().zip(truth) {
            if Some(t) == ignore {
                continue;
            }
            counts.add_pixel(p, t);
        }
        counts
    }

    fn add_pixel(&mut self, p: u16, t: u16) {
        if self.binary {
            let (p, t) = (p == 1, t == 1);
            self.tp[0] += u64::from(p && t);
            self.pred[0] += u64::from(p);
            self.truth[0] += u64::from(t);
        } else {
            let (p, t) = (usize::from(p), usize::from(t));
            if p < self.pred.len() {
                self.pred[p] += 1;
            }
            if t < self.truth.len() {
                self.truth[t] += 1;
                self.tp[t] += u64::from(p == t);
            }
        }
    }

    /// Adds another set of counts (pooling pixels).
    pub fn merge(&mut self, other: &Counts) {
        for (mine, theirs) in
            [(&mut self.tp, &other.tp), (&mut self.pred, &other.pred), (&mut self.truth, &other.truth)]
        {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }

    /// True when neither prediction nor truth has any foreground (binary) or any pixel (multi).
    pub fn is_empty(&self) -> bool {
        self.pred.iter().chain(&self.truth).all(|&n| n == 0)
    }
}

/// IoU of `counts`; `None` when the case is empty and the policy is [`EmptyIou::Skip`].
pub fn iou(counts: &Counts, empty: EmptyIou) -> Option<f64> {
    let per_class: Vec<f64> = (0..counts.tp.len())
        .filter(|&c| counts.pred[c] + counts.truth[c] > 0)
        .map(|c| counts.tp[c] as f64 / (counts.pred[c] + counts.truth[c] - counts.tp[c]) as f64)
        .collect();
    if per_class.is_empty() {
        return match empty {
            EmptyIou::Zero => Some(0.0),
            EmptyIou::One => Some(1.0),
            EmptyIou::Skip => None,
        };
    }
    Some(per_class.iter().sum::<f64>() / per_class.len() as f64)
}

/// Mean of the values that are present, with the number of skipped ones.
pub fn mean_skipping(values: &[Option<f64>]) -> (Option<f64>, usize) {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let skipped = values.len() - present.len();
    if present.is_empty() {
        (None, skipped)
    } else {
        (Some(present.iter().sum::<f64>() / present.len() as f64), skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_iou(pred: &[u16], truth: &[u16], n_classes: usize, expect: Option<f64>) {
        let got = iou(&Counts::from_labels(pred, truth, n_classes, None), EmptyIou::Zero);
        match (got, expect) {
            (Some(g), Some(e)) => assert!((g - e).abs() < 1e-12, "got {g}, expected {e}"),
            _ => assert_eq!(got, expect),
        }
    }

    #[test]
    fn binary_foreground_iou() {
        check_iou(&[1, 1, 0, 0], &[1, 0, 1, 0], 2, Some(1.0 / 3.0));
        check_iou(&[1, 1, 0, 0], &[1, 1, 0, 0], 2, Some(1.0));
        check_iou(&[0, 0, 0, 0], &[1, 1, 0, 0], 2, Some(0.0));
    }

    #[test]
    fn multi_class_mean_includes_background_and_skips_absent_classes() {
        check_iou(&[0, 0, 0, 0], &[0, 1, 0, 0], 3, Some(0.375));
        // Class 2 absent from both: mean over classes 0 and 1 only.
        check_iou(&[0, 1, 1, 0], &[0, 1, 0, 0], 3, Some((2.0 / 3.0 + 0.5) / 2.0));
        // An all-background image predicted all background: background IoU 1.
        check_iou(&[0, 0], &[0, 0], 3, Some(1.0));
    }

    #[test]
    fn empty_policies() {
        let empty = Counts::from_labels(&[0, 0], &[0, 0], 2, None);
        assert!(empty.is_empty());
        assert_eq!(iou(&empty, EmptyIou::Zero), Some(0.0));
        assert_eq!(iou(&empty, EmptyIou::One), Some(1.0));
        assert_eq!(iou(&empty, EmptyIou::Skip), None);
        assert_eq!(mean_skipping(&[Some(0.5), None, Some(1.0)]), (Some(0.75), 1));
    }

    #[test]
    fn parallel_blocks_count_like_one_pass() {
        // Three blocks and a remainder, multi-class and binary, with ignored pixels.
        let n = 3 * PIXELS_PER_TASK + 1234;
        let pred: Vec<u16> = (0..n).map(|i| ((i * 7 + i / 5) % 4) as u16).collect();
        let truth: Vec<u16> = (0..n).map(|i| ((i * 3 + i / 11) % 5) as u16).collect();
        for (n_classes, ignore) in [(4, Some(4)), (4, None), (2, Some(3))] {
            let parallel = Counts::from_labels(&pred, &truth, n_classes, ignore);
            assert_eq!(parallel, Counts::count_block(&pred, &truth, n_classes, ignore));
            assert!(parallel.truth.iter().sum::<u64>() > 0);
        }
    }

    #[test]
    fn ignored_pixels_do_not_count_and_counts_pool() {
        let mut a = Counts::from_labels(&[1, 1], &[1, 255], 2, Some(255));
        assert_eq!(iou(&a, EmptyIou::Zero), Some(1.0));
        a.merge(&Counts::from_labels(&[0], &[1], 2, None));
        assert_eq!(iou(&a, EmptyIou::Zero), Some(0.5));
    }
}
