//! Charts as PNG files, drawn with plotters and an embedded DejaVu Sans (no system fonts, so a
//! chart looks the same on every machine): line charts for training curves, and the network
//! diagram. Shared by `train` and `report`; knows nothing about either. Every file is drawn under
//! a temporary name and renamed into place.

pub mod diagram;
pub mod lines;

use std::path::{Path, PathBuf};

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

/// Renames the drawn temporary file into place.
fn finish(tmp: &Path, path: &Path) -> Result<(), PlotError> {
    crate::atomic::commit(tmp, path).map_err(|e| PlotError::new(path, e))
}
