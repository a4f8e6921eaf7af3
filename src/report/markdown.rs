//! `report.md` (pure text, no I/O): the summary table, the comparison with the reference cell and
//! the charts, in Markdown that a code host renders. Numbers are rounded to four decimals here;
//! the CSV tables keep full precision.

use std::fmt::Write;
use std::path::PathBuf;

use super::tables::{CellComparison, CellSummary};

/// The report: `# title`, then a summary table (mean ± half-width of the 95 % interval, n, min
/// and max per cell and metric), a comparison table per reference cell (mean paired difference,
/// its interval, whether it excludes zero) and the charts, each `(label, path)` embedded by its
/// path as given (relative to the report's folder; `\` becomes `/`).
pub fn report_md(
    title: &str,
    summaries: &[CellSummary],
    compare: &[CellComparison],
    charts: &[(String, PathBuf)],
) -> String {
    let mut md = format!("# {title}\n\n");
    summary_section(&mut md, summaries);
    compare_section(&mut md, compare);
    if !charts.is_empty() {
        md.push_str("## Charts\n");
        for (label, path) in charts {
            let link = path.to_string_lossy().replace('\\', "/").replace(' ', "%20");
            let alt = label.replace('[', "\\[").replace(']', "\\]");
            let numbers = path.with_extension("csv").to_string_lossy().replace('\\', "/");
            let numbers_link = numbers.replace(' ', "%20");
            let _ =
                write!(md, "\n### {label}\n\n![{alt}]({link})\n\nThe numbers it draws: [{numbers}]({numbers_link})\n");
        }
    }
    md
}

fn summary_section(md: &mut String, summaries: &[CellSummary]) {
    md.push_str("## Summary\n\n");
    if summaries.is_empty() {
        md.push_str("No finished runs.\n\n");
        return;
    }
    md.push_str(
        "Mean ± half-width of the 95 % confidence interval (Student t, n − 1 degrees of freedom) over the \
         finished runs of each cell.\n\n",
    );
    md.push_str("| cell | metric | n | mean ± 95 % CI | min | max |\n|---|---|--:|--:|--:|--:|\n");
    for CellSummary { cell, metric, summary: s } in summaries {
        let mean = match (s.mean.is_finite(), s.ci95_high.is_finite()) {
            (true, true) => format!("{:.4} ± {:.4}", s.mean, s.ci95_high - s.mean),
            _ => number(s.mean),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {mean} | {} | {} |",
            escape(cell),
            escape(metric),
            s.n,
            number(s.min),
            number(s.max)
        );
    }
    md.push('\n');
}

fn compare_section(md: &mut String, compare: &[CellComparison]) {
    let mut references: Vec<&str> = Vec::new();
    for c in compare {
        if !references.contains(&c.reference.as_str()) {
            references.push(&c.reference);
        }
    }
    for reference in references {
        let _ = write!(
            md,
            "## Comparison with `{reference}`\n\nMean difference (cell − `{reference}`) paired over run_ids, with \
             its 95 % confidence interval; \"yes\" when the interval excludes zero, i.e. the difference is \
             larger than the run-to-run noise.\n\n"
        );
        md.push_str("| cell | metric | n | difference | 95 % CI | excludes 0 |\n|---|---|--:|--:|--:|:-:|\n");
        for CellComparison { cell, metric, difference: d, .. } in compare.iter().filter(|c| c.reference == reference) {
            let interval = if d.ci95_low.is_finite() {
                format!("[{}, {}]", signed(d.ci95_low), signed(d.ci95_high))
            } else {
                "n/a".to_owned()
            };
            let excludes = if d.excludes_zero { "yes" } else { "no" };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {interval} | {excludes} |",
                escape(cell),
                escape(metric),
                d.n,
                signed(d.mean)
            );
        }
        md.push('\n');
    }
}

