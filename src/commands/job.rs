//! What `run` and `train` share: BiaPy's job arguments turned into a resolved config, a device
//! (with `SYSTEM.NUM_CPUS` applied) and the run's results layout.

use segsweep::config::{self, Config};
use segsweep::device::RunDevice;
use segsweep::layout::{RunLayout, check_job_name};

use crate::cli::JobArgs;

/// A job ready to run.
pub struct Job {
    pub config: Config,
    pub device: RunDevice,
    pub layout: RunLayout,
}

/// Loads the config (`--set` applied), checks the job name and picks the device (`--device`,
/// else `SYSTEM.DEVICE`).
pub fn prepare(args: &JobArgs) -> anyhow::Result<Job> {
    let config = config::load(&args.config, &args.set)?.config;
    check_job_name(&args.name).map_err(anyhow::Error::msg)?;
    let device_name = args.device.clone().unwrap_or_else(|| config.system.device.clone());
    segsweep::device::refuse_measurement_switches()?;
    let device = segsweep::device::parse(&device_name)?;
    segsweep::device::set_threads(config.system.num_cpus);
    let layout = RunLayout::new(&args.result_dir, &args.name, args.run_id);
    Ok(Job { config, device, layout })
}
