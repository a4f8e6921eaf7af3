//! TIFF input and output for [`Volume`]s.
//!
//! This module owns reading TIFF files (single page, multi-page, BigTIFF, ImageJ hyperstacks) into
//! a typed [`AnyVolume`] (whole, or a z range at a time with [`TiffStack`]), writing
//! `uint8`/`uint16`/`float32` volumes as ImageJ-compatible TIFFs (whole, or slab by slab with
//! [`TiffPageWriter`]),
//! and carrying physical metadata (ImageJ `spacing=`/`unit=`, the X/Y resolution tags) between
//! them. It must not know about datasets, pairing of images with masks or normalisation: callers
//! get the samples exactly as stored and decide what they mean.
//!
//! Layout conventions: pages become `z`, samples per pixel (RGB, multiband) become `c`, and an
//! ImageJ `channels=` count splits the page sequence (channel fastest) into `c`. Files are written
//! the ImageJ way: one grey page per `(z, c)` pair, channel fastest, with the hyperstack
//! description on the first page.

mod imagej;
mod pages;
mod read;
mod stack;
mod write;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use super::volume::Volume;

pub use pages::{PageType, TiffPageWriter};
pub use read::{DEFAULT_MAX_BYTES, read_tiff, read_tiff_with_limit};
pub use stack::TiffStack;
pub use write::{WriteOptions, write_tiff};

/// A volume of whatever sample type the file holds.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyVolume {
    /// Unsigned 8-bit samples.
    U8(Volume<u8>),
    /// Unsigned 16-bit samples.
    U16(Volume<u16>),
    /// Unsigned 32-bit samples.
    U32(Volume<u32>),
    /// Signed 8-bit samples.
    I8(Volume<i8>),
    /// Signed 16-bit samples.
    I16(Volume<i16>),
    /// Signed 32-bit samples.
    I32(Volume<i32>),
    /// 32-bit floats (16-bit float files are widened to this).
    F32(Volume<f32>),
    /// 64-bit floats.
    F64(Volume<f64>),
}

/// Runs `$body` with `$v` bound to the inner volume, whatever its type.
macro_rules! with_volume {
    ($any:expr, $v:ident => $body:expr) => {
        match $any {
            AnyVolume::U8($v) => $body,
            AnyVolume::U16($v) => $body,
            AnyVolume::U32($v) => $body,
            AnyVolume::I8($v) => $body,
            AnyVolume::I16($v) => $body,
            AnyVolume::I32($v) => $body,
            AnyVolume::F32($v) => $body,
            AnyVolume::F64($v) => $body,
        }
    };
}

/// Maps the inner volume through `$body`, keeping the variant.
macro_rules! map_volume {
    ($any:expr, $v:ident => $body:expr) => {
        match $any {
            AnyVolume::U8($v) => AnyVolume::U8($body),
            AnyVolume::U16($v) => AnyVolume::U16($body),
            AnyVolume::U32($v) => AnyVolume::U32($body),
            AnyVolume::I8($v) => AnyVolume::I8($body),
            AnyVolume::I16($v) => AnyVolume::I16($body),
            AnyVolume::I32($v) => AnyVolume::I32($body),
            AnyVolume::F32($v) => AnyVolume::F32($body),
            AnyVolume::F64($v) => AnyVolume::F64($body),
        }
    };
}
pub(crate) use {map_volume, with_volume};

impl AnyVolume {
    /// `(z, y, x, c)`.
    pub fn shape(&self) -> [usize; 4] {
        with_volume!(self, v => v.shape())
    }

    /// NumPy-style name of the sample type: `"uint8"`, `"uint16"`, `"float32"`, ...
    pub fn dtype(&self) -> &'static str {
        match self {
            AnyVolume::U8(_) => "uint8",
            AnyVolume::U16(_) => "uint16",
            AnyVolume::U32(_) => "uint32",
            AnyVolume::I8(_) => "int8",
            AnyVolume::I16(_) => "int16",
            AnyVolume::I32(_) => "int32",
            AnyVolume::F32(_) => "float32",
            AnyVolume::F64(_) => "float64",
        }
    }

    /// The samples converted to `f32` (values above 2^24 and `float64` lose precision).
    pub fn to_f32(&self) -> Volume<f32> {
        match self {
            AnyVolume::U8(v) => v.map(|&x| f32::from(x)),
            AnyVolume::U16(v) => v.map(|&x| f32::from(x)),
            AnyVolume::U32(v) => v.map(|&x| x as f32),
            AnyVolume::I8(v) => v.map(|&x| f32::from(x)),
            AnyVolume::I16(v) => v.map(|&x| f32::from(x)),
            AnyVolume::I32(v) => v.map(|&x| x as f32),
            AnyVolume::F32(v) => v.clone(),
            AnyVolume::F64(v) => v.map(|&x| x as f32),
        }
    }

    /// True for the integer sample types.
    pub fn is_integer(&self) -> bool {
        !matches!(self, AnyVolume::F32(_) | AnyVolume::F64(_))
    }

    /// The samples as `u32` labels: `None` for float volumes and for volumes holding negatives.
    pub fn to_labels(&self) -> Option<Volume<u32>> {
        fn signed<T: Copy + Into<i64>>(v: &Volume<T>) -> Option<Volume<u32>> {
            if v.as_slice().iter().any(|&x| x.into() < 0) {
                return None;
            }
            Some(v.map(|&x| u32::try_from(x.into()).unwrap_or(0)))
        }
        match self {
            AnyVolume::U8(v) => Some(v.map(|&x| u32::from(x))),
            AnyVolume::U16(v) => Some(v.map(|&x| u32::from(x))),
            AnyVolume::U32(v) => Some(v.clone()),
            AnyVolume::I8(v) => signed(v),
            AnyVolume::I16(v) => signed(v),
            AnyVolume::I32(v) => signed(v),
            AnyVolume::F32(_) | AnyVolume::F64(_) => None,
        }
    }
}

