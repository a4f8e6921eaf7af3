//! Noise on the normalised image only (never the mask): skimage's `random_noise` modes BiaPy calls
//! for `POISSON_NOISE`, `SALT`, `PEPPER` and `SALT_AND_PEPPER` — as skimage does by default
//! (`clip=True`), each ends by clipping the whole image to `[low, 1]`, where `low` is −1 when the
//! image has a negative value and 0 otherwise — and BiaPy's own `CUTNOISE` (Gaussian noise in
//! boxes, not clipped). Pure computation, no I/O.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};

use crate::data::Volume;

use super::draw::{randint_exclusive, randint_inclusive, standard_normal_pair, uniform};

/// skimage's lower clip: −1 for an image with negative values, else 0.
pub(super) fn low_clip(data: &[f32]) -> f32 {
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

/// `CUTNOISE` parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct CutNoise {
    /// `CNOISE_SCALE`: the noise's standard deviation as a fraction of the image maximum.
    pub scale: [f64; 2],
    /// `CNOISE_NB_ITERATIONS`: number of boxes, inclusive.
    pub n_boxes: [i64; 2],
    /// `CNOISE_SIZE`: box side as a fraction of each axis.
    pub size: [f64; 2],
}

/// `CUTNOISE`, as BiaPy's `cutnoise`: `randint(lo, hi + 1)` boxes; for each, one fraction f
/// uniform in `size` gives the side `clamp(round(n·f), 1, n)` along y, x (and z in 3D), a corner
/// uniform where the box fits, and Gaussian noise of standard deviation `uniform(scale) · max`
/// (the maximum of the image before any box) added to every voxel of the box, the same value in
/// every channel.
pub(super) fn cutnoise(image: &mut Volume<f32>, p: &CutNoise, rng: &mut ChaCha8Rng) {
    if image.as_slice().is_empty() {
        return;
    }
    let max = image.as_slice().iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let [nz, ny, nx] = image.spatial_shape();
    let nc = image.n_channels();
    let n_boxes = randint_inclusive(rng, p.n_boxes[0], p.n_boxes[1]);
    for _ in 0..n_boxes {
        let frac = uniform(rng, p.size);
        let side = |n: usize| ((n as f64 * frac).round() as usize).clamp(1, n);
        let (sy, sx) = (side(ny), side(nx));
        let corner = |rng: &mut ChaCha8Rng, n: usize, s: usize| randint_exclusive(rng, 0, (n - s + 1) as i64) as usize;
        let (y0, x0) = (corner(rng, ny, sy), corner(rng, nx, sx));
        let std = (uniform(rng, p.scale) * f64::from(max)).max(0.0);
        let sz = side(nz);
        let z0 = if nz > 1 { corner(rng, nz, sz) } else { 0 };
        let mut normals = Vec::with_capacity(sz * sy * sx + 1);
        while normals.len() < sz * sy * sx {
            normals.extend(standard_normal_pair(rng));
        }
        let mut noise = normals.into_iter().map(|n| (n * std) as f32);
        for z in z0..z0 + sz {
            for y in y0..y0 + sy {
                for x in x0..x0 + sx {
                    let n = noise.next().unwrap_or(0.0);
                    let i = image.index(z, y, x, 0);
                    image.as_mut_slice()[i..i + nc].iter_mut().for_each(|v| *v += n);
                }
            }
        }
    }
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
    fn cutnoise_adds_channel_shared_noise_inside_boxes_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let p = CutNoise { scale: [0.5, 0.5], n_boxes: [1, 1], size: [0.25, 0.25] };
        // 16×16 plane, two channels, maximum 1: one 4×4 box with noise of std 0.5.
        let base: Vec<f32> = (0..512).map(|i| if i == 0 { 1.0 } else { 0.5 }).collect();
        let mut image = Volume::from_vec([1, 16, 16, 2], base.clone()).unwrap();
        cutnoise(&mut image, &p, &mut rng);
        let changed: Vec<usize> = (0..256).filter(|&px| image.as_slice()[2 * px + 1] != base[2 * px + 1]).collect();
        assert_eq!(changed.len(), 16, "one 4×4 box");
        let (ys, xs): (Vec<usize>, Vec<usize>) = changed.iter().map(|&px| (px / 16, px % 16)).unzip();
        assert_eq!(ys.iter().max().unwrap() - ys.iter().min().unwrap(), 3);
        assert_eq!(xs.iter().max().unwrap() - xs.iter().min().unwrap(), 3);
        for &px in &changed {
            let (a, b) = (image.as_slice()[2 * px] - base[2 * px], image.as_slice()[2 * px + 1] - base[2 * px + 1]);
            assert!((a - b).abs() < 1e-6, "the same noise in both channels");
        }
        // 3D: the box spans round(nz·f) planes.
        let mut stack = Volume::from_vec([8, 8, 8, 1], vec![1.0f32; 512]).unwrap();
        let p = CutNoise { scale: [0.5, 0.5], n_boxes: [2, 2], size: [0.5, 0.5] };
        cutnoise(&mut stack, &p, &mut rng);
        let planes = (0..8).filter(|&z| stack.as_slice()[z * 64..(z + 1) * 64].iter().any(|&v| v != 1.0)).count();
        assert!((4..=8).contains(&planes), "{planes}");
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
