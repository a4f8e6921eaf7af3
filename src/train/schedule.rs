//! Learning-rate schedules of `TRAIN.LR_SCHEDULER` (spec §8.3), as pure functions of the
//! iteration, plus the one stateful schedule (`reduceonplateau`), whose state is serialisable so
//! a resumed training continues it (D9).
//!
//! - `warmupcosine`: per iteration, fractional epoch `e = step / steps_per_epoch + epoch`.
//! - `onecycle`: PyTorch's `OneCycleLR` (pct_start 0.3, cosine, div 25, final div 1e4), per
//!   optimizer step, with its momentum cycling (SGD's momentum, Adam's β₁ from 0.95 to 0.85 and
//!   back; applied by [`super::cycled`]'s optimisers).
//! - `reduceonplateau`: PyTorch's `ReduceLROnPlateau` (mode min, relative threshold 1e-4,
//!   cooldown 0), stepped once per epoch with the mean validation loss.
//! - `warmupreduceonplateau`: BiaPy's fixed Cellpose-style table.
//!
//! ```
//! use segsweep::train::schedule::one_cycle_lr;
//! // Starts at max_lr / 25 and peaks at max_lr after 30 % of the steps.
//! assert!((one_cycle_lr(1e-3, 100, 0) - 4e-5).abs() < 1e-12);
//! assert!((one_cycle_lr(1e-3, 100, 29) - 1e-3).abs() < 1e-12);
//! ```

use serde::{Deserialize, Serialize};

use crate::config::{SchedulerName, Train};

/// A learning-rate schedule and its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LrSchedule {
    Constant { lr: f64 },
    WarmupCosine { lr: f64, min_lr: f64, warmup: f64, decay_start: f64, epochs: f64, steps_per_epoch: usize },
    OneCycle { max_lr: f64, total_steps: usize, steps_per_epoch: usize },
    Plateau { lr: f64, factor: f64, patience: usize, min_lr: f64, best: Option<f64>, n_bad: usize },
    Table { lrs: Vec<f64>, steps_per_epoch: usize },
}

impl LrSchedule {
    /// The schedule `TRAIN.*` asks for, with `steps_per_epoch` optimizer steps per epoch.
    pub fn from_config(train: &Train, steps_per_epoch: usize) -> Self {
        let lr = train.lr.first().copied().unwrap_or(1e-4);
        let sched = &train.lr_scheduler;
        let min_lr = sched.min_lr.first().copied().filter(|&v| v >= 0.0).unwrap_or(0.0);
        let epochs = train.epochs as f64;
        let steps_per_epoch = steps_per_epoch.max(1);
        match sched.name {
            SchedulerName::None => LrSchedule::Constant { lr },
            SchedulerName::Warmupcosine => {
                let warmup = sched.warmup_cosine_decay_epochs.max(0) as f64;
                let fraction = sched.cosine_decay_fraction;
                let decay_start = if fraction > 0.0 { (epochs * (1.0 - fraction)).round() } else { warmup };
                LrSchedule::WarmupCosine { lr, min_lr, warmup, decay_start, epochs, steps_per_epoch }
            }
            SchedulerName::Onecycle => {
                LrSchedule::OneCycle { max_lr: lr, total_steps: train.epochs * steps_per_epoch, steps_per_epoch }
            }
            SchedulerName::Reduceonplateau => LrSchedule::Plateau {
                lr,
                factor: sched.reduceonplateau_factor,
                patience: sched.reduceonplateau_patience.max(0) as usize,
                min_lr,
                best: None,
                n_bad: 0,
            },
            SchedulerName::Warmupreduceonplateau => {
                LrSchedule::Table { lrs: cellpose_table(lr, train.epochs), steps_per_epoch }
            }
        }
    }

    /// The learning rate of optimizer step `step` (0-based) of epoch `epoch` (0-based).
    pub fn lr(&self, epoch: usize, step: usize) -> f64 {
        match self {
            LrSchedule::Constant { lr } | LrSchedule::Plateau { lr, .. } => *lr,
            LrSchedule::WarmupCosine { lr, min_lr, warmup, decay_start, epochs, steps_per_epoch } => {
                let e = epoch as f64 + step as f64 / *steps_per_epoch as f64;
                warmup_cosine_lr(*lr, *min_lr, *warmup, *decay_start, *epochs, e)
            }
            LrSchedule::OneCycle { max_lr, total_steps, steps_per_epoch } => {
                one_cycle_lr(*max_lr, *total_steps, epoch * steps_per_epoch + step)
            }
            LrSchedule::Table { lrs, steps_per_epoch } => {
                let e = epoch + step / steps_per_epoch;
                lrs[e.min(lrs.len() - 1)]
            }
        }
    }

