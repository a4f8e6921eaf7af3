//! The package's test tensors and cover: a patch of the first test image (or training image when
//! there is no test set), cropped about its centre to `DATA.PATCH_SIZE` (rounded down to what
//! the network accepts), as read (`test-input.npy`, the raw values a consumer feeds in); the
//! probabilities segsweep predicts for it after normalising it as the package's pre-processing
//! does (`test-output.npy`); and an overlay of input, truth and mask (`cover.png`).

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use super::ExportError;
use crate::config::{Binarization, Config, Ndim};
use crate::data::Volume;
use crate::data::dataset::list_tiffs;
use crate::data::normalize::{NormStats, apply, compute_stats};
use crate::data::tiff_io::read_tiff;
use crate::model::SegModel;
use crate::model::predict::Predictor;
use crate::plot::overlay::{OverlaySlice, overlay_png};
use crate::postprocess::threshold::{argmax, binarize, threshold_for};

/// A test input and what segsweep predicts for it.
pub struct Sample {
    /// The file the patch was cut from.
    pub source: PathBuf,
    /// Raw values, `(z, y, x, c)`.
    pub input: Volume<f32>,
    /// The normalisation the pre-processing reproduces, computed on `input`.
    pub stats: NormStats,
    /// Probabilities after the sigmoid or softmax, `(z, y, x, k)`.
    pub output: Volume<f32>,
    /// The truth of the same crop, when the image has a mask.
    pub truth: Option<Volume<u16>>,
}

/// Where the sample comes from: the test set, else the training set, with its masks if any.
fn source(config: &Config) -> Result<(PathBuf, Option<PathBuf>), ExportError> {
    let data = &config.data;
    let sets = [
        ("DATA.TEST.PATH", &data.test.path, &data.test.gt_path),
        ("DATA.TRAIN.PATH", &data.train.path, &data.train.gt_path),
    ];
    for (key, path, gt) in sets {
        if path.is_empty() || !Path::new(path).is_dir() {
            continue;
        }
        let first = list_tiffs(key, Path::new(path))?.remove(0);
        let mask = (!gt.is_empty()).then(|| Path::new(gt).join(first.file_name().unwrap_or_default()));
        return Ok((first, mask.filter(|m| m.is_file())));
    }
    Err(ExportError::NoSample(
        "neither `DATA.TEST.PATH` nor `DATA.TRAIN.PATH` is a folder of TIFF images; the package needs a test \
         input (and segsweep's prediction for it)"
            .into(),
    ))
}

/// `(z0, size)` per spatial axis: the patch size (at most the image's), floored to a multiple of
/// the network's pooling `step`, centred.
fn crop(image: [usize; 3], patch: [usize; 3], step: [usize; 3]) -> Option<[(usize, usize); 3]> {
    let mut out = [(0, 0); 3];
    for a in 0..3 {
        let size = patch[a].min(image[a]) / step[a] * step[a];
        if size == 0 {
            return None;
        }
        out[a] = ((image[a] - size) / 2, size);
    }
    Some(out)
}

fn cut<T: Copy + Default>(volume: &Volume<T>, window: [(usize, usize); 3]) -> Volume<T> {
    let c = volume.n_channels();
    let [(z0, nz), (y0, ny), (x0, nx)] = window;
    let mut data = Vec::with_capacity(nz * ny * nx * c);
    for z in z0..z0 + nz {
        for y in y0..y0 + ny {
            for x in x0..x0 + nx {
                data.extend((0..c).map(|k| volume.get(z, y, x, k)));
            }
        }
    }
    Volume::from_vec([nz, ny, nx, c], data).expect("the window's own shape")
}

