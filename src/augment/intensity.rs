//! Intensity transforms: `BRIGHTNESS`, `CONTRAST`, `GAMMA_CONTRAST`, `GAUSSIAN_NOISE`, `DROPOUT`,
//! `G_BLUR` and `MEDIAN_BLUR`. They change the (normalised) image only, never the mask, and move
//! nothing. Blurs are in-plane (each `(z, c)` plane on its own, as BiaPy's OpenCV/SciPy calls on
//! its `(y, x, z·c)` layout). Pure computation, no I/O.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use crate::config::FillMode;
use crate::data::Volume;

use super::draw::{randint_inclusive, standard_normal_pair, uniform};
use super::filters::{convolve_plane, correlate_plane, for_each_plane, gaussian_kernel, median_plane, rotate_kernel};

/// `BRIGHTNESS`: `x + δ`, one δ uniform in `range` for the whole sample (BiaPy returns early,
/// drawing nothing, when the range is `(0, 0)`).
pub(super) fn brightness(image: &mut Volume<f32>, range: [f64; 2], rng: &mut ChaCha8Rng) {
    if range == [0.0, 0.0] {
        return;
    }
    let delta = uniform(rng, range) as f32;
    image.as_mut_slice().iter_mut().for_each(|v| *v += delta);
}

/// `CONTRAST`: `x · (1 + δ)`, one δ uniform in `range` (nothing drawn for `(0, 0)`).
pub(super) fn contrast(image: &mut Volume<f32>, range: [f64; 2], rng: &mut ChaCha8Rng) {
    if range == [0.0, 0.0] {
        return;
    }
    let factor = (1.0 + uniform(rng, range)) as f32;
    image.as_mut_slice().iter_mut().for_each(|v| *v *= factor);
}

/// `GAMMA_CONTRAST`: `clip(x, 0, 1)^γ`, γ uniform in `range` (skimage `adjust_gamma`).
pub(super) fn gamma_contrast(image: &mut Volume<f32>, range: [f64; 2], rng: &mut ChaCha8Rng) {
    let gamma = uniform(rng, range) as f32;
    image.as_mut_slice().iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0).powf(gamma));
}

/// `GAUSSIAN_NOISE`, as skimage's `random_noise(mode="gaussian", mean, var)`: independent
/// `N(mean, var)` noise on every element, then **[quirk]** the default `clip=True`: the result is
/// clipped to `[0, 1]`, or `[-1, 1]` when the image has negative values. With
/// `use_image_stats` the mean is the image mean and the variance the image variance × U(0.9, 1.1).
pub(super) fn gaussian_noise(
    image: &mut Volume<f32>,
    mean: f64,
    var: f64,
    use_image_stats: bool,
    rng: &mut ChaCha8Rng,
) {
    let data = image.as_mut_slice();
    if data.is_empty() {
        return;
    }
    let (mean, var) = if use_image_stats {
        let n = data.len() as f64;
        let m = data.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let v = data.iter().map(|&v| (f64::from(v) - m).powi(2)).sum::<f64>() / n;
        (m, v * uniform(rng, [0.9, 1.1]))
    } else {
        (mean, var)
    };
    let std = var.max(0.0).sqrt();
    let low = f64::from(super::noise::low_clip(data));
    for pair in data.chunks_mut(2) {
        for (v, n) in pair.iter_mut().zip(standard_normal_pair(rng)) {
            *v = (f64::from(*v) + mean + std * n).clamp(low, 1.0) as f32;
        }
    }
}

/// `DROPOUT`: p uniform in `range`; every voxel is zeroed (all channels together) with
/// probability p. Nothing happens when p is 0.
pub(super) fn dropout(image: &mut Volume<f32>, range: [f64; 2], rng: &mut ChaCha8Rng) {
    let p = uniform(rng, range);
    if p == 0.0 {
        return;
    }
    let nc = image.n_channels().max(1);
    for voxel in image.as_mut_slice().chunks_mut(nc) {
        if rng.random::<f64>() < p {
            voxel.fill(0.0);
        }
    }
}

