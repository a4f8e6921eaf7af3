//! `segsweep sweep`: runs a manifest's grid through the stage cache and writes its reports.

use std::process::ExitCode;

use anyhow::anyhow;
use segsweep::sweep::cache::Stage;
use segsweep::sweep::driver::{SweepOptions, run_sweep};

use crate::cli::SweepArgs;

/// Runs the sweep; the exit code is the number of failed runs.
pub fn run(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let force = match &args.force {
        Some(name) => Some(
            Stage::parse(name).ok_or_else(|| anyhow!("--force `{name}`: expected `train`, `infer` or `evaluate`"))?,
        ),
        None => None,
    };
    let device = segsweep::device::parse(&args.device)?;
    let options = SweepOptions {
        dry_run: args.dry_run,
        force,
        device,
        device_kind: segsweep::device::kind(&args.device).to_string(),
    };
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
    Ok(ExitCode::from(outcome.n_failed().min(125) as u8))
}
