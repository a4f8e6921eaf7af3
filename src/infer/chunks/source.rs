//! The test image and its mask (TIFF stacks or Zarr/HDF5 arrays, D17) read slab by slab for
//! `TEST.BY_CHUNKS` (D15), with the checks
//! and conversions of the whole-file path (`data::dataset`; the header checks are
//! `open_stack_pair`): masks integer labels below `DATA.N_CLASSES` (0/255 read as 0/1).
//! Normalisation statistics are whole-volume, gathered in streaming passes before prediction
//! (see `data::normalize_stream`), so memory stays one slab.
//!
//! [`ImageSource::padded_slab`] returns `patch_z` planes starting at a plane that may lie before
//! or past the stack: planes outside are NumPy-`reflect`ed at the stack's borders (only pages
//! inside the stack are decoded, at most `patch_z` at a time). Owns reading and converting; must
//! not predict or write.

use std::path::{Path, PathBuf};

#[cfg(doc)]
use crate::data::dataset::open_stack_pair;

use crate::config::Normalization;
use crate::data::Volume;
use crate::data::dataset::{DataError, mask_is_0_255};
use crate::data::normalize::{NormStats, apply};
use crate::data::normalize_stream::StreamingStats;
use crate::data::stack::Stack;
use crate::data::tiff_io::{AnyVolume, TiffMeta, map_volume};
use crate::data::window::reflect_index;

use super::super::InferError;

/// The planes `first..first + n` of `stack`, reflected at its borders, as one volume, decoding
/// only the pages inside the stack that the window touches (at most `n`).
fn reflected_planes(stack: &mut Stack, first: isize, n: usize) -> Result<AnyVolume, InferError> {
    let depth = stack.shape()[0];
    let planes: Vec<usize> = (0..n).map(|i| reflect_index(first + i as isize, depth)).collect();
    let lo = planes.iter().copied().min().unwrap_or(0);
    let hi = planes.iter().copied().max().map_or(lo + 1, |m| m + 1);
    let read = stack.read_slab(lo, hi)?;
    if planes.iter().enumerate().all(|(i, &p)| p == lo + i) && planes.len() == hi - lo {
        return Ok(read);
    }
    Ok(map_volume!(read, v => pick_planes(&v, &planes, lo)))
}

/// The planes `planes[i] − lo` of `v`, in that order.
fn pick_planes<T: Copy>(v: &Volume<T>, planes: &[usize], lo: usize) -> Volume<T> {
    let [_, y, x, c] = v.shape();
    let plane = y * x * c;
    let mut out = Vec::with_capacity(planes.len() * plane);
    for &p in planes {
        out.extend_from_slice(&v.as_slice()[(p - lo) * plane..(p - lo + 1) * plane]);
    }
    Volume::from_vec([planes.len(), y, x, c], out).expect("whole planes of the same size")
}

/// A test image read slab by slab, normalised with its whole-volume statistics.
pub struct ImageSource {
    stack: Stack,
    stats: NormStats,
    meta: TiffMeta,
}

impl ImageSource {
    /// Gathers the normalisation statistics of the image `stack` (checked by
    /// [`open_stack_pair`]) in streaming passes of at most `slab_planes` planes (see the module
    /// docs).
    pub fn new(mut stack: Stack, norm: &Normalization, slab_planes: usize) -> Result<Self, InferError> {
        let n_channels = stack.shape()[3];
        // The statistics of the whole stack, as the normal path takes them: `Z_START`/`Z_END` only
        // choose the planes predicted.
        let depth = stack.shape()[0];
        let mut stats = StreamingStats::new(norm, n_channels)?;
        let step = slab_planes.max(1);
        for z0 in (0..depth).step_by(step) {
            stats.add_first(&stack.read_slab(z0, (z0 + step).min(depth))?.to_f32());
        }
        if stats.needs_second_pass() {
            for z0 in (0..depth).step_by(step) {
                stats.add_second(&stack.read_slab(z0, (z0 + step).min(depth))?.to_f32());
            }
        }
        Ok(Self { stats: stats.finish()?, meta: stack.meta(), stack })
    }

    /// `(z, y, x, c)` of the whole stack.
    pub fn shape(&self) -> [usize; 4] {
        self.stack.shape()
    }

    /// Pixel size of the image, for the outputs.
    pub fn meta(&self) -> &TiffMeta {
        &self.meta
    }

    /// `n` normalised planes from plane `first` (reflected outside the stack).
    pub fn padded_slab(&mut self, first: isize, n: usize) -> Result<Volume<f32>, InferError> {
        let mut slab = reflected_planes(&mut self.stack, first, n)?.to_f32();
        apply(slab.as_mut_slice(), &self.stats);
        Ok(slab)
    }

    /// The most image planes the reader decoded at once (prediction and statistics passes).
    pub fn max_planes_at_once(&self) -> usize {
        self.stack.max_planes_at_once()
    }
}

/// A test mask read slab by slab as labels.
pub struct MaskSource {
    path: PathBuf,
    stack: Stack,
    zero_255: bool,
    n_classes: usize,
}

impl MaskSource {
    /// Checks the mask `stack` (opened by [`open_stack_pair`]) in one streaming pass of at most
    /// `slab_planes` planes (integer labels below `n_classes`) and decides the 0/255 reading.
    pub fn new(
        mut stack: Stack,
        (n_classes, ignore): (usize, Option<u16>),
        slab_planes: usize,
    ) -> Result<Self, InferError> {
        let path = stack.path().to_path_buf();
        let path = path.as_path();
        let z = stack.shape()[0];
        let (mut max, mut all_0_255) = (0u32, true);
        let step = slab_planes.max(1);
        for z0 in (0..z).step_by(step) {
            let slab = stack.read_slab(z0, (z0 + step).min(z))?;
            let labels = integer_labels(path, slab, n_classes)?;
            for &v in labels.as_slice() {
                all_0_255 &= v == 0 || v == 255;
                if Some(v) != ignore.map(u32::from) {
                    max = max.max(v);
                }
            }
        }
        let zero_255 = mask_is_0_255(path, max, all_0_255, n_classes, ignore)?;
        Ok(Self { path: path.into(), stack, zero_255, n_classes })
    }

    /// `n` label planes from plane `first` (reflected outside the stack).
    pub fn padded_slab(&mut self, first: isize, n: usize) -> Result<Volume<u16>, InferError> {
        let labels = integer_labels(&self.path, reflected_planes(&mut self.stack, first, n)?, self.n_classes)?;
        Ok(if self.zero_255 { labels.map(|&v| u16::from(v == 255)) } else { labels.map(|&v| v as u16) })
    }

    /// The most mask planes the reader decoded at once.
    pub fn max_planes_at_once(&self) -> usize {
        self.stack.max_planes_at_once()
    }
}

/// The samples of a mask slab as labels: integer and non-negative.
fn integer_labels(path: &Path, slab: AnyVolume, n_classes: usize) -> Result<Volume<u32>, InferError> {
    if !slab.is_integer() {
        return Err(DataError::FloatMask { path: path.into(), dtype: slab.dtype() }.into());
    }
    slab.to_labels().ok_or_else(|| DataError::NegativeMask { path: path.into(), n_classes }.into())
}