/// `G_BLUR`: σ uniform in `sigma`, OpenCV `GaussianBlur` with BiaPy's kernel size and
/// `BORDER_REFLECT_101`, in-plane.
pub(super) fn gaussian_blur(image: &mut Volume<f32>, sigma: [f64; 2], rng: &mut ChaCha8Rng) {
    let sigma = uniform(rng, sigma);
    if sigma <= 0.0 {
        return;
    }
    let kernel = gaussian_kernel(sigma);
    for_each_plane(image, |plane, ny, nx| convolve_plane(plane, ny, nx, &kernel, FillMode::Reflect));
}

/// `MEDIAN_BLUR`: k drawn in `kernel` (inclusive), made odd; SciPy `median_filter(size=k)` on
/// each plane (SciPy's default `reflect` border, NumPy's `symmetric`). Nothing for k ≤ 1.
pub(super) fn median_blur(image: &mut Volume<f32>, kernel: [i64; 2], rng: &mut ChaCha8Rng) {
    let mut k = randint_inclusive(rng, kernel[0], kernel[1]);
    if k % 2 == 0 {
        k += 1;
    }
    if k <= 1 {
        return;
    }
    for_each_plane(image, |plane, ny, nx| {
        let out = median_plane(plane, ny, nx, k as usize, FillMode::Symmetric);
        plane.copy_from_slice(&out);
    });
}

