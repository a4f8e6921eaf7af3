//! The model as a function from image patches to probabilities: a batch of `(z, y, x, c)`
//! patches in, `(z, y, x, k)` probabilities out (k = 1 with a sigmoid when binary, `N_CLASSES`
//! with a channel softmax otherwise, spec §3.6). Works on any patch size the network accepts, so
//! it serves patches, whole images and test-time augmentation alike. With half precision
//! (`TEST.REDUCE_MEMORY`) the inputs and the probabilities are rounded to float16, as BiaPy's
//! float16 test arrays hold them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};

use crate::config::Ndim;
use crate::data::Volume;
use crate::model::{ModelError, SegModel};

/// A model in evaluation mode on a device without autodiff. It counts the time spent in the
/// model (tensors in, forward, activation, probabilities out), so the test phase can say how much
/// of it the rest (reading, merging, filtering, metrics, writing) took.
pub struct Predictor {
    model: SegModel,
    device: Device,
    n_classes: usize,
    model_nanos: AtomicU64,
    /// Round inputs and probabilities to float16 (`TEST.REDUCE_MEMORY`).
    half: bool,
}

impl Predictor {
    /// Wraps `model` for inference (dropout off, no gradients).
    pub fn new(model: &SegModel, device: &Device, n_classes: usize) -> Self {
        Self {
            model: model.valid(),
            device: device.clone().without_autodiff(),
            n_classes,
            model_nanos: AtomicU64::new(0),
            half: false,
        }
    }

    /// The same predictor, rounding its inputs and probabilities to float16 when `half`
    /// (BiaPy's `TEST.REDUCE_MEMORY`: the normalised image and the predictions are float16
    /// arrays; patches are merged in float32).
    pub fn with_half_precision(mut self, half: bool) -> Self {
        self.half = half;
        self
    }

    /// Seconds spent in [`Predictor::predict`] so far.
    pub fn model_seconds(&self) -> f64 {
        self.model_nanos.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// 2D or 3D.
    pub fn ndim(&self) -> Ndim {
        self.model.ndim()
    }

    /// Probabilities of equally shaped `patches`, in order.
    pub fn predict(&self, patches: &[Volume<f32>]) -> Result<Vec<Volume<f32>>, ModelError> {
        let Some(first) = patches.first() else { return Ok(Vec::new()) };
        let started = Instant::now();
        let [z, y, x, c] = first.shape();
        let n = patches.len();
        let mut data: Vec<f32> = Vec::with_capacity(n * z * y * x * c);
        for patch in patches {
            let src = patch.as_slice();
            for channel in 0..c {
                data.extend(src.iter().skip(channel).step_by(c));
            }
        }
        if self.half {
            round_to_f16(&mut data);
        }
        let binary = self.n_classes <= 2;
        let (mut values, k) = match self.model.ndim() {
            Ndim::D2 => {
                let input = Tensor::<4>::from_data(TensorData::new(data, [n * z, c, y, x]), &self.device);
                let logits = self.model.forward2d(input)?;
                let k = logits.dims()[1];
                (activate(logits, binary), k)
            }
            Ndim::D3 => {
                let input = Tensor::<5>::from_data(TensorData::new(data, [n, c, z, y, x]), &self.device);
                let logits = self.model.forward3d(input)?;
                let k = logits.dims()[1];
                (activate(logits, binary), k)
            }
        };
        if self.half {
            round_to_f16(&mut values);
        }
        let probs = unpack(&values, n, [z, y, x], k);
        self.model_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        Ok(probs)
    }
}

fn activate<const D: usize>(logits: Tensor<D>, binary: bool) -> Vec<f32> {
    let probs = if binary { sigmoid(logits) } else { softmax(logits, 1) };
    probs.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}

/// Each value rounded to the nearest float16 (ties to even, NumPy's `astype(np.float16)`).
fn round_to_f16(values: &mut [f32]) {
    for v in values {
        *v = half::f16::from_f32(*v).to_f32();
    }
}

/// Channel-first `[n, k, z, y, x]` values to `n` channels-last volumes.
fn unpack(values: &[f32], n: usize, [z, y, x]: [usize; 3], k: usize) -> Vec<Volume<f32>> {
    let plane = z * y * x;
    (0..n)
        .map(|i| {
            let base = i * k * plane;
            let mut out = Vec::with_capacity(plane * k);
            for voxel in 0..plane {
                for channel in 0..k {
                    out.push(values[base + channel * plane + voxel]);
                }
            }
            Volume::from_vec([z, y, x, k], out).expect("k channels of z·y·x voxels")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_is_channels_last() {
        // Two samples, two channels, one voxel each... and two voxels.
        let values = [1.0, 2.0, 10.0, 20.0, 3.0, 4.0, 30.0, 40.0];
        let out = unpack(&values, 2, [1, 1, 2], 2);
        assert_eq!(out[0].as_slice(), &[1.0, 10.0, 2.0, 20.0]);
        assert_eq!(out[1].as_slice(), &[3.0, 30.0, 4.0, 40.0]);
    }

    #[test]
    fn float16_rounding_is_numpys() {
        // np.float16 of these: 0.0999755859375, 0.333251953125, 2048 (a tie, to even), 2052.
        let mut values = [0.1f32, 1.0 / 3.0, 2049.0, 2051.0];
        round_to_f16(&mut values);
        assert_eq!(values, [0.099_975_586, 0.333_251_95, 2048.0, 2052.0]);
    }

    #[test]
    fn half_precision_probabilities_are_float16_values_near_the_full_ones() {
        let spec = crate::model::testutil::spec("MODEL: {FEATURE_MAPS: [2, 4, 8]}\nDATA: {PATCH_SIZE: [16, 16, 1]}");
        let device = Device::flex();
        let model = SegModel::try_new(&spec, &device).unwrap();
        let patch =
            Volume::from_vec([1, 16, 16, 1], (0..256).map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0).collect()).unwrap();
        let full = Predictor::new(&model, &device, 2).predict(std::slice::from_ref(&patch)).unwrap();
        let half = Predictor::new(&model, &device, 2).with_half_precision(true).predict(&[patch]).unwrap();
        let (full, half) = (full[0].as_slice(), half[0].as_slice());
        assert!(half.iter().all(|&v| half::f16::from_f32(v).to_f32() == v), "every value is a float16");
        assert!(full.iter().zip(half).all(|(a, b)| (a - b).abs() < 2e-3));
        assert_ne!(full, half);
    }
}
