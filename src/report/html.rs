//! `report.html` (pure text, no I/O): one self-contained page — inline CSS and script, charts
//! embedded as PNG data — with the gate's verdict, the summary and comparison tables, every run
//! with links to its results tree and overlays, and the charts. Tables sort by a click on a
//! column header; the sorted column is kept in the address (`#summary=3d`: the `summary` table
//! by its fourth column, descending), so a sorted view can be shared and reopened.
//!
//! Owns: the page's markup. Must not: read or write files, or compute statistics.

use std::fmt::Write;

use base64::Engine;

use super::gate::GateRow;
use super::tables::{CellComparison, CellSummary, RunRow};

/// A chart as embedded: its title, its PNG bytes, and the CSV of its numbers (file name).
pub struct HtmlChart {
    pub label: String,
    pub png: Vec<u8>,
    pub csv: String,
}

/// The gate as the page shows it.
pub enum GateView {
    /// The manifest has no gate.
    None,
    /// The gate could not be checked (no baseline yet, another manifest's baseline, …).
    Unchecked(String),
    Rows(Vec<GateRow>),
}

/// Everything the page shows.
pub struct HtmlReport<'a> {
    pub title: &'a str,
    pub headline: &'a str,
    pub summaries: &'a [CellSummary],
    pub compare: &'a [CellComparison],
    pub runs: &'a [RunRow],
    pub charts: &'a [HtmlChart],
    pub gate: &'a GateView,
}

/// The page.
pub fn report_html(report: &HtmlReport<'_>) -> String {
    let mut html = String::new();
    let title = escape(report.title);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let failed = report.runs.iter().filter(|r| r.status != "ok").count();
    let _ = writeln!(
        html,
        "<p class=\"lead\">{} runs in {} cells, {failed} failed. Tables sort by a click on a column header.</p>",
        report.runs.len(),
        super::tables::cells(report.runs).len()
    );
    gate_section(&mut html, report.gate);
    summary_section(&mut html, report.summaries);
    compare_section(&mut html, report.compare);
    runs_section(&mut html, report.runs, report.headline);
    charts_section(&mut html, report.charts);
    let _ = write!(html, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    html
}

fn gate_section(html: &mut String, gate: &GateView) {
    html.push_str("<section id=\"gate-section\">\n<h2>Regression gate</h2>\n");
    match gate {
        GateView::None => html.push_str("<p class=\"verdict none\">The manifest has no gate.</p>\n"),
        GateView::Unchecked(why) => {
            let _ = writeln!(html, "<p class=\"verdict none\">Not checked: {}</p>", escape(why));
        }
        GateView::Rows(rows) => {
            let failed = rows.iter().filter(|r| !r.passed).count();
            let (class, word) = if failed == 0 { ("pass", "PASS") } else { ("fail", "FAIL") };
            let _ = writeln!(
                html,
                "<p class=\"verdict {class}\" id=\"verdict\">{word}: {failed} of {} gated means moved beyond their tolerance</p>",
                rows.len()
            );
            table_head(html, "gate", &["cell", "metric", "baseline", "new", "difference", "tolerance", "verdict"]);
            for r in rows {
                let diff = match (r.baseline, r.new) {
                    (Some(o), Some(n)) => Some(n - o),
                    _ => None,
                };
                let _ = writeln!(
                    html,
                    "<tr class=\"{}\"><td>{}</td><td>{}</td>{}{}{}{}<td>{}</td></tr>",
                    if r.passed { "ok" } else { "bad" },
                    escape(&r.cell),
                    escape(&r.metric),
                    number_cell(r.baseline, false),
                    number_cell(r.new, false),
                    number_cell(diff, true),
                    number_cell(Some(r.tolerance), false),
                    if r.passed { "ok" } else { "FAIL" }
                );
            }
            html.push_str("</tbody></table>\n");
        }
    }
    html.push_str("</section>\n");
}

fn summary_section(html: &mut String, summaries: &[CellSummary]) {
    html.push_str(
        "<section>\n<h2>Summary</h2>\n<p>Mean and 95 % confidence interval (Student t, n − 1 degrees of freedom) over the finished runs of each cell.</p>\n",
    );
    table_head(html, "summary", &["cell", "metric", "n", "mean", "± 95 % CI", "CI low", "CI high", "min", "max"]);
    for CellSummary { cell, metric, summary: s } in summaries {
        let half = finite(s.ci95_high - s.mean);
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td data-value=\"{}\">{}</td>{}{}{}{}{}{}</tr>",
            escape(cell),
            escape(metric),
            s.n,
            s.n,
            number_cell(finite(s.mean), false),
            number_cell(half, false),
            number_cell(finite(s.ci95_low), false),
            number_cell(finite(s.ci95_high), false),
            number_cell(finite(s.min), false),
            number_cell(finite(s.max), false)
        );
    }
    html.push_str("</tbody></table>\n</section>\n");
}

