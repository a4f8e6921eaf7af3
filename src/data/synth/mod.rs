//! Synthetic EM-like "mitochondria" data: a deterministic generator of image/mask pairs for
//! smoke tests, examples and sweeps that must run without downloading a dataset.
//!
//! Owns: the [`SynthParams`] description of a synthetic dataset and the pure generation of its
//! samples as [`Volume`]s. Must not: touch the file system or print (another module writes the
//! TIFFs), or draw randomness from anything but `params.seed` (every sample has its own ChaCha8
//! stream derived from the seed, its split and its index, so output is byte-identical whatever
//! the thread count, and the test set does not depend on `n_train`).
//!
//! What a sample looks like: mid-grey cytoplasm made of multi-scale value noise under an uneven
//! illumination gradient, with pixel noise; dark curvy membranes and vesicles that are
//! background; and mitochondria, ellipses (tubes drifting through the stack in 3D) with a dark
//! membrane ring and a striped ("cristae") interior whose mean is close to the background's, so
//! that a global intensity threshold segments them badly but context makes them learnable.
//! The image does not depend on `n_classes`; only the mask does.
//!
//! ```
//! use segsweep::data::synth::{SynthParams, generate};
//! let params = SynthParams { n_train: 1, n_test: 1, size: vec![64, 64], ..SynthParams::default_2d() };
//! let set = generate(&params).unwrap();
//! assert_eq!(set.train[0].image.shape(), [1, 64, 64, 1]);
//! assert!(set.test[0].mask.as_slice().iter().all(|&m| m < 2));
//! ```

mod organelles;
mod texture;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;

use super::Volume;
use organelles::{Raster, Scene};
use texture::{Background, Dims, Gaussian};

/// Description of a synthetic dataset.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthParams {
    /// Spatial dimensions: 2 or 3.
    pub ndim: usize,
    /// 2 (background / mitochondrion) or 3 (background / membrane / interior).
    pub n_classes: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Number of training samples.
    pub n_train: usize,
    /// Number of test samples.
    pub n_test: usize,
    /// Sample size: `[y, x]` for 2D, `[z, y, x]` for 3D.
    pub size: Vec<usize>,
}

impl SynthParams {
    /// 2 classes, seed 0, 12 train and 4 test images of 256 x 256.
    pub fn default_2d() -> Self {
        Self { ndim: 2, n_classes: 2, seed: 0, n_train: 12, n_test: 4, size: vec![256, 256] }
    }

    /// 2 classes, seed 0, 4 train and 2 test stacks of 32 x 128 x 128.
    pub fn default_3d() -> Self {
        Self { ndim: 3, n_classes: 2, seed: 0, n_train: 4, n_test: 2, size: vec![32, 128, 128] }
    }

    /// Checks every field; the error names the first bad field and what it should be.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |field: &'static str, expected: &str, got: String| {
            Err(SynthError::Invalid { field, expected: expected.to_owned(), got })
        };
        if !matches!(self.ndim, 2 | 3) {
            return bad("ndim", "2 or 3", self.ndim.to_string());
        }
        if !matches!(self.n_classes, 2 | 3) {
            return bad("n_classes", "2 or 3", self.n_classes.to_string());
        }
        if self.size.len() != self.ndim {
            let expected = if self.ndim == 2 { "[y, x] (2 values)" } else { "[z, y, x] (3 values)" };
            return bad("size", expected, format!("{:?}", self.size));
        }
        if self.size.iter().any(|&s| s < 16) {
            return bad("size", "every extent >= 16", format!("{:?}", self.size));
        }
        if self.n_train < 1 {
            return bad("n_train", ">= 1", self.n_train.to_string());
        }
        if self.n_test < 1 {
            return bad("n_test", ">= 1", self.n_test.to_string());
        }
        Ok(())
    }

    /// `(z, y, x)` of one sample; assumes `validate` passed.
    fn dims(&self) -> Dims {
        match self.size[..] {
            [ny, nx] => Dims { nz: 1, ny, nx },
            [nz, ny, nx] => Dims { nz, ny, nx },
            _ => unreachable!("size validated to have 2 or 3 entries"),
        }
    }
}

