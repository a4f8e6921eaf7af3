//! Charts as PNG files, drawn with plotters and an embedded DejaVu Sans (no system fonts, so a
//! chart looks the same on every machine): line charts for training curves, and the network
//! diagram. Shared by `train` and `report`; knows nothing about either. Every file is drawn under
//! a temporary name and renamed into place.

pub mod diagram;
pub mod lines;

use std::path::{Path, PathBuf};
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

/// A temporary sibling path with the same extension (the bitmap backend picks the encoder from
/// it).
fn temporary_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "png".into());
    path.with_file_name(format!(".{stem}.tmp-{}.{ext}", std::process::id()))
}

/// Renames the drawn temporary file into place.
fn finish(tmp: &Path, path: &Path) -> Result<(), PlotError> {
    std::fs::rename(tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        PlotError::new(path, e)
    })
}
