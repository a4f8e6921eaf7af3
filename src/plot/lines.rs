//! Line charts (epoch curves): one PNG with a title, axis labels, a legend and one line per
//! series.

use std::path::Path;

use plotters::prelude::*;

use super::{PlotError, finish, register_font, temporary_path};

/// One named line.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// Colours in series order.
pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws `series` into a 800×500 PNG at `path`.
pub fn line_chart(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> Result<(), PlotError> {
    register_font();
    let tmp = temporary_path(path);
    draw(&tmp, title, x_label, y_label, series).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        PlotError::new(path, e)
    })?;
    finish(&tmp, path)
}

fn draw(
    tmp: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>> {
    let (x_range, y_range) = ranges(series);
    let root = BitMapBackend::new(tmp, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_range, y_range)?;
    chart.configure_mesh().x_desc(x_label).y_desc(y_label).label_style(("sans-serif", 14)).draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        if s.points.len() == 1 {
            chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Axis ranges covering every finite point, padded so flat or single-point series still show.
fn ranges(series: &[Series]) -> (std::ops::Range<f64>, std::ops::Range<f64>) {
    let finite = series.iter().flat_map(|s| &s.points).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in finite {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return (0.0..1.0, 0.0..1.0);
    }
    let pad = |lo: f64, hi: f64| {
        let span = (hi - lo).abs().max(1e-9);
        (lo - 0.05 * span)..(hi + 0.05 * span)
    };
    let x = if x1 - x0 < 1e-12 { (x0 - 1.0)..(x1 + 1.0) } else { pad(x0, x1) };
    (x, pad(y0, y1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_without_system_fonts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let series = vec![
            Series { label: "Train loss".into(), points: vec![(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)] },
            Series { label: "Val. loss".into(), points: vec![(1.0, 1.0), (2.0, 0.7), (3.0, f64::NAN)] },
        ];
        line_chart(&path, "Model JOBID=demo_1 loss", "Epoch", "Loss", &series).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 5000, "a chart with text is more than a blank image");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn ranges_handle_single_points_and_nan() {
        let (x, y) = ranges(&[Series { label: "a".into(), points: vec![(1.0, 0.5), (f64::NAN, 2.0)] }]);
        assert!(x.start < 1.0 && x.end > 1.0 && y.start < 0.5 && y.end > 0.5);
    }
}
