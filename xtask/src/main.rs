//! `cargo xtask …`: project chores that wrap `cargo` and the `segsweep` binary. Thin by design: it
//! does not depend on `segsweep` (so it never compiles burn itself) and only runs child commands.
//!
//! - `cargo xtask demo [DIR]`: the quick start's main job (`segsweep run`) on the built-in
//!   synthetic data.
//! - `cargo xtask bench [all|steps|epoch|test|train|slurm] [FLAGS]`: benchmark tables — model steps
//!   per backend against PyTorch, a real epoch against its bare steps, the test phase per
//!   megavoxel, convergence (see `bench/mod.rs` for the flags).
//! - `cargo xtask sweep MANIFEST [--release] [FLAGS…]`: builds segsweep and runs
//!   `segsweep sweep MANIFEST FLAGS…`, timing it.
//! - `cargo xtask drill [--kills N] [--seed S] [--manifest PATH] [--release]`: the
//!   kill-and-resume drill (default 50 random SIGKILLs of a sweep), see `drill.rs`.
//! - `cargo xtask fuzz [--seconds N] [--target NAME] [--target-dir DIR]`: every cargo-fuzz
//!   target for N seconds (default 300), with executions per target, see `fuzz.rs`.
//! - `cargo xtask libtorch [--cpu | --cuda] [--dir DIR]`: libtorch 2.11 for the `tch` feature,
//!   from PyTorch's wheel on the package registry, in a cache folder; prints the build
//!   environment, see `libtorch.rs`.
//! - `cargo xtask gpu-bundle [--out DIR]`: the folder carried to a GPU machine (stripped `tch`
//!   binary, the check script and its configs), see `gpu_bundle.rs`.
//! - `cargo xtask ci`: what `.ci/run` does (format check and the test suite).

mod bench;
mod drill;
// The drill is the integration test's own code (std only), so the test and the xtask agree; the
// tests use helpers the command does not.
#[allow(dead_code)]
#[path = "../../tests/it/drill_core.rs"]
mod drill_core;
mod fuzz;
mod gpu_bundle;
mod libtorch;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo(&root, args.get(1).map(PathBuf::from)),
        Some("ci") => run(Command::new("bash").arg(root.join(".ci/run"))),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("sweep") if args.len() >= 2 => sweep(&root, &args[1..]),
        Some("drill") => drill::drill(&root, &args[1..]),
        Some("fuzz") => fuzz::fuzz(&root, &args[1..]),
        Some("libtorch") => libtorch::libtorch(&args[1..]),
        Some("gpu-bundle") => gpu_bundle::gpu_bundle(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask demo [DIR] | cargo xtask sweep MANIFEST [--release] [segsweep sweep flags] | cargo xtask bench [all|steps|epoch|test|train|slurm] [--release] [--features F] [--devices D] [--steps N] | cargo xtask drill [--kills N] [--seed S] | cargo xtask fuzz [--seconds N] [--target NAME] | cargo xtask libtorch [--cpu | --cuda] [--dir DIR] | cargo xtask gpu-bundle [--out DIR] | cargo xtask ci"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::from(2)
        }
    }
}

/// Generates the default synthetic 2D set (once), checks the demo config against it, then runs
/// the job (train, test, results) with `segsweep run`.
fn demo(root: &Path, dir: Option<PathBuf>) -> Result<(), String> {
    let dir = dir.unwrap_or_else(|| root.join("results/demo"));
    let data = dir.join("data");
    let binary = bench::build_segsweep(root, false, &[], None)?.binary;
    let segsweep = |args: &[&str]| {
        let mut cmd = Command::new(&binary);
        cmd.current_dir(root).args(args);
        cmd
    };
    if !data.join("synth.json").exists() {
        run(&mut segsweep(&["synth", "--out", &data.to_string_lossy()]))?;
    }
    let config = root.join("experiments/demo_2d.yaml");
    let sets: Vec<String> = data_sets(&data, true).into_iter().flat_map(|set| ["--set".to_string(), set]).collect();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    let mut check = segsweep(&["config", "check", "--data", &config.to_string_lossy()]);
    check.args(&sets);
    run(&mut check)?;
    let mut job = segsweep(&[
        "run",
        "--config",
        &config.to_string_lossy(),
        "--result_dir",
        &dir.to_string_lossy(),
        "--name",
        "demo",
        "--run_id",
        "1",
    ]);
    job.args(&sets);
    run(&mut job)
}

/// Builds segsweep (the test build's dependencies are re-used; `--release` for a release build)
/// and runs a sweep, printing its wall time; the exit code is the sweep's.
fn sweep(root: &Path, args: &[String]) -> Result<(), String> {
    let release = args.iter().any(|a| a == "--release");
    let passed: Vec<&String> = args.iter().filter(|a| *a != "--release").collect();
    println!("{}", build_line(release, &passed));
    let binary = bench::build_segsweep(root, release, &[], None)?.binary;
    let started = std::time::Instant::now();
    let status =
        Command::new(&binary).current_dir(root).arg("sweep").args(passed).status().map_err(|e| e.to_string())?;
    println!("sweep wall time: {:.0} s ({})", started.elapsed().as_secs_f64(), profile_name(release));
    if status.success() { Ok(()) } else { Err(format!("the sweep ended with {status}")) }
}

/// The build profile in words (Cargo.toml `[profile.dev]`: optimised throughout).
fn profile_name(release: bool) -> &'static str {
    if release { "release profile" } else { "dev profile, optimised (opt-level 3; debug assertions in segsweep only)" }
}

/// The first line `cargo xtask sweep` prints: which profile it builds and which backend the
/// sweep runs on (`--device`, default `flex`).
fn build_line(release: bool, sweep_args: &[&String]) -> String {
    let device = sweep_args
        .iter()
        .position(|a| *a == "--device")
        .and_then(|i| sweep_args.get(i + 1).map(|d| d.as_str()))
        .or_else(|| sweep_args.iter().find_map(|a| a.strip_prefix("--device=")))
        .unwrap_or("flex");
    format!("segsweep sweep: {}, device {device}", profile_name(release))
}

/// `KEY=PATH` overrides pointing a config's data keys at a synthetic set written by
/// `segsweep synth --out data` (training folders, and the test folders when `test`).
pub(crate) fn data_sets(data: &Path, test: bool) -> Vec<String> {
    let train = [("DATA.TRAIN.PATH", "train/x"), ("DATA.TRAIN.GT_PATH", "train/y")];
    let tests = [("DATA.TEST.PATH", "test/x"), ("DATA.TEST.GT_PATH", "test/y")];
    let keys = train.iter().chain(if test { tests.iter() } else { [].iter() });
    keys.map(|(key, sub)| format!("{key}={}", data.join(sub).display())).collect()
}

pub(crate) fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed with {status}")) }
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_names_profile_and_device() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<String>>();
        let line = |release: bool, a: &[String]| build_line(release, &a.iter().collect::<Vec<_>>());
        assert_eq!(
            line(false, &args(&["experiments/mito.yaml"])),
            "segsweep sweep: dev profile, optimised (opt-level 3; debug assertions in segsweep only), device flex"
        );
        assert!(
            line(true, &args(&["m.yaml", "--device", "tch:cuda:0"])).ends_with("release profile, device tch:cuda:0")
        );
        assert!(line(false, &args(&["m.yaml", "--device=vulkan"])).ends_with("device vulkan"));
    }
}
