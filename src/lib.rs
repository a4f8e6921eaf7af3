//! segsweep: BiaPy-compatible semantic segmentation runs and reproducible sweeps.
pub mod data;
