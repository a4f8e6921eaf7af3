//! The test phase of a run (spec §4.1–4.6, §5, §6) as two stages the sweep caches separately.
//! Infer: every test image in natural order, one at a time — read, skip it if
//! `DATA.TEST.FILTER_SAMPLES` drops it (no outputs, not counted), complete, normalise, predict
//! (or take an earlier run's probabilities, `TEST.REUSE_PREDICTIONS`), zero them outside
//! `DATA.TEST.ROI_MASK`
//! (patches or whole), crop back, write the probabilities, count the per-patch IoU. Evaluate:
//! read the probabilities back, post-process, binarise, write the masks, count IoU at each level,
//! the 2D-as-3D-stack pass, `test_results_metrics.csv` and `metrics.json`. With
//! `TEST.BY_CHUNKS` the infer stage predicts, binarises and counts slab by slab (`super::chunks`)
//! and the evaluate stage only gathers the recorded counts: no whole volume is ever read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::Device;
use serde::Serialize;

use super::InferError;
use super::chunks::{ChunkJob, ChunkedImage, ChunkedPrediction};
use super::image::{Labeling, PatchOptions, crop_border, predict_by_patches, predict_whole};
use super::outputs::{stem, write_labels, write_probs};
use super::roi::RoiMask;
use crate::config::{Binarization, Config, FilterRules, Ndim};
use crate::data::Volume;
use crate::data::dataset::{SplitRole, SplitSpec, config_splits, discover, load_pair, read_mask, read_volume};
use crate::data::filter::{Ranges, discards};
use crate::data::normalize::{apply, compute_stats};
use crate::data::patches::GridError;
use crate::data::patches::{complete_shape, undo_complete_shape};
use crate::data::split::cross_val_fold;
use crate::data::tiff_io::read_tiff;
use crate::device::RunDevice;
use crate::layout::RunLayout;
use crate::metrics::{Counts, iou, mean_skipping};
use crate::model::predict::Predictor;
use crate::model::{ModelSpec, SegModel};
use crate::postprocess::threshold::threshold_for;
use crate::postprocess::{apply_filters, filters_from_config};
use crate::train::seed::cross_val_seed;
use crate::train::setup::zyx;

/// Metrics of one test image (IoU values are `None` when not computed or skipped as empty).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ImageResult {
    pub file: String,
    /// Mean IoU of this image's patches.
    pub iou_per_patch: Option<f64>,
    pub n_patches: usize,
    pub iou_merge_patches: Option<f64>,
    pub iou_post_processing: Option<f64>,
    pub iou_full_image: Option<f64>,
    /// The whole image's prediction after the median filter (`TEST.FULL_IMG`, D16).
    #[serde(default)]
    pub iou_full_post_processing: Option<f64>,
    /// Empty truth and empty prediction (D5).
    pub empty: bool,
    pub threshold: f32,
    /// Spatial size of the image (z·y·x).
    pub n_voxels: usize,
    pub counts: Option<Counts>,
}

/// Means over the test set per level (D5, D6).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct TestSummary {
    /// Mean over all patches of all images (D6).
    pub per_patch: Option<f64>,
    pub merge_patches: Option<f64>,
    pub post_processing: Option<f64>,
    pub full_image: Option<f64>,
    /// Whole images after the median filter (D16).
    #[serde(default)]
    pub full_post_processing: Option<f64>,
    pub as_3d_stack_post_processing: Option<f64>,
    pub n_images: usize,
    pub n_patches: usize,
    pub n_empty: usize,
    /// Test voxels in all (z·y·x summed over images).
    pub n_voxels: usize,
}

impl TestSummary {
    /// The IoU of the masks the run wrote (D4): after post-processing where a filter ran, else
    /// of the merged patches, else of the whole images. The headline of every report and chart
    /// (`iou.written_masks`).
    pub fn written_masks(&self) -> Option<f64> {
        self.as_3d_stack_post_processing
            .or(self.post_processing)
            .or(self.full_post_processing)
            .or(self.merge_patches)
            .or(self.full_image)
    }
}

