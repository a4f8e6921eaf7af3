//! One test image predicted by chunks (`TEST.BY_CHUNKS`, spec §4.7, D15): z slab by z slab, each
//! slab's patches predicted, the padded border discarded, the owned voxels binarised on the fly
//! and appended to `per_image_binarized/<stem>.tif` (and the probabilities to
//! `per_image/<stem>.tif` with `WRITE_RAW_PREDICTIONS`), page by page — or, with
//! `TEST.BY_CHUNKS.FORMAT: zarr`, to `<stem>.zarr` in the input's axes order, chunk by chunk (D17;
//! `SAVE_OUT_TIF` adds the TIFFs). With a mask, the per-patch IoU counts and the whole volume's
//! confusion counts are taken on the way.
//!
//! Memory: the normalised input slab and the mask slab (`PATCH_SIZE[0]` planes, or the block of
//! `WORKFLOW_PROCESS.PATCHES_PER_TILE[0]` z tiles read at once), one batch of patches and the
//! output slab (`PATCH_SIZE[0] − 2·PADDING[0]` planes) — never the volume. The returned
//! [`Footprint`] says how many planes the readers and writers held at once.

use std::path::Path;

use crate::config::axes::AxesOrder;
use crate::config::{Config, Ndim};
use crate::data::Volume;
use crate::data::array_io::{Dtype, ZarrSlabWriter};
use crate::data::dataset::{DataError, SplitArrays, SplitRole, open_stack_pair};
use crate::data::patches::GridError;
use crate::data::tiff_io::{AnyVolume, PageType, TiffMeta, TiffPageWriter};
use crate::data::window::crop_reflect;
use crate::layout::RunLayout;
use crate::metrics::{Counts, iou};

use super::super::InferError;
use super::super::image::{Labeling, PatchOptions, predict_many};
use super::super::outputs::{label_volume, labels_options, probs_options, target};
use super::ChunkedImage;
use super::grid::{Tile, border_box, tiles_3d, z_range};
use super::source::{ImageSource, MaskSource};
use crate::model::predict::Predictor;

/// Settings shared by every image of a chunked test.
pub struct ChunkJob<'a> {
    pub config: &'a Config,
    pub layout: &'a RunLayout,
    pub patch: &'a PatchOptions,
    /// Binarisation and metric labels (the numeric `TEST.BINARIZATION`).
    pub labeling: Labeling,
    /// `TEST.EVAL_BORDER_CROP` as `(z, y, x)`.
    pub border: [usize; 3],
}

/// The most z planes held at once by each reader and writer of one image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    pub image_planes: usize,
    pub mask_planes: usize,
    pub written_planes: usize,
}

/// One image predicted by chunks.
#[derive(Clone, Debug, PartialEq)]
pub struct ChunkedPrediction {
    /// IoU of each patch (empty without ground truth).
    pub patch_ious: Vec<Option<f64>>,
    pub image: ChunkedImage,
    pub footprint: Footprint,
}

/// One output file or container, written slab by slab.
enum SlabWriter {
    Tiff(Box<TiffPageWriter>),
    Zarr(Box<ZarrSlabWriter>),
}

impl SlabWriter {
    fn write_slab(&mut self, slab: &AnyVolume) -> Result<(), InferError> {
        match self {
            Self::Tiff(w) => Ok(w.write_slab(slab)?),
            Self::Zarr(w) => w.write_slab(slab).map_err(|e| DataError::from(e).into()),
        }
    }

    /// Renames the output into place; returns the most planes written at once.
    fn finish(self) -> Result<usize, InferError> {
        match self {
            Self::Tiff(w) => {
                let most = w.max_planes_at_once();
                w.finish()?;
                Ok(most)
            }
            Self::Zarr(w) => {
                let most = w.max_planes_at_once();
                w.finish().map_err(DataError::from)?;
                Ok(most)
            }
        }
    }
}

