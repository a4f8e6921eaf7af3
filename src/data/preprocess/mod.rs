//! `DATA.PREPROCESS` (BiaPy's `preprocess_data`): resize, Gaussian blur, median blur, histogram
//! matching, CLAHE and Canny edges of each raw image right after it is read, before padding, normalisation
//! and patching; masks are only resized (nearest neighbour). `TRAIN`, `VAL` and `TEST` say which
//! splits; a validation split carved from training follows `TRAIN` (as BiaPy warns). Each step
//! casts back to the file's sample type as BiaPy's `.astype(img.dtype)` does (integers
//! truncated). At test time the prediction of a resized image is resized back to the image's own
//! shape ([`Preprocess::restore`]) before anything is written or measured.
//!
//! `CLAHE` works on unsigned 8/16-bit images and floats in [−1, 1] (RGB in 2D on its HSV value),
//! `CANNY` on single-channel 2D images
//! (edges 255, the rest 0, as BiaPy's); `ZOOM` is refused by `config check` (BiaPy reads it in
//! its detection workflow only). Owns the image operations; reads only the reference images of
//! `MATCH_HISTOGRAM`.

pub mod canny;
pub mod clahe;
pub mod gaussian;
pub mod histogram;
pub mod hsv;
pub mod resize;
pub mod spline;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use self::clahe::ClaheRefusal;
use self::histogram::ReferenceHistogram;
use self::resize::{Order, ResizeOptions, resize};
use super::Volume;
use super::dataset::SplitRole;
use super::median::{MedianBorder, median_filter_across_channels};
use crate::config::{Config, FillMode, Ndim};

const REFERENCE_KEY: &str = "DATA.PREPROCESS.MATCH_HISTOGRAM.REFERENCE_PATH";

/// The kind of samples a file holds, for BiaPy's casts back to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SampleType {
    /// Integers whose type's largest value is `max` (255 for `uint8`).
    Integer {
        max: f64,
    },
    Float,
}

