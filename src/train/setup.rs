//! From a resolved config to the training and validation [`SampleSet`]s: read and check the
//! training folder, measure every image, drop the samples `DATA.TRAIN.FILTER_SAMPLES` discards
//! (spec §3.9), split off validation (spec §3.3: whole images when there are two or more, grid
//! patches of the one image otherwise, by `SPLIT_TRAIN` or a `CROSS_VAL` fold, or a separate
//! folder with `DATA.VAL.FROM_TRAIN: False`), filter it with `DATA.VAL.FILTER_SAMPLES`, choose
//! the patch plan of each set, and attach `DATA.RESOLUTION_NORM`'s per-image scales.

use std::io::Write;
use std::path::Path;

use super::error::TrainError;
use super::pool::Pool;
use super::prob_maps;
use super::resolution_norm::ResolutionNorm;
use super::samples::{ImageOptions, SampleSet, prepare_images, reread};
use super::seed::{cross_val_seed, derive};
use crate::augment::Augmenter;
use crate::config::{Config, FillMode, FilterRules, FilterSamples, Ndim};
use crate::data::dataset::{SplitSpec, config_splits, load_split, split_hash};
use crate::data::split::{cross_val_fold, split_train_val};

/// `(z, y, x)` of a 2D `(y, x)` or 3D `(z, y, x)` setting; 2D gets `z = fill`.
pub fn zyx<T: Copy>(values: &[T], ndim: Ndim, fill: T) -> [T; 3] {
    match ndim {
        Ndim::D2 => [fill, values[0], values[1]],
        Ndim::D3 => [values[0], values[1], values[2]],
    }
}

/// The `(z, y, x)` patch of `DATA.PATCH_SIZE`.
pub fn patch_zyx(config: &Config) -> [usize; 3] {
    zyx(&config.data.patch_size, config.problem.ndim, 1)
}

/// The training and validation sets of a run with effective seed `seed`; probability maps (if
/// used) are kept in `prob_map_dir`, `DATA.SAVE_FILTERED_IMAGES`' examples in
/// `filtered_dir/{train,val}`. Sample filtering and the cross-validation fold print BiaPy's
/// lines to `out`.
pub fn build_sets(
    config: &Config,
    seed: u64,
    prob_map_dir: &Path,
    filtered_dir: &Path,
    out: &mut dyn Write,
) -> Result<(SampleSet, SampleSet), TrainError> {
    let splits = config_splits(config);
    let train_spec = splits.first().cloned().ok_or(TrainError::NothingToTrain)?;
    let val_spec = (!config.data.val.from_train).then(|| splits.get(1)).flatten();
    let resolution_norm = ResolutionNorm::load(config, &train_spec, val_spec)?;
    let options = image_options(config, train_spec);
    let mut images = prepare_images(load_split(&options.spec)?, &options)?;
    if let Some(weights) = options.prob_weights {
        let masks =
            images.iter().map(|entry| reread(&options, entry).map(|(_, mask)| mask)).collect::<Result<Vec<_>, _>>()?;
        prob_maps::attach(&mut images, &masks, weights, &split_hash(&options.spec)?, options.patch, prob_map_dir)?;
    }
    let augmenter = if config.augmentor.enable {
        Some(Augmenter::from_config(&config.augmentor, config.problem.ndim, options.patch)?)
    } else {
        None
    };
    let data = &config.data;
    let ndim = config.problem.ndim;
    let grid = |overlap: &[f64], padding: &[usize]| {
        (!data.train.extract_random_patch).then(|| (zyx(overlap, ndim, 0.0), zyx(padding, ndim, 0)))
    };
    let train_grid = grid(&data.train.overlap, &data.train.padding);
    let mut pool = Pool::new(images, options.patch, train_grid)?;
    let by_image = data.filter_by_image;
    let save = |phase: &str| {
        let num = usize::try_from(data.save_filtered_images_num).unwrap_or(0);
        data.save_filtered_images.then(|| (filtered_dir.join(phase), num))
    };
    if let Some(rules) = filter_rules(&data.train.filter_samples, "DATA.TRAIN.FILTER_SAMPLES")? {
        let save = save("train");
        let save = save.as_ref().map(|(dir, n)| (dir.as_path(), *n));
        pool = pool.filter(&rules, by_image, &options, "DATA.TRAIN.FILTER_SAMPLES", save, out)?;
    }
    let (train, val, val_options) = if data.val.from_train {
        let (train, val) = split_from_train(config, pool, seed, out)?;
        (train, val, options.clone())
    } else {
        let val_spec = splits.get(1).cloned().ok_or(TrainError::NoValidationData)?;
        let val_options = ImageOptions { spec: val_spec, prob_weights: None, ..options.clone() };
        let val_images = prepare_images(load_split(&val_options.spec)?, &val_options)?;
        let val = Pool::new(val_images, options.patch, grid(&data.val.overlap, &data.val.padding))?;
        (pool, val, val_options)
    };
    let val = match filter_rules(&data.val.filter_samples, "DATA.VAL.FILTER_SAMPLES")? {
        Some(rules) => {
            let save = save("val");
            let save = save.as_ref().map(|(dir, n)| (dir.as_path(), *n));
            val.filter(&rules, by_image, &val_options, "DATA.VAL.FILTER_SAMPLES", save, out)?
        }
        None => val,
    };
    let (mut train_images, train_plan) = train.into_plan(false);
    let (mut val_images, val_plan) = val.into_plan(true);
    let (augmenter, val_augmenter) = match resolution_norm {
        Some(norm) => {
            norm.attach(&mut train_images, false, out);
            norm.attach(&mut val_images, true, out);
            let (patch, affine) = (options.patch, config.augmentor.affine_mode);
            (
                Some(norm.augmenter(config, augmenter, &train_images, patch, affine)?),
                Some(norm.augmenter(config, None, &val_images, patch, FillMode::Constant)?),
            )
        }
        None => (augmenter, None),
    };
    let replicate = usize::try_from(data.train.replicate).unwrap_or(1).max(1);
    let train = SampleSet {
        images: train_images,
        plan: train_plan,
        options,
        augmenter,
        per_epoch_draws: true,
        seed,
        replicate,
    };
    let val = SampleSet {
        images: val_images,
        plan: val_plan,
        options: val_options,
        augmenter: val_augmenter,
        per_epoch_draws: false,
        seed: derive(seed, "validation", &[]),
        replicate: 1,
    };
    if train.is_empty() || val.is_empty() {
        return Err(TrainError::EmptySplit { n_train: train.len(), n_val: val.len() });
    }
    Ok((train, val))
}

