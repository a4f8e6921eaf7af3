//! `DATA.PREPROCESS` through `segsweep run` on tiny synthetic data (cubic resize, blurs and histogram
//! matching on, test predictions restored to the images' own shape), its refusals by key, and
//! segsweep's pre-processing of real TIFF files against BiaPy 3.7.1's own `preprocess_data`
//! (`tests/python/biapy_preprocess.py`, in the Python of `SEGSWEEP_PYTHON`).

use std::path::Path;
use std::process::{Command, Stdio};

use segsweep::config::load_str;
use segsweep::data::dataset::{SplitRole, config_splits, load_pair};
use segsweep::data::{AnyVolume, Volume, read_tiff, write_tiff};

use crate::util::{TestDir, available_or_skip, repo_root, run_job, tiny_run_yaml, tiny_synthetic_set};

const ALL_STEPS: &str = "  PREPROCESS:
    TRAIN: True
    VAL: True
    TEST: True
    RESIZE: {ENABLE: True, OUTPUT_SHAPE: [48, 80], ORDER: 3}
    GAUSSIAN_BLUR: {ENABLE: True, SIGMA: 0.7}
    MEDIAN_BLUR: {ENABLE: True, KERNEL_SIZE: [3, 3, 1]}
    MATCH_HISTOGRAM: {ENABLE: True, REFERENCE_PATH: '@REF@'}
";

#[test]
fn every_step_trains_and_tests_and_outputs_keep_the_images_shape() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 3, 2);
    let steps = ALL_STEPS.replace("@REF@", &data.join("test/x").display().to_string());
    let yaml =
        tiny_run_yaml(&data, 2, 2, "ENABLE: True").replace("  TRAIN: {PATH:", &format!("{steps}  TRAIN: {{PATH:"));
    let results = dir.join("results");
    let out = run_job(&dir.write("pre.yaml", &yaml), &results, "pre", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Test Foreground IoU (merge patches): "), "{}", out.stdout);
    let binarized = results.join("pre/results/pre_1/per_image_binarized");
    let mut n = 0;
    for entry in std::fs::read_dir(&binarized).unwrap() {
        let shape = match read_tiff(&entry.unwrap().path()).unwrap().volume {
            AnyVolume::U8(v) => v.shape(),
            other => panic!("{other:?}"),
        };
        assert_eq!(&shape[1..3], &[64, 64], "restored to the test image's own 64×64, not 48×80");
        n += 1;
    }
    assert_eq!(n, 2);
}

#[test]
fn steps_segsweep_does_not_run_are_refused_by_key() {
    let dir = TestDir::new();
    let data = tiny_synthetic_set(&dir, 2, 1, 1);
    for (setting, key, says) in [
        (
            "CANNY: {ENABLE: True, LOW_THRESHOLD: 50, HIGH_THRESHOLD: 20}",
            "DATA.PREPROCESS.CANNY.HIGH_THRESHOLD",
            "below",
        ),
        ("CLAHE: {ENABLE: True, KERNEL_SIZE: [8, 8]}", "DATA.PREPROCESS.CLAHE.KERNEL_SIZE", "y, x, c"),
        (
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [64, 64], ORDER: 6}",
            "DATA.PREPROCESS.RESIZE.ORDER",
            "spline order 0–5",
        ),
        ("RESIZE: {ENABLE: True, OUTPUT_SHAPE: [16, 64]}", "DATA.PREPROCESS.RESIZE.OUTPUT_SHAPE", "smaller than"),
        ("ZOOM: {ENABLE: True}", "DATA.PREPROCESS.ZOOM.ENABLE", "detection workflow"),
        ("MEDIAN_BLUR: {ENABLE: True, KERNEL_SIZE: [3, 3]}", "DATA.PREPROCESS.MEDIAN_BLUR.KERNEL_SIZE", "y, x, c"),
        ("GAUSSIAN_BLUR: {ENABLE: True, MODE: edge}", "DATA.PREPROCESS.GAUSSIAN_BLUR.MODE", "`edge`"),
    ] {
        let yaml = tiny_run_yaml(&data, 2, 2, "ENABLE: True")
            .replace("  TRAIN: {PATH:", &format!("  PREPROCESS: {{TRAIN: True, {setting}}}\n  TRAIN: {{PATH:"));
        let out = run_job(&dir.write("bad.yaml", &yaml), &dir.join("results"), "bad", &[]);
        assert_ne!(out.code, 0, "{setting}");
        assert!(out.stderr.contains(key) && out.stderr.contains(says), "{setting}: {}", out.stderr);
    }
}

