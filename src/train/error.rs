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
    #[error(transparent)]
    Backend(#[from] crate::device::BackendFailure),
    #[error("`TRAIN.ENABLE` is off: nothing to train")]
    NothingToTrain,
    #[error("`DATA.VAL.FROM_TRAIN` is False but `DATA.VAL.PATH` is not set")]
    NoValidationData,
    #[error("training image `{}` has no mask", path.display())]
    NoMask { path: PathBuf },
    /// A setting that cannot be used (`FILTER_SAMPLES`, `FREEZE_LAYERS_MATCHING`), with its key.
    #[error("{0}")]
    Setting(String),
    #[error(
        "`{key}.*` discarded all {before} samples: loosen its conditions (`PROPS`, `VALUES`, `SIGNS`) or turn it off"
    )]
    AllFiltered { key: String, before: usize },
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
    #[error("checkpoint `{}`", path.display())]
    Checkpoint {
        path: PathBuf,
        #[source]
        source: WeightsError,
    },
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
}

/// A library error kept as the source of ours (burn's stores and recorders each have their own).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why weights or a resume point could not be read, written or fitted to the network; wrapped
/// with the file's path by [`TrainError::Checkpoint`].
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("not a valid safetensors file")]
    Safetensors(#[from] safetensors::SafeTensorError),
    #[error("tensor `{name}` cannot be converted")]
    Tensor {
        name: String,
        #[source]
        source: safetensors::SafeTensorError,
    },
    #[error("not a readable PyTorch checkpoint")]
    Pytorch(#[source] BoxError),
    #[error("no tensors found (looked under {0} and at the top level)")]
    NoTensors(String),
    /// The file's tensors do not fit the network (which tensor, both shapes, how many more).
    #[error("{0}")]
    Mismatch(String),
    /// A weight format or conversion direction segsweep does not do (which, and what to use).
    #[error("{0}")]
    Unsupported(&'static str),
    #[error("file not found{0}")]
    NotFound(&'static str),
    #[error("{what}")]
    Store {
        what: &'static str,
        #[source]
        source: BoxError,
    },
    #[error("cannot read the file")]
    Io(#[from] std::io::Error),
    #[error("not a valid resume state")]
    Json(#[from] serde_json::Error),
}

impl WeightsError {
    /// A store or recorder error, with what was being done.
    pub fn store(what: &'static str, source: impl Into<BoxError>) -> Self {
        WeightsError::Store { what, source: source.into() }
    }
}

impl TrainError {
    /// A checkpoint error for `path` from a store or recorder error, with what was being done.
    pub fn store(path: impl Into<PathBuf>, what: &'static str, source: impl Into<BoxError>) -> Self {
        TrainError::Checkpoint { path: path.into(), source: WeightsError::store(what, source) }
    }

    /// A checkpoint error for `path`.
    pub fn checkpoint<E: Into<WeightsError>>(path: impl Into<PathBuf>) -> impl FnOnce(E) -> Self {
        let path = path.into();
        move |source| TrainError::Checkpoint { path, source: source.into() }
    }

    /// A write error for `path`.
    pub fn write(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TrainError::Write { path, source }
    }
}
