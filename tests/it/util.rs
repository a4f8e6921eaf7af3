//! Test helpers: [`TestDir`] (a fresh temporary folder) and [`segsweep`] (the binary as a
//! command), plus [`Output`] with exit code and both streams as text.

use std::path::PathBuf;
use std::process::Command;

/// A temporary folder removed at the end of the test.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temporary folder") }
    }

    pub fn join(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `text` to `rel` and returns its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// What a run of the binary printed and returned.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `segsweep ARGS` from the repository root.
pub fn segsweep(args: &[&str]) -> Output {
    segsweep_with(args, &[])
}

/// Runs `segsweep ARGS` from the repository root with extra environment variables.
pub fn segsweep_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_segsweep"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo_root())
        .output()
        .expect("run segsweep");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The repository root (where `Cargo.toml` is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes a tiny synthetic set (`64×64` images in 2D, `16×32×32` stacks in 3D, two classes)
/// into `dir/data` and returns that folder.
pub fn tiny_synthetic_set(dir: &TestDir, ndim: u8, n_train: usize, n_test: usize) -> PathBuf {
    tiny_synthetic_set_of(dir, ndim, 2, n_train, n_test)
}

/// [`tiny_synthetic_set`] with `classes` classes (2 or 3).
pub fn tiny_synthetic_set_of(dir: &TestDir, ndim: u8, classes: u8, n_train: usize, n_test: usize) -> PathBuf {
    let data = dir.join("data");
    let size: &[&str] = if ndim == 2 { &["64", "64"] } else { &["16", "32", "32"] };
    let (n_train, n_test) = (n_train.to_string(), n_test.to_string());
    let (ndim, classes) = (ndim.to_string(), classes.to_string());
    let mut args = vec![
        "synth",
        "--out",
        data.to_str().unwrap(),
        "--ndim",
        &ndim,
        "--classes",
        &classes,
        "--n-train",
        &n_train,
        "--n-test",
        &n_test,
        "--size",
    ];
    args.extend_from_slice(size);
    let out = segsweep(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    data
}

/// The tiny run config the run tests share: a small U-Net on the synthetic set at `data`, one
/// epoch, `classes` classes (cross-entropy beyond two) and `test` as the `TEST` mapping's content.
pub fn tiny_run_yaml(data: &std::path::Path, ndim: u8, classes: u8, test: &str) -> String {
    let (patch, pad, down) =
        if ndim == 2 { ("(32, 32, 1)", "(4, 4)", "[2, 2]") } else { ("(16, 32, 32, 1)", "(2, 4, 4)", "[1, 1]") };
    let loss = if classes > 2 { "LOSS: {TYPE: CE}\n" } else { "" };
    format!(
        "PROBLEM: {{NDIM: {ndim}D}}
DATA:
  N_CLASSES: {classes}
  PATCH_SIZE: '{patch}'
  TRAIN: {{PATH: {d}/train/x, GT_PATH: {d}/train/y}}
  VAL: {{SPLIT_TRAIN: 0.34}}
  TEST: {{PATH: {d}/test/x, GT_PATH: {d}/test/y, LOAD_GT: True, PADDING: '{pad}'}}
MODEL: {{FEATURE_MAPS: [4, 8, 16], Z_DOWN: {down}}}
{loss}TRAIN: {{ENABLE: True, OPTIMIZER: ADAMW, LR: 1.E-2, BATCH_SIZE: 2, EPOCHS: 1}}
TEST: {{{test}}}
",
        d = data.display()
    )
}

/// `segsweep run --config CONFIG --result_dir RESULTS --name NAME` with `extra` arguments.
pub fn run_job(config: &std::path::Path, results: &std::path::Path, name: &str, extra: &[&str]) -> Output {
    let (config, results) = (config.to_str().unwrap(), results.to_str().unwrap());
    segsweep(&[&["run", "--config", config, "--result_dir", results, "--name", name][..], extra].concat())
}

/// Whether an outside component a test needs (a Slurm controller, a browser, a Python package)
/// is `available`. When it is not, the test says it is skipped (`missing` says what and how to
/// get it), or fails where CI set `require` (`.ci/run` sets it once it has the component up).
#[allow(clippy::print_stderr)] // the visible skip message
pub fn available_or_skip(test: &str, available: bool, require: &str, missing: &str) -> bool {
    if !available {
        assert!(std::env::var(require).is_err(), "{test}: {require} is set but {missing}");
        eprintln!("skipped {test}: {missing}");
    }
    available
}
