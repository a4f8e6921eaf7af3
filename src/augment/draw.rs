//! Random draws with the conventions of the Python calls BiaPy makes, on a seeded
//! [`ChaCha8Rng`]: a probability roll (`random.uniform(0, 1) < p`), a uniform float, Python's
//! inclusive `random.randint`, NumPy's exclusive `np.random.randint` and a standard normal. Pure
//! computation, no I/O.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

/// True with probability `prob` (0 never fires, 1 always does).
pub(super) fn roll(rng: &mut ChaCha8Rng, prob: f64) -> bool {
    rng.random::<f64>() < prob
}

/// Uniform in `[range[0], range[1])` (`random.uniform`); a degenerate range gives `range[0]`.
pub(super) fn uniform(rng: &mut ChaCha8Rng, range: [f64; 2]) -> f64 {
    range[0] + (range[1] - range[0]) * rng.random::<f64>()
}

/// Uniform integer in `lo..=hi` (Python's `random.randint`); `lo` when `hi < lo`.
pub(super) fn randint_inclusive(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> i64 {
    if hi <= lo { lo } else { rng.random_range(lo..=hi) }
}

/// Uniform integer in `lo..hi` (NumPy's `np.random.randint`); `lo` when the range holds at most
/// one value (NumPy would raise on an empty range).
pub(super) fn randint_exclusive(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> i64 {
    if hi <= lo.saturating_add(1) { lo } else { rng.random_range(lo..hi) }
}

/// Two independent standard normal draws (Box–Muller, both outputs).
pub(super) fn standard_normal_pair(rng: &mut ChaCha8Rng) -> [f64; 2] {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let (sin, cos) = (std::f64::consts::TAU * u2).sin_cos();
    [r * cos, r * sin]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..500 {
            assert!((-0.1..0.1).contains(&uniform(&mut rng, [-0.1, 0.1])));
            assert!((3..=7).contains(&randint_inclusive(&mut rng, 3, 7)));
            assert!((1..3).contains(&randint_exclusive(&mut rng, 1, 3)));
        }
        assert_eq!(randint_exclusive(&mut rng, 4, 4), 4);
        assert_eq!(randint_inclusive(&mut rng, 5, 2), 5);
        assert!(!(0..100).any(|_| roll(&mut rng, 0.0)));
        assert!((0..100).all(|_| roll(&mut rng, 1.0)));
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let xs: Vec<f64> = (0..2000).flat_map(|_| standard_normal_pair(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.06 && (var - 1.0).abs() < 0.08, "mean {mean}, var {var}");
    }
}
