//! `segsweep model`: the network's blocks with their output shapes and parameter counts.

use std::process::ExitCode;

use segsweep::config;
use segsweep::model::{ModelSpec, summary};

use crate::cli::ConfigArgs;

/// Prints the per-block table for one patch of `DATA.PATCH_SIZE`.
pub fn run(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let config = config::load(args.path(), &args.set)?.config;
    let spec = ModelSpec::from_config(&config)?;
    let spatial = &config.data.patch_size[..config.data.patch_size.len() - 1];
    let rows = summary(&spec, spatial)?;
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(5).max(5);
    println!("{:width$}  {:>24}  {:>12}", "Layer", "Output shape", "Parameters");
    let mut total = 0;
    for row in &rows {
        let shape = format!("{:?}", row.output_shape);
        println!("{:width$}  {:>24}  {:>12}", row.name, shape, row.n_params);
        total += row.n_params;
    }
    println!("{:width$}  {:>24}  {:>12}", "Total", "", total);
    Ok(ExitCode::SUCCESS)
}
