//! Chunked inference of large 3D volumes (`TEST.BY_CHUNKS`, spec §4.7, D15): the test image and
//! its mask are read slab by slab along z, predicted tile by tile and the binarised labels (and,
//! on request, the probabilities) written page by page, so memory is bounded by the slab
//! (`PATCH_SIZE[0]` planes), not by the volume. Semantic segmentation only.
//!
//! - `grid`: the tile arithmetic (pure).
//! - `source`: the image and mask read slab by slab, checked and normalised.
//! - `run`: one image, slab after slab.
//!
//! Differences from the normal path, by design: the tiles are stitched without blending (each
//! voxel comes from the one tile that owns it, `DATA.TEST.OVERLAP` must be 0), the binarisation
//! happens during inference (so `TEST.BINARIZATION` must be a number, not `otsu`), no median
//! filter runs, and the whole-volume IoU is reported at the "full image" level ("merge patches"
//! stays empty: there is no blended merge). `TEST.BY_CHUNKS.SAVE_OUT_TIF` has nothing to add: the
//! output is TIFF already. `FLUSH_EACH` is accepted: every slab is written when predicted.

pub mod grid;
pub mod run;
pub mod source;

pub use run::{ChunkJob, ChunkedPrediction, Footprint, infer_image};

use crate::metrics::Counts;

/// What the infer stage records of an image predicted by chunks, for the evaluate stage.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChunkedImage {
    /// Confusion counts of the whole predicted volume (`None` without ground truth).
    pub counts: Option<Counts>,
    /// Voxels predicted (z·y·x of the `Z_START`..`Z_END` range).
    pub n_voxels: usize,
}

#[cfg(test)]
mod tests;