impl ImageResult {
    /// This image's share of [`TestSummary::written_masks`]: the IoU of the mask written for it.
    pub fn written_masks(&self) -> Option<f64> {
        self.iou_post_processing.or(self.iou_full_post_processing).or(self.iou_merge_patches).or(self.iou_full_image)
    }
}

/// What the test phase produced.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct TestOutcome {
    pub images: Vec<ImageResult>,
    pub summary: TestSummary,
    pub seconds: f64,
    /// Of `seconds`, those spent in the model (the rest is reading, merging, post-processing,
    /// metrics and writing).
    #[serde(default)]
    pub model_seconds: f64,
}

/// One predicted test image, as the infer stage leaves it for the evaluate stage.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct InferredImage {
    pub file: String,
    pub stem: String,
    /// IoU of each patch (empty for whole-image prediction or without ground truth).
    pub patch_ious: Vec<Option<f64>>,
    /// Set when the image was predicted by chunks (`TEST.BY_CHUNKS`): its outputs are written
    /// and its metrics counted already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunked: Option<ChunkedImage>,
}

/// The infer stage's record.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct InferRecord {
    pub images: Vec<InferredImage>,
    pub seconds: f64,
    /// Of `seconds`, those spent in the model.
    #[serde(default)]
    pub model_seconds: f64,
}

/// Runs the test phase of `config` with `model`, writing into `layout`'s results folder: the
/// infer stage, then the evaluate stage.
pub fn test_job(
    config: &Config,
    layout: &RunLayout,
    model: &SegModel,
    device: &RunDevice,
    out: &mut dyn Write,
) -> Result<TestOutcome, InferError> {
    let record = infer_stage(config, layout, model, device, out)?;
    evaluate_stage(config, layout, &record)
}

/// The infer stage: predicts every test image and writes its probabilities to `per_image/`
/// (`full_image/` with `TEST.FULL_IMG`), with the per-patch IoU when there is ground truth.
pub fn infer_stage(
    config: &Config,
    layout: &RunLayout,
    model: &SegModel,
    device: &RunDevice,
    out: &mut dyn Write,
) -> Result<InferRecord, InferError> {
    crate::device::guard(&device.context(config, "inference"), || {
        predict_all(config, layout, model, &device.device, out)
    })
}

/// The infer stage's work, on the backend (see [`infer_stage`]).
fn predict_all(
    config: &Config,
    layout: &RunLayout,
    model: &SegModel,
    device: &Device,
    out: &mut dyn Write,
) -> Result<InferRecord, InferError> {
    let started = Instant::now();
    let spec = test_spec(config)?;
    let predictor = Predictor::new(model, device, config.data.n_classes).with_half_precision(config.test.reduce_memory);
    let context = Context::new(config, layout, &spec)?;
    let mut images = Vec::new();
    for (image_path, mask_path) in test_pairs(config, &spec)? {
        let file = image_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        writeln!(out, "Processing image: {file}").ok();
        let stem = stem(&image_path);
        if config.test.by_chunks.enable {
            let prediction = context.infer_chunked(&predictor, &image_path, mask_path.as_deref(), &stem)?;
            let footprint = prediction.footprint;
            writeln!(
                out,
                "Predicted by chunks: at most {} image planes read, {} written at once",
                footprint.image_planes, footprint.written_planes
            )
            .ok();
            let ChunkedPrediction { patch_ious, image, .. } = prediction;
            images.push(InferredImage { file, stem, patch_ious, chunked: Some(image) });
            continue;
        }
        let sample = load_pair(&spec, image_path.clone(), mask_path)?;
        if context.filtered_out(&sample)? {
            writeln!(out, " Skipping image: {file}").ok();
            continue;
        }
        if config.test.reuse_predictions {
            context.reused_prediction(&stem)?;
            images.push(InferredImage { file, stem, patch_ious: Vec::new(), chunked: None });
            continue;
        }
        let patch_ious = context.infer_one(&predictor, sample, &stem)?;
        images.push(InferredImage { file, stem, patch_ious, chunked: None });
    }
    Ok(InferRecord { images, seconds: started.elapsed().as_secs_f64(), model_seconds: predictor.model_seconds() })
}

