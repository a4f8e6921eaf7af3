//! `cargo xtask bench train`: a benchmark, not a test. Builds segsweep, writes the default 2D
//! synthetic set (once), trains the default 2D U-Net with `experiments/demo_2d.yaml`, and prints
//! a table read from the run's training log.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::run;

/// Runs the training benchmark.
pub fn train(root: &Path, args: &[String]) -> Result<(), String> {
    let release = args.iter().any(|a| a == "--release");
    let epochs = args.iter().position(|a| a == "--epochs").and_then(|i| args.get(i + 1)).cloned();
    let profile = if release { "release" } else { "dev (dependencies at opt-level 3)" };
    let mut build = Command::new(env!("CARGO"));
    build.current_dir(root).args(["build", "--quiet", "--package", "segsweep"]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let target =
        std::env::var("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| root.join("target"));
    let binary = target.join(if release { "release" } else { "debug" }).join("segsweep");
    let bench = root.join("results/bench");
    let data = bench.join("data");
    if !data.join("synth.json").exists() {
        run(Command::new(&binary).args(["synth", "--out", &data.to_string_lossy()]))?;
    }
    let runs = bench.join("runs");
    let _ = std::fs::remove_dir_all(&runs);
    let mut train = Command::new(&binary);
    train.current_dir(root).args([
        "train",
        "--config",
        "experiments/demo_2d.yaml",
        "--result_dir",
        &runs.to_string_lossy(),
        "--name",
        "bench",
        "--run_id",
        "1",
    ]);
    for (key, sub) in [("DATA.TRAIN.PATH", "train/x"), ("DATA.TRAIN.GT_PATH", "train/y")] {
        train.args(["--set", &format!("{key}={}", data.join(sub).display())]);
    }
    train.args(["--set", "TEST.ENABLE=False"]);
    if let Some(n) = epochs {
        train.args(["--set", &format!("TRAIN.EPOCHS={n}")]);
    }
    let started = Instant::now();
    let output = train.output().map_err(|e| format!("cannot run {binary:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!("training failed:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    let wall = started.elapsed().as_secs_f64();
    let log = std::fs::read_to_string(runs.join("bench/results/bench_1/train_logs/bench_1_train_log.csv"))
        .map_err(|e| e.to_string())?;
    print_table(&log, wall, profile);
    Ok(())
}

/// Prints the benchmark table from the training log CSV.
fn print_table(log: &str, wall: f64, profile: &str) {
    let rows: Vec<Vec<f64>> = log
        .lines()
        .skip(1)
        .map(|l| l.split(',').filter_map(|v| v.parse().ok()).collect())
        .filter(|r: &Vec<f64>| r.len() == 7)
        .collect();
    let mut seconds: Vec<f64> = rows.iter().map(|r| r[6]).collect();
    seconds.sort_by(f64::total_cmp);
    let median = seconds.get(seconds.len() / 2).copied().unwrap_or(f64::NAN);
    let best = rows.iter().max_by(|a, b| a[4].total_cmp(&b[4]));
    let first_085 = rows.iter().find(|r| r[4] >= 0.85).map_or("never".to_string(), |r| format!("{}", r[0]));
    println!(
        "bench train — default 2D U-Net (1,944,241 parameters), default synthetic set, experiments/demo_2d.yaml, flex backend, {profile} build"
    );
    println!(
        "| epochs | median s/epoch | wall s | final val IoU | best val IoU (epoch) | first epoch with val IoU ≥ 0.85 |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {median:.1} | {wall:.0} | {:.4} | {:.4} ({}) | {first_085} |",
        rows.len(),
        rows.last().map_or(f64::NAN, |r| r[4]),
        best.map_or(f64::NAN, |r| r[4]),
        best.map_or(0.0, |r| r[0]),
    );
}
