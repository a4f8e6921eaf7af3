//! Training and validation samples: which image and where each patch comes from, and how one
//! sample is produced — cut a window (reflect-filled past the border), normalise it with its
//! file's statistics, augment it (training only) and crop it back to `DATA.PATCH_SIZE`.
//!
//! Two plans (spec §3.4): a fixed patch grid over every image (`DATA.TRAIN.OVERLAP/PADDING`), one
//! epoch = every patch once; or random patches (`EXTRACT_RANDOM_PATCH`), one epoch = one crop per
//! image, optionally centred by the foreground probability map (§3.8). Every random choice
//! comes from a stream derived from the run seed, the epoch and the sample index, so a sample is
//! the same whichever thread builds it. Images are held un-normalised in memory
//! (`IN_MEMORY: True`) or re-read for every sample (`False`); patches are never stored.

use std::path::PathBuf;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

use super::error::TrainError;
use super::seed::derive;
use crate::augment::Augmenter;
use crate::data::Volume;
use crate::data::dataset::{Sample, SplitSpec, load_pair};
use crate::data::normalize::{NormStats, apply, compute_stats};
use crate::data::patches::GridError;
use crate::data::patches::{PatchGrid, complete_shape};
use crate::data::sampling::{CentreSampler, corner_from_centre, random_corner, unravel};
use crate::data::window::{crop_reflect, window_start};

/// One image of a split, ready to cut samples from.
#[derive(Clone, Debug)]
pub struct TrainImage {
    pub image_path: PathBuf,
    pub mask_path: PathBuf,
    /// Raw image and mask after shape completion, when held in memory.
    pub data: Option<(Volume<f32>, Volume<u16>)>,
    pub stats: NormStats,
    /// `(z, y, x)` after shape completion.
    pub shape: [usize; 3],
    /// Foreground-weighted centre sampler (random patches with `PROBABILITY_MAP`).
    pub sampler: Option<CentreSampler>,
    /// The probability map itself, kept for the check images and the map folder.
    pub prob_map: Option<Vec<f32>>,
    /// `DATA.RESOLUTION_NORM`: the in-plane scale of every sample of this image (its file's x
    /// spacing over the target's; 1 without it, or for a file `resolution.json` does not list).
    pub resolution_scale: f64,
}

impl TrainImage {
    /// Sets the probability map (and the sampler drawn from it); an all-zero map samples
    /// uniformly.
    pub fn set_prob_map(&mut self, map: Option<Vec<f32>>) {
        self.sampler = map.as_deref().filter(|m| m.iter().any(|&p| p > 0.0)).map(CentreSampler::new);
        self.prob_map = map;
    }
}

/// Where the samples of an epoch come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// `(image index, patch start in padded coordinates)` for every grid patch, and the padding.
    Grid { patches: Vec<(usize, [usize; 3])>, padding: [usize; 3] },
    /// One random crop per image per epoch; `fixed` re-uses the same crops every epoch
    /// (validation, as BiaPy re-seeds per index).
    Random { fixed: bool },
}

/// Options shared by the images of a split.
#[derive(Clone, Debug)]
pub struct ImageOptions {
    pub spec: SplitSpec,
    pub in_memory: bool,
    pub reflect_to_complete: bool,
    pub patch: [usize; 3],
    pub normalization: crate::config::Normalization,
    /// `(W_FOREGROUND, W_BACKGROUND)` when random patches use the probability map.
    pub prob_weights: Option<(f64, f64)>,
    /// `AUGMENTOR.DRAW_GRID`: burn BiaPy's debug grid into the `aug/` samples.
    pub draw_grid: bool,
}

/// The samples of one split (training or validation).
#[derive(Debug)]
pub struct SampleSet {
    pub images: Vec<TrainImage>,
    pub plan: Plan,
    pub options: ImageOptions,
    /// Training: `AUGMENTOR`'s transforms; validation: only `DATA.RESOLUTION_NORM`'s rescale.
    pub augmenter: Option<Augmenter>,
    /// Training draws its augmentations afresh every epoch; validation does not (BiaPy seeds
    /// its validation samples by index, so their crops never change).
    pub per_epoch_draws: bool,
    pub seed: u64,
    /// Every sample this many times per epoch (`DATA.TRAIN.REPLICATE`; ≤ 1 means once).
    pub replicate: usize,
}

