//! Statistics of a sweep's numbers (pure, no I/O): the summary of one cell's runs (mean, sample
//! standard deviation, range, 95 % Student t interval), the Student t quantile behind it, the
//! paired difference of two cells over their common run_ids, and the quartiles of a box plot.
//!
//! ```
//! use segsweep::report::stats::summarise;
//! let s = summarise(&[1.0, 2.0, 3.0, 4.0, 5.0]);
//! assert_eq!((s.n, s.mean), (5, 3.0));
//! assert!((s.ci95_low - 1.0368).abs() < 1e-4 && (s.ci95_high - 4.9632).abs() < 1e-4);
//! ```

use std::collections::BTreeMap;

/// Summary of one set of values (the finite ones).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Number of finite values.
    pub n: usize,
    /// Mean; NaN when `n == 0`.
    pub mean: f64,
    /// Sample standard deviation (divisor n − 1); NaN when `n < 2`.
    pub std: f64,
    /// Smallest value; NaN when `n == 0`.
    pub min: f64,
    /// Largest value; NaN when `n == 0`.
    pub max: f64,
    /// `mean − t(0.975, n − 1)·std/√n`; NaN when `n < 2`.
    pub ci95_low: f64,
    /// `mean + t(0.975, n − 1)·std/√n`; NaN when `n < 2`.
    pub ci95_high: f64,
}

/// Summarises `values`, ignoring NaN and infinite values (a failed or undefined metric).
pub fn summarise(values: &[f64]) -> Summary {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = finite.len();
    if n == 0 {
        return Summary {
            n,
            mean: f64::NAN,
            std: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
            ci95_low: f64::NAN,
            ci95_high: f64::NAN,
        };
    }
    let mean = finite.iter().sum::<f64>() / n as f64;
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (std, half_width) = if n < 2 {
        (f64::NAN, f64::NAN)
    } else {
        let variance = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let std = variance.sqrt();
        (std, t975(n - 1) * std / (n as f64).sqrt())
    };
    Summary { n, mean, std, min, max, ci95_low: mean - half_width, ci95_high: mean + half_width }
}

/// t(0.975, df) for df = 1..=30, to nine significant digits.
const T975_TABLE: [f64; 30] = [
    12.7062047, 4.30265273, 3.18244631, 2.77644511, 2.57058184, 2.44691185, 2.36462425, 2.30600414, 2.26215716,
    2.22813885, 2.20098516, 2.17881283, 2.16036866, 2.14478669, 2.13144955, 2.11990530, 2.10981558, 2.10092204,
    2.09302405, 2.08596345, 2.07961385, 2.07387307, 2.06865761, 2.06389856, 2.05953855, 2.05552944, 2.05183052,
    2.04840714, 2.04522964, 2.04227246,
];

/// The standard normal quantile z(0.975).
const Z975: f64 = 1.959963984540054;

/// Student t quantile t(0.975, df): the table for df 1..=30, then the Cornish–Fisher expansion
/// in 1/df to the fourth order (error below 3·10⁻⁸ from df = 30 on), which tends to
/// z(0.975) = 1.95996 as df → ∞. NaN for df = 0.
pub fn t975(df: usize) -> f64 {
    match df {
        0 => f64::NAN,
        1..=30 => T975_TABLE[df - 1],
        _ => {
            let (z, v) = (Z975, df as f64);
            let z2 = z * z;
            let g1 = z * (z2 + 1.0) / 4.0;
            let g2 = z * ((5.0 * z2 + 16.0) * z2 + 3.0) / 96.0;
            let g3 = z * (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) / 384.0;
            let g4 = z * ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) / 92160.0;
            z + g1 / v + g2 / v.powi(2) + g3 / v.powi(3) + g4 / v.powi(4)
        }
    }
}

/// Mean difference of two cells paired over run_id, with its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairedDiff {
    /// Number of pairs (run_ids with a finite value in both cells).
    pub n: usize,
    /// Mean of `variant − reference`; NaN when `n == 0`.
    pub mean: f64,
    /// Lower end of the 95 % Student t interval of the mean difference; NaN when `n < 2`.
    pub ci95_low: f64,
    /// Upper end of the 95 % Student t interval; NaN when `n < 2`.
    pub ci95_high: f64,
    /// Whether the interval lies entirely above or below zero (false when it is undefined).
    pub excludes_zero: bool,
}