/// Where and how one image's outputs are written.
struct OutputSpec<'a> {
    stem: &'a str,
    /// `(z, y, x)` of the whole volume.
    shape: [usize; 3],
    /// Channels of the probabilities.
    k: usize,
    meta: &'a TiffMeta,
    /// With `FORMAT: zarr`: the axes order of the containers (the input's, or `ZYXC` for TIFF
    /// inputs) and their chunk depth.
    zarr: Option<(AxesOrder, usize)>,
}

/// The output files of one image, written slab by slab.
struct Writers {
    labels: Vec<SlabWriter>,
    probs: Vec<SlabWriter>,
}

impl Writers {
    fn create(job: &ChunkJob, out: &OutputSpec) -> Result<Self, InferError> {
        let config = job.config;
        let n_classes = config.data.n_classes;
        let by = &config.test.by_chunks;
        let [z, y, x] = out.shape;
        let tiff = out.zarr.is_none() || by.save_out_tif;
        let mut labels = Vec::new();
        let mut probs = Vec::new();
        if n_classes <= 2 || config.data.test.argmax_to_output {
            let dir = job.layout.result("per_image_binarized");
            let (page_type, dtype) =
                if n_classes <= 255 { (PageType::U8, Dtype::U8) } else { (PageType::U16, Dtype::U16) };
            if let Some((order, planes)) = &out.zarr {
                labels.push(zarr_writer(&dir, out.stem, dtype, [z, y, x, 1], order, *planes)?);
            }
            if tiff {
                let path = target(&dir, out.stem)?;
                let options = labels_options(n_classes, out.meta);
                let writer =
                    TiffPageWriter::create(&path, page_type, [z, y, x, 1], &options).map_err(write_error(&path))?;
                labels.push(SlabWriter::Tiff(Box::new(writer)));
            }
        }
        // BiaPy writes the raw predictions when asked, or when they are not processed on the fly.
        if by.write_raw_predictions || !by.workflow_process.enable {
            let dir = job.layout.result("per_image");
            if let Some((order, planes)) = &out.zarr {
                probs.push(zarr_writer(&dir, out.stem, Dtype::F32, [z, y, x, out.k], order, *planes)?);
            }
            if tiff {
                let path = target(&dir, out.stem)?;
                let writer = TiffPageWriter::create(&path, PageType::F32, [z, y, x, out.k], &probs_options(out.meta))
                    .map_err(write_error(&path))?;
                probs.push(SlabWriter::Tiff(Box::new(writer)));
            }
        }
        Ok(Self { labels, probs })
    }

    fn write(&mut self, labels: &Volume<u16>, probs: Volume<f32>, n_classes: usize) -> Result<(), InferError> {
        if !self.labels.is_empty() {
            let labels = label_volume(labels, n_classes);
            for writer in &mut self.labels {
                writer.write_slab(&labels)?;
            }
        }
        if !self.probs.is_empty() {
            let probs = AnyVolume::from(probs);
            for writer in &mut self.probs {
                writer.write_slab(&probs)?;
            }
        }
        Ok(())
    }

    /// `planes` planes outside `TEST.BY_CHUNKS.Z_START..Z_END`, written as BiaPy's never-written
    /// planes read: label 0, probability 0; at most `step` planes at a time.
    fn write_empty(
        &mut self,
        planes: usize,
        [ny, nx]: [usize; 2],
        k: usize,
        n_classes: usize,
        step: usize,
    ) -> Result<(), InferError> {
        let mut left = planes;
        while left > 0 {
            let n = left.min(step.max(1));
            let labels = Volume::filled([n, ny, nx, 1], 0u16);
            self.write(&labels, Volume::filled([n, ny, nx, k], 0.0f32), n_classes)?;
            left -= n;
        }
        Ok(())
    }

    /// Renames the files into place; returns the most planes written at once.
    fn finish(self) -> Result<usize, InferError> {
        let mut most = 0;
        for writer in self.labels.into_iter().chain(self.probs) {
            most = most.max(writer.finish()?);
        }
        Ok(most)
    }
}