/// The evaluate stage: reads the infer stage's probabilities, post-processes, binarises, writes
/// the masks and measures IoU at every level; writes the metrics files with ground truth.
pub fn evaluate_stage(config: &Config, layout: &RunLayout, record: &InferRecord) -> Result<TestOutcome, InferError> {
    let started = Instant::now();
    let spec = test_spec(config)?;
    let context = Context::new(config, layout, &spec)?;
    // The infer stage may have skipped images (`DATA.TEST.FILTER_SAMPLES`): pair by file name.
    let mut pairs: std::collections::HashMap<String, _> = test_pairs(config, &spec)?
        .into_iter()
        .map(|(image, mask)| {
            (image.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), (image, mask))
        })
        .collect();
    let mut images = Vec::new();
    let mut patch_ious = Vec::new();
    let mut stack: Vec<(Volume<f32>, Option<Volume<u16>>)> = Vec::new();
    for inferred in &record.images {
        let (image_path, mask_path) =
            pairs.remove(&inferred.file).ok_or_else(|| InferError::TestImageGone { file: inferred.file.clone() })?;
        if let Some(chunked) = &inferred.chunked {
            patch_ious.extend(inferred.patch_ious.iter().copied());
            images.push(context.chunked_result(inferred, chunked));
            continue;
        }
        let truth = match &mask_path {
            Some(path) => Some(read_mask(
                path,
                &spec.arrays.mask,
                config.problem.ndim,
                config.data.n_classes,
                u16::try_from(config.loss.ignore_index).ok(),
            )?),
            None => None,
        };
        let (result, probs) = context.evaluate_one(inferred, &image_path, truth.as_ref())?;
        patch_ious.extend(inferred.patch_ious.iter().copied());
        if context.stack_mode {
            stack.push((probs, truth));
        }
        images.push(result);
    }
    let stack_iou = if context.stack_mode { context.stack_pass(stack)? } else { None };
    // By chunks, `per_image/` holds the probabilities asked for with `WRITE_RAW_PREDICTIONS`.
    if !config.test.save_model_raw_output && !context.full_image && !config.test.by_chunks.enable {
        // The probabilities were only the hand-over between the stages.
        let _ = std::fs::remove_dir_all(layout.result("per_image"));
    }
    let summary = summarise(&images, &patch_ious, stack_iou);
    // The test phase's time: the infer stage's (possibly cached) and this stage's.
    let seconds = record.seconds + started.elapsed().as_secs_f64();
    let outcome = TestOutcome { images, summary, seconds, model_seconds: record.model_seconds };
    if config.data.test.with_gt() {
        super::results::write(&layout.results(), &outcome)?;
    }
    Ok(outcome)
}

/// The test images and their masks in natural order; with `DATA.TEST.USE_VAL_AS_TEST`, the
/// training images of the validation fold (`DATA.VAL.CROSS_VAL_FOLD`).
fn test_pairs(config: &Config, spec: &SplitSpec) -> Result<Vec<(PathBuf, Option<PathBuf>)>, InferError> {
    let pairs = discover(spec)?;
    if !config.data.test.use_val_as_test {
        return Ok(pairs);
    }
    let val = &config.data.val;
    if pairs.len() < 2 {
        return Err(InferError::ValAsTestOneImage);
    }
    let nfold = usize::try_from(val.cross_val_nfold).unwrap_or(0);
    let fold = usize::try_from(val.cross_val_fold).unwrap_or(0);
    let (_, fold_images) = cross_val_fold(pairs.len(), nfold, fold, val.random, cross_val_seed(config))?;
    Ok(fold_images.into_iter().map(|i| pairs[i].clone()).collect())
}

fn test_spec(config: &Config) -> Result<SplitSpec, InferError> {
    config_splits(config).into_iter().find(|s| s.role == SplitRole::Test).ok_or(InferError::NothingToTest)
}

