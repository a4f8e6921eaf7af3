//! `segsweep evaluate`: prints one row per prediction file and the mean IoU.

use std::process::ExitCode;

use segsweep::config::{self, Config};
use segsweep::infer::evaluate::evaluate_folders;

use crate::cli::EvaluateArgs;

/// Scores the prediction folder against the ground-truth folder.
pub fn run(args: &EvaluateArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => config::load(path, &args.set)?.config,
        None => {
            // Only the evaluation keys matter here; the defaults do not ask for training or testing.
            let mut set = args.set.clone();
            set.push("TEST.ENABLE=True".into());
            set.push("MODEL.LOAD_CHECKPOINT=True".into());
            config::load_str("{}", &set).map(|l| l.config).unwrap_or_else(|_| Config::default())
        }
    };
    let (rows, mean) = evaluate_folders(&args.pred, &args.gt, &config)?;
    println!("pred,gt,iou");
    for row in &rows {
        println!(
            "{},{},{}",
            row.pred,
            row.gt,
            row.iou.map(|v| v.to_string()).unwrap_or_else(|| "skipped (empty)".into())
        );
    }
    println!(
        "Mean IoU: {}",
        mean.map(|v| v.to_string()).unwrap_or_else(|| "nan (every image skipped as empty)".into())
    );
    Ok(ExitCode::SUCCESS)
}
