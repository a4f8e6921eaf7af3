//! Data: the [`Volume`] array type, TIFF reading and writing, dataset discovery and checks,
//! content hashing and the synthetic data generator. The only stage module that reads user
//! image files.

pub mod hash;
pub mod volume;

pub use volume::{ShapeError, Volume};
