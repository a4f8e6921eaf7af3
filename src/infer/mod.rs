//! Inference and evaluation of the test set (spec §4–§6; D3–D7, D12, D13): predict each test
//! image by patches or whole, merge, optionally with test-time augmentation, then post-process,
//! binarise, measure IoU at every level and write BiaPy's output folders. One image is in memory
//! at a time; with `TEST.BY_CHUNKS` (3D), one slab of an image (`chunks`). Takes a trained model from the caller; never trains or loads checkpoints itself.

pub mod chunks;
pub mod evaluate;
pub mod image;
pub mod job;
pub mod outputs;
pub mod overlays;
pub mod results;
pub mod roi;
pub mod tta;

use std::path::PathBuf;

pub use job::{InferRecord, TestOutcome, evaluate_stage, infer_stage, test_job};

/// Why the test phase could not run.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(transparent)]
    Backend(#[from] crate::device::BackendFailure),
    #[error("{0}")]
    Filter(String),
    #[error("test image `{file}` was predicted but is no longer in the test folder: run the test phase again")]
    TestImageGone { file: String },
    #[error(
        "`DATA.TEST.USE_VAL_AS_TEST` tests on the validation fold's images, but `DATA.TRAIN.PATH` has one image \
         (its validation is patches of it): add training images or turn it off"
    )]
    ValAsTestOneImage,
    #[error("`DATA.TEST.ROI_MASK.PATH`: `{}` {message}", path.display())]
    Roi { path: PathBuf, message: String },
    #[error(
        "`TEST.REUSE_PREDICTIONS` reads `{}`, which is not there: run the test phase once without it (with \
         `TEST.SAVE_MODEL_RAW_OUTPUT: True`)",
        path.display()
    )]
    NoEarlierPrediction { path: PathBuf },
    #[error(transparent)]
    Split(#[from] crate::data::split::SplitError),
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
    #[error(transparent)]
    Tiff(#[from] crate::data::tiff_io::TiffError),
    #[error(transparent)]
    Shape(#[from] crate::data::volume::ShapeError),
    #[error("`TEST.ENABLE` is off: nothing to test")]
    NothingToTest,
    #[error("{n_pred} predictions in `{}` but {n_gt} masks in `{}`", pred_dir.display(), gt_dir.display())]
    CountMismatch { n_pred: usize, pred_dir: PathBuf, n_gt: usize, gt_dir: PathBuf },
    #[error("`{}`: expected an integer label mask", path.display())]
    NotLabels { path: PathBuf },
    #[error("`{}` is {pred_shape:?} but `{}` is {gt_shape:?} (z, y, x): the shapes must match", pred.display(), gt.display())]
    ShapeMismatch { pred: PathBuf, pred_shape: Vec<usize>, gt: PathBuf, gt_shape: Vec<usize> },
    #[error("`{}`: {message}", path.display())]
    ZRange { path: PathBuf, message: String },
    #[error("`TEST.ANALIZE_2D_IMGS_AS_3D_STACK` needs all test images to have the same shape")]
    StackShapes,
    #[error("cannot write the test metrics as JSON")]
    Json(#[source] serde_json::Error),
    #[error("cannot write `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl InferError {
    /// A write error for `path`, keeping the error that stopped it as its source.
    pub fn write<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(E) -> Self {
        let path = path.into();
        move |source| InferError::Write { path, source: source.into() }
    }
}
