//! `cargo xtask bench epoch`: a real training epoch (data loading, augmentation, steps,
//! validation) of `experiments/demo_2d.yaml` on the default synthetic set, against the bare
//! training step of the same model and batch (`segsweep bench`) times the epoch's steps. Reads
//! the run's training log: per epoch its seconds, steps, seconds spent waiting for data and
//! seconds of validation. Besides the plain epoch, two with `LOSS.CONTRAST`: its default bank
//! filling while the term waits for iteration 5,000, and the term on from the second step (a
//! one-row bank); their ratio to the plain model's bare steps is the contrastive overhead.

use std::path::Path;

use super::backends::Build;
use super::measure::{cell, num, read_csv, run_measured};
use super::steps::segsweep_steps;
use super::{Options, synth_set};

/// Prints the epoch table.
pub fn run(root: &Path, build: &Build, options: &Options) -> Result<(), String> {
    let data = synth_set(root, build, 2)?;
    let paths = crate::data_sets(&data, false);
    println!(
        "\nbench epoch — experiments/demo_2d.yaml (batch 4 × 128×128, augmentation on) on the default synthetic set, epoch 2 of 2, {} threads, {}",
        options.threads,
        build.describe()
    );
    println!(
        "| backend | variant | epoch s | steps | training s | bare steps s | training / bare steps | data wait (% of training) | validation s | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let variants: [(&str, &[&str]); 3] = [
        ("plain", &[]),
        ("`LOSS.CONTRAST`, bank filling", &["LOSS.CONTRAST.ENABLE=True"]),
        ("`LOSS.CONTRAST`, term on", &["LOSS.CONTRAST.ENABLE=True", "LOSS.CONTRAST.MEMORY_SIZE=1"]),
    ];
    for device in &options.devices {
        let step = segsweep_steps(root, build, device, "experiments/demo_2d.yaml", &paths, options)?;
        for (variant, sets) in variants {
            epoch_row(root, build, options, (device, &paths, step.train_ms), variant, sets)?;
        }
    }
    Ok(())
}

/// One row: the second of two epochs of `device` with `sets`, against `step_ms` bare steps.
fn epoch_row(
    root: &Path,
    build: &Build,
    options: &Options,
    (device, paths, step_ms): (&str, &[String], Option<f64>),
    variant: &str,
    sets: &[&str],
) -> Result<(), String> {
    let runs = root.join("results/bench/epoch").join(device);
    let _ = std::fs::remove_dir_all(&runs);
    let mut cmd = build.command(root);
    cmd.args(["train", "--config", "experiments/demo_2d.yaml", "--result_dir", &runs.to_string_lossy()]);
    cmd.args(["--name", "bench", "--run_id", "1", "--device", device]);
    let fixed = ["TRAIN.EPOCHS=2", "TEST.ENABLE=False", "TRAIN.PATIENCE=-1"];
    for set in paths.iter().map(String::as_str).chain(fixed).chain(sets.iter().copied()) {
        cmd.args(["--set", set]);
    }
    cmd.env("OMP_NUM_THREADS", options.threads.to_string());
    let measured = match run_measured(&mut cmd) {
        Ok(m) => m,
        Err(e) => {
            println!("| `{device}` | {variant} | failed: {} | | | | | | | |", e.lines().last().unwrap_or(""));
            return Ok(());
        }
    };
    let rows = read_csv(&runs.join("bench/results/bench_1/train_logs/bench_1_train_log.csv"))?;
    let Some(last) = rows.last() else { return Err("the training log has no epoch".into()) };
    let seconds = cell(last, "seconds");
    let steps = cell(last, "steps");
    let wait = cell(last, "data_wait_seconds");
    let validation = cell(last, "validation_seconds");
    let training = seconds.zip(validation).map(|(s, v)| s - v);
    let bare = step_ms.zip(steps).map(|(ms, n)| ms * n / 1e3);
    println!(
        "| `{device}` | {variant} | {} | {} | {} | {} | {} | {} | {} | {} |",
        num(seconds, 1),
        num(steps, 0),
        num(training, 1),
        num(bare, 1),
        super::measure::ratio(training, bare),
        num(wait.zip(training).map(|(w, t)| 100.0 * w / t), 1),
        num(validation, 1),
        num(measured.peak_rss_mib, 0),
    );
    Ok(())
}
