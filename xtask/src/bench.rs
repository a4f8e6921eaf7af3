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

/// `cargo xtask bench infer`: test-phase seconds per megapixel (2D) and per megavoxel (3D) for
/// patch, whole-image and TTA inference on the default U-Nets. A one-epoch training provides the
/// weights (inference time does not depend on how well they are trained).
pub fn infer(root: &Path, args: &[String]) -> Result<(), String> {
    let release = args.iter().any(|a| a == "--release");
    let binary = build(root, release)?;
    let bench = root.join("results/bench-infer");
    println!(
        "bench infer — default U-Nets, flex backend, {} build; seconds of the whole test phase (read, normalise, predict, merge, filter, binarise, metrics, write)",
        if release { "release" } else { "dev (dependencies at opt-level 3)" }
    );
    println!("| data | mode | test images | megavoxels | test s | s per megavoxel |");
    println!("|---|---|---|---|---|---|");
    for (ndim, config, modes) in [
        (
            "2",
            "experiments/demo_2d.yaml",
            vec![
                ("patches", vec![]),
                (
                    "patches + median filter",
                    vec![
                        "TEST.POST_PROCESSING.MEDIAN_FILTER=True",
                        "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS=[xy]",
                        "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE=[5]",
                    ],
                ),
                ("full image", vec!["TEST.FULL_IMG=True"]),
                ("patches + TTA (8)", vec!["TEST.AUGMENTATION=True"]),
            ],
        ),
        (
            "3",
            "experiments/demo_3d.yaml",
            vec![
                ("patches", vec![]),
                (
                    "patches + z median filter",
                    vec![
                        "TEST.POST_PROCESSING.MEDIAN_FILTER=True",
                        "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS=[z]",
                        "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE=[5]",
                    ],
                ),
                ("patches + TTA (16)", vec!["TEST.AUGMENTATION=True"]),
            ],
        ),
    ] {
        let data = bench.join(format!("data{ndim}d"));
        if !data.join("synth.json").exists() {
            run(Command::new(&binary).args(["synth", "--out", &data.to_string_lossy(), "--ndim", ndim]))?;
        }
        let paths: Vec<String> = [
            ("DATA.TRAIN.PATH", "train/x"),
            ("DATA.TRAIN.GT_PATH", "train/y"),
            ("DATA.TEST.PATH", "test/x"),
            ("DATA.TEST.GT_PATH", "test/y"),
        ]
        .iter()
        .map(|(k, s)| format!("{k}={}", data.join(s).display()))
        .collect();
        let runs = bench.join(format!("runs{ndim}d"));
        let _ = std::fs::remove_dir_all(&runs);
        let job = |name: &str, extra: &[&str]| -> Result<serde_like::Metrics, String> {
            let mut cmd = Command::new(&binary);
            cmd.current_dir(root).args([
                "run",
                "--config",
                config,
                "--result_dir",
                &runs.to_string_lossy(),
                "--name",
                name,
            ]);
            for set in paths.iter().map(String::as_str).chain(extra.iter().copied()) {
                cmd.args(["--set", set]);
            }
            let output = cmd.output().map_err(|e| e.to_string())?;
            if !output.status.success() {
                return Err(format!("{name} failed:\n{}", String::from_utf8_lossy(&output.stderr)));
            }
            serde_like::read_metrics(&runs.join(name).join("results").join(format!("{name}_1")).join("metrics.json"))
        };
        job("weights", &["TRAIN.EPOCHS=1", "TEST.ENABLE=False"]).ok();
        let checkpoint = format!(
            "PATHS.CHECKPOINT_FILE={}",
            runs.join("weights/checkpoints/weights_1-checkpoint-best.safetensors").display()
        );
        for (i, (mode, extra)) in modes.iter().enumerate() {
            let mut sets: Vec<&str> = vec!["TRAIN.ENABLE=False", "MODEL.LOAD_CHECKPOINT=True", &checkpoint];
            sets.extend(extra.iter().copied());
            let metrics = job(&format!("m{i}"), &sets)?;
            let megavoxels = metrics.voxels / 1e6;
            println!(
                "| {ndim}D | {mode} | {} | {megavoxels:.2} | {:.1} | {:.2} |",
                metrics.n_images,
                metrics.seconds,
                metrics.seconds / megavoxels
            );
        }
    }
    Ok(())
}

/// Builds the segsweep binary. `--tests` makes cargo unify features exactly as `cargo test`
/// does, so the binary re-uses the test build's dependencies instead of compiling burn again.
pub(crate) fn build(root: &Path, release: bool) -> Result<std::path::PathBuf, String> {
    let mut build = Command::new(env!("CARGO"));
    build.current_dir(root).args(["build", "--quiet", "--package", "segsweep", "--tests"]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let target =
        std::env::var("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| root.join("target"));
    Ok(target.join(if release { "release" } else { "debug" }).join("segsweep"))
}

/// Just enough JSON reading for `metrics.json` (the xtask has no dependencies).
mod serde_like {
    use std::path::Path;

    pub struct Metrics {
        pub seconds: f64,
        pub n_images: usize,
        pub voxels: f64,
    }

    fn number_after(text: &str, key: &str) -> Option<f64> {
        let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
        let rest = text[start..].trim_start();
        let end = rest.find(|c: char| !(c.is_ascii_digit() || ".-+eE".contains(c))).unwrap_or(rest.len());
        rest[..end].parse().ok()
    }

    pub fn read_metrics(path: &Path) -> Result<Metrics, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // The totals live in the summary (each image also has its own `n_voxels`).
        let summary = text.find("\"summary\"").map_or(text.as_str(), |i| &text[i..]);
        let n_images = number_after(summary, "n_images").unwrap_or(0.0) as usize;
        let voxels = number_after(summary, "n_voxels").unwrap_or(0.0);
        Ok(Metrics { seconds: number_after(&text, "seconds").unwrap_or(f64::NAN), n_images, voxels })
    }
}
