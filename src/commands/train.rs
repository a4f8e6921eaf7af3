//! `segsweep train`: BiaPy's job arguments, one training.

use std::process::ExitCode;

use anyhow::{Context, bail};
use segsweep::config;
use segsweep::layout::{RunLayout, check_job_name};

use crate::cli::JobArgs;

/// Loads the config, checks it asks for training, and trains.
pub fn run(args: &JobArgs) -> anyhow::Result<ExitCode> {
    let loaded = config::load(&args.config, &args.set)?;
    let config = loaded.config;
    if !config.train.enable {
        bail!(
            "`TRAIN.ENABLE` is False in `{}`: nothing to train (set it or use --set TRAIN.ENABLE=True)",
            args.config.display()
        );
    }
    check_job_name(&args.name).map_err(anyhow::Error::msg)?;
    let device_name = args.device.clone().unwrap_or_else(|| config.system.device.clone());
    let device = segsweep::device::parse(&device_name)?;
    segsweep::device::set_threads(config.system.num_cpus);
    let layout = RunLayout::new(&args.result_dir, &args.name, args.run_id);
    let mut stdout = std::io::stdout();
    segsweep::train::train_job(
        &config,
        &layout,
        args.run_id,
        &device,
        segsweep::device::kind(&device_name),
        &mut stdout,
    )
    .with_context(|| format!("training `{}`", layout.job_id))?;
    Ok(ExitCode::SUCCESS)
}
