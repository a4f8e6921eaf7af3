//! A sweep's reports in `<result_dir>/<name>/sweep/`: `runs.csv`, `summary.csv` (mean, std, 95 %
//! CI over run_ids per cell), `compare.csv` (paired differences against the reference cell, the
//! first value of every axis), the charts, `report.md` and `report.html` (with the gate's
//! verdict), and TensorBoard's HParams view of the grid (`tensorboard/`). Turns the sweep's outcome into
//! [`RunRow`]s; the statistics and drawing live in [`crate::report`].

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::driver::{SweepOutcome, sweep_dir};
use super::manifest::Manifest;
use crate::report::charts::{LossCurve, box_plot, iou_per_variant, loss_curves};
use crate::report::gate::{Baseline, GateRow, compare};
use crate::report::html::{GateView, HtmlChart, HtmlReport, report_html};
use crate::report::markdown::report_md;
use crate::report::tables::{
    RunRow, cells, metric_values, write_compare_csv, write_csv, write_runs_csv, write_summary_csv,
};

/// The metric every report leads with and every chart draws: the IoU of the masks the run
/// wrote ([`crate::infer::job::TestSummary::written_masks`]).
pub const HEADLINE: &str = "iou.written_masks";

/// The metrics a run computed, by name (levels the run did not compute are left out, so the
/// reports carry no empty rows).
fn run_metrics(outcome: &super::exec::SweepRunOutcome) -> Vec<(String, Option<f64>)> {
    let s = &outcome.test.summary;
    let all: Vec<(String, Option<f64>)> = vec![
        (HEADLINE.into(), s.written_masks()),
        ("iou.per_patch".into(), s.per_patch),
        ("iou.merge_patches".into(), s.merge_patches),
        ("iou.post_processing".into(), s.post_processing),
        ("iou.full_image".into(), s.full_image),
        ("iou.full_post_processing".into(), s.full_post_processing),
        ("iou.as_3d_stack_post_processing".into(), s.as_3d_stack_post_processing),
        ("val.iou".into(), Some(outcome.train.best_val_iou)),
        ("val.loss".into(), Some(outcome.train.best_val_loss)),
    ];
    all.into_iter().filter(|(_, value)| value.is_some()).collect()
}

/// One row per run of the sweep.
pub fn run_rows(sweep: &SweepOutcome) -> Vec<RunRow> {
    sweep
        .runs
        .iter()
        .map(|run| {
            let axes = run.spec.cell.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
            let mut row = RunRow {
                cell: run.spec.cell_name.clone(),
                run_id: run.spec.run_id,
                axes,
                seed: 0,
                train_key: String::new(),
                infer_key: String::new(),
                evaluate_key: String::new(),
                train_cached: false,
                infer_cached: false,
                evaluate_cached: false,
                status: "ok".into(),
                metrics: Vec::new(),
                epochs: None,
                best_epoch: None,
                train_seconds: None,
                infer_seconds: None,
            };
            match &run.result {
                Ok(outcome) => {
                    let stages = &outcome.stages;
                    row.seed = stages.seed;
                    [row.train_key, row.infer_key, row.evaluate_key] =
                        [&stages.keys.train, &stages.keys.infer, &stages.keys.evaluate].map(|k| k.key.clone());
                    [row.train_cached, row.infer_cached, row.evaluate_cached] =
                        [stages.cached.train, stages.cached.infer, stages.cached.evaluate];
                    row.metrics = run_metrics(outcome);
                    row.epochs = Some(outcome.train.rows.len());
                    row.best_epoch = Some(outcome.train.best_epoch);
                    row.train_seconds = Some(outcome.train.seconds);
                    row.infer_seconds = Some(outcome.test.seconds);
                }
                Err(error) => row.status = format!("failed: {error}"),
            }
            row
        })
        .collect()
}

