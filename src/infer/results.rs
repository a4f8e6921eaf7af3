//! `results/<job>/test_results_metrics.csv` (one row per test image, every IoU level) and
//! `results/<job>/metrics.json` (the same plus the summary and raw counts), written atomically.

use std::path::Path;

use super::InferError;
use super::job::TestOutcome;

/// Writes both files into `results`.
pub fn write(results: &Path, outcome: &TestOutcome) -> Result<(), InferError> {
    std::fs::create_dir_all(results).map_err(InferError::write(results))?;
    let csv_path = results.join("test_results_metrics.csv");
    crate::atomic::write(&csv_path, csv_text(outcome)).map_err(InferError::write(csv_path.clone()))?;
    let json_path = results.join("metrics.json");
    let json = serde_json::to_string_pretty(outcome).map_err(InferError::Json)?;
    crate::atomic::write(&json_path, json + "\n").map_err(InferError::write(json_path))
}

fn csv_text(outcome: &TestOutcome) -> String {
    let cell = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut text = String::from(
        "file,iou_per_patch,n_patches,iou_merge_patches,iou_post_processing,iou_full_image,iou_full_post_processing,empty\n",
    );
    for r in &outcome.images {
        let file =
            if r.file.contains([',', '"']) { format!("\"{}\"", r.file.replace('"', "\"\"")) } else { r.file.clone() };
        text.push_str(&format!(
            "{file},{},{},{},{},{},{},{}\n",
            cell(r.iou_per_patch),
            r.n_patches,
            cell(r.iou_merge_patches),
            cell(r.iou_post_processing),
            cell(r.iou_full_image),
            cell(r.iou_full_post_processing),
            r.empty
        ));
    }
    text
}
