//! `cargo xtask bench [WHAT] [FLAGS]`: benchmarks, printed as tables, never timed tests.
//!
//! WHAT is `all` (default: `steps`, `epoch`, `test`), `steps` (model math per backend against
//! PyTorch), `epoch` (a real training epoch against its bare steps), `test` (test phase per
//! megavoxel and its share outside the model), `train` (convergence over a whole training) or
//! `slurm` (submission and status of `--executor slurm` on grids up to 2,000 runs).
//! Flags: `--release`, `--features a,b` (default: `tch` when a PyTorch 2.11.0 is found),
//! `--devices flex,tch,…` (default: every backend of the build), `--steps N`, `--warmup N`,
//! `--threads N` (default: all cores), `--ndim 2|3`, `--torch-device cpu|cuda`, `--no-python`,
//! `--epochs N` (for `train`).

mod backends;
mod convergence;
mod epoch;
mod measure;
mod slurm;
mod steps;
mod test_phase;

use std::path::{Path, PathBuf};

pub(crate) use backends::build as build_segsweep;
pub(crate) use backends::find_torch;
use backends::{Build, choose_features};

/// What the command line asked for.
pub struct Options {
    pub devices: Vec<String>,
    pub warmup: usize,
    pub steps: usize,
    pub threads: usize,
    pub ndims: Vec<u8>,
    pub torch_device: String,
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn number(args: &[String], name: &str, default: usize) -> Result<usize, String> {
    flag(args, name).map_or(Ok(default), |v| v.parse().map_err(|_| format!("{name} expects a number, got `{v}`")))
}

/// Runs the benchmarks `args` ask for.
pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let what = args.first().filter(|a| !a.starts_with("--")).map_or("all", String::as_str);
    let torch = if args.iter().any(|a| a == "--no-python") { None } else { find_torch() };
    let features = choose_features(flag(args, "--features"), torch.as_ref());
    let release = args.iter().any(|a| a == "--release");
    let build = backends::build(root, release, &features, torch.as_ref())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = Options {
        devices: flag(args, "--devices")
            .map(|d| d.split(',').map(String::from).collect())
            .unwrap_or_else(|| build.devices().into_iter().map(String::from).collect()),
        warmup: number(args, "--warmup", 2)?,
        steps: number(args, "--steps", 10)?,
        threads: number(args, "--threads", cores)?,
        ndims: match flag(args, "--ndim") {
            Some(n) => vec![n.parse().map_err(|_| format!("--ndim expects 2 or 3, got `{n}`"))?],
            None => vec![2, 3],
        },
        torch_device: flag(args, "--torch-device").unwrap_or("cpu").to_string(),
    };
    match what {
        "all" => {
            steps::run(root, &build, torch.as_ref(), &options)?;
            epoch::run(root, &build, &options)?;
            test_phase::run(root, &build, &options)
        }
        "steps" => steps::run(root, &build, torch.as_ref(), &options),
        "epoch" => epoch::run(root, &build, &options),
        "test" | "infer" => test_phase::run(root, &build, &options),
        "train" => convergence::run(root, &build, &options, flag(args, "--epochs")),
        "slurm" => slurm::run(root, &build),
        other => Err(format!("unknown benchmark `{other}`: expected all, steps, epoch, test, train or slurm")),
    }
}

/// The default synthetic set of `ndim` under `results/bench/`, written once.
fn synth_set(root: &Path, build: &Build, ndim: u8) -> Result<PathBuf, String> {
    let data = root.join(format!("results/bench/data{ndim}d"));
    if !data.join("synth.json").exists() {
        let mut cmd = build.command(root);
        cmd.args(["synth", "--out", &data.to_string_lossy(), "--ndim", &ndim.to_string()]);
        measure::run_measured(&mut cmd)?;
    }
    Ok(data)
}
