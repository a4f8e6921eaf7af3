//! `--device tch` end to end: in a build with the `tch` feature (libtorch 2.11 on the CPU — CI
//! builds it from `cargo xtask libtorch --cpu`), a whole run trains, tests and writes BiaPy's
//! tree, twice with the same numbers, and `tch:cuda:N` past the cards present is one error
//! naming them. In a build without the feature, each device is one error naming the feature.

use crate::util::{TestDir, run_job, segsweep};

fn train_log(results: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(results.join(format!("{name}/results/{name}_1/train_logs/{name}_1_train_log.csv")))
        .unwrap_or_else(|e| panic!("{name}'s training log: {e}"))
}

#[test]
fn a_run_on_libtorch_is_complete_and_repeatable() {
    let dir = TestDir::new();
    let data = crate::util::tiny_synthetic_set(&dir, 2, 3, 2);
    let yaml = crate::util::tiny_run_yaml(&data, 2, 2, "ENABLE: True").replace("EPOCHS: 1", "EPOCHS: 2");
    let config = dir.write("run.yaml", &yaml);
    let results = dir.join("out");
    let first = run_job(&config, &results, "a", &["--run_id", "1", "--device", "tch:cpu"]);
    if !cfg!(feature = "tch") {
        assert_eq!(first.code, 2);
        assert!(
            first.stderr.contains("device `tch:cpu` needs segsweep built with `--features tch`"),
            "{}",
            first.stderr
        );
        return;
    }
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.contains("Test Foreground IoU (merge patches): "), "{}", first.stdout);
    assert!(results.join("a/results/a_1/per_image_binarized").is_dir());
    let second = run_job(&config, &results, "b", &["--run_id", "1", "--device", "tch"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    // Same seed, same backend, the CPU: the same losses and IoUs, digit for digit (the seconds
    // columns aside).
    let numbers = |log: String| -> Vec<String> {
        log.lines().map(|l| l.split(',').take(6).collect::<Vec<_>>().join(",")).collect()
    };
    assert_eq!(numbers(train_log(&results, "a")), numbers(train_log(&results, "b")));
}

#[test]
fn a_cuda_device_that_is_not_there_names_those_that_are() {
    let out = segsweep(&[
        "bench",
        "--config",
        "templates/semantic_segmentation/2d_semantic_segmentation.yaml",
        "--device",
        "tch:cuda:7",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    if cfg!(feature = "tch") {
        assert!(out.stderr.contains("device `tch:cuda:7` is not available: libtorch sees "), "{}", out.stderr);
    } else {
        assert!(out.stderr.contains("needs segsweep built with `--features tch`"), "{}", out.stderr);
    }
}
