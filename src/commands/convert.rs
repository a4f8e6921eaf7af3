//! `segsweep export` / `segsweep import`: weights between segsweep's formats and BiaPy's (the
//! conversion itself is [`segsweep::train::interop::convert`]), ONNX graphs and BioImage Model
//! Zoo packages ([`segsweep::export`]).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use burn::prelude::Device;
use segsweep::config::{self, Config};
use segsweep::export::bmz;
use segsweep::model::{ModelSpec, SegModel};
use segsweep::train::interop::{self, Direction, convert};

use crate::cli::ConvertArgs;

/// Builds the config's network, loads `from` into it and writes `to`.
pub fn run(args: &ConvertArgs, direction: Direction) -> anyhow::Result<ExitCode> {
    let (config_path, from, to) = args.paths()?;
    if args.bmz.is_some() && direction == Direction::Import {
        anyhow::bail!("--bmz writes a package: use it with `segsweep export`");
    }
    let config = config::load(config_path, &args.set)?.config;
    let spec = ModelSpec::from_config(&config)?;
    let model = SegModel::try_new(&spec, &Device::flex())?;
    let context = || format!("converting `{}` to `{}`", from.display(), to.display());
    if args.bmz.is_some() {
        return package(&config, model, from, to);
    }
    if direction == Direction::Export && to.extension().is_some_and(|e| e == "onnx") {
        let model = interop::load(from, model).with_context(context)?;
        segsweep::atomic::write(to, segsweep::export::onnx::to_bytes(&model))
            .with_context(|| format!("writing `{}`", to.display()))?;
        println!(
            "wrote `{}` (ONNX opset {}, {} parameters)",
            to.display(),
            segsweep::export::onnx::OPSET,
            model.n_params()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let n_params = convert(direction, model, &config, from, to).with_context(context)?;
    println!("wrote `{}` ({n_params} parameters)", to.display());
    Ok(ExitCode::SUCCESS)
}

/// `export CONFIG FROM --bmz OUT.zip`.
fn package(config: &Config, model: SegModel, from: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let missing = bmz::metadata::missing_fields(&config.model.bmz.export);
    if !missing.is_empty() {
        return Err(bmz::ExportError::Metadata(missing).into());
    }
    let model = interop::load(from, model).with_context(|| format!("loading `{}`", from.display()))?;
    let sample = bmz::sample::make(config, &model)?;
    let written = bmz::write_package(out, config, &model, &sample)?;
    println!("wrote `{}`: {}", out.display(), written.files.join(", "));
    if let Some(why) = written.no_torch {
        println!("no PyTorch weights in the package (ONNX only): {why}");
    }
    Ok(ExitCode::SUCCESS)
}