/// A Zarr output `<dir>/<stem>.zarr`.
fn zarr_writer(
    dir: &Path,
    stem: &str,
    dtype: Dtype,
    shape: [usize; 4],
    order: &AxesOrder,
    planes: usize,
) -> Result<SlabWriter, InferError> {
    std::fs::create_dir_all(dir).map_err(InferError::write(dir))?;
    let path = dir.join(format!("{stem}.zarr"));
    let writer = ZarrSlabWriter::create(&path, dtype, shape, order, planes).map_err(DataError::from)?;
    Ok(SlabWriter::Zarr(Box::new(writer)))
}

fn write_error(path: &Path) -> impl FnOnce(crate::data::tiff_io::TiffError) -> InferError {
    InferError::write(path)
}

/// Predicts `image_path` by chunks and writes its outputs; `mask_path` adds the metrics.
pub fn infer_image(
    job: &ChunkJob,
    predictor: &Predictor,
    image_path: &Path,
    mask_path: Option<&Path>,
    stem: &str,
) -> Result<ChunkedPrediction, InferError> {
    let config = job.config;
    debug_assert_eq!(config.problem.ndim, Ndim::D3);
    let (patch, padding) = (job.patch.patch, job.patch.padding);
    let n_channels = config.data.patch_size.last().copied().unwrap_or(1);
    let arrays = SplitArrays::from_config(config, SplitRole::Test);
    let (image_stack, mask_stack) = open_stack_pair(image_path, mask_path, &arrays, n_channels)?;
    // BiaPy's Zarr outputs keep the input's axes order (`ZYXC` for TIFF inputs), with channels.
    let input_order = image_stack.axes_order().cloned();
    let mut image = ImageSource::new(image_stack, &config.data.normalization, patch[0])?;
    let [depth, ny, nx, _] = image.shape();
    let by = &config.test.by_chunks;
    let range = z_range(by.z_start, by.z_end, depth)
        .map_err(|message| InferError::ZRange { path: image_path.into(), message })?;
    let shape = [range.len(), ny, nx];
    if !config.data.reflect_to_complete_shape && shape.iter().zip(&patch).any(|(s, p)| s < p) {
        return Err(GridError::TooSmall { path: image_path.into(), shape, patch }.into());
    }
    let classes = (config.data.n_classes, job.labeling.ignore);
    let mut mask = mask_stack.map(|stack| MaskSource::new(stack, classes, patch[0])).transpose()?;
    let tiles = tiles_3d(shape, patch, padding)?;
    let k = if config.data.n_classes <= 2 { 1 } else { config.data.n_classes };
    // The outputs cover the whole volume, as BiaPy's: planes outside the range stay empty.
    let zarr = (by.format == "zarr").then(|| {
        let order = input_order.unwrap_or_else(|| AxesOrder::parse("ZYXC").expect("a valid order"));
        (order.with_channels(), patch[0] - 2 * padding[0])
    });
    let meta = image.meta().clone();
    let out = OutputSpec { stem, shape: [depth, ny, nx], k, meta: &meta, zarr };
    let mut writers = Writers::create(job, &out)?;
    let n_classes = config.data.n_classes;
    writers.write_empty(range.start, [ny, nx], k, n_classes, patch[0])?;
    let keep = border_box(shape, job.border);
    let mut total = mask.as_ref().map(|_| Counts::new(config.data.n_classes));
    let mut patch_ious = Vec::new();
    // `PATCHES_PER_TILE[0]` z tiles share one read, as BiaPy's read block (fewer, deeper reads;
    // the same values).
    let per_read = by.workflow_process.patches_per_tile.first().map_or(1, |&n| n.max(1));
    for group in tiles[0].chunks(per_read) {
        let (first_tile, last_tile) = (&group[0], &group[group.len() - 1]);
        let first = range.start as isize + first_tile.patch_start;
        let planes = (last_tile.patch_start - first_tile.patch_start) as usize + patch[0];
        let input = image.padded_slab(first, planes)?;
        let truth = mask.as_mut().map(|m| m.padded_slab(first, planes)).transpose()?;
        for tz in group {
            // Where this tile's patch starts in the block read.
            let base = tz.patch_start - first_tile.patch_start;
            let mut probs = Volume::filled([tz.own.len(), ny, nx, k], 0.0f32);
            let positions: Vec<(&Tile, &Tile)> =
                tiles[1].iter().flat_map(|ty| tiles[2].iter().map(move |tx| (ty, tx))).collect();
            for batch in positions.chunks(job.patch.batch_size.max(1)) {
                let start = |(ty, tx): &(&Tile, &Tile)| [base, ty.patch_start, tx.patch_start];
                let patches: Vec<Volume<f32>> = batch.iter().map(|p| crop_reflect(&input, start(p), patch)).collect();
                for (p, prob) in batch.iter().zip(predict_many(predictor, &patches, job.patch.tta)?) {
                    if let Some(truth) = &truth {
                        let counts = job.labeling.counts(&prob, &crop_reflect(truth, start(p), patch));
                        patch_ious.push(iou(&counts, config.test.empty_iou));
                    }
                    copy_owned(&prob, &mut probs, [tz, p.0, p.1]);
                }
            }
            let labels = Volume::from_vec([tz.own.len(), ny, nx, 1], job.labeling.labels(&probs))?;
            if let (Some(total), Some(truth)) = (&mut total, &truth) {
                total.merge(&slab_counts(&labels, truth, base as usize + tz.offset, tz, &keep, job.labeling));
            }
            writers.write(&labels, probs, config.data.n_classes)?;
        }
    }
    writers.write_empty(depth - range.end, [ny, nx], k, n_classes, patch[0])?;
    let written_planes = writers.finish()?;
    let footprint = Footprint {
        image_planes: image.max_planes_at_once(),
        mask_planes: mask.as_ref().map_or(0, MaskSource::max_planes_at_once),
        written_planes,
    };
    let image = ChunkedImage { counts: total, n_voxels: shape.iter().product() };
    Ok(ChunkedPrediction { patch_ious, image, footprint })
}

