//! `cargo xtask bench steps`: median milliseconds of a training step and an inference step of the
//! default 2D U-Net (batch 4 × 256×256) and 3D U-Net (batch 1 × 32×128×128), per backend of the
//! build (`segsweep bench`), and of the same U-Net in PyTorch in the same run
//! (`xtask/bench/unet_pytorch.py`), each figure also as a ratio against PyTorch's.

use std::path::Path;
use std::process::Command;

use super::Options;
use super::backends::{Build, Torch};
use super::measure::{num, number_after, ratio, run_measured};

/// One model and batch shape to time.
struct Case {
    label: &'static str,
    ndim: u8,
    config: &'static str,
    sets: &'static [&'static str],
    /// The same shape for the PyTorch script: `--batch`, `--patch z y x`.
    batch: usize,
    patch: [usize; 3],
}

const CASES: [Case; 2] = [
    Case {
        label: "2D U-Net 4×256×256",
        ndim: 2,
        config: "templates/semantic_segmentation/2d_semantic_segmentation.yaml",
        sets: &["DATA.PATCH_SIZE=(256, 256, 1)", "TRAIN.BATCH_SIZE=4", "TRAIN.LR=1e-3", "MODEL.ARCHITECTURE=unet"],
        batch: 4,
        patch: [1, 256, 256],
    },
    Case {
        label: "3D U-Net 1×32×128×128",
        ndim: 3,
        config: "templates/semantic_segmentation/3d_semantic_segmentation.yaml",
        sets: &["DATA.PATCH_SIZE=(32, 128, 128, 1)", "TRAIN.BATCH_SIZE=1", "TRAIN.LR=1e-3", "MODEL.ARCHITECTURE=unet"],
        batch: 1,
        patch: [32, 128, 128],
    },
];

/// Medians of one backend on one case.
#[derive(Clone, Copy, Default)]
pub struct StepTimes {
    pub train_ms: Option<f64>,
    pub infer_ms: Option<f64>,
    pub peak_rss_mib: Option<f64>,
}

fn parse(stdout: &str, rss: Option<f64>) -> StepTimes {
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
    StepTimes {
        train_ms: number_after(line, "train_median_ms"),
        infer_ms: number_after(line, "infer_median_ms"),
        peak_rss_mib: rss.or_else(|| number_after(line, "peak_rss_mib")),
    }
}

/// Times `device` on the segsweep side with `config` and `sets`.
pub fn segsweep_steps(
    root: &Path,
    build: &Build,
    device: &str,
    config: &str,
    sets: &[String],
    options: &Options,
) -> Result<StepTimes, String> {
    steps_with_env(root, build, device, config, sets, options, &[])
}

fn steps_with_env(
    root: &Path,
    build: &Build,
    device: &str,
    config: &str,
    sets: &[String],
    options: &Options,
    env: &[(&str, &str)],
) -> Result<StepTimes, String> {
    let mut cmd = build.command(root);
    cmd.envs(env.iter().copied());
    cmd.args(["bench", "--config", config, "--device", device]);
    cmd.args(["--warmup", &options.warmup.to_string(), "--steps", &options.steps.to_string()]);
    cmd.args(["--threads", &options.threads.to_string()]);
    // libtorch's CPU kernels size their pool from OpenMP's setting.
    cmd.env("OMP_NUM_THREADS", options.threads.to_string());
    for set in sets {
        cmd.args(["--set", set]);
    }
    let measured = run_measured(&mut cmd)?;
    Ok(parse(&measured.stdout, measured.peak_rss_mib))
}

fn pytorch_steps(
    root: &Path,
    torch: &Torch,
    case: &Case,
    device: &str,
    options: &Options,
) -> Result<StepTimes, String> {
    let mut cmd = Command::new(&torch.python);
    cmd.current_dir(root).arg("xtask/bench/unet_pytorch.py");
    cmd.args(["--ndim", &case.ndim.to_string(), "--batch", &case.batch.to_string(), "--patch"]);
    cmd.args(case.patch.map(|v| v.to_string()));
    cmd.args(["--device", device, "--threads", &options.threads.to_string()]);
    cmd.args(["--warmup", &options.warmup.to_string(), "--steps", &options.steps.to_string()]);
    let measured = run_measured(&mut cmd)?;
    Ok(parse(&measured.stdout, measured.peak_rss_mib))
}

/// Prints the step table.
pub fn run(root: &Path, build: &Build, torch: Option<&Torch>, options: &Options) -> Result<(), String> {
    println!(
        "\nbench steps — median ms over {} timed steps after {} warm-up, {} threads, {}{}",
        options.steps,
        options.warmup,
        options.threads,
        build.describe(),
        torch.map_or(String::new(), |t| format!("; PyTorch {} in the same run", t.version))
    );
    println!("| model | backend | train step ms | vs PyTorch | inference step ms | vs PyTorch | peak RSS MiB |");
    println!("|---|---|---|---|---|---|---|");
    for case in CASES.iter().filter(|c| options.ndims.contains(&c.ndim)) {
        let reference = match torch {
            Some(t) => match pytorch_steps(root, t, case, &options.torch_device, options) {
                Ok(times) => Some(times),
                Err(e) => {
                    eprintln!("bench: PyTorch failed on {}: {e}", case.label);
                    None
                }
            },
            None => None,
        };
        let base = reference.unwrap_or_default();
        if let Some(r) = reference {
            row(
                case.label,
                &format!("PyTorch {} ({})", torch.map_or("", |t| &t.version), options.torch_device),
                r,
                base,
            );
        }
        let sets: Vec<String> = case.sets.iter().map(|s| s.to_string()).collect();
        for device in &options.devices {
            match segsweep_steps(root, build, device, case.config, &sets, options) {
                Ok(times) => row(case.label, &format!("segsweep `{device}`"), times, base),
                Err(e) => println!("| {} | segsweep `{device}` | failed: {} | | | | |", case.label, first_line(&e)),
            }
            // The vendored burn-flex's and burn-tch's convolution fixes against upstream, same
            // run (vendor/*/SEGSWEEP_PATCH.md); only 2D convolutions take burn-flex's path.
            let upstream = match device.as_str() {
                "flex" if case.ndim == 2 => Some(("SEGSWEEP_FLEX_UPSTREAM_CONV", "1", "burn-flex conv dispatch")),
                "tch" => Some(("SEGSWEEP_TCH_CONV_GRAD", "upstream", "burn-tch conv gradients")),
                _ => None,
            };
            if let Some((variable, value, what)) = upstream {
                let label = format!("segsweep `{device}`, upstream {what}");
                match steps_with_env(root, build, device, case.config, &sets, options, &[(variable, value)]) {
                    Ok(times) => row(case.label, &label, times, base),
                    Err(e) => println!("| {} | {label} | failed: {} | | | | |", case.label, first_line(&e)),
                }
            }
        }
    }
    Ok(())
}

fn row(label: &str, backend: &str, t: StepTimes, base: StepTimes) {
    println!(
        "| {label} | {backend} | {} | {} | {} | {} | {} |",
        num(t.train_ms, 0),
        ratio(t.train_ms, base.train_ms),
        num(t.infer_ms, 0),
        ratio(t.infer_ms, base.infer_ms),
        num(t.peak_rss_mib, 0)
    );
}

fn first_line(text: &str) -> String {
    text.lines().rev().find(|l| l.contains("error")).unwrap_or_else(|| text.lines().next().unwrap_or("")).to_string()
}
