//! The epoch loop (spec §8.4–8.6, D9): train over the shuffled batches, validate, keep the best
//! checkpoint by validation loss, stop early after `TRAIN.PATIENCE` epochs without improvement,
//! write the log row and the resume point after every epoch, and resume a killed training from
//! its last finished epoch. Reads top to bottom; the pieces live in the sibling modules.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::checkpoint::{Checkpoints, RESUME_VERSION, ResumeState};
use super::contrast::{ContrastLoss, ContrastSettings};
use super::cycled::MomentumDial;
use super::error::TrainError;
use super::loader::{epoch_order, spawn_batches};
use super::log::{EpochRow, draw_charts, write_csv};
use super::loss::LossFn;
use super::optim::optimizer;
use super::pred_samples::Preview;
use super::samples::SampleSet;
use super::schedule::LrSchedule;
use super::seed::derive;
use super::step::{forward, forward_with};
use super::tensorboard::EventWriter;
use crate::config::Config;
use crate::layout::RunLayout;
use crate::metrics::{iou, mean_skipping};
use crate::model::{ModelSpec, SegModel};

/// How to run a training.
pub struct TrainOptions {
    /// The effective seed (D11).
    pub seed: u64,
    /// The device, with autodiff.
    pub device: Device,
    /// Hash of everything that defines the training; a resume point must match it.
    pub fingerprint: String,
    /// Show a progress bar on stderr (only on a terminal).
    pub progress: bool,
}

/// What a finished training reports (spec §10.4).
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub rows: Vec<EpochRow>,
    pub best_epoch: usize,
    pub best_val_loss: f64,
    pub best_val_iou: f64,
    pub seconds: f64,
    pub best_checkpoint: std::path::PathBuf,
    pub resumed_from: Option<usize>,
}

/// What every training and validation pass of one training shares.
struct EpochContext<'a> {
    loss_fn: &'a LossFn,
    batch_size: usize,
    device: &'a Device,
    show_progress: bool,
    /// The optimiser's momentum / β₁ when the schedule moves it (`onecycle`).
    momentum: Option<&'a MomentumDial>,
}

