//! `TEST.BY_CHUNKS` (D15) end to end: a tiny 3D training and test by chunks, then the normal test
//! path on the same checkpoint. With `DATA.TEST.PADDING` 0 and volumes that are whole multiples
//! of the patch, the chunked tiles are the normal patch grid, so the binarised outputs must be
//! the same files and the whole-volume IoU the normal "merge patches" IoU — for two classes, and
//! for three with test-time augmentation and argmax labels.

use std::path::Path;

use segsweep::data::tiff_io::{AnyVolume, read_tiff};

use crate::util::{TestDir, segsweep};

fn metrics(job: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(job.join("metrics.json")).unwrap()).unwrap()
}

/// The normal test path (job `normal`) on the checkpoint the chunked job `chunks` trained.
fn normal_path(config: &str, results: &Path, extra: &[&str]) -> crate::util::Output {
    let checkpoint = results.join("chunks/checkpoints/chunks_1-checkpoint-best.safetensors");
    let checkpoint = format!("PATHS.CHECKPOINT_FILE={}", checkpoint.display());
    let mut args = vec!["run", "--config", config, "--result_dir", results.to_str().unwrap(), "--name", "normal"];
    for set in ["TRAIN.ENABLE=False", "MODEL.LOAD_CHECKPOINT=True", &checkpoint, "TEST.BY_CHUNKS.ENABLE=False"] {
        args.extend(["--set", set]);
    }
    args.extend_from_slice(extra);
    segsweep(&args)
}

#[test]
fn chunked_test_writes_tiffs_equal_to_the_normal_path() {
    let dir = TestDir::new();
    // Two 16×32×32 test stacks; patch 8×16×16 tiles them exactly.
    let data = crate::util::tiny_synthetic_set(&dir, 3, 3, 2);
    let config = dir.write(
        "chunks.yaml",
        &format!(
            "PROBLEM: {{NDIM: 3D}}
DATA:
  PATCH_SIZE: '(8, 16, 16, 1)'
  TRAIN: {{PATH: {d}/train/x, GT_PATH: {d}/train/y}}
  VAL: {{SPLIT_TRAIN: 0.34}}
  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True, PADDING: '(0, 0, 0)'}}
MODEL: {{FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1]}}
TRAIN: {{ENABLE: True, OPTIMIZER: ADAMW, LR: 1.E-2, BATCH_SIZE: 2, EPOCHS: 1}}
TEST: {{ENABLE: True, BY_CHUNKS: {{ENABLE: True, WRITE_RAW_PREDICTIONS: True}}}}
",
            d = data.display()
        ),
    );
    let results = dir.join("out");
    let (config, results_dir) = (config.to_str().unwrap(), results.to_str().unwrap());
    let check = segsweep(&["config", "check", "--data", config]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stderr.contains("2 masks in") && check.stderr.contains("(headers only: `TEST.BY_CHUNKS`"),
        "{}",
        check.stderr
    );
    let out = segsweep(&["run", "--config", config, "--result_dir", results_dir, "--name", "chunks"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Predicted by chunks: at most 8 image planes read, 8 written at once"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Test Foreground IoU (per patch): "), "{}", out.stdout);
    assert!(out.stdout.contains("Test Foreground IoU (per image): "), "{}", out.stdout);
    let normal = normal_path(config, &results, &[]);
    assert_eq!(normal.code, 0, "{}\n{}", normal.stdout, normal.stderr);

    let (chunks, normal) = (results.join("chunks/results/chunks_1"), results.join("normal/results/normal_1"));
    for stem in ["0000", "0001"] {
        let labels = read_tiff(&chunks.join(format!("per_image_binarized/{stem}.tif"))).unwrap().volume;
        assert_eq!((labels.shape(), labels.dtype()), ([16, 32, 32, 1], "uint8"));
        let AnyVolume::U8(labels) = labels else { unreachable!() };
        assert!(labels.as_slice().iter().all(|&v| v <= 1));
        let probs = read_tiff(&chunks.join(format!("per_image/{stem}.tif"))).unwrap().volume;
        assert_eq!((probs.shape(), probs.dtype()), ([16, 32, 32, 1], "float32"));
        // The same model on the same patches: the very same file, metadata included.
        let same = |folder: &str| {
            let file = format!("{folder}/{stem}.tif");
            std::fs::read(chunks.join(&file)).unwrap() == std::fs::read(normal.join(&file)).unwrap()
        };
        assert!(same("per_image_binarized"), "{stem}: binarised outputs differ");
        assert!(same("per_image"), "{stem}: probabilities differ");
    }
    let (chunks, normal) = (metrics(&chunks), metrics(&normal));
    for (c, n) in chunks["images"].as_array().unwrap().iter().zip(normal["images"].as_array().unwrap()) {
        assert_eq!(c["file"], n["file"]);
        assert_eq!(c["iou_per_patch"], n["iou_per_patch"]);
        assert_eq!(c["n_patches"], n["n_patches"]);
        assert_eq!(c["counts"], n["counts"]);
        assert_eq!(c["iou_full_image"], n["iou_merge_patches"], "the whole-volume IoU is the merged one");
        assert!(c["iou_merge_patches"].is_null() && c["iou_post_processing"].is_null(), "not computed: empty");
    }
}

