//! Inference and evaluation of the test set (spec §4–§6; D3–D7, D12, D13): predict each test
//! image by patches or whole, merge, optionally with test-time augmentation, then post-process,
//! binarise, measure IoU at every level and write BiaPy's output folders. One image is in memory
//! at a time; with `TEST.BY_CHUNKS` (3D), one slab of an image (`chunks`). Takes a trained model from the caller; never trains or loads checkpoints itself.

pub mod chunks;
pub mod evaluate;
pub mod image;
pub mod job;
pub mod outputs;
pub mod predict;
pub mod results;
pub mod tta;

use std::path::PathBuf;

pub use job::{InferRecord, TestOutcome, evaluate_stage, infer_stage, test_job};

/// Why the test phase could not run.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(transparent)]
    Data(#[from] crate::data::dataset::DataError),
    #[error(transparent)]
    Grid(#[from] crate::data::patches::GridError),
    #[error(transparent)]
    Norm(#[from] crate::data::normalize::NormError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Postprocess(#[from] crate::postprocess::PostprocessError),
    #[error("image `{}` is {shape:?} (z, y, x), smaller than `DATA.PATCH_SIZE` {patch:?}; set `DATA.REFLECT_TO_COMPLETE_SHAPE: True` or use a smaller patch", path.display())]
    TooSmall { path: PathBuf, shape: [usize; 3], patch: [usize; 3] },
    #[error("{0}")]
    Setup(String),
    #[error("cannot write `{}`: {message}", path.display())]
    Write { path: PathBuf, message: String },
}

impl InferError {
    /// A write error for `path`.
    pub fn write(path: impl Into<PathBuf>) -> impl FnOnce(String) -> Self {
        let path = path.into();
        move |message| InferError::Write { path, message }
    }
}
