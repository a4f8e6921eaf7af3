//! `segsweep run`: BiaPy's command — same flags, same results tree, same printed lines.

use std::process::ExitCode;

use anyhow::Context;
use segsweep::config;
use segsweep::layout::{RunLayout, check_job_name};

use crate::cli::JobArgs;

/// Loads the config and runs the job.
pub fn run(args: &JobArgs) -> anyhow::Result<ExitCode> {
    let config = config::load(&args.config, &args.set)?.config;
    check_job_name(&args.name).map_err(anyhow::Error::msg)?;
    let device_name = args.device.clone().unwrap_or_else(|| config.system.device.clone());
    let device = segsweep::device::parse(&device_name)?;
    segsweep::device::set_threads(config.system.num_cpus);
    let layout = RunLayout::new(&args.result_dir, &args.name, args.run_id);
    let mut stdout = std::io::stdout();
    segsweep::run::run_job(&config, &layout, args.run_id, &device, segsweep::device::kind(&device_name), &mut stdout)
        .with_context(|| format!("job `{}`", layout.job_id))?;
    Ok(ExitCode::SUCCESS)
}
