//! segsweep: BiaPy-compatible semantic segmentation runs and reproducible experiment sweeps.
//!
//! One module per stage, data flowing one way: [`config`] ← [`data`] ← (model, train, infer,
//! metrics, postprocess in later work) ← report ← sweep. Library code never prints: commands
//! that print take a writer.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod augment;
pub mod config;
pub mod data;