fn filter_rules(config: &FilterSamples, key: &str) -> Result<Option<FilterRules>, TrainError> {
    FilterRules::from_config(config, key).map_err(|e| TrainError::Setting(e.to_string()))
}

fn image_options(config: &Config, spec: SplitSpec) -> ImageOptions {
    let train = &config.data.train;
    ImageOptions {
        spec,
        in_memory: train.in_memory,
        reflect_to_complete: config.data.reflect_to_complete_shape,
        patch: patch_zyx(config),
        normalization: config.data.normalization.clone(),
        prob_weights: (train.extract_random_patch && train.probability_map)
            .then_some((train.w_foreground, train.w_background)),
        draw_grid: config.augmentor.draw_grid,
    }
}

/// Validation carved out of training (spec §3.3): by whole images when there are two or more,
/// else by the grid patches of the single image; by a fraction or by a cross-validation fold.
fn split_from_train(config: &Config, pool: Pool, seed: u64, out: &mut dyn Write) -> Result<(Pool, Pool), TrainError> {
    let val = &config.data.val;
    let split_seed = derive(seed, "split", &[]);
    let by_images = pool.images.len() >= 2;
    if !by_images && pool.grid.is_none() {
        return Err(TrainError::OneImageRandomSplit);
    }
    let n = if by_images { pool.images.len() } else { pool.n_samples() };
    let (train_idx, val_idx) = if val.cross_val {
        let nfold = usize::try_from(val.cross_val_nfold).unwrap_or(0);
        let fold = usize::try_from(val.cross_val_fold).unwrap_or(0);
        let (train, val_idx) = cross_val_fold(n, nfold, fold, val.random, cross_val_seed(config))?;
        writeln!(out, "Fold number {fold}. Indexes used in cross validation: {val_idx:?}").ok();
        (train, val_idx)
    } else {
        split_train_val(n, val.split_train, val.random, split_seed)?
    };
    if by_images {
        return Ok(pool.split_images(&train_idx, &val_idx));
    }
    Ok((pool.keep_patches(&train_idx), pool.keep_patches(&val_idx)))
}
