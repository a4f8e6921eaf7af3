//! segsweep: BiaPy-compatible semantic segmentation runs and reproducible experiment sweeps.
//!
//! One module per stage, data flowing one way: [`config`] ← [`data`], [`augment`], [`model`],
//! [`metrics`] ← [`train`] (and, in later work, infer, postprocess ← report ← sweep). Shared
//! helpers: [`layout`] (the results tree), [`plot`] (charts), [`device`] (`--device`). Library
//! code never prints: commands that print take a writer.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod atomic;
pub mod augment;
pub mod config;
pub mod data;
pub mod device;
pub mod infer;
pub mod layout;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod train;