macro_rules! impl_from_volume {
    ($($t:ty => $variant:ident),*) => {
        $(impl From<Volume<$t>> for AnyVolume {
            fn from(v: Volume<$t>) -> Self {
                AnyVolume::$variant(v)
            }
        })*
    };
}
impl_from_volume!(u8 => U8, u16 => U16, u32 => U32, i8 => I8, i16 => I16, i32 => I32,
    f32 => F32, f64 => F64);

/// Physical metadata carried from an input to outputs (ImageJ spacing/unit, X/Y resolution tags).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TiffMeta {
    /// `XResolution` tag as `(numerator, denominator)`: pixels per resolution unit.
    pub x_resolution: Option<(u32, u32)>,
    /// `YResolution` tag as `(numerator, denominator)`: pixels per resolution unit.
    pub y_resolution: Option<(u32, u32)>,
    /// `ResolutionUnit` tag: 1 none, 2 inch, 3 centimetre.
    pub resolution_unit: Option<u16>,
    /// ImageJ `spacing=`: the z step in `unit`s.
    pub spacing: Option<f64>,
    /// ImageJ `unit=` (e.g. `micron`, `µm`).
    pub unit: Option<String>,
}

/// A decoded TIFF file.
#[derive(Clone, Debug, PartialEq)]
pub struct TiffImage {
    /// The samples, `(z, y, x, c)`.
    pub volume: AnyVolume,
    /// True when the file said which axis is z (ImageJ `slices=`), false when pages were simply
    /// counted.
    pub z_from_metadata: bool,
    /// Resolution tags of the first page and ImageJ spacing/unit.
    pub meta: TiffMeta,
    /// The first page's `ImageDescription` when it is an ImageJ one (starts with `ImageJ=`).
    pub imagej_description: Option<String>,
}

/// Why a TIFF file could not be read or written. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TiffError {
    /// The operating system refused an operation on the file.
    #[error("i/o error on `{}`: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file has no bytes.
    #[error("`{}` is empty, not a TIFF file", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file does not start with a TIFF signature.
    #[error("`{}` is not a TIFF file (no TIFF signature)", .path.display())]
    NotTiff {
        /// The file.
        path: PathBuf,
    },
    /// The file ends before the data its header or directories point to.
    #[error("`{}` is truncated: {detail}", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was missing.
        detail: String,
    },
    /// The TIFF structure or compressed data is corrupt.
    #[error("cannot decode `{}`: {message}", .path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// The `tiff` encoder failed.
    #[error("cannot encode `{}`: {message}", .path.display())]
    Encode {
        /// The file.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
    /// The file uses a TIFF feature (compression, photometric interpretation...) not supported.
    #[error("`{}` uses an unsupported TIFF feature: {detail}", .path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Which feature.
        detail: String,
    },
    /// The samples are of a type or bit depth that has no [`AnyVolume`] variant.
    #[error("`{}` has an unsupported sample format: {detail}", .path.display())]
    UnsupportedSampleFormat {
        /// The file.
        path: PathBuf,
        /// The format found.
        detail: String,
    },
    /// A floating-point sample is NaN or infinite: images, probability maps and predictions
    /// must be finite (one such voxel would turn a loss, a normalisation or an IoU into NaN).
    #[error(
        "`{}` has a non-finite value ({value}) at page {page}, y {y}, x {x}, sample {sample}; images and predictions must be finite",
        .path.display()
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// `NaN`, `inf` or `-inf`.
        value: String,
        /// Zero-based page (z for a stack), row, column and sample (channel) of the first one.
        page: usize,
        y: usize,
        x: usize,
        sample: usize,
    },
    /// A page differs from the first one in size or sample type.
    #[error("`{}`: page {page} does not match page 0: {detail}", .path.display())]
    InconsistentPages {
        /// The file.
        path: PathBuf,
        /// Zero-based index of the offending page.
        page: usize,
        /// The two page layouts.
        detail: String,
    },
    /// The ImageJ description contradicts the file or describes an unsupported layout.
    #[error("`{}` has unusable ImageJ metadata: {detail}", .path.display())]
    ImageJ {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The decoded samples do not form the volume the pages and ImageJ description announce.
    #[error("`{}`: the decoded pages do not form the announced volume", .path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// What did not fit.
        source: crate::data::volume::ShapeError,
    },
    /// Decoding would need more memory than allowed.
    #[error("`{}` would decode to {n_bytes} bytes, over the limit of {limit} bytes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Bytes the decoded volume would take.
        n_bytes: u64,
        /// The limit in force.
        limit: u64,
    },
    /// [`write_tiff`] was given a sample type it does not write.
    #[error(
        "cannot write `{}`: {dtype} volumes are not supported (uint8, uint16, float32 are)",
        .path.display()
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The volume's dtype.
        dtype: &'static str,
    },
    /// [`write_tiff`] was given a volume or metadata that cannot be stored.
    #[error("cannot write `{}`: {detail}", .path.display())]
    InvalidInput {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}
