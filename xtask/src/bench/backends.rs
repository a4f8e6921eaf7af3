//! Which segsweep build a benchmark runs, and the PyTorch it is compared with: finds a Python
//! with torch (`SEGSWEEP_BENCH_PYTHON`, else `python3` on the PATH) and, when its torch is the
//! libtorch version tch 0.24 links against (2.11.0), builds segsweep with the `tch` feature against
//! that PyTorch (`LIBTORCH_USE_PYTORCH=1`: nothing is downloaded).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

use crate::libtorch::TORCH_VERSION;

/// A Python interpreter with PyTorch.
#[derive(Clone, Debug)]
pub struct Torch {
    pub python: PathBuf,
    pub version: String,
    /// torch's `lib/` folder (libtorch), needed at run time by a `tch` build.
    pub lib_dir: PathBuf,
}

impl Torch {
    /// Whether a `tch` build can link against this PyTorch (torch-sys checks the release, not
    /// the `+cu130`-style build tag).
    pub fn matches_tch(&self) -> bool {
        self.version.split('+').next() == Some(TORCH_VERSION)
    }
}

/// Looks for PyTorch; `None` (with the reason on stderr when one was asked for) otherwise.
pub fn find_torch() -> Option<Torch> {
    let asked = std::env::var_os("SEGSWEEP_BENCH_PYTHON");
    let python = PathBuf::from(asked.clone().unwrap_or_else(|| "python3".into()));
    let output = Command::new(&python)
        .args([
            "-c",
            "import os, torch; print(torch.__version__); print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output();
    match output {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let version = lines.next()?.trim().to_string();
            let lib_dir = PathBuf::from(lines.next()?.trim());
            Some(Torch { python, version, lib_dir })
        }
        Ok(out) => {
            if asked.is_some() {
                eprintln!(
                    "bench: {} has no PyTorch: {}",
                    python.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            None
        }
        Err(e) => {
            if asked.is_some() {
                eprintln!("bench: cannot run {}: {e}", python.display());
            }
            None
        }
    }
}

/// A built segsweep binary and what running it needs.
#[derive(Clone, Debug)]
pub struct Build {
    pub binary: PathBuf,
    pub features: Vec<String>,
    pub release: bool,
    /// Environment for running the binary (libtorch's folder for `tch`).
    pub run_env: Vec<(String, String)>,
}

impl Build {
    /// A command running the binary in `root` with its environment.
    pub fn command(&self, root: &Path) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(root);
        for (k, v) in &self.run_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `dev (dependencies at opt-level 3)` or `release`, with the features.
    pub fn describe(&self) -> String {
        let profile = if self.release { "release" } else { "dev (dependencies at opt-level 3)" };
        if self.features.is_empty() {
            format!("{profile} build")
        } else {
            format!("{profile} build, features {}", self.features.join(","))
        }
    }

    /// The `--device` names this build can run, `flex` first.
    pub fn devices(&self) -> Vec<&'static str> {
        let mut devices = vec!["flex"];
        if self.features.iter().any(|f| f == "tch") {
            devices.push("tch");
        }
        if self.features.iter().any(|f| f == "vulkan") {
            devices.push("vulkan");
        }
        if self.features.iter().any(|f| f == "cuda") {
            devices.push("cuda");
        }
        devices
    }
}

/// The features to build: those asked for (`--features a,b`), else `tch` when a matching PyTorch
/// was found — said on the first line of the output.
pub fn choose_features(asked: Option<&str>, torch: Option<&Torch>) -> Vec<String> {
    if let Some(list) = asked {
        return list.split(',').map(str::trim).filter(|f| !f.is_empty()).map(String::from).collect();
    }
    match torch {
        Some(t) if t.matches_tch() => {
            println!(
                "bench: PyTorch {} found at {}: building the `tch` backend against it (LIBTORCH_USE_PYTORCH=1)",
                t.version,
                t.python.display()
            );
            vec!["tch".into()]
        }
        Some(t) => {
            println!(
                "bench: PyTorch {} found at {} (not {TORCH_VERSION}: no `tch` backend; compared as PyTorch only)",
                t.version,
                t.python.display()
            );
            Vec::new()
        }
        None => {
            println!("bench: no PyTorch found (set SEGSWEEP_BENCH_PYTHON): segsweep backends only");
            Vec::new()
        }
    }
}

/// Builds segsweep with `features`, as a user's build: without the tests' `fault-injection`
/// feature. The dependencies (burn) are the test build's, shared in the one `dev` profile; only
/// segsweep itself is compiled a second time, once.
pub fn build(root: &Path, release: bool, features: &[String], torch: Option<&Torch>) -> Result<Build, String> {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.current_dir(root).args(["build", "--quiet", "--package", "segsweep"]);
    if release {
        cargo.arg("--release");
    }
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    let mut run_env = Vec::new();
    if features.iter().any(|f| f == "tch") {
        let torch = torch.ok_or("the `tch` feature needs PyTorch 2.11.0 (or a LIBTORCH folder: `cargo xtask libtorch`): set SEGSWEEP_BENCH_PYTHON to its python")?;
        // torch-sys asks `python3`, or `python` inside a virtualenv, where torch lives.
        cargo.env("LIBTORCH_USE_PYTORCH", "1");
        if let Some(bin) = torch.python.parent().filter(|p| !p.as_os_str().is_empty()) {
            let path = std::env::var("PATH").unwrap_or_default();
            cargo.env("PATH", format!("{}:{path}", bin.display()));
            if let Some(venv) = bin.parent() {
                cargo.env("VIRTUAL_ENV", venv);
            }
        }
        let old = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
        run_env.push(("LD_LIBRARY_PATH".into(), format!("{}:{old}", torch.lib_dir.display())));
    }
    run(&mut cargo)?;
    let target = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| root.join("target"));
    let binary = target.join(if release { "release" } else { "debug" }).join("segsweep");
    Ok(Build { binary, features: features.to_vec(), release, run_env })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asked_features_win() {
        assert_eq!(choose_features(Some("vulkan, tch"), None), vec!["vulkan", "tch"]);
        assert!(choose_features(Some(""), None).is_empty());
    }

    #[test]
    fn only_torch_2_11_0_builds_tch() {
        let torch = |v: &str| Torch { python: "python3".into(), version: v.into(), lib_dir: "/x".into() };
        assert!(torch("2.11.0+cu130").matches_tch());
        assert!(torch("2.11.0").matches_tch());
        assert!(!torch("2.9.0+cu128").matches_tch());
        assert!(!torch("2.11.1").matches_tch());
    }
}