    /// The momentum / β₁ of optimizer step `step` of epoch `epoch` when the schedule moves it
    /// (`onecycle`), else `None` (the optimiser's own stays).
    pub fn momentum(&self, epoch: usize, step: usize) -> Option<f64> {
        match self {
            LrSchedule::OneCycle { total_steps, steps_per_epoch, .. } => {
                Some(one_cycle_momentum(*total_steps, epoch * steps_per_epoch + step))
            }
            _ => None,
        }
    }

    /// Called once per epoch after validation; only `reduceonplateau` reacts. Returns the new
    /// learning rate when it was reduced.
    pub fn end_of_epoch(&mut self, val_loss: f64) -> Option<f64> {
        let LrSchedule::Plateau { lr, factor, patience, min_lr, best, n_bad } = self else { return None };
        let improved = best.is_none_or(|b| val_loss < b * (1.0 - 1e-4));
        if improved {
            *best = Some(val_loss);
            *n_bad = 0;
            return None;
        }
        *n_bad += 1;
        if *n_bad <= *patience {
            return None;
        }
        *n_bad = 0;
        let reduced = (*lr * *factor).max(*min_lr);
        if *lr - reduced > 1e-8 {
            *lr = reduced;
            Some(reduced)
        } else {
            None
        }
    }
}

/// `warmupcosine` at fractional epoch `e`: linear ramp from 0 to `lr` over `warmup` epochs,
/// flat until `decay_start`, then cosine down to `min_lr` at `epochs`.
pub fn warmup_cosine_lr(lr: f64, min_lr: f64, warmup: f64, decay_start: f64, epochs: f64, e: f64) -> f64 {
    if e < warmup {
        lr * e / warmup
    } else if e < decay_start {
        lr
    } else {
        let span = (epochs - decay_start).max(f64::EPSILON);
        min_lr + (lr - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * (e - decay_start) / span).cos())
    }
}

/// PyTorch `OneCycleLR` (two phases, cosine annealing, pct_start 0.3, div_factor 25,
/// final_div_factor 1e4) at step `step` of `total_steps`.
pub fn one_cycle_lr(max_lr: f64, total_steps: usize, step: usize) -> f64 {
    let initial = max_lr / 25.0;
    let min_lr = initial / 1e4;
    match one_cycle_phase(total_steps, step) {
        (0, pct) => cosine_anneal(initial, max_lr, pct),
        (_, pct) => cosine_anneal(max_lr, min_lr, pct),
    }
}

/// The momentum (SGD) or β₁ (Adam) PyTorch's `OneCycleLR` sets at step `step` of
/// `total_steps` (`cycle_momentum=True`): from 0.95 down to 0.85 while the learning rate rises,
/// back to 0.95 while it falls.
pub fn one_cycle_momentum(total_steps: usize, step: usize) -> f64 {
    let (base, max) = (0.85, 0.95);
    match one_cycle_phase(total_steps, step) {
        (0, pct) => cosine_anneal(max, base, pct),
        (_, pct) => cosine_anneal(base, max, pct),
    }
}

/// The phase (0: warm-up, 1: annealing) and the fraction of it done at `step`, as PyTorch's
/// `OneCycleLR.get_lr` computes them (pct_start 0.3).
fn one_cycle_phase(total_steps: usize, step: usize) -> (usize, f64) {
    let end_warm = 0.3 * total_steps as f64 - 1.0;
    let end = total_steps as f64 - 1.0;
    let s = step as f64;
    if s <= end_warm {
        (0, if end_warm > 0.0 { s / end_warm } else { 1.0 })
    } else {
        (1, ((s - end_warm) / (end - end_warm).max(f64::EPSILON)).min(1.0))
    }
}

/// PyTorch's `_annealing_cos`: from `start` at `pct` 0 to `stop` at 1.
fn cosine_anneal(start: f64, stop: f64, pct: f64) -> f64 {
    stop + (start - stop) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
}

