//! BiaPy's data switches through `segsweep run` on tiny synthetic data: sample filtering in the
//! three phases (`DATA.{TRAIN,VAL,TEST}.FILTER_SAMPLES`, counted against the masks by hand),
//! cross-validation folds (`DATA.VAL.CROSS_VAL`, `DATA.TEST.USE_VAL_AS_TEST`) with the
//! cross-validation manifest under `experiments/`, and `DATA.FORCE_RGB`.

use std::path::Path;

use segsweep::data::{AnyVolume, read_tiff};

use crate::util::{TestDir, repo_root, run_job, segsweep, tiny_run_yaml, tiny_synthetic_set};

/// The masks of `dir` in natural order (the synthetic names sort the same way either way).
fn masks(dir: &Path) -> Vec<(String, Vec<u16>, [usize; 2])> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let (values, [_, y, x, _]) = match read_tiff(&path).unwrap().volume {
                AnyVolume::U8(v) => (v.as_slice().iter().map(|&l| u16::from(l)).collect(), v.shape()),
                AnyVolume::U16(v) => (v.as_slice().to_vec(), v.shape()),
                other => panic!("unexpected mask type {other:?}"),
            };
            (path.file_name().unwrap().to_string_lossy().into_owned(), values, [y, x])
        })
        .collect()
}

/// Foreground fraction of the `size`² patch at `(y0, x0)` of a `[h, w]` mask.
fn foreground(mask: &[u16], [_, w]: [usize; 2], (y0, x0): (usize, usize), size: usize) -> f64 {
    let mut n = 0;
    for y in y0..y0 + size {
        n += mask[y * w + x0..y * w + x0 + size].iter().filter(|&&l| l > 0).count();
    }
    n as f64 / (size * size) as f64
}

fn line_after<'a>(stdout: &'a str, prefix: &str) -> Vec<&'a str> {
    stdout.lines().filter_map(|l| l.strip_prefix(prefix)).collect()
}

#[test]
fn filters_training_patches_validation_and_test_images_by_their_properties() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 4, 2);
    // Training: 64×64 images, 32×32 patches → a 2×2 grid each; drop the patches under 10 %
    // foreground. Count them from the masks.
    let train = masks(&data.join("train/y"));
    let limit = 0.1;
    let kept: Vec<usize> = train
        .iter()
        .map(|(_, mask, shape)| {
            [(0, 0), (0, 32), (32, 0), (32, 32)].iter().filter(|&&at| foreground(mask, *shape, at, 32) >= limit).count()
        })
        .collect();
    let kept_total: usize = kept.iter().sum();
    assert!(kept_total > 0 && kept_total < 16, "the synthetic set should have some empty patches: {kept:?}");
    // Test: keep the image with more foreground, skip the other.
    let test = masks(&data.join("test/y"));
    let fg: Vec<f64> =
        test.iter().map(|(_, m, _)| m.iter().filter(|&&l| l > 0).count() as f64 / m.len() as f64).collect();
    assert_ne!(fg[0], fg[1]);
    let (skipped, kept_test) = if fg[0] < fg[1] { (0, 1) } else { (1, 0) };
    let test_limit = (fg[0] + fg[1]) / 2.0;
    let mut yaml = tiny_run_yaml(&data, 2, 2, "ENABLE: True");
    yaml = yaml.replace("  VAL: {SPLIT_TRAIN: 0.34}\n", "  VAL: {SPLIT_TRAIN: 0.34, FILTER_SAMPLES: {ENABLE: True, PROPS: [[max]], VALUES: [[1.0e9]], SIGNS: [[gt]]}}\n");
    yaml = yaml.replace(
        "  TRAIN: {PATH:",
        &format!("  TRAIN: {{FILTER_SAMPLES: {{ENABLE: True, PROPS: [[foreground]], VALUES: [[{limit}]], SIGNS: [[lt]]}}, PATH:"),
    );
    yaml = yaml.replace(
        "LOAD_GT: True,",
        &format!("LOAD_GT: True, FILTER_SAMPLES: {{ENABLE: True, PROPS: [[foreground]], VALUES: [[{test_limit}]], SIGNS: [[lt]]}},"),
    );
    let config = dir.write("filter.yaml", &yaml);
    let results = dir.join("results");
    let out = run_job(&config, &results, "filter", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let before = line_after(&out.stdout, "Number of samples before filtering: ");
    assert_eq!((before.len(), before[0]), (2, "16"), "training patches, then validation patches: {}", out.stdout);
    let kept_images = kept.iter().filter(|&&k| k > 0).count();
    // Validation: the patches of whole images by split (`SPLIT_TRAIN` 0.34 of the images left),
    // none dropped by its filter (no value reaches its limit).
    let n_val = (0.34 * kept_images as f64).ceil() as usize;
    let after = line_after(&out.stdout, "Number of samples after filtering: ");
    assert_eq!(after, [kept_total.to_string().as_str(), before[1]], "{}", out.stdout);
    assert_eq!(line_after(&out.stdout, "Training samples: ").len(), 1);
    let training = line_after(&out.stdout, "Training samples: ")[0];
    assert!(training.contains(&format!("from {} images", kept_images - n_val)), "{training}");
    assert_eq!(out.stdout.matches("Skipping image: ").count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains(&format!(" Skipping image: {}", test[skipped].0)), "{}", out.stdout);
    let metrics = std::fs::read_to_string(results.join("filter/results/filter_1/test_results_metrics.csv")).unwrap();
    let stem = test[kept_test].0.trim_end_matches(".tif");
    assert!(metrics.contains(stem), "{metrics}");
    assert!(!metrics.contains(test[skipped].0.trim_end_matches(".tif")), "{metrics}");
    let per_image = results.join("filter/results/filter_1/per_image_binarized");
    assert_eq!(std::fs::read_dir(per_image).unwrap().count(), 1, "the skipped image has no outputs");
}

