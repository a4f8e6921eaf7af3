//! `segsweep run`: BiaPy's command — same flags, same results tree, same printed lines.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use super::job::prepare;
use crate::cli::JobArgs;

/// Loads the config and runs the job.
pub fn run(args: &JobArgs) -> anyhow::Result<ExitCode> {
    let job = prepare(args)?;
    let mut stdout = std::io::stdout();
    for line in &job.notes {
        writeln!(stdout, "{line}")?;
    }
    segsweep::run::run_job(&job.config, &job.layout, args.run_id, &job.device, &mut stdout)
        .with_context(|| format!("job `{}`", job.layout.job_id))?;
    Ok(ExitCode::SUCCESS)
}
