//! Prediction overlays: one PNG per test image (or z slice) with the input, the truth and the
//! written mask, where the mask's pixels are true positives (the class's colour), false positives
//! (red) and false negatives (blue), the image's IoU in the title and a legend. Drawn straight
//! into an RGB buffer (a few milliseconds per image); plotters only writes the text with the
//! embedded font; the `png` crate encodes it.
//!
//! Owns: the colours, the layout and the file. Must not: choose slices or compute metrics (the
//! caller gives the IoU and the slice).

use std::path::Path;

use plotters::prelude::*;

use super::{PlotError, register_font, temporary_path};

/// A false positive: predicted foreground where the truth is background or another class.
pub const FALSE_POSITIVE: [u8; 3] = [230, 40, 40];
/// A false negative: truth foreground predicted as background.
pub const FALSE_NEGATIVE: [u8; 3] = [40, 110, 255];
/// The colour of class `c` ≥ 1 (class 1 is green): true positives and the truth panel.
pub fn class_colour(class: u16) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 8] = [
        [0, 190, 0],
        [255, 170, 0],
        [0, 200, 200],
        [150, 80, 220],
        [160, 100, 40],
        [255, 120, 200],
        [150, 150, 0],
        [0, 128, 128],
    ];
    PALETTE[(usize::from(class.max(1)) - 1) % PALETTE.len()]
}

/// How much of a coloured pixel is its colour (the rest is the image's grey).
const OPACITY: f32 = 0.55;

/// One 2D slice to draw: row-major `height × width` planes.
pub struct OverlaySlice<'a> {
    /// The input's grey values, any range (stretched between its 1st and 99th percentiles).
    pub image: &'a [f32],
    pub truth: Option<&'a [u16]>,
    pub prediction: &'a [u16],
    pub height: usize,
    pub width: usize,
}

/// What a pixel of the prediction panel is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Background,
    TruePositive(u16),
    FalsePositive,
    FalseNegative,
    Ignored,
}

fn outcome(truth: Option<u16>, predicted: u16, ignore: Option<u16>) -> Outcome {
    match truth {
        Some(t) if Some(t) == ignore => Outcome::Ignored,
        Some(t) if predicted > 0 && predicted == t => Outcome::TruePositive(predicted),
        Some(_) if predicted > 0 => Outcome::FalsePositive,
        Some(t) if t > 0 => Outcome::FalseNegative,
        Some(_) => Outcome::Background,
        None if predicted > 0 => Outcome::TruePositive(predicted),
        None => Outcome::Background,
    }
}

