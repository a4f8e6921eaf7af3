//! skimage's `random_noise` modes BiaPy calls for `POISSON_NOISE`, `SALT`, `PEPPER` and
//! `SALT_AND_PEPPER`, on the normalised image only (never the mask). As skimage does by default
//! (`clip=True`), every mode ends by clipping the whole image to `[low, 1]`, where `low` is −1
//! when the image has a negative value and 0 otherwise. Pure computation, no I/O.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use crate::data::Volume;

/// skimage's lower clip: −1 for an image with negative values, else 0.
fn low_clip(data: &[f32]) -> f32 {
    if data.iter().any(|&v| v < 0.0) { -1.0 } else { 0.0 }
}

fn clip(data: &mut [f32], low: f32) {
    data.iter_mut().for_each(|v| *v = v.clamp(low, 1.0));
}

/// `SALT` (`salt_vs_pepper` 1), `PEPPER` (0) and `SALT_AND_PEPPER` (its `_PROP`): each element
/// (every channel on its own) is replaced with probability `amount`, by 1 (salt) with probability
/// `salt_vs_pepper`, else by the lower clip value (pepper).
pub(super) fn salt_and_pepper(image: &mut Volume<f32>, amount: f64, salt_vs_pepper: f64, rng: &mut ChaCha8Rng) {
    let data = image.as_mut_slice();
    let low = low_clip(data);
    for v in data.iter_mut() {
        if rng.random::<f64>() < amount {
            *v = if rng.random::<f64>() < salt_vs_pepper { 1.0 } else { low };
        }
    }
    clip(data, low);
}

/// `POISSON_NOISE`: with `n` the number of distinct values rounded up to a power of two, each
/// element becomes `Poisson(x · n) / n` (for an image with negative values, computed on
/// `(x + 1) / (max + 1)` and mapped back), then clipped.
pub(super) fn poisson(image: &mut Volume<f32>, rng: &mut ChaCha8Rng) {
    let data = image.as_mut_slice();
    if data.is_empty() {
        return;
    }
    let low = low_clip(data);
    let mut distinct: Vec<u32> = data.iter().map(|v| v.to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let levels = (distinct.len() as f64).log2().ceil().exp2();
    let old_max = f64::from(data.iter().copied().fold(f32::NEG_INFINITY, f32::max));
    for v in data.iter_mut() {
        let x = if low < 0.0 { (f64::from(*v) + 1.0) / (old_max + 1.0) } else { f64::from(*v) };
        let lambda = (x * levels).max(0.0);
        let drawn = match Poisson::new(lambda) {
            Ok(dist) if lambda > 0.0 => dist.sample(rng),
            _ => 0.0,
        };
        let out = drawn / levels;
        *v = (if low < 0.0 { out * (old_max + 1.0) - 1.0 } else { out }) as f32;
    }
    clip(data, low);
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn image(values: Vec<f32>) -> Volume<f32> {
        let n = values.len();
        Volume::from_vec([1, 1, n, 1], values).unwrap()
    }

    #[test]
    fn salt_and_pepper_replace_the_asked_share_with_one_or_the_low_clip() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 20_000;
        let base: Vec<f32> = (0..n).map(|i| 0.25 + 0.5 * (i % 7) as f32 / 7.0).collect();
        let mut salted = image(base.clone());
        salt_and_pepper(&mut salted, 0.05, 1.0, &mut rng);
        let ones = salted.as_slice().iter().filter(|&&v| v == 1.0).count() as f64 / n as f64;
        assert!((ones - 0.05).abs() < 0.01, "{ones}");
        assert!(salted.as_slice().iter().all(|&v| v == 1.0 || (0.25..0.75).contains(&v)));
        let mut peppered = image(base.clone());
        salt_and_pepper(&mut peppered, 0.1, 0.0, &mut rng);
        let zeros = peppered.as_slice().iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
        assert!((zeros - 0.1).abs() < 0.01, "{zeros}");
        // With a negative value the pepper is −1, and the rest is clipped to [−1, 1].
        let mut signed = image(vec![-3.0, 2.0, 0.5, -0.5]);
        salt_and_pepper(&mut signed, 1.0, 0.0, &mut rng);
        assert_eq!(signed.as_slice(), &[-1.0; 4]);
        let mut untouched = image(vec![-3.0, 2.0, 0.5]);
        salt_and_pepper(&mut untouched, 0.0, 0.5, &mut rng);
        assert_eq!(untouched.as_slice(), &[-1.0, 1.0, 0.5], "skimage clips even when nothing is replaced");
    }

    #[test]
    fn poisson_noise_keeps_the_mean_and_scales_its_spread_with_the_levels() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        // Two distinct values: n = 2 levels, so x = 0.5 becomes Poisson(1) / 2.
        let n = 20_000;
        let mut noisy = image((0..n).map(|i| if i % 2 == 0 { 0.5 } else { 0.0 }).collect());
        poisson(&mut noisy, &mut rng);
        let halves: Vec<f64> = noisy.as_slice().iter().step_by(2).map(|&v| f64::from(v)).collect();
        let mean = halves.iter().sum::<f64>() / halves.len() as f64;
        assert!((mean - 0.448).abs() < 0.02, "{mean}: E[min(X / 2, 1)] = 0.448 for X ~ Poisson(1)");
        assert!(halves.iter().all(|v| [0.0, 0.5, 1.0].contains(v)), "multiples of 1/n, clipped to [0, 1]");
        assert!(noisy.as_slice().iter().skip(1).step_by(2).all(|&v| v == 0.0), "zero stays zero");
        let mut constant = image(vec![0.0; 8]);
        poisson(&mut constant, &mut rng);
        assert_eq!(constant.as_slice(), &[0.0; 8]);
    }
}
