//! Data: the [`Volume`] array type, TIFF reading and writing, Zarr/HDF5 arrays (`array_io`) and
//! the z-range reader over both (`stack`), dataset discovery and checks,
//! content hashing, the synthetic data generator, and the pure data pipeline: normalisation,
//! sample filtering, train/validation split and cross-validation folds, random patch sampling,
//! the patch grid and the merge of patches. The only stage module that reads user image files
//! (the pipeline modules themselves do no I/O).

pub mod array_io;
pub mod border;
pub mod dataset;
pub mod filter;
pub mod hash;
pub mod median;
pub mod merge;
pub mod normalize;
pub mod normalize_stream;
pub mod patches;
pub mod preprocess;
pub mod resolution;
pub mod sampling;
pub mod slab_progress;
pub mod split;
pub mod stack;
pub mod synth;
pub mod synth_io;
pub mod tiff_io;
pub mod volume;
pub mod window;

pub use synth::{Split, SynthError, SynthParams, SynthSample, SynthSet};
pub use tiff_io::{
    AnyVolume, TiffError, TiffImage, TiffMeta, WriteOptions, read_tiff, read_tiff_with_limit, write_tiff,
};
pub use volume::{ShapeError, Volume};