/// Writes the overlay of `slice` to `path` (`n_classes` for the legend; pixels whose truth is
/// `ignore` stay grey).
pub fn overlay_png(
    path: &Path,
    title: &str,
    slice: &OverlaySlice<'_>,
    n_classes: usize,
    ignore: Option<u16>,
) -> Result<(), PlotError> {
    let layout = Layout::new(slice, slice.truth.is_some());
    let grey = stretch(slice.image);
    let mut canvas = vec![255u8; layout.size.0 as usize * layout.size.1 as usize * 3];
    let panels: Vec<Panel> = match slice.truth {
        Some(_) => vec![Panel::Image, Panel::Truth, Panel::Prediction],
        None => vec![Panel::Image, Panel::Prediction],
    };
    for (p, panel) in panels.iter().enumerate() {
        let (x0, y0) = layout.panel_origin(p);
        for py in 0..layout.panel.1 {
            let sy = py * slice.height / layout.panel.1;
            for px in 0..layout.panel.0 {
                let sx = px * slice.width / layout.panel.0;
                let i = sy * slice.width + sx;
                let g = grey[i];
                let rgb = panel.colour(slice, i, ignore).map_or([g, g, g], |c| blend(g, c));
                let at = ((y0 + py) * layout.size.0 as usize + x0 + px) * 3;
                canvas[at..at + 3].copy_from_slice(&rgb);
            }
        }
    }
    register_font();
    {
        let root = BitMapBackend::with_buffer(&mut canvas, layout.size).into_drawing_area();
        let text = |s: &str, at: (usize, usize), size: u32| {
            root.draw(&Text::new(s.to_string(), (at.0 as i32, at.1 as i32), ("sans-serif", size).into_font()))
        };
        let drawn = (|| -> Result<(), Box<dyn std::error::Error>> {
            text(title, (MARGIN, 6), 16)?;
            for (p, panel) in panels.iter().enumerate() {
                let (x0, y0) = layout.panel_origin(p);
                text(panel.caption(slice), (x0, y0 - CAPTION + 2), 13)?;
            }
            let mut x = MARGIN;
            let y = layout.size.1 as usize - LEGEND + 4;
            let mut entries: Vec<(String, [u8; 3])> = (1..n_classes.max(2))
                .map(|c| {
                    let name = if n_classes <= 2 { "true positive".to_string() } else { format!("class {c} correct") };
                    (name, class_colour(c as u16))
                })
                .collect();
            if slice.truth.is_some() {
                entries.push(("false positive".into(), FALSE_POSITIVE));
                entries.push(("false negative".into(), FALSE_NEGATIVE));
            }
            for (name, colour) in entries {
                root.draw(&Rectangle::new(
                    [(x as i32, y as i32 + 2), (x as i32 + 12, y as i32 + 14)],
                    RGBColor(colour[0], colour[1], colour[2]).filled(),
                ))?;
                text(&name, (x + 16, y), 12)?;
                x += 24 + 7 * name.len();
            }
            root.present()?;
            Ok(())
        })();
        drawn.map_err(|e| PlotError::new(path, e))?;
    }
    write_png(path, &canvas, layout.size)
}

/// The panels side by side: the input, the truth (when there is one), the written mask.
#[derive(Clone, Copy)]
enum Panel {
    Image,
    Truth,
    Prediction,
}

impl Panel {
    fn caption(self, slice: &OverlaySlice<'_>) -> &'static str {
        match self {
            Panel::Image => "image",
            Panel::Truth => "truth",
            Panel::Prediction if slice.truth.is_some() => "written mask vs truth",
            Panel::Prediction => "written mask",
        }
    }

    /// The colour laid over pixel `i`, if any.
    fn colour(self, slice: &OverlaySlice<'_>, i: usize, ignore: Option<u16>) -> Option<[u8; 3]> {
        match self {
            Panel::Image => None,
            Panel::Truth => {
                let t = slice.truth?[i];
                (t > 0 && Some(t) != ignore).then(|| class_colour(t))
            }
            Panel::Prediction => match outcome(slice.truth.map(|t| t[i]), slice.prediction[i], ignore) {
                Outcome::TruePositive(class) => Some(class_colour(class)),
                Outcome::FalsePositive => Some(FALSE_POSITIVE),
                Outcome::FalseNegative => Some(FALSE_NEGATIVE),
                Outcome::Background | Outcome::Ignored => None,
            },
        }
    }
}

const MARGIN: usize = 8;
const TITLE: usize = 30;
const CAPTION: usize = 18;
const LEGEND: usize = 22;
/// Panels are drawn about this many pixels on their longer side (integer-free nearest scaling).
const PANEL_SIDE: usize = 256;

/// Where the panels go.
struct Layout {
    panel: (usize, usize),
    size: (u32, u32),
}

impl Layout {
    fn new(slice: &OverlaySlice<'_>, with_truth: bool) -> Self {
        let longer = slice.height.max(slice.width).max(1);
        let panel = ((slice.width * PANEL_SIDE / longer).max(1), (slice.height * PANEL_SIDE / longer).max(1));
        let n = if with_truth { 3 } else { 2 };
        // Wide enough for the legend of a few classes too.
        let width = (MARGIN + n * (panel.0 + MARGIN)).max(520);
        let height = TITLE + CAPTION + panel.1 + MARGIN + LEGEND;
        Self { panel, size: (width as u32, height as u32) }
    }