/// Copies the voxels the tiles `[tz, ty, tx]` own from the patch probabilities `prob` into the
/// slab `probs` (whose z starts at `tz.own.start`, whose y and x are the volume's).
fn copy_owned(prob: &Volume<f32>, probs: &mut Volume<f32>, [tz, ty, tx]: [&Tile; 3]) {
    let k = prob.n_channels();
    let width = tx.own.len() * k;
    for dz in 0..tz.own.len() {
        for (dy, y) in ty.own.clone().enumerate() {
            let src = prob.index(tz.offset + dz, ty.offset + dy, tx.offset, 0);
            let dst = probs.index(dz, y, tx.own.start, 0);
            probs.as_mut_slice()[dst..dst + width].copy_from_slice(&prob.as_slice()[src..src + width]);
        }
    }
}

/// Confusion counts of the slab's `labels` against the owned planes of `truth` (the mask block
/// read, whose plane `first` is the tile's first owned plane), inside the
/// `TEST.EVAL_BORDER_CROP` box `keep`.
fn slab_counts(
    labels: &Volume<u16>,
    truth: &Volume<u16>,
    first: usize,
    tz: &Tile,
    keep: &[std::ops::Range<usize>; 3],
    labeling: Labeling,
) -> Counts {
    let (mut pred, mut real) = (Vec::new(), Vec::new());
    for (dz, z) in tz.own.clone().enumerate() {
        if !keep[0].contains(&z) {
            continue;
        }
        for y in keep[1].clone() {
            let (p, t) = (labels.index(dz, y, keep[2].start, 0), truth.index(first + dz, y, keep[2].start, 0));
            pred.extend_from_slice(&labels.as_slice()[p..p + keep[2].len()]);
            real.extend_from_slice(&truth.as_slice()[t..t + keep[2].len()]);
        }
    }
    Counts::from_labels(&pred, &real, labeling.n_classes, labeling.ignore)
}
