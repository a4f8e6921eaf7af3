//! BiaPy's test-phase switches through `segsweep run` on tiny synthetic data, each against the
//! same trained model with the switch off: `DATA.TEST.MEDIAN_PADDING`.

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

#[test]
fn median_padding_fills_the_3d_border_with_medians_and_is_refused_in_2d() {
    let dir = TestDir::new();
    let (config, checkpoint) = trained(&dir, 3);
    for (name, median) in [("reflect", "False"), ("median", "True")] {
        let out = test_again(&dir, &config, &checkpoint, name, &[&format!("DATA.TEST.MEDIAN_PADDING={median}")]);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("Test Foreground IoU (merge patches): "), "{}", out.stdout);
    }
    let (reflect, median) = (first_probs(&dir.join("results"), "reflect"), first_probs(&dir.join("results"), "median"));
    assert_eq!(reflect.len(), median.len());
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
