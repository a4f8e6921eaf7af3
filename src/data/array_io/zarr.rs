//! Zarr v2 and v3 arrays on the filesystem, through `zarrs`: finding the array in a container as
//! BiaPy does, reading a region of it, and creating a v3 array written region by region. Knows
//! nothing of axes orders or volumes: [`super::ArrayStack`] and [`super::ZarrSlabWriter`] do that.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use zarrs::array::codec::bytes_to_bytes::zstd::ZstdCodec;
use zarrs::array::data_type::{
    Float32DataType, Float64DataType, Int8DataType, Int16DataType, Int32DataType, UInt8DataType, UInt16DataType,
    UInt32DataType,
};
use zarrs::array::{Array, ArrayBuilder, ArraySubset, FillValue};
use zarrs::filesystem::FilesystemStore;
use zarrs::node::{Node, NodeMetadata};

use super::{Dtype, Element, NodeError};

/// A Zarr array open for reading or writing.
pub struct ZarrArray {
    array: Array<FilesystemStore>,
    name: String,
}

/// `name` with BiaPy's dots (`volumes.raw`) or slashes as a Zarr node path (`/volumes/raw`).
fn node_path(name: &str) -> String {
    let parts: Vec<&str> = if name.contains('/') { name.split('/').collect() } else { name.split('.').collect() };
    let parts: Vec<&str> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// The first array under `node`, sorted by name at every level (BiaPy's `_first_array_in_group`).
fn first_array(node: &Node) -> Option<&Node> {
    if matches!(node.metadata(), NodeMetadata::Array(_)) {
        return Some(node);
    }
    let mut children: Vec<&Node> = node.children().iter().collect();
    children.sort_by(|a, b| a.name().as_str().cmp(b.name().as_str()));
    first_array(children.first()?)
}

impl ZarrArray {
    /// Opens the array `dataset` of the container `path` (dots or slashes separate groups), or
    /// without `dataset` the first array found (sorted by name, descending into groups).
    pub fn open(path: &Path, dataset: Option<&str>) -> Result<Self, NodeError> {
        let store = Arc::new(FilesystemStore::new(path).map_err(|e| NodeError::Open(e.to_string()))?);
        let name = match dataset {
            Some(name) => node_path(name),
            None => {
                let root = Node::open(&store, "/").map_err(|e| NodeError::Open(e.to_string()))?;
                first_array(&root).ok_or(NodeError::NoArray)?.path().as_str().to_string()
            }
        };
        let array = Array::open(store, &name).map_err(|e| match dataset {
            Some(dataset) if !path.join(name.trim_start_matches('/')).exists() => NodeError::Missing(dataset.into()),
            _ => NodeError::Open(e.to_string()),
        })?;
        Ok(Self { array, name })
    }

    /// Creates the v3 array `/` of the container `path` (which must not exist yet): `shape`
    /// split into `chunks`, Zstandard-compressed as zarr-python does by default.
    pub fn create(path: &Path, shape: &[u64], chunks: &[u64], dtype: Dtype) -> Result<Self, NodeError> {
        let store = Arc::new(FilesystemStore::new(path).map_err(|e| NodeError::Open(e.to_string()))?);
        let (data_type, fill) = match dtype {
            Dtype::U8 => (zarrs::array::data_type::uint8(), FillValue::from(0u8)),
            Dtype::U16 => (zarrs::array::data_type::uint16(), FillValue::from(0u16)),
            Dtype::U32 => (zarrs::array::data_type::uint32(), FillValue::from(0u32)),
            Dtype::I8 => (zarrs::array::data_type::int8(), FillValue::from(0i8)),
            Dtype::I16 => (zarrs::array::data_type::int16(), FillValue::from(0i16)),
            Dtype::I32 => (zarrs::array::data_type::int32(), FillValue::from(0i32)),
            Dtype::F32 => (zarrs::array::data_type::float32(), FillValue::from(0f32)),
            Dtype::F64 => (zarrs::array::data_type::float64(), FillValue::from(0f64)),
        };
        let array = ArrayBuilder::new(shape.to_vec(), chunks.to_vec(), data_type, fill)
            .bytes_to_bytes_codecs(vec![Arc::new(ZstdCodec::new(3, false))])
            .build(store, "/")
            .map_err(|e| NodeError::Open(e.to_string()))?;
        array.store_metadata().map_err(|e| NodeError::Write(e.to_string()))?;
        Ok(Self { array, name: "/".into() })
    }

    /// The array's node path inside the container.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The array's shape.
    pub fn shape(&self) -> Vec<u64> {
        self.array.shape().to_vec()
    }

    /// The sample type, or its name when segsweep does not read it.
    pub fn dtype(&self) -> Result<Dtype, String> {
        let t = self.array.data_type();
        Ok(if t.is::<UInt8DataType>() {
            Dtype::U8
        } else if t.is::<UInt16DataType>() {
            Dtype::U16
        } else if t.is::<UInt32DataType>() {
            Dtype::U32
        } else if t.is::<Int8DataType>() {
            Dtype::I8
        } else if t.is::<Int16DataType>() {
            Dtype::I16
        } else if t.is::<Int32DataType>() {
            Dtype::I32
        } else if t.is::<Float32DataType>() {
            Dtype::F32
        } else if t.is::<Float64DataType>() {
            Dtype::F64
        } else {
            return Err(t.to_string());
        })
    }

    /// The samples of `region`, row-major.
    pub fn read<T: Element>(&self, region: &[Range<u64>]) -> Result<Vec<T>, NodeError> {
        self.array
            .retrieve_array_subset::<Vec<T>>(&ArraySubset::new_with_ranges(region))
            .map_err(|e| NodeError::Read(e.to_string()))
    }

    /// Writes `samples` (row-major) into `region`.
    pub fn write<T: Element>(&self, region: &[Range<u64>], samples: &[T]) -> Result<(), NodeError> {
        self.array
            .store_array_subset(&ArraySubset::new_with_ranges(region), samples)
            .map_err(|e| NodeError::Write(e.to_string()))
    }
}
