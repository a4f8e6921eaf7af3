//! Checkpoints (D9) in `checkpoints/`:
//!
//! - `<job_id>-checkpoint-best.safetensors`: the weights with the lowest validation loss, with
//!   BiaPy's state-dict names (D9, see `weights.rs`);
//!   `<job_id>-checkpoint-<epoch>.safetensors` every `MODEL.SAVE_CKPT_FREQ` epochs. With
//!   `MODEL.OUT_CHECKPOINT_FORMAT: pth` the same as `.pth` files holding BiaPy's checkpoint dict
//!   (`pth_write.rs`), which BiaPy's own workflow loads.
//! - `<job_id>-resume.json` + `<job_id>-resume-e<epoch>.bpk` (weights with their parameter ids) +
//!   `<job_id>-resume-e<epoch>.optim.bpk` (optimiser state): everything a killed training needs to
//!   continue where it stopped — epoch, best loss, patience counter, schedule state, log rows.
//!
//! Every file is written under a temporary name and renamed into place; `resume.json` is renamed
//! last and names the weight files of its epoch, so a kill at any moment leaves either the old
//! or the new resume point, never a mix.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use super::error::TrainError;
use super::log::EpochRow;
use super::pickle::PyValue;
use super::pth_write::Contents;
use super::schedule::LrSchedule;
use crate::config::{CheckpointFormat, Config};
use crate::model::SegModel;

/// Bump when the resume format changes.
pub const RESUME_VERSION: u32 = 1;

/// The state of a training after a finished epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    pub version: u32,
    /// Hash of everything that defines the training (config and data); a resume point of another
    /// training is never used.
    pub fingerprint: String,
    pub epochs_done: usize,
    pub best_val_loss: Option<f64>,
    pub best_val_iou: Option<f64>,
    pub best_epoch: Option<usize>,
    /// Epochs since the last improvement (early stopping).
    pub bad_epochs: usize,
    pub schedule: LrSchedule,
    pub rows: Vec<EpochRow>,
    pub train_seconds: f64,
    pub model_file: String,
    pub optim_file: String,
}

/// The checkpoint files of one job.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    pub dir: PathBuf,
    pub job_id: String,
    /// `MODEL.OUT_CHECKPOINT_FORMAT`.
    pub format: CheckpointFormat,
}

impl Checkpoints {
    /// The checkpoints of the job laid out at `layout`, in `config`'s output format.
    pub fn of(layout: &crate::layout::RunLayout, config: &Config) -> Self {
        Self { dir: layout.checkpoints(), job_id: layout.job_id.clone(), format: config.model.out_checkpoint_format }
    }

