//! Charts as PNG files, drawn with plotters and an embedded DejaVu Sans (no system fonts, so a
//! chart looks the same on every machine): line charts for training curves, and the network
//! diagram. Shared by `train` and `report`; knows nothing about either. Every file is drawn under
//! a temporary name and renamed into place.

pub mod diagram;
pub mod lines;
pub mod overlay;

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{BitMapBackend, DrawingArea, IntoDrawingArea, WHITE};

pub(crate) use crate::atomic::temporary_sibling as temporary_path;
use std::sync::OnceLock;

/// The embedded font (DejaVu Sans, Bitstream Vera licence; see `assets/fonts/`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// A chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw chart `{}`: {message}", path.display())]
pub struct PlotError {
    pub path: PathBuf,
    pub message: String,
}

impl PlotError {
    fn new(path: &Path, message: impl ToString) -> Self {
        Self { path: path.to_path_buf(), message: message.to_string() }
    }
}

/// Registers the embedded font under plotters' `sans-serif` name (once per process).
pub fn register_font() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // The font is compiled in; registering it cannot fail unless the file is corrupt,
        // which the tests would catch.
        let _ = plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, FONT);
    });
}

/// The result of drawing onto a chart's area.
pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws a `size` PNG at `path`: registers the font, hands `draw` a white drawing area on a
/// temporary sibling file, then renames it into place (or removes it if drawing failed).
pub(crate) fn draw_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
) -> Result<(), PlotError> {
    register_font();
    let tmp = temporary_path(path);
    let result = (|| -> DrawResult {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(PlotError::new(path, e));
    }
    finish(&tmp, path)
}

/// Renames the drawn temporary file into place.
fn finish(tmp: &Path, path: &Path) -> Result<(), PlotError> {
    crate::atomic::commit(tmp, path).map_err(|e| PlotError::new(path, e))
}
