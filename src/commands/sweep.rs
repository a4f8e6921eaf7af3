//! `segsweep sweep`: runs a manifest's grid through the stage cache and writes its reports.

use std::process::ExitCode;

use anyhow::anyhow;
use segsweep::sweep::cache::Stage;
use segsweep::sweep::driver::{SweepOptions, run_sweep};

use crate::cli::SweepArgs;

/// Runs the sweep; exit 0 when every run succeeded, 2 when one failed (the README's contract:
/// 1 is kept for a failed check).
pub fn run(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    if args.executor == crate::cli::Executor::Slurm && !args.dry_run {
        return super::slurm::submit(args);
    }
    if args.watch || args.hold {
        anyhow::bail!("--watch and --hold are for `--executor slurm`");
    }
    let force = match &args.force {
        Some(name) => Some(
            Stage::parse(name).ok_or_else(|| anyhow!("--force `{name}`: expected `train`, `infer` or `evaluate`"))?,
        ),
        None => None,
    };
    segsweep::device::refuse_measurement_switches()?;
    let device = segsweep::device::parse(&args.device)?;
    let options =
        SweepOptions { jobs: args.jobs, dry_run: args.dry_run, force, device_kind: device.kind, device: Some(device) };
    let mut stdout = std::io::stdout();
    let outcome = run_sweep(&args.manifest, &options, &mut stdout)?;
    let n_runs = outcome.runs.len();
    if !args.dry_run {
        let dir = segsweep::sweep::reports::write_reports(&outcome)?;
        println!(
            "{n_runs} runs, {} trainings run, {} failed; reports in `{}`",
            outcome.n_trained,
            outcome.n_failed(),
            dir.display()
        );
    }
    Ok(if outcome.n_failed() == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// `segsweep report`: rebuilds the reports from the cache alone.
pub fn report(args: &crate::cli::ManifestArgs) -> anyhow::Result<ExitCode> {
    let outcome = cached_sweep(args)?;
    let dir = segsweep::sweep::reports::write_reports(&outcome)?;
    println!(
        "{} runs from the cache, {} missing; reports in `{}`",
        outcome.runs.len(),
        outcome.n_failed(),
        dir.display()
    );
    Ok(if outcome.n_failed() == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}

/// `segsweep check`: the regression gate of the manifest (from the cache), or `--update` to
/// rewrite its baseline. Exit 1 when a gated mean moved beyond its tolerance.
pub fn check(args: &crate::cli::CheckArgs) -> anyhow::Result<ExitCode> {
    use segsweep::report::gate::{Baseline, table};
    use segsweep::report::tables::summarise_cells;
    let outcome = cached_sweep(&args.sweep)?;
    let manifest = &outcome.manifest;
    let manifest_path = &args.sweep.manifest;
    let gate = manifest.gate.clone().ok_or_else(|| anyhow!("manifest `{}` has no `gate`", manifest_path.display()))?;
    if outcome.n_failed() > 0 {
        anyhow::bail!(
            "{} runs are not in the cache; run `segsweep sweep {}` first",
            outcome.n_failed(),
            manifest_path.display()
        );
    }
    let rows = segsweep::sweep::reports::run_rows(&outcome);
    let means: Vec<(String, String, f64)> =
        summarise_cells(&rows).into_iter().map(|s| (s.cell, s.metric, s.summary.mean)).collect();
    let gated: Vec<String> = gate.tolerance.keys().cloned().collect();
    if args.update {
        let baseline = Baseline::from_means(&manifest.name, &means, &gated);
        segsweep::atomic::write(&gate.baseline, baseline.to_yaml())?;
        println!("baseline written to `{}`", gate.baseline.display());
        return Ok(ExitCode::SUCCESS);
    }
    let gate_rows = segsweep::sweep::reports::gate_rows(manifest, &means)?.unwrap_or_default();
    print!("{}", table(&gate_rows));
    let failed = gate_rows.iter().filter(|r| !r.passed).count();
    println!("{failed} of {} gated means moved beyond their tolerance", gate_rows.len());
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub(crate) fn cached_sweep(args: &crate::cli::ManifestArgs) -> anyhow::Result<segsweep::sweep::driver::SweepOutcome> {
    let options = SweepOptions { jobs: 1, dry_run: false, force: None, device: None, device_kind: args.device };
    run_sweep(&args.manifest, &options, &mut std::io::sink())
}
