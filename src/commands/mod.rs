//! One handler per subcommand: each turns parsed arguments into library calls and prints the
//! result. Printing lives here (and in `main.rs`) only.

pub mod bench;
pub mod config;
pub mod convert;
pub mod evaluate;
pub mod job;
pub mod model;
pub mod run;
pub mod slurm;
pub mod sweep;
pub mod synth;
pub mod train;
