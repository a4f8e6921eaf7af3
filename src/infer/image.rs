//! Predicting one (normalised, shape-completed) test image (spec §4.1, §4.2, §4.5): by patches on
//! BiaPy's grid with reflect padding (or median padding, `DATA.TEST.MEDIAN_PADDING`), merged back with the blend window of `TEST.BLEND` (D7) and
//! the padded border discarded; or whole (`TEST.FULL_IMG`, 2D), zero-padded at the bottom/right
//! to a multiple of the network's total pooling and cropped back. Optional test-time
//! augmentation per patch or per image. With ground truth, the per-patch IoU counts are taken on
//! the fly (the truth cropped exactly like the image), so only one image is ever in memory.

use rayon::prelude::*;

use crate::config::{Blend, TtaGroup, TtaMode};
use crate::data::Volume;
use crate::data::merge::Merger;
use crate::data::patches::GridError;
use crate::data::patches::PatchGrid;
use crate::data::window::{crop_reflect, pad_median};
use crate::metrics::Counts;
use crate::model::ModelError;

use super::InferError;
use super::tta::predict_with_tta;
use crate::model::predict::Predictor;

/// How to cut and merge patches.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOptions {
    /// `(z, y, x)`.
    pub patch: [usize; 3],
    pub overlap: [f64; 3],
    pub padding: [usize; 3],
    pub blend: Blend,
    pub batch_size: usize,
    pub tta: Option<(TtaGroup, TtaMode)>,
    /// `DATA.TEST.MEDIAN_PADDING` (3D): the image's padded border holds the median of its border
    /// planes instead of reflected voxels.
    pub median_padding: bool,
}

/// Voxels below which a rayon task is not split further.
const VOXELS_PER_TASK: usize = 1 << 14;

/// How predictions become labels for the metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Labeling {
    pub n_classes: usize,
    pub threshold: f32,
    pub ignore: Option<u16>,
}

impl Labeling {
    /// Labels of probabilities: `p > threshold` (binary) or the argmax over channels (in
    /// parallel; each voxel on its own).
    pub fn labels(&self, probs: &Volume<f32>) -> Vec<u16> {
        let k = probs.n_channels();
        if self.n_classes <= 2 {
            probs.as_slice().par_iter().with_min_len(VOXELS_PER_TASK).map(|&p| u16::from(p > self.threshold)).collect()
        } else {
            probs
                .as_slice()
                .par_chunks(k)
                .with_min_len(VOXELS_PER_TASK)
                .map(|v| {
                    v.iter().enumerate().fold((0, f32::MIN), |best, (i, &p)| if p > best.1 { (i, p) } else { best }).0
                        as u16
                })
                .collect()
        }
    }

    /// IoU counts of probabilities against a truth of the same spatial shape.
    pub fn counts(&self, probs: &Volume<f32>, truth: &Volume<u16>) -> Counts {
        Counts::from_labels(&self.labels(probs), truth.as_slice(), self.n_classes, self.ignore)
    }
}

/// A merged prediction and the per-patch counts (empty without ground truth).
pub struct PatchPrediction {
    pub probs: Volume<f32>,
    pub patch_counts: Vec<Counts>,
}

/// Predicts `image` `(z, y, x, c)` patch by patch and merges the probabilities.
pub fn predict_by_patches(
    predictor: &Predictor,
    image: &Volume<f32>,
    truth: Option<&Volume<u16>>,
    options: &PatchOptions,
    labeling: &Labeling,
) -> Result<PatchPrediction, InferError> {
    let grid = PatchGrid::new(image.spatial_shape(), options.patch, options.overlap, options.padding)?;
    let positions: Vec<[usize; 3]> = grid.positions().collect();
    let start =
        |pos: [usize; 3]| -> [isize; 3] { std::array::from_fn(|a| pos[a] as isize - options.padding[a] as isize) };
    let padded = (options.median_padding && options.padding != [0; 3]).then(|| pad_median(image, options.padding));
    let cut = |pos: [usize; 3]| match &padded {
        // Grid positions are in padded coordinates, and the padded volume holds every patch.
        Some(padded) => crop_reflect(padded, pos.map(|p| p as isize), options.patch),
        None => crop_reflect(image, start(pos), options.patch),
    };
    let mut merger: Option<Merger> = None;
    let mut patch_counts = Vec::new();
    for chunk in positions.chunks(options.batch_size.max(1)) {
        let patches: Vec<Volume<f32>> = chunk.iter().map(|&pos| cut(pos)).collect();
        let probs = predict_many(predictor, &patches, options.tta)?;
        for (&pos, prob) in chunk.iter().zip(&probs) {
            let merger = merger.get_or_insert_with(|| Merger::new(&grid, prob.n_channels(), options.blend));
            merger.add(pos, prob);
            if let Some(truth) = truth {
                patch_counts.push(labeling.counts(prob, &crop_reflect(truth, start(pos), options.patch)));
            }
        }
    }
    let probs = merger.ok_or(GridError::Empty { shape: image.spatial_shape() })?.finish();
    Ok(PatchPrediction { probs, patch_counts })
}

