//! `segsweep run`, BiaPy's job: train (if `TRAIN.ENABLE`), reload the best checkpoint, test (if
//! `TEST.ENABLE`), print the RESULTS block of spec §10.4 with BiaPy's line texts, and
//! `FINISHED JOB <name>_<run_id> !!`; with `MODEL.BMZ.EXPORT.ENABLE`, the BioImage Model Zoo
//! package of the trained model in `results/<job>/BMZ_files/`. Composes the `train`, `infer` and
//! `export` stages; owns no algorithm.

use std::io::Write;

use anyhow::Context;

use burn::prelude::Device;

use crate::config::Config;
use crate::device::RunDevice;
use crate::infer::{TestOutcome, test_job};
use crate::layout::RunLayout;
use crate::model::{ModelSpec, SegModel};
use crate::train::checkpoint::load_best;
use crate::train::job::{hms, write_config};
use crate::train::{TrainOutcome, train_job};

/// What a run produced.
pub struct RunOutcome {
    pub train: Option<TrainOutcome>,
    pub test: Option<TestOutcome>,
}

/// Runs the job of `config` as run `run_id` into `layout`.
pub fn run_job(
    config: &Config,
    layout: &RunLayout,
    run_id: u64,
    device: &RunDevice,
    out: &mut dyn Write,
) -> anyhow::Result<RunOutcome> {
    let imported;
    let config = if config.model.source == "bmz" {
        imported = import_bmz(config, layout, out)?;
        &imported
    } else {
        config
    };
    let bmz = config.model.bmz.export.enable;
    if bmz {
        // Before hours of training, not after.
        let missing = crate::export::bmz::metadata::missing_fields(&config.model.bmz.export);
        if !missing.is_empty() {
            return Err(crate::export::bmz::ExportError::Metadata(missing).into());
        }
    }
    if !config.train.enable {
        write_config(config, &layout.config_file())?;
    }
    let train = if config.train.enable { Some(train_job(config, layout, run_id, device, out)?) } else { None };
    let test = if config.test.enable {
        let model = trained_model(config, layout, &device.device, out)?;
        Some(test_job(config, layout, &model, device, out)?)
    } else {
        None
    };
    print_results(config, train.as_ref(), test.as_ref(), out);
    if bmz {
        export_bmz(config, layout, out)?;
    }
    writeln!(out, "FINISHED JOB {} !!", layout.job_id).ok();
    Ok(RunOutcome { train, test })
}

/// `MODEL.SOURCE: bmz`: the package's network, normalisation and weights (written to
/// `results/<job>/bmz_source/weights.pth`) in place of the config's.
fn import_bmz(config: &Config, layout: &RunLayout, out: &mut dyn Write) -> anyhow::Result<Config> {
    use crate::export::bmz::import;
    let package = std::path::Path::new(&config.model.bmz.source_model_id);
    let imported = import::open(package, config)?;
    let weights = layout.result("bmz_source").join("weights.pth");
    if let Some(dir) = weights.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    crate::atomic::write(&weights, &imported.weights).with_context(|| format!("writing `{}`", weights.display()))?;
    let keys: Vec<String> = imported.overrides.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(out, "[BMZ] `{}` from `{}`: {}", imported.name, package.display(), keys.join(", ")).ok();
    Ok(import::apply(config, &imported, &weights)?)
}

/// Writes the run's BioImage Model Zoo package to `results/<job>/BMZ_files/<MODEL_NAME>.zip`.
fn export_bmz(config: &Config, layout: &RunLayout, out: &mut dyn Write) -> anyhow::Result<()> {
    use crate::export::bmz;
    let name: String = config
        .model
        .bmz
        .export
        .model_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    let path = layout.result("BMZ_files").join(format!("{name}.zip"));
    // The sample is predicted on the CPU (flex), whatever device trained the model.
    let model = trained_model(config, layout, &Device::flex(), &mut std::io::sink())?;
    let sample = bmz::sample::make(config, &model)?;
    let written = bmz::write_package(&path, config, &model, &sample)?;
    writeln!(out, "BioImage Model Zoo package: {} ({})", path.display(), written.files.join(", ")).ok();
    if let Some(why) = written.no_torch {
        writeln!(out, "No PyTorch weights in the package (ONNX only): {why}").ok();
    }
    Ok(())
}

