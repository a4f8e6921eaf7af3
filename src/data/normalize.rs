//! Intensity normalisation (spec §3.7): statistics once per image file, applied to the whole
//! image or to any patch of it, per channel.
//!
//! Owns: [`compute_stats`] (optional percentile or fixed clip, then `div`, `scale_range` or
//! `zero_mean_unit_variance`) and [`apply`]. Must not: read files, print, or look at masks.
//!
//! A channel whose values are all in {0, 1} is never clipped or normalised (BiaPy's "binary
//! channel" rule); it gets [`ChannelNorm::identity`].
//!
//! **Deviation from BiaPy.** With percentile clipping, BiaPy computes the training statistics on
//! the *unclipped* image and applies them to the clipped patches, but computes the test
//! statistics on the *clipped* image. segsweep computes them on the clipped image in both cases,
//! so training and test normalise an image identically.
//!
//! ```
//! use segsweep::config::Normalization;
//! use segsweep::data::Volume;
//! use segsweep::data::normalize::{apply, compute_stats};
//! let mut image = Volume::from_vec([1, 1, 4, 1], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
//! let stats = compute_stats(&image, &Normalization::default()).unwrap();
//! apply(image.as_mut_slice(), &stats);
//! let mean: f32 = image.as_slice().iter().sum::<f32>() / 4.0;
//! assert!(mean.abs() < 1e-6);
//! ```

use super::Volume;
use crate::config::{Normalization, NormalizationType};

/// How one channel is normalised: `x' = (clip(x) − offset) / scale`, computed in f64.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChannelNorm {
    /// `[lo, hi]` to clip to before the affine step; `None` without clipping.
    pub clip: Option<[f64; 2]>,
    /// Subtracted after clipping (mean, min, or 0 for `div`).
    pub offset: f64,
    /// Divisor after the subtraction (std, range, or 1/255/65535 for `div`), never below 1e-6
    /// for the computed statistics.
    pub scale: f64,
}

impl ChannelNorm {
    /// Leaves the channel unchanged (binary channels).
    pub fn identity() -> Self {
        Self { clip: None, offset: 0.0, scale: 1.0 }
    }

    /// True when [`apply`] leaves the channel unchanged.
    pub fn is_identity(&self) -> bool {
        *self == Self::identity()
    }

    /// Normalises one value.
    pub fn apply(&self, x: f32) -> f32 {
        let mut v = f64::from(x);
        if let Some([lo, hi]) = self.clip {
            v = v.clamp(lo, hi);
        }
        ((v - self.offset) / self.scale) as f32
    }
}

/// Per-channel normalisation of one image file.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NormStats {
    /// One entry per channel, in channel order.
    pub channels: Vec<ChannelNorm>,
}

/// A normalisation setting that does not fit the image.
#[derive(Debug, thiserror::Error)]
pub enum NormError {
    /// A per-channel list is neither one value nor one per channel.
    #[error("`{key}` has {n_values} values but the image has {n_channels} channels; give one value or one per channel")]
    ValueCount {
        /// The config key.
        key: &'static str,
        /// Values given.
        n_values: usize,
        /// Channels in the image.
        n_channels: usize,
    },
    /// Percentile clipping asked of a volume read slab by slab (`TEST.BY_CHUNKS`).
    #[error(
        "`{key}` needs a percentile of the whole volume, which `TEST.BY_CHUNKS` does not hold in memory; give fixed `DATA.NORMALIZATION.PERC_CLIP.LOWER_VALUE` and `UPPER_VALUE` instead"
    )]
    PercentileByChunks {
        /// The percentile key.
        key: &'static str,
    },
    /// A percentile outside `[0, 100]`.
    #[error("`{key}` is {value} but must be a percentile in [0, 100]")]
    Percentile {
        /// The config key.
        key: &'static str,
        /// The value given.
        value: f64,
    },
}

pub(super) const LOWER_VALUE: &str = "DATA.NORMALIZATION.PERC_CLIP.LOWER_VALUE";
pub(super) const UPPER_VALUE: &str = "DATA.NORMALIZATION.PERC_CLIP.UPPER_VALUE";
pub(super) const LOWER_PERC: &str = "DATA.NORMALIZATION.PERC_CLIP.LOWER_PERC";
pub(super) const UPPER_PERC: &str = "DATA.NORMALIZATION.PERC_CLIP.UPPER_PERC";
const MEAN_VAL: &str = "DATA.NORMALIZATION.ZERO_MEAN_UNIT_VAR.MEAN_VAL";
const STD_VAL: &str = "DATA.NORMALIZATION.ZERO_MEAN_UNIT_VAR.STD_VAL";