/// Cuts the sample and predicts it with `model`.
pub fn make(config: &Config, model: &SegModel) -> Result<Sample, ExportError> {
    let (path, mask_path) = source(config)?;
    let image = read_tiff(&path).map_err(|e| ExportError::read(&path, e))?.volume.to_f32();
    let patch = &config.data.patch_size;
    let spatial = match config.problem.ndim {
        Ndim::D2 => [1, patch[0], patch[1]],
        Ndim::D3 => [patch[0], patch[1], patch[2]],
    };
    let step = model.geometry().total_factors();
    let step = match config.problem.ndim {
        Ndim::D2 => [1, step[1], step[2]],
        Ndim::D3 => step,
    };
    let window = crop(image.spatial_shape(), spatial, step).ok_or_else(|| {
        ExportError::NoSample(format!(
            "`{}` ({:?}) is smaller than one network step {step:?} on some axis",
            path.display(),
            image.spatial_shape()
        ))
    })?;
    let input = cut(&image, window);
    let stats = compute_stats(&input, &config.data.normalization)
        .map_err(|e| ExportError::NoSample(format!("normalising `{}`: {e}", path.display())))?;
    let mut normed = input.clone();
    apply(normed.as_mut_slice(), &stats);
    let predictor = Predictor::new(model, &Device::flex(), config.data.n_classes);
    let output = predictor.predict(&[normed])?.remove(0);
    let truth = match mask_path {
        Some(mask) => {
            let labels = read_tiff(&mask).map_err(|e| ExportError::read(&mask, e))?;
            labels.volume.to_labels().map(|l| cut(&l.map(|&v| u16::try_from(v).unwrap_or(u16::MAX)), window))
        }
        None => None,
    };
    Ok(Sample { source: path, input, stats, output, truth })
}

/// `volume` `(z, y, x, c)` as the `[1, c, (z,) y, x]` values and shape of a test tensor.
pub fn to_bcyx(volume: &Volume<f32>, ndim: Ndim) -> (Vec<f32>, Vec<usize>) {
    let [z, y, x, c] = volume.shape();
    let mut values = Vec::with_capacity(volume.as_slice().len());
    for k in 0..c {
        values.extend(volume.as_slice().iter().skip(k).step_by(c));
    }
    let shape = match ndim {
        Ndim::D2 => vec![1, c, y, x],
        Ndim::D3 => vec![1, c, z, y, x],
    };
    (values, shape)
}

/// The labels segsweep writes for `output`: `TEST.BINARIZATION` for one channel, the most
/// probable class otherwise.
pub fn labels(output: &Volume<f32>, binarization: Binarization) -> Vec<u16> {
    let labels = match output.n_channels() {
        1 => binarize(output, threshold_for(binarization, output)),
        _ => argmax(output),
    };
    labels.into_vec()
}

/// Writes the cover: the middle z slice of input, truth and prediction.
pub fn cover(sample: &Sample, config: &Config, path: &Path) -> Result<(), ExportError> {
    let [depth, height, width, _] = sample.input.shape();
    let plane = height * width;
    let z = depth / 2;
    let range = z * plane..(z + 1) * plane;
    let grey = sample.input.channel(0).into_vec();
    let predicted = labels(&sample.output, config.test.binarization);
    let truth = sample.truth.as_ref().map(|t| &t.as_slice()[range.clone()]);
    let slice = OverlaySlice { image: &grey[range.clone()], truth, prediction: &predicted[range], height, width };
    let title = sample.source.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
    overlay_png(path, &title, &slice, config.data.n_classes, None)
        .map_err(|e| ExportError::Write(path.to_path_buf(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_centre_to_multiples_of_the_step() {
        assert_eq!(crop([1, 100, 50], [1, 64, 64], [1, 8, 8]), Some([(0, 1), (18, 64), (1, 48)]));
        assert_eq!(crop([1, 4, 50], [1, 64, 64], [1, 8, 8]), None);
    }

    #[test]
    fn channels_move_before_space() {
        let v = Volume::from_vec([1, 1, 2, 2], vec![1.0, 10.0, 2.0, 20.0]).unwrap();
        assert_eq!(to_bcyx(&v, Ndim::D2), (vec![1.0, 2.0, 10.0, 20.0], vec![1, 2, 1, 2]));
    }

    #[test]
    fn labels_threshold_or_argmax() {
        let binary = Volume::from_vec([1, 1, 3, 1], vec![0.2, 0.5, 0.9]).unwrap();
        assert_eq!(labels(&binary, Binarization::Threshold(0.5)), vec![0, 0, 1]);
        assert_eq!(labels(&binary, Binarization::Threshold(0.3)), vec![0, 1, 1]);
        let three = Volume::from_vec([1, 1, 2, 3], vec![0.1, 0.7, 0.2, 0.5, 0.2, 0.3]).unwrap();
        assert_eq!(labels(&three, Binarization::Otsu), vec![1, 0]);
    }
}