/// The model to test: the run's best checkpoint after training, or `MODEL.LOAD_CHECKPOINT`'s
/// (`PATHS.CHECKPOINT_FILE`, else the job's best checkpoint; with `MODEL.SKIP_UNMATCHED_LAYERS`
/// the tensors that do not fit are skipped, each with a line to `out`).
fn trained_model(
    config: &Config,
    layout: &RunLayout,
    device: &Device,
    out: &mut dyn Write,
) -> anyhow::Result<SegModel> {
    let file = &config.paths.checkpoint_file;
    if config.train.enable || file.is_empty() {
        return Ok(load_best(config, layout, device)?);
    }
    let model = SegModel::try_new(&ModelSpec::from_config(config)?, device)?;
    let path = crate::train::interop::resolve(file.as_ref());
    let (model, skipped) = crate::train::interop::load_with(&path, model, config.model.skip_unmatched_layers)?;
    for line in skipped {
        writeln!(out, "{line}").ok();
    }
    Ok(model)
}

/// BiaPy's RESULTS block (spec §10.4); the test lines only with ground truth.
pub fn print_results(config: &Config, train: Option<&TrainOutcome>, test: Option<&TestOutcome>, out: &mut dyn Write) {
    let mut lines = vec!["#############".to_string(), "#  RESULTS  #".into(), "#############".into()];
    lines.push("The values below represent the averages across all test samples".into());
    if let Some(t) = train {
        let min_loss = t.rows.iter().map(|r| r.train_loss).fold(f64::INFINITY, f64::min);
        let max_iou = t.rows.iter().map(|r| r.train_iou).fold(f64::NEG_INFINITY, f64::max);
        lines.push(format!("Epoch number: {}", t.rows.len()));
        lines.push(format!("Train time (s): {}", hms(t.seconds)));
        lines.push(format!("Train loss: {min_loss}"));
        lines.push(format!("Train Foreground IoU: {max_iou}"));
        lines.push(format!("Validation loss: {}", t.best_val_loss));
        lines.push(format!("Validation Foreground IoU: {}", t.best_val_iou));
    }
    if let Some(test) = test.filter(|_| config.data.test.with_gt()) {
        let value = |v: Option<f64>| v.map_or("nan (every image skipped as empty)".to_string(), |v| v.to_string());
        let s = &test.summary;
        if s.full_image.is_some() {
            // By chunks there are patches as well as the whole volume.
            if s.per_patch.is_some() {
                lines.push(format!("Test Foreground IoU (per patch): {}", value(s.per_patch)));
            }
            lines.push(format!("Test Foreground IoU (per image): {}", value(s.full_image)));
        } else {
            // Re-used probabilities were not predicted, so there are no patches to measure.
            if !config.test.reuse_predictions {
                lines.push(format!("Test Foreground IoU (per patch): {}", value(s.per_patch)));
            }
            lines.push(format!("Test Foreground IoU (merge patches): {}", value(s.merge_patches)));
        }
        if s.post_processing.is_some() {
            lines.push(format!("Test Foreground IoU (merge patches - post-processing): {}", value(s.post_processing)));
        }
        if s.full_post_processing.is_some() {
            lines.push(format!("Test Foreground IoU (per image - post-processing): {}", value(s.full_post_processing)));
        }
        if s.as_3d_stack_post_processing.is_some() {
            lines.push(format!(
                "Test Foreground IoU (as 3D stack - post-processing): {}",
                value(s.as_3d_stack_post_processing)
            ));
        }
        if s.n_empty > 0 {
            lines.push(format!(
                "Empty test images (no foreground in truth or prediction): {} of {} (TEST.EMPTY_IOU: {:?})",
                s.n_empty, s.n_images, config.test.empty_iou
            ));
        }
    }
    for line in lines {
        writeln!(out, "{line}").ok();
    }
}
