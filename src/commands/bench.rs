//! `segsweep bench`: one model-math benchmark, printed as one JSON line for `cargo xtask bench`.

use std::process::ExitCode;

use segsweep::bench::{StepPlan, measure};

use crate::cli::BenchArgs;

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let config = segsweep::config::load(&args.config, &args.set)?.config;
    let device = segsweep::device::parse(&args.device)?;
    if args.threads > 0 {
        segsweep::device::set_threads(args.threads as i64);
    }
    let report =
        measure(&config, &device.device, &args.device, StepPlan { warmup: args.warmup, steps: args.steps.max(1) })?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
