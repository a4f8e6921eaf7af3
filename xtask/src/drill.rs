//! `cargo xtask drill [--kills N] [--seed S] [--manifest PATH] [--release]`: the kill-and-resume
//! drill of issue 8 at length (default 50 SIGKILLs) on the CI manifest. The drill itself is the
//! integration test's (`tests/it/drill_core.rs`, std only), run here against the built binary in
//! a temporary folder that is kept when the drill fails.

use std::path::{Path, PathBuf};

use crate::drill_core::run_drill;

/// Parsed flags.
struct Flags {
    kills: usize,
    seed: u64,
    manifest: PathBuf,
    release: bool,
}

fn parse(root: &Path, args: &[String]) -> Result<Flags, String> {
    let mut flags = Flags { kills: 50, seed: 1, manifest: root.join("experiments/ci.yaml"), release: false };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--kills" => flags.kills = value("--kills")?.parse().map_err(|e| format!("--kills: {e}"))?,
            "--seed" => flags.seed = value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--manifest" => flags.manifest = PathBuf::from(value("--manifest")?),
            "--release" => flags.release = true,
            other => return Err(format!("unknown drill flag `{other}`")),
        }
    }
    Ok(flags)
}

/// Runs the drill and prints its figures.
pub fn drill(root: &Path, args: &[String]) -> Result<(), String> {
    let flags = parse(root, args)?;
    let text = std::fs::read_to_string(&flags.manifest)
        .map_err(|e| format!("cannot read `{}`: {e}", flags.manifest.display()))?;
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|n| n.trim().to_string())
        .ok_or_else(|| format!("`{}` has no `name:` line", flags.manifest.display()))?;
    let binary = crate::bench::build_segsweep(root, flags.release, &[], None)?.binary;
    let work = std::env::temp_dir().join(format!("segsweep-drill-{}", std::process::id()));
    println!(
        "drill: {} kills, seed {}, manifest `{}`, work folder `{}`",
        flags.kills,
        flags.seed,
        flags.manifest.display(),
        work.display()
    );
    let started = std::time::Instant::now();
    let result = run_drill(&binary, &work, &text, &name, flags.kills, flags.seed, &mut |line| println!("  {line}"));
    match result {
        Ok(report) => {
            println!(
                "drill passed: {} kills survived over {} rounds ({} sweep starts) in {:.0} s",
                report.kills,
                report.rounds,
                report.starts,
                started.elapsed().as_secs_f64()
            );
            for (phase, n) in &report.kills_by_phase {
                println!("  killed while {phase}: {n}");
            }
            let _ = std::fs::remove_dir_all(&work);
            Ok(())
        }
        Err(error) => Err(format!(
            "drill failed (replay with --seed {}; files kept in `{}`): {error}",
            flags.seed,
            work.display()
        )),
    }
}
