//! From a resolved config to the training and validation [`SampleSet`]s: read and check the
//! training folder, measure every image, drop the samples `DATA.TRAIN.FILTER_SAMPLES` discards
//! (spec §3.9), split off validation (spec §3.3: whole images when there are two or more, grid
//! patches of the one image otherwise, by `SPLIT_TRAIN` or a `CROSS_VAL` fold, or a separate
//! folder with `DATA.VAL.FROM_TRAIN: False`), filter it with `DATA.VAL.FILTER_SAMPLES`, and
//! choose the patch plan of each set.

use std::io::Write;
use std::path::Path;

use super::error::TrainError;
use super::prob_maps;
use super::samples::{ImageOptions, Plan, SampleSet, TrainImage, grid_patches, prepare_images, reread};
use super::seed::{cross_val_seed, derive};
use crate::augment::Augmenter;
use crate::config::{Config, FilterRules, FilterSamples, Ndim};
use crate::data::dataset::{SplitSpec, config_splits, load_split, split_hash};
use crate::data::filter::{Ranges, discards};
use crate::data::normalize::apply;
use crate::data::split::{cross_val_fold, split_train_val};
use crate::data::window::crop_reflect;

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
/// used) are kept in `prob_map_dir`. Sample filtering and the cross-validation fold print
/// BiaPy's lines to `out`.
pub fn build_sets(
    config: &Config,
    seed: u64,
    prob_map_dir: &Path,
    out: &mut dyn Write,
) -> Result<(SampleSet, SampleSet), TrainError> {
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
    let grid = |overlap: &[f64], padding: &[usize]| {
        (!data.train.extract_random_patch).then(|| (zyx(overlap, ndim, 0.0), zyx(padding, ndim, 0)))
    };
    let train_grid = grid(&data.train.overlap, &data.train.padding);
    let mut pool = Pool::new(images, options.patch, train_grid)?;
    let by_image = data.filter_by_image;
    if let Some(rules) = filter_rules(&data.train.filter_samples, "DATA.TRAIN.FILTER_SAMPLES")? {
        pool = pool.filter(&rules, by_image, &options, "DATA.TRAIN.FILTER_SAMPLES", out)?;
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
        Some(rules) => val.filter(&rules, by_image, &val_options, "DATA.VAL.FILTER_SAMPLES", out)?,
        None => val,
    };
    let (train_images, train_plan) = train.into_plan(false);
    let (val_images, val_plan) = val.into_plan(true);
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

fn filter_rules(config: &FilterSamples, key: &str) -> Result<Option<FilterRules>, TrainError> {
    FilterRules::from_config(config, key).map_err(|e| TrainError::Filter(e.to_string()))
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

/// Grid patches `(image index, start in padded coordinates)` and the padding.
type Grid = (Vec<(usize, [usize; 3])>, [usize; 3]);

/// The images of a split and, for the grid plan, their patches; `None` for random patches.
struct Pool {
    images: Vec<TrainImage>,
    grid: Option<Grid>,
}

impl Pool {
    /// Every image, and every grid patch of each when `grid` gives `(overlap, padding)`.
    fn new(
        images: Vec<TrainImage>,
        patch: [usize; 3],
        grid: Option<([f64; 3], [usize; 3])>,
    ) -> Result<Self, TrainError> {
        let grid = match grid {
            Some((overlap, padding)) => {
                let all: Vec<usize> = (0..images.len()).collect();
                Some((grid_patches(&images, &all, patch, overlap, padding)?, padding))
            }
            None => None,
        };
        Ok(Self { images, grid })
    }

    /// Samples: grid patches, or images for random patches.
    fn n_samples(&self) -> usize {
        self.grid.as_ref().map_or(self.images.len(), |(patches, _)| patches.len())
    }

    /// The pool of the images `keep` (sorted indices), their patches re-indexed.
    fn keep_images(self, keep: &[usize]) -> Self {
        self.split_images(keep, &[]).0
    }

    /// The pools of the images `a` and of the images `b` (disjoint sorted indices), their patches
    /// re-indexed.
    fn split_images(self, a: &[usize], b: &[usize]) -> (Self, Self) {
        let reindex = |keep: &[usize]| {
            let mut new_index = vec![None; self.images.len()];
            for (new, &old) in keep.iter().enumerate() {
                new_index[old] = Some(new);
            }
            self.grid.as_ref().map(|(patches, padding)| {
                (patches.iter().filter_map(|&(i, p)| new_index[i].map(|n| (n, p))).collect(), *padding)
            })
        };
        let (grid_a, grid_b) = (reindex(a), reindex(b));
        let mut slots: Vec<Option<TrainImage>> = self.images.into_iter().map(Some).collect();
        let mut take = |keep: &[usize]| keep.iter().filter_map(|&i| slots[i].take()).collect();
        (Self { images: take(a), grid: grid_a }, Self { images: take(b), grid: grid_b })
    }

    /// The pool of the grid patches `keep` (sorted indices), over the same images.
    fn keep_patches(&self, keep: &[usize]) -> Self {
        let grid = self.grid.as_ref().map(|(patches, padding)| (keep.iter().map(|&i| patches[i]).collect(), *padding));
        Self { images: self.images.clone(), grid }
    }

    /// Drops the samples `rules` discards (spec §3.9): whole images with `by_image` or random
    /// patches, else grid patches; images left without patches leave the pool. Prints BiaPy's
    /// lines; an error when nothing is left.
    fn filter(
        self,
        rules: &FilterRules,
        by_image: bool,
        options: &ImageOptions,
        key: &str,
        out: &mut dyn Write,
    ) -> Result<Self, TrainError> {
        writeln!(out, "Applying filtering to data samples . . .").ok();
        let whole_images = by_image || self.grid.is_none();
        let before = if whole_images { self.images.len() } else { self.n_samples() };
        writeln!(out, "Number of samples before filtering: {before}").ok();
        let mut kept_images = Vec::new();
        let mut kept_patches = Vec::new();
        for (i, entry) in self.images.iter().enumerate() {
            let (mut image, mask) = reread(options, entry)?;
            if rules.norm_before {
                apply(image.as_mut_slice(), &entry.stats);
            }
            let ranges = Ranges::of(image.as_slice(), Some(mask.as_slice()));
            if whole_images {
                if discards(rules, image.as_slice(), Some(mask.as_slice()), ranges) {
                    writeln!(out, "Discarding file {}", entry.image_path.display()).ok();
                } else {
                    kept_images.push(i);
                }
                continue;
            }
            let (patches, padding) = self.grid.as_ref().expect("grid pool");
            let mut any = false;
            for (n, &(_, start)) in patches.iter().enumerate().filter(|(_, (image_idx, _))| *image_idx == i) {
                let from: [isize; 3] = std::array::from_fn(|a| start[a] as isize - padding[a] as isize);
                let window = (crop_reflect(&image, from, options.patch), crop_reflect(&mask, from, options.patch));
                if !discards(rules, window.0.as_slice(), Some(window.1.as_slice()), ranges) {
                    kept_patches.push(n);
                    any = true;
                }
            }
            if any {
                kept_images.push(i);
            }
        }
        let after = if whole_images { kept_images.len() } else { kept_patches.len() };
        if after == 0 {
            return Err(TrainError::AllFiltered { key: key.to_string(), before });
        }
        writeln!(out, "Number of samples after filtering: {after}").ok();
        let pool = if whole_images { self } else { self.keep_patches(&kept_patches) };
        Ok(pool.keep_images(&kept_images))
    }

    /// The images and the plan; `fixed` random crops for validation.
    fn into_plan(self, fixed: bool) -> (Vec<TrainImage>, Plan) {
        let plan = match self.grid {
            Some((patches, padding)) => Plan::Grid { patches, padding },
            None => Plan::Random { fixed },
        };
        (self.images, plan)
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