    fn extension(&self) -> &'static str {
        match self.format {
            CheckpointFormat::Safetensors => "safetensors",
            CheckpointFormat::Pth => "pth",
        }
    }

    pub fn best(&self) -> PathBuf {
        self.dir.join(format!("{}-checkpoint-best.{}", self.job_id, self.extension()))
    }

    pub fn periodic(&self, epoch: usize) -> PathBuf {
        self.dir.join(format!("{}-checkpoint-{epoch}.{}", self.job_id, self.extension()))
    }

    pub fn resume_file(&self) -> PathBuf {
        self.dir.join(format!("{}-resume.json", self.job_id))
    }

    /// Writes the weights at `path` in the checkpoints' format; `epoch` is what a `.pth` records
    /// (`None`: BiaPy's `"best"`).
    pub fn save_weights(
        &self,
        path: &Path,
        model: &SegModel,
        config: &Config,
        epoch: Option<usize>,
    ) -> Result<(), TrainError> {
        std::fs::create_dir_all(&self.dir).map_err(TrainError::write(&self.dir))?;
        let bytes = match self.format {
            CheckpointFormat::Safetensors => super::weights::to_bytes(model),
            CheckpointFormat::Pth => {
                let epoch = epoch.map_or(PyValue::Str("best".into()), |e| PyValue::Int(e as i64));
                super::pth_write::to_bytes(model, Contents::Checkpoint { config, epoch })
            }
        };
        crate::atomic::write(path, bytes.map_err(TrainError::checkpoint(path))?).map_err(TrainError::write(path))
    }

    /// Writes a resume point after epoch `state.epochs_done` and removes the previous one.
    pub fn save_resume(
        &self,
        model: &SegModel,
        optim: &ModuleOptimizer,
        state: &mut ResumeState,
    ) -> Result<(), TrainError> {
        std::fs::create_dir_all(&self.dir).map_err(TrainError::write(&self.dir))?;
        let previous = self.load_resume().ok().flatten();
        let stem = format!("{}-resume-e{}", self.job_id, state.epochs_done);
        state.model_file = format!("{stem}.bpk");
        state.optim_file = format!("{stem}.optim.bpk");
        let model_path = self.dir.join(&state.model_file);
        let optim_path = self.dir.join(&state.optim_file);
        let tmp = crate::atomic::temporary_sibling(&model_path);
        model.clone().save_file(&tmp).map_err(|e| TrainError::store(&model_path, "cannot write the weights", e))?;
        crate::atomic::commit(&tmp, &model_path).map_err(TrainError::write(&model_path))?;
        let tmp = crate::atomic::temporary_sibling(&optim_path);
        optim.save(&tmp).map_err(|e| TrainError::store(&optim_path, "cannot write the optimiser state", e))?;
        crate::atomic::commit(&tmp, &optim_path).map_err(TrainError::write(&optim_path))?;
        write_json(&self.resume_file(), state)?;
        if let Some(old) = previous.filter(|old| old.model_file != state.model_file) {
            let _ = std::fs::remove_file(self.dir.join(old.model_file));
            let _ = std::fs::remove_file(self.dir.join(old.optim_file));
        }
        Ok(())
    }

    /// The resume point, if one exists.
    pub fn load_resume(&self) -> Result<Option<ResumeState>, TrainError> {
        let path = self.resume_file();
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(TrainError::checkpoint(&path))?;
        let state: ResumeState = serde_json::from_str(&text).map_err(TrainError::checkpoint(&path))?;
        Ok((state.version == RESUME_VERSION).then_some(state))
    }

    /// Restores weights (with their parameter ids) and optimiser state of a resume point.
    pub fn restore(
        &self,
        state: &ResumeState,
        model: SegModel,
        optim: ModuleOptimizer,
    ) -> Result<(SegModel, ModuleOptimizer), TrainError> {
        let model_path = self.dir.join(&state.model_file);
        let optim_path = self.dir.join(&state.optim_file);
        let model = model
            .try_load_file(&model_path)
            .map_err(|e| TrainError::store(&model_path, "cannot read the weights", e))?;
        let optim = optim
            .load(&optim_path)
            .map_err(|e| TrainError::store(&optim_path, "cannot read the optimiser state", e))?;
        Ok((model, optim))
    }

    /// Removes the resume point (the training finished).
    ///
    /// `resume.json` goes first: it is what makes a resume point exist, so a kill in the middle
    /// leaves either a complete resume point or none, never one naming removed weights (the kill
    /// drill found a training that could not start again after that). Then every weight file of
    /// any resume point of this job goes, a killed predecessor's included.
    pub fn clear_resume(&self) {
        let _ = std::fs::remove_file(self.resume_file());
        let prefix = format!("{}-resume-e", self.job_id);
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// The network of `config` on `device` with the best weights of the job at `layout` (the one
/// place that knows where a job keeps them).
pub fn load_best(
    config: &crate::config::Config,
    layout: &crate::layout::RunLayout,
    device: &burn::prelude::Device,
) -> Result<SegModel, TrainError> {
    let model = SegModel::try_new(&crate::model::ModelSpec::from_config(config)?, device)?;
    load_weights(&Checkpoints::of(layout, config).best(), model)
}

/// Loads weights into `model`: BiaPy-named or burn safetensors, a BiaPy `.pth`, or a `.bpk`
/// (see [`super::interop`]); a missing or mis-shaped tensor is an error naming it.
pub fn load_weights(path: &Path, model: SegModel) -> Result<SegModel, TrainError> {
    super::interop::load(path, model)
}

/// Writes `value` as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(TrainError::checkpoint(path))?;
    crate::atomic::write(path, text + "\n").map_err(TrainError::write(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clearing_the_resume_point_removes_it_first_and_every_resume_file_of_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let checkpoints =
            Checkpoints { dir: dir.path().to_path_buf(), job_id: "run".into(), format: CheckpointFormat::Safetensors };
        for name in
            ["run-resume-e2.bpk", "run-resume-e2.optim.bpk", "run-resume-e1.bpk", "run-checkpoint-best.safetensors"]
        {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::write(checkpoints.resume_file(), "{}").unwrap();
        checkpoints.clear_resume();
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["run-checkpoint-best.safetensors"], "a killed predecessor's e1 files go too");
    }
}
