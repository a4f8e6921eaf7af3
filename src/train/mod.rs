//! Training: losses, learning-rate schedules, the epoch loop, checkpoints, logs and charts.
//! Reads the resolved config and the loaded data; writes only inside the run's results tree.

pub mod log;
pub mod loss;
pub mod schedule;
pub mod seed;
