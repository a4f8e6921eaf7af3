//! The experiment harness (harness.md): manifests expanded into grids of runs, each run's three
//! stages keyed by the hash of their inputs and cached, and the sweep that executes them.

pub mod cache;
pub mod exec;
pub mod key;