/// Differences `variant − reference` paired by run_id (only run_ids present in both, with finite
/// values in both). A run_id listed twice on one side counts once, with its first value.
pub fn paired_difference(reference: &[(u64, f64)], variant: &[(u64, f64)]) -> PairedDiff {
    let first_finite = |pairs: &[(u64, f64)]| {
        let mut map = BTreeMap::new();
        for &(run_id, value) in pairs.iter().filter(|(_, v)| v.is_finite()) {
            map.entry(run_id).or_insert(value);
        }
        map
    };
    let reference = first_finite(reference);
    let differences: Vec<f64> =
        first_finite(variant).iter().filter_map(|(run_id, v)| reference.get(run_id).map(|r| v - r)).collect();
    let s = summarise(&differences);
    PairedDiff {
        n: s.n,
        mean: s.mean,
        ci95_low: s.ci95_low,
        ci95_high: s.ci95_high,
        excludes_zero: s.ci95_low > 0.0 || s.ci95_high < 0.0,
    }
}

/// The numbers of one box in a box plot (Tukey's).
#[derive(Clone, Debug, PartialEq)]
pub struct BoxStats {
    /// First quartile.
    pub q1: f64,
    pub median: f64,
    /// Third quartile.
    pub q3: f64,
    /// Smallest value not below `q1 − 1.5·IQR`.
    pub whisker_low: f64,
    /// Largest value not above `q3 + 1.5·IQR`.
    pub whisker_high: f64,
    /// Values outside the whiskers, ascending.
    pub outliers: Vec<f64>,
}

