//! What `run` and `train` share: BiaPy's job arguments turned into a resolved config (with the
//! checkpoint's `MODEL.*` and `DATA.NORMALIZATION.*` when `MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT`
//! asks for them), a device (with `SYSTEM.NUM_CPUS` applied) and the run's results layout.

use segsweep::config::{self, Config};
use segsweep::device::RunDevice;
use segsweep::layout::{RunLayout, check_job_name};
use segsweep::train::checkpoint::Checkpoints;
use segsweep::train::{interop, pth};

use crate::cli::JobArgs;

/// A job ready to run.
pub struct Job {
    pub config: Config,
    pub device: RunDevice,
    pub layout: RunLayout,
    /// BiaPy's lines about what was taken from the checkpoint's config.
    pub notes: Vec<String>,
}

/// Loads the config (`--set` applied), checks the job name and picks the device (`--device`,
/// else `SYSTEM.DEVICE`).
pub fn prepare(args: &JobArgs) -> anyhow::Result<Job> {
    let config = config::load(&args.config, &args.set)?.config;
    check_job_name(&args.name).map_err(anyhow::Error::msg)?;
    let layout = RunLayout::new(&args.result_dir, &args.name, args.run_id);
    let (config, notes) = match from_checkpoint(&config, &layout)? {
        Some((layer, notes)) => (config::load_with(&args.config, &args.set, layer)?.config, notes),
        None => (config, Vec::new()),
    };
    let device_name = args.device.clone().unwrap_or_else(|| config.system.device.clone());
    segsweep::device::refuse_measurement_switches()?;
    let device = segsweep::device::parse(&device_name)?;
    segsweep::device::set_threads(config.system.num_cpus);
    Ok(Job { config, device, layout, notes })
}

/// With `MODEL.LOAD_CHECKPOINT` and a PyTorch checkpoint that carries its config, the layer of
/// that config's `MODEL.*` / `DATA.NORMALIZATION.*` that `MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT`
/// asks for (safetensors checkpoints carry none). A missing file is left to the loading, which
/// names it.
fn from_checkpoint(
    config: &Config,
    layout: &RunLayout,
) -> anyhow::Result<Option<(config::raw::RawLayer, Vec<String>)>> {
    if !config.model.load_checkpoint || config.model.source != "biapy" {
        return Ok(None);
    }
    let file = &config.paths.checkpoint_file;
    let path = if file.is_empty() { Checkpoints::of(layout, config).best() } else { interop::resolve(file.as_ref()) };
    if !pth::is_pytorch(&path) || !path.is_file() {
        return Ok(None);
    }
    let Some(saved) = pth::saved_config(&path).map_err(|e| anyhow::anyhow!("checkpoint `{}`: {e}", path.display()))?
    else {
        return Ok(None);
    };
    Ok(config::checkpoint::checkpoint_layer(&saved, &config.model.items_to_load_from_checkpoint, &path))
}
