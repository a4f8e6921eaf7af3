//! `cargo xtask libtorch [--cpu | --cuda] [--dir DIR]`: a libtorch folder for the `tch` feature,
//! made from PyTorch's own wheel on the package registry (through pip) and kept in a cache folder
//! outside the repository; it prints the environment to build and run with. Nothing is
//! downloaded by the build or at run time.
//!
//! The registry's Linux wheel of torch 2.11.0 is the CUDA 13.0 build, the one the GPU machines
//! have. `--cuda` (the default) keeps all of `torch/lib` and puts the CUDA libraries of the wheels
//! torch depends on (`nvidia-*`) beside it. `--cpu` leaves the CUDA libraries out, keeping only the
//! two that `libtorch_cpu.so` itself loads (CUDA's runtime and CUPTI, 3 MB), and replaces the
//! wheel's `libtorch.so` (a stub that loads `libtorch_cuda.so`) by one that loads the CPU library
//! only. libtorch's libraries find each other through `$ORIGIN`, so one `lib/` folder is enough.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run;

/// The PyTorch release `tch` 0.24 (torch-sys 0.24) is generated for.
pub const TORCH_VERSION: &str = "2.11.0";

/// The CUDA runtime and CUPTI wheels torch 2.11.0's `cuda-toolkit==13.0.2` pins, whose libraries
/// `libtorch_cpu.so` loads even on a machine without a GPU.
const CPU_EXTRA_WHEELS: [&str; 2] = ["nvidia-cuda-runtime==13.0.96", "nvidia-cuda-cupti==13.0.85"];

/// Which libtorch to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Cpu,
    Cuda,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
        }
    }
}

/// `cargo xtask libtorch` with its arguments.
pub fn libtorch(args: &[String]) -> Result<(), String> {
    let mut variant = Variant::Cuda;
    let mut cache = default_cache()?;
    let mut python = PathBuf::from("python3");
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--cpu" => variant = Variant::Cpu,
            "--cuda" => variant = Variant::Cuda,
            "--dir" => cache = rest.next().map(PathBuf::from).ok_or("--dir expects a folder")?,
            "--python" => python = rest.next().map(PathBuf::from).ok_or("--python expects an interpreter")?,
            other => {
                return Err(format!(
                    "unknown argument `{other}`: expected --cpu, --cuda, --dir DIR or --python PYTHON"
                ));
            }
        }
    }
    let folder = make(&cache, variant, &python)?;
    println!("{}", instructions(&folder, variant));
    Ok(())
}

/// `$SEGSWEEP_LIBTORCH_CACHE`, else `$XDG_CACHE_HOME/segsweep-libtorch`, else
/// `~/.cache/segsweep-libtorch`.
fn default_cache() -> Result<PathBuf, String> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var("SEGSWEEP_LIBTORCH_CACHE") {
        return Ok(dir);
    }
    let base = var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|home| home.join(".cache")))
        .ok_or("neither HOME nor XDG_CACHE_HOME is set: pass --dir DIR")?;
    Ok(base.join("segsweep-libtorch"))
}

/// The libtorch folder of `variant` under `cache`, made once: the wheels are fetched by pip into
/// `cache/wheels` (pip re-uses what is there), unpacked into a temporary folder and renamed into
/// place, so an interrupted run leaves no half folder behind.
pub fn make(cache: &Path, variant: Variant, python: &Path) -> Result<PathBuf, String> {
    let folder = cache.join(format!("libtorch-{TORCH_VERSION}-{}", variant.name()));
    if folder.join("build-version").exists() {
        println!("libtorch {TORCH_VERSION} ({}) is already in {}", variant.name(), folder.display());
        return Ok(folder);
    }
    let wheels = cache.join("wheels");
    std::fs::create_dir_all(&wheels).map_err(|e| format!("cannot create {}: {e}", wheels.display()))?;
    let torch = format!("torch=={TORCH_VERSION}");
    let mut pip = Command::new(python);
    pip.args(["-m", "pip", "download", "--quiet", "--dest"]).arg(&wheels);
    match variant {
        Variant::Cpu => pip.arg("--no-deps").arg(&torch).args(CPU_EXTRA_WHEELS),
        // torch's own requirements name the CUDA libraries it was built with.
        Variant::Cuda => pip.arg(&torch),
    };
    println!("fetching PyTorch {TORCH_VERSION}'s wheels into {} (pip, from the package registry)", wheels.display());
    run(&mut pip).map_err(|e| format!("{e}: pip could not fetch the wheels (is the package registry reachable?)"))?;

    let partial = cache.join(format!(".libtorch-{TORCH_VERSION}-{}.partial", variant.name()));
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| format!("cannot remove {}: {e}", partial.display()))?;
    }
    println!("unpacking libtorch ({}) into {}", variant.name(), folder.display());
    let mut unpack = Command::new(python);
    unpack.arg("-c").arg(UNPACK).arg(&wheels).arg(&partial).arg(TORCH_VERSION).arg(variant.name());
    run(&mut unpack)?;
    if variant == Variant::Cpu {
        cpu_only_stub(&partial.join("lib"))?;
    }
    std::fs::write(partial.join("build-version"), format!("{TORCH_VERSION}\n"))
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    if folder.exists() {
        std::fs::remove_dir_all(&folder).map_err(|e| format!("cannot remove {}: {e}", folder.display()))?;
    }
    std::fs::rename(&partial, &folder).map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    Ok(folder)
}

