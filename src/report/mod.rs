//! Reports of a sweep (`<result_dir>/<name>/sweep/`), built from the runs' numbers.
//!
//! - [`stats`]: summary (mean, std, min, max, 95 % Student t interval), `t(0.975, df)`, paired
//!   differences over run_ids, box-plot quartiles. Pure.
//! - [`tables`]: the three CSV files, written atomically.

pub mod stats;
pub mod tables;
