//! `segsweep evaluate`: IoU of existing prediction files against ground truth, without a model.
//! Predictions may be probabilities (float: thresholded by `TEST.BINARIZATION`, or argmax over
//! channels) or label masks (integer: used as they are). Files are paired by position in natural
//! order, as datasets are.

use std::path::Path;

use super::InferError;
use super::image::Labeling;
use crate::config::Config;
use crate::data::dataset::list_tiffs;
use crate::data::tiff_io::read_tiff;
use crate::metrics::{Counts, iou, mean_skipping};
use crate::postprocess::threshold::threshold_for;

/// IoU of one prediction file.
#[derive(Clone, Debug, PartialEq)]
pub struct FileIou {
    pub pred: String,
    pub gt: String,
    pub iou: Option<f64>,
    pub counts: Counts,
}

/// Scores every prediction in `pred_dir` against the mask at the same position in `gt_dir`.
pub fn evaluate_folders(
    pred_dir: &Path,
    gt_dir: &Path,
    config: &Config,
) -> Result<(Vec<FileIou>, Option<f64>), InferError> {
    let preds = list_tiffs("--pred", pred_dir)?;
    let gts = list_tiffs("--gt", gt_dir)?;
    if preds.len() != gts.len() {
        return Err(InferError::CountMismatch {
            n_pred: preds.len(),
            pred_dir: pred_dir.into(),
            n_gt: gts.len(),
            gt_dir: gt_dir.into(),
        });
    }
    let n_classes = config.data.n_classes;
    let ignore = u16::try_from(config.loss.ignore_index).ok();
    let mut results = Vec::new();
    for (pred_path, gt_path) in preds.iter().zip(&gts) {
        let pred = read_tiff(pred_path)?.volume;
        let gt = read_tiff(gt_path)?.volume;
        let truth = gt.to_labels().ok_or_else(|| InferError::NotLabels { path: gt_path.clone() })?;
        if pred.shape()[..3] != truth.shape()[..3] {
            return Err(InferError::ShapeMismatch {
                pred: pred_path.clone(),
                pred_shape: pred.shape()[..3].to_vec(),
                gt: gt_path.clone(),
                gt_shape: truth.shape()[..3].to_vec(),
            });
        }
        let truth: Vec<u16> = truth.as_slice().iter().map(|&v| v.min(u32::from(u16::MAX)) as u16).collect();
        let labels: Vec<u16> = if pred.is_integer() {
            pred.to_labels().map(|l| l.as_slice().iter().map(|&v| v as u16).collect()).unwrap_or_default()
        } else {
            let probs = pred.to_f32();
            let threshold = threshold_for(config.test.binarization, &probs);
            let classes = if probs.n_channels() > 1 { probs.n_channels().max(3) } else { 2 };
            Labeling { n_classes: classes, threshold, ignore }.labels(&probs)
        };
        let counts = Counts::from_labels(&labels, &truth, n_classes, ignore);
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        results.push(FileIou {
            pred: name(pred_path),
            gt: name(gt_path),
            iou: iou(&counts, config.test.empty_iou),
            counts,
        });
    }
    let mean = mean_skipping(&results.iter().map(|r| r.iou).collect::<Vec<_>>()).0;
    Ok((results, mean))
}
