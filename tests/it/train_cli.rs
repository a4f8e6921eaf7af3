//! `segsweep train` on tiny synthetic data: the results tree, a decreasing loss, bit-identical
//! losses for the same seed, and a training killed mid-way that resumes from its last epoch and
//! ends with the same numbers as an uninterrupted one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{TestDir, segsweep};

/// A tiny 2D or 3D set and a config with a small U-Net that trains in seconds.
fn tiny_job(dir: &TestDir, ndim: u8, epochs: usize) -> PathBuf {
    let data = crate::util::tiny_synthetic_set(dir, ndim, 4, 1);
    let (patch, down) = if ndim == 2 { ("(32, 32, 1)", "[2, 2]") } else { ("(16, 32, 32, 1)", "[1, 1]") };
    dir.write(
        "job.yaml",
        &format!(
            "PROBLEM: {{NDIM: {ndim}D}}
DATA:
  PATCH_SIZE: '{patch}'
  TRAIN: {{PATH: {d}/train/x, GT_PATH: {d}/train/y}}
  VAL: {{SPLIT_TRAIN: 0.25}}
AUGMENTOR: {{ENABLE: True, VFLIP: True, HFLIP: True, AUG_NUM_SAMPLES: 2}}
MODEL: {{FEATURE_MAPS: [4, 8, 16], Z_DOWN: {down}}}
TRAIN: {{ENABLE: True, OPTIMIZER: ADAMW, LR: 1.E-2, BATCH_SIZE: 2, EPOCHS: {epochs}}}
",
            d = data.display()
        ),
    )
}

fn train_args<'a>(config: &'a str, result_dir: &'a str) -> Vec<&'a str> {
    vec!["train", "--config", config, "--result_dir", result_dir, "--name", "tiny", "--run_id", "1"]
}

/// `segsweep train` of `config` into `results` with `--set` for each of `sets`.
fn train_with(config: &Path, results: &Path, sets: &[&str]) -> crate::util::Output {
    let mut args = train_args(config.to_str().unwrap(), results.to_str().unwrap());
    args.extend(sets.iter().flat_map(|set| ["--set", set]));
    segsweep(&args)
}

fn log_rows(result_dir: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(result_dir.join("tiny/results/tiny_1/train_logs/tiny_1_train_log.csv")).unwrap();
    // Everything but the seconds column, which is wall time.
    text.lines().skip(1).map(|l| l.split(',').take(6).map(String::from).collect()).collect()
}

#[test]
fn trains_2d_and_writes_the_biapy_tree() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 3);
    let results = dir.join("results");
    let out = segsweep(&train_args(config.to_str().unwrap(), results.to_str().unwrap()));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for line in ["Training time: ", "Train loss: ", "Validation loss: ", "Validation IoU: ", "Finished Training"] {
        assert!(out.stdout.contains(line), "missing `{line}` in\n{}", out.stdout);
    }
    for path in [
        "tiny/config_files/tiny_1.yaml",
        "tiny/checkpoints/tiny_1-checkpoint-best.safetensors",
        "tiny/results/tiny_1/charts/tiny_1_loss.png",
        "tiny/results/tiny_1/charts/tiny_1_IoU.png",
        "tiny/results/tiny_1/charts/model_plot_tiny_1.png",
    ] {
        assert!(results.join(path).exists(), "{path} missing");
    }
    let aug: Vec<String> = std::fs::read_dir(results.join("tiny/results/tiny_1/aug"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(aug.len(), 8, "2 samples × (orig_x, orig_y, x, y): {aug:?}");
    assert!(aug.iter().any(|n| n.starts_with("0_") && n.ends_with("_orig_x_vflip_hflip.tif")), "{aug:?}");
    assert!(
        !results.join("tiny/checkpoints/tiny_1-resume.json").exists(),
        "a finished training leaves no resume point"
    );
    let rows = log_rows(&results);
    assert_eq!(rows.len(), 3);
    let loss = |r: &Vec<String>| r[1].parse::<f64>().unwrap();
    assert!(loss(&rows[2]) < loss(&rows[0]), "training loss should decrease: {rows:?}");
}

#[test]
fn trains_3d() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 3, 2);
    let results = dir.join("results");
    let out = segsweep(&train_args(config.to_str().unwrap(), results.to_str().unwrap()));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(log_rows(&results).len(), 2);
    assert!(results.join("tiny/checkpoints/tiny_1-checkpoint-best.safetensors").exists());
}

