//! Reports of a sweep (`<result_dir>/<name>/sweep/`), built from the runs' numbers: the CSV
//! tables, the charts, and `report.md` and `report.html` that tie them together. Data flows one
//! way: [`tables::RunRow`]s (one per run, filled by `sweep`) → [`stats`] → [`tables`]
//! (`runs.csv`, `summary.csv`, `compare.csv`) and [`charts`] (PNG) → [`markdown`] (`report.md`)
//! and [`html`] (`report.html`, with the [`gate`]'s verdict).
//!
//! - [`stats`]: summary (mean, std, min, max, 95 % Student t interval), `t(0.975, df)`, paired
//!   differences over run_ids, box-plot quartiles. Pure.
//! - [`tables`]: the three CSV files, written atomically.
//! - [`charts`]: a metric per variant (dots per run_id, mean ± CI), loss curves, per-image box plot.
//! - [`markdown`]: the text of `report.md`. Pure.
//! - [`html`]: the text of `report.html`, self-contained, sortable tables. Pure.
//! - [`hparams`]: TensorBoard's HParams experiment and one session per run (event files).

pub mod charts;
pub mod gate;
pub mod hparams;
pub mod html;
pub mod markdown;
pub mod stats;
pub mod tables;
