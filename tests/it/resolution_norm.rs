//! `DATA.RESOLUTION_NORM` through the library's training sets and through `segsweep run`: each
//! file's scale from the `resolution.json` beside its split folder, validation falling back to
//! the training file, the window enlarged for the smallest scale, validation draws fixed across
//! epochs, BiaPy's "matched" lines, and a bad file named with its entry.

use std::path::Path;

use segsweep::config::load_str;
use segsweep::train::samples::SampleSet;
use segsweep::train::setup::build_sets;

use crate::util::{TestDir, run_job, tiny_run_yaml, tiny_synthetic_set};

/// The tiny 2D run with `DATA.RESOLUTION_NORM` on, target x spacing 1.
fn yaml_with_norm(data: &Path) -> String {
    tiny_run_yaml(data, 2, 2, "ENABLE: True")
        .replace("  TRAIN: {PATH:", "  RESOLUTION_NORM: {ENABLE: True, TARGET_RESOLUTION: [1, 1, 1]}\n  TRAIN: {PATH:")
}

fn scales(set: &SampleSet) -> Vec<(String, f64)> {
    set.images
        .iter()
        .map(|i| (i.image_path.file_name().unwrap().to_string_lossy().into_owned(), i.resolution_scale))
        .collect()
}

#[test]
fn scales_come_from_the_json_beside_the_split_and_validation_falls_back_to_it() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 3, 1);
    let json = data.join("train/resolution.json");
    std::fs::write(&json, r#"{"0000.tif": [1, 0.5, 0.5], "0001.tif": [1, 2, 2]}"#).unwrap();
    let config = load_str(&yaml_with_norm(&data), &[]).unwrap().config;
    let mut out = Vec::new();
    let (train, val) = build_sets(&config, 7, &dir.join("maps"), &dir.join("filtered"), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();

    // 0000 is twice as fine as the target (scale ½), 0001 twice as coarse, 0002 not listed.
    let all: Vec<(String, f64)> = scales(&train).into_iter().chain(scales(&val)).collect();
    assert_eq!(all.len(), 3, "{all:?}");
    for (name, scale) in &all {
        let want = match name.as_str() {
            "0000.tif" => 0.5,
            "0001.tif" => 2.0,
            _ => 1.0,
        };
        assert_eq!(*scale, want, "{name}");
    }
    let matched = |set: &SampleSet| scales(set).iter().filter(|(n, _)| n != "0002.tif").count();
    let (n_train, n_val) = (train.images.len(), val.images.len());
    let said = |line: String| assert!(text.contains(&line), "{line}\n{text}");
    said(format!("Resolution norm: matched {}/{n_train} training file(s) from `{}`.", matched(&train), json.display()));
    said(format!(
        "Resolution norm: matched {}/{n_val} validation file(s) from the training set's `{}`.",
        matched(&val),
        json.display()
    ));

    // The window is sized for the set's smallest scale: 32 / ½ = 64 when 0000 is in the set.
    let window = |set: &SampleSet| set.augmenter.as_ref().expect("a rescale warp").input_window();
    let side = |set: &SampleSet| if scales(set).iter().any(|(_, s)| *s == 0.5) { 64 } else { 32 };
    assert_eq!(window(&train), [1, side(&train), side(&train)]);
    assert_eq!(window(&val), [1, side(&val), side(&val)]);

    // Samples come back at the patch size; validation's never change between epochs.
    for index in 0..val.len() {
        let first = val.sample(index, 0).unwrap();
        assert_eq!(first.0.spatial_shape(), [1, 32, 32]);
        assert_eq!(first, val.sample(index, 4).unwrap(), "validation sample {index}");
    }
    assert_eq!(train.sample(0, 1).unwrap().0.spatial_shape(), [1, 32, 32]);
}

#[test]
fn a_run_rescales_and_says_so_and_a_bad_file_is_named() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 3, 1);
    let json = data.join("train/resolution.json");
    std::fs::write(&json, r#"{"0000.tif": [1, 0.5, 0.5], "0001.tif": [1, 2, 2], "0002.tif": [1, 1.5, 1.5]}"#).unwrap();
    let config = dir.write("norm.yaml", &yaml_with_norm(&data));
    let out = run_job(&config, &dir.join("results"), "norm", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Resolution norm: matched "), "{}", out.stdout);
    assert!(out.stdout.contains("Test Foreground IoU (merge patches): "), "{}", out.stdout);

    std::fs::write(&json, r#"{"0000.tif": [1, 0.5, 0]}"#).unwrap();
    let out = run_job(&config, &dir.join("results"), "bad", &[]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!("`{}`", json.display())) && out.stderr.contains("the resolution of `0000.tif`"),
        "{}",
        out.stderr
    );
}