#[test]
fn same_seed_same_losses_and_resume_after_kill() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 4);
    let config = config.to_str().unwrap();
    let straight = dir.join("straight");
    let out = segsweep(&train_args(config, straight.to_str().unwrap()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let again = dir.join("again");
    assert_eq!(segsweep(&train_args(config, again.to_str().unwrap())).code, 0);
    assert_eq!(log_rows(&straight), log_rows(&again), "same seed, same backend: identical numbers");

    // Kill the training as soon as its first resume point exists, then run it again.
    let killed = dir.join("killed");
    let resume = killed.join("tiny/checkpoints/tiny_1-resume.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_segsweep"))
        .args(train_args(config, killed.to_str().unwrap()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !resume.exists() && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(resume.exists(), "the training should have written a resume point before being killed");
    let out = segsweep(&train_args(config, killed.to_str().unwrap()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Resuming training from epoch "), "{}", out.stdout);
    assert_eq!(log_rows(&killed), log_rows(&straight), "resumed training ends with the uninterrupted numbers");
}

#[test]
fn bad_training_inputs() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 1);
    let config = config.to_str().unwrap();
    let results = dir.join("r");
    let results = results.to_str().unwrap();
    let mut args = train_args(config, results);
    args.extend(["--set", "DATA.PATCH_SIZE=(128, 128, 1)", "--set", "DATA.REFLECT_TO_COMPLETE_SHAPE=False"]);
    let out = segsweep(&args);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("smaller than `DATA.PATCH_SIZE` [1, 128, 128]; set `DATA.REFLECT_TO_COMPLETE_SHAPE: True`"),
        "{}",
        out.stderr
    );
    let mut args = train_args(config, results);
    args.extend(["--set", "DATA.VAL.SPLIT_TRAIN=0.9"]);
    let out = segsweep(&args);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("`DATA.VAL.SPLIT_TRAIN` 0.9 of 4 samples leaves 0 for training and 4 for validation"),
        "{}",
        out.stderr
    );
}

#[test]
fn random_patches_with_probability_maps_kept_in_the_results_tree() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 1);
    let results = dir.join("results");
    let sets = ["DATA.TRAIN.EXTRACT_RANDOM_PATCH=True", "DATA.TRAIN.PROBABILITY_MAP=True"];
    let out = train_with(&config, &results, &sets);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let maps = results.join("tiny/results/tiny_1/prob_map");
    let key = maps.join("key.txt");
    assert!(key.exists() && maps.join("0000_0000.tif").exists(), "maps and their key are written");
    assert!(!dir.join("data/train/y_prob_maps").exists(), "nothing is written into the user's data");
    let aug = std::fs::read_dir(results.join("tiny/results/tiny_1/aug")).unwrap();
    assert!(aug.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).any(|n| n.contains("_mark_x")));
    let written = std::fs::metadata(maps.join("0000_0000.tif")).unwrap().modified().unwrap();
    assert_eq!(train_with(&config, &results, &sets).code, 0);
    let again = std::fs::metadata(maps.join("0000_0000.tif")).unwrap().modified().unwrap();
    assert_eq!(written, again, "unchanged masks: the maps are re-used, not rewritten");
}

#[test]
fn every_architecture_learns_in_two_epochs() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 2);
    for arch in segsweep::model::Arch::ALL.map(segsweep::model::Arch::name) {
        let results = dir.join(&format!("results-{arch}"));
        let architecture = format!("MODEL.ARCHITECTURE={arch}");
        // MultiResUNet always down-samples four times (BiaPy checks four `Z_DOWN` values);
        // STU-Net takes its own stages (a small custom one here).
        let sets: &[&str] = match arch {
            "multiresunet" => &[&architecture, "MODEL.FEATURE_MAPS=[4, 8, 16, 32, 64]", "MODEL.Z_DOWN=[2, 2, 2, 2]"],
            "stunet" => &[
                &architecture,
                "MODEL.STUNET.VARIANT=custom",
                "MODEL.STUNET.DEPTH=[1, 1, 1]",
                "MODEL.STUNET.DIMS=[4, 8, 16]",
                "MODEL.STUNET.POOL_OP_KERNEL_SIZES=[[2, 2], [2, 2]]",
                "MODEL.STUNET.CONV_KERNEL_SIZES=[[3, 3], [3, 3], [3, 3]]",
            ],
            // A small ViT: 8-voxel tokens, two blocks of width 16.
            "unetr" => &[
                &architecture,
                "MODEL.VIT_TOKEN_SIZE=8",
                "MODEL.VIT_EMBED_DIM=16",
                "MODEL.VIT_NUM_HEADS=2",
                "MODEL.VIT_NUM_LAYERS=2",
                "MODEL.UNETR_VIT_NUM_FILTERS=4",
            ],
            // The smallest preset (W18); the file says `unet`, so config.py's W48 would apply.
            "hrnet" => &[&architecture, "MODEL.HRNET.VARIANT=W18"],
            _ => &[&architecture],
        };
        let out = train_with(&config, &results, sets);
        assert_eq!(out.code, 0, "{arch}: {}\n{}", out.stdout, out.stderr);
        let losses: Vec<f64> = log_rows(&results).iter().map(|row| row[1].parse().unwrap()).collect();
        assert!(losses.len() == 2 && losses[1] < losses[0], "{arch}: training losses {losses:?}");
    }
}

