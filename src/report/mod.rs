//! Reports of a sweep (`<result_dir>/<name>/sweep/`), built from the runs' numbers.
//!
//! - [`stats`]: summary (mean, std, min, max, 95 % Student t interval), `t(0.975, df)`, paired
//!   differences over run_ids, box-plot quartiles. Pure.
//! - [`tables`]: the three CSV files, written atomically.
//! - [`charts`]: a metric per variant (dots per run_id, mean ± CI), loss curves, per-image box plot.

pub mod charts;
pub mod stats;
pub mod tables;
