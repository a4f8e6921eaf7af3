//! Writing test outputs (D12, D13): probabilities as float32 TIFFs with display range 0–1, masks
//! as uint8 labels (uint16 above 255 classes), each named after its input file's stem, in the
//! run's result folders; every file keeps its input's pixel size (resolution tags, ImageJ
//! spacing/unit) so Fiji and napari show it at the right scale.

use std::path::{Path, PathBuf};

use crate::data::Volume;
use crate::data::tiff_io::{AnyVolume, TiffMeta, WriteOptions, write_tiff};

use super::InferError;

/// `dir/<stem>.tif`, creating `dir`.
pub fn target(dir: &Path, stem: &str) -> Result<PathBuf, InferError> {
    std::fs::create_dir_all(dir).map_err(InferError::write(dir))?;
    Ok(dir.join(format!("{stem}.tif")))
}

/// How probabilities are written: display range 0–1, the input's pixel size.
pub fn probs_options(meta: &TiffMeta) -> WriteOptions {
    WriteOptions { display_range: Some((0.0, 1.0)), meta: meta.clone(), ..WriteOptions::default() }
}

/// How labels are written: display range `0..n_classes − 1`, the input's pixel size.
pub fn labels_options(n_classes: usize, meta: &TiffMeta) -> WriteOptions {
    WriteOptions {
        display_range: Some((0.0, (n_classes.max(2) - 1) as f64)),
        meta: meta.clone(),
        ..WriteOptions::default()
    }
}

/// Labels as written: uint8, or uint16 when there are more than 255 classes.
pub fn label_volume(labels: &Volume<u16>, n_classes: usize) -> AnyVolume {
    if n_classes <= 255 { AnyVolume::U8(labels.map(|&v| v as u8)) } else { AnyVolume::U16(labels.clone()) }
}

/// Writes probabilities `(z, y, x, k)`.
pub fn write_probs(dir: &Path, stem: &str, probs: &Volume<f32>, meta: &TiffMeta) -> Result<(), InferError> {
    let path = target(dir, stem)?;
    write_tiff(&path, &AnyVolume::F32(probs.clone()), &probs_options(meta)).map_err(InferError::write(path))
}

/// Writes labels `(z, y, x, 1)` as uint8, or uint16 when there are more than 255 classes.
pub fn write_labels(
    dir: &Path,
    stem: &str,
    labels: &Volume<u16>,
    n_classes: usize,
    meta: &TiffMeta,
) -> Result<(), InferError> {
    let path = target(dir, stem)?;
    write_tiff(&path, &label_volume(labels, n_classes), &labels_options(n_classes, meta))
        .map_err(InferError::write(path))
}

/// The file stem of an input path (`img_01.tiff` → `img_01`).
pub fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into())
}
