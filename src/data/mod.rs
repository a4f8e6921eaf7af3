//! Data: the [`Volume`] array type, TIFF reading and writing, dataset discovery and checks,
//! content hashing and the synthetic data generator. The only stage module that reads user files.
pub mod synth;
pub mod volume;

pub use synth::{Split, SynthError, SynthParams, SynthSample, SynthSet};
pub use volume::{ShapeError, Volume};
