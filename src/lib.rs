//! segsweep: BiaPy-compatible semantic segmentation runs and reproducible experiment sweeps.
//!
//! One module per stage, data flowing one way: [`config`] ← [`data`], [`augment`], [`model`],
//! [`metrics`], [`postprocess`] ← [`train`], [`infer`] ← [`export`] (ONNX, BioImage Model Zoo)
//! ← [`run`]; [`sweep`] runs the stages through its cache and [`report`] summarises the runs.
//! Shared helpers: [`layout`] (the results tree), [`plot`] (charts), [`device`]
//! (`--device`), [`atomic`] (temporary name + rename), [`json`] (key-sorted JSON), [`fault`] (test-only injected write errors). Library code never prints: commands that
//! print take a writer (`[lints]` in `Cargo.toml` denies `print!` outside the binary).

pub mod atomic;
pub mod augment;
pub mod bench;
pub mod config;
pub mod data;
pub mod device;
pub mod export;
#[cfg(feature = "fault-injection")]
pub mod fault;
pub mod infer;
pub mod json;
pub mod layout;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod postprocess;
pub mod report;
pub mod run;
pub mod sweep;
pub mod train;
