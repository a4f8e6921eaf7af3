//! `segsweep export` / `segsweep import`: weights between segsweep's formats and BiaPy's (the
//! conversion itself is [`segsweep::train::interop::convert`]).

use std::process::ExitCode;

use anyhow::Context;
use burn::prelude::Device;
use segsweep::config;
use segsweep::model::{ModelSpec, SegModel};
use segsweep::train::interop::{Direction, convert};

use crate::cli::ConvertArgs;

/// Builds the config's network, loads `from` into it and writes `to`.
pub fn run(args: &ConvertArgs, direction: Direction) -> anyhow::Result<ExitCode> {
    let (config_path, from, to) = args.paths()?;
    let config = config::load(config_path, &args.set)?.config;
    let spec = ModelSpec::from_config(&config)?;
    let model = SegModel::try_new(&spec, &Device::flex())?;
    let n_params = convert(direction, model, from, to)
        .with_context(|| format!("converting `{}` to `{}`", from.display(), to.display()))?;
    println!("wrote `{}` ({n_params} parameters)", to.display());
    Ok(ExitCode::SUCCESS)
}
