//! `segsweep export … --bmz`, `.pth` and `.onnx`, `MODEL.BMZ.EXPORT.ENABLE` in a run and
//! `MODEL.SOURCE: bmz`, checked by the tools that consume them: bioimageio.core's `test_model`,
//! onnxruntime, `torch.load` and BiaPy 3.7.1 itself (`tests/python/check_bmz.py`, and BiaPy's
//! own test phase), in the Python of `SEGSWEEP_PYTHON` (the venv `.ci/run` makes from the
//! registry). Without those packages the tests that need them say they are skipped; with
//! `SEGSWEEP_REQUIRE_PYTHON=1` a missing one fails them instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{TestDir, available_or_skip, repo_root, run_job, segsweep, tiny_synthetic_set_of};

const METADATA: &str = "  BMZ:
    EXPORT:
      MODEL_NAME: tiny mito
      DESCRIPTION: Mitochondria in synthetic electron microscopy
      AUTHORS: [{name: Ada Lovelace, github_user: ada}]
      TAGS: [electron-microscopy, mitochondria]
      CITE: [{text: segsweep test, url: 'https://example.org/segsweep'}]";

/// The Python with BiaPy, bioimageio.core, onnxruntime and torch (else the test is skipped, or
/// fails in CI).
fn python_with_biapy(test: &str) -> Option<String> {
    let python = std::env::var("SEGSWEEP_PYTHON").unwrap_or_else(|_| "python3".into());
    let import = "import biapy, bioimageio.core, onnxruntime, torch, yaml";
    let works = Command::new(&python).args(["-c", import]).output().is_ok_and(|o| o.status.success());
    let missing = format!("`{python}` lacks biapy/bioimageio.core/onnxruntime/torch (tests/python/requirements.txt)");
    available_or_skip(test, works, "SEGSWEEP_REQUIRE_PYTHON", &missing).then_some(python)
}

/// A tiny job config on a synthetic set with `model` under `MODEL:` and the BMZ metadata (with
/// `MODEL.BMZ.EXPORT.ENABLE` when `export`).
fn job(dir: &TestDir, ndim: u8, classes: u8, model: &str, export: bool) -> PathBuf {
    let data = tiny_synthetic_set_of(dir, ndim, classes, 2, 1);
    let patch = if ndim == 2 { "(32, 32, 1)" } else { "(16, 32, 32, 1)" };
    let loss = if classes > 2 { "LOSS: {TYPE: CE}\n" } else { "" };
    dir.write(
        "job.yaml",
        &format!(
            "PROBLEM: {{NDIM: {ndim}D}}
DATA:
  N_CLASSES: {classes}
  PATCH_SIZE: '{patch}'
  TRAIN: {{PATH: {d}/train/x, GT_PATH: {d}/train/y}}
  VAL: {{SPLIT_TRAIN: 0.5}}
  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True}}
MODEL:
  FEATURE_MAPS: [4, 8, 16]
{model}
{metadata}
{loss}TRAIN: {{ENABLE: True, OPTIMIZER: ADAMW, LR: 1.E-2, BATCH_SIZE: 2, EPOCHS: 1}}
TEST: {{ENABLE: True}}
",
            d = data.display(),
            metadata =
                if export { METADATA.replace("EXPORT:\n", "EXPORT:\n      ENABLE: True\n") } else { METADATA.into() }
        ),
    )
}

