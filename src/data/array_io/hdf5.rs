//! HDF5 datasets through the system libhdf5 (`hdf5-metno`, cargo feature `hdf5`): finding the
//! dataset in a file as BiaPy does, reading a region of it, and writing a whole dataset (for
//! `segsweep synth`). Knows nothing of axes orders or volumes: [`super::ArrayStack`] does that.

use std::ops::Range;
use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataset, File, Group, Hyperslab, LocationType, SliceOrIndex};

use super::{Dtype, Element, NodeError};

/// An HDF5 dataset open for reading.
pub struct Hdf5Array {
    dataset: Dataset,
    name: String,
    // Keeps the file open while the dataset is read.
    _file: File,
}

/// The first dataset under `group`, sorted by name at every level (BiaPy's
/// `_first_dataset_in_h5_group`), as its path.
fn first_dataset(group: &Group, prefix: &str) -> Result<Option<String>, NodeError> {
    let mut names = group.member_names().map_err(|e| NodeError::Open(e.to_string()))?;
    names.sort();
    let Some(first) = names.first() else { return Ok(None) };
    let path = format!("{prefix}/{first}");
    match group.loc_type_by_name(first).map_err(|e| NodeError::Open(e.to_string()))? {
        LocationType::Dataset => Ok(Some(path)),
        LocationType::Group => {
            let inner = group.group(first).map_err(|e| NodeError::Open(e.to_string()))?;
            first_dataset(&inner, &path)
        }
        _ => Ok(None),
    }
}

impl Hdf5Array {
    /// Opens the dataset `dataset` of the file `path` (slashes or BiaPy's dots separate groups),
    /// or without `dataset` the first dataset found (sorted by name, descending into groups).
    pub fn open(path: &Path, dataset: Option<&str>) -> Result<Self, NodeError> {
        let file = File::open(path).map_err(|e| NodeError::Open(e.to_string()))?;
        let name = match dataset {
            Some(given) => {
                let sep = if given.contains('/') { '/' } else { '.' };
                let parts: Vec<&str> = given.split(sep).filter(|p| !p.is_empty()).collect();
                let name = format!("/{}", parts.join("/"));
                if !file.link_exists(&name) {
                    return Err(NodeError::Missing(given.into()));
                }
                name
            }
            None => first_dataset(&file, "")?.ok_or(NodeError::NoArray)?,
        };
        let dataset = file.dataset(&name).map_err(|e| NodeError::Open(e.to_string()))?;
        Ok(Self { dataset, name, _file: file })
    }

    /// Writes `samples` (row-major) as the new dataset `name` of shape `shape`, chunked by
    /// `chunks` and deflate-compressed, in the new file `path`.
    pub fn create<T: Element>(
        path: &Path,
        name: &str,
        shape: &[usize],
        chunks: &[usize],
        samples: &[T],
    ) -> Result<(), NodeError> {
        let file = File::create(path).map_err(|e| NodeError::Open(e.to_string()))?;
        let dataset = file
            .new_dataset::<T>()
            .chunk(chunks.to_vec())
            .deflate(4)
            .shape(shape.to_vec())
            .create(name)
            .map_err(|e| NodeError::Write(e.to_string()))?;
        dataset.write_raw(samples).map_err(|e| NodeError::Write(e.to_string()))
    }

    /// The dataset's path inside the file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dataset's shape.
    pub fn shape(&self) -> Vec<u64> {
        self.dataset.shape().into_iter().map(|n| n as u64).collect()
    }

    /// The sample type, or its name when segsweep does not read it.
    pub fn dtype(&self) -> Result<Dtype, String> {
        let descriptor = self.dataset.dtype().and_then(|t| t.to_descriptor()).map_err(|e| e.to_string())?;
        Ok(match descriptor {
            TypeDescriptor::Unsigned(IntSize::U1) => Dtype::U8,
            TypeDescriptor::Unsigned(IntSize::U2) => Dtype::U16,
            TypeDescriptor::Unsigned(IntSize::U4) => Dtype::U32,
            TypeDescriptor::Integer(IntSize::U1) => Dtype::I8,
            TypeDescriptor::Integer(IntSize::U2) => Dtype::I16,
            TypeDescriptor::Integer(IntSize::U4) => Dtype::I32,
            TypeDescriptor::Float(FloatSize::U4) => Dtype::F32,
            TypeDescriptor::Float(FloatSize::U8) => Dtype::F64,
            other => return Err(other.to_string()),
        })
    }

    /// The samples of `region`, row-major.
    pub fn read<T: Element>(&self, region: &[Range<u64>]) -> Result<Vec<T>, NodeError> {
        let slices: Vec<SliceOrIndex> =
            region.iter().map(|r| SliceOrIndex::from(r.start as usize..r.end as usize)).collect();
        let array = self
            .dataset
            .read_slice::<T, _, ndarray::IxDyn>(Hyperslab::from(slices))
            .map_err(|e| NodeError::Read(e.to_string()))?;
        Ok(array.iter().copied().collect())
    }
}
