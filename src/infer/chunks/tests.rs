//! Chunked inference against the normal path on one tiny volume with an untrained model: the
//! same labels, probabilities and IoU counts when the tiles are the normal patch grid, and the
//! readers and writers never holding more than one slab of a volume four slabs deep.

use std::path::Path;

use burn::tensor::Device;

use super::*;
use crate::config::{Blend, Config, load_str};
use crate::data::Volume;
use crate::data::normalize::{apply, compute_stats};
use crate::data::tiff_io::{AnyVolume, WriteOptions, read_tiff, write_tiff};
use crate::infer::image::{Labeling, PatchOptions, predict_by_patches};
use crate::layout::RunLayout;
use crate::metrics::{Counts, iou};
use crate::model::predict::Predictor;
use crate::model::{ModelSpec, SegModel};

/// Patch `(4, 16, 16)`, a 16×32×32 volume: four slabs deep.
const SHAPE: [usize; 3] = [16, 32, 32];
const PATCH: [usize; 3] = [4, 16, 16];

fn config(padding: &str, extra: &str) -> Config {
    let yaml = format!(
        "PROBLEM: {{NDIM: 3D}}
DATA: {{PATCH_SIZE: [4, 16, 16, 1], TEST: {{PADDING: {padding}}}}}
MODEL: {{FEATURE_MAPS: [2, 4, 8], Z_DOWN: [1, 1]}}
TRAIN: {{ENABLE: True, BATCH_SIZE: 2}}
TEST: {{ENABLE: True, BY_CHUNKS: {{ENABLE: True, WRITE_RAW_PREDICTIONS: True{extra}}}}}
"
    );
    load_str(&yaml, &[]).unwrap().config
}

/// A textured image and a mask of its bright voxels, written as 3D TIFFs.
fn volumes(dir: &Path) -> (Volume<f32>, Volume<u16>) {
    let n: usize = SHAPE.iter().product();
    let image: Vec<u16> = (0..n).map(|i| ((i * 7919 + (i / 32) * 104_729) % 1000) as u16).collect();
    let mask: Vec<u8> = image.iter().map(|&v| u8::from(v > 600)).collect();
    let shape = [SHAPE[0], SHAPE[1], SHAPE[2], 1];
    let (image, mask) = (Volume::from_vec(shape, image).unwrap(), Volume::from_vec(shape, mask).unwrap());
    write_tiff(&dir.join("x.tif"), &AnyVolume::U16(image.clone()), &WriteOptions::default()).unwrap();
    write_tiff(&dir.join("y.tif"), &AnyVolume::U8(mask.clone()), &WriteOptions::default()).unwrap();
    (image.map(|&v| f32::from(v)), mask.map(|&v| u16::from(v)))
}

fn predict(
    config: &Config,
    dir: &Path,
    patch: &PatchOptions,
    labeling: Labeling,
    predictor: &Predictor,
) -> ChunkedPrediction {
    let layout = RunLayout { job_dir: dir.join("run"), job_id: "t".into() };
    let job = ChunkJob { config, layout: &layout, patch, labeling, border: [0; 3] };
    infer_image(&job, predictor, &dir.join("x.tif"), Some(&dir.join("y.tif")), "x").unwrap()
}

fn options(padding: [usize; 3]) -> PatchOptions {
    PatchOptions {
        patch: PATCH,
        overlap: [0.0; 3],
        padding,
        blend: Blend::Spline,
        batch_size: 2,
        tta: None,
        median_padding: false,
    }
}

#[test]
fn without_padding_chunks_equal_the_normal_path_and_hold_one_slab() {
    let dir = tempfile::tempdir().unwrap();
    let (mut image, truth) = volumes(dir.path());
    let config = config("[0, 0, 0]", "");
    let device = Device::flex();
    let model = SegModel::try_new(&ModelSpec::from_config(&config).unwrap(), &device).unwrap();
    let predictor = Predictor::new(&model, &device, 2);
    let labeling = Labeling { n_classes: 2, threshold: 0.5, ignore: None };
    let chunked = predict(&config, dir.path(), &options([0; 3]), labeling, &predictor);

    let stats = compute_stats(&image, &config.data.normalization).unwrap();
    apply(image.as_mut_slice(), &stats);
    let normal = predict_by_patches(&predictor, &image, Some(&truth), &options([0; 3]), &labeling).unwrap();
    let results = dir.path().join("run/results/t");
    let AnyVolume::F32(probs) = read_tiff(&results.join("per_image/x.tif")).unwrap().volume else { panic!("float32") };
    assert_eq!(probs, normal.probs, "the same patches give the same probabilities");
    let AnyVolume::U8(labels) = read_tiff(&results.join("per_image_binarized/x.tif")).unwrap().volume else {
        panic!("uint8")
    };
    let expected = labeling.labels(&normal.probs);
    assert_eq!(labels.shape(), [16, 32, 32, 1]);
    assert_eq!(labels.as_slice().iter().map(|&v| u16::from(v)).collect::<Vec<_>>(), expected);
    assert!(expected.contains(&0) && expected.contains(&1), "a test that both labels occur");
    let normal_ious: Vec<_> = normal.patch_counts.iter().map(|c| iou(c, config.test.empty_iou)).collect();
    assert_eq!(chunked.patch_ious, normal_ious);
    assert_eq!(chunked.image.counts, Some(labeling.counts(&normal.probs, &truth)));
    assert_eq!(chunked.image.n_voxels, 16 * 32 * 32);
    // Memory: one slab of PATCH_SIZE[0] planes read and written at a time, out of 16.
    assert_eq!(chunked.footprint, Footprint { image_planes: 4, mask_planes: 4, written_planes: 4 });
}

