//! `cargo xtask gpu-bundle [--out DIR]`: the folder carried to a GPU machine (which has PyTorch
//! but no Rust): a stripped segsweep built with `tch` against PyTorch 2.11 with CUDA, the check
//! script `xtask/bench/gpu_check.sh`, the PyTorch benchmark and the configs they read — at most
//! 64 MiB. The data is generated there by `segsweep synth`. Run it with
//! `bash gpu-bundle/xtask/bench/gpu_check.sh` (README "Backends").

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::bench::{build_segsweep, find_torch};
use crate::run;

/// What the device machine accepts in one call.
const LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// The repository files the check reads, at the same relative paths.
const FILES: [&str; 6] = [
    "xtask/bench/gpu_check.sh",
    "xtask/bench/unet_pytorch.py",
    "templates/semantic_segmentation/2d_semantic_segmentation.yaml",
    "templates/semantic_segmentation/3d_semantic_segmentation.yaml",
    "experiments/demo_2d.yaml",
    "experiments/mito.yaml",
];

/// Builds the bundle into `--out DIR` (default `gpu-bundle/` in the repository, ignored by git).
pub fn gpu_bundle(root: &Path, args: &[String]) -> Result<(), String> {
    let out = match args {
        [] => root.join("gpu-bundle"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => return Err("usage: cargo xtask gpu-bundle [--out DIR]".into()),
    };
    let torch = find_torch().ok_or(
        "no PyTorch found: set SEGSWEEP_BENCH_PYTHON to a python with PyTorch 2.11 (its libtorch, CUDA included, is what the binary links against)",
    )?;
    if !torch.matches_tch() {
        return Err(format!(
            "PyTorch {} at {}: the `tch` feature links against PyTorch {}",
            torch.version,
            torch.python.display(),
            crate::libtorch::TORCH_VERSION
        ));
    }
    if !torch.lib_dir.join("libtorch_cuda.so").exists() {
        return Err(format!(
            "{} has no libtorch_cuda.so: a CPU-only PyTorch cannot build the GPU binary",
            torch.lib_dir.display()
        ));
    }
    let build = build_segsweep(root, false, &["tch".to_string()], Some(&torch))?;
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| format!("cannot remove {}: {e}", out.display()))?;
    }
    for file in FILES {
        let dest = out.join(file);
        std::fs::create_dir_all(dest.parent().unwrap_or(&out)).map_err(|e| format!("{}: {e}", dest.display()))?;
        std::fs::copy(root.join(file), &dest).map_err(|e| format!("cannot copy {file}: {e}"))?;
    }
    let binary = out.join("segsweep");
    run(Command::new("strip").arg("-o").arg(&binary).arg(&build.binary))
        .map_err(|e| format!("{e}: `strip` (binutils) makes the binary small enough to carry"))?;
    let size = folder_size(&out)?;
    if size > LIMIT_BYTES {
        return Err(format!(
            "{} is {:.1} MiB, over the {} MiB a device call carries",
            out.display(),
            mib(size),
            mib(LIMIT_BYTES)
        ));
    }
    let relative = out.strip_prefix(root).unwrap_or(&out).display().to_string();
    println!(
        "GPU bundle: {} ({:.1} MiB; segsweep built with tch against PyTorch {})",
        out.display(),
        mib(size),
        torch.version
    );
    println!("On the GPU machine (PyTorch 2.11 with CUDA in its python3):");
    println!("  bash {relative}/xtask/bench/gpu_check.sh [PYTHON]");
    println!(
        "Here, on the CPU (proves the script): DEVICE=tch:cpu TORCH_DEVICE=cpu QUICK=1 bash {relative}/xtask/bench/gpu_check.sh {}",
        torch.python.display()
    );
    Ok(())
}

fn folder_size(dir: &Path) -> Result<u64, String> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let meta = entry.metadata().map_err(|e| e.to_string())?;
        total += if meta.is_dir() { folder_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_files_exist() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for file in FILES {
            assert!(root.join(file).is_file(), "{file}");
        }
    }

    #[test]
    fn sizes_add_up() {
        let dir = std::env::temp_dir().join(format!("gpu-bundle-size-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(dir.join("a/x"), [0u8; 1000]).unwrap();
        std::fs::write(dir.join("y"), [0u8; 24]).unwrap();
        assert_eq!(folder_size(&dir).unwrap(), 1024);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(gpu_bundle(Path::new("/nonexistent"), &["--bad".into()]).unwrap_err().starts_with("usage"));
    }
}
