//! The CSV tables of a sweep (`<result_dir>/<name>/sweep/`): `runs.csv` (one row per run),
//! `summary.csv` (one row per grid cell and metric, run_ids folded) and `compare.csv` (each cell
//! against the reference cell, paired over run_ids). Each file is written atomically. Numbers are
//! written in full precision (Rust's shortest round-trip form), an absent or NaN number as an
//! empty cell. Failed runs appear in `runs.csv` but are left out of the statistics.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::stats::{PairedDiff, Summary, paired_difference, summarise};

/// One run of the grid and its numbers.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRow {
    /// The grid cell's job name (e.g. `mito-ov0.5-pad16`); runs of a cell differ only in run_id.
    pub cell: String,
    pub run_id: u64,
    /// Grid axis → value as text, run_id excluded (it has its own column).
    pub axes: Vec<(String, String)>,
    /// The effective seed of the run.
    pub seed: u64,
    /// Stage cache keys (hex sha256).
    pub train_key: String,
    pub infer_key: String,
    pub evaluate_key: String,
    /// Whether each stage came from the cache.
    pub train_cached: bool,
    pub infer_cached: bool,
    pub evaluate_cached: bool,
    /// `ok` or `failed: <message>`.
    pub status: String,
    /// Metric name → value (e.g. `iou.per_patch`, `iou.merge_patches`, `iou.post_processing`,
    /// `iou.full_image`); `None` when the run did not compute it.
    pub metrics: Vec<(String, Option<f64>)>,
    pub epochs: Option<usize>,
    pub best_epoch: Option<usize>,
    pub train_seconds: Option<f64>,
    pub infer_seconds: Option<f64>,
}

impl RunRow {
    /// Whether the run finished; only those enter the statistics.
    pub fn is_ok(&self) -> bool {
        self.status == "ok"
    }

    /// The value of `metric`, if the run has a finite one.
    pub fn metric(&self, metric: &str) -> Option<f64> {
        self.metrics.iter().find(|(name, _)| name == metric).and_then(|(_, v)| *v).filter(|v| v.is_finite())
    }
}

/// One row of `summary.csv`: the runs of one cell, one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct CellSummary {
    pub cell: String,
    pub metric: String,
    pub summary: Summary,
}

/// One row of `compare.csv`: a cell against the reference cell, one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct CellComparison {
    pub cell: String,
    pub reference: String,
    pub metric: String,
    /// `cell − reference`, paired over run_id.
    pub difference: PairedDiff,
}

/// Cells in order of first appearance.
pub fn cells(rows: &[RunRow]) -> Vec<String> {
    first_seen(rows.iter().map(|r| r.cell.as_str()))
}

/// Metric names of all runs, in order of first appearance.
pub fn metrics(rows: &[RunRow]) -> Vec<String> {
    first_seen(rows.iter().flat_map(|r| r.metrics.iter().map(|(m, _)| m.as_str())))
}

/// Axis names of all runs, in order of first appearance.
fn axes(rows: &[RunRow]) -> Vec<String> {
    first_seen(rows.iter().flat_map(|r| r.axes.iter().map(|(a, _)| a.as_str())))
}

fn first_seen<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for name in names {
        if !seen.iter().any(|s| s == name) {
            seen.push(name.to_owned());
        }
    }
    seen
}

/// `(run_id, value)` of the finished runs of `cell` that have a finite `metric`.
pub fn metric_values(rows: &[RunRow], cell: &str, metric: &str) -> Vec<(u64, f64)> {
    rows.iter().filter(|r| r.cell == cell && r.is_ok()).filter_map(|r| Some((r.run_id, r.metric(metric)?))).collect()
}

/// Whether `cell` reports `metric`: some finished run of it computed the metric, or none of its
/// runs finished (then every metric shows as n = 0, so the failure is visible). A level a cell
/// never computes (post-processing in a cell without a filter) is left out, not shown as n = 0.
fn reports(rows: &[RunRow], cell: &str, metric: &str) -> bool {
    let mut finished = rows.iter().filter(|r| r.cell == cell && r.is_ok()).peekable();
    finished.peek().is_none() || finished.any(|r| r.metrics.iter().any(|(m, _)| m == metric))
}