fn compare_section(html: &mut String, compare: &[CellComparison]) {
    let Some(first) = compare.first() else { return };
    let _ = writeln!(
        html,
        "<section>\n<h2>Comparison with <code>{}</code></h2>\n<p>Mean difference (cell − reference) paired over run_ids with its 95 % confidence interval; \"yes\" when the interval excludes zero, i.e. the difference is larger than the run-to-run noise.</p>",
        escape(&first.reference)
    );
    table_head(html, "compare", &["cell", "reference", "metric", "n", "difference", "CI low", "CI high", "excludes 0"]);
    for CellComparison { cell, reference, metric, difference: d } in compare {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td data-value=\"{}\">{}</td>{}{}{}<td class=\"{}\">{}</td></tr>",
            escape(cell),
            escape(reference),
            escape(metric),
            d.n,
            d.n,
            number_cell(finite(d.mean), true),
            number_cell(finite(d.ci95_low), true),
            number_cell(finite(d.ci95_high), true),
            if d.excludes_zero { "yes" } else { "no" },
            if d.excludes_zero { "yes" } else { "no" }
        );
    }
    html.push_str("</tbody></table>\n</section>\n");
}

fn runs_section(html: &mut String, runs: &[RunRow], headline: &str) {
    html.push_str("<section>\n<h2>Runs</h2>\n<p>Each run's BiaPy results tree and its prediction overlays (paths relative to this page).</p>\n");
    table_head(html, "runs", &["cell", "run_id", "status", headline, "results", "overlays"]);
    for run in runs {
        let value = run.metrics.iter().find(|(m, _)| m == headline).and_then(|(_, v)| *v);
        let tree = format!("../{0}/results/{0}_{1}/", url(&run.cell), run.run_id);
        let _ = writeln!(
            html,
            "<tr class=\"{}\"><td>{}</td><td data-value=\"{}\">{}</td><td>{}</td>{}<td><a href=\"{tree}\">tree</a></td><td><a href=\"{tree}overlays/\">overlays</a></td></tr>",
            if run.status == "ok" { "ok" } else { "bad" },
            escape(&run.cell),
            run.run_id,
            run.run_id,
            escape(&run.status),
            number_cell(value, false)
        );
    }
    html.push_str("</tbody></table>\n</section>\n");
}

fn charts_section(html: &mut String, charts: &[HtmlChart]) {
    if charts.is_empty() {
        return;
    }
    html.push_str("<section>\n<h2>Charts</h2>\n");
    let engine = base64::engine::general_purpose::STANDARD;
    for chart in charts {
        let label = escape(&chart.label);
        let _ = writeln!(
            html,
            "<figure><img alt=\"{label}\" src=\"data:image/png;base64,{}\"><figcaption>{label} — the numbers it draws: <a href=\"{}\">{}</a></figcaption></figure>",
            engine.encode(&chart.png),
            url(&chart.csv),
            escape(&chart.csv)
        );
    }
    html.push_str("</section>\n");
}

fn table_head(html: &mut String, id: &str, columns: &[&str]) {
    let _ = write!(html, "<table class=\"sortable\" id=\"{id}\"><thead><tr>");
    for column in columns {
        let _ = write!(html, "<th>{}</th>", escape(column));
    }
    html.push_str("</tr></thead><tbody>\n");
}

