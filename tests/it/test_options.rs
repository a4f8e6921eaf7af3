//! BiaPy's test-phase switches through `segsweep run` on tiny synthetic data, each against the
//! same trained model with the switch off: `DATA.TEST.MEDIAN_PADDING`, `TEST.REUSE_PREDICTIONS`,
//! `DATA.TEST.ROI_MASK`, `TEST.REDUCE_MEMORY`.

use std::path::Path;

use segsweep::data::{AnyVolume, read_tiff};

use crate::util::{Output, TestDir, run_job, tiny_run_yaml, tiny_synthetic_set};

/// The probabilities the run wrote for its first test image.
fn first_probs(results: &Path, name: &str) -> Vec<f32> {
    let dir = results.join(format!("{name}/results/{name}_1/per_image"));
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    match read_tiff(&files[0]).unwrap().volume {
        AnyVolume::F32(v) => v.into_vec(),
        other => panic!("probabilities should be float32, found {other:?}"),
    }
}

/// Trains a tiny model once into `results/base`; returns the config and the checkpoint.
fn trained(dir: &TestDir, ndim: u8) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = tiny_synthetic_set(dir, ndim, 3, 1);
    let config = dir.write("base.yaml", &tiny_run_yaml(&data, ndim, 2, "ENABLE: True"));
    let out = run_job(&config, &dir.join("results"), "base", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    (config, dir.join("results/base/checkpoints/base_1-checkpoint-best.safetensors"))
}

/// `run` of the trained model with the test keys `sets`, as job `name`.
fn test_again(dir: &TestDir, config: &Path, checkpoint: &Path, name: &str, sets: &[&str]) -> Output {
    let checkpoint = format!("PATHS.CHECKPOINT_FILE={}", checkpoint.display());
    let mut extra = vec!["--set", "TRAIN.ENABLE=False", "--set", "MODEL.LOAD_CHECKPOINT=True", "--set", &checkpoint];
    for set in sets {
        extra.extend(["--set", set]);
    }
    run_job(config, &dir.join("results"), name, &extra)
}

/// Tests the trained model with the switch `key` False then True (jobs `names`); each run must
/// succeed with a merged IoU line. Returns the first image's probabilities of each, equally long.
fn off_and_on(dir: &TestDir, config: &Path, checkpoint: &Path, key: &str, names: [&str; 2]) -> (Vec<f32>, Vec<f32>) {
    for (name, value) in names.iter().zip(["False", "True"]) {
        let out = test_again(dir, config, checkpoint, name, &[&format!("{key}={value}")]);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("Test Foreground IoU (merge patches): "), "{}", out.stdout);
    }
    let (off, on) = (first_probs(&dir.join("results"), names[0]), first_probs(&dir.join("results"), names[1]));
    assert_eq!(off.len(), on.len());
    (off, on)
}

#[test]
fn median_padding_fills_the_3d_border_with_medians_and_is_refused_in_2d() {
    let dir = TestDir::new();
    let (config, checkpoint) = trained(&dir, 3);
    let (reflect, median) = off_and_on(&dir, &config, &checkpoint, "DATA.TEST.MEDIAN_PADDING", ["reflect", "median"]);
    assert_ne!(reflect, median, "the padded border is seen by the network, so the probabilities change");
    let data = dir.join("data");
    let config_2d = dir.write("two.yaml", &tiny_run_yaml(&data, 2, 2, "ENABLE: True"));
    let out = run_job(&config_2d, &dir.join("r2"), "two", &["--set", "DATA.TEST.MEDIAN_PADDING=True"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("`DATA.TEST.MEDIAN_PADDING`") && out.stderr.contains("3D stacks only"),
        "{}",
        out.stderr
    );
}

#[test]
fn reuse_predictions_evaluates_the_earlier_probabilities_without_predicting() {
    let dir = TestDir::new();
    let (config, checkpoint) = trained(&dir, 2);
    let filter = [
        "TEST.POST_PROCESSING.MEDIAN_FILTER=True",
        "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS=[xy]",
        "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE=[3]",
    ];
    let first = test_again(&dir, &config, &checkpoint, "again", &filter);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let probs = first_probs(&dir.join("results"), "again");
    let mut sets = filter.to_vec();
    sets.push("TEST.REUSE_PREDICTIONS=True");
    let reused = test_again(&dir, &config, &checkpoint, "again", &sets);
    assert_eq!(reused.code, 0, "{}\n{}", reused.stdout, reused.stderr);
    assert_eq!(first_probs(&dir.join("results"), "again"), probs);
    let line = |out: &Output, level: &str| {
        out.stdout.lines().find(|l| l.starts_with(&format!("Test Foreground IoU ({level}): "))).map(String::from)
    };
    // The same probabilities give the same merged and post-processed IoU (filtered once), and
    // nothing was predicted, so there is no per-patch line.
    for level in ["merge patches", "merge patches - post-processing"] {
        assert_eq!(line(&reused, level), line(&first, level), "{level}");
    }
    assert!(line(&first, "per patch").is_some_and(|l| !l.ends_with("nan (every image skipped as empty)")));
    assert_eq!(line(&reused, "per patch"), None, "{}", reused.stdout);
    let missing = test_again(&dir, &config, &checkpoint, "never", &["TEST.REUSE_PREDICTIONS=True"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("`TEST.REUSE_PREDICTIONS` reads `") && missing.stderr.contains("never_1/per_image/"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_coarse_roi_mask_zeroes_the_prediction_outside_it() {
    use segsweep::data::{Volume, WriteOptions, write_tiff};
    let dir = TestDir::new();
    let (config, checkpoint) = trained(&dir, 2);
    // One row of two mask voxels: the left half of every image is inside.
    let mask = dir.join("roi.tif");
    let coarse = Volume::from_vec([1, 1, 2, 1], vec![255u8, 0]).unwrap();
    write_tiff(&mask, &AnyVolume::U8(coarse), &WriteOptions::default()).unwrap();
    let whole = test_again(&dir, &config, &checkpoint, "whole", &[]);
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let roi_path = format!("DATA.TEST.ROI_MASK.PATH={}", mask.display());
    let roi = test_again(&dir, &config, &checkpoint, "roi", &["DATA.TEST.ROI_MASK.ENABLE=True", &roi_path]);
    assert_eq!(roi.code, 0, "{}\n{}", roi.stdout, roi.stderr);
    let (whole, roi) = (first_probs(&dir.join("results"), "whole"), first_probs(&dir.join("results"), "roi"));
    let width = 64;
    for (i, (w, r)) in whole.iter().zip(&roi).enumerate() {
        if i % width < width / 2 {
            assert_eq!(w, r, "voxel {i} is inside")
        } else {
            assert_eq!(*r, 0.0, "voxel {i} is outside")
        }
    }
    let missing = test_again(
        &dir,
        &config,
        &checkpoint,
        "none",
        &["DATA.TEST.ROI_MASK.ENABLE=True", "DATA.TEST.ROI_MASK.PATH=/no/such/mask"],
    );
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("`DATA.TEST.ROI_MASK.PATH`: `/no/such/mask` does not exist"), "{}", missing.stderr);
}

#[test]
fn reduce_memory_rounds_inputs_and_probabilities_to_float16() {
    let dir = TestDir::new();
    let (config, checkpoint) = trained(&dir, 2);
    let (full, half) = off_and_on(&dir, &config, &checkpoint, "TEST.REDUCE_MEMORY", ["full", "half"]);
    assert_ne!(full, half, "float16 inputs and outputs change the probabilities");
    let worst = full.iter().zip(&half).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 5e-3, "float16 rounding moves a probability by {worst}");
}
