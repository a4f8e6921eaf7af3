//! `segsweep config show|check`: BiaPy's templates load and their resolved configs are
//! snapshotted; each bad config gets one error line naming the key and the file.

use crate::util::{TestDir, segsweep};

fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(crate::util::repo_root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn templates_load_and_show_their_resolved_config() {
    for ndim in ["2d", "3d"] {
        let path = format!("templates/semantic_segmentation/{ndim}_semantic_segmentation.yaml");
        let check = segsweep(&["config", "check", &path]);
        assert_eq!(check.code, 0, "{}", check.stderr);
        let show = segsweep(&["config", "show", &path]);
        assert_eq!(show.code, 0, "{}", show.stderr);
        snapshot_settings().bind(|| insta::assert_snapshot!(format!("config_show_{ndim}_template"), show.stdout));
    }
}

#[test]
fn overrides_change_the_shown_config() {
    let show = segsweep(&[
        "config",
        "show",
        "templates/semantic_segmentation/2d_semantic_segmentation.yaml",
        "--set",
        "TRAIN.EPOCHS=3",
        "--set",
        "DATA.PATCH_SIZE=(128, 128, 1)",
    ]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(show.stdout.contains("EPOCHS: 3\n"));
    assert!(show.stdout.contains("PATCH_SIZE:\n  - 128\n  - 128\n  - 1\n"), "{}", show.stdout);
}

fn check_error(yaml: &str) -> (String, String) {
    let dir = TestDir::new();
    let path = dir.write("bad.yaml", yaml);
    let out = segsweep(&["config", "check", &path.to_string_lossy()]);
    assert_eq!(out.code, 2, "expected exit 2, got {}: {}", out.code, out.stderr);
    (out.stderr.replace(&path.to_string_lossy().into_owned(), "bad.yaml"), path.to_string_lossy().into_owned())
}

#[test]
fn unknown_key_suggests_the_closest() {
    let (err, _) = check_error("TRAIN:\n  ENABLE: True\n  EPOCH: 3\n");
    assert_eq!(err, "error: `TRAIN.EPOCH` (in `bad.yaml`): unknown key (did you mean `TRAIN.EPOCHS`?)\n");
}

#[test]
fn a_model_value_the_builders_refuse_is_a_config_check_error_naming_the_key() {
    let (err, _) = check_error(
        "TRAIN: {ENABLE: True}\nMODEL:\n  ARCHITECTURE: resunet++\n  FEATURE_MAPS: [16, 32, 64]\n  CONV_LAYERS: [2, 3, 2]\n",
    );
    assert_eq!(
        err,
        "error: `bad.yaml`\n  caused by: `MODEL.CONV_LAYERS`: `resunet++` is built with two convolutions per residual block here; expected all 2\n"
    );
}

#[test]
fn wrong_type_names_the_key() {
    let (err, _) = check_error("TRAIN:\n  ENABLE: True\n  BATCH_SIZE: four\n");
    assert_eq!(err, "error: `TRAIN.BATCH_SIZE` (in `bad.yaml`): invalid type: found string \"four\", expected usize\n");
}

#[test]
fn patch_not_divisible_by_the_pools() {
    let (err, _) = check_error("TRAIN:\n  ENABLE: True\nDATA:\n  PATCH_SIZE: (250, 250, 1)\n");
    assert!(err.starts_with("error: `DATA.PATCH_SIZE` (in `bad.yaml`): [250, 250, 1] is not divisible by the downsampling factor at level 1"), "{err}");
}

#[test]
fn invalid_yaml_names_the_file() {
    let (err, _) = check_error("TRAIN: [unclosed\n");
    assert!(err.starts_with("error: config `bad.yaml` is not valid YAML:"), "{err}");
}

#[test]
fn legacy_keys_are_translated_and_reported() {
    let dir = TestDir::new();
    let path = dir.write(
        "old.yaml",
        "MODEL:\n  N_CLASSES: 3\n  BATCH_NORMALIZATION: True\nTRAIN:\n  ENABLE: True\n  OPTIMIZER: ADAM\n  LR: 1e-4\nTEST:\n  POST_PROCESSING:\n    YZ_FILTERING: False\n",
    );
    let check = segsweep(&["config", "check", &path.to_string_lossy()]);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stderr.contains("note: legacy key translated: `MODEL.N_CLASSES` → `DATA.N_CLASSES`: 3"),
        "{}",
        check.stderr
    );
    let show = segsweep(&["config", "show", &path.to_string_lossy()]);
    assert!(show.stdout.contains("N_CLASSES: 3\n") && show.stdout.contains("NORMALIZATION: bn\n"));
    assert!(show.stdout.contains("MEDIAN_FILTER: false\n"), "D1: a legacy switch set to False stays off");
}

#[test]
fn missing_config_file() {
    let out = segsweep(&["config", "check", "no/such.yaml"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.lines().next(), Some("error: cannot read config `no/such.yaml`"));
}

#[test]
fn every_biapy_template_is_accepted_by_config_check() {
    // Spec §2.1–2.5: the templates load; the SpineDL inference one names its BMZ model by a
    // bioimage.io id, which segsweep does not download — `config check` accepts it and says so,
    // `run` refuses it. The SpineDL training one (HRNet-W48) runs.
    for (template, runnable) in [
        ("2d_semantic_segmentation.yaml", true),
        ("3d_semantic_segmentation.yaml", true),
        ("wound_segmentation.yaml", true),
        ("SpineDL_paper/spinedl-structure.yaml", false),
        ("SpineDL_paper/spinedl-structure-training.yaml", true),
    ] {
        let path = format!("templates/semantic_segmentation/{template}");
        let check = segsweep(&["config", "check", &path]);
        assert_eq!(check.code, 0, "{template}: {}", check.stderr);
        assert_eq!(check.stderr.contains("note: will not run: "), !runnable, "{template}: {}", check.stderr);
        if !runnable {
            let dir = TestDir::new();
            let run = segsweep(&["run", "--config", &path, "--result_dir", dir.join("r").to_str().unwrap()]);
            assert_eq!(run.code, 2, "{template}");
            assert!(run.stderr.contains("segsweep downloads nothing"), "{}", run.stderr);
        }
    }
}

#[test]
fn every_command_takes_its_config_as_config_flag_too() {
    let template = "templates/semantic_segmentation/2d_semantic_segmentation.yaml";
    for command in [&["config", "show"][..], &["config", "check"], &["model"]] {
        let positional = segsweep(&[command, &[template]].concat());
        let flag = segsweep(&[command, &["--config", template]].concat());
        assert_eq!(positional.code, 0, "{command:?}: {}", positional.stderr);
        assert_eq!((flag.code, &flag.stdout), (0, &positional.stdout), "{command:?}: {}", flag.stderr);
        let both = segsweep(&[command, &[template, "--config", template]].concat());
        assert_eq!(both.code, 2, "{command:?}: one config, not two");
        let neither = segsweep(command);
        assert_eq!(neither.code, 2, "{command:?}");
        assert!(neither.stderr.contains("CONFIG"), "{command:?}: {}", neither.stderr);
    }
    let dir = TestDir::new();
    let config = "tests/fixtures/biapy/tiny_unet.yaml";
    let pth = "tests/fixtures/biapy/tiny_unet.pth";
    // BiaPy-named safetensors: the same tensors give the same bytes (a .bpk also holds fresh
    // parameter ids).
    let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
    let positional = segsweep(&["import", config, pth, a.to_str().unwrap()]);
    let flag = segsweep(&["import", "--config", config, pth, b.to_str().unwrap()]);
    assert_eq!((positional.code, flag.code), (0, 0), "{}{}", positional.stderr, flag.stderr);
    assert!(std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(), "the same weights were written");
    let three = segsweep(&["import", "--config", config, config, pth, b.to_str().unwrap()]);
    assert_eq!(three.code, 2);
    assert!(three.stderr.contains("with --config, expected only FROM and TO"), "{}", three.stderr);
}