#[test]
fn a_filter_that_drops_everything_and_bad_conditions_are_clear_errors() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 2, 1);
    let base = tiny_run_yaml(&data, 2, 2, "ENABLE: False");
    let with = |filter: &str| base.replace("  TRAIN: {PATH:", &format!("  TRAIN: {{FILTER_SAMPLES: {filter}, PATH:"));
    let config = dir.write("all.yaml", &with("{ENABLE: True, PROPS: [[min]], VALUES: [[1.0e9]], SIGNS: [[lt]]}"));
    let out = run_job(&config, &dir.join("r1"), "all", &[]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("`DATA.TRAIN.FILTER_SAMPLES.*` discarded all 8 samples"), "{}", out.stderr);
    let config = dir.write("bad.yaml", &with("{ENABLE: True, PROPS: [[median]], VALUES: [[1]], SIGNS: [[lt]]}"));
    let out = segsweep(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let message = &out.stderr;
    assert!(message.contains("`DATA.TRAIN.FILTER_SAMPLES.PROPS` (in ") && message.contains("`median`"), "{message}");
    let test_needs_gt = base.replace(
        "LOAD_GT: True,",
        "LOAD_GT: False, FILTER_SAMPLES: {ENABLE: True, PROPS: [[foreground]], VALUES: [[0.1]], SIGNS: [[lt]]},",
    );
    let config = dir.write("gt.yaml", &test_needs_gt);
    let out = segsweep(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("DATA.TEST.LOAD_GT: True"), "{}", out.stderr);
}

