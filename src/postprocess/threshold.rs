//! Binarisation of probability maps (spec §4.3, decisions D3/D4): the threshold
//! `TEST.BINARIZATION` asks for (a number, or scikit-image's Otsu), `p > threshold` for the binary
//! case, and argmax over channels for the multi-class case.
//!
//! Pure functions: no I/O, no printing, no filtering, no metrics; which probabilities go in
//! (filtered or not) and where the masks go is the caller's business.
//!
//! ```
//! use segsweep::data::Volume;
//! use segsweep::postprocess::{binarize, otsu_threshold};
//! let probs = Volume::from_vec([1, 1, 4, 1], vec![0.1f32, 0.1, 0.9, 0.9]).unwrap();
//! let th = otsu_threshold(probs.as_slice());
//! assert_eq!(binarize(&probs, th).as_slice(), &[0, 0, 1, 1]);
//! ```

use crate::config::Binarization;
use crate::data::Volume;

const NBINS: usize = 256;

/// scikit-image `threshold_otsu` with 256 bins over all values (`skimage.filters.threshold_otsu(image,
/// nbins=256)`): histogram over [min, max] with 256 equal bins, bin centres, maximise between-class
/// variance; a constant image returns that value.
///
/// Reproduced step by step as NumPy 2 runs it on float32 data: bin edges are
/// `linspace(min, max, 257)` computed in f32, a value goes to the last bin whose edge is ≤ it
/// (the right edge closes the last bin), centres are `(e[i] + e[i+1]) / 2` in f32, class sums and
/// variances in f64, and the first maximum wins. The result is a bin centre, never a data value,
/// so with two clusters it is the centre of the first bin above the lower cluster.
///
/// Non-finite values are ignored (scikit-image would raise); with no finite value the result is
/// 0.
pub fn otsu_threshold(values: &[f32]) -> f32 {
    let mut finite = values.iter().copied().filter(|v| v.is_finite());
    let Some(first) = finite.next() else {
        return 0.0;
    };
    let (lo, hi) = finite.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo == hi {
        return first;
    }
    let edges = bin_edges(lo, hi);
    let counts = histogram(values, &edges);
    let centres: Vec<f32> = edges.windows(2).map(|e| (e[0] + e[1]) / 2.0).collect();
    centres[best_split(&counts, &centres)]
}

/// `np.linspace(lo, hi, 257)` in f32 (NumPy 2 promotion): `i × ((hi − lo) / 256) + lo`, last = hi.
fn bin_edges(lo: f32, hi: f32) -> [f32; NBINS + 1] {
    let step = (hi - lo) / NBINS as f32;
    let mut edges = [0.0f32; NBINS + 1];
    for (i, e) in edges.iter_mut().enumerate() {
        *e = i as f32 * step + lo;
    }
    edges[NBINS] = hi;
    edges
}

/// `np.histogram` counts for finite `values` within the edges: NumPy's first guess
/// `((v − lo) / (hi − lo)) × 256` then its one-step corrections against the edges.
fn histogram(values: &[f32], edges: &[f32; NBINS + 1]) -> [u64; NBINS] {
    let (lo, hi) = (edges[0], edges[NBINS]);
    let mut counts = [0u64; NBINS];
    for &v in values.iter().filter(|v| v.is_finite() && (lo..=hi).contains(*v)) {
        let guess = ((v - lo) / (hi - lo)) * NBINS as f32;
        let mut i = (guess as usize).min(NBINS - 1);
        if v < edges[i] {
            i = i.saturating_sub(1);
        } else if v >= edges[i + 1] && i != NBINS - 1 {
            i += 1;
        }
        counts[i] += 1;
    }
    counts
}

