//! A sweep's reports in `<result_dir>/<name>/sweep/`: `runs.csv`, `summary.csv` (mean, std, 95 %
//! CI over run_ids per cell), `compare.csv` (paired differences against the reference cell, the
//! first value of every axis), the charts and `report.md`. Turns the sweep's outcome into
//! [`RunRow`]s; the statistics and drawing live in [`crate::report`].

use std::path::PathBuf;

use super::driver::{SweepOutcome, sweep_dir};
use crate::report::charts::{LossCurve, box_plot, iou_per_variant, loss_curves};
use crate::report::markdown::report_md;
use crate::report::tables::{RunRow, cells, metric_values, write_compare_csv, write_runs_csv, write_summary_csv};

/// The metrics a run computed, by name (levels the run did not compute are left out, so the
/// reports carry no empty rows).
fn run_metrics(outcome: &super::exec::RunOutcome) -> Vec<(String, Option<f64>)> {
    let s = &outcome.test.summary;
    // The IoU of the masks the run wrote (D4): after post-processing when it filtered.
    let written = s.as_3d_stack_post_processing.or(s.post_processing).or(s.merge_patches).or(s.full_image);
    let all: Vec<(String, Option<f64>)> = vec![
        ("iou.written_masks".into(), written),
        ("iou.per_patch".into(), s.per_patch),
        ("iou.merge_patches".into(), s.merge_patches),
        ("iou.post_processing".into(), s.post_processing),
        ("iou.full_image".into(), s.full_image),
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
                    [row.train_key, row.infer_key, row.evaluate_key] = stages.keys.clone().map(|k| k.key);
                    [row.train_cached, row.infer_cached, row.evaluate_cached] = stages.cached;
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

/// Writes every report of `sweep`; returns the report folder.
pub fn write_reports(sweep: &SweepOutcome) -> anyhow::Result<PathBuf> {
    let dir = sweep_dir(&sweep.manifest).join("sweep");
    std::fs::create_dir_all(&dir)?;
    crate::atomic::remove_stale_temporaries(&dir);
    let rows = run_rows(sweep);
    write_runs_csv(&dir.join("runs.csv"), &rows)?;
    let summaries = write_summary_csv(&dir.join("summary.csv"), &rows)?;
    let cell_names = cells(&rows);
    let reference = cell_names.first().cloned().unwrap_or_default();
    let compare =
        if cell_names.len() > 1 { write_compare_csv(&dir.join("compare.csv"), &rows, &reference)? } else { Vec::new() };
    let metric = "iou.written_masks";
    let per_cell: Vec<(String, Vec<(u64, f64)>)> =
        cell_names.iter().map(|c| (c.clone(), metric_values(&rows, c, metric))).collect();
    iou_per_variant(&dir.join("iou_per_variant.png"), metric, &per_cell)?;
    let mut seen = std::collections::BTreeSet::new();
    let curves: Vec<LossCurve> = sweep
        .runs
        .iter()
        .filter_map(|run| run.result.as_ref().ok().map(|o| (run, o)))
        .filter(|(_, o)| seen.insert(o.stages.keys[0].key.clone()))
        .map(|(run, o)| {
            (
                format!("run_id {}", run.spec.run_id),
                o.train.rows.iter().map(|r| (r.epoch, r.train_loss, r.val_loss)).collect(),
            )
        })
        .collect();
    loss_curves(&dir.join("loss_curves.png"), &curves)?;
    let per_image: Vec<(String, Vec<f64>)> = cell_names
        .iter()
        .map(|c| {
            let values = sweep
                .runs
                .iter()
                .filter(|r| &r.spec.cell_name == c)
                .filter_map(|r| r.result.as_ref().ok())
                .flat_map(|o| o.test.images.iter().filter_map(|i| i.iou_merge_patches.or(i.iou_full_image)))
                .collect();
            (c.clone(), values)
        })
        .collect();
    box_plot(&dir.join("per_image_iou.png"), metric, &per_image)?;
    let charts = [
        ("IoU per variant", "iou_per_variant.png"),
        ("Loss curves", "loss_curves.png"),
        ("Per-image IoU", "per_image_iou.png"),
    ]
    .map(|(label, file)| (label.to_string(), PathBuf::from(file)));
    let title = format!("Sweep `{}`", sweep.manifest.name);
    crate::atomic::write(&dir.join("report.md"), report_md(&title, &summaries, &compare, &charts))?;
    Ok(dir)
}