fn check(python: &str, args: &[&Path]) -> serde_json::Value {
    let out = Command::new(python)
        .arg(repo_root().join("tests/python/check_bmz.py"))
        .args(args)
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn best(results: &Path) -> String {
    results.join("tiny/checkpoints/tiny_1-checkpoint-best.safetensors").display().to_string()
}

/// The `Test Foreground IoU (merge patches)` line's value in a run's output.
fn merge_patches_iou(stdout: &str) -> f64 {
    let line = stdout.lines().find(|l| l.contains("Test Foreground IoU (merge patches): ")).expect("the IoU line");
    line.rsplit(": ").next().unwrap().trim().parse().unwrap()
}

#[test]
fn a_run_exports_a_package_that_bioimageio_onnxruntime_torch_and_biapy_run() {
    let Some(python) = python_with_biapy("bmz_export") else { return };
    let dir = TestDir::new();
    let config = job(&dir, 2, 2, "", true);
    let results = dir.join("results");
    let run = run_job(&config, &results, "tiny", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let package = results.join("tiny/results/tiny_1/BMZ_files/tiny_mito.zip");
    assert!(run.stdout.contains(&format!("BioImage Model Zoo package: {}", package.display())), "{}", run.stdout);
    let pth = dir.join("out/tiny.pth");
    let export = segsweep(&["export", config.to_str().unwrap(), &best(&results), pth.to_str().unwrap()]);
    assert_eq!(export.code, 0, "{}", export.stderr);

    let seen = check(&python, &[&package, &pth]);
    assert_eq!(seen["bioimageio_status"], "passed", "{seen}");
    assert_eq!(seen["bioimageio_failed"], serde_json::json!([]));
    assert!(seen["bioimageio_checks"].as_u64().unwrap() >= 10, "{seen}");
    assert_eq!(seen["weights"], serde_json::json!(["onnx", "pytorch_state_dict"]));
    assert_eq!(seen["sha256_ok"], true);
    assert_eq!(seen["onnx_shape"], serde_json::json!([1, 1, 32, 32]));
    assert!(seen["onnx_max_abs"].as_f64().unwrap() <= 1e-4, "{seen}");
    assert!(seen["pth_max_abs"].as_f64().unwrap() <= 1e-4, "{seen}");
    assert_eq!(
        seen["pth_keys"],
        serde_json::json!(["biapy_version", "cfg", "epoch", "model", "model_build_kwargs", "optimizer"])
    );
    assert_eq!(seen["pth_tensors"], 50);
    assert_eq!(seen["pth_cfg_architecture"], "unet");

    // BiaPy's own test phase on the .pth segsweep wrote gives segsweep's IoU.
    let biapy = Path::new(&python).with_file_name("biapy");
    let d = dir.join("data");
    let biapy_yaml = dir.write(
        "biapy.yaml",
        &format!(
            "SYSTEM: {{NUM_CPUS: 1, NUM_WORKERS: 0}}
PROBLEM: {{TYPE: SEMANTIC_SEG, NDIM: 2D}}
DATA:
  PATCH_SIZE: (32, 32, 1)
  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True, IN_MEMORY: True}}
MODEL: {{ARCHITECTURE: unet, FEATURE_MAPS: [4, 8, 16], LOAD_CHECKPOINT: True}}
PATHS: {{CHECKPOINT_FILE: {pth}}}
TRAIN: {{ENABLE: False}}
TEST: {{ENABLE: True}}
",
            d = d.display(),
            pth = pth.display()
        ),
    );
    let out = Command::new(&biapy)
        .args(["--config", biapy_yaml.to_str().unwrap(), "--result_dir", dir.join("biapy").to_str().unwrap()])
        .args(["--name", "tiny", "--run_id", "1"])
        .output()
        .expect("run biapy");
    let biapy_stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{biapy_stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let ours = merge_patches_iou(&run.stdout);
    let theirs = merge_patches_iou(&biapy_stdout);
    assert!((ours - theirs).abs() < 1e-6, "segsweep {ours} vs BiaPy {theirs}");

    // And the package runs in segsweep as `MODEL.SOURCE: bmz`, with the same IoU.
    let imported = dir.write(
        "imported.yaml",
        &format!(
            "PROBLEM: {{NDIM: 2D}}
DATA:
  PATCH_SIZE: '(32, 32, 1)'
  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True}}
MODEL: {{SOURCE: bmz, BMZ: {{SOURCE_MODEL_ID: {p}, EXPORT: {{ENABLE: True, REUSE_BMZ_CONFIG: True}}}}}}
TRAIN: {{ENABLE: False}}
TEST: {{ENABLE: True}}
",
            d = d.display(),
            p = package.display()
        ),
    );
    let again = run_job(&imported, &dir.join("imported"), "tiny", &[]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("[BMZ] `tiny mito`"), "{}", again.stdout);
    assert_eq!(merge_patches_iou(&again.stdout), ours);
    // Re-exported with the source package's own metadata (`REUSE_BMZ_CONFIG`).
    let reexported = dir.join("imported/tiny/results/tiny_1/BMZ_files/tiny_mito.zip");
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&reexported).unwrap()).unwrap();
    let rdf: serde_json::Value = serde_yaml::from_reader(zip.by_name("rdf.yaml").unwrap()).unwrap();
    assert_eq!(rdf["name"], "tiny mito");
    assert_eq!(rdf["authors"], serde_json::json!([{"name": "Ada Lovelace", "github_user": "ada"}]));
    assert_eq!(rdf["weights"]["pytorch_state_dict"]["architecture"]["callable"], "U_Net");
}