/// Settings shared by every test image.
struct Context<'a> {
    config: &'a Config,
    layout: &'a RunLayout,
    patch: PatchOptions,
    full_image: bool,
    whole_multiple: [usize; 3],
    filters: Vec<(crate::postprocess::FilterAxis, usize)>,
    stack_mode: bool,
    border: [usize; 3],
    /// `DATA.TEST.FILTER_SAMPLES`, parsed once.
    test_filter: Option<FilterRules>,
    /// `DATA.TEST.ROI_MASK` when `PATH` is one file for every image: read on first use, once.
    shared_roi: std::cell::OnceCell<RoiMask>,
    /// `DATA.PREPROCESS` of the test split (its `RESIZE` is undone on each prediction).
    preprocess: Option<std::sync::Arc<crate::data::preprocess::Preprocess>>,
    /// How a Zarr/HDF5 test image is read (for the overlays' input).
    image_array: crate::data::array_io::ArraySpec,
}

impl<'a> Context<'a> {
    fn new(config: &'a Config, layout: &'a RunLayout, split: &SplitSpec) -> Result<Self, InferError> {
        let ndim = config.problem.ndim;
        let test = &config.test;
        let data_test = &config.data.test;
        let patch = PatchOptions {
            patch: zyx(&config.data.patch_size, ndim, 1),
            overlap: zyx(&data_test.overlap, ndim, 0.0),
            padding: zyx(&data_test.padding, ndim, 0),
            blend: test.blend,
            batch_size: config.train.batch_size,
            tta: test.augmentation.then_some((test.augmentation_group, test.augmentation_mode)),
            median_padding: data_test.median_padding,
        };
        let spec = ModelSpec::from_config(config)?;
        let whole_multiple = (0..spec.depth()).fold([1, 1, 1], |acc, level| {
            let f = spec.pool_factors(level);
            [acc[0] * f[0], acc[1] * f[1], acc[2] * f[2]]
        });
        let filters =
            if test.post_processing.median_filter { filters_from_config(&test.post_processing)? } else { Vec::new() };
        let stack_mode = ndim == Ndim::D2 && test.analize_2d_imgs_as_3d_stack && !filters.is_empty();
        let border = if test.eval_border_crop.is_empty() {
            [0; 3]
        } else {
            zyx(&test.eval_border_crop.iter().map(|&v| v.max(0) as usize).collect::<Vec<_>>(), ndim, 0)
        };
        Ok(Self {
            config,
            layout,
            patch,
            full_image: ndim == Ndim::D2 && test.full_img,
            whole_multiple,
            filters,
            stack_mode,
            border,
            test_filter: FilterRules::from_config(&config.data.test.filter_samples, "DATA.TEST.FILTER_SAMPLES")
                .map_err(|e| InferError::Filter(e.to_string()))?,
            shared_roi: std::cell::OnceCell::new(),
            preprocess: split.preprocess.clone(),
            image_array: split.arrays.image.clone(),
        })
    }

    fn labeling(&self, threshold: f32) -> Labeling {
        let ignore = u16::try_from(self.config.loss.ignore_index).ok();
        Labeling { n_classes: self.config.data.n_classes, threshold, ignore }
    }

    fn threshold(&self, probs: &Volume<f32>) -> f32 {
        threshold_for(self.config.test.binarization, probs)
    }

