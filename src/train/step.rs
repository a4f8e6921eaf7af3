//! One forward pass on a batch: tensors from a [`Batch`], logits from the model, the loss, and
//! the IoU counts of the batch (computed on the device, pulled once). Shared by training and
//! validation so the loss lives in one place; a training step with `LOSS.CONTRAST` adds the
//! contrastive term of the network's embedding ([`super::contrast`]).
//!
//! Shapes: 2D batches become `[batch, channel, y, x]`, 3D ones `[batch, channel, z, y, x]`;
//! labels keep one channel.

use burn::prelude::*;

use super::contrast::ContrastLoss;
use super::loss::LossFn;
use super::samples::Batch;
use crate::config::Ndim;
use crate::metrics::Counts;
use crate::model::{ModelError, SegModel};

/// The loss tensor of a batch (still attached to the graph when training) and its counts.
pub struct Forward {
    pub loss: Tensor<1>,
    pub counts: Counts,
}

/// Runs the model on `batch` and scores it.
pub fn forward(model: &SegModel, batch: &Batch, loss: &LossFn, device: &Device) -> Result<Forward, ModelError> {
    forward_with(model, batch, loss, None, device)
}

/// [`forward`], with `LOSS.CONTRAST`'s term at a training iteration when given: the network's
/// embedding joins the loss through [`ContrastLoss::step`].
pub fn forward_with(
    model: &SegModel,
    batch: &Batch,
    loss: &LossFn,
    contrast: Option<(&mut ContrastLoss, usize)>,
    device: &Device,
) -> Result<Forward, ModelError> {
    let [b, c, z, y, x] = batch.shape;
    match model.ndim() {
        Ndim::D2 => {
            let (images, labels) = tensors::<4>(batch, [b, c, y, x], [b, 1, y, x], device);
            score(model, images, labels, loss, contrast.map(|(l, i)| (l, i, &batch.labels[..], [1, y, x])))
        }
        Ndim::D3 => {
            let (images, labels) = tensors::<5>(batch, [b, c, z, y, x], [b, 1, z, y, x], device);
            score(model, images, labels, loss, contrast.map(|(l, i)| (l, i, &batch.labels[..], [z, y, x])))
        }
    }
}

/// The contrastive loss, the iteration, the batch's labels and their spatial sizes `(z, y, x)`.
type ContrastStep<'a> = (&'a mut ContrastLoss, usize, &'a [i64], [usize; 3]);

fn tensors<const D: usize>(
    batch: &Batch,
    image_shape: [usize; D],
    label_shape: [usize; D],
    device: &Device,
) -> (Tensor<D>, Tensor<D, Int>) {
    let images = Tensor::from_data(TensorData::new(batch.images.clone(), image_shape), device);
    let labels = Tensor::from_data(TensorData::new(batch.labels.clone(), label_shape), device);
    (images, labels)
}

fn score<const D: usize>(
    model: &SegModel,
    images: Tensor<D>,
    labels: Tensor<D, Int>,
    loss: &LossFn,
    contrast: Option<ContrastStep<'_>>,
) -> Result<Forward, ModelError> {
    let (logits, term) = match contrast {
        None => (model.logits(images)?, None),
        Some((contrast, iteration, host_labels, full)) => {
            let (logits, embed) = model.forward_embed(images)?;
            let term = embed.and_then(|embed| contrast.step(&logits, embed, host_labels, full, iteration));
            (logits, term)
        }
    };
    let counts = count(&logits, &labels, loss.n_classes, loss.ignore_index);
    let main = loss.forward(logits, labels);
    let loss = match term {
        Some(term) => main + term,
        None => main,
    };
    Ok(Forward { loss, counts })
}

/// IoU counts of logits against labels: binary → sigmoid > 0.5 (logit > 0); multi-class →
/// argmax over channels; pixels with the ignore label skipped.
pub fn count<const D: usize>(
    logits: &Tensor<D>,
    labels: &Tensor<D, Int>,
    n_classes: usize,
    ignore: Option<i64>,
) -> Counts {
    let logits = logits.clone().detach();
    let valid = match ignore {
        Some(i) => labels.clone().not_equal_elem(i),
        None => labels.clone().equal_elem(-1).bool_not(),
    };
    let mut parts: Vec<Tensor<1, Int>> = Vec::new();
    let mut sums = |p: Tensor<D, Bool>, t: Tensor<D, Bool>| {
        let (p, t) = (p.bool_and(valid.clone()), t.bool_and(valid.clone()));
        parts.push(p.clone().bool_and(t.clone()).int().sum());
        parts.push(p.int().sum());
        parts.push(t.int().sum());
    };
    if n_classes <= 2 {
        sums(logits.greater_elem(0.0), labels.clone().equal_elem(1));
    } else {
        let pred = logits.argmax(1);
        for c in 0..n_classes as i64 {
            sums(pred.clone().equal_elem(c), labels.clone().equal_elem(c));
        }
    }
    let values = Tensor::cat(parts, 0).into_data().convert::<i64>().try_into_vec::<i64>().unwrap_or_default();
    let mut counts = Counts::new(n_classes);
    for (c, chunk) in values.chunks(3).enumerate() {
        counts.tp[c] = chunk[0] as u64;
        counts.pred[c] = chunk[1] as u64;
        counts.truth[c] = chunk[2] as u64;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_on_the_device_match_counts_on_the_host() {
        let device = Device::flex();
        let logits = Tensor::<4>::from_data(TensorData::new(vec![1.0f32, -1.0, 2.0, -3.0], [1, 1, 2, 2]), &device);
        let labels = Tensor::<4, Int>::from_data(TensorData::new(vec![1i64, 1, 0, 255], [1, 1, 2, 2]), &device);
        let counts = count(&logits, &labels, 2, Some(255));
        assert_eq!(counts, Counts::from_labels(&[1, 0, 1], &[1, 1, 0], 2, None));
        let logits = Tensor::<4>::from_data(
            TensorData::new(vec![5.0f32, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 5.0], [1, 3, 1, 3]),
            &device,
        );
        let labels = Tensor::<4, Int>::from_data(TensorData::new(vec![0i64, 1, 1], [1, 1, 1, 3]), &device);
        assert_eq!(count(&logits, &labels, 3, None), Counts::from_labels(&[0, 1, 2], &[0, 1, 1], 3, None));
    }
}
