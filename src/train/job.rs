//! A whole training job as `segsweep train` and `segsweep run` do it: write the resolved config,
//! build the sample sets, write the augmentation samples, train, and print BiaPy's
//! end-of-training lines (spec §10.4).

use std::io::Write;
use std::path::Path;

use crate::device::{DeviceKind, RunDevice};

use super::error::TrainError;
use super::run::{TrainOptions, TrainOutcome, train};
use super::seed::run_seed;
use super::setup::build_sets;
use crate::config::{Config, to_yaml};
use crate::data::dataset::{config_splits, split_hash};
use crate::data::hash::sha256_hex;
use crate::layout::RunLayout;
use crate::model::{ModelSpec, summary};
use crate::plot::diagram::{Block, BlockKind, network_diagram};

/// Bump when training code changes its results; it is part of every fingerprint and train key.
/// 2: `attention_unet` and `seunet` have BiaPy 3.7.1's exact layout (one W_g norm; SE in the
/// bottleneck), so their older checkpoints are other networks. 3: `leaky_relu` has BiaPy's slope
/// (0.01, not 0.2). 4: instance and batch norm run as one backend operation (fused kernels in the
/// vendored burn-flex, libtorch's in burn-tch): the same formula, other rounding. 5: burn-flex
/// computes convolution gradients as GEMMs and uses its AVX-512 GEMM kernels where the CPU has
/// them: the same sums, other rounding. 6: burn-flex's f32 `exp` is a vectorised polynomial
/// (within 2 ulp of libm's): ELU's values round differently.
pub const TRAIN_CODE_VERSION: u32 = 6;

/// Trains run `run_id` of `config` into `layout`, printing progress lines to `out`.
pub fn train_job(
    config: &Config,
    layout: &RunLayout,
    run_id: u64,
    device: &RunDevice,
    out: &mut dyn Write,
) -> Result<TrainOutcome, TrainError> {
    write_config(config, &layout.config_file())?;
    let seed = run_seed(config.system.seed, run_id);
    let prob_map_dir = match config.paths.prob_map_dir.as_str() {
        "" => layout.result("prob_map"),
        dir => std::path::PathBuf::from(dir),
    };
    let sets = build_sets(config, seed, &prob_map_dir, &layout.result("filtering_information"), out)?;
    writeln!(
        out,
        "Training samples: {} patches from {} images; validation samples: {}",
        sets.0.len(),
        sets.0.images.len(),
        sets.1.len()
    )
    .ok();
    let fingerprint = fingerprint(config, seed, device.kind)?;
    draw_model(config, layout)?;
    if config.augmentor.enable && config.augmentor.aug_samples {
        super::aug_samples::write(&sets.0, config.augmentor.aug_num_samples, &layout.result("aug"))?;
    }
    if config.data.check_generators {
        writeln!(out, "Check generator . . .").ok();
        super::gen_check::write(&sets.0, &sets.1, &layout.results())?;
    }
    let options = TrainOptions { seed, device: device.device.clone().autodiff(), fingerprint, progress: true };
    let outcome =
        crate::device::guard(&device.context(config, "training"), || train(config, layout, sets, &options, out))?;
    print_summary(&outcome, out);
    Ok(outcome)
}

/// `charts/model_plot_<job_id>.png`: the network as a U of blocks with their output shapes.
pub fn draw_model(config: &Config, layout: &RunLayout) -> Result<(), TrainError> {
    let spec = ModelSpec::from_config(config)?;
    let spatial = &config.data.patch_size[..config.data.patch_size.len() - 1];
    let blocks: Vec<Block> = summary(&spec, spatial)?
        .into_iter()
        .filter_map(|row| {
            let level = |prefix: &str| row.name.strip_prefix(prefix).and_then(|n| n.trim().parse::<usize>().ok());
            let kind = match row.name.as_str() {
                "bottleneck" => BlockKind::Bottleneck,
                "head" => BlockKind::Head,
                _ => level("encoder").map(BlockKind::Encoder).or_else(|| level("decoder").map(BlockKind::Decoder))?,
            };
            let shape = format!("{:?}", &row.output_shape[1..]);
            Some(Block { kind, name: row.name, shape, n_params: row.n_params })
        })
        .collect();
    let charts = layout.result("charts");
    std::fs::create_dir_all(&charts).map_err(TrainError::write(&charts))?;
    let title =
        format!("{} ({} parameters)", config.model.architecture, blocks.iter().map(|b| b.n_params).sum::<usize>());
    network_diagram(&charts.join(format!("model_plot_{}.png", layout.job_id)), &title, &blocks)?;
    Ok(())
}

/// Writes the resolved config (atomically).
pub fn write_config(config: &Config, path: &Path) -> Result<(), TrainError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(TrainError::write(dir))?;
    }
    crate::atomic::write(path, to_yaml(config)?).map_err(TrainError::write(path))
}

/// sha256 of what defines a training: the config sections that can change it, the content of
/// the training (and validation) data, the effective seed, the device kind and the code version.
pub fn fingerprint(config: &Config, seed: u64, device_kind: DeviceKind) -> Result<String, TrainError> {
    let sections = serde_json::json!({
        "problem": config.problem, "data": config.data, "augmentor": config.augmentor,
        "model": config.model, "loss": config.loss, "train": config.train,
    });
    let mut text = format!("v{TRAIN_CODE_VERSION}\n{seed}\n{device_kind}\n{sections}\n");
    for spec in config_splits(config).iter().filter(|s| s.role.is_training()) {
        text.push_str(&split_hash(spec)?);
        text.push('\n');
    }
    Ok(sha256_hex(text.as_bytes()))
}

/// The lines BiaPy prints after training.
pub fn print_summary(outcome: &TrainOutcome, out: &mut dyn Write) {
    let last = outcome.rows.last();
    writeln!(out, "Training time: {}", hms(outcome.seconds)).ok();
    writeln!(out, "Train loss: {}", last.map_or(f64::NAN, |r| r.train_loss)).ok();
    writeln!(out, "Train IoU: {}", last.map_or(f64::NAN, |r| r.train_iou)).ok();
    writeln!(out, "Validation loss: {}", outcome.best_val_loss).ok();
    writeln!(out, "Validation IoU: {}", outcome.best_val_iou).ok();
    writeln!(out, "Finished Training").ok();
}

/// `H:MM:SS`, as Python's `timedelta` prints whole seconds.
pub fn hms(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn hms_like_python() {
        assert_eq!(super::hms(3725.4), "1:02:05");
        assert_eq!(super::hms(0.2), "0:00:00");
    }
}
