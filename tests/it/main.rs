//! Integration tests: one binary (burn links slowly) that runs the real `segsweep` executable on
//! tiny data.
//!
//! - `util`: a temporary folder per test and a command builder for the binary.
//! - `arrays`: Zarr/HDF5 sets (`synth --format`, zarr-python, h5py) train and test as their TIFF
//!   twins; chunked Zarr outputs; a Zarr volume larger than the allowed address space.
//! - `by_chunks_cli`: `TEST.BY_CHUNKS` 3D train + test, its TIFFs equal to the normal path's.
//! - `contrast`: `LOSS.CONTRAST` training runs (2D, 3D, three classes), repeatable, and refused
//!   where BiaPy refuses it.
//! - `config_cli`: `config show|check` on BiaPy's templates (snapshots) and on bad configs.
//! - `convert_cli`: `import`/`export` between `.pth`, `.bpk` and safetensors; a `.pth` as checkpoint.
//! - `report_html`: the sweep's `report.html` rendered in headless Chromium: verdict, tables,
//!   charts, a sorted view from the address, a screenshot.
//! - `run_cli`: `run` (train + test) in 2D/3D, full image, post-processing, `evaluate`.
//! - `slurm`: `sweep --executor slurm` on a real one-node Slurm (`.ci/slurm-up`): equal to the
//!   local sweep, submitted once, a failing task and resubmission, `status`, refused resources.
//! - `sweep_cli`: `sweep` on the CI manifest: stage cache, identical reports, dry run.
//! - `tensorboard_hparams`: the sweep's HParams summaries read back by TensorBoard's own reader
//!   (`tests/python/check_hparams.py`).
//! - `synth_cli`: `synth` output layout, determinism, and `config check --data` on it.
//! - `data_options`: sample filtering in the three phases (counted from the masks) and
//!   cross-validation folds, with the cross-validation manifest.
//! - `corpus`: every case under `tests/corpus/bad/` fails with its exit code and message.
//! - `tiff_outputs`: every output TIFF kind read back: ImageJ layout, display range, pixel size.
//! - `drill`: kill-and-resume (random SIGKILLs) and two sweeps at once on one cache; the drill
//!   itself is `drill_core` (std only, shared with `cargo xtask drill`).
//! - `fuzz_regressions`: the committed fuzzing inputs (`tests/corpus/fuzz/`) replayed through
//!   what the cargo-fuzz targets call; oversized TIFFs refused before allocating.
//! - `faults`: injected full disk and read-only results folder: clear errors, the previous good
//!   state intact, a resume once space returns.
//! - `post_processing_matrix`: every test mode × median filter × class count in 2D and 3D writes
//!   its post-processing folder and IoU line or is refused with the key (D16).
//! - `preprocess`: `DATA.PREPROCESS` through `segsweep run` (outputs at the images' own shape)
//!   and against BiaPy's own `preprocess_data` (`tests/python/biapy_preprocess.py`).
//! - `test_options`: the test-phase switches (`DATA.TEST.MEDIAN_PADDING`, …) against the same
//!   model with the switch off.
//! - `tidy`: every source file has a `//!` comment; no `dbg!`/`todo!`.
//! - `train_cli`: `train` on tiny 2D/3D sets, determinism, resume after kill, bad inputs.

mod arrays;
mod bmz_export;
mod by_chunks_cli;
mod config_cli;
mod contrast;
mod convert_cli;
mod corpus;
mod data_options;
mod drill;
mod drill_core;
mod faults;
mod fuzz_regressions;
mod post_processing_matrix;
mod preprocess;
mod report_html;
mod resolution_norm;
mod run_cli;
mod slurm;
mod sweep_cli;
mod synth_cli;
mod tch_device;
mod tensorboard_hparams;
mod test_options;
mod tidy;
mod tiff_outputs;
mod train_cli;
mod util;