/// The fixed value of `values` for channel `c`, or `None` when the list is unset (first entry
/// −1, BiaPy's sentinel).
pub(super) fn fixed_value(
    key: &'static str,
    values: &[f64],
    c: usize,
    n_channels: usize,
) -> Result<Option<f64>, NormError> {
    match values {
        [] => Ok(None),
        [first, ..] if *first == -1.0 => Ok(None),
        [one] => Ok(Some(*one)),
        many if many.len() == n_channels => Ok(Some(many[c])),
        many => Err(NormError::ValueCount { key, n_values: many.len(), n_channels }),
    }
}

/// NumPy's default (`linear`) percentile of `values`, `q` in `[0, 100]`. Reorders `values`.
/// NaN sorts last (NumPy would return NaN).
fn percentile(values: &mut [f32], q: f64) -> f64 {
    let n = values.len();
    let h = (n - 1) as f64 * (q / 100.0);
    let lo = (h.floor() as usize).min(n - 1);
    let (_, &mut a, right) = values.select_nth_unstable_by(lo, f32::total_cmp);
    let a = f64::from(a);
    let Some(b) = right.iter().copied().min_by(f32::total_cmp) else { return a };
    let (b, t) = (f64::from(b), h - lo as f64);
    // NumPy's `_lerp`, including its switch to the upper end for t >= 0.5.
    let diff = b - a;
    if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t }
}

/// Clip bounds for channel `c`: the fixed values when set, else the percentiles of `values`.
fn clip_bounds(values: &mut [f32], norm: &Normalization, c: usize, nc: usize) -> Result<[f64; 2], NormError> {
    let pc = &norm.perc_clip;
    let lower = fixed_value(LOWER_VALUE, &pc.lower_value, c, nc)?;
    let upper = fixed_value(UPPER_VALUE, &pc.upper_value, c, nc)?;
    let mut from_percentile = |key, q: f64| {
        if !(0.0..=100.0).contains(&q) {
            return Err(NormError::Percentile { key, value: q });
        }
        Ok(percentile(values, q))
    };
    let lo = match lower {
        Some(v) => v,
        None => from_percentile(LOWER_PERC, pc.lower_perc)?,
    };
    let hi = match upper {
        Some(v) => v,
        None => from_percentile(UPPER_PERC, pc.upper_perc)?,
    };
    Ok([lo, hi])
}

/// Statistics of the (clipped) channel values, accumulated in f64.
pub(super) struct Moments {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
}

fn moments(values: &[f32], clip: Option<[f64; 2]>) -> Moments {
    let clipped = values.iter().map(|&x| {
        let v = f64::from(x);
        clip.map_or(v, |[lo, hi]| v.clamp(lo, hi))
    });
    let (mut min, mut max, mut sum) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
    for v in clipped.clone() {
        min = min.min(v);
        max = max.max(v);
        sum += v;
    }
    let n = values.len().max(1) as f64;
    let mean = sum / n;
    // Two-pass population variance: stable for large offsets (16-bit images).
    let var = clipped.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    Moments { min, max, mean, std: var.sqrt() }
}

/// The normalisation of one channel given its values (reordered by percentile selection).
fn channel_norm(values: &mut [f32], norm: &Normalization, c: usize, nc: usize) -> Result<ChannelNorm, NormError> {
    if values.iter().all(|&v| v == 0.0 || v == 1.0) {
        return Ok(ChannelNorm::identity());
    }
    let clip = if norm.perc_clip.enable { Some(clip_bounds(values, norm, c, nc)?) } else { None };
    from_moments(&moments(values, clip), clip, norm, c, nc)
}

