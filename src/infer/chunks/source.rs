//! The test image and its mask read slab by slab for `TEST.BY_CHUNKS` (D15), with the checks
//! and conversions of the whole-file path (`data::dataset`): a 3D stack, the channel count of
//! `DATA.PATCH_SIZE`, masks single-channel integer labels below `DATA.N_CLASSES` (0/255 read as
//! 0/1), the same spatial shape. Normalisation statistics are whole-volume, gathered in streaming
//! passes before prediction (see `data::normalize_stream`), so memory stays one slab.
//!
//! [`ImageSource::padded_slab`] returns `patch_z` planes starting at a plane that may lie before
//! or past the stack: planes outside are NumPy-`reflect`ed at the stack's borders (only pages
//! inside the stack are decoded, at most `patch_z` at a time). Owns reading and converting; must
//! not predict or write.

use std::path::{Path, PathBuf};

use crate::config::Normalization;
use crate::data::Volume;
use crate::data::dataset::{DataError, mask_is_0_255, not_a_stack};
use crate::data::normalize::{NormStats, apply};
use crate::data::normalize_stream::StreamingStats;
use crate::data::tiff_io::{AnyVolume, TiffMeta, TiffStack, map_volume};
use crate::data::window::reflect_index;

use super::super::InferError;

/// The planes `first..first + n` of `stack`, reflected at its borders, as one volume, decoding
/// only the pages inside the stack that the window touches (at most `n`).
fn reflected_planes(stack: &mut TiffStack, first: isize, n: usize) -> Result<AnyVolume, InferError> {
    let depth = stack.shape()[0];
    let planes: Vec<usize> = (0..n).map(|i| reflect_index(first + i as isize, depth)).collect();
    let lo = planes.iter().copied().min().unwrap_or(0);
    let hi = planes.iter().copied().max().map_or(lo + 1, |m| m + 1);
    let read = stack.read_slab(lo, hi).map_err(DataError::from)?;
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

/// Opens `path` as a 3D stack.
fn open_stack(path: &Path) -> Result<TiffStack, InferError> {
    let stack = TiffStack::open(path).map_err(DataError::from)?;
    let [z, y, x, _] = stack.shape();
    if z == 1 && !stack.z_from_metadata() {
        return Err(not_a_stack(path, y, x).into());
    }
    Ok(stack)
}

/// A test image read slab by slab, normalised with its whole-volume statistics.
pub struct ImageSource {
    stack: TiffStack,
    stats: NormStats,
}

impl ImageSource {
    /// Opens the image, checks it and gathers its normalisation statistics (streaming passes;
    /// see the module docs).
    /// Each read takes at most `slab_planes` planes.
    pub fn open(path: &Path, n_channels: usize, norm: &Normalization, slab_planes: usize) -> Result<Self, InferError> {
        let mut stack = open_stack(path)?;
        let found = stack.shape()[3];
        if found != n_channels {
            return Err(DataError::Channels { path: path.into(), found, expected: n_channels }.into());
        }
        // The statistics of the whole stack, as the normal path takes them: `Z_START`/`Z_END` only
        // choose the planes predicted.
        let depth = stack.shape()[0];
        let mut stats = StreamingStats::new(norm, n_channels)?;
        let step = slab_planes.max(1);
        for z0 in (0..depth).step_by(step) {
            stats.add_first(&stack.read_slab(z0, (z0 + step).min(depth)).map_err(DataError::from)?.to_f32());
        }
        if stats.needs_second_pass() {
            for z0 in (0..depth).step_by(step) {
                stats.add_second(&stack.read_slab(z0, (z0 + step).min(depth)).map_err(DataError::from)?.to_f32());
            }
        }
        Ok(Self { stats: stats.finish()?, stack })
    }

    /// `(z, y, x, c)` of the whole stack.
    pub fn shape(&self) -> [usize; 4] {
        self.stack.shape()
    }

    /// Pixel size of the image, for the outputs.
    pub fn meta(&self) -> &TiffMeta {
        self.stack.meta()
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
    stack: TiffStack,
    zero_255: bool,
    n_classes: usize,
}

impl MaskSource {
    /// Opens the mask of an image of spatial shape `image`, checks it in one streaming pass of
    /// `slab_planes` planes at a time (integer, single channel, labels below `n_classes`) and
    /// decides the 0/255 reading.
    pub fn open(
        path: &Path,
        image_path: &Path,
        image: [usize; 3],
        (n_classes, ignore): (usize, Option<u16>),
        slab_planes: usize,
    ) -> Result<Self, InferError> {
        let mut stack = open_stack(path)?;
        let [z, y, x, c] = stack.shape();
        if c != 1 {
            return Err(DataError::MaskChannels { path: path.into(), n_channels: c }.into());
        }
        if [z, y, x] != image {
            let text = |s: [usize; 3]| format!("{}×{}×{}", s[0], s[1], s[2]);
            return Err(DataError::ShapeMismatch {
                image: image_path.into(),
                image_shape: text(image),
                mask: path.into(),
                mask_shape: text([z, y, x]),
            }
            .into());
        }
        let (mut max, mut all_0_255) = (0u32, true);
        let step = slab_planes.max(1);
        for z0 in (0..z).step_by(step) {
            let slab = stack.read_slab(z0, (z0 + step).min(z)).map_err(DataError::from)?;
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
