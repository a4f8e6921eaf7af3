//! The sweep's charts (PNG, drawn with [`crate::plot`]'s embedded font and atomic rename): a
//! metric per variant (one dot per run_id, the mean and its 95 % interval), the loss curves of
//! every training (labelled by the first cell and run_id using it), and a per-image box plot per
//! cell. Empty inputs give an empty chart.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::stats::{box_stats, summarise};
use crate::plot::lines::PALETTE;
use crate::plot::{DrawResult, PlotError, draw_png};

/// Chart height in pixels; the width grows with the number of cells.
const HEIGHT: u32 = 500;

/// The legend lists runs one by one only up to this many.
const MAX_LEGEND: usize = 12;

/// Draws `metric` per grid cell: one column per cell, a dot per run_id (same colour and offset
/// for a run_id in every column), the mean as a horizontal bar and the 95 % CI as a vertical line
/// with caps.
pub fn iou_per_variant(path: &Path, metric: &str, cells: &[(String, Vec<(u64, f64)>)]) -> Result<(), PlotError> {
    draw_png(path, (width(cells.len()), HEIGHT), |root| draw_per_variant(root, metric, cells))
}

fn draw_per_variant(root: &Area, metric: &str, cells: &[(String, Vec<(u64, f64)>)]) -> DrawResult {
    let summaries: Vec<_> =
        cells.iter().map(|(_, runs)| summarise(&runs.iter().map(|(_, v)| *v).collect::<Vec<_>>())).collect();
    let mut run_ids: Vec<u64> = cells.iter().flat_map(|(_, runs)| runs.iter().map(|(r, _)| *r)).collect();
    run_ids.sort_unstable();
    run_ids.dedup();
    let values = cells.iter().flat_map(|(_, runs)| runs.iter().map(|(_, v)| *v));
    let bounds = summaries.iter().flat_map(|s| [s.ci95_low, s.ci95_high]);
    let names: Vec<String> = cells.iter().map(|(name, _)| name.clone()).collect();
    let title = format!("{metric} per variant (dots: runs; bar and whisker: mean and 95 % CI)");
    let mut chart = category_chart(root, &title, &names, metric, padded_range(values.chain(bounds)))?;
    for (run_idx, &run_id) in run_ids.iter().enumerate() {
        let color = PALETTE[run_idx % PALETTE.len()];
        let offset = if run_ids.len() < 2 { 0.0 } else { 0.4 * (run_idx as f64 / (run_ids.len() - 1) as f64 - 0.5) };
        let points: Vec<(f64, f64)> = cells
            .iter()
            .enumerate()
            .flat_map(|(i, (_, runs))| runs.iter().filter(|(r, _)| *r == run_id).map(move |(_, v)| (i as f64, *v)))
            .filter(|(_, v)| v.is_finite())
            .map(|(x, v)| (x + offset, v))
            .collect();
        let series = chart.draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
        if run_ids.len() <= MAX_LEGEND {
            series.label(format!("run_id {run_id}")).legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
    }
    for (i, s) in summaries.iter().enumerate().filter(|(_, s)| s.n > 0) {
        let x = i as f64;
        chart.draw_series([PathElement::new(vec![(x - 0.3, s.mean), (x + 0.3, s.mean)], BLACK.stroke_width(3))])?;
        if s.ci95_low.is_finite() {
            chart.draw_series(whisker(x, s.ci95_low, s.ci95_high, 0.1, BLACK.stroke_width(2)))?;
        }
    }
    if !run_ids.is_empty() && run_ids.len() <= MAX_LEGEND {
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

/// A run's label and its `(epoch, train loss, validation loss)` rows.
pub type LossCurve = (String, Vec<(usize, f64, f64)>);

/// Draws the train (solid) and validation (dashed) loss per epoch of every run, one colour per
/// run. `runs` holds `(label, [(epoch, train_loss, val_loss)])`; in a sweep, pass each trained
/// model once (cells that share a `train` key share its curves). Non-finite losses are skipped.
pub fn loss_curves(path: &Path, runs: &[LossCurve]) -> Result<(), PlotError> {
    draw_png(path, (900, HEIGHT), |root| draw_loss_curves(root, runs))
}

fn draw_loss_curves(root: &Area, runs: &[LossCurve]) -> DrawResult {
    let epochs = runs.iter().flat_map(|(_, rows)| rows.iter().map(|r| r.0 as f64));
    let losses = runs.iter().flat_map(|(_, rows)| rows.iter().flat_map(|r| [r.1, r.2]));
    let title = format!("Loss of {} training(s) (solid: train; dashed: validation)", runs.len());
    let n_epochs = runs.iter().flat_map(|(_, rows)| rows.iter().map(|r| r.0)).max().unwrap_or(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(padded_range(epochs), padded_range(losses))?;
    chart
        .configure_mesh()
        .x_labels(n_epochs.clamp(2, 12))
        .x_label_formatter(&epoch_label)
        .x_desc("Epoch")
        .y_desc("Loss")
        .label_style(("sans-serif", 14))
        .draw()?;
    for (run_idx, (name, rows)) in runs.iter().enumerate() {
        let color = PALETTE[run_idx % PALETTE.len()];
        let curve = |f: fn(&(usize, f64, f64)) -> f64| -> Vec<(f64, f64)> {
            rows.iter().map(|r| (r.0 as f64, f(r))).filter(|(_, y)| y.is_finite()).collect()
        };
        let series = chart.draw_series(LineSeries::new(curve(|r| r.1), color.stroke_width(2)))?;
        if runs.len() <= MAX_LEGEND {
            series
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart.draw_series(DashedLineSeries::new(curve(|r| r.2), 6, 4, color.stroke_width(2)))?;
    }
    if !runs.is_empty() && runs.len() <= MAX_LEGEND {
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

/// Draws one box per cell of the per-image values of `metric`: the box from the first to the
/// third quartile with the median across it, whiskers to the furthest values within 1.5 IQR, and
/// the values beyond as hollow dots. A cell without finite values gets an empty column.
pub fn box_plot(path: &Path, metric: &str, cells: &[(String, Vec<f64>)]) -> Result<(), PlotError> {
    draw_png(path, (width(cells.len()), HEIGHT), |root| draw_box_plot(root, metric, cells))
}

fn draw_box_plot(root: &Area, metric: &str, cells: &[(String, Vec<f64>)]) -> DrawResult {
    let counts: Vec<usize> = cells.iter().map(|(_, values)| values.iter().filter(|v| v.is_finite()).count()).collect();
    // One count for all cells goes in the title, so long cell names keep their room.
    let same = counts.windows(2).all(|w| w[0] == w[1]);
    let names: Vec<String> = cells
        .iter()
        .zip(&counts)
        .map(|((name, _), n)| if same { name.clone() } else { format!("{name} ({n} images)") })
        .collect();
    let values = cells.iter().flat_map(|(_, values)| values.iter().copied());
    let title = match counts.first() {
        Some(n) if same => format!("{metric} per image ({n} images per cell)"),
        _ => format!("{metric} per image"),
    };
    let mut chart = category_chart(root, &title, &names, metric, padded_range(values))?;
    for (i, (_, values)) in cells.iter().enumerate() {
        let Some(b) = box_stats(values) else { continue };
        let (x, color) = (i as f64, PALETTE[i % PALETTE.len()]);
        chart.draw_series([
            Rectangle::new([(x - 0.25, b.q1), (x + 0.25, b.q3)], color.mix(0.3).filled()),
            Rectangle::new([(x - 0.25, b.q1), (x + 0.25, b.q3)], color.stroke_width(2)),
        ])?;
        chart.draw_series(whisker(x, b.q3, b.whisker_high, 0.12, color.stroke_width(2)).into_iter().skip(1))?;
        chart.draw_series(whisker(x, b.whisker_low, b.q1, 0.12, color.stroke_width(2)).into_iter().take(2))?;
        chart
            .draw_series([PathElement::new(vec![(x - 0.25, b.median), (x + 0.25, b.median)], BLACK.stroke_width(3))])?;
        chart.draw_series(b.outliers.iter().map(|&v| Circle::new((x, v), 4, color.stroke_width(2))))?;
    }
    Ok(())
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type CategoryChart<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<CategoryAxis, RangedCoordf64>>;

/// An x axis of categories at 0, 1, … with one tick each. The axis is continuous so that dots can
/// sit beside their category's tick.
struct CategoryAxis {
    inner: RangedCoordf64,
    n_categories: usize,
}

impl Ranged for CategoryAxis {
    // The labels come from `x_label_formatter`; the default formatting only satisfies the mesh.
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { Vec::new() } else { (0..self.n_categories).map(|i| i as f64).collect() }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// A chart whose x axis has one tick per name, at 0, 1, …, with its mesh and `metric` as the
/// y label drawn.
fn category_chart<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    names: &[String],
    metric: &str,
    y_range: Range<f64>,
) -> Result<CategoryChart<'a, 'b>, Box<dyn std::error::Error>> {
    let x_axis = CategoryAxis { inner: (-0.5..names.len().max(1) as f64 - 0.5).into(), n_categories: names.len() };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_axis, y_range)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|x| label(names, *x))
        .y_desc(metric)
        .label_style(("sans-serif", 14))
        .draw()?;
    Ok(chart)
}

/// The name at tick `x` of a category axis.
fn label(names: &[String], x: f64) -> String {
    let idx = x.round();
    if idx < 0.0 { String::new() } else { names.get(idx as usize).cloned().unwrap_or_default() }
}

/// A vertical line from `low` to `high` at `x` with caps `cap` wide each side: `[low cap, line,
/// high cap]`.
fn whisker(x: f64, low: f64, high: f64, cap: f64, style: ShapeStyle) -> [PathElement<(f64, f64)>; 3] {
    [
        PathElement::new(vec![(x - cap, low), (x + cap, low)], style),
        PathElement::new(vec![(x, low), (x, high)], style),
        PathElement::new(vec![(x - cap, high), (x + cap, high)], style),
    ]
}

/// Draws the series legend at `position`.
fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}

/// Room for about 160 pixels per category, at least 800.
fn width(n_categories: usize) -> u32 {
    (200 + 160 * n_categories as u32).max(800)
}

/// An epoch tick's label: epochs are whole numbers, so a tick between two has none.
fn epoch_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{}", x.round() as i64) } else { String::new() }
}

/// The range of the finite `values`, padded by 5 % (or ±0.5 around a single value); `0..1`
/// without any.
fn padded_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (low, high) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high {
        return 0.0..1.0;
    }
    if high - low < 1e-12 {
        return (low - 0.5)..(high + 0.5);
    }
    let pad = 0.05 * (high - low);
    (low - pad)..(high + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts `path` is a PNG over 5 kB and the only file in its folder.
    fn check_png(path: &Path) {
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 5000, "{}: {} bytes", path.display(), bytes.len());
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary left behind");
    }

    #[test]
    fn iou_per_variant_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iou.png");
        let cells = vec![
            ("mito".to_string(), vec![(1, 0.81), (2, 0.84), (3, 0.80)]),
            ("mito-ov0.5".to_string(), vec![(1, 0.83), (2, 0.85), (3, f64::NAN)]),
            ("mito-ov0.5-pad16".to_string(), vec![(2, 0.86)]),
        ];
        iou_per_variant(&path, "iou.merge_patches", &cells).unwrap();
        check_png(&path);
    }

    #[test]
    fn loss_curves_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let curve = |shift: f64| (1..=10).map(|e| (e, 1.0 / e as f64 + shift, 1.2 / e as f64 + shift)).collect();
        let mut runs: Vec<LossCurve> = vec![("mito_1".into(), curve(0.0)), ("mito_2".into(), curve(0.05))];
        runs[1].1[3].2 = f64::NAN;
        loss_curves(&path, &runs).unwrap();
        check_png(&path);
    }

    #[test]
    fn box_plot_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.png");
        let cells = vec![
            ("mito".to_string(), vec![0.1, 0.7, 0.75, 0.8, 0.8, 0.85, 0.9]),
            ("mito-mf".to_string(), vec![0.72, 0.78, 0.8, 0.83, f64::NAN]),
            ("mito-none".to_string(), vec![]),
        ];
        box_plot(&path, "iou.post_processing", &cells).unwrap();
        check_png(&path);
    }

    #[test]
    fn empty_inputs_draw_empty_charts() {
        let dir = tempfile::tempdir().unwrap();
        iou_per_variant(&dir.path().join("a.png"), "iou", &[]).unwrap();
        iou_per_variant(&dir.path().join("b.png"), "iou", &[("x".into(), vec![])]).unwrap();
        loss_curves(&dir.path().join("c.png"), &[]).unwrap();
        loss_curves(&dir.path().join("d.png"), &[("x".into(), vec![])]).unwrap();
        box_plot(&dir.path().join("e.png"), "iou", &[]).unwrap();
        box_plot(&dir.path().join("f.png"), "iou", &[("x".into(), vec![f64::NAN])]).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 6, "six charts, no temporaries");
    }

    #[test]
    fn an_unwritable_path_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let error = box_plot(&dir.path().join("missing/box.png"), "iou", &[("x".into(), vec![0.5])]).unwrap_err();
        assert!(error.to_string().contains("box.png"), "{error}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn epoch_ticks_are_whole_numbers() {
        assert_eq!(epoch_label(&2.0), "2");
        assert_eq!(epoch_label(&1.7999999999999998), "");
        assert_eq!(epoch_label(&10.000000000001), "10");
    }

    #[test]
    fn padded_ranges() {
        assert_eq!(padded_range([f64::NAN].into_iter()), 0.0..1.0);
        assert_eq!(padded_range([0.25].into_iter()), -0.25..0.75);
        let r = padded_range([0.0, 1.0, f64::INFINITY].into_iter());
        assert!((r.start + 0.05).abs() < 1e-12 && (r.end - 1.05).abs() < 1e-12);
    }
}