#[test]
fn with_padding_and_a_z_range_every_plane_is_written_once_from_bounded_slabs() {
    let dir = tempfile::tempdir().unwrap();
    let (_, truth) = volumes(dir.path());
    // Patch z 4 with padding 1: inner tiles of 2 planes; planes 2..14 predicted.
    let config = config("[1, 2, 2]", ", Z_START: 2, Z_END: 14");
    let device = Device::flex();
    let model = SegModel::try_new(&ModelSpec::from_config(&config).unwrap(), &device).unwrap();
    let predictor = Predictor::new(&model, &device, 2);
    let labeling = Labeling { n_classes: 2, threshold: 0.5, ignore: None };
    let chunked = predict(&config, dir.path(), &options([1, 2, 2]), labeling, &predictor);
    let results = dir.path().join("run/results/t");
    let labels = read_tiff(&results.join("per_image_binarized/x.tif")).unwrap().volume;
    // The outputs cover all 16 planes, as BiaPy's; planes 0..2 and 14..16 were not predicted.
    assert_eq!((labels.shape(), labels.dtype()), ([16, 32, 32, 1], "uint8"));
    let AnyVolume::F32(probs) = read_tiff(&results.join("per_image/x.tif")).unwrap().volume else { panic!("float32") };
    assert_eq!(probs.shape(), [16, 32, 32, 1]);
    let AnyVolume::U8(labels) = labels else { panic!("uint8") };
    let plane = 32 * 32;
    for outside in [0..2 * plane, 14 * plane..16 * plane] {
        assert!(labels.as_slice()[outside.clone()].iter().all(|&v| v == 0));
        assert!(probs.as_slice()[outside].iter().all(|&v| v == 0.0));
    }
    let relabelled: Vec<u8> = probs.as_slice().iter().map(|&p| u8::from(p > 0.5)).collect();
    assert_eq!(labels.as_slice(), relabelled.as_slice(), "labels are the written probabilities binarised");
    // The whole-volume counts are those of the written labels against planes 2..14 of the mask.
    let truth_range = &truth.as_slice()[2 * plane..14 * plane];
    let pred: Vec<u16> = labels.as_slice()[2 * plane..14 * plane].iter().map(|&v| u16::from(v)).collect();
    assert_eq!(chunked.image.counts, Some(Counts::from_labels(&pred, truth_range, 2, None)));
    // 6 slabs of 2 planes × 3×3 tiles of 12×12 in y/x (32 = 2·12 + 8), an IoU for each patch.
    assert_eq!(chunked.patch_ious.len(), 6 * 3 * 3);
    assert_eq!(chunked.footprint, Footprint { image_planes: 4, mask_planes: 4, written_planes: 2 });
}

#[test]
fn patches_per_tile_reads_deeper_blocks_and_changes_no_value() {
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    volumes(one.path());
    volumes(two.path());
    let device = Device::flex();
    let labeling = Labeling { n_classes: 2, threshold: 0.5, ignore: None };
    // One model for both runs (the key does not change the model).
    let model = SegModel::try_new(&ModelSpec::from_config(&config("[1, 2, 2]", "")).unwrap(), &device).unwrap();
    let predictor = Predictor::new(&model, &device, 2);
    let run = |dir: &Path, extra: &str| {
        // Padding 1 in z: the blocks overlap their neighbours by the reflected border.
        let config = config("[1, 2, 2]", extra);
        let chunked = predict(&config, dir, &options([1, 2, 2]), labeling, &predictor);
        let results = dir.join("run/results/t");
        let probs = read_tiff(&results.join("per_image/x.tif")).unwrap().volume;
        (chunked, probs)
    };
    let (single, single_probs) = run(one.path(), "");
    let (blocks, block_probs) = run(two.path(), ", WORKFLOW_PROCESS: {PATCHES_PER_TILE: [3, 1, 1]}");
    assert_eq!(block_probs, single_probs, "the same patches, read three tiles at a time");
    assert_eq!((&blocks.patch_ious, &blocks.image), (&single.patch_ious, &single.image));
    // 8 tiles of 2 planes: blocks of three tiles span 2·2 + 4 = 8 planes (the last holds two).
    assert_eq!(single.footprint.image_planes, 4);
    assert_eq!(blocks.footprint, Footprint { image_planes: 8, mask_planes: 8, written_planes: 2 });
}
