//! `TRAIN.SAVE_TRAIN_PREDS_FREQ` (BiaPy's training-prediction preview): the first
//! `TRAIN.SAVE_TRAIN_PREDS_NUM_SAMPLES` validation samples (at most one batch, as BiaPy slices
//! its first validation batch) are written once to `train_pred_samples/input/` and `gt/`, and
//! the model's probabilities for them to `train_pred_samples/pred_epoch_<NNNN>/` every that many
//! epochs and after the last one. Files are `<i>.tif`, `i` zero-padded to the count's digits.
//! (`SAVE_TRAIN_PREDS_SHOW` renders them inline in notebooks; BiaPy ignores it elsewhere, and
//! segsweep never runs in one.)
//!
//! Must not: change the model, the sets or any random stream of the training.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::prelude::Device;

use super::error::TrainError;
use super::samples::{PatchPair, SampleSet};
use crate::config::Config;
use crate::data::Volume;
use crate::data::tiff_io::{AnyVolume, WriteOptions, write_tiff};
use crate::model::SegModel;
use crate::model::predict::Predictor;

/// The tracked samples and where their previews go.
pub struct Preview {
    freq: usize,
    images: Vec<Volume<f32>>,
    dir: PathBuf,
    n_classes: usize,
}

impl Preview {
    /// Writes the tracked inputs and masks and returns the preview, or `None` when
    /// `SAVE_TRAIN_PREDS_FREQ` is off (≤ 0).
    pub fn start(
        config: &Config,
        val: &SampleSet,
        dir: &Path,
        out: &mut dyn Write,
    ) -> Result<Option<Self>, TrainError> {
        let train = &config.train;
        let freq = usize::try_from(train.save_train_preds_freq).unwrap_or(0);
        if freq == 0 {
            return Ok(None);
        }
        let n = usize::try_from(train.save_train_preds_num_samples).unwrap_or(1).max(1);
        let n = n.min(train.batch_size).min(val.len());
        let samples: Vec<PatchPair> = (0..n).map(|i| val.sample(i, 0)).collect::<Result<_, _>>()?;
        for (i, (image, mask)) in samples.iter().enumerate() {
            save(&dir.join("input"), i, n, AnyVolume::F32(image.clone()))?;
            save(&dir.join("gt"), i, n, AnyVolume::U8(mask.map(|&l| u8::try_from(l).unwrap_or(u8::MAX))))?;
        }
        writeln!(
            out,
            "Tracking {n} fixed sample(s) for periodic training predictions (every {freq} epochs) in: {}",
            dir.display()
        )
        .ok();
        let images = samples.into_iter().map(|(image, _)| image).collect();
        Ok(Some(Self { freq, images, dir: dir.to_path_buf(), n_classes: config.data.n_classes }))
    }

    /// After epoch `epoch` (0-based) of `epochs`: the probabilities of the tracked samples, when
    /// the epoch is a multiple of the frequency or the last one.
    pub fn after_epoch(
        &self,
        model: &SegModel,
        epoch: usize,
        epochs: usize,
        device: &Device,
    ) -> Result<(), TrainError> {
        if !(epoch + 1).is_multiple_of(self.freq) && epoch + 1 != epochs {
            return Ok(());
        }
        let probs = Predictor::new(model, device, self.n_classes).predict(&self.images)?;
        let dir = self.dir.join(format!("pred_epoch_{:04}", epoch + 1));
        for (i, prob) in probs.into_iter().enumerate() {
            save(&dir, i, self.images.len(), AnyVolume::F32(prob))?;
        }
        Ok(())
    }
}

fn save(dir: &Path, i: usize, n: usize, volume: AnyVolume) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(TrainError::write(dir))?;
    let digits = n.to_string().len();
    Ok(write_tiff(&dir.join(format!("{i:0digits$}.tif")), &volume, &WriteOptions::default())?)
}
