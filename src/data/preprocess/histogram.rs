//! `DATA.PREPROCESS.MATCH_HISTOGRAM` as BiaPy's `_histogram_matching`: one histogram of every
//! reference image's values (bins `0, 1, …, dtype max`), its cumulative quantiles, and each image
//! mapped value by value: a value whose cumulative quantile in its own image is `q` becomes the
//! (fractional) grey level where the reference reaches `q` (`np.interp`). The reference images
//! must be unsigned 8- or 16-bit, as BiaPy's `np.iinfo` bins need integers (32-bit would mean
//! 4 billion bins). Computes in `f64`; the caller casts to the sample type.

use std::collections::BTreeMap;

/// The reference's cumulative quantiles, one per grey level `0..=max`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceHistogram {
    quantiles: Vec<f64>,
}

impl ReferenceHistogram {
    /// The histogram of every value of `images`, binned `0..=max` (values outside are not counted,
    /// as `np.histogram`'s range). `None` when no value falls in a bin.
    pub fn new<'a>(images: impl IntoIterator<Item = &'a [f32]>, max: u32) -> Option<Self> {
        let mut counts = vec![0u64; max as usize + 1];
        for image in images {
            for &v in image {
                if v >= 0.0 && v <= max as f32 {
                    counts[v as usize] += 1;
                }
            }
        }
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let mut running = 0u64;
        let quantiles = counts
            .iter()
            .map(|&c| {
                running += c;
                running as f64 / total as f64
            })
            .collect();
        Some(Self { quantiles })
    }

    /// `values` with the reference's histogram (NumPy's `np.unique` + `np.interp`).
    pub fn apply(&self, values: &[f64]) -> Vec<f64> {
        let mut counts: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
        for &v in values {
            counts.entry(sort_key(v)).or_insert((v, 0)).1 += 1;
        }
        let n = values.len() as f64;
        let mut running = 0u64;
        let mapped: BTreeMap<u64, f64> = counts
            .into_iter()
            .map(|(key, (_, count))| {
                running += count;
                (key, self.interp(running as f64 / n))
            })
            .collect();
        values.iter().map(|v| mapped[&sort_key(*v)]).collect()
    }

    /// `np.interp(q, quantiles, arange(len))`: below the first quantile the first level, above
    /// the last the last; on a run of equal quantiles (empty bins) the last level of the run.
    fn interp(&self, q: f64) -> f64 {
        let xp = &self.quantiles;
        let last = xp.len() - 1;
        if q < xp[0] {
            return 0.0;
        }
        // The last j with xp[j] <= q.
        let j = xp.partition_point(|&x| x <= q) - 1;
        if j >= last {
            return last as f64;
        }
        let (x0, x1) = (xp[j], xp[j + 1]);
        if x1 == x0 {
            return j as f64;
        }
        j as f64 + (q - x0) / (x1 - x0)
    }
}

/// A total order on `f64` values as `u64` (NaN-free input; −0 and 0 are one value).
fn sort_key(v: f64) -> u64 {
    let v = if v == 0.0 { 0.0 } else { v };
    let bits = v.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | (1 << 63) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_to_an_image_of_itself_is_the_identity_on_its_levels() {
        let image = [0.0f32, 1.0, 1.0, 3.0];
        let reference = ReferenceHistogram::new([&image[..]], 3).unwrap();
        let values: Vec<f64> = image.iter().map(|&v| f64::from(v)).collect();
        // Quantiles of the reference: [0.25, 0.75, 0.75, 1.0]. Source quantiles of 0, 1, 3:
        // 0.25 → level 0; 0.75 → the last of the tied levels 1, 2 → 2; 1.0 → 3. (BiaPy's
        // np.interp gives [0, 2, 2, 3] too: a tie resolves to its last level.)
        assert_eq!(reference.apply(&values), vec![0.0, 2.0, 2.0, 3.0]);
    }

    #[test]
    fn interpolates_between_levels_and_maps_a_dark_image_up() {
        // Reference uniform on 0..=3: quantiles 0.25, 0.5, 0.75, 1.
        let reference = ReferenceHistogram::new([&[0.0f32, 1.0, 2.0, 3.0][..]], 3).unwrap();
        // Source: five values, 10 appears 4 times (q 0.8), 20 once (q 1).
        let out = reference.apply(&[10.0, 10.0, 20.0, 10.0, 10.0]);
        // q 0.8 lies between 0.75 (level 2) and 1.0 (level 3): 2 + 0.05/0.25 = 2.2.
        assert!((out[0] - 2.2).abs() < 1e-12);
        assert_eq!(out[2], 3.0);
        assert!(ReferenceHistogram::new([&[300.0f32][..]], 255).is_none(), "nothing in the bins");
    }

    #[test]
    fn sort_key_orders_negatives_before_positives() {
        let mut values = [3.5, -1.0, 0.0, -7.25, 2.0];
        values.sort_by_key(|v| sort_key(*v));
        assert_eq!(values, [-7.25, -1.0, 0.0, 2.0, 3.5]);
    }
}
