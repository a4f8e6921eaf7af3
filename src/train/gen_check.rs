//! `DATA.CHECK_GENERATORS` (BiaPy's `check_generator_consistence`): every sample of one pass
//! over the training set (the first epoch's order, augmented as the first epoch sees it) and over
//! the validation set, written as `gen_check_{train,val}/sample_<c>.tif` (the normalised image)
//! and `gen_mask_check_{train,val}/sample_<c>.tif` (its mask), `c` counting in that order. Every
//! sample comes from its own seeded stream, so writing them changes nothing in the training.
//!
//! Must not: draw from the training's random streams or change the sets.

use std::path::Path;

use super::error::TrainError;
use super::loader::epoch_order;
use super::samples::SampleSet;
use crate::data::tiff_io::{AnyVolume, WriteOptions, write_tiff};

/// Writes the samples of `train` (shuffled as epoch 1) and `val` (in order) under `results`.
pub fn write(train: &SampleSet, val: &SampleSet, results: &Path) -> Result<(), TrainError> {
    for (set, name, shuffle) in [(train, "train", true), (val, "val", false)] {
        let images = results.join(format!("gen_check_{name}"));
        let masks = results.join(format!("gen_mask_check_{name}"));
        for dir in [&images, &masks] {
            std::fs::create_dir_all(dir).map_err(TrainError::write(dir))?;
        }
        for (c, index) in epoch_order(set.len(), shuffle, set.seed, 0).into_iter().enumerate() {
            let (image, mask) = set.sample(index, 0)?;
            let file = format!("sample_{c}.tif");
            write_tiff(&images.join(&file), &AnyVolume::F32(image), &WriteOptions::default())?;
            let labels = mask.map(|&l| u8::try_from(l).unwrap_or(u8::MAX));
            write_tiff(&masks.join(&file), &AnyVolume::U8(labels), &WriteOptions::default())?;
        }
    }
    Ok(())
}