/// Unpacks `torch/include` and the libraries of `torch/lib` (and, for `cuda`, every `nvidia-*`
/// wheel's libraries; for `cpu`, those of CUDA's runtime and CUPTI) from the wheels in argv[1]
/// into argv[2]/{include,lib}. Python's zipfile: pip is Python already, and the xtask stays free
/// of dependencies.
const UNPACK: &str = r#"
import os, stat, sys, zipfile
wheels, out, version, variant = sys.argv[1:5]
names = os.listdir(wheels)
torch = [n for n in names if n.startswith(f"torch-{version}-") and n.endswith(".whl")]
if not torch:
    sys.exit(f"no torch-{version} wheel in {wheels}")
cuda_only = ("cuda", "nvrtc", "nvshmem", "cudnn", "nccl")
def keep_torch_lib(name):
    if name.startswith(("libtorch_python", "libshm")):
        return False
    return variant == "cuda" or not any(word in name for word in cuda_only)
def copy(z, info, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with z.open(info) as src, open(dest, "wb") as dst:
        while True:
            block = src.read(1 << 20)
            if not block:
                break
            dst.write(block)
    os.chmod(dest, 0o755 if ".so" in dest else 0o644)
with zipfile.ZipFile(os.path.join(wheels, sorted(torch)[-1])) as z:
    for info in z.infolist():
        name = info.filename
        if info.is_dir():
            continue
        if name.startswith("torch/include/"):
            copy(z, info, os.path.join(out, "include", name[len("torch/include/"):]))
        elif name.startswith("torch/lib/") and name.count("/") == 2 and keep_torch_lib(name[len("torch/lib/"):]):
            copy(z, info, os.path.join(out, "lib", name[len("torch/lib/"):]))
cpu_libs = ("libcudart.so", "libcupti.so")
for wheel in sorted(n for n in names if n.startswith("nvidia_") and n.endswith(".whl")):
    with zipfile.ZipFile(os.path.join(wheels, wheel)) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) < 3 or parts[0] != "nvidia" or parts[-2] != "lib" or ".so" not in parts[-1]:
                continue
            if variant == "cpu" and not parts[-1].startswith(cpu_libs):
                continue
            copy(z, info, os.path.join(out, "lib", parts[-1]))
"#;

/// The wheel's `libtorch.so` only loads `libtorch_cpu.so` and `libtorch_cuda.so` (torch-sys
/// links it by name). Without the CUDA libraries it is replaced by an empty library that loads
/// the CPU one, as in PyTorch's CPU-only libtorch.
fn cpu_only_stub(lib: &Path) -> Result<(), String> {
    let source = lib.join("libtorch_stub.c");
    std::fs::write(&source, "/* libtorch.so of a CPU-only folder: loads libtorch_cpu.so */\n")
        .map_err(|e| format!("cannot write {}: {e}", source.display()))?;
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let mut cc = Command::new(&compiler);
    cc.arg("-shared")
        .arg("-o")
        .arg(lib.join("libtorch.so"))
        .arg(&source)
        .arg("-Wl,--no-as-needed")
        .arg(format!("-L{}", lib.display()))
        .args(["-ltorch_cpu", "-lc10", "-Wl,-rpath,$ORIGIN"]);
    run(&mut cc).map_err(|e| format!("{e}: a C compiler ({compiler}) is needed to make the CPU-only libtorch.so"))?;
    std::fs::remove_file(&source).map_err(|e| format!("cannot remove {}: {e}", source.display()))
}

/// What to type next: the build and the run environment.
fn instructions(folder: &Path, variant: Variant) -> String {
    let lib = folder.join("lib");
    let run_on = match variant {
        Variant::Cpu => "libtorch on the CPU (`tch` is `tch:cpu`)",
        Variant::Cuda => "or `tch:cuda`, `tch:cuda:N` for a GPU",
    };
    format!(
        "libtorch {TORCH_VERSION} ({variant}) is ready in {folder}\n\n\
         Build and run with:\n\
         export LIBTORCH={folder}\n\
         export LD_LIBRARY_PATH={lib}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\n\
         cargo build --release --features tch\n\
         target/release/segsweep run --device tch …   # {run_on}",
        variant = variant.name(),
        folder = folder.display(),
        lib = lib.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_name_the_folder_and_device() {
        let text = instructions(Path::new("/c/libtorch-2.11.0-cpu"), Variant::Cpu);
        assert!(text.contains("export LIBTORCH=/c/libtorch-2.11.0-cpu\n"), "{text}");
        assert!(text.contains("export LD_LIBRARY_PATH=/c/libtorch-2.11.0-cpu/lib${LD_LIBRARY_PATH:+"), "{text}");
        assert!(text.contains("--features tch"));
        assert!(instructions(Path::new("/c"), Variant::Cuda).contains("tch:cuda"));
    }

    #[test]
    fn an_unknown_argument_is_refused() {
        let err = libtorch(&["--gpu".to_string()]).unwrap_err();
        assert!(err.contains("unknown argument `--gpu`"), "{err}");
    }
}
