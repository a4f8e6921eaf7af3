//! The model-math benchmark behind `segsweep bench` (run by `cargo xtask bench`): milliseconds
//! of one training step (forward, loss, backward, optimiser step) and of one inference step
//! (forward without gradients) of the configured model on random data of one batch, on one
//! device, plus the process's peak memory. It measures what a run would compute and nothing
//! else: data loading, augmentation and the test phase are timed by the real commands.

use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::config::{Config, Ndim};
use crate::model::{ModelError, ModelSpec, SegModel};
use crate::train::cycled::MomentumDial;
use crate::train::loss::LossFn;
use crate::train::optim::optimizer;
use crate::train::schedule::LrSchedule;
use crate::train::setup::patch_zyx;

/// How many steps to time, after how many untimed ones.
#[derive(Clone, Copy, Debug)]
pub struct StepPlan {
    pub warmup: usize,
    pub steps: usize,
}

/// What one benchmark measured (milliseconds per step; every timed step kept).
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub device: String,
    pub ndim: u8,
    pub batch: usize,
    /// `[z, y, x]` of one patch (z = 1 in 2D).
    pub patch: [usize; 3],
    pub channels: usize,
    pub parameters: usize,
    pub train_ms: Vec<f64>,
    pub infer_ms: Vec<f64>,
    pub train_median_ms: f64,
    pub infer_median_ms: f64,
    /// Peak resident memory of the process so far (Linux `VmHWM`), in MiB.
    pub peak_rss_mib: Option<f64>,
}

/// A benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the device failed: {0}")]
    Device(String),
}

/// Times `plan` training steps and inference steps of `config`'s model on `device` with
/// batches of `TRAIN.BATCH_SIZE` patches of `DATA.PATCH_SIZE`.
pub fn measure(config: &Config, device: &Device, device_name: &str, plan: StepPlan) -> Result<StepReport, BenchError> {
    let spec = ModelSpec::from_config(config)?;
    let train_device = device.clone().autodiff();
    let model = SegModel::try_new(&spec, &train_device)?;
    let parameters = model.n_params();
    let [z, y, x] = patch_zyx(config);
    let (batch, channels) = (config.train.batch_size.max(1), config.data.patch_size.last().copied().unwrap_or(1));
    let ndim = model.ndim();
    let shape = match ndim {
        Ndim::D2 => vec![batch, channels, y, x],
        Ndim::D3 => vec![batch, channels, z, y, x],
    };
    let (images, labels) = random_batch(&shape, config.data.n_classes.max(2), 7);
    let loss_fn = LossFn::from_config(config);
    // The optimiser training uses: a one-cycle schedule's moves its momentum (held at its start here).
    let dial = LrSchedule::from_config(&config.train, 1).momentum(0, 0).map(MomentumDial::new);
    let mut optim = optimizer(&config.train, dial.as_ref());
    let lr = config.train.lr.first().copied().unwrap_or(1e-3);
    let sync = |d: &Device| d.sync().map_err(|e| BenchError::Device(format!("{e:?}")));

    let mut model = model;
    let mut train_ms = Vec::with_capacity(plan.steps);
    for i in 0..plan.warmup + plan.steps {
        let start = Instant::now();
        let logits = forward(&model, ndim, &images, &shape, &train_device)?;
        let loss = loss_on(&loss_fn, logits, &labels, &shape, &train_device);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(lr, model, grads);
        sync(&train_device)?;
        if i >= plan.warmup {
            train_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }

    let eval = model.valid();
    let eval_device = device.clone().without_autodiff();
    let mut infer_ms = Vec::with_capacity(plan.steps);
    for i in 0..plan.warmup + plan.steps {
        let start = Instant::now();
        let logits = forward(&eval, ndim, &images, &shape, &eval_device)?;
        drop(logits);
        sync(&eval_device)?;
        if i >= plan.warmup {
            infer_ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(StepReport {
        device: device_name.to_string(),
        ndim: if ndim == Ndim::D2 { 2 } else { 3 },
        batch,
        patch: [z, y, x],
        channels,
        parameters,
        train_median_ms: median(&train_ms),
        infer_median_ms: median(&infer_ms),
        train_ms,
        infer_ms,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// Seeded random images in [0, 1) and labels (class 1 on about a third of the pixels).
fn random_batch(shape: &[usize], n_classes: usize, seed: u64) -> (Vec<f32>, Vec<i64>) {
    let n: usize = shape.iter().product();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let images = (0..n).map(|_| rng.random::<f32>()).collect();
    let pixels = n / shape[1];
    let labels = (0..pixels)
        .map(|_| if rng.random::<f32>() < 0.3 { 1 } else { rng.random_range(0..n_classes as i64) })
        .collect();
    (images, labels)
}

fn forward(
    model: &SegModel,
    ndim: Ndim,
    images: &[f32],
    shape: &[usize],
    device: &Device,
) -> Result<Tensor<5>, ModelError> {
    // Both dimensionalities come back as rank 5 (2D as z = 1) so one loss call serves both.
    match ndim {
        Ndim::D2 => {
            let x = Tensor::<4>::from_data(TensorData::new(images.to_vec(), shape.to_vec()), device);
            Ok(model.forward2d(x)?.unsqueeze_dim(2))
        }
        Ndim::D3 => {
            let x = Tensor::<5>::from_data(TensorData::new(images.to_vec(), shape.to_vec()), device);
            model.forward3d(x)
        }
    }
}

fn loss_on(loss_fn: &LossFn, logits: Tensor<5>, labels: &[i64], shape: &[usize], device: &Device) -> Tensor<1> {
    let [b, z, y, x] = match shape {
        [b, _, y, x] => [*b, 1, *y, *x],
        [b, _, z, y, x] => [*b, *z, *y, *x],
        _ => unreachable!("shapes are built above with rank 4 or 5"),
    };
    let target = Tensor::<5, Int>::from_data(TensorData::new(labels.to_vec(), [b, 1, z, y, x]), device);
    loss_fn.forward(logits, target)
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Peak resident set size of this process in MiB, where the OS reports it (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn times_a_tiny_model_on_flex() {
        let set =
            ["DATA.PATCH_SIZE=(16, 16, 1)", "MODEL.FEATURE_MAPS=[4, 8, 16]", "TRAIN.BATCH_SIZE=2"].map(String::from);
        let config = crate::config::load_str("TRAIN: {ENABLE: True}", &set).unwrap().config;
        let report = measure(&config, &Device::flex(), "flex", StepPlan { warmup: 1, steps: 2 }).unwrap();
        assert_eq!((report.train_ms.len(), report.infer_ms.len()), (2, 2));
        assert!(report.train_median_ms > 0.0 && report.infer_median_ms > 0.0);
        assert_eq!((report.batch, report.patch, report.ndim), (2, [1, 16, 16], 2));
        assert!(report.parameters > 0);
    }
}