/// Trains the model of `config` on the sets built by [`super::setup::build_sets`].
pub fn train(
    config: &Config,
    layout: &RunLayout,
    sets: (SampleSet, SampleSet),
    options: &TrainOptions,
    out: &mut dyn Write,
) -> Result<TrainOutcome, TrainError> {
    let (train_set, val_set) = (Arc::new(sets.0), Arc::new(sets.1));
    let batch_size = config.train.batch_size;
    let checkpoints = Checkpoints::of(layout, config);
    let loss_fn = LossFn::from_config(config);
    let schedule = LrSchedule::from_config(&config.train, train_set.len().div_ceil(batch_size));
    let dial = schedule.momentum(0, 0).map(MomentumDial::new);
    let context = EpochContext {
        loss_fn: &loss_fn,
        batch_size,
        device: &options.device,
        show_progress: options.progress,
        momentum: dial.as_ref(),
    };
    let mut contrast = ContrastSettings::from_config(config, train_set.len().div_ceil(batch_size)).map(|settings| {
        writeln!(
            out,
            "Contrastive loss: memory bank of {} rows per class and queue; the term joins the loss from iteration {}",
            settings.memory_size,
            settings.start_iteration + 1
        )
        .ok();
        ContrastLoss::new(settings, options.seed, &options.device)
    });
    let model = seeded_model(config, options)?;
    let (mut model, mut optim, mut state, resumed_from) =
        start_or_resume(config, &checkpoints, options, (schedule, dial.as_ref()), model, out)?;
    let epochs = config.train.epochs;
    let train_logs = layout.result("train_logs");
    let charts = layout.result("charts");
    for dir in [&train_logs, &charts] {
        std::fs::create_dir_all(dir).map_err(TrainError::write(dir))?;
    }
    let tensorboard = layout.result("tensorboard");
    let mut events = EventWriter::create(&tensorboard).map_err(TrainError::write(&tensorboard))?;
    let preview = Preview::start(config, &val_set, &layout.result("train_pred_samples"), out)?;
    while state.epochs_done < epochs {
        let epoch = state.epochs_done;
        let epoch_start = Instant::now();
        let (trained, train) = train_epoch(
            model,
            &mut optim,
            (&train_set, contrast.as_mut()),
            &state.schedule,
            epoch,
            &context,
            &mut events,
        )?;
        model = trained;
        let (train_loss, train_iou, lr) = (train.loss, train.iou, train.lr);
        let validation_start = Instant::now();
        let (val_loss, val_iou) = validate(&model, &val_set, &context)?;
        let validation_seconds = validation_start.elapsed().as_secs_f64();
        for (tag, value) in [("perf/val_loss", val_loss), ("perf/val_iou", val_iou)] {
            events.scalar(tag, value, epoch as i64 + 1).map_err(TrainError::write(events.path()))?;
        }
        if let Some(new_lr) = state.schedule.end_of_epoch(val_loss) {
            writeln!(out, "Reducing learning rate to {new_lr:e}").ok();
        }
        let row = EpochRow {
            epoch: epoch + 1,
            train_loss,
            train_iou,
            val_loss,
            val_iou,
            lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
            steps: train.steps,
            data_wait_seconds: train.data_wait_seconds,
            validation_seconds,
        };
        writeln!(out, "Epoch {}/{epochs}\n[Train] averaged stats: loss: {train_loss:.6} IoU: {train_iou:.6} lr: {lr:e}\n[Val] averaged stats: loss: {val_loss:.6} IoU: {val_iou:.6}", epoch + 1).ok();
        let stop = end_of_epoch(config, &checkpoints, &model, row, &mut state, out)?;
        if let Some(preview) = &preview {
            // The last epoch is the one training stops after, early or not.
            preview.after_epoch(&model, epoch, if stop { epoch + 1 } else { epochs }, &options.device)?;
        }
        state.train_seconds += epoch_start.elapsed().as_secs_f64();
        write_csv(&train_logs.join(format!("{}_train_log.csv", layout.job_id)), &state.rows)
            .map_err(TrainError::write(&train_logs))?;
        let chart_freq = config.log.chart_creation_freq.max(1) as usize;
        if (epoch + 1) % chart_freq == 0 || epoch + 1 == epochs || stop {
            draw_charts(&charts, &layout.job_id, &state.rows)?;
        }
        checkpoints.save_resume(&model, &optim, &mut state)?;
        if stop {
            writeln!(out, "Early stopping").ok();
            break;
        }
    }
    draw_charts(&charts, &layout.job_id, &state.rows)?;
    finish(state, checkpoints, resumed_from)
}

/// The network of `config` with the initial weights of the run's seed. burn seeds its random
/// generator per process, not per model: seeding and initialising happen under one lock, so
/// trainings running side by side (`sweep --jobs`) still get exactly the weights of their seed.
fn seeded_model(config: &Config, options: &TrainOptions) -> Result<SegModel, TrainError> {
    let spec = ModelSpec::from_config(config)?;
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    options.device.seed(derive(options.seed, "init", &[]));
    let model = SegModel::try_new(&spec, &options.device)?;
    // Parameters initialise lazily, on first use; reading them all here draws the random numbers
    // while the lock is held (clones share the initialisation).
    let _ = model.clone().into_record();
    Ok(model)
}

/// The model, optimiser and state to start from: a killed training's resume point when its
/// fingerprint matches, else a fresh state (with `MODEL.LOAD_CHECKPOINT`'s weights when set).
/// Also returns the epoch resumed from.
fn start_or_resume(
    config: &Config,
    checkpoints: &Checkpoints,
    options: &TrainOptions,
    (schedule, dial): (LrSchedule, Option<&MomentumDial>),
    model: SegModel,
    out: &mut dyn Write,
) -> Result<(SegModel, ModuleOptimizer, ResumeState, Option<usize>), TrainError> {
    let optim = optimizer(&config.train, dial);
    // Frozen after the weights are loaded, as BiaPy; a resumed model is frozen again.
    let patterns = config
        .model
        .freeze_patterns()
        .map_err(|e| TrainError::Setting(format!("`MODEL.FREEZE_LAYERS_MATCHING`: {e}")))?;
    if let Some(saved) = checkpoints.load_resume()?.filter(|saved| saved.fingerprint == options.fingerprint) {
        let (model, optim) = checkpoints.restore(&saved, model, optim)?;
        let model = super::freeze::freeze(model, &patterns, out);
        writeln!(out, "Resuming training from epoch {} ({})", saved.epochs_done, checkpoints.resume_file().display())
            .ok();
        let resumed_from = Some(saved.epochs_done);
        return Ok((model, optim, saved, resumed_from));
    }
    let model = if config.model.load_checkpoint { load_pretrained(config, checkpoints, model, out)? } else { model };
    let model = super::freeze::freeze(model, &patterns, out);
    let fresh = ResumeState {
        version: RESUME_VERSION,
        fingerprint: options.fingerprint.clone(),
        epochs_done: 0,
        best_val_loss: None,
        best_val_iou: None,
        best_epoch: None,
        bad_epochs: 0,
        schedule,
        rows: Vec::new(),
        train_seconds: 0.0,
        model_file: String::new(),
        optim_file: String::new(),
    };
    Ok((model, optim, fresh, None))
}