fn python_with_biapy(test: &str) -> Option<String> {
    let python = std::env::var("SEGSWEEP_PYTHON").unwrap_or_else(|_| "python3".into());
    let works = Command::new(&python).args(["-c", "import biapy"]).output().is_ok_and(|o| o.status.success());
    let missing = format!("`{python}` lacks biapy (tests/python/requirements.txt)");
    available_or_skip(test, works, "SEGSWEEP_REQUIRE_PYTHON", &missing).then_some(python)
}

/// One `preprocess_data` job for BiaPy: an image or mask, the `DATA.PREPROCESS` sub-sections as
/// JSON, `2d`/`3d`, `image`/`mask`.
struct Job<'a> {
    image: &'a Path,
    settings: &'a str,
    ndim: &'a str,
    kind: &'a str,
}

/// BiaPy's outputs (shape, values) for `jobs`, computed in one Python process.
fn biapy(python: &str, jobs: &[Job]) -> Vec<(Vec<usize>, Vec<f64>)> {
    let input: Vec<serde_json::Value> = jobs
        .iter()
        .map(|j| {
            let settings: serde_json::Value = serde_json::from_str(j.settings).unwrap();
            serde_json::json!({"image": j.image, "settings": settings, "ndim": j.ndim, "kind": j.kind})
        })
        .collect();
    let mut child = Command::new(python)
        .arg(repo_root().join("tests/python/biapy_preprocess.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    serde_json::to_writer(child.stdin.take().unwrap(), &input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results: Vec<&str> = stdout.lines().skip_while(|l| *l != "RESULTS").skip(1).collect();
    assert_eq!(results.len(), jobs.len(), "{stdout}");
    results
        .iter()
        .map(|line| {
            let json: serde_json::Value = serde_json::from_str(line).unwrap();
            let shape = json["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            (shape, json["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect())
        })
        .collect()
}

/// A deterministic, textured `u8` or `u16` image.
fn textured(shape: [usize; 4], max: u32) -> Vec<u32> {
    (0..shape.iter().product::<usize>())
        .map(|i| ((i * 7919 + (i / 13) * 104_729) % (max as usize + 1)) as u32)
        .collect()
}

#[test]
fn images_and_masks_match_biapys_preprocess_data() {
    let Some(python) = python_with_biapy("images_and_masks_match_biapys_preprocess_data") else { return };
    let dir = TestDir::new();
    // 2D uint8 (y, x, 1) and 3D uint16 (z, y, x, 1) images, a 2D 0/1 mask, and a reference.
    let image_2d = dir.join("x2/a.tif");
    let image_rgb = dir.join("x2c/a.tif");
    let image_float = dir.join("x2f/a.tif");
    let image_3d = dir.join("x3/a.tif");
    let mask_2d = dir.join("y2/a.tif");
    let reference = dir.join("ref/r.tif");
    for p in [&image_2d, &image_rgb, &image_float, &image_3d, &mask_2d, &reference] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    }
    let u8s = |shape: [usize; 4], max: u32| {
        AnyVolume::U8(Volume::from_vec(shape, textured(shape, max).into_iter().map(|v| v as u8).collect()).unwrap())
    };
    write_tiff(&image_2d, &u8s([1, 20, 28, 1], 255), &Default::default()).unwrap();
    write_tiff(&mask_2d, &u8s([1, 20, 28, 1], 1), &Default::default()).unwrap();
    write_tiff(&image_rgb, &u8s([1, 20, 28, 3], 255), &Default::default()).unwrap();
    let unit: Vec<f32> = textured([1, 20, 28, 1], 1000).into_iter().map(|v| v as f32 / 1000.0).collect();
    let float = AnyVolume::F32(Volume::from_vec([1, 20, 28, 1], unit).unwrap());
    write_tiff(&image_float, &float, &Default::default()).unwrap();
    write_tiff(&reference, &u8s([1, 16, 16, 1], 120), &Default::default()).unwrap();
    let shape_3d = [6, 10, 12, 1];
    let stack = Volume::from_vec(shape_3d, textured(shape_3d, 4000).into_iter().map(|v| v as u16).collect()).unwrap();
    write_tiff(&image_3d, &AnyVolume::U16(stack), &Default::default()).unwrap();

    let reference = reference.parent().unwrap().display().to_string();
    let cases: Vec<(&str, String, String)> = vec![
        ("2d", "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [33, 17]}".into(), r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [33, 17]}}"#.into()),
        (
            "2d",
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [9, 40], ORDER: 0, MODE: constant, CVAL: 7}".into(),
            r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [9, 40], "ORDER": 0, "MODE": "constant", "CVAL": 7.0}}"#.into(),
        ),
        (
            "2d",
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [10, 14], ANTI_ALIASING: True, MODE: symmetric}".into(),
            r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [10, 14], "ANTI_ALIASING": true, "MODE": "symmetric"}}"#.into(),
        ),
        (
            "2d",
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [29, 41], ORDER: 3}".into(),
            r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [29, 41], "ORDER": 3}}"#.into(),
        ),
        (
            "2d",
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [13, 37], ORDER: 2, MODE: symmetric}".into(),
            r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [13, 37], "ORDER": 2, "MODE": "symmetric"}}"#.into(),
        ),
        (
            "2d",
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [31, 19], ORDER: 5, MODE: constant, CVAL: 40, ANTI_ALIASING: True}".into(),
            r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [31, 19], "ORDER": 5, "MODE": "constant", "CVAL": 40.0, "ANTI_ALIASING": true}}"#.into(),
        ),
        (
            "2d",
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [27, 23], ORDER: 4, MODE: wrap}".into(),
            r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [27, 23], "ORDER": 4, "MODE": "wrap"}}"#.into(),
        ),
        (
            "3d",
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [9, 13, 7], ORDER: 3, MODE: edge}".into(),
            r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [9, 13, 7], "ORDER": 3, "MODE": "edge"}}"#.into(),
        ),
        ("2d", "GAUSSIAN_BLUR: {ENABLE: True, SIGMA: 1.5, MODE: reflect}".into(), r#"{"GAUSSIAN_BLUR": {"ENABLE": true, "SIGMA": 1.5, "MODE": "reflect"}}"#.into()),
        ("2d", "MEDIAN_BLUR: {ENABLE: True, KERNEL_SIZE: [5, 3, 1]}".into(), r#"{"MEDIAN_BLUR": {"ENABLE": true, "KERNEL_SIZE": [5, 3, 1]}}"#.into()),
        ("2d-rgb", "MEDIAN_BLUR: {ENABLE: True, KERNEL_SIZE: [3, 3, 2]}".into(), r#"{"MEDIAN_BLUR": {"ENABLE": true, "KERNEL_SIZE": [3, 3, 2]}}"#.into()),
        ("2d-rgb", "MEDIAN_BLUR: {ENABLE: True, KERNEL_SIZE: [1, 3, 3]}".into(), r#"{"MEDIAN_BLUR": {"ENABLE": true, "KERNEL_SIZE": [1, 3, 3]}}"#.into()),
        (
            "2d",
            format!("MATCH_HISTOGRAM: {{ENABLE: True, REFERENCE_PATH: '{reference}'}}"),
            format!(r#"{{"MATCH_HISTOGRAM": {{"ENABLE": true, "REFERENCE_PATH": "{reference}"}}}}"#),
        ),
        ("2d", "CLAHE: {ENABLE: True}".into(), r#"{"CLAHE": {"ENABLE": true}}"#.into()),
        ("2d-rgb", "CLAHE: {ENABLE: True}".into(), r#"{"CLAHE": {"ENABLE": true}}"#.into()),
        (
            "2d-rgb",
            "CLAHE: {ENABLE: True, KERNEL_SIZE: 5, CLIP_LIMIT: 0.03}".into(),
            r#"{"CLAHE": {"ENABLE": true, "KERNEL_SIZE": 5, "CLIP_LIMIT": 0.03}}"#.into(),
        ),
        ("2d-float", "CLAHE: {ENABLE: True}".into(), r#"{"CLAHE": {"ENABLE": true}}"#.into()),
        ("2d", "CANNY: {ENABLE: True}".into(), r#"{"CANNY": {"ENABLE": true}}"#.into()),
        (
            "2d",
            "CANNY: {ENABLE: True, LOW_THRESHOLD: 10, HIGH_THRESHOLD: 30}".into(),
            r#"{"CANNY": {"ENABLE": true, "LOW_THRESHOLD": 10, "HIGH_THRESHOLD": 30}}"#.into(),
        ),
        (
            "2d",
            "CLAHE: {ENABLE: True, KERNEL_SIZE: 6, CLIP_LIMIT: 0.05}".into(),
            r#"{"CLAHE": {"ENABLE": true, "KERNEL_SIZE": 6, "CLIP_LIMIT": 0.05}}"#.into(),
        ),
        (
            "3d",
            "CLAHE: {ENABLE: True, KERNEL_SIZE: [2, 4, 5, 1], CLIP_LIMIT: 0.0}".into(),
            r#"{"CLAHE": {"ENABLE": true, "KERNEL_SIZE": [2, 4, 5, 1], "CLIP_LIMIT": 0.0}}"#.into(),
        ),
        (
            "3d",
            "RESIZE: {ENABLE: True, OUTPUT_SHAPE: [9, 7, 20]}\n    GAUSSIAN_BLUR: {ENABLE: True, SIGMA: 0.8, MODE: mirror}\n    MEDIAN_BLUR: {ENABLE: True, KERNEL_SIZE: [3, 3, 3, 1]}".into(),
            r#"{"RESIZE": {"ENABLE": true, "OUTPUT_SHAPE": [9, 7, 20]}, "GAUSSIAN_BLUR": {"ENABLE": true, "SIGMA": 0.8, "MODE": "mirror"}, "MEDIAN_BLUR": {"ENABLE": true, "KERNEL_SIZE": [3, 3, 3, 1]}}"#.into(),
        ),
    ];
    // Per case kind: the image, its folder, the patch, and BiaPy's dimensionality.
    let kind = |kind: &str| match kind {
        "2d" => (&image_2d, "x2", "[4, 4, 1]", "2d"),
        "2d-rgb" => (&image_rgb, "x2c", "[4, 4, 3]", "2d"),
        "2d-float" => (&image_float, "x2f", "[4, 4, 1]", "2d"),
        _ => (&image_3d, "x3", "[4, 4, 4, 1]", "3d"),
    };
    let mut jobs: Vec<Job> = cases
        .iter()
        .map(|(k, _, json)| Job { image: kind(k).0, settings: json, ndim: kind(k).3, kind: "image" })
        .collect();
    // Masks are resized nearest: checked for the 2D resize cases.
    let mask_cases: Vec<usize> =
        (0..cases.len()).filter(|&i| cases[i].0 == "2d" && cases[i].1.starts_with("RESIZE")).collect();
    jobs.extend(mask_cases.iter().map(|&i| Job { image: &mask_2d, settings: &cases[i].2, ndim: "2d", kind: "mask" }));
    let outputs = biapy(&python, &jobs);
    let (image_outputs, mask_outputs) = outputs.split_at(cases.len());
    let mask_outputs: std::collections::HashMap<usize, &(Vec<usize>, Vec<f64>)> =
        mask_cases.iter().copied().zip(mask_outputs).collect();
    for (i, ((case_kind, yaml_steps, _), (shape, values))) in cases.iter().zip(image_outputs).enumerate() {
        let (image, folder, patch, ndim) = kind(case_kind);
        let yaml = format!(
            "PROBLEM: {{NDIM: {}}}\nTRAIN: {{ENABLE: True}}\nMODEL: {{FEATURE_MAPS: [4, 8, 16], YX_DOWN: [1, 1], Z_DOWN: [1, 1]}}\nDATA:\n  PATCH_SIZE: {patch}\n  TRAIN: {{PATH: '{}', GT_PATH: '{}'}}\n  PREPROCESS:\n    TRAIN: True\n    {yaml_steps}\n",
            ndim.to_uppercase(),
            dir.join(folder).display(),
            dir.join("y2").display(),
        );
        let config = load_str(&yaml, &[]).unwrap_or_else(|e| panic!("{yaml}: {e}")).config;
        let spec = config_splits(&config).into_iter().find(|s| s.role == SplitRole::Train).unwrap();
        let mask = (ndim == "2d").then(|| mask_2d.clone());
        let sample = load_pair(&spec, image.clone(), mask).unwrap();
        let ours = sample.image;
        let our_shape: Vec<usize> = if ndim == "2d" { ours.shape()[1..].to_vec() } else { ours.shape().to_vec() };
        assert_eq!(&our_shape, shape, "{yaml_steps}");
        let differ: Vec<(usize, f32, f64)> = ours
            .as_slice()
            .iter()
            .zip(values)
            .enumerate()
            .filter(|(_, (a, b))| (f64::from(**a) - **b).abs() > 0.0)
            .map(|(i, (a, b))| (i, *a, *b))
            .collect();
        // Equal to the grey level, BiaPy's truncations to the integer type included.
        assert!(
            differ.is_empty(),
            "{yaml_steps}: {} of {} values differ: {:?}",
            differ.len(),
            values.len(),
            &differ[..differ.len().min(8)]
        );
        if let Some((mask_shape, mask_values)) = mask_outputs.get(&i) {
            let ours = sample.mask.unwrap();
            assert_eq!(&ours.shape()[1..].to_vec(), mask_shape);
            let ours: Vec<f64> = ours.as_slice().iter().map(|&v| f64::from(v)).collect();
            assert_eq!(&ours, mask_values, "{yaml_steps}: masks are resized nearest, exactly as BiaPy");
        }
    }
}
