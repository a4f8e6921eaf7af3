//! `cargo xtask bench train`: how fast the default 2D U-Net learns the default synthetic set
//! with `experiments/demo_2d.yaml` (seconds per epoch, validation IoU per epoch), read from the
//! run's training log. A benchmark, not a test.

use std::path::Path;
use std::time::Instant;

use super::backends::Build;
use super::measure::{cell, read_csv, run_measured};
use super::{Options, synth_set};

/// Trains and prints the convergence table (first device of the options).
pub fn run(root: &Path, build: &Build, options: &Options, epochs: Option<&str>) -> Result<(), String> {
    let data = synth_set(root, build, 2)?;
    let device = options.devices.first().map_or("flex", String::as_str);
    let runs = root.join("results/bench/runs");
    let _ = std::fs::remove_dir_all(&runs);
    let mut train = build.command(root);
    train.args(["train", "--config", "experiments/demo_2d.yaml", "--result_dir", &runs.to_string_lossy()]);
    train.args(["--name", "bench", "--run_id", "1", "--device", device]);
    for set in crate::data_sets(&data, false) {
        train.args(["--set", &set]);
    }
    train.args(["--set", "TEST.ENABLE=False"]);
    if let Some(n) = epochs {
        train.args(["--set", &format!("TRAIN.EPOCHS={n}")]);
    }
    let started = Instant::now();
    run_measured(&mut train)?;
    let wall = started.elapsed().as_secs_f64();
    let rows = read_csv(&runs.join("bench/results/bench_1/train_logs/bench_1_train_log.csv"))?;
    let val_iou = |r: &Vec<(String, String)>| cell(r, "val_iou").unwrap_or(f64::NAN);
    let mut seconds: Vec<f64> = rows.iter().filter_map(|r| cell(r, "seconds")).collect();
    seconds.sort_by(f64::total_cmp);
    let median = seconds.get(seconds.len() / 2).copied().unwrap_or(f64::NAN);
    let best = rows.iter().max_by(|a, b| val_iou(a).total_cmp(&val_iou(b)));
    let first_085 = rows
        .iter()
        .find(|r| val_iou(r) >= 0.85)
        .and_then(|r| cell(r, "epoch"))
        .map_or("never".to_string(), |e| format!("{e}"));
    println!(
        "\nbench train — default 2D U-Net (1,944,241 parameters), default synthetic set, experiments/demo_2d.yaml, `{device}`, {}",
        build.describe()
    );
    println!(
        "| epochs | median s/epoch | wall s | final val IoU | best val IoU (epoch) | first epoch with val IoU ≥ 0.85 |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {median:.1} | {wall:.0} | {:.4} | {:.4} ({}) | {first_085} |",
        rows.len(),
        rows.last().map_or(f64::NAN, val_iou),
        best.map_or(f64::NAN, val_iou),
        best.and_then(|r| cell(r, "epoch")).unwrap_or(0.0),
    );
    Ok(())
}