/// Summary of every cell × metric it reports (finished runs only), cells and metrics in
/// first-seen order.
pub fn summarise_cells(rows: &[RunRow]) -> Vec<CellSummary> {
    let metrics = metrics(rows);
    let mut out = Vec::new();
    for cell in cells(rows) {
        for metric in metrics.iter().filter(|m| reports(rows, &cell, m)) {
            let values: Vec<f64> = metric_values(rows, &cell, metric).into_iter().map(|(_, v)| v).collect();
            out.push(CellSummary { cell: cell.clone(), metric: metric.clone(), summary: summarise(&values) });
        }
    }
    out
}

/// Each cell other than `reference_cell` against it, per metric both report (finished runs only).
pub fn compare_cells(rows: &[RunRow], reference_cell: &str) -> Vec<CellComparison> {
    let metrics = metrics(rows);
    let mut out = Vec::new();
    for cell in cells(rows).into_iter().filter(|c| c != reference_cell) {
        for metric in metrics.iter().filter(|m| reports(rows, &cell, m) && reports(rows, reference_cell, m)) {
            let reference = metric_values(rows, reference_cell, metric);
            let difference = paired_difference(&reference, &metric_values(rows, &cell, metric));
            out.push(CellComparison {
                cell: cell.clone(),
                reference: reference_cell.to_owned(),
                metric: metric.clone(),
                difference,
            });
        }
    }
    out
}

/// Writes `runs.csv`: cell, run_id, each axis, seed, the three stage keys (first 12 hex
/// characters), the three cached flags, status, each metric, epochs, best_epoch, train_seconds,
/// infer_seconds.
pub fn write_runs_csv(path: &Path, rows: &[RunRow]) -> io::Result<()> {
    let (axes, metrics) = (axes(rows), metrics(rows));
    let mut header: Vec<&str> = vec!["cell", "run_id"];
    header.extend(axes.iter().map(String::as_str));
    header.extend(["seed", "train_key", "infer_key", "evaluate_key", "train_cached", "infer_cached"]);
    header.extend(["evaluate_cached", "status"]);
    header.extend(metrics.iter().map(String::as_str));
    header.extend(["epochs", "best_epoch", "train_seconds", "infer_seconds"]);
    let mut records = vec![header.iter().map(|h| h.to_string()).collect::<Vec<_>>()];
    for row in rows {
        let axis = |name: &str| row.axes.iter().find(|(a, _)| a == name).map(|(_, v)| v.clone()).unwrap_or_default();
        let mut record = vec![row.cell.clone(), row.run_id.to_string()];
        record.extend(axes.iter().map(|a| axis(a)));
        record.push(row.seed.to_string());
        record.extend([&row.train_key, &row.infer_key, &row.evaluate_key].map(|k| short_key(k)));
        record.extend([row.train_cached, row.infer_cached, row.evaluate_cached].map(|c| c.to_string()));
        record.push(row.status.clone());
        let metric = |name: &str| row.metrics.iter().find(|(m, _)| m == name).and_then(|(_, v)| *v);
        record.extend(metrics.iter().map(|m| number(metric(m))));
        record.extend([row.epochs, row.best_epoch].map(|e| e.map(|e| e.to_string()).unwrap_or_default()));
        record.extend([row.train_seconds, row.infer_seconds].map(number));
        records.push(record);
    }
    write_csv(path, &records)
}

/// Writes `summary.csv` (cell, metric, n, mean, std, min, max, ci95_low, ci95_high; failed runs
/// left out) and returns its rows.
pub fn write_summary_csv(path: &Path, rows: &[RunRow]) -> io::Result<Vec<CellSummary>> {
    let summaries = summarise_cells(rows);
    let mut records =
        vec![["cell", "metric", "n", "mean", "std", "min", "max", "ci95_low", "ci95_high"].map(String::from).to_vec()];
    for CellSummary { cell, metric, summary: s } in &summaries {
        let mut record = vec![cell.clone(), metric.clone(), s.n.to_string()];
        record.extend([s.mean, s.std, s.min, s.max, s.ci95_low, s.ci95_high].map(|v| number(Some(v))));
        records.push(record);
    }
    write_csv(path, &records)?;
    Ok(summaries)
}

