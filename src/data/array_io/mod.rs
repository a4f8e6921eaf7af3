//! Zarr and HDF5 images and masks (D17): chunked arrays read lazily, a z range at a time, and a
//! Zarr written slab by slab for `TEST.BY_CHUNKS`' outputs.
//!
//! - `layout`: an axes-order key applied to an array's shape (pure).
//! - `zarr`: Zarr v2/v3 containers through `zarrs` (the codecs zarr-python writes by default).
//! - `hdf5`: HDF5 files through the system libhdf5 (cargo feature `hdf5`).
//!
//! Which array of a container is read follows BiaPy: the one the dataset key names
//! (`INPUT_ZARR_MULTIPLE_DATA_RAW_PATH`/`GT_PATH`), otherwise the first array found, sorted by
//! name, descending into groups. Unlike BiaPy, the array's dimensions are never guessed from
//! their sizes: the split's axes-order key (default `TZCYX`) must name each of them.
//!
//! It must not pair images with masks, check label values or normalise: `data::dataset` and the
//! chunked test's sources do that on the volumes returned here.

mod layout;
mod zarr;

#[cfg(feature = "hdf5")]
mod hdf5;

use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::config::axes::AxesOrder;
use crate::data::slab_progress::SlabProgress;
use crate::data::tiff_io::{AnyVolume, with_volume};

pub use layout::ArrayLayout;

/// The chunked-array formats, told by the file or folder name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayFormat {
    /// A `.zarr` folder (v2 or v3).
    Zarr,
    /// A `.h5`, `.hdf5`, `.hdf` or `.he5` file.
    Hdf5,
}

impl ArrayFormat {
    /// The format `path`'s name says, `None` for anything else (TIFF among them).
    pub fn of(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "zarr" => Some(Self::Zarr),
            "h5" | "hdf5" | "hdf" | "he5" => Some(Self::Hdf5),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Zarr => "Zarr",
            Self::Hdf5 => "HDF5",
        }
    }
}

/// The sample types segsweep reads from and writes to arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    U8,
    U16,
    U32,
    I8,
    I16,
    I32,
    F32,
    F64,
}

impl Dtype {
    /// The sample type of `volume`.
    pub fn of(volume: &AnyVolume) -> Self {
        match volume {
            AnyVolume::U8(_) => Self::U8,
            AnyVolume::U16(_) => Self::U16,
            AnyVolume::U32(_) => Self::U32,
            AnyVolume::I8(_) => Self::I8,
            AnyVolume::I16(_) => Self::I16,
            AnyVolume::I32(_) => Self::I32,
            AnyVolume::F32(_) => Self::F32,
            AnyVolume::F64(_) => Self::F64,
        }
    }
}

/// A sample type both backends read and write.
#[cfg(feature = "hdf5")]
pub trait Element: zarrs::array::ElementOwned + ::hdf5::H5Type + Copy + Default + Send + Sync {}
#[cfg(feature = "hdf5")]
impl<T: zarrs::array::ElementOwned + ::hdf5::H5Type + Copy + Default + Send + Sync> Element for T {}
/// A sample type both backends read and write.
#[cfg(not(feature = "hdf5"))]
pub trait Element: zarrs::array::ElementOwned + Copy + Default + Send + Sync {}
#[cfg(not(feature = "hdf5"))]
impl<T: zarrs::array::ElementOwned + Copy + Default + Send + Sync> Element for T {}

/// What a backend reports; [`ArrayError`] adds the file.
#[derive(Debug)]
pub enum NodeError {
    /// The container could not be opened or parsed.
    Open(String),
    /// No array anywhere in the container.
    NoArray,
    /// The named dataset is not in the container.
    Missing(String),
    /// Decoding a region failed.
    Read(String),
    /// Writing failed.
    Write(String),
}

impl NodeError {
    /// What went wrong, in words.
    fn detail(self) -> String {
        match self {
            Self::Open(d) | Self::Read(d) | Self::Write(d) => d,
            Self::NoArray => "no array in the container".into(),
            Self::Missing(name) => format!("no dataset `{name}`"),
        }
    }
}

