//! Data: the [`Volume`] array type, TIFF reading and writing, dataset discovery and checks,
//! content hashing and the synthetic data generator. The only stage module that reads user
//! image files.

pub mod dataset;
pub mod hash;
pub mod synth;
pub mod synth_io;
pub mod tiff_io;
pub mod volume;

pub use synth::{Split, SynthError, SynthParams, SynthSample, SynthSet};
pub use tiff_io::{
    AnyVolume, TiffError, TiffImage, TiffMeta, WriteOptions, read_tiff, read_tiff_with_limit, write_tiff,
};
pub use volume::{ShapeError, Volume};
