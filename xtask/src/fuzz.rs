//! `cargo xtask fuzz [--seconds N] [--target NAME] [--target-dir DIR]`: runs each cargo-fuzz
//! target of `fuzz/` (TIFF reader, config loader, manifest parser) for a bounded time (default
//! 300 s each) and prints the executions per target. Needs `cargo install cargo-fuzz`; the
//! stable toolchain is told to accept cargo-fuzz's nightly flags with `RUSTC_BOOTSTRAP=1`.
//!
//! Each target starts from seeds copied out of the repository (the TIFFs and YAML files under
//! `tests/`, `templates/` and `experiments/`, and the committed regression inputs under
//! `tests/corpus/fuzz/<target>/`) into `fuzz/corpus/<target>/`, which libFuzzer then grows (git
//! ignores it). A finding is left in `fuzz/artifacts/<target>/`: fix it, then commit the input
//! under `tests/corpus/fuzz/<target>/`, where the `fuzz_regressions` test replays it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The targets and the extensions of their seed files.
const TARGETS: [(&str, &[&str]); 3] =
    [("tiff_reader", &["tif", "tiff"]), ("config_loader", &["yaml", "yml"]), ("manifest_parser", &["yaml", "yml"])];

/// The cargo-fuzz flags of every build and run (the same, so a run re-uses the build): no
/// sanitizer (safe Rust; libFuzzer still catches panics, timeouts and memory blow-ups) but
/// debug assertions on, so arithmetic overflow panics.
const FUZZ_FLAGS: [&str; 3] = ["--sanitizer", "none", "--debug-assertions"];

/// Runs every (or the chosen) target; fails if one found something.
pub fn fuzz(root: &Path, args: &[String]) -> Result<(), String> {
    let mut seconds = 300u64;
    let mut only = None;
    let mut target_dir = root.join("fuzz/target");
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--target" => only = Some(value("--target")?),
            "--target-dir" => target_dir = PathBuf::from(value("--target-dir")?),
            other => return Err(format!("unknown fuzz flag `{other}`")),
        }
    }
    if let Some(name) = &only
        && !TARGETS.iter().any(|(t, _)| t == name)
    {
        return Err(format!(
            "unknown fuzz target `{name}`; the targets are tiff_reader, config_loader, manifest_parser"
        ));
    }
    let mut findings = Vec::new();
    let mut table = Vec::new();
    for (target, extensions) in TARGETS.iter().filter(|(t, _)| only.as_ref().is_none_or(|o| o == t)) {
        let corpus = root.join("fuzz/corpus").join(target);
        let n_seeds = seed(root, target, extensions, &corpus)?;
        println!("fuzz {target}: {n_seeds} seeds, {seconds} s");
        let (executions, ok) = run_target(root, target, &corpus, &target_dir, seconds)?;
        table.push((target, executions, ok));
        if !ok {
            findings.push(format!("{target}: see `{}`", root.join("fuzz/artifacts").join(target).display()));
        }
    }
    println!("\n| target | seconds | executions | result |\n|---|---|---|---|");
    for (target, executions, ok) in &table {
        let executions = executions.map_or("?".to_string(), |n| n.to_string());
        println!("| {target} | {seconds} | {executions} | {} |", if *ok { "no finding" } else { "FINDING" });
    }
    if findings.is_empty() { Ok(()) } else { Err(format!("fuzzing found problems:\n{}", findings.join("\n"))) }
}

/// Copies the seed files into `corpus` (named by their repository path); returns how many.
fn seed(root: &Path, target: &str, extensions: &[&str], corpus: &Path) -> Result<usize, String> {
    std::fs::create_dir_all(corpus).map_err(|e| format!("cannot create `{}`: {e}", corpus.display()))?;
    let mut files = Vec::new();
    for dir in ["tests", "templates", "experiments"] {
        collect(&root.join(dir), &mut |path| {
            if path.extension().is_some_and(|e| extensions.iter().any(|x| e == *x)) {
                files.push(path.to_path_buf());
            }
        });
    }
    collect(&root.join("tests/corpus/fuzz").join(target), &mut |path| files.push(path.to_path_buf()));
    for file in &files {
        let rel = file.strip_prefix(root).unwrap_or(file).to_string_lossy().replace(['/', '\\'], "_");
        std::fs::copy(file, corpus.join(format!("seed_{rel}")))
            .map_err(|e| format!("cannot copy `{}`: {e}", file.display()))?;
    }
    Ok(files.len())
}

fn collect(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect(&path, visit);
        } else if entry.file_type().is_ok_and(|t| t.is_file()) {
            visit(&path);
        }
    }
}

/// Runs one target for `seconds`; returns libFuzzer's execution count and whether it ended
/// without a finding. The whole output goes to `fuzz/artifacts/<target>.log`.
fn run_target(
    root: &Path,
    target: &str,
    corpus: &Path,
    target_dir: &Path,
    seconds: u64,
) -> Result<(Option<u64>, bool), String> {
    let artifacts = root.join("fuzz/artifacts").join(target);
    std::fs::create_dir_all(&artifacts).map_err(|e| format!("cannot create `{}`: {e}", artifacts.display()))?;
    let mut child = Command::new(env!("CARGO"))
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", target])
        .args(FUZZ_FLAGS)
        .arg("--target-dir")
        .arg(target_dir)
        .arg(corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-timeout=30")
        .arg("-rss_limit_mb=2048")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start `cargo fuzz` (cargo install cargo-fuzz): {e}"))?;
    let log_path = root.join("fuzz/artifacts").join(format!("{target}.log"));
    let mut log = String::new();
    let mut executions = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // libFuzzer ends with `Done 123456 runs in 300 second(s)`; status lines start `#N`.
            if let Some(rest) = line.strip_prefix("Done ") {
                executions = rest.split_whitespace().next().and_then(|n| n.parse().ok());
            } else if let Some(n) = line.strip_prefix('#').and_then(|r| r.split_whitespace().next()) {
                executions = n.parse().ok().or(executions);
            }
            if line.contains("ERROR")
                || line.contains("panicked")
                || line.starts_with("Done")
                || line.contains("error:")
            {
                println!("  {line}");
            }
            log.push_str(&line);
            log.push('\n');
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    std::fs::write(&log_path, &log).map_err(|e| format!("cannot write `{}`: {e}", log_path.display()))?;
    Ok((executions, status.success()))
}