/// Where a sample's patch lies: the image and the patch start (may be negative with padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub image: usize,
    pub start: [isize; 3],
}

/// One sample: a normalised image patch `(z, y, x, c)` and its labels `(z, y, x, 1)`.
pub type PatchPair = (Volume<f32>, Volume<u16>);

impl SampleSet {
    /// Distinct samples (grid patches, or images for random crops).
    fn base_len(&self) -> usize {
        match &self.plan {
            Plan::Grid { patches, .. } => patches.len(),
            Plan::Random { .. } => self.images.len(),
        }
    }

    /// Samples per epoch: the distinct samples × `DATA.TRAIN.REPLICATE` (when above 1).
    pub fn len(&self) -> usize {
        self.base_len() * self.replicate.max(1)
    }

    /// True when the set has no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index` of epoch `epoch` (0-based): its window, augmented (and rescaled, with
    /// `DATA.RESOLUTION_NORM`) and cropped back to the patch, or the patch itself.
    pub fn sample(&self, index: usize, epoch: usize) -> Result<PatchPair, TrainError> {
        let ((image, mask), placement) = self.window(index, epoch)?;
        Ok(match &self.augmenter {
            Some(aug) if !aug.is_identity() => {
                let stream = [if self.per_epoch_draws { epoch as u64 } else { 0 }, index as u64];
                let mut rng = ChaCha8Rng::seed_from_u64(derive(self.seed, "augment", &stream));
                let partner = self.cutmix_partner(aug, &stream)?;
                let scale = self.images[placement.image].resolution_scale;
                aug.apply_scaled(&image, &mask, partner.as_ref().map(|(i, m)| (i, m)), scale, &mut rng)
            }
            _ => (image, mask),
        })
    }