    fn raw_dir(&self) -> &'static str {
        if self.full_image { "full_image" } else { "per_image" }
    }

    /// The threshold of `TEST.BINARIZATION` where a number is needed: Otsu is a per-image
    /// threshold, so the per-patch metric then uses 0.5 (by chunks, Otsu is refused).
    fn numeric_threshold(&self) -> f32 {
        match self.config.test.binarization {
            Binarization::Threshold(t) => t as f32,
            Binarization::Otsu => 0.5,
        }
    }

    /// Predicts one image by chunks (`TEST.BY_CHUNKS`): writes its binarised labels (and the
    /// probabilities with `WRITE_RAW_PREDICTIONS`) slab by slab and counts its metrics.
    fn infer_chunked(
        &self,
        predictor: &Predictor,
        image_path: &Path,
        mask_path: Option<&Path>,
        stem: &str,
    ) -> Result<ChunkedPrediction, InferError> {
        let job = ChunkJob {
            config: self.config,
            layout: self.layout,
            patch: &self.patch,
            labeling: self.labeling(self.numeric_threshold()),
            border: self.border,
        };
        super::chunks::infer_image(&job, predictor, image_path, mask_path, stem)
    }

    /// The metrics of an image predicted by chunks, from what the infer stage counted: per patch
    /// and the whole volume ("full image"); the levels that need the whole prediction in memory
    /// (merge patches, post-processing) stay empty.
    fn chunked_result(&self, inferred: &InferredImage, chunked: &ChunkedImage) -> ImageResult {
        let counts = chunked.counts.clone();
        ImageResult {
            file: inferred.file.clone(),
            iou_per_patch: mean_skipping(&inferred.patch_ious).0,
            n_patches: inferred.patch_ious.len(),
            iou_merge_patches: None,
            iou_post_processing: None,
            iou_full_post_processing: None,
            iou_full_image: counts.as_ref().and_then(|c| iou(c, self.config.test.empty_iou)),
            empty: counts.as_ref().is_some_and(Counts::is_empty),
            threshold: self.numeric_threshold(),
            n_voxels: chunked.n_voxels,
            counts,
        }
    }

    /// Whether `DATA.TEST.FILTER_SAMPLES` drops this image (spec §3.9): measured whole, on the
    /// raw values or normalised with `NORM_BEFORE`, with its mask when it has one.
    fn filtered_out(&self, sample: &crate::data::dataset::Sample) -> Result<bool, InferError> {
        let Some(rules) = &self.test_filter else { return Ok(false) };
        let image = if rules.norm_before {
            let stats = compute_stats(&sample.image, &self.config.data.normalization)?;
            let mut image = sample.image.clone();
            apply(image.as_mut_slice(), &stats);
            std::borrow::Cow::Owned(image)
        } else {
            std::borrow::Cow::Borrowed(&sample.image)
        };
        let mask = sample.mask.as_ref().map(Volume::as_slice);
        Ok(discards(rules, image.as_slice(), mask, Ranges::of(image.as_slice(), mask)))
    }

    /// `DATA.TEST.ROI_MASK`: zeroes `probs` outside the region of `image_path`'s mask.
    fn apply_roi(&self, image_path: &Path, probs: &mut Volume<f32>) -> Result<(), InferError> {
        let roi = &self.config.data.test.roi_mask;
        if !roi.enable {
            return Ok(());
        }
        let path = Path::new(&roi.path);
        let file = image_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let load = || RoiMask::for_image(path, &roi.axes_order, self.config.problem.ndim, &file);
        if path.is_file() {
            if self.shared_roi.get().is_none() {
                let _ = self.shared_roi.set(load()?);
            }
            self.shared_roi.get().expect("set above").apply(probs);
        } else {
            load()?.apply(probs);
        }
        Ok(())
    }

    /// `TEST.REUSE_PREDICTIONS`: the probabilities an earlier run of this job wrote for `stem`
    /// stand in for a prediction (no per-patch metric). Always the raw ones (`per_image/`,
    /// `full_image/`), so the evaluate stage post-processes once — BiaPy re-reads
    /// `per_image_post_processing/` and filters it again.
    fn reused_prediction(&self, stem: &str) -> Result<(), InferError> {
        let path = self.layout.result(self.raw_dir()).join(format!("{stem}.tif"));
        if !path.is_file() {
            return Err(InferError::NoEarlierPrediction { path });
        }
        Ok(())
    }

    /// Predicts one image and writes its probabilities; returns the IoU of each of its patches.
    fn infer_one(
        &self,
        predictor: &Predictor,
        sample: crate::data::dataset::Sample,
        stem: &str,
    ) -> Result<Vec<Option<f64>>, InferError> {
        let config = self.config;
        let (mut image, pad) = self.complete(&sample.image, &sample.image_path)?;
        let stats = compute_stats(&image, &config.data.normalization)?;
        apply(image.as_mut_slice(), &stats);
        let truth_padded =
            sample.mask.as_ref().map(|m| self.complete(m, &sample.image_path).map(|(v, _)| v)).transpose()?;
        let numeric = self.numeric_threshold();
        let (probs, patch_ious) = if self.full_image {
            (predict_whole(predictor, &image, self.whole_multiple, self.patch.tta)?, Vec::new())
        } else {
            let prediction =
                predict_by_patches(predictor, &image, truth_padded.as_ref(), &self.patch, &self.labeling(numeric))?;
            (prediction.probs, prediction.patch_counts.iter().map(|c| iou(c, config.test.empty_iou)).collect())
        };
        let probs = undo_complete_shape(&probs, pad);
        // `DATA.PREPROCESS.RESIZE`: back to the image's own shape, as BiaPy, before anything is
        // written or measured.
        let mut probs = match &self.preprocess {
            Some(p) => p.restore(probs, sample.file_shape),
            None => probs,
        };
        // Zeroed before the probabilities are written, so every later level sees the region.
        self.apply_roi(&sample.image_path, &mut probs)?;
        write_probs(&self.layout.result(self.raw_dir()), stem, &probs, &sample.meta)?;
        Ok(patch_ious)
    }

    /// Post-processes, binarises and measures one image from its written probabilities.
    fn evaluate_one(
        &self,
        inferred: &InferredImage,
        image_path: &Path,
        truth: Option<&Volume<u16>>,
    ) -> Result<(ImageResult, Volume<f32>), InferError> {
        let config = self.config;
        let empty_policy = config.test.empty_iou;
        let stem = inferred.stem.as_str();
        let probs_path = self.layout.result(self.raw_dir()).join(format!("{stem}.tif"));
        let tiff = read_tiff(&probs_path)?;
        let (probs, meta) = (tiff.volume.to_f32(), tiff.meta);
        let bin_dir = if self.full_image { "full_image_binarized" } else { "per_image_binarized" };
        let threshold = self.threshold(&probs);
        let measure = |p: &Volume<f32>, labeling: &Labeling| {
            truth.map(|t| labeling.counts(&crop_border(p, self.border), &crop_border(t, self.border)))
        };
        let counts = measure(&probs, &self.labeling(threshold));
        // The median filter runs on every image's prediction, patched or whole (D16); with
        // `ANALIZE_2D_IMGS_AS_3D_STACK` it runs on the stack instead (`stack_pass`).
        let filtered = (!self.filters.is_empty() && !self.stack_mode).then(|| apply_filters(&probs, &self.filters));
        let mut post_iou = None;
        if let Some(filtered) = &filtered {
            let post_dir = if self.full_image { "full_post_processing" } else { "per_image_post_processing" };
            write_probs(&self.layout.result(post_dir), stem, filtered, &meta)?;
            post_iou = measure(filtered, &self.labeling(self.threshold(filtered))).and_then(|c| iou(&c, empty_policy));
        }
        let final_probs = filtered.as_ref().unwrap_or(&probs);
        let labels = Volume::from_vec(
            spatial_shape_1(final_probs),
            self.labeling(self.threshold(final_probs)).labels(final_probs),
        )?;
        if config.data.n_classes <= 2 || config.data.test.argmax_to_output {
            write_labels(&self.layout.result(bin_dir), stem, &labels, config.data.n_classes, &meta)?;
        }
        let level_iou = counts.as_ref().and_then(|c| iou(c, empty_policy));
        let result = ImageResult {
            file: inferred.file.clone(),
            iou_per_patch: mean_skipping(&inferred.patch_ious).0,
            n_patches: inferred.patch_ious.len(),
            iou_merge_patches: if self.full_image { None } else { level_iou },
            iou_post_processing: if self.full_image { None } else { post_iou },
            iou_full_image: if self.full_image { level_iou } else { None },
            iou_full_post_processing: if self.full_image { post_iou } else { None },
            empty: counts.as_ref().is_some_and(Counts::is_empty),
            threshold,
            n_voxels: probs.spatial_shape().iter().product(),
            counts,
        };
        let input = read_volume(image_path, &self.image_array, config.problem.ndim)?.to_f32();
        super::overlays::write(
            &self.layout.result("overlays"),
            &super::overlays::ImageOverlay {
                file: &inferred.file,
                stem,
                input: &input,
                truth,
                labels: labels.as_slice(),
                iou: result.written_masks(),
                n_classes: config.data.n_classes,
                ignore: u16::try_from(config.loss.ignore_index).ok(),
            },
        )?;
        Ok((result, probs))
    }

    /// `REFLECT_TO_COMPLETE_SHAPE` for a test image smaller than the patch (not needed whole).
    fn complete<T: Copy>(&self, volume: &Volume<T>, path: &Path) -> Result<(Volume<T>, [usize; 3]), InferError> {
        let shape = volume.spatial_shape();
        let patch = self.patch.patch;
        if self.full_image || shape.iter().zip(&patch).all(|(s, p)| s >= p) {
            return Ok((volume.clone(), [0; 3]));
        }
        if !self.config.data.reflect_to_complete_shape {
            return Err(GridError::TooSmall { path: path.into(), shape, patch }.into());
        }
        Ok(complete_shape(volume, patch))
    }

    /// The 2D test images as one stack (`TEST.ANALIZE_2D_IMGS_AS_3D_STACK`, spec §4.6): saved,
    /// binarised, median-filtered along the image axis, and measured as a whole.
    fn stack_pass(&self, stack: Vec<(Volume<f32>, Option<Volume<u16>>)>) -> Result<Option<f64>, InferError> {
        let Some((first, _)) = stack.first() else { return Ok(None) };
        let [_, y, x, k] = first.shape();
        if stack.iter().any(|(p, _)| p.shape() != [1, y, x, k]) {
            return Err(InferError::StackShapes);
        }
        let n = stack.len();
        let probs =
            Volume::from_vec([n, y, x, k], stack.iter().flat_map(|(p, _)| p.as_slice().iter().copied()).collect())?;
        let meta = crate::data::tiff_io::TiffMeta::default();
        write_probs(&self.layout.result("as_3d_stack"), "0", &probs, &meta)?;
        let labels_of = |p: &Volume<f32>| -> Result<Volume<u16>, InferError> {
            Ok(Volume::from_vec(spatial_shape_1(p), self.labeling(self.threshold(p)).labels(p))?)
        };
        write_labels(
            &self.layout.result("as_3d_stack_binarized"),
            "0",
            &labels_of(&probs)?,
            self.config.data.n_classes,
            &meta,
        )?;
        let filtered = apply_filters(&probs, &self.filters);
        write_probs(&self.layout.result("as_3d_stack_post_processing"), "0", &filtered, &meta)?;
        if stack.iter().any(|(_, t)| t.is_none()) {
            return Ok(None);
        }
        let truth = Volume::from_vec(
            [n, y, x, 1],
            stack.iter().flat_map(|(_, t)| t.as_ref().map(|t| t.as_slice().to_vec()).unwrap_or_default()).collect(),
        )?;
        let labeling = self.labeling(self.threshold(&filtered));
        Ok(iou(
            &labeling.counts(&crop_border(&filtered, self.border), &crop_border(&truth, self.border)),
            self.config.test.empty_iou,
        ))
    }
}

fn spatial_shape_1(v: &Volume<f32>) -> [usize; 4] {
    let [z, y, x] = v.spatial_shape();
    [z, y, x, 1]
}

fn summarise(images: &[ImageResult], patch_ious: &[Option<f64>], stack: Option<f64>) -> TestSummary {
    let level = |f: fn(&ImageResult) -> Option<f64>| {
        let values: Vec<Option<f64>> = images.iter().map(f).collect();
        if values.iter().all(Option::is_none) { None } else { mean_skipping(&values).0 }
    };
    TestSummary {
        per_patch: mean_skipping(patch_ious).0,
        merge_patches: level(|r| r.iou_merge_patches),
        post_processing: level(|r| r.iou_post_processing),
        full_image: level(|r| r.iou_full_image),
        full_post_processing: level(|r| r.iou_full_post_processing),
        as_3d_stack_post_processing: stack,
        n_images: images.len(),
        n_patches: patch_ious.len(),
        n_empty: images.iter().filter(|r| r.empty).count(),
        n_voxels: images.iter().map(|r| r.n_voxels).sum(),
    }
}