/// Writes every report of `sweep`; returns the report folder. The reports are written into a
/// new folder that then replaces the old one, so a failed write (a full disk) or a kill leaves
/// the previous complete set of reports, never a mix of old and new.
pub fn write_reports(sweep: &SweepOutcome) -> anyhow::Result<PathBuf> {
    let parent = sweep_dir(&sweep.manifest);
    let dir = parent.join("sweep");
    std::fs::create_dir_all(&parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    remove_stale_folders(&parent);
    let new = parent.join(format!(".sweep-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&new);
    std::fs::create_dir_all(&new).with_context(|| format!("cannot create `{}`", new.display()))?;
    if let Err(error) = write_all(sweep, &new) {
        let _ = std::fs::remove_dir_all(&new);
        return Err(error);
    }
    replace_folder(&parent, &new, &dir)?;
    Ok(dir)
}

/// Removes the report folders a killed sweep left (`.sweep-new-<pid>`, `.sweep.old-<pid>`).
fn remove_stale_folders(parent: &Path) {
    for entry in std::fs::read_dir(parent).into_iter().flatten().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix(".sweep-new-").or_else(|| name.strip_prefix(".sweep.old-"));
        if pid.and_then(|p| p.parse().ok()).is_some_and(|pid| !crate::atomic::process_alive(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Puts the folder `new` in the place of `dir` under the claim `.sweep.claim` (two sweeps of one
/// manifest may finish at once, on different machines), old folder aside first
/// ([`crate::atomic::replace_dir`]).
fn replace_folder(parent: &Path, new: &Path, dir: &Path) -> anyhow::Result<()> {
    let claim_path = parent.join(".sweep.claim");
    let _claim = crate::sweep::claim::Claim::acquire(&claim_path, &Default::default())
        .with_context(|| format!("cannot claim `{}`", claim_path.display()))?;
    crate::atomic::replace_dir(new, dir)
        .with_context(|| format!("cannot rename `{}` to `{}`", new.display(), dir.display()))
}

/// Draws every chart of the sweep and writes, beside each, the exact numbers it draws as CSV
/// with the same base name (so a chart can be checked and re-plotted elsewhere); returns the
/// charts for `report.md`. Each chart and its CSV are made from one list of values.
fn write_charts(
    sweep: &SweepOutcome,
    rows: &[RunRow],
    cell_names: &[String],
    dir: &Path,
) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let metric = HEADLINE;
    let per_cell: Vec<(String, Vec<(u64, f64)>)> =
        cell_names.iter().map(|c| (c.clone(), metric_values(rows, c, metric))).collect();
    let numbers = per_cell.iter().flat_map(|(cell, values)| {
        values.iter().map(move |(run_id, v)| vec![cell.clone(), run_id.to_string(), metric.into(), v.to_string()])
    });
    write_numbers(dir, "iou_per_variant", &["cell", "run_id", "metric", "value"], numbers)?;
    iou_per_variant(&dir.join("iou_per_variant.png"), metric, &per_cell)?;

    let curves = training_curves(sweep);
    let numbers = curves.iter().flat_map(|curve| {
        curve.rows.iter().map(|(epoch, train, val)| {
            vec![curve.label.clone(), curve.train_key.clone(), epoch.to_string(), train.to_string(), val.to_string()]
        })
    });
    write_numbers(dir, "loss_curves", &["training", "train_key", "epoch", "train_loss", "val_loss"], numbers)?;
    let curves: Vec<LossCurve> = curves.into_iter().map(|c| (c.label, c.rows)).collect();
    loss_curves(&dir.join("loss_curves.png"), &curves)?;

    let per_image = per_image_values(sweep);
    let numbers = per_image
        .iter()
        .map(|v| vec![v.cell.clone(), v.run_id.to_string(), v.image.clone(), metric.into(), v.value.to_string()]);
    write_numbers(dir, "per_image_iou", &["cell", "run_id", "image", "metric", "value"], numbers)?;
    let boxes: Vec<(String, Vec<f64>)> = cell_names
        .iter()
        .map(|c| (c.clone(), per_image.iter().filter(|v| &v.cell == c).map(|v| v.value).collect()))
        .collect();
    box_plot(&dir.join("per_image_iou.png"), metric, &boxes)?;
    Ok([
        (format!("{metric} per variant"), "iou_per_variant.png"),
        ("Loss curves".to_string(), "loss_curves.png"),
        (format!("{metric} per image"), "per_image_iou.png"),
    ]
    .map(|(label, file)| (label, PathBuf::from(file)))
    .to_vec())
}

/// Writes `<stem>.csv` in `dir`: the header, then one record per item of `rows`.
fn write_numbers(
    dir: &Path,
    stem: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> anyhow::Result<()> {
    let path = dir.join(format!("{stem}.csv"));
    let records: Vec<Vec<String>> =
        std::iter::once(header.iter().map(|h| h.to_string()).collect()).chain(rows).collect();
    write_csv(&path, &records).with_context(|| format!("cannot write `{}`", path.display()))
}

/// One test image's value of the headline metric in one run.
struct ImageValue {
    cell: String,
    run_id: u64,
    image: String,
    value: f64,
}

/// The headline metric of every test image of every finished run, in grid order: per image
/// the same level as the run's headline ([`crate::infer::job::ImageResult::written_masks`]).
fn per_image_values(sweep: &SweepOutcome) -> Vec<ImageValue> {
    let mut values = Vec::new();
    for run in &sweep.runs {
        let Ok(outcome) = &run.result else { continue };
        for image in &outcome.test.images {
            if let Some(value) = image.written_masks().filter(|v| v.is_finite()) {
                let (cell, run_id) = (run.spec.cell_name.clone(), run.spec.run_id);
                values.push(ImageValue { cell, run_id, image: image.file.clone(), value });
            }
        }
    }
    values
}

/// One training's loss curve for the chart and its CSV.
struct TrainingCurve {
    /// The first cell and run_id that use the training.
    label: String,
    train_key: String,
    /// `(epoch, train loss, validation loss)`.
    rows: Vec<(usize, f64, f64)>,
}

/// Each training of the sweep once (cells that share a train key share its curves).
fn training_curves(sweep: &SweepOutcome) -> Vec<TrainingCurve> {
    let mut seen = std::collections::BTreeSet::new();
    sweep
        .runs
        .iter()
        .filter_map(|run| run.result.as_ref().ok().map(|o| (run, o)))
        .filter(|(_, o)| seen.insert(o.stages.keys.train.key.clone()))
        .map(|(run, o)| TrainingCurve {
            label: format!("{} run_id {}", run.spec.cell_name, run.spec.run_id),
            train_key: o.stages.keys.train.key.clone(),
            rows: o.train.rows.iter().map(|r| (r.epoch, r.train_loss, r.val_loss)).collect(),
        })
        .collect()
}

/// Writes the reports of `sweep` into `dir`.
fn write_all(sweep: &SweepOutcome, dir: &Path) -> anyhow::Result<()> {
    let rows = run_rows(sweep);
    let cannot = |path: &Path| format!("cannot write `{}`", path.display());
    write_runs_csv(&dir.join("runs.csv"), &rows).with_context(|| cannot(&dir.join("runs.csv")))?;
    let summaries =
        write_summary_csv(&dir.join("summary.csv"), &rows).with_context(|| cannot(&dir.join("summary.csv")))?;
    let cell_names = cells(&rows);
    let reference = cell_names.first().cloned().unwrap_or_default();
    let compare = if cell_names.len() > 1 {
        write_compare_csv(&dir.join("compare.csv"), &rows, &reference)
            .with_context(|| cannot(&dir.join("compare.csv")))?
    } else {
        Vec::new()
    };
    let charts = write_charts(sweep, &rows, &cell_names, dir)?;
    let title = format!("Sweep `{}`", sweep.manifest.name);
    let report = dir.join("report.md");
    crate::atomic::write(&report, report_md(&title, &summaries, &compare, &charts)).with_context(|| cannot(&report))?;
    let means: Vec<(String, String, f64)> =
        summaries.iter().map(|s| (s.cell.clone(), s.metric.clone(), s.summary.mean)).collect();
    let gate = match gate_rows(&sweep.manifest, &means) {
        Ok(None) => GateView::None,
        Ok(Some(rows)) => GateView::Rows(rows),
        Err(why) => GateView::Unchecked(format!("{why:#}")),
    };
    let charts = charts
        .iter()
        .map(|(label, file)| {
            let png = std::fs::read(dir.join(file)).with_context(|| format!("cannot read `{}`", file.display()))?;
            let csv = file.with_extension("csv").to_string_lossy().into_owned();
            Ok(HtmlChart { label: label.clone(), png, csv })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let page = HtmlReport {
        title: &title,
        headline: HEADLINE,
        summaries: &summaries,
        compare: &compare,
        runs: &rows,
        charts: &charts,
        gate: &gate,
    };
    let html = dir.join("report.html");
    crate::atomic::write(&html, report_html(&page)).with_context(|| cannot(&html))?;
    let board = dir.join("tensorboard");
    crate::report::hparams::write_hparams(&board, sweep.manifest.axes(), &rows).with_context(|| cannot(&board))?;
    Ok(())
}

/// The gate of `manifest` against the cell means `(cell, metric, mean)`: `None` when it has no
/// gate; an error naming the baseline when that is missing, unreadable or another manifest's.
pub fn gate_rows(manifest: &Manifest, means: &[(String, String, f64)]) -> anyhow::Result<Option<Vec<GateRow>>> {
    let Some(gate) = &manifest.gate else { return Ok(None) };
    // The manifest's own path stays out of the message: the reports of one sweep are the same
    // whichever file it was run from.
    let text = std::fs::read_to_string(&gate.baseline).map_err(|_| {
        anyhow::anyhow!(
            "baseline `{}` is missing; write it with `segsweep check <manifest> --update`",
            gate.baseline.display()
        )
    })?;
    let baseline = Baseline::parse(&text).with_context(|| format!("baseline `{}`", gate.baseline.display()))?;
    if baseline.manifest != manifest.name {
        anyhow::bail!(
            "baseline `{}` is for manifest `{}`, not `{}`",
            gate.baseline.display(),
            baseline.manifest,
            manifest.name
        );
    }
    let tolerances: Vec<(String, f64)> = gate.tolerance.clone().into_iter().collect();
    Ok(Some(compare(&baseline, means, &tolerances)))
}
