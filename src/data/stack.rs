//! [`Stack`]: a 3D image or mask read a z range at a time, whatever holds it — a TIFF stack
//! ([`TiffStack`]) or a Zarr/HDF5 array ([`ArrayStack`], D17). `TEST.BY_CHUNKS` reads its inputs
//! through this and nothing else. It must not normalise or check label values.

use std::path::Path;

use super::array_io::{ArrayFormat, ArraySpec, ArrayStack};
use super::dataset::DataError;
use super::tiff_io::{AnyVolume, TiffMeta, TiffStack};
use crate::config::axes::AxesOrder;

/// A stack open for reading z ranges.
#[derive(Debug)]
pub enum Stack {
    Tiff(Box<TiffStack>),
    Array(Box<ArrayStack>),
}

impl Stack {
    /// Opens `path`: a Zarr/HDF5 container by its name (the array `array` says), TIFF otherwise.
    pub fn open(path: &Path, array: &ArraySpec) -> Result<Self, DataError> {
        Ok(match ArrayFormat::of(path) {
            Some(_) => Self::Array(Box::new(ArrayStack::open(path, array)?)),
            None => Self::Tiff(Box::new(TiffStack::open(path)?)),
        })
    }

    /// `(z, y, x, c)` of the whole stack.
    pub fn shape(&self) -> [usize; 4] {
        match self {
            Self::Tiff(s) => s.shape(),
            Self::Array(s) => s.shape(),
        }
    }

    /// The file or container.
    pub fn path(&self) -> &Path {
        match self {
            Self::Tiff(s) => s.path(),
            Self::Array(s) => s.path(),
        }
    }

    /// Pixel size for the outputs (none for arrays: their attributes are not read).
    pub fn meta(&self) -> TiffMeta {
        match self {
            Self::Tiff(s) => s.meta().clone(),
            Self::Array(_) => TiffMeta::default(),
        }
    }

    /// True when the file said which axis is z: ImageJ `slices=`, or an array's axes order.
    pub fn z_from_metadata(&self) -> bool {
        match self {
            Self::Tiff(s) => s.z_from_metadata(),
            Self::Array(_) => true,
        }
    }

    /// The axes order of an array (`None` for a TIFF stack).
    pub fn axes_order(&self) -> Option<&AxesOrder> {
        match self {
            Self::Tiff(_) => None,
            Self::Array(s) => Some(s.axes()),
        }
    }

    /// Planes `z0..z1` as a `(z1 − z0, y, x, c)` volume of the stored sample type.
    pub fn read_slab(&mut self, z0: usize, z1: usize) -> Result<AnyVolume, DataError> {
        Ok(match self {
            Self::Tiff(s) => s.read_slab(z0, z1)?,
            Self::Array(s) => s.read_slab(z0, z1)?,
        })
    }

    /// The most z planes one [`Stack::read_slab`] call decoded.
    pub fn max_planes_at_once(&self) -> usize {
        match self {
            Self::Tiff(s) => s.max_planes_at_once(),
            Self::Array(s) => s.max_planes_at_once(),
        }
    }
}
