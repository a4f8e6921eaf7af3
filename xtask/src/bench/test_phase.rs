//! `cargo xtask bench test`: the whole test phase (read, normalise, predict, merge, filter,
//! binarise, metrics, write) per megapixel (2D) and megavoxel (3D) for patch, whole-image and
//! TTA inference of the default U-Nets, and the share of it spent outside the model (the run's
//! `metrics.json` holds both `seconds` and `model_seconds`). A one-epoch training provides the
//! weights (inference time does not depend on how well they are trained).

use std::path::Path;

use super::backends::Build;
use super::measure::{num, number_after, run_measured};
use super::{Options, synth_set};

/// The test-phase variants of one dimensionality.
struct Variant {
    ndim: u8,
    config: &'static str,
    modes: &'static [(&'static str, &'static [&'static str])],
}

const VARIANTS: [Variant; 2] = [
    Variant {
        ndim: 2,
        config: "experiments/demo_2d.yaml",
        modes: &[
            ("patches", &[]),
            (
                "patches + median filter",
                &[
                    "TEST.POST_PROCESSING.MEDIAN_FILTER=True",
                    "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS=[xy]",
                    "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE=[5]",
                ],
            ),
            ("full image", &["TEST.FULL_IMG=True"]),
            ("patches + TTA (8)", &["TEST.AUGMENTATION=True"]),
        ],
    },
    Variant {
        ndim: 3,
        config: "experiments/demo_3d.yaml",
        modes: &[
            ("patches", &[]),
            (
                "patches + z median filter",
                &[
                    "TEST.POST_PROCESSING.MEDIAN_FILTER=True",
                    "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS=[z]",
                    "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE=[5]",
                ],
            ),
            ("patches + TTA (16)", &["TEST.AUGMENTATION=True"]),
        ],
    },
];

/// Prints the test-phase table.
pub fn run(root: &Path, build: &Build, options: &Options) -> Result<(), String> {
    println!(
        "\nbench test — default U-Nets, {} threads, {}; seconds of the whole test phase",
        options.threads,
        build.describe()
    );
    println!(
        "| backend | data | mode | test images | megavoxels | test s | s per megavoxel | outside the model | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for device in &options.devices {
        for variant in VARIANTS.iter().filter(|v| options.ndims.contains(&v.ndim)) {
            let data = synth_set(root, build, variant.ndim)?;
            let paths = crate::data_sets(&data, true);
            let runs = root.join("results/bench/test").join(format!("{device}-{}d", variant.ndim));
            let _ = std::fs::remove_dir_all(&runs);
            let job = |name: &str, extra: &[&str]| {
                let mut cmd = build.command(root);
                cmd.args(["run", "--config", variant.config, "--result_dir", &runs.to_string_lossy()]);
                cmd.args(["--name", name, "--device", device]);
                cmd.env("OMP_NUM_THREADS", options.threads.to_string());
                for set in paths.iter().map(String::as_str).chain(extra.iter().copied()) {
                    cmd.args(["--set", set]);
                }
                let measured = run_measured(&mut cmd).map_err(|e| format!("{name}: {e}"))?;
                let metrics = runs.join(name).join("results").join(format!("{name}_1")).join("metrics.json");
                let text = std::fs::read_to_string(&metrics).unwrap_or_default();
                Ok::<_, String>((text, measured.peak_rss_mib))
            };
            job("weights", &["TRAIN.EPOCHS=1", "TEST.ENABLE=False"])?;
            let checkpoint = format!(
                "PATHS.CHECKPOINT_FILE={}",
                runs.join("weights/checkpoints/weights_1-checkpoint-best.safetensors").display()
            );
            for (i, (mode, extra)) in variant.modes.iter().enumerate() {
                let mut sets: Vec<&str> = vec!["TRAIN.ENABLE=False", "MODEL.LOAD_CHECKPOINT=True", &checkpoint];
                sets.extend(extra.iter().copied());
                let (text, rss) = job(&format!("m{i}"), &sets)?;
                // The totals live in the summary (each image also has its own `n_voxels`).
                let summary = text.find("\"summary\"").map_or(text.as_str(), |i| &text[i..]);
                let n_images = number_after(summary, "n_images");
                let megavoxels = number_after(summary, "n_voxels").map(|v| v / 1e6);
                let seconds = number_after(&text, "seconds");
                let model = number_after(&text, "model_seconds");
                let outside = seconds.zip(model).map(|(s, m)| format!("{:.1} %", 100.0 * (s - m) / s));
                println!(
                    "| `{device}` | {}D | {mode} | {} | {} | {} | {} | {} | {} |",
                    variant.ndim,
                    num(n_images, 0),
                    num(megavoxels, 2),
                    num(seconds, 1),
                    num(seconds.zip(megavoxels).map(|(s, m)| s / m), 2),
                    outside.unwrap_or_else(|| "–".into()),
                    num(rss, 0),
                );
            }
        }
    }
    Ok(())
}
