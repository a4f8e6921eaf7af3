//! `segsweep sweep --executor slurm`, `segsweep status` and `segsweep stage`: submitting a sweep
//! to Slurm, following it, and what each array task runs.

use std::process::ExitCode;

use anyhow::bail;
use segsweep::sweep::slurm::status::{SweepStatus, status as sweep_status, watch};
use segsweep::sweep::slurm::submit::{SubmitOptions, submit as submit_sweep};

use crate::cli::{ManifestArgs, StageArgs, StatusArgs, SweepArgs};

/// `sweep --executor slurm [--watch] [--hold]`.
pub fn submit(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    if args.force.is_some() {
        bail!(
            "--force runs here only; with --executor slurm, run `segsweep sweep --force STAGE` locally or `segsweep gc`"
        );
    }
    if args.jobs != 1 {
        bail!("--jobs is for the local executor; with --executor slurm every stage is an array task");
    }
    if args.watch && args.hold {
        bail!("--watch with --hold would wait for arrays nobody releases; release them with `scontrol release`");
    }
    segsweep::device::refuse_measurement_switches()?;
    let kind = segsweep::device::DeviceKind::from_name(&args.device).map_err(anyhow::Error::msg)?;
    let options = SubmitOptions { device: args.device.clone(), device_kind: kind, hold: args.hold };
    submit_sweep(&args.manifest, &options, &mut std::io::stdout())?;
    if !args.watch {
        println!("follow it with `segsweep status {}`", args.manifest.display());
        return Ok(ExitCode::SUCCESS);
    }
    finish(&args.manifest, kind)
}

/// `segsweep status MANIFEST [--watch]`.
pub fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    if args.watch {
        return finish(&args.sweep.manifest, args.sweep.device);
    }
    let now = sweep_status(&args.sweep.manifest, args.sweep.device)?;
    now.write(&mut std::io::stdout())?;
    Ok(exit_code(&now))
}

/// Waits for the sweep, prints where every stage ended, and writes the reports: a run that did
/// not finish is a failed run there, with Slurm's reason and its task's log.
fn finish(manifest: &std::path::Path, device: segsweep::device::DeviceKind) -> anyhow::Result<ExitCode> {
    let end = watch(manifest, device, &mut std::io::stdout())?;
    end.write(&mut std::io::stdout())?;
    let mut outcome = super::sweep::cached_sweep(&ManifestArgs { manifest: manifest.to_path_buf(), device })?;
    for (i, run) in outcome.runs.iter_mut().enumerate() {
        if let Some(failure) = end.failure(i) {
            run.result = Err(failure);
        }
    }
    let dir = segsweep::sweep::reports::write_reports(&outcome)?;
    println!("{} runs, {} failed; reports in `{}`", outcome.runs.len(), outcome.n_failed(), dir.display());
    if !end.all_cached() {
        println!("fix the failures above and submit again: only the missing stages are submitted");
    }
    Ok(exit_code(&end))
}

fn exit_code(status: &SweepStatus) -> ExitCode {
    if status.all_cached() { ExitCode::SUCCESS } else { ExitCode::from(2) }
}

/// `segsweep stage TASKS [--task N]`.
pub fn stage(args: &StageArgs) -> anyhow::Result<ExitCode> {
    segsweep::sweep::slurm::task::run_task(&args.tasks, args.task, &mut std::io::stdout())?;
    Ok(ExitCode::SUCCESS)
}
