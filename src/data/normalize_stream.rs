//! Normalisation statistics of a volume seen slab by slab (`TEST.BY_CHUNKS`, D15), equal to
//! [`super::normalize::compute_stats`] on the whole volume, without holding it.
//!
//! Choice: the statistics stay whole-volume (as the normal test path computes them), taken in
//! streaming passes over the slabs, so a chunked prediction normalises exactly like the normal
//! one. Pass 1 gathers per channel the binary-channel flag, min, max and sum of the (clipped)
//! values; pass 2, only for `zero_mean_unit_variance` without a fixed `STD_VAL`, the sum of
//! squared deviations from the mean. The values are visited in the same order as the whole-volume
//! path (z, y, x), so the f64 sums, hence the statistics, are bit-identical. Percentile clipping
//! needs a whole-volume sort and is refused ([`NormError::PercentileByChunks`]); fixed clip values
//! work. Owns only the accumulation; must not read files.

use super::Volume;
use super::normalize::{
    ChannelNorm, LOWER_PERC, LOWER_VALUE, Moments, NormError, NormStats, UPPER_PERC, UPPER_VALUE, fixed_value,
    from_moments,
};
use crate::config::{Normalization, NormalizationType};

/// One channel's running sums.
#[derive(Clone, Debug)]
struct Running {
    binary: bool,
    min: f64,
    max: f64,
    sum: f64,
    squares: f64,
    n: u64,
}

/// Whole-volume normalisation statistics accumulated slab by slab.
#[derive(Clone, Debug)]
pub struct StreamingStats {
    norm: Normalization,
    clips: Vec<Option<[f64; 2]>>,
    channels: Vec<Running>,
}

impl StreamingStats {
    /// Starts the statistics of a volume with `n_channels` channels.
    pub fn new(norm: &Normalization, n_channels: usize) -> Result<Self, NormError> {
        let clips = (0..n_channels)
            .map(|c| {
                if !norm.perc_clip.enable {
                    return Ok(None);
                }
                let pc = &norm.perc_clip;
                let lo = fixed_value(LOWER_VALUE, &pc.lower_value, c, n_channels)?
                    .ok_or(NormError::PercentileByChunks { key: LOWER_PERC })?;
                let hi = fixed_value(UPPER_VALUE, &pc.upper_value, c, n_channels)?
                    .ok_or(NormError::PercentileByChunks { key: UPPER_PERC })?;
                Ok(Some([lo, hi]))
            })
            .collect::<Result<_, NormError>>()?;
        let start = Running { binary: true, min: f64::INFINITY, max: f64::NEG_INFINITY, sum: 0.0, squares: 0.0, n: 0 };
        Ok(Self { norm: norm.clone(), clips, channels: vec![start; n_channels] })
    }

    /// Whether [`StreamingStats::add_second`] must see the volume again (the standard deviation
    /// is computed around the mean, two-pass like the whole-volume path).
    pub fn needs_second_pass(&self) -> bool {
        let zm = &self.norm.zero_mean_unit_var;
        self.norm.r#type == NormalizationType::ZeroMeanUnitVariance
            && (zm.std_val.is_empty() || zm.std_val[0] == -1.0)
            && self.channels.iter().any(|c| !c.binary)
    }

    /// Pass 1 over the next slab `(z, y, x, c)`, slabs in z order.
    pub fn add_first(&mut self, slab: &Volume<f32>) {
        let nc = self.channels.len();
        for pixel in slab.as_slice().chunks_exact(nc) {
            for ((running, clip), &x) in self.channels.iter_mut().zip(&self.clips).zip(pixel) {
                running.binary &= x == 0.0 || x == 1.0;
                let v = clip.map_or(f64::from(x), |[lo, hi]| f64::from(x).clamp(lo, hi));
                running.min = running.min.min(v);
                running.max = running.max.max(v);
                running.sum += v;
                running.n += 1;
            }
        }
    }

    /// Pass 2 over the next slab, after pass 1 saw them all.
    pub fn add_second(&mut self, slab: &Volume<f32>) {
        let nc = self.channels.len();
        for pixel in slab.as_slice().chunks_exact(nc) {
            for ((running, clip), &x) in self.channels.iter_mut().zip(&self.clips).zip(pixel) {
                let v = clip.map_or(f64::from(x), |[lo, hi]| f64::from(x).clamp(lo, hi));
                let mean = running.sum / running.n.max(1) as f64;
                running.squares += (v - mean) * (v - mean);
            }
        }
    }

    /// The per-channel normalisation.
    pub fn finish(&self) -> Result<NormStats, NormError> {
        let nc = self.channels.len();
        let channels = self
            .channels
            .iter()
            .zip(&self.clips)
            .enumerate()
            .map(|(c, (r, &clip))| {
                if r.binary {
                    return Ok(ChannelNorm::identity());
                }
                let n = r.n.max(1) as f64;
                let mean = r.sum / n;
                let moments = Moments { min: r.min, max: r.max, mean, std: (r.squares / n).sqrt() };
                from_moments(&moments, clip, &self.norm, c, nc)
            })
            .collect::<Result<_, _>>()?;
        Ok(NormStats { channels })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PercClip;
    use crate::data::normalize::compute_stats;

    fn slabs(v: &Volume<f32>, rows: usize) -> Vec<Volume<f32>> {
        let [z, y, x, c] = v.shape();
        let plane = y * x * c;
        (0..z)
            .step_by(rows)
            .map(|z0| {
                let z1 = (z0 + rows).min(z);
                Volume::from_vec([z1 - z0, y, x, c], v.as_slice()[z0 * plane..z1 * plane].to_vec()).unwrap()
            })
            .collect()
    }

    fn streamed(v: &Volume<f32>, norm: &Normalization) -> Result<NormStats, NormError> {
        let mut stats = StreamingStats::new(norm, v.n_channels())?;
        let parts = slabs(v, 2);
        parts.iter().for_each(|s| stats.add_first(s));
        if stats.needs_second_pass() {
            parts.iter().for_each(|s| stats.add_second(s));
        }
        stats.finish()
    }

    #[test]
    fn equals_the_whole_volume_statistics_bit_for_bit() {
        // Channel 0: awkward floats; channel 1: binary (left alone).
        let data: Vec<f32> = (0..5 * 3 * 4)
            .flat_map(|i| [((i * 37 % 101) as f32).sqrt() * 13.7 + 1000.0, (i % 3 == 0) as u8 as f32])
            .collect();
        let volume = Volume::from_vec([5, 3, 4, 2], data).unwrap();
        for r#type in [NormalizationType::ZeroMeanUnitVariance, NormalizationType::ScaleRange, NormalizationType::Div] {
            let mut norm = Normalization { r#type, ..Normalization::default() };
            assert_eq!(streamed(&volume, &norm).unwrap(), compute_stats(&volume, &norm).unwrap(), "{type:?}");
            norm.perc_clip =
                PercClip { enable: true, lower_value: vec![1010.0], upper_value: vec![1100.0], ..PercClip::default() };
            assert_eq!(streamed(&volume, &norm).unwrap(), compute_stats(&volume, &norm).unwrap(), "{type:?} clip");
        }
    }

    #[test]
    fn percentile_clipping_is_refused_by_name() {
        let norm = Normalization {
            perc_clip: PercClip { enable: true, lower_value: vec![1.0], ..PercClip::default() },
            ..Normalization::default()
        };
        let err = StreamingStats::new(&norm, 1).unwrap_err().to_string();
        assert!(err.starts_with("`DATA.NORMALIZATION.PERC_CLIP.UPPER_PERC` needs a percentile of the whole volume"));
    }
}