/// BiaPy's `warmupreduceonplateau` table (spec §8.3): 10 epochs of linear warm-up from 0, then
/// `lr`; long trainings end with 10 halvings.
pub fn cellpose_table(lr: f64, epochs: usize) -> Vec<f64> {
    let mut table: Vec<f64> = (0..10).map(|i| lr * i as f64 / 9.0).collect();
    table.extend(std::iter::repeat_n(lr, epochs.saturating_sub(10)));
    let (drop, each) = if epochs > 300 {
        (100, 10)
    } else if epochs > 100 {
        (50, 5)
    } else {
        (0, 0)
    };
    if drop > 0 {
        table.truncate(table.len().saturating_sub(drop));
        let mut current = lr;
        for _ in 0..10 {
            current /= 2.0;
            table.extend(std::iter::repeat_n(current, each));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    fn schedule(yaml_train: &str, steps: usize) -> LrSchedule {
        let config = load_str(&format!("TRAIN: {{ENABLE: True, {yaml_train}}}"), &[]).unwrap().config;
        LrSchedule::from_config(&config.train, steps)
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }

    #[test]
    fn constant_without_a_scheduler() {
        let s = schedule("LR: [0.01]", 10);
        close(s.lr(0, 0), 0.01);
        close(s.lr(5, 9), 0.01);
    }

    #[test]
    fn warmup_cosine_follows_the_formula() {
        let s = schedule(
            "EPOCHS: 10, LR: [0.1], LR_SCHEDULER: {NAME: warmupcosine, MIN_LR: [0.001], WARMUP_COSINE_DECAY_EPOCHS: 2}",
            4,
        );
        close(s.lr(0, 0), 0.0);
        close(s.lr(0, 2), 0.1 * 0.5 / 2.0);
        close(s.lr(1, 2), 0.1 * 1.5 / 2.0);
        close(s.lr(2, 0), 0.1);
        let e = 6.0;
        close(s.lr(6, 0), 0.001 + 0.099 * 0.5 * (1.0 + (std::f64::consts::PI * (e - 2.0) / 8.0).cos()));
        assert!(s.lr(9, 3) < 0.002);
    }

    #[test]
    fn one_cycle_matches_pytorch_endpoints() {
        let s = schedule("EPOCHS: 10, LR: [0.01], LR_SCHEDULER: {NAME: onecycle}", 10);
        close(s.lr(0, 0), 0.01 / 25.0);
        close(s.lr(2, 9), 0.01);
        close(s.lr(9, 9), 0.01 / 25.0 / 1e4);
        // Half-way through the warm-up phase: the cosine midpoint.
        close(one_cycle_lr(1.0, 70, 10), 0.04 + (1.0 - 0.04) * 0.5);
    }

    #[test]
    fn one_cycle_momentum_mirrors_the_learning_rate() {
        let s = schedule("EPOCHS: 10, LR: [0.01], LR_SCHEDULER: {NAME: onecycle}", 10);
        close(s.momentum(0, 0).unwrap(), 0.95);
        close(s.momentum(2, 9).unwrap(), 0.85);
        close(s.momentum(9, 9).unwrap(), 0.95);
        close(one_cycle_momentum(70, 10), 0.85 + 0.1 * 0.5);
        // The momentum (and Adam's β₁) torch 2.11's OneCycleLR(max_lr=1, total_steps=10) gives
        // before each of the ten optimizer steps.
        let torch = [0.95, 0.9, 0.85, 0.854_951_6, 0.868_825_5, 0.888_874, 0.911_126, 0.931_174_5, 0.945_048_4, 0.95];
        for (step, &expected) in torch.iter().enumerate() {
            assert!((one_cycle_momentum(10, step) - expected).abs() < 1e-4, "step {step}");
        }
        assert_eq!(schedule("LR: [0.01]", 10).momentum(0, 0), None);
    }

    #[test]
    fn plateau_reduces_after_patience_and_not_below_min_lr() {
        let mut s = schedule(
            "PATIENCE: 10, LR: [0.1], LR_SCHEDULER: {NAME: reduceonplateau, MIN_LR: [0.03], REDUCEONPLATEAU_PATIENCE: 2}",
            5,
        );
        assert_eq!(s.end_of_epoch(1.0), None);
        assert_eq!(s.end_of_epoch(1.0), None);
        assert_eq!(s.end_of_epoch(0.99995), None, "within the relative threshold is not an improvement");
        assert_eq!(s.end_of_epoch(1.2), Some(0.05));
        close(s.lr(4, 0), 0.05);
        for _ in 0..2 {
            assert_eq!(s.end_of_epoch(2.0), None);
        }
        assert_eq!(s.end_of_epoch(2.0), Some(0.03));
        for _ in 0..3 {
            s.end_of_epoch(3.0);
        }
        close(s.lr(9, 0), 0.03);
    }

    #[test]
    fn cellpose_table_shapes() {
        let short = cellpose_table(1.0, 20);
        assert_eq!(short.len(), 20);
        close(short[0], 0.0);
        close(short[9], 1.0);
        let long = cellpose_table(1.0, 400);
        assert_eq!(long.len(), 400);
        close(long[399], 1.0 / 1024.0);
        close(long[300], 0.5);
    }
}
