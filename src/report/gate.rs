//! The regression gate (harness.md): each gated metric's mean per cell against a committed
//! baseline snapshot (YAML under `snapshots/`, means rounded to 4 decimals so it is stable across
//! machines), within a per-metric tolerance. Pure: the baseline is text in and out.
//!
//! ```
//! use segsweep::report::gate::{Baseline, compare};
//! let baseline = Baseline::parse("manifest: ci\nmeans:\n  ci:\n    iou.merge_patches: 0.5\n").unwrap();
//! let rows = compare(&baseline, &[("ci".into(), "iou.merge_patches".into(), 0.51)], &[("iou.merge_patches".into(), 0.02)]);
//! assert!(rows[0].passed);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The committed means: manifest name, then cell → metric → mean.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub manifest: String,
    pub means: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Baseline {
    /// A baseline of `means` `(cell, metric, mean)` for the gated metrics, rounded to 4 decimals.
    pub fn from_means(manifest: &str, means: &[(String, String, f64)], gated: &[String]) -> Self {
        let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        for (cell, metric, mean) in means.iter().filter(|(_, m, v)| gated.contains(m) && v.is_finite()) {
            out.entry(cell.clone()).or_default().insert(metric.clone(), (mean * 1e4).round() / 1e4);
        }
        Self { manifest: manifest.into(), means: out }
    }

    /// Reads a baseline written by [`Baseline::to_yaml`].
    pub fn parse(text: &str) -> Result<Self, serde_yaml::Error> {
        serde_yaml::from_str(text)
    }

    /// The snapshot text.
    pub fn to_yaml(&self) -> String {
        let header = "# Regression baseline: gated means per grid cell, rounded to 4 decimals.\n# Rewrite with `segsweep check MANIFEST --update` after an intended change.\n";
        format!("{header}{}", serde_yaml::to_string(self).unwrap_or_default())
    }
}

/// One line of the gate's table.
#[derive(Clone, Debug, PartialEq)]
pub struct GateRow {
    pub cell: String,
    pub metric: String,
    pub baseline: Option<f64>,
    pub new: Option<f64>,
    pub tolerance: f64,
    pub passed: bool,
}

/// Compares the new means `(cell, metric, mean)` of the gated metrics with the baseline. A
/// gated metric missing on either side fails.
pub fn compare(baseline: &Baseline, means: &[(String, String, f64)], tolerances: &[(String, f64)]) -> Vec<GateRow> {
    let mut rows = Vec::new();
    let mut cells: Vec<&String> = baseline.means.keys().collect();
    for (cell, _, _) in means {
        if !cells.contains(&cell) {
            cells.push(cell);
        }
    }
    for cell in cells {
        for (metric, tolerance) in tolerances {
            let old = baseline.means.get(cell).and_then(|m| m.get(metric)).copied();
            let new =
                means.iter().find(|(c, m, _)| c == cell && m == metric).map(|(_, _, v)| *v).filter(|v| v.is_finite());
            let passed = matches!((old, new), (Some(o), Some(n)) if (n - o).abs() <= *tolerance);
            rows.push(GateRow {
                cell: cell.clone(),
                metric: metric.clone(),
                baseline: old,
                new,
                tolerance: *tolerance,
                passed,
            });
        }
    }
    rows
}

/// The gate's table as text (Markdown-style).
pub fn table(rows: &[GateRow]) -> String {
    let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    let mut text = String::from(
        "| cell | metric | baseline | new | difference | tolerance | verdict |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let diff = match (r.baseline, r.new) {
            (Some(o), Some(n)) => format!("{:+.4}", n - o),
            _ => "-".into(),
        };
        let verdict = if r.passed { "ok" } else { "FAIL" };
        text.push_str(&format!(
            "| {} | {} | {} | {} | {diff} | {} | {verdict} |\n",
            r.cell,
            r.metric,
            cell(r.baseline),
            cell(r.new),
            r.tolerance
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn means() -> Vec<(String, String, f64)> {
        vec![("a".into(), "iou".into(), 0.51234), ("b".into(), "iou".into(), 0.7), ("a".into(), "other".into(), 0.1)]
    }

    #[test]
    fn round_trip_and_rounding() {
        let baseline = Baseline::from_means("ci", &means(), &["iou".into()]);
        assert_eq!(baseline.means["a"]["iou"], 0.5123);
        assert!(!baseline.means["a"].contains_key("other"));
        assert_eq!(Baseline::parse(&baseline.to_yaml()).unwrap(), baseline);
    }

    #[test]
    fn within_and_beyond_tolerance_and_missing() {
        let baseline = Baseline::from_means("ci", &means(), &["iou".into()]);
        let moved = vec![("a".into(), "iou".into(), 0.53), ("b".into(), "iou".into(), 0.66)];
        let rows = compare(&baseline, &moved, &[("iou".into(), 0.02)]);
        assert_eq!(rows.iter().map(|r| r.passed).collect::<Vec<_>>(), vec![true, false]);
        let missing = compare(&baseline, &moved[..1], &[("iou".into(), 0.02)]);
        assert!(!missing[1].passed, "a cell without a new value fails");
        assert!(table(&rows).contains("| b | iou | 0.7000 | 0.6600 | -0.0400 | 0.02 | FAIL |"));
    }
}