#[test]
fn a_3d_multiclass_attention_unet_package_runs_in_biapys_class_and_onnxruntime() {
    let Some(python) = python_with_biapy("bmz_export_3d") else { return };
    let dir = TestDir::new();
    let config = job(&dir, 3, 3, "  ARCHITECTURE: attention_unet\n  NORMALIZATION: bn\n  Z_DOWN: [1, 1]", false);
    let results = dir.join("results");
    let run = run_job(&config, &results, "tiny", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let package = dir.join("out/attention.zip");
    let export = segsweep(&["export", config.to_str().unwrap(), &best(&results), "--bmz", package.to_str().unwrap()]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let pth = dir.join("out/attention.pth");
    let export = segsweep(&["export", config.to_str().unwrap(), &best(&results), pth.to_str().unwrap()]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let seen = check(&python, &[&package, &pth]);
    assert_eq!(seen["bioimageio_status"], "passed", "{seen}");
    assert_eq!(seen["weights"], serde_json::json!(["onnx", "pytorch_state_dict"]));
    assert_eq!(seen["onnx_shape"], serde_json::json!([1, 3, 16, 32, 32]));
    assert!(seen["onnx_max_abs"].as_f64().unwrap() <= 1e-4, "{seen}");
    assert!(seen["pth_max_abs"].as_f64().unwrap() <= 1e-4, "{seen}");
    assert_eq!(seen["pth_cfg_architecture"], "attention_unet");
}

#[test]
fn missing_metadata_is_one_error_listing_every_field_before_training() {
    let dir = TestDir::new();
    let config = job(&dir, 2, 2, "", false);
    let text = std::fs::read_to_string(&config).unwrap();
    let bare = dir.write("bare.yaml", &text.replace(METADATA, "  BMZ: {EXPORT: {ENABLE: True, LICENSE: ''}}"));
    let run = run_job(&bare, &dir.join("r"), "tiny", &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    for key in ["MODEL_NAME", "DESCRIPTION", "AUTHORS", "LICENSE"] {
        assert!(run.stderr.contains(&format!("`MODEL.BMZ.EXPORT.{key}`")), "{key}: {}", run.stderr);
    }
    assert!(!dir.join("r/tiny/checkpoints").exists(), "nothing was trained");
    // The same from `export --bmz`, and a package of the wrong kind is named for what it is.
    let untrained = dir.join("none.safetensors");
    let export = segsweep(&["export", bare.to_str().unwrap(), untrained.to_str().unwrap(), "--bmz", "x.zip"]);
    assert_eq!(export.code, 2);
    assert!(export.stderr.contains("`MODEL.BMZ.EXPORT.AUTHORS`"), "{}", export.stderr);
    let not_a_model = dir.join("dataset.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&not_a_model).unwrap());
        zip.start_file("rdf.yaml", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, b"type: dataset\nname: cells\n").unwrap();
        zip.finish().unwrap();
    }
    let import = dir.write(
        "import.yaml",
        &text
            .replace(
                "MODEL:\n",
                &format!("MODEL:\n  SOURCE: bmz\n  BMZ: {{SOURCE_MODEL_ID: {}}}\n", not_a_model.display()),
            )
            .replace("TRAIN: {ENABLE: True", "TRAIN: {ENABLE: False")
            .replace(METADATA, ""),
    );
    let run = run_job(&import, &dir.join("r2"), "tiny", &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("the package is a `dataset`, not a `model`"), "{}", run.stderr);
    for (rdf, expected) in [
        ("type: model\ntags: [2d, instance-segmentation]\nweights: {}\n", "tagged `instance-segmentation`"),
        ("type: model\nweights: {onnx: {source: m.onnx}}\n", "it has onnx weights; segsweep runs"),
        (
            "type: model\nweights: {pytorch_state_dict: {source: w.pt, architecture: {callable: UNETR}}}\n",
            "its network is `UNETR`",
        ),
    ] {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&not_a_model).unwrap());
        zip.start_file("rdf.yaml", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, rdf.as_bytes()).unwrap();
        zip.finish().unwrap();
        let run = run_job(&import, &dir.join("r3"), "tiny", &[]);
        assert_eq!(run.code, 2, "{}", run.stdout);
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
}

/// BiaPy's test IoU with its own fixture model (`tests/fixtures/biapy/make_biapy_fixtures.py`).
fn biapy_fixture_iou() -> f64 {
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/biapy/biapy_unet_test_results_metrics.csv")).unwrap();
    text.lines().nth(1).and_then(|l| l.split(',').nth(1)).unwrap().parse().unwrap()
}

#[test]
fn biapys_own_checkpoint_and_package_run_here_with_biapys_iou() {
    let dir = TestDir::new();
    // The data the fixtures were made on (`segsweep synth` is deterministic).
    let d = tiny_synthetic_set_of(&dir, 2, 2, 2, 1);
    let fixture = |name: &str| repo_root().join("tests/fixtures/biapy").join(name).display().to_string();
    let base = format!(
        "PROBLEM: {{NDIM: 2D}}
DATA:
  PATCH_SIZE: '(32, 32, 1)'
  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True}}
TRAIN: {{ENABLE: False}}
TEST: {{ENABLE: True}}
",
        d = d.display()
    );
    // A checkpoint as BiaPy's training saved it (206 zip entries, a zip64 end record).
    let checkpoint = dir.write(
        "checkpoint.yaml",
        &format!(
            "{base}MODEL: {{FEATURE_MAPS: [4, 8, 16], LOAD_CHECKPOINT: True}}\nPATHS: {{CHECKPOINT_FILE: {}}}\n",
            fixture("biapy_unet-checkpoint-best.pth")
        ),
    );
    let run = run_job(&checkpoint, &dir.join("a"), "tiny", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let expected = biapy_fixture_iou();
    assert!((merge_patches_iou(&run.stdout) - expected).abs() < 1e-6, "{} vs BiaPy {expected}", run.stdout);
    // The package BiaPy's BMZ export wrote (its own model.py, `explicit_activations`, ensure_dtype).
    let package = dir.write(
        "package.yaml",
        &format!("{base}MODEL: {{SOURCE: bmz, BMZ: {{SOURCE_MODEL_ID: {}}}}}\n", fixture("biapy_unet_bmz.zip")),
    );
    let run = run_job(&package, &dir.join("b"), "tiny", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("[BMZ] `biapy tiny unet`"), "{}", run.stdout);
    assert!((merge_patches_iou(&run.stdout) - expected).abs() < 1e-6, "{} vs BiaPy {expected}", run.stdout);
}

#[test]
fn every_layer_kind_runs_in_onnxruntime_and_biapys_class_as_segsweep_computes_it() {
    let Some(python) = python_with_biapy("onnx_variants") else { return };
    // Each variant trained one epoch (batch norm's running statistics move), packaged and written
    // as a `.pth`; the package's ONNX graph run by onnxruntime, and the `.pth` loaded strictly
    // into BiaPy's own class and run by PyTorch, each on the test input against segsweep's
    // prediction.
    let variants = [
        (
            "seunet-gn-gelu-resize",
            2,
            2,
            "  ARCHITECTURE: seunet\n  FEATURE_MAPS: [16, 16, 32]\n  NORMALIZATION: gn\n  ACTIVATION: gelu\n  UPSAMPLE_LAYER: upsampling",
        ),
        (
            "seunet-bn-dropout",
            2,
            2,
            "  ARCHITECTURE: seunet\n  FEATURE_MAPS: [16, 16, 32]\n  NORMALIZATION: bn\n  DROPOUT_VALUES: [0.1, 0.1, 0.1]",
        ),
        (
            "resunet-bn-silu-resize",
            2,
            2,
            "  ARCHITECTURE: resunet\n  NORMALIZATION: bn\n  ACTIVATION: silu\n  UPSAMPLE_LAYER: upsampling",
        ),
        (
            "unet-norm-act-conv-3-classes-larger-io",
            2,
            3,
            "  CONV_BLOCK_ORDER: norm_act_conv\n  ACTIVATION: leaky_relu\n  KERNEL_SIZE: 5\n  LARGER_IO: True",
        ),
        (
            "resunet-se-bn-dropout",
            2,
            2,
            "  ARCHITECTURE: resunet_se\n  FEATURE_MAPS: [16, 32, 64]\n  NORMALIZATION: bn\n  DROPOUT_VALUES: [0.1, 0.1, 0.1]",
        ),
        (
            "resunet-se-3d-larger-io",
            3,
            2,
            "  ARCHITECTURE: resunet_se\n  FEATURE_MAPS: [16, 16, 32]\n  Z_DOWN: [2, 1]\n  LARGER_IO: True",
        ),
        (
            "resunet-pp-bn-dropout",
            2,
            3,
            "  ARCHITECTURE: resunet++\n  FEATURE_MAPS: [16, 16, 32]\n  NORMALIZATION: bn\n  DROPOUT_VALUES: [0.1, 0.1, 0.1]",
        ),
        (
            "resunet-pp-3d-trilinear-larger-io",
            3,
            2,
            "  ARCHITECTURE: resunet++\n  FEATURE_MAPS: [16, 16, 32]\n  UPSAMPLE_LAYER: upsampling\n  Z_DOWN: [2, 1]\n  LARGER_IO: True",
        ),
        ("multiresunet-3-classes", 2, 3, "  ARCHITECTURE: multiresunet\n  FEATURE_MAPS: [16, 32, 64, 128, 256]"),
        (
            "multiresunet-3d-anisotropic",
            3,
            2,
            "  ARCHITECTURE: multiresunet\n  FEATURE_MAPS: [16, 32, 64, 128, 256]\n  Z_DOWN: [2, 2, 1, 1]",
        ),
        (
            "stunet-small-3-classes",
            2,
            3,
            "  ARCHITECTURE: stunet\n  STUNET: {VARIANT: custom, DEPTH: [2, 1, 1], DIMS: [8, 16, 16], \
             POOL_OP_KERNEL_SIZES: [[2, 2], [1, 1]], CONV_KERNEL_SIZES: [[3, 3], [3, 3], [3, 3]]}",
        ),
        (
            "stunet-3d-anisotropic",
            3,
            2,
            "  ARCHITECTURE: stunet\n  STUNET: {VARIANT: custom, DEPTH: [1, 2, 1], DIMS: [4, 8, 8], \
             POOL_OP_KERNEL_SIZES: [[1, 2, 2], [2, 2, 2]], CONV_KERNEL_SIZES: [[1, 3, 3], [3, 3, 3], [3, 3, 3]]}",
        ),
        (
            "unext-v1-upsampling-3-classes",
            2,
            3,
            "  ARCHITECTURE: unext_v1\n  UPSAMPLE_LAYER: upsampling\n  CONVNEXT_LAYER_SCALE: 0.5",
        ),
        (
            "unext-v2-3d-anisotropic",
            3,
            2,
            "  ARCHITECTURE: unext_v2\n  Z_DOWN: [1, 2]\n  ISOTROPY: [false, true, true]\n  CONV_LAYERS: [1, 2, 1]",
        ),
        (
            "unetr-bn-dropout-3-classes",
            2,
            3,
            "  ARCHITECTURE: unetr\n  VIT_TOKEN_SIZE: 8\n  VIT_EMBED_DIM: 16\n  VIT_NUM_HEADS: 4\n  VIT_NUM_LAYERS: 3\n  \
             UNETR_VIT_NUM_FILTERS: 4\n  NORMALIZATION: bn\n  DROPOUT_VALUES: [0.1]",
        ),
        (
            "unetr-3d",
            3,
            2,
            "  ARCHITECTURE: unetr\n  VIT_TOKEN_SIZE: 4\n  VIT_EMBED_DIM: 8\n  VIT_NUM_HEADS: 2\n  VIT_NUM_LAYERS: 2\n  \
             UNETR_VIT_NUM_FILTERS: 2\n  Z_DOWN: [1, 1]",
        ),
        (
            "hrnet-bn-3-classes",
            2,
            3,
            "  ARCHITECTURE: hrnet\n  NORMALIZATION: bn\n  ACTIVATION: relu\n  HRNET: {VARIANT: W18}",
        ),
        ("hrnet-3d", 3, 2, "  ARCHITECTURE: hrnet\n  Z_DOWN: [1, 1]\n  HRNET: {VARIANT: W18}"),
        // `LOSS.CONTRAST`'s heads (D30; `contrast` in the name adds the loss): BiaPy's own classes
        // build the `unext_*`'s head with a layer norm over the last axis and the `multiresunet`'s
        // with a class for a layer, so those two run in onnxruntime only.
        ("unet-contrast-bn", 2, 2, "  NORMALIZATION: bn"),
        (
            "resunet-pp-contrast-3d-3-classes",
            3,
            3,
            "  ARCHITECTURE: resunet++\n  FEATURE_MAPS: [16, 16, 32]\n  Z_DOWN: [2, 1]",
        ),
        ("hrnet-contrast-bn", 2, 2, "  ARCHITECTURE: hrnet\n  NORMALIZATION: bn\n  HRNET: {VARIANT: W18}"),
        ("unext-v2-contrast-3-classes", 2, 3, "  ARCHITECTURE: unext_v2"),
        ("multiresunet-contrast", 2, 2, "  ARCHITECTURE: multiresunet\n  FEATURE_MAPS: [16, 32, 64, 128, 256]"),
        (
            "resunet-3d-trilinear-larger-io",
            3,
            2,
            "  ARCHITECTURE: resunet\n  UPSAMPLE_LAYER: upsampling\n  Z_DOWN: [2, 1]\n  ACTIVATION: relu\n  LARGER_IO: True",
        ),
    ];
    for (name, ndim, classes, model) in variants {
        let dir = TestDir::new();
        let mut config = job(&dir, ndim, classes, model, false);
        if model.contains("FEATURE_MAPS") {
            let text = std::fs::read_to_string(&config).unwrap().replace("  FEATURE_MAPS: [4, 8, 16]\n", "");
            config = dir.write("job.yaml", &text);
        }
        if name.contains("contrast") {
            let contrast = "CONTRAST: {ENABLE: True, MEMORY_SIZE: 1, PROJ_DIM: 8}";
            let text = std::fs::read_to_string(&config).unwrap();
            let text = match text.contains("LOSS: {TYPE: CE}") {
                true => text.replace("LOSS: {TYPE: CE}", &format!("LOSS: {{TYPE: CE, {contrast}}}")),
                false => format!("{text}LOSS: {{{contrast}}}\n"),
            };
            config = dir.write("job.yaml", &text);
        }
        // UNETR takes a cubic patch.
        if name == "unetr-3d" {
            let text = std::fs::read_to_string(&config).unwrap().replace("(16, 32, 32, 1)", "(16, 16, 16, 1)");
            config = dir.write("job.yaml", &text);
        }
        let results = dir.join("results");
        let run = run_job(&config, &results, "tiny", &["--set", "TEST.ENABLE=False"]);
        assert_eq!(run.code, 0, "{name}: {}\n{}", run.stdout, run.stderr);
        let package = dir.join(&format!("{name}.zip"));
        let export =
            segsweep(&["export", config.to_str().unwrap(), &best(&results), "--bmz", package.to_str().unwrap()]);
        assert_eq!(export.code, 0, "{name}: {}", export.stderr);
        let pth = dir.join(&format!("{name}.pth"));
        let export = segsweep(&["export", config.to_str().unwrap(), &best(&results), pth.to_str().unwrap()]);
        assert_eq!(export.code, 0, "{name}: {}", export.stderr);
        // BiaPy 3.7.1 cannot build `gn` networks (spec §7), so those run in onnxruntime only.
        let biapy_builds = !model.contains("NORMALIZATION: gn")
            && !(name.contains("contrast") && (name.starts_with("unext") || name.starts_with("multiresunet")));
        // A package of a contrastive network holds ONNX weights only: BiaPy's own forward fails
        // with those heads (D30); the `.pth` is checked with the heads run as one (check_bmz.py).
        let packaged_torch = !model.contains("NORMALIZATION: gn") && !name.contains("contrast");
        let files: Vec<&Path> = if biapy_builds {
            vec![Path::new("--no-bioimageio"), &package, &pth]
        } else {
            vec![Path::new("--no-bioimageio"), &package]
        };
        let seen = check(&python, &files);
        // MultiResUNet stacks 84 batch norms (after one epoch their running variances are small
        // and scale rounding up) and 7 million weights: in 3D its logits differed from
        // onnxruntime's and from PyTorch's by 1.5e-4 at most (both), rounding, not a layer out of
        // place (which moves logits by whole units).
        let tolerance = if name.starts_with("multiresunet") { 5e-4 } else { 1e-4 };
        assert!(seen["onnx_max_abs"].as_f64().unwrap() <= tolerance, "{name}: {seen}");
        if biapy_builds {
            assert!(seen["pth_max_abs"].as_f64().unwrap() <= tolerance, "{name}: {seen}");
        }
        let weights = if packaged_torch { vec!["onnx", "pytorch_state_dict"] } else { vec!["onnx"] };
        assert_eq!(seen["weights"], serde_json::json!(weights), "{name}");
        assert_eq!(seen["onnx_shape"][1], if classes == 2 { 1 } else { 3 }, "{name}: {seen}");
    }
}

#[test]
fn out_checkpoint_format_pth_writes_biapys_checkpoints_and_tests_from_them() {
    let dir = TestDir::new();
    let config = job(&dir, 2, 2, "  OUT_CHECKPOINT_FORMAT: pth\n  SAVE_CKPT_FREQ: 1", false);
    let results = dir.join("results");
    let run = run_job(&config, &results, "tiny", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let checkpoints = results.join("tiny/checkpoints");
    let mut names: Vec<String> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("-checkpoint-"))
        .collect();
    names.sort();
    assert_eq!(names, ["tiny_1-checkpoint-1.pth", "tiny_1-checkpoint-best.pth"]);
    assert!(run.stdout.contains("Test Foreground IoU (merge patches): "), "{}", run.stdout);
    // The zip entries are PyTorch's: `archive/data.pkl`, one record per tensor, `version`.
    let mut zip =
        zip::ZipArchive::new(std::fs::File::open(checkpoints.join("tiny_1-checkpoint-best.pth")).unwrap()).unwrap();
    assert!(zip.by_name("archive/data.pkl").is_ok() && zip.by_name("archive/version").is_ok());
    assert_eq!(zip.len(), 3 + 50, "data.pkl, byteorder, version and the 50 tensors");
}