/// A reference folder for histogram matching that cannot be used.
#[derive(Clone, Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("`{REFERENCE_KEY}`: {0}")]
    Reference(String),
    #[error("`{REFERENCE_KEY}`: `{}` holds {dtype} samples; the reference histogram has one bin per grey level, so it needs unsigned 8- or 16-bit images (as BiaPy's `np.iinfo` bins)", path.display())]
    ReferenceType { path: PathBuf, dtype: &'static str },
    #[error("`{REFERENCE_KEY}`: no value of the images in `{}` falls in the histogram's bins", path.display())]
    EmptyReference { path: PathBuf },
    #[error("`DATA.PREPROCESS.CLAHE` needs {0} (skimage's `equalize_adapthist` as BiaPy calls it)")]
    Clahe(&'static str),
    #[error("`DATA.PREPROCESS.CANNY` needs {0} (BiaPy's single-channel `detect_edges`)")]
    Canny(&'static str),
}

/// The pre-processing of one split.
#[derive(Debug)]
pub struct Preprocess {
    resize: Option<(Vec<usize>, ResizeOptions)>,
    gaussian: Option<Gaussian>,
    median: Option<[usize; 4]>,
    /// `MATCH_HISTOGRAM`'s folder and its histogram, read on first use.
    histogram: Option<(PathBuf, LazyReference)>,
    /// `CLAHE`: the region size and the clip limit.
    clahe: Option<(clahe::KernelSize, f64)>,
    /// `CANNY`: the hysteresis thresholds in the image's own units (`None`: 10 % and 20 % of its
    /// type's largest value).
    canny: Option<(Option<f64>, Option<f64>)>,
    /// 3D data: z is an array axis (blurred); 2D images have none.
    is_3d: bool,
}

/// A reference histogram read on first use (or why it could not be).
type LazyReference = OnceLock<Result<Arc<ReferenceHistogram>, PreprocessError>>;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Gaussian {
    sigma: f64,
    mode: FillMode,
    /// `CHANNEL_AXIS: None` blurs across channels too (skimage's grayscale reading).
    across_channels: bool,
}

impl Preprocess {
    /// The pre-processing `DATA.PREPROCESS` asks for on `split`, `None` when it is off or empty.
    /// Values are assumed checked by `config check`; the histogram reference images are read on
    /// first use.
    pub fn from_config(config: &Config, split: SplitRole) -> Option<Arc<Self>> {
        let p = &config.data.preprocess;
        let on = match split {
            SplitRole::Train => p.train,
            SplitRole::Val if config.data.val.from_train => p.train,
            SplitRole::Val => p.val,
            SplitRole::Test => p.test,
        };
        if !on {
            return None;
        }
        let is_3d = config.problem.ndim == Ndim::D3;
        let resize = p.resize.enable.then(|| {
            let options = ResizeOptions {
                order: Order::new(p.resize.order).unwrap_or(Order::LINEAR),
                mode: numpy_mode(&p.resize.mode).unwrap_or(FillMode::Reflect),
                cval: p.resize.cval,
                clip: p.resize.clip,
                anti_aliasing: p.resize.anti_aliasing,
            };
            (p.resize.output_shape(is_3d), options)
        });
        let blur = &p.gaussian_blur;
        let gaussian = blur.enable.then(|| Gaussian {
            sigma: blur.sigma,
            mode: scipy_mode(&blur.mode).unwrap_or(FillMode::Nearest),
            across_channels: blur.channel_axis.is_none(),
        });
        let median = p.median_blur.enable.then(|| {
            let k = &p.median_blur.kernel_size;
            if is_3d { [k[0], k[1], k[2], k[3]] } else { [1, k[0], k[1], k[2]] }
        });
        let histogram =
            p.match_histogram.enable.then(|| (PathBuf::from(&p.match_histogram.reference_path), OnceLock::new()));
        let clahe =
            p.clahe.enable.then(|| (clahe::KernelSize::from_config(p.clahe.kernel_size.as_ref()), p.clahe.clip_limit));
        let canny = p.canny.enable.then_some((p.canny.low_threshold, p.canny.high_threshold));
        let any = resize.is_some()
            || gaussian.is_some()
            || median.is_some()
            || histogram.is_some()
            || clahe.is_some()
            || canny.is_some();
        any.then(|| Arc::new(Preprocess { resize, gaussian, median, histogram, clahe, canny, is_3d }))
    }

    /// `MATCH_HISTOGRAM`'s folder of reference images, when on.
    pub fn reference_dir(&self) -> Option<&std::path::Path> {
        self.histogram.as_ref().map(|(dir, _)| dir.as_path())
    }

    /// An image pre-processed: resize, Gaussian blur, median blur, histogram matching, CLAHE,
    /// Canny, in BiaPy's order, each cast back to `sample`. Fails when the histogram reference
    /// cannot be read, or when CLAHE or Canny meet an image they do not take.
    pub fn image(&self, image: &Volume<f32>, sample: SampleType) -> Result<Volume<f32>, PreprocessError> {
        let mut v = image.map(|&x| f64::from(x));
        let cast = |v: &mut Volume<f64>| {
            if let SampleType::Integer { .. } = sample {
                v.as_mut_slice().iter_mut().for_each(|x| *x = x.trunc());
            } else {
                v.as_mut_slice().iter_mut().for_each(|x| *x = f64::from(*x as f32));
            }
        };
        if let Some((shape, options)) = &self.resize {
            v = resize(&v, spatial(&v, shape), options);
            cast(&mut v);
        }
        if let Some(g) = self.gaussian {
            let scale = match sample {
                SampleType::Integer { max } => max,
                SampleType::Float => 1.0,
            };
            let sigma_z = if self.is_3d { g.sigma } else { 0.0 };
            let sigmas = [sigma_z, g.sigma, g.sigma, if g.across_channels { g.sigma } else { 0.0 }];
            v.as_mut_slice().iter_mut().for_each(|x| *x /= scale);
            v = gaussian::gaussian_filter(&v, sigmas, g.mode, 0.0);
            v.as_mut_slice().iter_mut().for_each(|x| *x *= scale);
            cast(&mut v);
        }
        if let Some(footprint) = self.median {
            let f32s = v.map(|&x| x as f32);
            v = median_filter_across_channels(&f32s, footprint, MedianBorder::Nearest).map(|&x| f64::from(x));
        }
        if let Some((dir, loaded)) = &self.histogram {
            let reference = loaded.get_or_init(|| reference_histogram(dir).map(Arc::new)).clone()?;
            let matched = reference.apply(v.as_slice());
            v.as_mut_slice().copy_from_slice(&matched);
            cast(&mut v);
        }
        if let Some((kernel, clip_limit)) = &self.clahe {
            let max = match sample {
                SampleType::Integer { max } => Some(max),
                SampleType::Float => None,
            };
            let shape = v.shape();
            clahe::equalize_image(v.as_mut_slice(), shape, self.is_3d, max, kernel, *clip_limit).map_err(|refusal| {
                PreprocessError::Clahe(match refusal {
                    ClaheRefusal::SampleType => {
                        "unsigned 8- or 16-bit images, or floating-point ones with values in [−1, 1] (`img_as_uint`)"
                    }
                    ClaheRefusal::Rgba => "images of 1 to 3 channels in 2D: skimage drops an RGBA image's alpha channel",
                    ClaheRefusal::RgbKernelList => {
                        "one `KERNEL_SIZE` (or null) for RGB images: skimage equalises their (y, x) value channel"
                    }
                })
            })?;
            cast(&mut v);
        }
        if let Some((low, high)) = self.canny {
            if v.n_channels() != 1 {
                return Err(PreprocessError::Canny("single-channel 2D images"));
            }
            // skimage's img_as_float: integers over their type's largest value, floats as they are.
            let scale = match sample {
                SampleType::Integer { max } => max,
                SampleType::Float => 1.0,
            };
            let (low, high) = (low.map_or(0.1, |t| t / scale), high.map_or(0.2, |t| t / scale));
            let [_, ny, nx, _] = v.shape();
            let unit: Vec<f64> = v.as_slice().iter().map(|&x| x / scale).collect();
            let edges = canny::canny(&unit, ny, nx, low, high);
            v.as_mut_slice().copy_from_slice(&edges);
        }
        Ok(v.map(|&x| x as f32))
    }

    /// A mask pre-processed: only resized, nearest neighbour (BiaPy's `is_y_mask`).
    pub fn mask(&self, mask: Volume<u16>) -> Volume<u16> {
        let Some((shape, options)) = &self.resize else { return mask };
        let nearest = ResizeOptions { order: Order::NEAREST, ..*options };
        let v = mask.map(|&x| f64::from(x));
        resize(&v, spatial(&v, shape), &nearest).map(|&x| x as u16)
    }

    /// A prediction of a resized image brought back to the image's spatial shape `shape`, with
    /// `RESIZE`'s own settings (BiaPy's test path); unchanged without `RESIZE`.
    pub fn restore(&self, probs: Volume<f32>, shape: [usize; 3]) -> Volume<f32> {
        let Some((_, options)) = &self.resize else { return probs };
        if probs.spatial_shape() == shape {
            return probs;
        }
        resize(&probs.map(|&x| f64::from(x)), shape, options).map(|&x| x as f32)
    }
}

/// `(z, y, x)` of `RESIZE.OUTPUT_SHAPE` for `volume`: a 2D shape keeps z.
fn spatial(volume: &Volume<f64>, shape: &[usize]) -> [usize; 3] {
    match shape {
        [y, x] => [volume.shape()[0], *y, *x],
        [z, y, x] => [*z, *y, *x],
        _ => volume.spatial_shape(),
    }
}

/// A NumPy `np.pad` mode name (`RESIZE.MODE`).
pub fn numpy_mode(name: &str) -> Option<FillMode> {
    Some(match name {
        "constant" => FillMode::Constant,
        "edge" => FillMode::Nearest,
        "symmetric" => FillMode::Symmetric,
        "reflect" => FillMode::Reflect,
        "wrap" => FillMode::Wrap,
        _ => return None,
    })
}

/// A SciPy `ndimage` mode name (`GAUSSIAN_BLUR.MODE`): SciPy's `reflect` is NumPy's `symmetric`
/// and its `mirror` NumPy's `reflect`.
pub fn scipy_mode(name: &str) -> Option<FillMode> {
    Some(match name {
        "constant" => FillMode::Constant,
        "nearest" => FillMode::Nearest,
        "reflect" => FillMode::Symmetric,
        "mirror" => FillMode::Reflect,
        "wrap" => FillMode::Wrap,
        _ => return None,
    })
}

/// The histogram of every image in `dir` (natural order), binned by the first image's type.
fn reference_histogram(dir: &std::path::Path) -> Result<ReferenceHistogram, PreprocessError> {
    let files =
        super::dataset::list_tiffs(REFERENCE_KEY, dir).map_err(|e| PreprocessError::Reference(e.to_string()))?;
    let mut images = Vec::new();
    let mut max = None;
    for path in &files {
        let tiff = super::tiff_io::read_tiff(path).map_err(|e| PreprocessError::Reference(e.to_string()))?;
        if max.is_none() {
            max = Some(match tiff.volume.dtype() {
                "uint8" => 255,
                "uint16" => 65535,
                dtype => return Err(PreprocessError::ReferenceType { path: path.clone(), dtype }),
            });
        }
        images.push(tiff.volume.to_f32().into_vec());
    }
    let max = max.unwrap_or(255);
    ReferenceHistogram::new(images.iter().map(Vec::as_slice), max)
        .ok_or_else(|| PreprocessError::EmptyReference { path: dir.into() })
}

/// Two pre-processings are equal when they do the same (the loaded reference aside).
impl PartialEq for Preprocess {
    fn eq(&self, other: &Self) -> bool {
        let dir = |p: &Self| p.histogram.as_ref().map(|(d, _)| d.clone());
        self.resize == other.resize
            && self.gaussian == other.gaussian
            && self.median == other.median
            && dir(self) == dir(other)
            && self.clahe == other.clahe
            && self.canny == other.canny
            && self.is_3d == other.is_3d
    }
}

/// The sample type of a TIFF file's samples.
pub fn sample_type(volume: &super::tiff_io::AnyVolume) -> SampleType {
    use super::tiff_io::AnyVolume as A;
    let max = match volume {
        A::U8(_) => f64::from(u8::MAX),
        A::U16(_) => f64::from(u16::MAX),
        A::U32(_) => f64::from(u32::MAX),
        A::I8(_) => f64::from(i8::MAX),
        A::I16(_) => f64::from(i16::MAX),
        A::I32(_) => f64::from(i32::MAX),
        A::F32(_) | A::F64(_) => return SampleType::Float,
    };
    SampleType::Integer { max }
}

#[cfg(test)]
mod tests;