    fn panel_origin(&self, p: usize) -> (usize, usize) {
        (MARGIN + p * (self.panel.0 + MARGIN), TITLE + CAPTION)
    }
}

/// Grey levels 0–255 from the 1st to the 99th percentile of `values` (constant images are mid-grey).
fn stretch(values: &[f32]) -> Vec<u8> {
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return vec![128; values.len()];
    }
    let k = |q: f64| ((sorted.len() - 1) as f64 * q).round() as usize;
    let (lo_at, hi_at) = (k(0.01), k(0.99));
    let lo = *sorted.select_nth_unstable_by(lo_at, f32::total_cmp).1;
    let hi = *sorted.select_nth_unstable_by(hi_at, f32::total_cmp).1;
    if hi <= lo {
        return vec![128; values.len()];
    }
    values.iter().map(|&v| (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8).collect()
}

/// A colour laid over grey `g` at [`OPACITY`].
fn blend(g: u8, colour: [u8; 3]) -> [u8; 3] {
    colour.map(|c| (f32::from(g) * (1.0 - OPACITY) + f32::from(c) * OPACITY).round() as u8)
}

/// Encodes the RGB canvas as a PNG under a temporary name, then renames it into place.
fn write_png(path: &Path, canvas: &[u8], (width, height): (u32, u32)) -> Result<(), PlotError> {
    let tmp = temporary_path(path);
    let written = (|| -> Result<(), Box<dyn std::error::Error>> {
        let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut encoder = png::Encoder::new(file, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(canvas)?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(PlotError::new(path, e));
    }
    super::finish(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pixels of the PNG at `path` as RGB triples.
    fn pixels(path: &Path) -> Vec<[u8; 3]> {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf[..info.buffer_size()].chunks(3).map(|c| [c[0], c[1], c[2]]).collect()
    }

    #[test]
    fn a_known_layout_gives_its_counts_of_each_colour() {
        // 8 × 8, a constant (so mid-grey) image: 10 true positives, 6 false positives, 4 false negatives.
        let (h, w) = (8, 8);
        let truth: Vec<u16> = (0..h * w).map(|i| u16::from(i < 10 || (16..20).contains(&i))).collect();
        let prediction: Vec<u16> = (0..h * w).map(|i| u16::from(i < 16)).collect();
        let image = vec![0.0f32; h * w];
        let slice = OverlaySlice { image: &image, truth: Some(&truth), prediction: &prediction, height: h, width: w };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.png");
        overlay_png(&path, "0000.tif  IoU 0.5000", &slice, 2, None).unwrap();
        let seen = pixels(&path);
        let per_pixel = (PANEL_SIDE / 8) * (PANEL_SIDE / 8);
        let count = |c: [u8; 3]| seen.iter().filter(|&&p| p == blend(128, c)).count();
        // The truth panel shows its 14 foreground pixels in class 1's colour, the prediction
        // panel its 10 true positives: 24 in all.
        assert_eq!(count(class_colour(1)), 24 * per_pixel);
        assert_eq!(count(FALSE_POSITIVE), 6 * per_pixel);
        assert_eq!(count(FALSE_NEGATIVE), 4 * per_pixel);
        assert!(dir.path().read_dir().unwrap().count() == 1, "no temporary left");
    }

    #[test]
    fn multi_class_errors_and_ignored_pixels() {
        assert_eq!(outcome(Some(2), 2, None), Outcome::TruePositive(2));
        assert_eq!(outcome(Some(2), 1, None), Outcome::FalsePositive);
        assert_eq!(outcome(Some(1), 0, None), Outcome::FalseNegative);
        assert_eq!(outcome(Some(255), 1, Some(255)), Outcome::Ignored);
        assert_eq!(outcome(None, 3, None), Outcome::TruePositive(3));
        assert_ne!(class_colour(1), class_colour(2));
        assert_eq!(stretch(&[1.0, 1.0]), [128, 128]);
    }
}
