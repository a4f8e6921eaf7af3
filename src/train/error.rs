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
    #[error(transparent)]
    Tiff(#[from] crate::data::tiff_io::TiffError),
    #[error(transparent)]
    Shape(#[from] crate::data::volume::ShapeError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("`TRAIN.ENABLE` is off: nothing to train")]
    NothingToTrain,
    #[error("`DATA.VAL.FROM_TRAIN` is False but `DATA.VAL.PATH` is not set")]
    NoValidationData,
    #[error("training image `{}` has no mask", path.display())]
    NoMask { path: PathBuf },
    #[error("the split leaves {n_train} training and {n_val} validation samples; both need at least one")]
    EmptySplit { n_train: usize, n_val: usize },
    #[error(
        "one training image cannot be split into training and validation with `DATA.TRAIN.EXTRACT_RANDOM_PATCH`; add images or set `DATA.VAL.FROM_TRAIN: False`"
    )]
    OneImageRandomSplit,
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
