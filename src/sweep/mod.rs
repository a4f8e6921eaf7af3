//! The experiment harness (harness.md): manifests expanded into grids of runs ([`manifest`],
//! [`grid`]), each run's three stages keyed by the hash of exactly their inputs ([`key`]) and
//! cached ([`cache`]), the execution of a run ([`exec`]) and of a whole sweep ([`driver`]), and
//! the sweep's reports ([`reports`]), `segsweep why` ([`why`]) and `segsweep gc` ([`gc`]).

pub mod cache;
pub mod claim;
pub mod driver;
pub mod exec;
pub mod gc;
pub mod grid;
pub mod key;
pub mod manifest;
pub mod progress;
pub mod reports;
pub mod slurm;
pub mod why;
