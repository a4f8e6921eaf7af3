//! Experiment sweeps (harness spec): the manifest that describes a grid of runs ([`manifest`])
//! and its expansion into one [`grid::RunSpec`] per run ([`grid`]). Must not run stages, touch the
//! cache or print; executing a sweep and writing its reports belong to other modules.

pub mod grid;
pub mod manifest;
