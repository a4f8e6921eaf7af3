//! Command-line types (clap derive) and nothing else: doc comments here are `--help`.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use segsweep::device::DeviceKind;

/// Reproducible bioimage semantic segmentation: BiaPy-compatible runs and experiment sweeps.
#[derive(Debug, Parser)]
#[command(name = "segsweep", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show or check a configuration file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a deterministic synthetic EM-like "mitochondria" data set in BiaPy's layout.
    Synth(SynthArgs),
    /// Train a model: writes `config_files/`, `checkpoints/` and `results/<name>_<run_id>/`.
    Train(JobArgs),
    /// Print the model's layers (output shape, parameters) and the total.
    Model(ConfigArgs),
    /// BiaPy's job: train (if `TRAIN.ENABLE`), then test (if `TEST.ENABLE`), print the results.
    Run(JobArgs),
    /// IoU of existing prediction files (probabilities or masks) against ground-truth masks.
    Evaluate(EvaluateArgs),
    /// Convert weights out of segsweep: a `.bpk` (or `.safetensors`) into BiaPy-named
    /// `.safetensors`, a BiaPy `.pth` checkpoint, an `.onnx` graph, or (with `--bmz OUT.zip`) a
    /// BioImage Model Zoo package described by the config's `MODEL.BMZ.EXPORT.*` keys.
    Export(ConvertArgs),
    /// Convert weights into segsweep: a BiaPy/PyTorch `.pth`, `.pt` or `.safetensors` into a
    /// `.bpk` or BiaPy-named `.safetensors` that `PATHS.CHECKPOINT_FILE` can name.
    Import(ConvertArgs),
    /// Run an experiment manifest: its grid of runs, each stage cached by the hash of its inputs.
    /// Exit code 0 when every run succeeded, 2 when a run failed or the manifest is wrong.
    Sweep(SweepArgs),
    /// Rebuild a sweep's reports from the stage cache alone.
    Report(ManifestArgs),
    /// Per run and stage of a sweep submitted to Slurm: cached, queued, running, failed (with
    /// Slurm's reason and the task's log) or missing. Exit 0 when every stage is cached.
    Status(StatusArgs),
    /// Run one stage of one run of a sweep submitted to Slurm: what each array task runs.
    #[command(hide = true)]
    Stage(StageArgs),
    /// For each stage of one run (`<cell>_<run_id>`), whether it is cached, and if not which
    /// inputs differ from the nearest cached entry.
    Why(WhyArgs),
    /// Remove the cache entries no manifest in DIR (default `experiments`) refers to.
    Gc(GcArgs),
    /// The regression gate: compare a sweep's gated means with its committed baseline (exit 1 on
    /// a regression), or rewrite the baseline with `--update`.
    Check(CheckArgs),
    /// Time the model math: training and inference steps of the configured model on random
    /// data (one JSON line on stdout). `cargo xtask bench` runs it per backend.
    #[command(hide = true)]
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// BiaPy-style YAML configuration: its model, `DATA.PATCH_SIZE` and `TRAIN.BATCH_SIZE`.
    #[arg(long)]
    pub config: PathBuf,
    /// Override a key, e.g. `--set TRAIN.BATCH_SIZE=4` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// `flex`, or `tch`, `tch:cuda:N`, `vulkan:N`, `cuda:N` in builds with that feature.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Untimed steps first (allocation, kernel compilation, autotuning).
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Threads of the CPU backends (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The manifest (`experiments/*.yaml`).
    pub manifest: PathBuf,
    /// The run, as `<cell>_<run_id>` (its folder name under `results/<cell>/results/`).
    pub run: String,
    /// The device the sweep ran on (`flex`, `tch`, `tch:cuda:0`, …): its kind is part of the keys.
    #[arg(long, default_value = "flex", value_parser = DeviceKind::from_name)]
    pub device: DeviceKind,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Folder of manifests whose entries are kept (under every device kind the caches hold).
    #[arg(default_value = "experiments")]
    pub dir: PathBuf,
    /// List what would be removed and what is kept; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The manifest (`experiments/*.yaml`).
    pub manifest: PathBuf,
    /// The device the sweep ran on (`flex`, `tch`, `tch:cuda:0`, …): its kind is part of the keys.
    #[arg(long, default_value = "flex", value_parser = DeviceKind::from_name)]
    pub device: DeviceKind,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub sweep: ManifestArgs,
    /// Rewrite the baseline from the current means.
    #[arg(long)]
    pub update: bool,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The manifest (`experiments/*.yaml`).
    pub manifest: PathBuf,
    /// Print the grid with, per run and stage, "cached" or "to run"; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Runs executed at the same time, each with its share of the cores.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Re-run this stage (`train`, `infer` or `evaluate`) and the ones after it, cached or not.
    #[arg(long, value_name = "STAGE")]
    pub force: Option<String>,
    /// `flex` (default), or `tch`, `vulkan:N`, `cuda:N` in builds with that feature.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Where the stages run: here (`local`), or as job arrays on a Slurm cluster (`slurm`:
    /// submits the stages that are not cached and returns; see `segsweep status`).
    #[arg(long, value_enum, default_value = "local")]
    pub executor: Executor,
    /// With `--executor slurm`: wait for the submitted stages (polling the queue with
    /// back-off), then write the reports.
    #[arg(long)]
    pub watch: bool,
    /// With `--executor slurm`: submit the arrays held; they start after `scontrol release`.
    #[arg(long)]
    pub hold: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    Local,
    Slurm,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub sweep: ManifestArgs,
    /// Poll until nothing is queued or running (back-off), then write the reports.
    #[arg(long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct StageArgs {
    /// The task file the submission wrote (`<result_dir>/.slurm/<name>/tasks/*.json`).
    pub tasks: PathBuf,
    /// The task to run (default: `SLURM_ARRAY_TASK_ID`).
    #[arg(long)]
    pub task: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// `[CONFIG] FROM TO`: the config whose `MODEL.*`, `PROBLEM.NDIM` and `DATA.*` keys define the
    /// network (here or as `--config`), the weight file to read (format from the extension:
    /// .bpk, .safetensors, .pth, .pt) and the one to write.
    #[arg(num_args = 1..=3, required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The config, as the other commands take it (then only FROM and TO are positional).
    #[arg(long = "config", value_name = "CONFIG")]
    pub config_flag: Option<PathBuf>,
    /// `export` only: write a BioImage Model Zoo package (`.zip`) here instead of TO.
    #[arg(long = "bmz", value_name = "OUT.zip")]
    pub bmz: Option<PathBuf>,
    /// Override a key, e.g. `--set MODEL.FEATURE_MAPS=[16, 32, 64]` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Folder of predictions (float probabilities or integer masks), paired with `--gt` in natural order.
    #[arg(long)]
    pub pred: PathBuf,
    /// Folder of ground-truth masks.
    #[arg(long)]
    pub gt: PathBuf,
    /// Config whose `DATA.N_CLASSES`, `TEST.BINARIZATION`, `TEST.EMPTY_IOU` and `LOSS.IGNORE_INDEX` apply (defaults otherwise).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a key, e.g. `--set DATA.N_CLASSES=3` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// BiaPy's job arguments.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// BiaPy-style YAML configuration.
    #[arg(long)]
    pub config: PathBuf,
    /// Root output folder (BiaPy's `--result_dir`).
    #[arg(long = "result_dir", alias = "result-dir")]
    pub result_dir: PathBuf,
    /// Job name: results go to `<result_dir>/<name>/`.
    #[arg(long, default_value = "unknown_job")]
    pub name: String,
    /// Run counter; with `SYSTEM.SEED` it sets the run's seed (D11).
    #[arg(long = "run_id", alias = "run-id", default_value_t = 1)]
    pub run_id: u64,
    /// Override a key, e.g. `--set TRAIN.EPOCHS=5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// `flex` (default, pure Rust CPU), or `tch`, `vulkan:N`, `cuda:N` in builds with that feature.
    #[arg(long)]
    pub device: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the resolved canonical configuration as YAML (defaults ← file ← --set).
    Show(ConfigArgs),
    /// Validate a configuration and list every problem; exits 2 if there is any.
    Check(ConfigCheckArgs),
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// BiaPy-style YAML configuration (here or as `--config CONFIG`, as `run` takes it).
    #[arg(value_name = "CONFIG", required_unless_present = "config_flag", conflicts_with = "config_flag")]
    pub config: Option<PathBuf>,
    /// The config, as `run` and `train` take it.
    #[arg(long = "config", value_name = "CONFIG", id = "config_flag")]
    pub config_flag: Option<PathBuf>,
    /// Override a key, e.g. `--set TRAIN.EPOCHS=5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also read and check the data folders the configuration names.
    #[arg(long)]
    pub data: bool,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output folder; `train/x`, `train/y`, `test/x`, `test/y` are created inside.
    #[arg(long)]
    pub out: PathBuf,
    /// 2 for images, 3 for stacks.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub ndim: u8,
    /// 2 (background, mitochondrion) or 3 (background, membrane, interior).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub classes: u8,
    /// Random seed; the same seed gives byte-identical files.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of training images (default 12 in 2D, 4 in 3D).
    #[arg(long)]
    pub n_train: Option<usize>,
    /// Number of test images (default 4 in 2D, 2 in 3D).
    #[arg(long)]
    pub n_test: Option<usize>,
    /// Image size: `Y X` in 2D (default 256 256), `Z Y X` in 3D (default 32 128 128).
    #[arg(long, num_args = 2..=3, value_name = "N")]
    pub size: Option<Vec<usize>>,
    /// File format of the images and masks: `tif`, or in 3D `zarr` (Zarr v3) or `h5` (HDF5, in
    /// builds with `--features hdf5`), one `TZCYX` array each.
    #[arg(long, default_value = "tif", value_parser = ["tif", "zarr", "h5"])]
    pub format: String,
}

impl ConfigArgs {
    /// The config file, given positionally or as `--config` (clap requires exactly one).
    pub fn path(&self) -> &Path {
        self.config.as_deref().or(self.config_flag.as_deref()).unwrap_or(Path::new(""))
    }
}

impl ConvertArgs {
    /// `(config, from, to)`: the config positionally (three paths) or as `--config` (two); with
    /// `--bmz`, `to` is that package.
    pub fn paths(&self) -> anyhow::Result<(&Path, &Path, &Path)> {
        match (&self.config_flag, self.paths.as_slice(), &self.bmz) {
            (None, [config, from], Some(to)) => Ok((config, from, to)),
            (Some(config), [from], Some(to)) => Ok((config, from, to)),
            (_, _, Some(_)) => anyhow::bail!("with --bmz, expected CONFIG FROM (or --config CONFIG FROM)"),
            (None, [config, from, to], None) => Ok((config, from, to)),
            (Some(config), [from, to], None) => Ok((config, from, to)),
            (None, _, None) => anyhow::bail!("expected CONFIG FROM TO (or --config CONFIG FROM TO)"),
            (Some(_), _, None) => anyhow::bail!("with --config, expected only FROM and TO"),
        }
    }
}