/// Quartiles (linear interpolation between order statistics, as numpy's default), whiskers at
/// 1.5 IQR and outliers of the finite `values`; `None` when there are none.
pub fn box_stats(values: &[f64]) -> Option<BoxStats> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let quantile = |p: f64| {
        let position = p * (sorted.len() - 1) as f64;
        let (below, fraction) = (position.floor() as usize, position.fract());
        let above = (below + 1).min(sorted.len() - 1);
        sorted[below] + fraction * (sorted[above] - sorted[below])
    };
    let (q1, median, q3) = (quantile(0.25), quantile(0.5), quantile(0.75));
    let (fence_low, fence_high) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
    let inside = || sorted.iter().copied().filter(|v| (fence_low..=fence_high).contains(v));
    Some(BoxStats {
        q1,
        median,
        q3,
        whisker_low: inside().fold(f64::INFINITY, f64::min),
        whisker_high: inside().fold(f64::NEG_INFINITY, f64::max),
        outliers: sorted.iter().copied().filter(|v| !(fence_low..=fence_high).contains(v)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, expected: f64, tolerance: f64) {
        assert!((got - expected).abs() <= tolerance, "got {got}, expected {expected} ± {tolerance}");
    }

    #[test]
    fn summary_of_one_to_five() {
        let s = summarise(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((s.n, s.mean, s.min, s.max), (5, 3.0, 1.0, 5.0));
        close(s.std, 1.5811388, 1e-7);
        // 3 ± 2.7764451 · 1.5811388 / √5 = 3 ± 1.9632432.
        close(s.ci95_low, 1.0367568, 1e-6);
        close(s.ci95_high, 4.9632432, 1e-6);
        close(s.ci95_high - s.mean, t975(4) * s.std / 5f64.sqrt(), 1e-12);
    }

    #[test]
    fn summary_ignores_nan_and_infinite_values() {
        let s = summarise(&[f64::NAN, 2.0, f64::INFINITY, 4.0]);
        assert_eq!((s.n, s.mean, s.min, s.max), (2, 3.0, 2.0, 4.0));
        close(s.std, 2f64.sqrt(), 1e-12);
        // 3 ± 12.706 · √2 / √2.
        close(s.ci95_low, 3.0 - 12.7062047, 1e-9);
        assert_eq!(summarise(&[f64::NAN]).n, 0);
    }

    #[test]
    fn summary_of_one_value_and_of_none() {
        let s = summarise(&[0.75]);
        assert_eq!((s.n, s.mean, s.min, s.max), (1, 0.75, 0.75, 0.75));
        assert!(s.std.is_nan() && s.ci95_low.is_nan() && s.ci95_high.is_nan());
        let s = summarise(&[]);
        assert_eq!(s.n, 0);
        assert!(s.mean.is_nan() && s.min.is_nan() && s.max.is_nan() && s.std.is_nan());
    }

    #[test]
    fn summary_of_equal_values_has_a_zero_width_interval() {
        let s = summarise(&[0.5, 0.5, 0.5]);
        assert_eq!((s.std, s.ci95_low, s.ci95_high), (0.0, 0.5, 0.5));
    }

    #[test]
    fn t975_table_values() {
        let printed = [
            (1, 12.706),
            (2, 4.303),
            (3, 3.182),
            (4, 2.776),
            (5, 2.571),
            (6, 2.447),
            (7, 2.365),
            (8, 2.306),
            (9, 2.262),
            (10, 2.228),
            (20, 2.086),
            (30, 2.042),
        ];
        for (df, t) in printed {
            close(t975(df), t, 5e-4);
        }
        assert!(t975(0).is_nan());
    }

    #[test]
    fn t975_beyond_the_table() {
        // Reference quantiles computed with mpmath (incomplete beta inversion).
        for (df, t) in [(31, 2.039513446), (40, 2.02107539), (60, 2.000297822), (120, 1.979930405), (1000, 1.962339081)]
        {
            close(t975(df), t, 1e-7);
        }
        close(t975(1_000_000_000), 1.959964, 1e-6);
        // Decreasing across the seam between table and expansion.
        assert!(t975(29) > t975(30) && t975(30) > t975(31) && t975(31) > t975(32));
    }

    #[test]
    fn paired_difference_by_hand() {
        // Run 4 is only in the reference and run 5 has no value in the variant: pairs 1, 2, 3.
        let reference = [(1, 0.50), (2, 0.60), (3, 0.70), (4, 0.90)];
        let variant = [(3, 0.74), (1, 0.52), (2, 0.63), (5, 0.99), (5, f64::NAN)];
        let d = paired_difference(&reference, &variant);
        // Differences 0.02, 0.03, 0.04: mean 0.03, std 0.01, half-width 4.3026527 · 0.01 / √3.
        assert_eq!(d.n, 3);
        close(d.mean, 0.03, 1e-12);
        close(d.ci95_low, 0.03 - 0.0248413771, 1e-8);
        close(d.ci95_high, 0.03 + 0.0248413771, 1e-8);
        assert!(d.excludes_zero);
    }

    #[test]
    fn paired_difference_that_includes_zero_or_is_undefined() {
        let d = paired_difference(&[(1, 0.5), (2, 0.6)], &[(1, 0.6), (2, 0.5)]);
        assert_eq!((d.n, d.mean), (2, 0.0));
        assert!(!d.excludes_zero);
        let d = paired_difference(&[(1, 0.5)], &[(1, 0.7)]);
        assert_eq!(d.n, 1);
        close(d.mean, 0.2, 1e-12);
        assert!(d.ci95_low.is_nan() && !d.excludes_zero);
        let d = paired_difference(&[(1, 0.5)], &[(2, 0.7)]);
        assert!(d.n == 0 && d.mean.is_nan() && !d.excludes_zero);
    }

    #[test]
    fn paired_difference_keeps_the_first_of_repeated_run_ids() {
        let d = paired_difference(&[(1, 0.5), (1, 0.0), (2, 0.5)], &[(1, 0.6), (2, 0.7), (2, 9.0)]);
        assert_eq!(d.n, 2);
        close(d.mean, 0.15, 1e-12);
    }

    #[test]
    fn box_stats_with_an_outlier() {
        let b = box_stats(&[0.1, 0.8, f64::NAN, 0.7, 0.75, 0.85, 0.9, 0.8]).unwrap();
        // Sorted 0.1 0.7 0.75 0.8 0.8 0.85 0.9: q1 at position 1.5, median at 3, q3 at 4.5.
        close(b.q1, 0.725, 1e-12);
        close(b.median, 0.8, 1e-12);
        close(b.q3, 0.825, 1e-12);
        assert_eq!((b.whisker_low, b.whisker_high, b.outliers.clone()), (0.7, 0.9, vec![0.1]));
        let one = box_stats(&[0.4]).unwrap();
        assert_eq!((one.q1, one.median, one.q3, one.whisker_low, one.whisker_high), (0.4, 0.4, 0.4, 0.4, 0.4));
        assert_eq!(box_stats(&[f64::NAN]), None);
    }
}