/// Index of the bin centre maximising `w1 × w2 × (mean1 − mean2)²` over the 255 splits (first
/// maximum on ties), with scikit-image's cumulative sums.
fn best_split(counts: &[u64; NBINS], centres: &[f32]) -> usize {
    let weighted: Vec<f64> = counts.iter().zip(centres).map(|(&n, &c)| n as f64 * f64::from(c)).collect();
    let mut below = Vec::with_capacity(NBINS); // (weight, mean) of bins 0..=i
    let (mut w, mut s) = (0u64, 0.0f64);
    for i in 0..NBINS {
        w += counts[i];
        s += weighted[i];
        below.push((w, s / w as f64));
    }
    let mut above = vec![(0u64, 0.0f64); NBINS]; // (weight, mean) of bins i..NBINS
    let (mut w, mut s) = (0u64, 0.0f64);
    for i in (0..NBINS).rev() {
        w += counts[i];
        s += weighted[i];
        above[i] = (w, s / w as f64);
    }
    let mut best = (0, f64::NEG_INFINITY);
    for i in 0..NBINS - 1 {
        let ((w1, m1), (w2, m2)) = (below[i], above[i + 1]);
        let variance = (u128::from(w1) * u128::from(w2)) as f64 * (m1 - m2).powi(2);
        if variance > best.1 {
            best = (i, variance);
        }
    }
    best.0
}

/// Binary: 1 where p > threshold (strictly greater, as BiaPy's `pred > th`), else 0.
///
/// Meant for one-channel probabilities (output `(z, y, x, 1)`); with several channels every
/// channel is thresholded on its own and the shape is kept (BiaPy's `> 0.5` per channel on the 2D
/// stack, §4.6). NaN gives 0.
pub fn binarize(probs: &Volume<f32>, threshold: f32) -> Volume<u16> {
    probs.map(|&p| u16::from(p > threshold))
}

/// Multi-class: argmax over channels (first max wins on ties) → (z,y,x,1) labels.
///
/// NaN counts as the largest value, as in NumPy's `argmax` (the first NaN wins); zero channels
/// give label 0.
pub fn argmax(probs: &Volume<f32>) -> Volume<u16> {
    let [z, y, x, nc] = probs.shape();
    let mut labels = Volume::filled([z, y, x, 1], 0u16);
    if nc > 0 {
        for (label, pixel) in labels.as_mut_slice().iter_mut().zip(probs.as_slice().chunks_exact(nc)) {
            *label = first_max(pixel);
        }
    }
    labels
}

/// Index of the first largest value (strict `>`; the first NaN is largest), saturated to
/// `u16::MAX`.
fn first_max(values: &[f32]) -> u16 {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate().skip(1) {
        if values[best].is_nan() {
            break;
        }
        if v.is_nan() || v > values[best] {
            best = i;
        }
    }
    u16::try_from(best).unwrap_or(u16::MAX)
}

