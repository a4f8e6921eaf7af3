//! `cargo xtask bench slurm`: what `--executor slurm` costs on grids of growing size, against the
//! running Slurm controller (`source .ci/slurm-up` starts a one-node one): expanding, keying and
//! submitting (`sweep --executor slurm --hold`, so nothing runs), `status`, a second submission
//! (which submits nothing), and the number of `sbatch` calls (arrays). The held jobs are
//! cancelled afterwards.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use super::backends::Build;
use super::measure::run_measured;

/// The grids measured: (run_ids, inference variants).
const GRIDS: [(usize, usize); 4] = [(1, 10), (10, 10), (10, 100), (20, 100)];

pub fn run(root: &Path, build: &Build) -> Result<(), String> {
    let answers = Command::new("sinfo").arg("-h").output().is_ok_and(|o| o.status.success());
    if !answers {
        return Err("no Slurm controller answers `sinfo`; start one with `source .ci/slurm-up`".into());
    }
    let dir = root.join("results/bench/slurm");
    println!("`--executor slurm` on grids of run_ids × inference variants (arrays held, then cancelled)");
    println!("build: {}", build.describe());
    println!();
    println!("| grid | runs | sbatch calls | submit s | status s | resubmit s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (run_ids, variants) in GRIDS {
        let name = format!("g{run_ids}x{variants}");
        let manifest = dir.join(format!("{name}.yaml"));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(&manifest, manifest_text(root, &name, run_ids, variants)?).map_err(|e| e.to_string())?;
        let slurm_dir = dir.join("results/.slurm").join(&name);
        let _ = std::fs::remove_dir_all(&slurm_dir);
        let path = manifest.to_string_lossy().into_owned();
        let timed = |args: &[&str]| -> Result<(String, f64), String> {
            let start = Instant::now();
            let out = run_measured(build.command(root).args(args))?;
            Ok((out.stdout, start.elapsed().as_secs_f64()))
        };
        let result = (|| {
            let (submitted, submit_s) = timed(&["sweep", &path, "--executor", "slurm", "--hold"])?;
            // `status` exits 2 while stages are not cached: that is its answer, not a failure.
            let start = Instant::now();
            let status = build.command(root).args(["status", &path]).output().map_err(|e| e.to_string())?;
            let status_s = start.elapsed().as_secs_f64();
            let shown = String::from_utf8_lossy(&status.stdout);
            if !shown.contains(&format!("{} queued", run_ids * variants * 3)) {
                return Err(format!(
                    "status did not see every stage queued:\n{}",
                    shown.lines().last().unwrap_or_default()
                ));
            }
            let (again, resubmit_s) = timed(&["sweep", &path, "--executor", "slurm", "--hold"])?;
            if !again.contains("nothing to submit") {
                return Err(format!("the second submission submitted again:\n{again}"));
            }
            let calls = submitted.lines().filter(|l| l.starts_with("submitted ")).count();
            Ok((calls, submit_s, status_s, resubmit_s))
        })();
        cancel(&slurm_dir);
        let (calls, submit_s, status_s, resubmit_s) = result?;
        println!(
            "| {run_ids} × {variants} | {} | {calls} | {submit_s:.2} | {status_s:.2} | {resubmit_s:.2} |",
            run_ids * variants
        );
    }
    Ok(())
}

/// The CI manifest with `run_ids` run_ids and `variants` test overlaps (inference variants).
fn manifest_text(root: &Path, name: &str, run_ids: usize, variants: usize) -> Result<String, String> {
    let ci = std::fs::read_to_string(root.join("experiments/ci.yaml")).map_err(|e| e.to_string())?;
    let head = ci.split("\ngrid:").next().unwrap_or_default().replace("name: ci", &format!("name: {name}"));
    let head = head.replace("result_dir: ../results", "result_dir: results");
    let ids: Vec<String> = (1..=run_ids).map(|i| i.to_string()).collect();
    let overlaps: Vec<String> =
        (0..variants).map(|i| format!("[{0:.4}, {0:.4}]", i as f64 * 0.9 / variants as f64)).collect();
    Ok(format!("{head}\ngrid:\n  run_id: [{}]\n  DATA.TEST.OVERLAP: [{}]\n", ids.join(", "), overlaps.join(", ")))
}

/// Cancels every job recorded under `slurm_dir`.
fn cancel(slurm_dir: &Path) {
    let text = std::fs::read_to_string(slurm_dir.join("submissions.jsonl")).unwrap_or_default();
    let jobs: Vec<String> =
        text.lines().filter_map(|l| l.split("\"job\":\"").nth(1)?.split('"').next().map(String::from)).collect();
    if !jobs.is_empty() {
        let _ = Command::new("scancel").args(&jobs).status();
    }
}