/// Four decimals, or `n/a` for NaN.
fn number(value: f64) -> String {
    if value.is_finite() { format!("{value:.4}") } else { "n/a".to_owned() }
}

/// Four decimals with a sign, or `n/a` for NaN.
fn signed(value: f64) -> String {
    if value.is_finite() { format!("{value:+.4}") } else { "n/a".to_owned() }
}

/// Escapes `|`, which would end a table cell.
fn escape(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::stats::{PairedDiff, summarise};

    fn comparison(cell: &str, difference: PairedDiff) -> CellComparison {
        CellComparison { cell: cell.into(), reference: "mito".into(), metric: "iou.merge_patches".into(), difference }
    }

    #[test]
    fn report_text() {
        let summaries = vec![
            CellSummary { cell: "mito".into(), metric: "iou.merge_patches".into(), summary: summarise(&[0.5, 0.75]) },
            CellSummary { cell: "mito-ov0.5".into(), metric: "iou.merge_patches".into(), summary: summarise(&[0.7]) },
            CellSummary { cell: "mito-pad16".into(), metric: "iou.merge_patches".into(), summary: summarise(&[]) },
        ];
        let compare = vec![
            comparison(
                "mito-ov0.5",
                PairedDiff { n: 3, mean: 0.03, ci95_low: 0.0052, ci95_high: 0.0548, excludes_zero: true },
            ),
            comparison(
                "mito-pad16",
                PairedDiff { n: 1, mean: -0.01, ci95_low: f64::NAN, ci95_high: f64::NAN, excludes_zero: false },
            ),
        ];
        let charts = vec![
            ("iou.merge_patches per variant".to_string(), PathBuf::from("charts/iou_merge_patches.png")),
            ("Loss curves".to_string(), PathBuf::from("charts/loss curves.png")),
        ];
        let expected = "\
# Sweep `mito` | 2D

## Summary

Mean ± half-width of the 95 % confidence interval (Student t, n − 1 degrees of freedom) over the finished runs \
of each cell.

| cell | metric | n | mean ± 95 % CI | min | max |
|---|---|--:|--:|--:|--:|
| mito | iou.merge_patches | 2 | 0.6250 ± 1.5883 | 0.5000 | 0.7500 |
| mito-ov0.5 | iou.merge_patches | 1 | 0.7000 | 0.7000 | 0.7000 |
| mito-pad16 | iou.merge_patches | 0 | n/a | n/a | n/a |

## Comparison with `mito`

Mean difference (cell − `mito`) paired over run_ids, with its 95 % confidence interval; \"yes\" when the \
interval excludes zero, i.e. the difference is larger than the run-to-run noise.

| cell | metric | n | difference | 95 % CI | excludes 0 |
|---|---|--:|--:|--:|:-:|
| mito-ov0.5 | iou.merge_patches | 3 | +0.0300 | [+0.0052, +0.0548] | yes |
| mito-pad16 | iou.merge_patches | 1 | -0.0100 | n/a | no |

## Charts

### iou.merge_patches per variant

![iou.merge_patches per variant](charts/iou_merge_patches.png)

The numbers it draws: [charts/iou_merge_patches.csv](charts/iou_merge_patches.csv)

### Loss curves

![Loss curves](charts/loss%20curves.png)

The numbers it draws: [charts/loss curves.csv](charts/loss%20curves.csv)
";
        assert_eq!(report_md("Sweep `mito` | 2D", &summaries, &compare, &charts), expected);
    }

    #[test]
    fn report_without_runs_or_cells_to_compare() {
        assert_eq!(report_md("empty", &[], &[], &[]), "# empty\n\n## Summary\n\nNo finished runs.\n\n");
        let piped = CellSummary { cell: "a|b".into(), metric: "iou".into(), summary: summarise(&[0.5]) };
        assert!(report_md("t", &[piped], &[], &[]).contains("| a\\|b | iou | 1 | 0.5000 | 0.5000 | 0.5000 |\n"));
    }
}
