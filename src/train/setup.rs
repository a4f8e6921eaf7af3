//! From a resolved config to the training and validation [`SampleSet`]s: read and check the
//! training folder, measure every image, split off validation (spec §3.3: whole images when there
//! are two or more, grid patches of the one image otherwise, or a separate folder with
//! `DATA.VAL.FROM_TRAIN: False`), and choose the patch plan of each set.

use super::error::TrainError;
use std::path::Path;

use super::prob_maps;
use super::samples::{ImageOptions, Plan, SampleSet, TrainImage, grid_patches, grid_plan, prepare_images, reread};
use super::seed::derive;
use crate::augment::Augmenter;
use crate::config::{Config, Ndim};
use crate::data::dataset::{SplitSpec, config_splits, load_split, split_hash};
use crate::data::split::split_train_val;

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
/// used) are kept in `prob_map_dir`.
pub fn build_sets(config: &Config, seed: u64, prob_map_dir: &Path) -> Result<(SampleSet, SampleSet), TrainError> {
    let splits = config_splits(config);
    let train_spec = splits.first().cloned().ok_or(TrainError::NothingToTrain)?;
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
    let overlap = zyx(&data.train.overlap, ndim, 0.0);
    let padding = zyx(&data.train.padding, ndim, 0);
    let random = data.train.extract_random_patch;
    let (train_images, train_plan, val_images, val_plan, val_options) = if data.val.from_train {
        let (t, v) = split_from_train(config, images, overlap, padding, seed)?;
        (t.0, t.1, v.0, v.1, options.clone())
    } else {
        let val_spec = splits.get(1).cloned().ok_or(TrainError::NoValidationData)?;
        let val_options = ImageOptions { spec: val_spec, prob_weights: None, ..options.clone() };
        let val_images = prepare_images(load_split(&val_options.spec)?, &val_options)?;
        let all: Vec<usize> = (0..images.len()).collect();
        let train_plan = if random {
            Plan::Random { fixed: false }
        } else {
            grid_plan(&images, &all, options.patch, overlap, padding)?
        };
        let val_all: Vec<usize> = (0..val_images.len()).collect();
        let val_plan = if random {
            Plan::Random { fixed: true }
        } else {
            grid_plan(
                &val_images,
                &val_all,
                options.patch,
                zyx(&data.val.overlap, ndim, 0.0),
                zyx(&data.val.padding, ndim, 0),
            )?
        };
        (images, train_plan, val_images, val_plan, val_options)
    };
    let replicate = usize::try_from(data.train.replicate).unwrap_or(1).max(1);
    let train = SampleSet { images: train_images, plan: train_plan, options, augmenter, seed, replicate };
    let val = SampleSet {
        images: val_images,
        plan: val_plan,
        options: val_options,
        augmenter: None,
        seed: derive(seed, "validation", &[]),
        replicate: 1,
    };
    if train.is_empty() || val.is_empty() {
        return Err(TrainError::EmptySplit { n_train: train.len(), n_val: val.len() });
    }
    Ok((train, val))
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

type Part = (Vec<TrainImage>, Plan);

/// Validation carved out of training: by whole images when there are two or more, else by the
/// grid patches of the single image.
fn split_from_train(
    config: &Config,
    images: Vec<TrainImage>,
    overlap: [f64; 3],
    padding: [usize; 3],
    seed: u64,
) -> Result<(Part, Part), TrainError> {
    let val = &config.data.val;
    let random = config.data.train.extract_random_patch;
    let patch = patch_zyx(config);
    let split_seed = derive(seed, "split", &[]);
    if images.len() >= 2 {
        let (train_idx, val_idx) = split_train_val(images.len(), val.split_train, val.random, split_seed)?;
        let mut slots: Vec<Option<TrainImage>> = images.into_iter().map(Some).collect();
        let mut take = |idx: &[usize]| idx.iter().filter_map(|&i| slots[i].take()).collect::<Vec<_>>();
        let (train_images, val_images) = (take(&train_idx), take(&val_idx));
        let plan = |imgs: &[TrainImage], fixed: bool| -> Result<Plan, TrainError> {
            if random {
                Ok(Plan::Random { fixed })
            } else {
                grid_plan(imgs, &(0..imgs.len()).collect::<Vec<_>>(), patch, overlap, padding)
            }
        };
        let (train_plan, val_plan) = (plan(&train_images, false)?, plan(&val_images, true)?);
        return Ok(((train_images, train_plan), (val_images, val_plan)));
    }
    if random {
        return Err(TrainError::OneImageRandomSplit);
    }
    let patches = grid_patches(&images, &[0], patch, overlap, padding)?;
    let (train_idx, val_idx) = split_train_val(patches.len(), val.split_train, val.random, split_seed)?;
    let pick = |idx: &[usize]| Plan::Grid { patches: idx.iter().map(|&i| patches[i]).collect(), padding };
    let val_images = images.clone();
    Ok(((images, pick(&train_idx)), (val_images, pick(&val_idx))))
}