#[test]
fn cross_validation_validates_and_tests_on_the_chosen_fold() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 4, 1);
    let yaml = tiny_run_yaml(&data, 2, 2, "ENABLE: True")
        .replace(
            "VAL: {SPLIT_TRAIN: 0.34}",
            "VAL: {CROSS_VAL: True, CROSS_VAL_NFOLD: 4, CROSS_VAL_FOLD: 2, RANDOM: False}",
        )
        .replace("LOAD_GT: True,", "LOAD_GT: False, USE_VAL_AS_TEST: True,");
    let config = dir.write("cv.yaml", &yaml);
    let results = dir.join("results");
    let out = run_job(&config, &results, "cv", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Fold number 2. Indexes used in cross validation: [1]"), "{}", out.stdout);
    // Three images of a 2×2 grid train, the second image's four patches validate.
    assert!(out.stdout.contains("Training samples: 12 patches from 3 images; validation samples: 4"), "{}", out.stdout);
    // The test phase predicts that second training image, with its mask, and only it.
    let train = masks(&data.join("train/y"));
    let metrics = std::fs::read_to_string(results.join("cv/results/cv_1/test_results_metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "{metrics}");
    assert!(metrics.contains(train[1].0.trim_end_matches(".tif")), "{metrics}");
    let bad = dir.write("bad.yaml", &yaml.replace("CROSS_VAL_FOLD: 2", "CROSS_VAL_FOLD: 5"));
    let out = segsweep(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`DATA.VAL.CROSS_VAL_FOLD`") && out.stderr.contains("1..=4"), "{}", out.stderr);
}

#[test]
fn the_cross_validation_manifest_trains_one_model_per_fold() {
    let dir = TestDir::new();
    for file in ["cross_val.yaml", "demo_2d.yaml"] {
        dir.write(
            &format!("exp/{file}"),
            &std::fs::read_to_string(repo_root().join("experiments").join(file)).unwrap(),
        );
    }
    let out = segsweep(&["sweep", dir.join("exp/cross_val.yaml").to_str().unwrap(), "--dry-run"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("5 runs: 5 trainings, 5 inferences, 5 evaluations to run"), "{}", out.stdout);
}

#[test]
fn force_rgb_trains_and_tests_a_three_channel_model_on_grayscale_images() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 3, 1);
    let yaml =
        tiny_run_yaml(&data, 2, 2, "ENABLE: True").replace("PATCH_SIZE: '(32, 32, 1)'", "PATCH_SIZE: '(32, 32, 3)'");
    let refused = run_job(&dir.write("gray.yaml", &yaml), &dir.join("r1"), "gray", &[]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("has 1 channel(s), but `DATA.PATCH_SIZE` ends in 3"), "{}", refused.stderr);
    let config = dir.write("rgb.yaml", &yaml.replace("N_CLASSES: 2", "N_CLASSES: 2\n  FORCE_RGB: True"));
    let out = run_job(&config, &dir.join("r2"), "rgb", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Test Foreground IoU (merge patches): "), "{}", out.stdout);
}

#[test]
fn filtered_examples_show_the_dropped_patches_black_or_sort_whole_images() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 3, 1);
    let yaml = tiny_run_yaml(&data, 2, 2, "ENABLE: False").replace(
        "  TRAIN: {PATH:",
        "  SAVE_FILTERED_IMAGES: True\n  SAVE_FILTERED_IMAGES_NUM: 2\n  TRAIN: {FILTER_SAMPLES: {ENABLE: True, PROPS: [[foreground]], VALUES: [[0.1]], SIGNS: [[lt]]}, PATH:",
    );
    let results = dir.join("results");
    let out = run_job(&dir.write("patches.yaml", &yaml), &results, "patches", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let train = masks(&data.join("train/y"));
    let examples = results.join("patches/results/patches_1/filtering_information/train");
    let mut files: Vec<String> =
        std::fs::read_dir(&examples).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    // The first two images, each with its dropped patches black.
    assert_eq!(files, [train[0].0.clone(), train[1].0.clone()]);
    for (name, mask, shape) in &train[..2] {
        let image = match read_tiff(&examples.join(name)).unwrap().volume {
            AnyVolume::F32(v) => v,
            other => panic!("{other:?}"),
        };
        for (y0, x0) in [(0, 0), (0, 32), (32, 0), (32, 32)] {
            let dropped = foreground(mask, *shape, (y0, x0), 32) < 0.1;
            let black = (y0..y0 + 32).all(|y| (x0..x0 + 32).all(|x| image.get(0, y, x, 0) == 0.0));
            assert_eq!(black, dropped, "{name} patch at ({y0}, {x0})");
        }
    }
    // By image: the images go to `filtered/` or `not-filtered/`.
    let by_image = yaml.replace("SAVE_FILTERED_IMAGES: True", "SAVE_FILTERED_IMAGES: True\n  FILTER_BY_IMAGE: True");
    let out = run_job(&dir.write("images.yaml", &by_image), &results, "images", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let sorted = results.join("images/results/images_1/filtering_information/train/not-filtered");
    assert!(std::fs::read_dir(sorted).unwrap().count() >= 1);
}