/// The normalisation of channel `c` of `nc` given its (clipped) moments.
pub(super) fn from_moments(
    m: &Moments,
    clip: Option<[f64; 2]>,
    norm: &Normalization,
    c: usize,
    nc: usize,
) -> Result<ChannelNorm, NormError> {
    let (offset, scale) = match norm.r#type {
        NormalizationType::Div => {
            let divisor = if m.max <= 1.0 {
                1.0
            } else if m.max <= 255.0 {
                255.0
            } else {
                65535.0
            };
            (0.0, divisor)
        }
        NormalizationType::ScaleRange => (m.min, (m.max - m.min).max(1e-6)),
        NormalizationType::ZeroMeanUnitVariance => {
            let zm = &norm.zero_mean_unit_var;
            let mean = fixed_value(MEAN_VAL, &zm.mean_val, c, nc)?.unwrap_or(m.mean);
            let std = fixed_value(STD_VAL, &zm.std_val, c, nc)?.unwrap_or(m.std);
            (mean, std.max(1e-6))
        }
    };
    Ok(ChannelNorm { clip, offset, scale })
}

/// Per-channel statistics of a whole image (call once per file). Statistics are taken after
/// clipping (see the module docs for how this differs from BiaPy's training path).
pub fn compute_stats(image: &Volume<f32>, norm: &Normalization) -> Result<NormStats, NormError> {
    let nc = image.n_channels();
    let channels = (0..nc)
        .map(|c| {
            let mut values = image.channel(c).into_vec();
            channel_norm(&mut values, norm, c, nc)
        })
        .collect::<Result<_, _>>()?;
    Ok(NormStats { channels })
}