    /// With `CUTMIX`, the un-augmented patch of another sample (uniform over the set, from its
    /// own seeded stream) that the augmenter pastes a box from, as BiaPy loads one; else `None`.
    pub fn cutmix_partner(&self, aug: &Augmenter, stream: &[u64]) -> Result<Option<PatchPair>, TrainError> {
        if !aug.needs_partner() || self.is_empty() {
            return Ok(None);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(derive(self.seed, "cutmix", stream));
        let other = rand::RngExt::random_range(&mut rng, 0..self.len());
        let ((image, mask), _) = self.window(other, stream.first().copied().unwrap_or(0) as usize)?;
        let patch = self.options.patch;
        let window = image.spatial_shape();
        let inset: [isize; 3] = std::array::from_fn(|a| ((window[a] - patch[a]) / 2) as isize);
        Ok(Some((crop_reflect(&image, inset, patch), crop_reflect(&mask, inset, patch))))
    }

    /// The normalised window of sample `index` before augmentation (`Augmenter::input_window`
    /// in size, or the patch), and where its patch lies.
    pub fn window(&self, index: usize, epoch: usize) -> Result<(PatchPair, Placement), TrainError> {
        let patch = self.options.patch;
        let (image_idx, start) = match &self.plan {
            Plan::Grid { patches, padding } => {
                let (i, pos) = patches[index % patches.len()];
                (i, std::array::from_fn(|a| pos[a] as isize - padding[a] as isize))
            }
            Plan::Random { fixed } => {
                let stream_epoch = if *fixed { 0 } else { epoch as u64 };
                let mut rng = ChaCha8Rng::seed_from_u64(derive(self.seed, "crop", &[stream_epoch, index as u64]));
                let image_idx = index % self.images.len();
                let entry = &self.images[image_idx];
                let corner = match &entry.sampler {
                    Some(sampler) => {
                        corner_from_centre(unravel(sampler.sample(&mut rng), entry.shape), entry.shape, patch)
                    }
                    None => random_corner(entry.shape, patch, &mut rng),
                };
                (image_idx, corner.map(|c| c as isize))
            }
        };
        let entry = &self.images[image_idx];
        let window = self.augmenter.as_ref().map_or(patch, Augmenter::input_window);
        let from = window_start(start, patch, window);
        let (mut image, mask) = match &entry.data {
            Some((image, mask)) => (crop_reflect(image, from, window), crop_reflect(mask, from, window)),
            None => {
                let (image, mask) = self.reread(entry)?;
                (crop_reflect(&image, from, window), crop_reflect(&mask, from, window))
            }
        };
        apply(image.as_mut_slice(), &entry.stats);
        Ok(((image, mask), Placement { image: image_idx, start }))
    }

    fn reread(&self, entry: &TrainImage) -> Result<PatchPair, TrainError> {
        reread(&self.options, entry)
    }
}

/// The raw (completed, un-normalised) image and mask of `entry`: from memory, or read again.
pub fn reread(options: &ImageOptions, entry: &TrainImage) -> Result<PatchPair, TrainError> {
    if let Some(data) = &entry.data {
        return Ok(data.clone());
    }
    let sample = load_pair(&options.spec, entry.image_path.clone(), Some(entry.mask_path.clone()))?;
    complete(sample, options)
}

/// Reads, completes and measures the images of `samples` (already loaded and checked).
pub fn prepare_images(samples: Vec<Sample>, options: &ImageOptions) -> Result<Vec<TrainImage>, TrainError> {
    samples
        .into_iter()
        .map(|sample| {
            let image_path = sample.image_path.clone();
            let mask_path = sample.mask_path.clone().ok_or_else(|| TrainError::NoMask { path: image_path.clone() })?;
            let (image, mask) = complete(sample, options)?;
            let stats = compute_stats(&image, &options.normalization)?;
            let shape = image.spatial_shape();
            let data = options.in_memory.then_some((image, mask));
            Ok(TrainImage {
                image_path,
                mask_path,
                data,
                stats,
                shape,
                sampler: None,
                prob_map: None,
                resolution_scale: 1.0,
            })
        })
        .collect()
}

/// Applies `REFLECT_TO_COMPLETE_SHAPE` (or rejects an image smaller than the patch).
fn complete(sample: Sample, options: &ImageOptions) -> Result<PatchPair, TrainError> {
    let image = sample.image;
    let mask = sample.mask.ok_or_else(|| TrainError::NoMask { path: sample.image_path.clone() })?;
    let shape = image.spatial_shape();
    if shape.iter().zip(&options.patch).any(|(s, p)| s < p) {
        if !options.reflect_to_complete {
            return Err(GridError::TooSmall { path: sample.image_path, shape, patch: options.patch }.into());
        }
        return Ok((complete_shape(&image, options.patch).0, complete_shape(&mask, options.patch).0));
    }
    Ok((image, mask))
}

/// `(image index, start in padded coordinates)` of every grid patch of the `subset` images.
pub fn grid_patches(
    images: &[TrainImage],
    subset: &[usize],
    patch: [usize; 3],
    overlap: [f64; 3],
    padding: [usize; 3],
) -> Result<Vec<(usize, [usize; 3])>, TrainError> {
    let mut patches = Vec::new();
    for &i in subset {
        let grid = PatchGrid::new(images[i].shape, patch, overlap, padding)?;
        patches.extend(grid.positions().map(|p| (i, p)));
    }
    Ok(patches)
}

/// Packs samples into a channel-first batch.
pub fn pack(samples: &[PatchPair]) -> Batch {
    let (first_image, _) = &samples[0];
    let [z, y, x, c] = first_image.shape();
    let mut images = Vec::with_capacity(samples.len() * z * y * x * c);
    let mut labels = Vec::with_capacity(samples.len() * z * y * x);
    for (image, mask) in samples {
        let src = image.as_slice();
        for channel in 0..c {
            images.extend(src.iter().skip(channel).step_by(c));
        }
        labels.extend(mask.as_slice().iter().map(|&l| i64::from(l)));
    }
    Batch { images, labels, shape: [samples.len(), c, z, y, x] }
}

/// A batch, channel-first: images `[batch, channel, z, y, x]`, labels `[batch, 1, z, y, x]`
/// (z = 1 in 2D).
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub images: Vec<f32>,
    pub labels: Vec<i64>,
    pub shape: [usize; 5],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_is_channel_first() {
        let image = Volume::from_vec([1, 1, 2, 2], vec![1.0, 10.0, 2.0, 20.0]).unwrap();
        let mask = Volume::from_vec([1, 1, 2, 1], vec![0u16, 1]).unwrap();
        let batch = pack(&[(image.clone(), mask.clone()), (image, mask)]);
        assert_eq!(batch.shape, [2, 2, 1, 1, 2]);
        assert_eq!(&batch.images[..4], &[1.0, 2.0, 10.0, 20.0]);
        assert_eq!(batch.labels, vec![0, 1, 0, 1]);
    }
}