/// A number cell: four decimals (signed when `signed`) with its full value for sorting; `n/a`
/// (sorted last) when there is none.
fn number_cell(value: Option<f64>, signed: bool) -> String {
    match value {
        Some(v) if signed => format!("<td class=\"num\" data-value=\"{v}\">{v:+.4}</td>"),
        Some(v) => format!("<td class=\"num\" data-value=\"{v}\">{v:.4}</td>"),
        None => "<td class=\"num\" data-value=\"\">n/a</td>".to_string(),
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A relative link's path, percent-encoding what a URL cannot hold as it is.
fn url(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'~' => out.push(byte as char),
            other => {
                let _ = write!(out, "%{other:02X}");
            }
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.25em .6em}\
th{background:#f2f2f2;cursor:pointer;user-select:none;white-space:nowrap}th.asc::after{content:' \\25B2'}th.desc::after{content:' \\25BC'}\
td.num{text-align:right;font-variant-numeric:tabular-nums}tr.bad td{background:#fde8e8}td.yes{font-weight:bold;color:#0a6}\
.verdict{font-weight:bold;padding:.4em .8em;display:inline-block;border-radius:4px}.verdict.pass{background:#e3f6e8;color:#075}\
.verdict.fail{background:#fde8e8;color:#a00}.verdict.none{background:#f2f2f2;color:#555}\
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#555}.lead{color:#555}";

/// Sorting: a click on a header sorts its table by that column (numbers by their full value,
/// `n/a` last), a second click reverses; the state goes into the address and is applied on load.
const SCRIPT: &str = r#"
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-value');
    if (v === null) return { n: false, s: cell.textContent };
    if (v === '') return { n: true, x: NaN };
    return { n: true, x: parseFloat(v) };
  }
  function compare(a, b) {
    if (a.n && b.n) {
      if (isNaN(a.x) && isNaN(b.x)) return 0;
      if (isNaN(a.x)) return 1;
      if (isNaN(b.x)) return -1;
      return a.x - b.x;
    }
    return String(a.s).localeCompare(String(b.s), undefined, { numeric: true });
  }
  function sort(table, column, descending) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r, s) {
      var c = compare(key(r.cells[column]), key(s.cells[column]));
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.className = i === column ? (descending ? 'desc' : 'asc') : '';
    });
  }
  function state() {
    var out = {};
    location.hash.replace(/^#/, '').split('&').forEach(function (part) {
      var m = /^([\w-]+)=(\d+)([ad])$/.exec(part);
      if (m) out[m[1]] = [parseInt(m[2], 10), m[3] === 'd'];
    });
    return out;
  }
  function save(all) {
    var parts = Object.keys(all).map(function (id) { return id + '=' + all[id][0] + (all[id][1] ? 'd' : 'a'); });
    history.replaceState(null, '', '#' + parts.join('&'));
  }
  var saved = state();
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
      th.addEventListener('click', function () {
        var all = state();
        var descending = all[table.id] && all[table.id][0] === i ? !all[table.id][1] : false;
        sort(table, i, descending);
        all[table.id] = [i, descending];
        save(all);
      });
    });
    if (saved[table.id]) sort(table, saved[table.id][0], saved[table.id][1]);
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::stats::summarise;

    #[test]
    fn the_page_is_self_contained_and_escapes_its_text() {
        let summaries =
            vec![CellSummary { cell: "a<b>".into(), metric: "iou".into(), summary: summarise(&[0.5, 0.75]) }];
        let charts = vec![HtmlChart { label: "IoU & more".into(), png: vec![137, 80, 78, 71], csv: "x y.csv".into() }];
        let page = report_html(&HtmlReport {
            title: "Sweep `ci`",
            headline: "iou",
            summaries: &summaries,
            compare: &[],
            runs: &[],
            charts: &charts,
            gate: &GateView::Unchecked("baseline `b.yaml` is missing".into()),
        });
        assert!(page.contains("<td>a&lt;b&gt;</td>"));
        assert!(page.contains("src=\"data:image/png;base64,iVBORw==\""), "{page}");
        assert!(page.contains("<a href=\"x%20y.csv\">x y.csv</a>"));
        assert!(page.contains("Not checked: baseline `b.yaml` is missing"));
        for outside in ["http://", "https://", "<link", "src=\"http"] {
            assert!(!page.contains(outside), "{outside} would need the network");
        }
        assert!(page.contains("data-value=\"0.625\">0.6250</td>"));
        assert_eq!(number_cell(None, false), "<td class=\"num\" data-value=\"\">n/a</td>");
        assert_eq!(url("ci-ov0.5/é"), "ci-ov0.5/%C3%A9");
    }
}