/// Writes `compare.csv` (cell, reference, metric, n, mean_difference, ci95_low, ci95_high,
/// excludes_zero): each cell other than `reference_cell` against it, paired over run_id, and
/// returns its rows. An `InvalidInput` error if no run belongs to `reference_cell`.
pub fn write_compare_csv(path: &Path, rows: &[RunRow], reference_cell: &str) -> io::Result<Vec<CellComparison>> {
    if !rows.iter().any(|r| r.cell == reference_cell) {
        let message = format!("reference cell `{reference_cell}` has no runs");
        return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
    }
    let comparisons = compare_cells(rows, reference_cell);
    let header = ["cell", "reference", "metric", "n", "mean_difference", "ci95_low", "ci95_high", "excludes_zero"];
    let mut records = vec![header.map(String::from).to_vec()];
    for CellComparison { cell, reference, metric, difference: d } in &comparisons {
        let mut record = vec![cell.clone(), reference.clone(), metric.clone(), d.n.to_string()];
        record.extend([d.mean, d.ci95_low, d.ci95_high].map(|v| number(Some(v))));
        record.push(d.excludes_zero.to_string());
        records.push(record);
    }
    write_csv(path, &records)?;
    Ok(comparisons)
}

/// A stage key cut to its first 12 characters (enough to tell entries apart in a table).
fn short_key(key: &str) -> String {
    key.chars().take(12).collect()
}

/// Full precision (`{}` of f64); an absent or non-finite number is an empty cell.
fn number(value: Option<f64>) -> String {
    value.filter(|v| v.is_finite()).map(|v| v.to_string()).unwrap_or_default()
}