/// A tiny 2D job trained once into `dir/first`: its config, its best checkpoint, and the
/// `PATHS.CHECKPOINT_FILE=…` override that points at it.
struct FirstTraining {
    config: String,
    best: PathBuf,
    load: String,
}

fn first_training(dir: &TestDir) -> FirstTraining {
    let config = tiny_job(dir, 2, 1);
    let first = dir.join("first");
    assert_eq!(segsweep(&train_args(config.to_str().unwrap(), first.to_str().unwrap())).code, 0);
    let best = first.join("tiny/checkpoints/tiny_1-checkpoint-best.safetensors");
    let load = format!("PATHS.CHECKPOINT_FILE={}", best.display());
    FirstTraining { config: config.to_str().unwrap().to_string(), best, load }
}

/// `train` into `results`, fine-tuning from the first training's checkpoint.
fn fine_tune_args<'a>(first: &'a FirstTraining, results: &'a str) -> Vec<&'a str> {
    let mut args = train_args(&first.config, results);
    args.extend(["--set", "MODEL.LOAD_CHECKPOINT=True", "--set", &first.load]);
    args
}

#[test]
fn fine_tuning_loads_a_checkpoint_and_a_foreign_one_is_refused() {
    let dir = TestDir::new();
    let first = first_training(&dir);
    let second = dir.join("second");
    let out = segsweep(&fine_tune_args(&first, second.to_str().unwrap()));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let mut args = fine_tune_args(&first, second.to_str().unwrap());
    args.extend(["--set", "MODEL.FEATURE_MAPS=[8, 16, 32]"]);
    let out = segsweep(&args);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains(&format!("checkpoint `{}`", first.best.display())), "{}", out.stderr);
    assert!(out.stderr.to_lowercase().contains("shape"), "the message names the mismatch: {}", out.stderr);
}

#[test]
fn skip_unmatched_layers_fine_tunes_another_head_from_a_checkpoint() {
    // BiaPy's `MODEL.SKIP_UNMATCHED_LAYERS`: a binary model's checkpoint starts a 3-class
    // training; every tensor but the head (1 → 3 channels) is loaded, the head is skipped with
    // BiaPy's line.
    let dir = TestDir::new();
    let first = first_training(&dir);
    let second = dir.join("second");
    let mut args = fine_tune_args(&first, second.to_str().unwrap());
    args.extend(["--set", "DATA.N_CLASSES=3"]);
    args.extend(["--set", "LOSS.TYPE=CE"]);
    let strict = segsweep(&args);
    assert_eq!(strict.code, 2, "without the switch the head does not fit: {}", strict.stdout);
    assert!(strict.stderr.contains("heads.0.weight"), "{}", strict.stderr);
    args.extend(["--set", "MODEL.SKIP_UNMATCHED_LAYERS=True"]);
    let out = segsweep(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let skipped: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("Skipping layer")).collect();
    assert_eq!(
        skipped,
        [
            "Skipping layer 'heads.0.weight' due to shape mismatch: checkpoint [1, 4, 1, 1] vs model [3, 4, 1, 1]",
            "Skipping layer 'heads.0.bias' due to shape mismatch: checkpoint [1] vs model [3]"
        ]
    );
}

