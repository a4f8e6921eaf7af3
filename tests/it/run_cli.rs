//! `segsweep run` (train then test) on tiny synthetic 2D and 3D sets: BiaPy's output folders,
//! the metrics files, and the printed RESULTS block (snapshot, numbers redacted); and
//! `segsweep evaluate` on predictions whose IoU is known by construction.

use crate::util::{TestDir, segsweep};

fn tiny_run_config(dir: &TestDir, ndim: u8, test_keys: &str) -> std::path::PathBuf {
    let data = crate::util::tiny_synthetic_set(dir, ndim, 3, 2);
    dir.write("run.yaml", &crate::util::tiny_run_yaml(&data, ndim, 2, &format!("ENABLE: True{test_keys}")))
}

/// Replaces every number with `N`.
fn redact(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars.peek().is_some_and(|d| d.is_ascii_digit() || *d == '.' || *d == 'e' || *d == '-') {
                chars.next();
            }
            out.push('N');
        } else {
            out.push(c);
        }
    }
    out
}

fn results_block(stdout: &str) -> String {
    stdout.lines().skip_while(|l| *l != "#############").collect::<Vec<_>>().join("\n")
}

#[test]
fn run_2d_writes_the_tree_metrics_and_results_block() {
    let dir = TestDir::new();
    let keys = ", POST_PROCESSING: {MEDIAN_FILTER: True, MEDIAN_FILTER_AXIS: [xy], MEDIAN_FILTER_SIZE: [3]}";
    let config = tiny_run_config(&dir, 2, keys);
    let results = dir.join("out");
    let out = segsweep(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--result_dir",
        results.to_str().unwrap(),
        "--name",
        "tiny",
        "--run_id",
        "2",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for folder in ["per_image", "per_image_binarized", "per_image_post_processing", "charts", "train_logs"] {
        let path = results.join("tiny/results/tiny_2").join(folder);
        assert!(path.is_dir(), "{folder} missing");
    }
    assert!(results.join("tiny/results/tiny_2/per_image/0000.tif").exists());
    assert!(!results.join("tiny/results/tiny_2/full_image").exists(), "folders only for what the run produced (D12)");
    for overlay in ["0000.png", "0001.png"] {
        assert!(results.join("tiny/results/tiny_2/overlays").join(overlay).exists(), "{overlay} missing");
    }
    let csv = std::fs::read_to_string(results.join("tiny/results/tiny_2/test_results_metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "header and one row per test image:\n{csv}");
    assert!(csv.starts_with(
        "file,iou_per_patch,n_patches,iou_merge_patches,iou_post_processing,iou_full_image,iou_full_post_processing,empty\n0000.tif,"
    ));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("tiny/results/tiny_2/metrics.json")).unwrap())
            .unwrap();
    assert_eq!(json["summary"]["n_images"], 2);
    assert!(json["summary"]["merge_patches"].as_f64().is_some_and(|v| (0.0..=1.0).contains(&v)));
    let block = redact(&results_block(&out.stdout));
    insta::assert_snapshot!(block, @r"
    #############
    #  RESULTS  #
    #############
    The values below represent the averages across all test samples
    Epoch number: N
    Train time (s): N:N:N
    Train loss: N
    Train Foreground IoU: N
    Validation loss: N
    Validation Foreground IoU: N
    Test Foreground IoU (per patch): N
    Test Foreground IoU (merge patches): N
    Test Foreground IoU (merge patches - post-processing): N
    FINISHED JOB tiny_N !!
    ");
}

#[test]
fn run_2d_full_image_and_3d_with_a_z_filter() {
    let dir = TestDir::new();
    let config = tiny_run_config(&dir, 2, ", FULL_IMG: True");
    let results = dir.join("full");
    let out = crate::util::run_job(&config, &results, "f", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(results.join("f/results/f_1/full_image_binarized/0001.tif").exists());
    assert!(out.stdout.contains("Test Foreground IoU (per image): "), "{}", out.stdout);

    let dir = TestDir::new();
    let keys = ", POST_PROCESSING: {MEDIAN_FILTER: True, MEDIAN_FILTER_AXIS: [z], MEDIAN_FILTER_SIZE: [3]}";
    let config = tiny_run_config(&dir, 3, keys);
    let results = dir.join("three");
    let out = crate::util::run_job(&config, &results, "t", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(results.join("t/results/t_1/per_image_post_processing/0000.tif").exists());
    assert!(out.stdout.contains("Test Foreground IoU (merge patches - post-processing): "));
    // A 16-slice stack gets overlays of three z slices.
    let overlays: Vec<String> = std::fs::read_dir(results.join("t/results/t_1/overlays"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("0000_"))
        .collect();
    assert_eq!(overlays.len(), 3, "{overlays:?}");
}

#[test]
fn test_only_run_needs_a_checkpoint_and_bad_test_inputs() {
    let dir = TestDir::new();
    let config = tiny_run_config(&dir, 2, "");
    let results = dir.join("r");
    let base = ["run", "--config", config.to_str().unwrap(), "--result_dir", results.to_str().unwrap(), "--name", "x"];
    let mut args = base.to_vec();
    args.extend(["--set", "TRAIN.ENABLE=False", "--set", "MODEL.LOAD_CHECKPOINT=True"]);
    let out = segsweep(&args);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("checkpoint `")
            && out.stderr.contains("x_1-checkpoint-best.safetensors`\n  caused by: file not found"),
        "{}",
        out.stderr
    );
    let mut args = base.to_vec();
    args.extend(["--set", "DATA.TEST.PADDING=(16, 16)"]);
    let out = segsweep(&args);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("`DATA.TEST.PADDING`"), "{}", out.stderr);
    let mut args = base.to_vec();
    args.extend(["--set", "DATA.TEST.OVERLAP=(1.0, 0)"]);
    assert_eq!(segsweep(&args).code, 2);
}

#[test]
fn evaluate_known_answers() {
    use segsweep::data::Volume;
    use segsweep::data::tiff_io::{AnyVolume, WriteOptions, write_tiff};
    let dir = TestDir::new();
    let write = |rel: &str, v: AnyVolume| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        write_tiff(&path, &v, &WriteOptions::default()).unwrap();
    };
    // Truth: the left half of an 8×8 image. Masks: identical → 1; probabilities: the left quarter
    // above 0.5 → IoU 16/32 = 0.5.
    let truth = Volume::from_vec([1, 8, 8, 1], (0..64).map(|i| u8::from(i % 8 < 4)).collect()).unwrap();
    let probs =
        Volume::from_vec([1, 8, 8, 1], (0..64).map(|i| if i % 8 < 2 { 0.9f32 } else { 0.1 }).collect()).unwrap();
    write("gt/a.tif", AnyVolume::U8(truth.clone()));
    write("gt/b.tif", AnyVolume::U8(truth.clone()));
    write("pred/a.tif", AnyVolume::U8(truth));
    write("pred/b.tif", AnyVolume::F32(probs));
    let out =
        segsweep(&["evaluate", "--pred", dir.join("pred").to_str().unwrap(), "--gt", dir.join("gt").to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "pred,gt,iou\na.tif,a.tif,1\nb.tif,b.tif,0.5\nMean IoU: 0.75\n");
}

#[test]
fn run_with_tta_and_the_2d_images_as_a_3d_stack() {
    let dir = TestDir::new();
    let keys = ", AUGMENTATION: True, AUGMENTATION_GROUP: flips, ANALIZE_2D_IMGS_AS_3D_STACK: True, POST_PROCESSING: {MEDIAN_FILTER: True, MEDIAN_FILTER_AXIS: [z], MEDIAN_FILTER_SIZE: [3]}";
    let config = tiny_run_config(&dir, 2, keys);
    let results = dir.join("stack");
    let out = crate::util::run_job(&config, &results, "s", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for path in
        ["as_3d_stack/0.tif", "as_3d_stack_binarized/0.tif", "as_3d_stack_post_processing/0.tif", "per_image/0001.tif"]
    {
        assert!(results.join("s/results/s_1").join(path).exists(), "{path} missing");
    }
    assert!(!results.join("s/results/s_1/per_image_post_processing").exists(), "the stack is filtered, not each image");
    assert!(out.stdout.contains("Test Foreground IoU (as 3D stack - post-processing): "), "{}", out.stdout);
    let stack = segsweep::data::tiff_io::read_tiff(&results.join("s/results/s_1/as_3d_stack/0.tif")).unwrap();
    assert_eq!(stack.volume.shape(), [2, 64, 64, 1], "two test images stacked along z");
}