/// Predicts the whole `image` at once (2D `TEST.FULL_IMG`): zero-padded at the end of y and x to
/// a multiple of `multiple`, cropped back afterwards.
pub fn predict_whole(
    predictor: &Predictor,
    image: &Volume<f32>,
    multiple: [usize; 3],
    tta: Option<(TtaGroup, TtaMode)>,
) -> Result<Volume<f32>, InferError> {
    let [z, y, x, c] = image.shape();
    let padded_shape: [usize; 3] =
        std::array::from_fn(|a| [z, y, x][a].div_ceil(multiple[a].max(1)) * multiple[a].max(1));
    let mut padded = Volume::filled([padded_shape[0], padded_shape[1], padded_shape[2], c], 0.0f32);
    for iz in 0..z {
        for iy in 0..y {
            for ix in 0..x {
                for ic in 0..c {
                    padded.set(iz, iy, ix, ic, image.get(iz, iy, ix, ic));
                }
            }
        }
    }
    let probs = predict_many(predictor, std::slice::from_ref(&padded), tta)?.remove(0);
    Ok(crop_reflect(&probs, [0, 0, 0], [z, y, x]))
}

/// Probabilities of `patches`, with test-time augmentation per patch when asked.
pub(crate) fn predict_many(
    predictor: &Predictor,
    patches: &[Volume<f32>],
    tta: Option<(TtaGroup, TtaMode)>,
) -> Result<Vec<Volume<f32>>, InferError> {
    match tta {
        None => Ok(predictor.predict(patches)?),
        Some((group, mode)) => patches
            .iter()
            .map(|patch| {
                predict_with_tta(patch, group, mode, predictor.ndim(), |batch: Vec<Volume<f32>>| {
                    predictor.predict(&batch)
                })
                .map_err(|e: ModelError| InferError::from(e))
            })
            .collect(),
    }
}

/// `volume` without `crop` voxels on each side of each axis (`TEST.EVAL_BORDER_CROP`).
pub fn crop_border<T: Copy>(volume: &Volume<T>, crop: [usize; 3]) -> Volume<T> {
    let shape = volume.spatial_shape();
    let size: [usize; 3] = std::array::from_fn(|a| shape[a].saturating_sub(2 * crop[a]).max(1));
    let start: [isize; 3] = std::array::from_fn(|a| crop[a].min(shape[a].saturating_sub(1) / 2) as isize);
    crop_reflect(volume, start, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_threshold_and_argmax() {
        let binary = Labeling { n_classes: 2, threshold: 0.5, ignore: None };
        let probs = Volume::from_vec([1, 1, 3, 1], vec![0.2, 0.5, 0.7]).unwrap();
        assert_eq!(binary.labels(&probs), vec![0, 0, 1]);
        let multi = Labeling { n_classes: 3, threshold: 0.5, ignore: None };
        let probs = Volume::from_vec([1, 1, 2, 3], vec![0.1, 0.7, 0.2, 0.4, 0.4, 0.2]).unwrap();
        assert_eq!(multi.labels(&probs), vec![1, 0]);
    }

    #[test]
    fn border_crop() {
        let v = Volume::from_vec([1, 4, 4, 1], (0..16).collect::<Vec<u16>>()).unwrap();
        let c = crop_border(&v, [0, 1, 1]);
        assert_eq!(c.as_slice(), &[5, 6, 9, 10]);
    }
}