#[test]
fn frozen_layers_keep_their_loaded_weights_while_the_rest_fine_tunes() {
    let dir = TestDir::new();
    let first = first_training(&dir);
    let second = dir.join("second");
    let mut args = fine_tune_args(&first, second.to_str().unwrap());
    args.extend(["--set", r"MODEL.FREEZE_LAYERS_MATCHING=['^down_path\.', 'bottleneck']"]);
    let out = segsweep(&args);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("parameter tensor(s) matching MODEL.FREEZE_LAYERS_MATCHING:"), "{}", out.stdout);
    let read = |path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut all: Vec<(String, Vec<u8>)> =
            tensors.tensors().into_iter().map(|(name, view)| (name, view.data().to_vec())).collect();
        all.sort();
        all
    };
    let (before, after) =
        (read(&first.best), read(&second.join("tiny/checkpoints/tiny_1-checkpoint-best.safetensors")));
    assert_eq!(before.len(), after.len());
    let frozen = |name: &str| name.starts_with("down_path.") || name.contains("bottleneck");
    let mut n_frozen = 0;
    for ((name, old), (_, new)) in before.iter().zip(&after) {
        // Batch-norm running statistics are buffers: they follow the data even when frozen.
        if frozen(name) && !name.contains("running_") && !name.contains("num_batches") {
            assert_eq!(old, new, "{name} is frozen");
            n_frozen += 1;
        }
    }
    assert!(n_frozen > 0);
    let printed = out.stdout.lines().filter(|l| l.starts_with("  [frozen]    ")).count();
    assert_eq!(printed, n_frozen, "{}", out.stdout);
    assert!(before.iter().zip(&after).any(|((name, old), (_, new))| !frozen(name) && old != new), "the rest trains");
    let bad = segsweep(
        &[
            &train_args(&first.config, second.to_str().unwrap())[..],
            &["--set", "MODEL.FREEZE_LAYERS_MATCHING=['(?<=a)b']"],
        ]
        .concat(),
    );
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("`MODEL.FREEZE_LAYERS_MATCHING`") && bad.stderr.contains("entry 0"), "{}", bad.stderr);
}

#[test]
fn training_previews_are_written_every_n_epochs_and_after_the_last() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 3);
    let results = dir.join("results");
    let out = train_with(&config, &results, &["TRAIN.SAVE_TRAIN_PREDS_FREQ=2", "TRAIN.SAVE_TRAIN_PREDS_NUM_SAMPLES=2"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Tracking 2 fixed sample(s) for periodic training predictions (every 2 epochs)"));
    let previews = results.join("tiny/results/tiny_1/train_pred_samples");
    let mut folders: Vec<String> =
        std::fs::read_dir(&previews).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    folders.sort();
    assert_eq!(folders, ["gt", "input", "pred_epoch_0002", "pred_epoch_0003"]);
    for folder in &folders {
        let mut files: Vec<String> = std::fs::read_dir(previews.join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, ["0.tif", "1.tif"], "{folder}");
    }
    let probs = match segsweep::data::read_tiff(&previews.join("pred_epoch_0003/1.tif")).unwrap().volume {
        segsweep::data::AnyVolume::F32(v) => v,
        other => panic!("expected float32 probabilities, found {other:?}"),
    };
    assert_eq!(probs.shape(), [1, 32, 32, 1]);
    assert!(probs.as_slice().iter().all(|p| (0.0..=1.0).contains(p)));
}

#[test]
fn check_generators_writes_one_pass_of_each_set() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 1);
    let results = dir.join("results");
    let out = train_with(&config, &results, &["DATA.CHECK_GENERATORS=True"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // "Training samples: N patches from … images; validation samples: M"
    let line = out.stdout.lines().find(|l| l.starts_with("Training samples: ")).unwrap();
    let numbers: Vec<usize> = line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    let (n_train, n_val) = (numbers[0], numbers[2]);
    let job = results.join("tiny/results/tiny_1");
    for (folder, n) in [
        ("gen_check_train", n_train),
        ("gen_mask_check_train", n_train),
        ("gen_check_val", n_val),
        ("gen_mask_check_val", n_val),
    ] {
        let files = std::fs::read_dir(job.join(folder)).unwrap().count();
        assert_eq!(files, n, "{folder}");
        assert!(job.join(folder).join(format!("sample_{}.tif", n - 1)).exists(), "{folder}");
    }
}

#[test]
fn unwritable_results_folder_is_a_clear_error() {
    // A results folder below a plain file cannot be created, not even by root (CI runs as root,
    // where permission bits do not stop writes).
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 1);
    let blocker = dir.write("blocker", "a file, not a folder");
    let results = blocker.join("results");
    let out = segsweep(&train_args(config.to_str().unwrap(), results.to_str().unwrap()));
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains(&format!("cannot write `{}", blocker.display())), "{}", out.stderr);
    assert!(!results.exists());
}

#[test]
fn non_finite_losses_are_skipped_then_abort_the_training() {
    let dir = TestDir::new();
    let config = tiny_job(&dir, 2, 3);
    let results = dir.join("nan");
    let out = train_with(&config, &results, &["TRAIN.OPTIMIZER=SGD", "TRAIN.LR=[1.0e+30]"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("the loss was not finite in any of its"), "{}", out.stderr);
    assert!(out.stderr.contains("lower `TRAIN.LR`"), "{}", out.stderr);
}