/// Why a Zarr or HDF5 input or output failed. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ArrayError {
    #[error("cannot open {format} `{}`: {detail}", path.display())]
    Open { path: PathBuf, format: &'static str, detail: String },
    #[error("{format} `{}` holds no array (segsweep reads the first one, sorted by name, as BiaPy)", path.display())]
    NoArray { path: PathBuf, format: &'static str },
    #[error("{format} `{}` has no dataset `{name}` (`{key}`)", path.display())]
    MissingDataset { path: PathBuf, format: &'static str, name: String, key: String },
    #[error("array `{name}` of `{}` {detail} (`{key}`)", path.display())]
    Layout { path: PathBuf, name: String, key: String, detail: String },
    #[error("array `{name}` of `{}` has {dtype} samples: expected uint8/16/32, int8/16/32 or float32/64", path.display())]
    Dtype { path: PathBuf, name: String, dtype: String },
    #[error("cannot read {format} `{}`: {detail}", path.display())]
    Read { path: PathBuf, format: &'static str, detail: String },
    #[error("cannot write `{}`: {detail}", path.display())]
    Write { path: PathBuf, detail: String },
    #[error(
        "`{}` is an HDF5 file, but this segsweep was built without HDF5: rebuild with `--features hdf5` (needs the system libhdf5, e.g. Debian's libhdf5-dev)",
        path.display()
    )]
    NoHdf5 { path: PathBuf },
    #[error("`{}` is a Zarr/HDF5 input, but `PROBLEM.NDIM` is 2D: Zarr and HDF5 inputs are 3D only, as in BiaPy", path.display())]
    Not3d { path: PathBuf },
}

impl ArrayError {
    fn from_node(path: &Path, format: ArrayFormat, key: &str, error: NodeError) -> Self {
        let (path, format) = (path.to_path_buf(), format.name());
        match error {
            NodeError::Open(detail) => Self::Open { path, format, detail },
            NodeError::NoArray => Self::NoArray { path, format },
            NodeError::Missing(name) => Self::MissingDataset { path, format, name, key: key.into() },
            NodeError::Read(detail) => Self::Read { path, format, detail },
            NodeError::Write(detail) => Self::Write { path, detail },
        }
    }
}

/// Which array of a container to read and how its dimensions are ordered.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ArraySpec {
    /// The axes order (`DATA.*.INPUT_IMG_AXES_ORDER` or `INPUT_MASK_AXES_ORDER`), as written.
    pub axes: String,
    /// The key `axes` came from, for messages.
    pub axes_key: String,
    /// The dataset inside the container (`INPUT_ZARR_MULTIPLE_DATA_*_PATH`), `None` for the first.
    pub dataset: Option<String>,
    /// The key `dataset` came from, for messages.
    pub dataset_key: String,
}

enum Backend {
    Zarr(Box<zarr::ZarrArray>),
    #[cfg(feature = "hdf5")]
    Hdf5(hdf5::Hdf5Array),
}

impl Backend {
    fn read<T: Element>(&self, region: &[Range<u64>]) -> Result<Vec<T>, NodeError> {
        match self {
            Self::Zarr(a) => a.read(region),
            #[cfg(feature = "hdf5")]
            Self::Hdf5(a) => a.read(region),
        }
    }
}

/// A Zarr or HDF5 array open for reading z ranges as `(z, y, x, c)` volumes.
pub struct ArrayStack {
    path: PathBuf,
    format: ArrayFormat,
    name: String,
    backend: Backend,
    layout: ArrayLayout,
    dtype: Dtype,
    max_planes_at_once: usize,
}

impl std::fmt::Debug for ArrayStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArrayStack").field("path", &self.path).field("name", &self.name).finish_non_exhaustive()
    }
}

impl ArrayStack {
    /// Opens the array `spec` names in the container `path`, decoding no sample, and checks its
    /// shape against the axes order and its sample type.
    pub fn open(path: &Path, spec: &ArraySpec) -> Result<Self, ArrayError> {
        let format = ArrayFormat::of(path).ok_or_else(|| ArrayError::Open {
            path: path.into(),
            format: "Zarr/HDF5",
            detail: "expected a `.zarr` folder or a `.h5`/`.hdf5`/`.hdf`/`.he5` file".into(),
        })?;
        let node_error = |e| ArrayError::from_node(path, format, &spec.dataset_key, e);
        let dataset = spec.dataset.as_deref();
        let (backend, name, shape, dtype) = match format {
            ArrayFormat::Zarr => {
                let a = zarr::ZarrArray::open(path, dataset).map_err(node_error)?;
                let (name, shape, dtype) = (a.name().to_string(), a.shape(), a.dtype());
                (Backend::Zarr(Box::new(a)), name, shape, dtype)
            }
            #[cfg(feature = "hdf5")]
            ArrayFormat::Hdf5 => {
                let a = hdf5::Hdf5Array::open(path, dataset).map_err(node_error)?;
                let (name, shape, dtype) = (a.name().to_string(), a.shape(), a.dtype());
                (Backend::Hdf5(a), name, shape, dtype)
            }
            #[cfg(not(feature = "hdf5"))]
            ArrayFormat::Hdf5 => return Err(ArrayError::NoHdf5 { path: path.into() }),
        };
        let dtype = dtype.map_err(|dtype| ArrayError::Dtype { path: path.into(), name: name.clone(), dtype })?;
        let layout = AxesOrder::parse(&spec.axes).and_then(|axes| ArrayLayout::new(&axes, &shape));
        let layout = layout.map_err(|detail| ArrayError::Layout {
            path: path.into(),
            name: name.clone(),
            key: spec.axes_key.clone(),
            detail,
        })?;
        Ok(Self { path: path.into(), format, name, backend, layout, dtype, max_planes_at_once: 0 })
    }