/// Invalid [`SynthParams`].
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A field is out of range.
    #[error("invalid synth parameter `{field}`: expected {expected}, got {got}")]
    Invalid {
        /// Name of the field, as in [`SynthParams`].
        field: &'static str,
        /// What the field should be.
        expected: String,
        /// What it was.
        got: String,
    },
}

/// Which part of the dataset a sample belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training set.
    Train,
    /// Test set.
    Test,
}

/// One image with its mask.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSample {
    /// Single-channel `u8` image, shape `[z, y, x, 1]` (`z = 1` in 2D).
    pub image: Volume<u8>,
    /// Labels `0..n_classes`, same shape as `image`.
    pub mask: Volume<u8>,
}

/// A generated dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSet {
    /// `n_train` samples.
    pub train: Vec<SynthSample>,
    /// `n_test` samples.
    pub test: Vec<SynthSample>,
}

/// Generates the whole dataset, samples in parallel (the result does not depend on the number
/// of threads).
pub fn generate(params: &SynthParams) -> Result<SynthSet, SynthError> {
    params.validate()?;
    let jobs: Vec<(Split, usize)> =
        (0..params.n_train).map(|i| (Split::Train, i)).chain((0..params.n_test).map(|i| (Split::Test, i))).collect();
    let mut samples: Vec<SynthSample> =
        jobs.par_iter().map(|&(split, index)| generate_sample(params, split, index)).collect();
    let test = samples.split_off(params.n_train);
    Ok(SynthSet { train: samples, test })
}

/// One sample, independent of the others (its own RNG stream derived from seed, split and
/// index), so samples can be generated in parallel (rayon) and a change of `n_train` does not
/// change the test set. `n_train` and `n_test` are not used, so `index` may exceed them.
///
/// # Panics
/// If `params.validate()` fails.
pub fn generate_sample(params: &SynthParams, split: Split, index: usize) -> SynthSample {
    if let Err(e) = params.validate() {
        panic!("generate_sample: {e}");
    }
    let dims = params.dims();
    let rng = |part| stream(params.seed, split, index, part);
    let organelles = organelles::place(&mut rng(Part::Layout), dims);
    let raster = Raster::new(&organelles, dims);
    let background = Background::generate(&mut rng(Part::Background), dims);
    let distractors = texture::distractors(&mut rng(Part::Distractors), dims);
    let mut noise_rng = rng(Part::Noise);
    let noise_sigma = noise_rng.random_range(5.0..9.0f32);
    let scene = Scene {
        dims,
        organelles: &organelles,
        raster: &raster,
        background: &background,
        distractors: &distractors,
        noise_sigma,
    };
    let image = scene.render(&mut Gaussian::new(noise_rng));
    let mask = raster.labels(&organelles, params.n_classes);
    let shape = [dims.nz, dims.ny, dims.nx, 1];
    SynthSample {
        image: Volume::from_vec(shape, image).expect("image has dims.len() voxels"),
        mask: Volume::from_vec(shape, mask).expect("mask has dims.len() voxels"),
    }
}

/// Independent parts of a sample, each with its own stream, so that changing how one part is
/// drawn does not reshuffle the others.
#[derive(Clone, Copy)]
enum Part {
    Layout = 1,
    Background = 2,
    Distractors = 3,
    Noise = 4,
}