/// What a training pass measured.
struct EpochStats {
    loss: f64,
    iou: f64,
    /// Mean learning rate over the steps.
    lr: f64,
    /// Batches seen (skipped ones included).
    steps: usize,
    /// Seconds the steps spent blocked on the batch loader.
    data_wait_seconds: f64,
}

/// One pass over the shuffled training batches; returns the model and the epoch's means.
/// Batches whose loss is not finite are skipped (and said so); an epoch where every batch is
/// skipped is an error.
fn train_epoch(
    mut model: SegModel,
    optim: &mut ModuleOptimizer,
    (set, mut contrast): (&Arc<SampleSet>, Option<&mut ContrastLoss>),
    schedule: &LrSchedule,
    epoch: usize,
    context: &EpochContext,
    events: &mut EventWriter,
) -> Result<(SegModel, EpochStats), TrainError> {
    let EpochContext { loss_fn, batch_size, device, show_progress, momentum } = *context;
    let order = epoch_order(set.len(), true, set.seed, epoch);
    let n_batches = order.len().div_ceil(batch_size);
    let bar = super::progress::epoch_bar(n_batches, epoch + 1, show_progress);
    let batches = spawn_batches(Arc::clone(set), order, batch_size, epoch);
    let (mut loss_sum, mut iou_sum, mut lr_sum, mut n_ok, mut n_skipped) = (0.0, 0.0, 0.0, 0usize, 0usize);
    let mut data_wait = std::time::Duration::ZERO;
    let mut waiting_since = Instant::now();
    for (step, batch) in batches.into_iter().enumerate() {
        data_wait += waiting_since.elapsed();
        let batch = batch?;
        let lr = schedule.lr(epoch, step);
        let iteration = epoch * n_batches + step;
        let fwd = forward_with(&model, &batch, loss_fn, contrast.as_deref_mut().map(|c| (c, iteration)), device)?;
        let loss_value = f64::from(fwd.loss.clone().into_scalar::<f32>());
        lr_sum += lr;
        bar.inc(1);
        if !loss_value.is_finite() {
            n_skipped += 1;
            bar.println(format!("warning: epoch {}, batch {}: non-finite loss, batch skipped", epoch + 1, step + 1));
            waiting_since = Instant::now();
            continue;
        }
        let grads = GradientsParams::from_grads(fwd.loss.backward(), &model);
        let beta = momentum.zip(schedule.momentum(epoch, step));
        if let Some((dial, value)) = beta {
            dial.set(value);
        }
        model = optim.step(lr, model, grads);
        let global_step = iteration as i64;
        let momentum_row = beta.map(|(_, value)| ("opt/momentum", value));
        for (tag, value) in [("loss/loss", loss_value), ("opt/lr", lr)].into_iter().chain(momentum_row) {
            events.scalar(tag, value, global_step).map_err(TrainError::write(events.path()))?;
        }
        loss_sum += loss_value;
        iou_sum += iou(&fwd.counts, crate::config::EmptyIou::Zero).unwrap_or(0.0);
        n_ok += 1;
        waiting_since = Instant::now();
    }
    bar.finish_and_clear();
    if n_ok == 0 {
        return Err(TrainError::NonFinite { epoch: epoch + 1, n_batches: n_skipped });
    }
    let n = n_ok as f64;
    let stats = EpochStats {
        loss: loss_sum / n,
        iou: iou_sum / n,
        lr: lr_sum / (n_ok + n_skipped) as f64,
        steps: n_ok + n_skipped,
        data_wait_seconds: data_wait.as_secs_f64(),
    };
    Ok((model, stats))
}