#[test]
fn chunked_multiclass_with_tta_writes_the_normal_paths_files() {
    let dir = TestDir::new();
    // Three classes, test-time augmentation on, argmax labels written: the chunked tiles are
    // the normal patch grid again (padding 0, whole multiples), and TTA runs per patch in both.
    let data = crate::util::tiny_synthetic_set_of(&dir, 3, 3, 3, 1);
    let config = dir.write(
        "chunks.yaml",
        &format!(
            "PROBLEM: {{NDIM: 3D}}
DATA:
  N_CLASSES: 3
  PATCH_SIZE: '(8, 16, 16, 1)'
  TRAIN: {{PATH: {d}/train/x, GT_PATH: {d}/train/y}}
  VAL: {{SPLIT_TRAIN: 0.34}}
  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True, PADDING: '(0, 0, 0)', ARGMAX_TO_OUTPUT: True}}
MODEL: {{FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1]}}
LOSS: {{TYPE: CE}}
TRAIN: {{ENABLE: True, OPTIMIZER: ADAMW, LR: 1.E-2, BATCH_SIZE: 2, EPOCHS: 1}}
TEST: {{ENABLE: True, AUGMENTATION: True, BY_CHUNKS: {{ENABLE: True, WRITE_RAW_PREDICTIONS: True}}}}
",
            d = data.display()
        ),
    );
    let results = dir.join("out");
    let (config, results_dir) = (config.to_str().unwrap(), results.to_str().unwrap());
    let out = segsweep(&["run", "--config", config, "--result_dir", results_dir, "--name", "chunks"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let normal = normal_path(config, &results, &["--set", "TEST.SAVE_MODEL_RAW_OUTPUT=True"]);
    assert_eq!(normal.code, 0, "{}\n{}", normal.stdout, normal.stderr);
    let (chunks, normal) = (results.join("chunks/results/chunks_1"), results.join("normal/results/normal_1"));
    let labels = read_tiff(&chunks.join("per_image_binarized/0000.tif")).unwrap().volume;
    assert_eq!(labels.shape(), [16, 32, 32, 1]);
    let AnyVolume::U8(labels) = labels else { panic!("uint8 labels") };
    assert!(labels.as_slice().iter().all(|&v| v <= 2) && labels.as_slice().iter().any(|&v| v > 0));
    let probs = read_tiff(&chunks.join("per_image/0000.tif")).unwrap().volume;
    assert_eq!((probs.shape(), probs.dtype()), ([16, 32, 32, 3], "float32"), "one channel per class");
    for folder in ["per_image_binarized", "per_image"] {
        let file = format!("{folder}/0000.tif");
        assert!(
            std::fs::read(chunks.join(&file)).unwrap() == std::fs::read(normal.join(&file)).unwrap(),
            "{file}: the chunked and the normal path differ"
        );
    }
    let (c, n) = (metrics(&chunks), metrics(&normal));
    assert_eq!(c["images"][0]["counts"], n["images"][0]["counts"]);
    assert_eq!(c["images"][0]["iou_full_image"], n["images"][0]["iou_merge_patches"]);
}