/// Normalises `values`, channels last (a whole image's or a patch's `as_mut_slice()`), in place.
///
/// # Panics
/// If the length is not a multiple of the number of channels in `stats`.
pub fn apply(values: &mut [f32], stats: &NormStats) {
    let nc = stats.channels.len();
    assert!(nc > 0 && values.len().is_multiple_of(nc), "{} values do not split into {nc} channels", values.len());
    if stats.channels.iter().all(ChannelNorm::is_identity) {
        return;
    }
    for pixel in values.chunks_exact_mut(nc) {
        for (v, channel) in pixel.iter_mut().zip(&stats.channels) {
            *v = channel.apply(*v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PercClip, ZeroMeanUnitVar};

    fn norm(r#type: NormalizationType) -> Normalization {
        Normalization { r#type, ..Normalization::default() }
    }

    fn image(channels: &[&[f32]]) -> Volume<f32> {
        let n = channels[0].len();
        let data = (0..n).flat_map(|i| channels.iter().map(move |ch| ch[i])).collect();
        Volume::from_vec([1, 1, n, channels.len()], data).unwrap()
    }

    fn normalized(img: &Volume<f32>, n: &Normalization) -> Vec<f32> {
        let stats = compute_stats(img, n).unwrap();
        let mut out = img.clone();
        apply(out.as_mut_slice(), &stats);
        out.as_slice().to_vec()
    }

    fn assert_close(got: &[f32], expect: &[f32]) {
        assert_eq!(got.len(), expect.len());
        for (g, e) in got.iter().zip(expect) {
            assert!((g - e).abs() < 1e-5, "got {got:?}, expected {expect:?}");
        }
    }

    #[test]
    fn percentile_matches_numpy() {
        // np.percentile([3,1,4,1,5,9,2,6,5,3,5], [0,1,37.5,50,99.8,100]) = [1, 1, 3, 4, 8.94, 9].
        let data = [3.0f32, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0];
        for (q, e) in [(0.0, 1.0), (1.0, 1.0), (37.5, 3.0), (50.0, 4.0), (99.8, 8.94), (100.0, 9.0)] {
            let got = percentile(&mut data.clone(), q);
            assert!((got - e).abs() < 1e-12, "q {q}: {got}");
        }
        assert_eq!(percentile(&mut [7.0], 30.0), 7.0);
    }

    #[test]
    fn zero_mean_unit_variance_uses_population_std() {
        let img = image(&[&[1.0, 2.0, 3.0, 4.0]]);
        // mean 2.5, population std sqrt(1.25).
        let s = 1.25f32.sqrt();
        assert_close(&normalized(&img, &Normalization::default()), &[-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]);
        let constant = image(&[&[5.0, 5.0]]);
        assert_eq!(compute_stats(&constant, &Normalization::default()).unwrap().channels[0].scale, 1e-6);
    }

    #[test]
    fn binary_channels_are_left_alone_per_channel() {
        let img = image(&[&[0.0, 1.0, 1.0, 0.0], &[0.0, 2.0, 4.0, 6.0]]);
        let stats = compute_stats(&img, &Normalization::default()).unwrap();
        assert!(stats.channels[0].is_identity());
        assert!(!stats.channels[1].is_identity());
        let out = normalized(&img, &norm(NormalizationType::Div));
        assert_eq!(out.iter().step_by(2).copied().collect::<Vec<_>>(), [0.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn div_picks_divisor_from_channel_max() {
        assert_close(&normalized(&image(&[&[0.0, 0.5, 0.25]]), &norm(NormalizationType::Div)), &[0.0, 0.5, 0.25]);
        assert_close(&normalized(&image(&[&[0.0, 51.0, 255.0]]), &norm(NormalizationType::Div)), &[0.0, 0.2, 1.0]);
        let out = normalized(&image(&[&[0.0, 256.0]]), &norm(NormalizationType::Div));
        assert_close(&out, &[0.0, 256.0 / 65535.0]);
    }

    #[test]
    fn scale_range_maps_to_unit_interval() {
        let out = normalized(&image(&[&[10.0, 20.0, 30.0]]), &norm(NormalizationType::ScaleRange));
        assert_close(&out, &[0.0, 0.5, 1.0]);
    }

    #[test]
    fn percentile_clip_then_stats_on_clipped() {
        let values: Vec<f32> = (0..=100).map(|v| v as f32).collect();
        let mut n = norm(NormalizationType::ScaleRange);
        n.perc_clip = PercClip { enable: true, lower_perc: 10.0, upper_perc: 90.0, ..PercClip::default() };
        let stats = compute_stats(&image(&[&values]), &n).unwrap();
        // Range taken on the clipped image: [10, 90].
        assert_eq!(stats.channels[0], ChannelNorm { clip: Some([10.0, 90.0]), offset: 10.0, scale: 80.0 });
        assert_eq!(stats.channels[0].apply(0.0), 0.0);
        assert_eq!(stats.channels[0].apply(100.0), 1.0);
        assert_eq!(stats.channels[0].apply(50.0), 0.5);
    }

    #[test]
    fn fixed_values_one_or_per_channel() {
        let img = image(&[&[0.0, 10.0], &[0.0, 20.0]]);
        let mut n = norm(NormalizationType::ZeroMeanUnitVariance);
        n.perc_clip =
            PercClip { enable: true, lower_value: vec![2.0], upper_value: vec![8.0, 9.0], ..PercClip::default() };
        n.zero_mean_unit_var = ZeroMeanUnitVar { mean_val: vec![1.0, 2.0], std_val: vec![0.5] };
        // Channel 0: clip [2, 8] then (x − 1) / 0.5; channel 1: clip [2, 9] then (x − 2) / 0.5.
        assert_close(&normalized(&img, &n), &[2.0, 0.0, 14.0, 14.0]);
        n.zero_mean_unit_var.mean_val = vec![1.0, 2.0, 3.0];
        let err = compute_stats(&img, &n).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`DATA.NORMALIZATION.ZERO_MEAN_UNIT_VAR.MEAN_VAL` has 3 values but the image has 2 channels; give one \
             value or one per channel"
        );
    }

    #[test]
    fn apply_on_a_patch_equals_apply_on_the_image() {
        let img = Volume::from_vec([1, 4, 4, 2], (0..32).map(|v| (v * v) as f32).collect()).unwrap();
        let stats = compute_stats(&img, &Normalization::default()).unwrap();
        let mut whole = img.clone();
        apply(whole.as_mut_slice(), &stats);
        let mut patch = crate::data::patches::crop(&img, [0, 1, 1], [1, 2, 2]);
        apply(patch.as_mut_slice(), &stats);
        assert_eq!(patch, crate::data::patches::crop(&whole, [0, 1, 1], [1, 2, 2]));
    }

    #[test]
    fn bad_percentile_is_an_error() {
        let n = Normalization {
            perc_clip: PercClip { enable: true, lower_perc: -1.0, upper_perc: 99.0, ..PercClip::default() },
            ..Normalization::default()
        };
        let err = compute_stats(&image(&[&[0.0, 5.0]]), &n).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`DATA.NORMALIZATION.PERC_CLIP.LOWER_PERC` is -1 but must be a percentile in [0, 100]"
        );
    }
}