/// Mean loss and mean IoU over the validation batches, without gradients or dropout.
fn validate(model: &SegModel, set: &Arc<SampleSet>, context: &EpochContext) -> Result<(f64, f64), TrainError> {
    let EpochContext { loss_fn, batch_size, device, .. } = *context;
    let eval = model.valid();
    let eval_device = device.clone().without_autodiff();
    let order = epoch_order(set.len(), false, set.seed, 0);
    let (mut losses, mut ious) = (Vec::new(), Vec::new());
    for batch in spawn_batches(Arc::clone(set), order, batch_size, 0) {
        let fwd = forward(&eval, &batch?, loss_fn, &eval_device)?;
        losses.push(f64::from(fwd.loss.into_scalar::<f32>()));
        ious.push(iou(&fwd.counts, crate::config::EmptyIou::Zero));
    }
    let mean_loss = losses.iter().sum::<f64>() / losses.len().max(1) as f64;
    Ok((mean_loss, mean_skipping(&ious).0.unwrap_or(0.0)))
}

/// Best checkpoint, periodic checkpoint, early-stopping counter; returns true to stop.
fn end_of_epoch(
    config: &Config,
    checkpoints: &Checkpoints,
    model: &SegModel,
    row: EpochRow,
    state: &mut ResumeState,
    out: &mut dyn Write,
) -> Result<bool, TrainError> {
    let epoch = row.epoch;
    let improved = state.best_val_loss.is_none_or(|best| row.val_loss < best);
    if improved {
        let best = checkpoints.best();
        match state.best_val_loss {
            Some(old) => writeln!(
                out,
                "Val loss improved from {old:.6} to {:.6}, saving model to {}",
                row.val_loss,
                best.display()
            )
            .ok(),
            None => writeln!(out, "Val loss {:.6}, saving model to {}", row.val_loss, best.display()).ok(),
        };
        checkpoints.save_weights(&best, model, config, None)?;
        (state.best_val_loss, state.best_val_iou, state.best_epoch, state.bad_epochs) =
            (Some(row.val_loss), Some(row.val_iou), Some(epoch), 0);
    } else {
        state.bad_epochs += 1;
    }
    let freq = config.model.save_ckpt_freq;
    if freq > 0 && (epoch.is_multiple_of(freq as usize) || epoch == config.train.epochs) {
        checkpoints.save_weights(&checkpoints.periodic(epoch), model, config, Some(epoch))?;
    }
    writeln!(
        out,
        "[Val] best loss: {:.6} best IoU: {:.6}",
        state.best_val_loss.unwrap_or(f64::NAN),
        state.best_val_iou.unwrap_or(f64::NAN)
    )
    .ok();
    state.rows.push(row);
    state.epochs_done = epoch;
    let patience = config.train.patience;
    if patience > 0 && !improved {
        writeln!(out, "EarlyStopping counter: {} out of {patience}", state.bad_epochs).ok();
    }
    Ok(patience > 0 && state.bad_epochs >= patience as usize)
}

/// `MODEL.LOAD_CHECKPOINT` for fine-tuning: `PATHS.CHECKPOINT_FILE` (safetensors, BiaPy `.pth` or
/// `.bpk`; BiaPy's extension rule) or this job's best checkpoint; with
/// `MODEL.SKIP_UNMATCHED_LAYERS` the tensors that do not fit are skipped, each with a line.
fn load_pretrained(
    config: &Config,
    checkpoints: &Checkpoints,
    model: SegModel,
    out: &mut dyn Write,
) -> Result<SegModel, TrainError> {
    let file = &config.paths.checkpoint_file;
    let path = if file.is_empty() { checkpoints.best() } else { super::interop::resolve(file.as_ref()) };
    let (model, skipped) = super::interop::load_with(&path, model, config.model.skip_unmatched_layers)?;
    for line in skipped {
        writeln!(out, "{line}").ok();
    }
    Ok(model)
}

fn finish(
    state: ResumeState,
    checkpoints: Checkpoints,
    resumed_from: Option<usize>,
) -> Result<TrainOutcome, TrainError> {
    checkpoints.clear_resume();
    Ok(TrainOutcome {
        best_epoch: state.best_epoch.unwrap_or(0),
        best_val_loss: state.best_val_loss.unwrap_or(f64::NAN),
        best_val_iou: state.best_val_iou.unwrap_or(f64::NAN),
        seconds: state.train_seconds,
        best_checkpoint: checkpoints.best(),
        rows: state.rows,
        resumed_from,
    })
}