/// `MOTION_BLUR`: k drawn in `k_range` (inclusive), made odd; a vertical line kernel whose
/// weights run linearly from `d` to `1 − d` (`d` uniform in [−1, 1]) rotated by a whole angle in
/// 0..=359 degrees ([`rotate_kernel`]), normalised to sum 1 (a zero sum keeps only the centre
/// tap, as BiaPy), then OpenCV's `filter2D` on every plane of every channel.
pub(super) fn motion_blur(image: &mut Volume<f32>, k_range: [i64; 2], rng: &mut ChaCha8Rng) {
    let mut k = randint_inclusive(rng, k_range[0], k_range[1]);
    if k % 2 == 0 {
        k += 1;
    }
    let k = k.max(1) as usize;
    let angle = randint_inclusive(rng, 0, 359) as f64;
    let direction = uniform(rng, [-1.0, 1.0]) as f32;
    let mut base = vec![0.0f32; k * k];
    for i in 0..k {
        let t = if k == 1 { 0.0 } else { i as f32 / (k - 1) as f32 };
        base[i * k + k / 2] = direction + (1.0 - 2.0 * direction) * t;
    }
    let (mut kernel, ky, kx) = rotate_kernel(&base, k, angle);
    let sum: f32 = kernel.iter().sum();
    if sum != 0.0 {
        kernel.iter_mut().for_each(|w| *w /= sum);
    } else {
        kernel[(k / 2) * kx + k / 2] = 1.0;
    }
    for_each_plane(image, |plane, ny, nx| correlate_plane(plane, ny, nx, &kernel, ky, kx));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn image(values: &[f32]) -> Volume<f32> {
        Volume::from_vec([1, 1, values.len(), 1], values.to_vec()).unwrap()
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    fn assert_close(got: &Volume<f32>, want: &[f32]) {
        let ok =
            got.as_slice().len() == want.len() && got.as_slice().iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6);
        assert!(ok, "got {:?}, want {want:?}", got.as_slice());
    }

    #[test]
    fn rotated_line_kernels_follow_scipy_geometry() {
        let k = 5;
        let mut base = vec![0.0f32; k * k];
        for i in 0..k {
            base[i * k + k / 2] = (i + 1) as f32;
        }
        // Whole turns sample the spline at its knots: the kernel back, to rounding (SciPy too).
        let close = |a: &[f32], b: &[f32]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6);
        let (same, ky, kx) = rotate_kernel(&base, k, 0.0);
        assert_eq!((ky, kx), (k, k));
        assert!(close(&same, &base), "{same:?}");
        // 90°: the column becomes row k/2, its weights in x order (scipy's `rotate`).
        let (turned, ky, kx) = rotate_kernel(&base, k, 90.0);
        assert_eq!((ky, kx), (k, k));
        assert!(close(&turned[(k / 2) * k..(k / 2 + 1) * k], &[1.0, 2.0, 3.0, 4.0, 5.0]), "{turned:?}");
        assert!((turned.iter().sum::<f32>() - 15.0).abs() < 1e-5);
        // 45°: the bounding box of the rotated 9×9 square is int(9·√2 + 0.5) = 13 wide.
        let (_, ky, kx) = rotate_kernel(&vec![0.0; 81], 9, 45.0);
        assert_eq!((ky, kx), (13, 13));
        // 30°: scipy.ndimage.rotate(base, 30) of the float32 kernel, printed by SciPy 1.17.1
        // (cubic spline, so weights below 0 and above the line's own appear).
        #[rustfmt::skip]
        let scipy: [f32; 49] = [
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, -9.873_76e-17, -0.019_673_415, 0.0, 0.0,
            0.0, -0.105_620_15, 1.145_105_4, 1.285_411_8, -0.295_617_97, 0.0, 0.0,
            0.0, -0.078_838_326, 0.317_661_26, 3.0, 0.428_731_62, -0.157_676_65, 0.0,
            0.0, 0.0, -0.366_396_46, 2.277_088_2, 3.414_023_4, -0.510_209_44, 0.0,
            0.0, 0.0, -0.050_276_64, 1.356_523_3e-15, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
        ];
        let (turned, ky, kx) = rotate_kernel(&base, k, 30.0);
        assert_eq!((ky, kx), (7, 7));
        for (i, (got, want)) in turned.iter().zip(scipy).enumerate() {
            assert!((got - want).abs() < 1e-6, "tap {i}: {got} vs SciPy {want}");
        }
    }

    #[test]
    fn filter2d_correlates_with_a_centred_anchor_and_reflect_101_borders() {
        // 1×3 kernel [0, 0, 1] anchored at its centre: each pixel takes its right neighbour; the
        // last one reflects (without repeating the edge) to its left neighbour.
        let mut plane = vec![1.0, 2.0, 3.0, 4.0];
        correlate_plane(&mut plane, 1, 4, &[0.0, 0.0, 1.0], 1, 3);
        assert_eq!(plane, vec![2.0, 3.0, 4.0, 3.0]);
    }

    #[test]
    fn motion_blur_keeps_a_flat_image_and_smears_a_point_along_a_line() {
        let mut flat = Volume::filled([2, 16, 16, 2], 0.25f32);
        motion_blur(&mut flat, [8, 12], &mut rng());
        assert!(flat.as_slice().iter().all(|&v| (v - 0.25).abs() < 1e-6));
        for seed in 0..8 {
            let mut point = Volume::filled([1, 31, 31, 1], 0.0f32);
            point.as_mut_slice()[15 * 31 + 15] = 1.0;
            motion_blur(&mut point, [7, 7], &mut ChaCha8Rng::seed_from_u64(seed));
            let lit = point.as_slice().iter().filter(|&&v| v.abs() > 1e-6).count();
            // A kernel of 7 taps or more (rotated, cubic spline) spreads the point over several pixels.
            assert!(lit >= 5, "seed {seed}: {lit} pixels lit");
            let total: f32 = point.as_slice().iter().sum();
            assert!((total - 1.0).abs() < 1e-4, "seed {seed}: the normalised kernel keeps the sum, got {total}");
        }
    }

    #[test]
    fn brightness_contrast_gamma_match_their_formulas() {
        let mut img = image(&[0.0, 0.25, 1.0]);
        brightness(&mut img, [0.1, 0.1], &mut rng());
        assert_close(&img, &[0.1, 0.35, 1.1]);
        let mut img = image(&[-1.0, 0.5, 2.0]);
        contrast(&mut img, [0.2, 0.2], &mut rng());
        assert_close(&img, &[-1.2, 0.6, 2.4]);
        let mut img = image(&[-0.5, 0.25, 0.5, 3.0]);
        gamma_contrast(&mut img, [2.0, 2.0], &mut rng());
        assert_close(&img, &[0.0, 0.0625, 0.25, 1.0]);
        let mut img = image(&[0.3]);
        brightness(&mut img, [0.0, 0.0], &mut rng());
        contrast(&mut img, [0.0, 0.0], &mut rng());
        assert_eq!(img.as_slice(), &[0.3]);
    }

    #[test]
    fn brightness_draws_within_range() {
        let mut r = rng();
        for _ in 0..50 {
            let mut img = image(&[0.5]);
            brightness(&mut img, [-0.1, 0.1], &mut r);
            assert!((img.get(0, 0, 0, 0) - 0.5).abs() <= 0.1 + 1e-6);
        }
    }

    #[test]
    fn gaussian_noise_has_requested_spread_and_clips_like_skimage() {
        let mut img = image(&vec![0.5; 4000]);
        gaussian_noise(&mut img, 0.0, 0.01, false, &mut rng());
        let xs = img.as_slice();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / xs.len() as f32;
        assert!((mean - 0.5).abs() < 0.01 && (var - 0.01).abs() < 0.002, "{mean} {var}");
        let mut img = image(&vec![0.9; 100]);
        gaussian_noise(&mut img, 0.5, 0.0, false, &mut rng());
        assert!(img.as_slice().iter().all(|&v| v == 1.0));
        let mut img = image(&[-3.0, 0.0]);
        gaussian_noise(&mut img, 0.0, 0.0, false, &mut rng());
        assert_eq!(img.as_slice(), &[-1.0, 0.0]);
    }

    #[test]
    fn dropout_zeroes_whole_voxels_at_about_p() {
        let mut img = Volume::filled([1, 50, 40, 3], 1.0f32);
        dropout(&mut img, [0.3, 0.3], &mut rng());
        let voxels: Vec<&[f32]> = img.as_slice().chunks(3).collect();
        assert!(voxels.iter().all(|v| v.iter().all(|&x| x == v[0])));
        let dropped = voxels.iter().filter(|v| v[0] == 0.0).count() as f64 / voxels.len() as f64;
        assert!((dropped - 0.3).abs() < 0.04, "{dropped}");
        let mut img = Volume::filled([1, 4, 4, 1], 1.0f32);
        dropout(&mut img, [0.0, 0.0], &mut rng());
        assert!(img.as_slice().iter().all(|&x| x == 1.0));
    }

    #[test]
    fn blurs_smooth_within_planes_only() {
        let mut img = Volume::filled([2, 9, 9, 2], 0.0f32);
        img.set(0, 4, 4, 0, 1.0);
        gaussian_blur(&mut img, [1.0, 1.0], &mut rng());
        let slice0: f32 = (0..9).flat_map(|y| (0..9).map(move |x| (y, x))).map(|(y, x)| img.get(0, y, x, 0)).sum();
        assert!((slice0 - 1.0).abs() < 1e-5);
        assert!(img.get(0, 4, 5, 0) > 0.0 && img.get(1, 4, 4, 0) == 0.0 && img.get(0, 4, 4, 1) == 0.0);
        let mut img = Volume::filled([1, 7, 7, 1], 0.0f32);
        img.set(0, 3, 3, 0, 9.0);
        median_blur(&mut img, [3, 3], &mut rng());
        assert!(img.as_slice().iter().all(|&x| x == 0.0));
    }
}
