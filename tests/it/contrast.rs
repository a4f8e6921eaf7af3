//! `LOSS.CONTRAST` through `segsweep run`: the line saying when the term joins, a run that
//! repeats bit for bit, a different training once the term is active, 3D with three classes,
//! and the refusals `config check` gives; and the loss against BiaPy 3.7.1's own
//! `PixelContrastLoss` with the bank's layout (`tests/python/biapy_contrast.py`, in the Python
//! of `SEGSWEEP_PYTHON`).

use burn::tensor::{Device, Tensor, TensorData};
use segsweep::train::contrast::{MemoryBank, contrastive};

use crate::util::{
    TestDir, available_or_skip, repo_root, run_job, tiny_run_yaml, tiny_synthetic_set, tiny_synthetic_set_of,
};

/// The tiny run with `LOSS.CONTRAST` on, two epochs and a bank of `memory_size` rows.
fn yaml(data: &std::path::Path, ndim: u8, classes: u8, memory_size: usize) -> String {
    let contrast = format!("CONTRAST: {{ENABLE: True, MEMORY_SIZE: {memory_size}, PROJ_DIM: 8, PIXEL_UPD_FREQ: 4}}");
    let yaml = tiny_run_yaml(data, ndim, classes, "ENABLE: True").replace("EPOCHS: 1", "EPOCHS: 2");
    if yaml.contains("LOSS: {TYPE: CE}") {
        yaml.replace("LOSS: {TYPE: CE}", &format!("LOSS: {{TYPE: CE, {contrast}}}"))
    } else {
        format!("{yaml}LOSS: {{{contrast}}}\n")
    }
}

/// The `[Train]` loss of every epoch.
fn train_losses(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("[Train] averaged stats: loss: "))
        .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_contrastive_term_joins_training_repeats_and_changes_the_loss() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 4, 1);
    let active = dir.write("active.yaml", &yaml(&data, 2, 2, 1));
    let first = run_job(&active, &dir.join("results"), "first", &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let said = "Contrastive loss: memory bank of 1 rows per class and queue; the term joins the loss from iteration 2";
    assert!(first.stdout.contains(said), "{}", first.stdout);
    assert!(first.stdout.contains("Test Foreground IoU (merge patches): "), "{}", first.stdout);
    let losses = train_losses(&first.stdout);
    assert_eq!(losses.len(), 2, "{}", first.stdout);

    let again = run_job(&active, &dir.join("results"), "again", &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(train_losses(&again.stdout), losses, "same seed, same CPU backend: the same losses");

    // A bank too large to fill in two epochs: the term never joins, the heads are the same.
    let idle = dir.write("idle.yaml", &yaml(&data, 2, 2, 100_000));
    let without = run_job(&idle, &dir.join("results"), "idle", &[]);
    assert_eq!(without.code, 0, "{}", without.stderr);
    assert_ne!(train_losses(&without.stdout), losses, "the active term changes the loss");
}

#[test]
fn a_3d_three_class_run_trains_with_the_term() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set_of(&dir, 3, 3, 3, 1);
    let config = dir.write("three.yaml", &yaml(&data, 3, 3, 1));
    let out = run_job(&config, &dir.join("results"), "three", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("the term joins the loss from iteration 2"), "{}", out.stdout);
    assert!(train_losses(&out.stdout).iter().all(|l| l.parse::<f64>().is_ok_and(f64::is_finite)), "{}", out.stdout);
}

#[test]
fn config_check_refuses_bad_sizes_and_stunet() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 2, 1);
    let bad = dir.write("bad.yaml", &yaml(&data, 2, 2, 0));
    let out = crate::util::segsweep(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("`LOSS.CONTRAST.MEMORY_SIZE`"), "{}", out.stderr);
    let stunet = dir.write(
        "stunet.yaml",
        &yaml(&data, 2, 2, 1).replace("MODEL: {FEATURE_MAPS: [4, 8, 16]", "MODEL: {ARCHITECTURE: stunet"),
    );
    let out = crate::util::segsweep(&["config", "check", stunet.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("`LOSS.CONTRAST.ENABLE`") && out.stderr.contains("stunet"), "{}", out.stderr);
}

#[test]
fn the_loss_and_the_banks_layout_match_biapys_pixel_contrast_loss() {
    let python = std::env::var("SEGSWEEP_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(&python).arg(repo_root().join("tests/python/biapy_contrast.py")).output();
    let works = out.as_ref().is_ok_and(|o| o.status.success());
    let missing = format!("`{python}` lacks biapy/torch (tests/python/requirements.txt)");
    if !available_or_skip("biapy_contrast", works, "SEGSWEEP_REQUIRE_PYTHON", &missing) {
        return;
    }
    let seen: serde_json::Value = serde_json::from_slice(&out.unwrap().stdout).unwrap();
    let floats =
        |key: &str| -> Vec<f32> { seen[key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect() };
    let shape: Vec<usize> = seen["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
    let [a, p, c, m] = [shape[0], shape[1], shape[2], shape[3]];
    let device = Device::flex();
    let anchors = Tensor::<2>::from_data(TensorData::new(floats("anchors"), [a, p]), &device);
    let labels: Vec<i64> = floats("labels").iter().map(|&l| l as i64).collect();
    // BiaPy's queue is `cat(segment, pixel, dim=1)`: each class's first M rows are its segment rows.
    let queue = Tensor::<3>::from_data(TensorData::new(floats("queue"), [c, 2 * m, p]), &device);
    let bank = MemoryBank::from_queues(queue.clone().narrow(1, 0, m), queue.narrow(1, m, m));
    let (rows, row_labels) = bank.contrast_rows();
    let ours = f64::from(contrastive(anchors, &labels, rows, &row_labels).into_scalar::<f32>());
    let biapy = seen["loss"].as_f64().unwrap();
    assert!((ours - biapy).abs() <= 1e-5 * biapy.abs().max(1.0), "segsweep {ours} vs BiaPy {biapy}");
}