/// SplitMix64 finaliser: a bijective 64-bit mix.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The RNG of one part of one sample.
fn stream(seed: u64, split: Split, index: usize, part: Part) -> ChaCha8Rng {
    let split = match split {
        Split::Train => 0x7261_696E,
        Split::Test => 0x7465_7374,
    };
    let h = mix(mix(mix(seed) ^ split) ^ index as u64);
    ChaCha8Rng::seed_from_u64(mix(h ^ part as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2D, 128 x 128, small enough for an unoptimised test build.
    fn small_2d(n_classes: usize) -> SynthParams {
        SynthParams { n_classes, n_train: 4, n_test: 2, size: vec![128, 128], ..SynthParams::default_2d() }
    }

    /// 3D, 16 x 64 x 64 (16 is the smallest extent `validate` allows).
    fn small_3d(n_classes: usize) -> SynthParams {
        SynthParams { n_classes, n_train: 3, n_test: 1, size: vec![16, 64, 64], ..SynthParams::default_3d() }
    }

    fn all(set: &SynthSet) -> impl Iterator<Item = &SynthSample> {
        set.train.iter().chain(&set.test)
    }

    fn fg_fraction(set: &SynthSet) -> f64 {
        let (fg, n) = all(set).fold((0, 0), |(fg, n), s| {
            let m = s.mask.as_slice();
            (fg + m.iter().filter(|&&v| v > 0).count(), n + m.len())
        });
        fg as f64 / n as f64
    }

    #[test]
    fn deterministic_and_seed_sensitive() {
        let p = small_2d(2);
        let a = generate(&p).unwrap();
        assert_eq!(a, generate(&p).unwrap());
        let b = generate(&SynthParams { seed: 1, ..p.clone() }).unwrap();
        assert_ne!(a.train[0].image, b.train[0].image);
        assert_ne!(a.train[0].image, a.train[1].image);
        assert_ne!(a.train[0].image, a.test[0].image);
        assert_eq!(a.test[1], generate_sample(&p, Split::Test, 1));
    }

    #[test]
    fn output_does_not_depend_on_thread_count() {
        let p = small_3d(3);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let serial = pool.install(|| generate(&p)).unwrap();
        assert_eq!(serial, generate(&p).unwrap());
    }

    #[test]
    fn test_set_does_not_depend_on_n_train() {
        let p = small_3d(2);
        let a = generate(&p).unwrap();
        let b = generate(&SynthParams { n_train: 1, ..p }).unwrap();
        assert_eq!(a.test[0], b.test[0]);
    }

    #[test]
    fn image_does_not_depend_on_n_classes() {
        let two = generate_sample(&small_2d(2), Split::Train, 0);
        let three = generate_sample(&small_2d(3), Split::Train, 0);
        assert_eq!(two.image, three.image);
        assert_eq!(two.mask, three.mask.map(|&m| u8::from(m > 0)));
    }

    #[test]
    fn shapes() {
        let s2 = generate(&small_2d(2)).unwrap();
        assert_eq!((s2.train.len(), s2.test.len()), (4, 2));
        for s in all(&s2) {
            assert_eq!(s.image.shape(), [1, 128, 128, 1]);
            assert_eq!(s.mask.shape(), [1, 128, 128, 1]);
        }
        let p = SynthParams { size: vec![16, 40, 24], ..small_3d(3) };
        let s = generate_sample(&p, Split::Test, 0);
        assert_eq!(s.image.shape(), [16, 40, 24, 1]);
        assert_eq!(s.mask.shape(), [16, 40, 24, 1]);
    }

    #[test]
    fn mask_values_and_foreground_fraction() {
        for p in [small_2d(2), small_2d(3), small_3d(2), small_3d(3)] {
            let set = generate(&p).unwrap();
            for s in all(&set) {
                let m = s.mask.as_slice();
                assert!(m.iter().all(|&v| (v as usize) < p.n_classes), "{p:?}");
                if p.n_classes == 3 {
                    assert!((0..3).all(|c| m.contains(&c)), "labels missing, {p:?}");
                }
            }
            let f = fg_fraction(&set);
            assert!((0.05..0.40).contains(&f), "foreground fraction {f} for {p:?}");
        }
    }

    #[test]
    fn intensities_mostly_unsaturated() {
        for p in [small_2d(2), small_3d(2)] {
            let set = generate(&p).unwrap();
            let (inside, n) = all(&set).fold((0, 0), |(k, n), s| {
                let px = s.image.as_slice();
                (k + px.iter().filter(|&&v| (20..=235).contains(&v)).count(), n + px.len())
            });
            assert!(inside as f64 > 0.98 * n as f64, "{inside} of {n} within 20..=235");
        }
    }

    /// Foreground IoU of the best global threshold `pixel < t`, pooled over the set.
    fn best_threshold_iou(set: &SynthSet) -> f64 {
        let mut hist = [[0u64; 256]; 2];
        for s in all(set) {
            for (&v, &m) in s.image.as_slice().iter().zip(s.mask.as_slice()) {
                hist[usize::from(m > 0)][v as usize] += 1;
            }
        }
        let total_fg: u64 = hist[1].iter().sum();
        let (mut tp, mut fp, mut best) = (0u64, 0u64, 0.0f64);
        // Threshold t + 1: pixels <= t are predicted foreground.
        for (bg, fg) in hist[0].iter().zip(&hist[1]) {
            tp += fg;
            fp += bg;
            best = best.max(tp as f64 / (total_fg + fp) as f64);
        }
        best
    }

    #[test]
    fn a_global_threshold_does_not_segment_it() {
        for p in [small_2d(2), small_3d(2)] {
            let iou = best_threshold_iou(&generate(&p).unwrap());
            assert!(iou < 0.7, "best threshold IoU {iou} for {p:?}");
        }
    }

    /// Mean intensity per 3-class label.
    fn class_means(set: &SynthSet) -> [f64; 3] {
        let mut sum = [0.0f64; 3];
        let mut n = [0u64; 3];
        for s in all(set) {
            for (&v, &m) in s.image.as_slice().iter().zip(s.mask.as_slice()) {
                sum[m as usize] += f64::from(v);
                n[m as usize] += 1;
            }
        }
        [0, 1, 2].map(|c| sum[c] / n[c] as f64)
    }

    #[test]
    fn membrane_is_dark_and_interior_resembles_background() {
        for p in [small_2d(3), small_3d(3)] {
            let [bg, membrane, interior] = class_means(&generate(&p).unwrap());
            assert!(membrane < bg - 20.0, "membrane {membrane} vs background {bg}");
            assert!((interior - bg).abs() < 20.0, "interior {interior} vs background {bg}");
        }
    }

    #[test]
    fn organelles_persist_across_slices() {
        let p = small_3d(2);
        let set = generate(&p).unwrap();
        let mut ious = Vec::new();
        for s in all(&set) {
            let plane = 64 * 64;
            let slices: Vec<&[u8]> = s.mask.as_slice().chunks(plane).collect();
            for w in slices.windows(2) {
                let inter = w[0].iter().zip(w[1]).filter(|(a, b)| **a > 0 && **b > 0).count();
                let union = w[0].iter().zip(w[1]).filter(|(a, b)| **a > 0 || **b > 0).count();
                if union > 0 {
                    ious.push(inter as f64 / union as f64);
                }
            }
        }
        let mean = ious.iter().sum::<f64>() / ious.len() as f64;
        assert!(mean > 0.5, "mean consecutive-slice IoU {mean}");
    }

    #[test]
    fn validate_names_the_field() {
        let ok = SynthParams::default_2d();
        assert!(ok.validate().is_ok() && SynthParams::default_3d().validate().is_ok());
        let cases = [
            (SynthParams { ndim: 4, ..ok.clone() }, "`ndim`: expected 2 or 3, got 4"),
            (SynthParams { n_classes: 5, ..ok.clone() }, "`n_classes`: expected 2 or 3"),
            (SynthParams { size: vec![8, 64, 64], ..ok.clone() }, "`size`: expected [y, x]"),
            (SynthParams { size: vec![8, 64], ..ok.clone() }, "`size`: expected every extent >= 16"),
            (SynthParams { n_train: 0, ..ok.clone() }, "`n_train`: expected >= 1, got 0"),
            (SynthParams { n_test: 0, ..ok.clone() }, "`n_test`: expected >= 1, got 0"),
        ];
        for (p, needle) in cases {
            let msg = p.validate().unwrap_err().to_string();
            assert!(msg.contains(needle), "{msg:?} lacks {needle:?}");
            assert!(generate(&p).is_err());
        }
    }

    #[test]
    fn params_round_trip_through_serde() {
        let p = SynthParams::default_3d();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<SynthParams>(&json).unwrap(), p);
        assert!(serde_json::from_str::<SynthParams>(&json.replace("seed", "sed")).is_err());
    }
}
