//! `segsweep synth`: writes the built-in synthetic data set.

use std::process::ExitCode;

use segsweep::data::synth::SynthParams;
use segsweep::data::synth_io::{SynthFormat, write_synthetic};

use crate::cli::SynthArgs;

/// Generates and writes the set; prints where it went.
pub fn run(args: &SynthArgs) -> anyhow::Result<ExitCode> {
    let mut params = if args.ndim == 3 { SynthParams::default_3d() } else { SynthParams::default_2d() };
    params.n_classes = usize::from(args.classes);
    params.seed = args.seed;
    if let Some(n) = args.n_train {
        params.n_train = n;
    }
    if let Some(n) = args.n_test {
        params.n_test = n;
    }
    if let Some(size) = &args.size {
        params.size = size.clone();
    }
    let format = match args.format.as_str() {
        "zarr" => SynthFormat::Zarr,
        "h5" => SynthFormat::H5,
        _ => SynthFormat::Tif,
    };
    let n_files = write_synthetic(&args.out, &params, format)?;
    println!(
        "wrote {n_files} {} files to `{}` ({}D, {} classes, seed {})",
        args.format,
        args.out.display(),
        params.ndim,
        params.n_classes,
        params.seed
    );
    Ok(ExitCode::SUCCESS)
}
