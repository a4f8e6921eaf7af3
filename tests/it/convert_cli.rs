//! `segsweep import` / `segsweep export` and `MODEL.LOAD_CHECKPOINT` with a BiaPy `.pth`, on the
//! committed fixture `tests/fixtures/biapy/` (a tiny U-Net as segsweep wrote it, and the `.pth`
//! BiaPy's `torch.save` dict made from it by `make_pth.py`).

use std::path::{Path, PathBuf};

use safetensors::SafeTensors;

use crate::util::{TestDir, repo_root, segsweep};

fn fixture(name: &str) -> String {
    repo_root().join("tests/fixtures/biapy").join(name).display().to_string()
}

/// `(name, dtype, shape, bytes)` of every tensor in a safetensors file, sorted by name.
fn tensors(path: &Path) -> Vec<(String, String, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut all: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, format!("{:?}", view.dtype()), view.shape().to_vec(), view.data().to_vec()))
        .collect();
    all.sort();
    all
}

#[test]
fn import_of_a_pth_then_export_gives_back_the_same_tensors() {
    let dir = TestDir::new();
    let (bpk, back) = (dir.join("out/model.bpk"), dir.join("out/back.safetensors"));
    let config = fixture("tiny_unet.yaml");
    let out = segsweep(&["import", &config, &fixture("tiny_unet.pth"), bpk.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("model.bpk` (7581 parameters)"), "{}", out.stdout);
    let out = segsweep(&["export", &config, bpk.to_str().unwrap(), back.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let original = tensors(Path::new(&fixture("tiny_unet.safetensors")));
    assert_eq!(original.len(), 50);
    assert_eq!(tensors(&back), original, "names, types, shapes and values survive pth → bpk → safetensors");
    let names: Vec<String> =
        std::fs::read_dir(dir.join("out")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
}

#[test]
fn a_pth_named_without_extension_tests_like_its_safetensors() {
    let dir = TestDir::new();
    let data = crate::util::tiny_synthetic_set(&dir, 2, 1, 1);
    let predict = |checkpoint: &str, name: &str| -> PathBuf {
        let results = dir.join("r");
        let sets = [
            "TRAIN.ENABLE=False".to_string(),
            "TEST.ENABLE=True".to_string(),
            "MODEL.LOAD_CHECKPOINT=True".to_string(),
            format!("PATHS.CHECKPOINT_FILE={checkpoint}"),
            format!("DATA.TEST.PATH={}/test/x", data.display()),
            format!("DATA.TEST.GT_PATH={}/test/y", data.display()),
        ];
        let config = fixture("tiny_unet.yaml");
        let mut args = vec!["run", "--config", &config, "--result_dir", results.to_str().unwrap(), "--name", name];
        for set in &sets {
            args.extend(["--set", set]);
        }
        let out = segsweep(&args);
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        results.join(name).join(format!("results/{name}_1/per_image/0000.tif"))
    };
    // BiaPy's rule: `PATHS.CHECKPOINT_FILE` without extension is tried with `.pth` first.
    let from_pth = predict(fixture("tiny_unet").as_str(), "pth");
    let from_safetensors = predict(fixture("tiny_unet.safetensors").as_str(), "st");
    assert_eq!(std::fs::read(from_pth).unwrap(), std::fs::read(from_safetensors).unwrap());
}

#[test]
fn conversions_the_wrong_way_or_to_another_network_are_one_clear_error() {
    let dir = TestDir::new();
    let config = fixture("tiny_unet.yaml");
    let pth = fixture("tiny_unet.pth");
    let target = dir.join("x.safetensors").display().to_string();
    let (as_pth, as_onnx) = (dir.join("x.pth").display().to_string(), dir.join("x.onnx").display().to_string());
    let cases: [(&[&str], &str); 4] = [
        (&["export", &config, &pth, &target], "use `segsweep import` for .pth"),
        (&["import", &config, &pth, &as_pth], "import writes .bpk or .safetensors"),
        (&["import", &config, &pth, &as_onnx], "must end in .bpk, .safetensors, .pth or .pt"),
        (
            &["import", &config, &pth, &target, "--set", "MODEL.FEATURE_MAPS=[8, 16, 32]"],
            "tensor `down_path.0.block.0.block.0.weight` has shape [4, 1, 3, 3] in the file but the model needs [8, 1, 3, 3]",
        ),
    ];
    for (args, message) in cases {
        let out = segsweep(args);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    assert_eq!(std::fs::read_dir(dir.join("")).unwrap().count(), 0, "nothing written on errors");
}

#[test]
fn a_biapy_checkpoint_brings_its_architecture_and_normalization_unless_told_otherwise() {
    // BiaPy's default `MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT: [weights, norm, model_arch]`: the
    // checkpoint's saved `MODEL.*` (feature maps [4, 8, 16]) and `DATA.NORMALIZATION` win over
    // the config's.
    let dir = TestDir::new();
    let data = crate::util::tiny_synthetic_set(&dir, 2, 1, 1);
    let config = dir.write(
        "other.yaml",
        &format!(
            "PROBLEM: {{NDIM: 2D}}
DATA:
  PATCH_SIZE: '(32, 32, 1)'
  NORMALIZATION: {{TYPE: scale_range}}
  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True}}
MODEL: {{FEATURE_MAPS: [8, 16, 32], LOAD_CHECKPOINT: True}}
PATHS: {{CHECKPOINT_FILE: {}}}
TRAIN: {{ENABLE: False}}
TEST: {{ENABLE: True}}
",
            fixture("biapy_unet-checkpoint-best.pth"),
            d = data.display()
        ),
    );
    let results = dir.join("r");
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["run", "--config", config.to_str().unwrap(), "--result_dir", results.to_str().unwrap()];
        args.extend(["--name", name]);
        args.extend(extra);
        segsweep(&args)
    };
    let out = run("taken", &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for line in [
        "Checkpoint file loaded. Extracting the following items (if available): weights, norm, model_arch .",
        "Normalization instructions will be loaded from checkpoint.",
        "Model architecture will be loaded from checkpoint.",
    ] {
        assert!(out.stdout.contains(line), "missing `{line}`:\n{}", out.stdout);
    }
    let written = std::fs::read_to_string(results.join("taken/config_files/taken_1.yaml")).unwrap();
    assert!(written.contains("FEATURE_MAPS:\n  - 4\n  - 8\n  - 16"), "{written}");
    assert!(written.contains("TYPE: zero_mean_unit_variance"), "BiaPy's saved normalization: {written}");
    // Only the weights: the config's own architecture, which the checkpoint does not fit.
    let out = run("weights", &["--set", "MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT=[weights]"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.to_lowercase().contains("shape"), "{}", out.stderr);
    assert!(!out.stdout.contains("will be loaded from checkpoint"), "{}", out.stdout);
}