    /// `(z, y, x, c)` of the whole array.
    pub fn shape(&self) -> [usize; 4] {
        self.layout.zyxc()
    }

    /// The container.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The array's path inside the container.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The axes order the array is read in.
    pub fn axes(&self) -> &AxesOrder {
        self.layout.order()
    }

    /// Planes `z0..z1` as a `(z1 − z0, y, x, c)` volume of the array's sample type, decoding only
    /// the chunks they touch.
    pub fn read_slab(&mut self, z0: usize, z1: usize) -> Result<AnyVolume, ArrayError> {
        let depth = self.shape()[0];
        if z0 >= z1 || z1 > depth {
            return Err(ArrayError::Read {
                path: self.path.clone(),
                format: self.format.name(),
                detail: format!("cannot read planes {z0}..{z1} of an array of {depth} planes"),
            });
        }
        let region = self.layout.region(z0..z1);
        macro_rules! read {
            ($t:ty, $variant:ident) => {{
                let samples: Vec<$t> =
                    self.backend.read(&region).map_err(|e| ArrayError::from_node(&self.path, self.format, "", e))?;
                AnyVolume::$variant(self.layout.to_zyxc(samples, z1 - z0))
            }};
        }
        let volume = match self.dtype {
            Dtype::U8 => read!(u8, U8),
            Dtype::U16 => read!(u16, U16),
            Dtype::U32 => read!(u32, U32),
            Dtype::I8 => read!(i8, I8),
            Dtype::I16 => read!(i16, I16),
            Dtype::I32 => read!(i32, I32),
            Dtype::F32 => read!(f32, F32),
            Dtype::F64 => read!(f64, F64),
        };
        self.max_planes_at_once = self.max_planes_at_once.max(z1 - z0);
        Ok(volume)
    }

    /// The whole array as one `(z, y, x, c)` volume.
    pub fn read_all(&mut self) -> Result<AnyVolume, ArrayError> {
        let depth = self.shape()[0];
        self.read_slab(0, depth)
    }

    /// The most z planes one [`ArrayStack::read_slab`] call decoded.
    pub fn max_planes_at_once(&self) -> usize {
        self.max_planes_at_once
    }
}

/// A `(z, y, x, c)` volume written as a Zarr v3 array slab after slab, in a given axes order;
/// chunks are one slab deep, so every chunk is written once. The container is built under a
/// temporary sibling name and renamed into place by [`ZarrSlabWriter::finish`] once every plane
/// was written (an older container of that name is replaced, `atomic::replace_dir`); dropped unfinished,
/// the temporary folder is removed.
pub struct ZarrSlabWriter {
    path: PathBuf,
    tmp: PathBuf,
    array: zarr::ZarrArray,
    layout: ArrayLayout,
    dtype: Dtype,
    progress: SlabProgress,
    finished: bool,
}

