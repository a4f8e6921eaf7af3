//! [`TrainError`]: everything that can stop a training, each naming the file, key or epoch.

use std::path::PathBuf;

use crate::data::dataset::DataError;
use crate::data::normalize::NormError;
use crate::data::patches::GridError;
use crate::data::split::SplitError;

/// Why a training could not run or finish.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Grid(#[from] GridError),
    #[error(transparent)]
    Norm(#[from] NormError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Augment(#[from] crate::augment::AugmentError),
    #[error("image `{}` is {shape:?} (z, y, x), smaller than `DATA.PATCH_SIZE` {patch:?}; set `DATA.REFLECT_TO_COMPLETE_SHAPE: True` or use a smaller patch", path.display())]
    TooSmall { path: PathBuf, shape: [usize; 3], patch: [usize; 3] },
    #[error("{0}")]
    Setup(String),
    #[error(
        "epoch {epoch}: the loss was not finite in any of its {n_batches} batches; lower `TRAIN.LR` or check the data"
    )]
    NonFinite { epoch: usize, n_batches: usize },
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint `{}`: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
}

impl TrainError {
    /// A write error for `path`.
    pub fn write(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TrainError::Write { path, source }
    }
}