/// The threshold TEST.BINARIZATION asks for on these probabilities (a number, or Otsu of all values).
pub fn threshold_for(binarization: Binarization, probs: &Volume<f32>) -> f32 {
    match binarization {
        Binarization::Threshold(t) => t as f32,
        Binarization::Otsu => otsu_threshold(probs.as_slice()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(shape: [usize; 4], data: &[f32]) -> Volume<f32> {
        Volume::from_vec(shape, data.to_vec()).unwrap()
    }

    #[test]
    fn otsu_two_values_gives_the_first_bin_centre() {
        // [0,0,0,1,1,1]: edges i/256, centres (2i+1)/512; counts 3 in bin 0 and 3 in bin 255.
        // Every split i in 0..=254 has w1 = w2 = 3, mean1 = 1/512, mean2 = 511/512: all variances
        // tie, the first wins → threshold = centre of bin 0 = 1/512 = 0.001953125 (as skimage).
        let values: Vec<f32> = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0].repeat(7);
        assert_eq!(otsu_threshold(&values), 1.0 / 512.0);
        // Two clusters at 0.1 and 0.9 (100 each): the same tie → lo + step/2 = 0.1 + 0.8/512,
        // 0.1015625 in f32 (NumPy reference re-implementation of skimage: 0.1015625).
        let values: Vec<f32> = [vec![0.1f32; 100], vec![0.9; 100]].concat();
        let th = otsu_threshold(&values);
        assert_eq!(th, 0.1015625);
        assert!(0.1 < th && th < 0.9);
    }

    #[test]
    fn otsu_three_values_by_hand() {
        // [0, 0, 0.5, 1, 1, 1]: bins 0, 128, 255; in units of 1/512 the centres are 1, 257, 511.
        // Split after bin 0:   w1 = 2, m1 = 1;          w2 = 4, m2 = (257 + 3·511)/4 = 447.5
        //                      variance = 2·4·446.5²   = 1 594 898
        // Split after bin 128: w1 = 3, m1 = (2 + 257)/3 = 86.33; w2 = 3, m2 = 511
        //                      variance = 3·3·424.67² ≈ 1 623 076  (larger)
        // → threshold = centre of bin 128 = 257/512 = 0.501953125; 0.5 itself falls below it.
        let values = [0.0, 0.0, 0.5, 1.0, 1.0, 1.0];
        assert_eq!(otsu_threshold(&values), 257.0 / 512.0);
    }

    #[test]
    fn otsu_matches_numpy_reimplementation_of_skimage() {
        // Reference: skimage's `threshold_otsu` body run with NumPy 2.4 (`np.histogram(image,
        // bins=256)` on float32, float32 centres); printed threshold and count above it.
        let squares: Vec<f32> = (0..1000)
            .map(|i| {
                let x = (((i * 37) % 101) as f64 / 100.0) as f32;
                x * x
            })
            .collect();
        let th = otsu_threshold(&squares);
        assert_eq!(th, 0.408_203_13);
        assert_eq!(squares.iter().filter(|&&v| v > th).count(), 366);
        // Bimodal with edges that are not exact in f32: the centre is 0.3198828 (f32).
        let bimodal: Vec<f32> = (0..500)
            .map(|i| {
                let v =
                    if i % 3 == 0 { 0.2 + ((i * 7) % 13) as f64 / 100.0 } else { 0.7 + ((i * 11) % 17) as f64 / 100.0 };
                v as f32
            })
            .collect();
        let th = otsu_threshold(&bimodal);
        assert_eq!(th, 0.319_882_8);
        assert_eq!(bimodal.iter().filter(|&&v| v > th).count(), 346);
    }

    #[test]
    fn otsu_degenerate_inputs() {
        // Constant image: that value, so `p > th` is all 0 (skimage's early return).
        assert_eq!(otsu_threshold(&[0.3; 10]), 0.3);
        assert_eq!(otsu_threshold(&[]), 0.0);
        assert_eq!(otsu_threshold(&[f32::NAN, f32::INFINITY]), 0.0);
        // Non-finite values are skipped.
        assert_eq!(otsu_threshold(&[f32::NAN, 0.0, 0.0, 1.0, 1.0]), 1.0 / 512.0);
    }

    #[test]
    fn binarize_is_strictly_greater() {
        let probs = vol([1, 1, 5, 1], &[0.0, 0.49, 0.5, 0.51, f32::NAN]);
        let out = binarize(&probs, 0.5);
        assert_eq!(out.shape(), [1, 1, 5, 1]);
        assert_eq!(out.as_slice(), &[0, 0, 0, 1, 0]);
        // Several channels: each thresholded on its own, shape kept.
        let two = vol([1, 1, 2, 2], &[0.6, 0.4, 0.5, 0.7]);
        assert_eq!(binarize(&two, 0.5).as_slice(), &[1, 0, 0, 1]);
    }

    #[test]
    fn argmax_first_max_wins() {
        let probs = vol([1, 2, 2, 3], &[0.3, 0.3, 0.1, 0.2, 0.4, 0.4, 0.1, 0.2, 0.7, 0.5, f32::NAN, f32::NAN]);
        let labels = argmax(&probs);
        assert_eq!(labels.shape(), [1, 2, 2, 1]);
        assert_eq!(labels.as_slice(), &[0, 1, 2, 1]);
        assert_eq!(argmax(&Volume::filled([2, 1, 1, 0], 0.0)).as_slice(), &[0, 0]);
    }

    #[test]
    fn threshold_for_follows_test_binarization() {
        let probs = vol([1, 1, 6, 1], &[0.0, 0.0, 0.5, 1.0, 1.0, 1.0]);
        assert_eq!(threshold_for(Binarization::Threshold(0.25), &probs), 0.25);
        assert_eq!(threshold_for(Binarization::Otsu, &probs), 257.0 / 512.0);
    }
}