impl ZarrSlabWriter {
    /// Starts the container `path` for a `(z, y, x, c)` volume of `dtype`, stored in `order`
    /// (a `T` of one; without `C` only for one channel) with chunks of `chunk_planes` planes of
    /// at most 512×512.
    pub fn create(
        path: &Path,
        dtype: Dtype,
        shape: [usize; 4],
        order: &AxesOrder,
        chunk_planes: usize,
    ) -> Result<Self, ArrayError> {
        let [z, y, x, c] = shape;
        let write_error = |detail: String| ArrayError::Write { path: path.into(), detail };
        let layout = ArrayLayout::for_volume(order, shape).map_err(write_error)?;
        let chunks: Vec<u64> = layout
            .arrange([chunk_planes.clamp(1, z.max(1)), y.min(512), x.min(512), c])
            .iter()
            .map(|&n| n.max(1))
            .collect();
        let tmp = crate::atomic::temporary_sibling(path);
        let _ = std::fs::remove_dir_all(&tmp);
        let array =
            zarr::ZarrArray::create(&tmp, layout.shape(), &chunks, dtype).map_err(|e| write_error(e.detail()))?;
        Ok(Self { path: path.into(), tmp, array, layout, dtype, progress: SlabProgress::new(shape), finished: false })
    }

    /// Appends the next `n` z planes: `slab` is `(n, y, x, c)` of the array's sample type.
    pub fn write_slab(&mut self, slab: &AnyVolume) -> Result<(), ArrayError> {
        let invalid = |detail: String| ArrayError::Write { path: self.path.clone(), detail };
        if Dtype::of(slab) != self.dtype {
            return Err(invalid(format!("a {} slab in a {:?} array", slab.dtype(), self.dtype)));
        }
        let planes = self.progress.next(slab.shape()).map_err(invalid)?;
        let region = self.layout.region(planes.clone());
        let written = with_volume!(slab, v => self.array.write(&region, &self.layout.from_zyxc(v)));
        written.map_err(|e| invalid(e.detail()))?;
        self.progress.advance(planes);
        Ok(())
    }

    /// Checks every plane was written and renames the container into place (replacing an older
    /// one of the same name).
    pub fn finish(mut self) -> Result<(), ArrayError> {
        let invalid = |detail: String| ArrayError::Write { path: self.path.clone(), detail };
        self.progress.complete().map_err(invalid)?;
        crate::atomic::replace_dir(&self.tmp, &self.path).map_err(|e| invalid(e.to_string()))?;
        self.finished = true;
        Ok(())
    }

    /// The most z planes one [`ZarrSlabWriter::write_slab`] call carried.
    pub fn max_planes_at_once(&self) -> usize {
        self.progress.max_planes_at_once()
    }
}

impl Drop for ZarrSlabWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes a whole `(z, y, x, c)` volume as the single array of a new container at `path`
/// (`.zarr`: a v3 array; `.h5`: the dataset `data`), in `order` (`segsweep synth --format`).
pub fn write_array(path: &Path, volume: &AnyVolume, order: &AxesOrder) -> Result<(), ArrayError> {
    match ArrayFormat::of(path) {
        Some(ArrayFormat::Zarr) => {
            let depth = volume.shape()[0];
            let mut writer = ZarrSlabWriter::create(path, Dtype::of(volume), volume.shape(), order, depth)?;
            writer.write_slab(volume)?;
            writer.finish()
        }
        Some(ArrayFormat::Hdf5) => write_hdf5(path, volume, order),
        None => Err(ArrayError::Write { path: path.into(), detail: "expected a `.zarr` or `.h5` name".into() }),
    }
}

#[cfg(feature = "hdf5")]
fn write_hdf5(path: &Path, volume: &AnyVolume, order: &AxesOrder) -> Result<(), ArrayError> {
    let write_error = |detail: String| ArrayError::Write { path: path.into(), detail };
    let layout = ArrayLayout::for_volume(order, volume.shape()).map_err(write_error)?;
    let shape: Vec<usize> = layout.shape().iter().map(|&n| n as usize).collect();
    let chunks: Vec<usize> = shape.iter().map(|&n| n.clamp(1, 64)).collect();
    let tmp = crate::atomic::temporary_sibling(path);
    let written =
        with_volume!(volume, v => hdf5::Hdf5Array::create(&tmp, "data", &shape, &chunks, &layout.from_zyxc(v)));
    let failed = |detail: String| {
        let _ = std::fs::remove_file(&tmp);
        ArrayError::Write { path: path.into(), detail }
    };
    written.map_err(|e| failed(e.detail()))?;
    crate::atomic::commit(&tmp, path).map_err(|e| ArrayError::Write { path: path.into(), detail: e.to_string() })
}

#[cfg(not(feature = "hdf5"))]
fn write_hdf5(path: &Path, _volume: &AnyVolume, _order: &AxesOrder) -> Result<(), ArrayError> {
    Err(ArrayError::NoHdf5 { path: path.into() })
}

#[cfg(test)]
mod tests;
