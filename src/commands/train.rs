//! `segsweep train`: BiaPy's job arguments, one training.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::job::prepare;
use crate::cli::JobArgs;

/// Loads the config, checks it asks for training, and trains.
pub fn run(args: &JobArgs) -> anyhow::Result<ExitCode> {
    let job = prepare(args)?;
    if !job.config.train.enable {
        bail!(
            "`TRAIN.ENABLE` is False in `{}`: nothing to train (set it or use --set TRAIN.ENABLE=True)",
            args.config.display()
        );
    }
    let mut stdout = std::io::stdout();
    for line in &job.notes {
        writeln!(stdout, "{line}")?;
    }
    segsweep::train::train_job(&job.config, &job.layout, args.run_id, &job.device, &mut stdout)
        .with_context(|| format!("training `{}`", job.layout.job_id))?;
    Ok(ExitCode::SUCCESS)
}
