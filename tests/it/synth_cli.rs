//! `segsweep synth`: BiaPy's layout, byte-identical output for a seed, and data that pass
//! `config check --data`.

use crate::util::{TestDir, segsweep};

fn synth(dir: &TestDir, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let out = dir.join(name);
    let out_text = out.to_string_lossy().into_owned();
    let mut args = vec!["synth", "--out", &out_text, "--n-train", "3", "--n-test", "2"];
    args.extend_from_slice(extra);
    let run = segsweep(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    out
}

fn files(root: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<_> = walkdir::WalkDir::new(root)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (e.path().strip_prefix(root).unwrap().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    found.sort();
    found
}

#[test]
fn same_seed_same_bytes_and_biapy_layout() {
    let dir = TestDir::new();
    let a = synth(&dir, "a", &["--size", "64", "64", "--seed", "3"]);
    let b = synth(&dir, "b", &["--size", "64", "64", "--seed", "3"]);
    let c = synth(&dir, "c", &["--size", "64", "64", "--seed", "4"]);
    let names: Vec<String> = files(&a).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "synth.json",
            "test/x/0000.tif",
            "test/x/0001.tif",
            "test/y/0000.tif",
            "test/y/0001.tif",
            "train/x/0000.tif",
            "train/x/0001.tif",
            "train/x/0002.tif",
            "train/y/0000.tif",
            "train/y/0001.tif",
            "train/y/0002.tif"
        ]
    );
    assert_eq!(files(&a), files(&b));
    assert_ne!(files(&a), files(&c));
}

#[test]
fn refuses_a_non_empty_output_folder() {
    let dir = TestDir::new();
    dir.write("taken/keep.txt", "mine");
    let out = segsweep(&["synth", "--out", &dir.join("taken").to_string_lossy()]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("already exists and is not empty"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(dir.join("taken/keep.txt")).unwrap(), "mine");
}

#[test]
fn synthetic_sets_pass_the_data_check() {
    let dir = TestDir::new();
    for (ndim, size, patch, classes) in
        [("2", vec!["64", "64"], "(64, 64, 1)", "3"), ("3", vec!["16", "32", "32"], "(16, 32, 32, 1)", "2")]
    {
        let mut extra = vec!["--ndim", ndim, "--classes", classes, "--size"];
        extra.extend(size.iter().copied());
        let data = synth(&dir, &format!("d{ndim}"), &extra);
        let config = dir.write(
            &format!("c{ndim}.yaml"),
            &format!(
                "PROBLEM: {{NDIM: {ndim}D}}\nDATA:\n  N_CLASSES: {classes}\n  PATCH_SIZE: '{patch}'\n  TRAIN: {{PATH: {d}/train/x, GT_PATH: {d}/train/y}}\n  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True}}\nMODEL: {{Z_DOWN: [1, 1, 1, 1]}}\nTRAIN: {{ENABLE: True}}\nTEST: {{ENABLE: True}}\n",
                d = data.display()
            ),
        );
        let out = segsweep(&["config", "check", "--data", &config.to_string_lossy()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stderr.contains("DATA.TRAIN.PATH: 3 images, 3 masks"), "{}", out.stderr);
        let wrong = segsweep(&["config", "check", "--data", &config.to_string_lossy(), "--set", "DATA.N_CLASSES=2"]);
        if classes == "3" {
            assert_eq!(wrong.code, 2);
            assert!(wrong.stderr.contains("holds the value 2, but `DATA.N_CLASSES` is 2"), "{}", wrong.stderr);
        }
    }
}