/// Serialises `records` (header first) and writes them atomically.
pub fn write_csv(path: &Path, records: &[Vec<String>]) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for record in records {
        writer.write_record(record)?;
    }
    let bytes = writer.into_inner().map_err(|e| io::Error::other(e.into_error()))?;
    crate::atomic::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cell: &str, run_id: u64, overlap: &str, iou: Option<f64>, status: &str) -> RunRow {
        RunRow {
            cell: cell.into(),
            run_id,
            axes: vec![("DATA.TEST.OVERLAP".into(), overlap.into())],
            seed: 42 + run_id,
            train_key: format!("{run_id:0>4}abcdef0123456789"),
            infer_key: "0123456789abcdef".into(),
            evaluate_key: "short".into(),
            train_cached: false,
            infer_cached: true,
            evaluate_cached: cell == "b",
            status: status.into(),
            metrics: vec![("iou.per_patch".into(), iou), ("iou.full_image".into(), iou.map(|v| v + 0.125))],
            epochs: iou.map(|_| 10),
            best_epoch: iou.map(|_| 7),
            train_seconds: iou.map(|_| 12.5),
            infer_seconds: iou.map(|_| 0.25),
        }
    }

    #[test]
    fn a_level_a_cell_never_computes_is_left_out_but_a_failed_cell_shows() {
        let mut rows = rows();
        rows[0].metrics.push(("iou.post_processing".into(), Some(0.5)));
        rows[1].metrics.push(("iou.post_processing".into(), Some(0.75)));
        rows.push(run("c", 1, "[0.25, 0.25]", None, "failed: disk full"));
        let pairs: Vec<(String, String, usize)> =
            summarise_cells(&rows).into_iter().map(|s| (s.cell, s.metric, s.summary.n)).collect();
        assert!(pairs.contains(&("a".into(), "iou.post_processing".into(), 2)));
        assert!(!pairs.iter().any(|(c, m, _)| c == "b" && m == "iou.post_processing"), "{pairs:?}");
        assert!(pairs.contains(&("c".into(), "iou.per_patch".into(), 0)), "a failed cell stays visible");
        let compared: Vec<(String, String)> =
            compare_cells(&rows, "a").into_iter().map(|c| (c.cell, c.metric)).collect();
        assert!(!compared.contains(&("b".into(), "iou.post_processing".into())), "{compared:?}");
        assert!(compared.contains(&("b".into(), "iou.per_patch".into())));
    }

    fn rows() -> Vec<RunRow> {
        vec![
            run("a", 1, "[0, 0]", Some(0.5), "ok"),
            run("a", 2, "[0, 0]", Some(0.75), "ok"),
            run("b", 1, "[0.5, 0.5]", Some(0.625), "ok"),
            run("b", 2, "[0.5, 0.5]", Some(1.0), "ok"),
            run("b", 3, "[0.5, 0.5]", None, "failed: out of memory"),
        ]
    }

    #[test]
    fn runs_csv_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        write_runs_csv(&path, &rows()).unwrap();
        let expected = "\
cell,run_id,DATA.TEST.OVERLAP,seed,train_key,infer_key,evaluate_key,train_cached,infer_cached,evaluate_cached,\
status,iou.per_patch,iou.full_image,epochs,best_epoch,train_seconds,infer_seconds
a,1,\"[0, 0]\",43,0001abcdef01,0123456789ab,short,false,true,false,ok,0.5,0.625,10,7,12.5,0.25
a,2,\"[0, 0]\",44,0002abcdef01,0123456789ab,short,false,true,false,ok,0.75,0.875,10,7,12.5,0.25
b,1,\"[0.5, 0.5]\",43,0001abcdef01,0123456789ab,short,false,true,true,ok,0.625,0.75,10,7,12.5,0.25
b,2,\"[0.5, 0.5]\",44,0002abcdef01,0123456789ab,short,false,true,true,ok,1,1.125,10,7,12.5,0.25
b,3,\"[0.5, 0.5]\",45,0003abcdef01,0123456789ab,short,false,true,true,failed: out of memory,,,,,,
";
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary left behind");
    }

    #[test]
    fn summary_csv_text_leaves_failed_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.csv");
        let mut rows = rows();
        rows.push(run("c", 1, "[1, 1]", Some(0.25), "ok"));
        let summaries = write_summary_csv(&path, &rows).unwrap();
        // a: 0.5, 0.75 → mean 0.625, std √0.03125, half-width 12.7062047 · 0.125 = 1.5882755875;
        // b: 0.625, 1 → half-width 12.7062047 · 0.1875 = 2.38241338125.
        let expected = "\
cell,metric,n,mean,std,min,max,ci95_low,ci95_high
a,iou.per_patch,2,0.625,0.1767766952966369,0.5,0.75,-0.9632755875000001,2.2132755875
a,iou.full_image,2,0.75,0.1767766952966369,0.625,0.875,-0.8382755875000001,2.3382755875
b,iou.per_patch,2,0.8125,0.2651650429449553,0.625,1,-1.5699133812500001,3.19491338125
b,iou.full_image,2,0.9375,0.2651650429449553,0.75,1.125,-1.4449133812500001,3.31991338125
c,iou.per_patch,1,0.25,,0.25,0.25,,
c,iou.full_image,1,0.375,,0.375,0.375,,
";
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        assert_eq!(summaries.len(), 6);
        assert_eq!((summaries[2].cell.as_str(), summaries[2].summary.n), ("b", 2));
    }

    #[test]
    fn compare_csv_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("compare.csv");
        let mut rows = rows();
        rows.push(run("a", 3, "[0, 0]", Some(0.5), "ok"));
        rows.push(run("b", 4, "[0.5, 0.5]", Some(0.5), "ok"));
        let comparisons = write_compare_csv(&path, &rows, "a").unwrap();
        // Pairs run 1 (+0.125) and run 2 (+0.25); run 3 failed in b and run 4 is not in a. Half-width
        // 12.7062047 · 0.0625 = 0.79413779375.
        let expected = "\
cell,reference,metric,n,mean_difference,ci95_low,ci95_high,excludes_zero
b,a,iou.per_patch,2,0.1875,-0.60663779375,0.98163779375,false
b,a,iou.full_image,2,0.1875,-0.60663779375,0.98163779375,false
";
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        assert_eq!(comparisons.len(), 2);
        let error = write_compare_csv(&dir.path().join("x.csv"), &rows, "z").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(error.to_string(), "reference cell `z` has no runs");
    }

    #[test]
    fn empty_sweep_writes_headers_only() {
        let dir = tempfile::tempdir().unwrap();
        write_runs_csv(&dir.path().join("runs.csv"), &[]).unwrap();
        let text = std::fs::read_to_string(dir.path().join("runs.csv")).unwrap();
        assert!(text.starts_with("cell,run_id,seed,") && text.lines().count() == 1);
        assert!(write_summary_csv(&dir.path().join("summary.csv"), &[]).unwrap().is_empty());
    }

    #[test]
    fn run_rows_round_trip_through_json() {
        let row = &rows()[4];
        let back: RunRow = serde_json::from_str(&serde_json::to_string(row).unwrap()).unwrap();
        assert_eq!(
            (back.cell, back.run_id, back.status, back.metrics),
            ("b".into(), 3, row.status.clone(), row.metrics.clone())
        );
    }
}
