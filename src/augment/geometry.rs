//! Geometric transforms: flips (`ZFLIP`, and D8's `VFLIP` = y, `HFLIP` = x), the combined
//! `RANDOM_ROT` + `ROT90` + `ZOOM` warp about the window centre with its random crop back to the
//! patch, `SHEAR`, `SHIFT` and `ELASTIC`. Every transform moves the image and the mask through the
//! same coordinate map ([`resample`]): image linear, mask nearest neighbour. In 3D the in-plane
//! transforms use the same parameters on every z-slice. Pure computation, no I/O.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use crate::config::FillMode;
use crate::data::Volume;
use crate::data::preprocess::resize::clip_warp_output;

use super::draw::{randint_inclusive, roll, uniform};
use super::filters::{convolve_plane, gaussian_kernel};
use super::sample::{Cubic, Interp, crop, resample};

/// The z axis of a `(z, y, x, c)` volume.
pub(super) const Z: usize = 0;
/// The y axis (rows, up-down).
pub(super) const Y: usize = 1;
/// The x axis (columns, left-right).
pub(super) const X: usize = 2;

/// `v` reversed along spatial `axis` ([`Z`], [`Y`] or [`X`]); exact, any element type.
pub(super) fn flip<T: Copy>(v: &Volume<T>, axis: usize) -> Volume<T> {
    let [nz, ny, nx, nc] = v.shape();
    let data = v.as_slice();
    let mut out = Vec::with_capacity(data.len());
    for z in 0..nz {
        for y in 0..ny {
            let (sz, sy) = match axis {
                Z => (nz - 1 - z, y),
                Y => (z, ny - 1 - y),
                _ => (z, y),
            };
            let row = &data[v.index(sz, sy, 0, 0)..v.index(sz, sy, 0, 0) + nx * nc];
            if axis == X {
                out.extend((0..nx).rev().flat_map(|x| row[x * nc..(x + 1) * nc].iter().copied()));
            } else {
                out.extend_from_slice(row);
            }
        }
    }
    Volume::from_vec(v.shape(), out).expect("flip keeps the shape")
}

/// `RANDOM_ROT`: uniform angle (degrees) in `range`, with probability `prob`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct RandomRot {
    pub range: [f64; 2],
    pub prob: f64,
}

/// `ZOOM`: uniform scale in `range` (> 1 magnifies), z scaled too only when `in_z`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Zoom {
    pub range: [f64; 2],
    pub in_z: bool,
    pub prob: f64,
}

/// The combined zoom/rotation warp (BiaPy's `affine_transform`): each part rolled independently,
/// composed into one warp about the centre of the input window, then cropped back to the patch
/// at a random position. `rot90` is `ROT90_PROB` when `ROT90` is on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Warp {
    pub rot90: Option<f64>,
    pub random_rot: Option<RandomRot>,
    pub zoom: Option<Zoom>,
    pub mode: FillMode,
}

impl Warp {
    /// The `(z, y, x)` window to extract so that the crop back to `patch` keeps real content:
    /// in-plane `⌈d · f⌉` where `d` is the patch diagonal `√(py² + px²)` with `RANDOM_ROT` (BiaPy's
    /// ×√2 for square patches), `max(py, px)` with `ROT90` alone on a non-square patch, else the
    /// patch side, and `f = 1 / s` for the strongest in-plane zoom-out `s = ZOOM_RANGE[0] ·
    /// min(extra_downscale, 1)` when that is below 1, else 1 (BiaPy's `geom_aug_load_shape`;
    /// `extra_downscale` is `DATA.RESOLUTION_NORM`'s smallest scale of the split, 1 without it).
    /// z grows by `1 / ZOOM_RANGE[0]` only with `ZOOM_IN_Z`.
    pub(super) fn window(&self, patch: [usize; 3], extra_downscale: f64) -> [usize; 3] {
        let zoom_min = self.zoom.map_or(1.0, |z| z.range[0]);
        let plane = zoom_min * extra_downscale.min(1.0);
        let plane_out = if plane < 1.0 { 1.0 / plane } else { 1.0 };
        let [pz, py, px] = patch.map(|n| n as f64);
        let (wy, wx) = if self.random_rot.is_some() {
            (py.hypot(px), py.hypot(px))
        } else if self.rot90.is_some() {
            (py.max(px), py.max(px))
        } else {
            (py, px)
        };
        let z_factor = match self.zoom {
            Some(z) if z.in_z && z.range[0] < 1.0 => 1.0 / z.range[0],
            _ => 1.0,
        };
        // The small epsilon keeps exact products (256 × 2.0) from rounding up.
        let grow = |n: f64, f: f64| (n * f - 1e-9).ceil() as usize;
        [grow(pz, z_factor), grow(wy, plane_out), grow(wx, plane_out)]
    }

    /// Rolls and draws the warp, applies it to the `window`-sized `image`/`mask` and crops the
    /// result to `patch` at a random position (a plain random crop when no part fired).
    /// `scale_xy` is the sample's own in-plane scale (`DATA.RESOLUTION_NORM`, 1 without it),
    /// multiplied into the drawn zoom; off by more than 10⁻³ it warps even when no part fired
    /// (BiaPy's `do_resolution_rescale`).
    pub(super) fn apply(
        &self,
        image: &Volume<f32>,
        mask: &Volume<u16>,
        patch: [usize; 3],
        interp: Interp,
        scale_xy: f64,
        rng: &mut ChaCha8Rng,
    ) -> (Volume<f32>, Volume<u16>) {
        let do_zoom = self.zoom.is_some_and(|z| roll(rng, z.prob));
        let do_rot = self.random_rot.is_some_and(|r| roll(rng, r.prob));
        let do_rot90 = self.rot90.is_some_and(|p| roll(rng, p));
        let drawn = match self.zoom {
            Some(z) if do_zoom => uniform(rng, z.range),
            _ => 1.0,
        };
        let rescale = scale_xy > 0.0 && (scale_xy - 1.0).abs() > 1e-3;
        let mut angle = 0.0;
        if let (Some(r), true) = (self.random_rot, do_rot) {
            angle += uniform(rng, r.range);
        }
        if do_rot90 {
            angle += [90.0, 180.0, 270.0][rng.random_range(0..3)];
        }
        let window = image.spatial_shape();
        let start = [0, 1, 2].map(|a| rng.random_range(0..=window[a] - patch[a]));
        if !(do_zoom || do_rot || do_rot90 || rescale) {
            return (crop(image, start, patch), crop(mask, start, patch));
        }
        let scale_z = if self.zoom.is_some_and(|z| z.in_z) { drawn } else { 1.0 };
        let scale = drawn * scale_xy;
        let (cos, sin) = cos_sin_degrees(angle);
        let centre = window.map(|n| (n as f64 - 1.0) / 2.0);
        resample(image, mask, patch, self.mode, interp, |o| {
            let [dz, dy, dx] = [0, 1, 2].map(|a| (o[a] + start[a]) as f64 - centre[a]);
            [
                centre[0] + dz / scale_z,
                centre[1] + (sin * dx + cos * dy) / scale,
                centre[2] + (cos * dx - sin * dy) / scale,
            ]
        })
    }
}

/// `(cos θ, sin θ)` for `θ` in degrees, exact at multiples of 90° so `ROT90` never interpolates.
fn cos_sin_degrees(angle: f64) -> (f64, f64) {
    let a = angle.rem_euclid(360.0);
    let exact = [(0.0, (1.0, 0.0)), (90.0, (0.0, 1.0)), (180.0, (-1.0, 0.0)), (270.0, (0.0, -1.0))];
    exact.iter().find(|(at, _)| *at == a).map_or((a.to_radians().cos(), a.to_radians().sin()), |(_, cs)| *cs)
}

/// Rotates every z-slice by `angle` degrees about its centre (positive = counter-clockwise as
/// displayed, like `np.rot90`), same output shape, filled with `mode`.
pub(super) fn rotate(
    image: &Volume<f32>,
    mask: &Volume<u16>,
    angle: f64,
    mode: FillMode,
    interp: Interp,
) -> (Volume<f32>, Volume<u16>) {
    let shape = image.spatial_shape();
    let (cos, sin) = cos_sin_degrees(angle);
    let (cy, cx) = ((shape[Y] as f64 - 1.0) / 2.0, (shape[X] as f64 - 1.0) / 2.0);
    resample(image, mask, shape, mode, interp, |[z, y, x]| {
        let (dy, dx) = (y as f64 - cy, x as f64 - cx);
        [z as f64, cy + sin * dx + cos * dy, cx + cos * dx - sin * dy]
    })
}

/// Moves every z-slice by `(dy, dx)` pixels (content goes down/right for positive values).
pub(super) fn translate(
    image: &Volume<f32>,
    mask: &Volume<u16>,
    dy: f64,
    dx: f64,
    mode: FillMode,
    interp: Interp,
) -> (Volume<f32>, Volume<u16>) {
    resample(image, mask, image.spatial_shape(), mode, interp, |[z, y, x]| [z as f64, y as f64 - dy, x as f64 - dx])
}

/// `SHEAR`: integer angles `ax`, `ay` drawn separately in `range` (degrees, inclusive); x is
/// sheared by `tan(ax)·y`, then y by `tan(ay)·x`, about the slice centre (as skimage's
/// `AffineTransform` shear composed x-then-y in BiaPy's `build_shear_matrix_skimage`). The image
/// is bicubic as skimage's `warp(order=3)` and clipped to its input range as `warp` clips.
pub(super) fn shear(
    image: &Volume<f32>,
    mask: &Volume<u16>,
    range: [i64; 2],
    mode: FillMode,
    interp: Interp,
    rng: &mut ChaCha8Rng,
) -> (Volume<f32>, Volume<u16>) {
    let ax = randint_inclusive(rng, range[0], range[1]) as f64;
    let ay = randint_inclusive(rng, range[0], range[1]) as f64;
    let (tx, ty) = (ax.to_radians().tan(), ay.to_radians().tan());
    let shape = image.spatial_shape();
    let (cy, cx) = ((shape[Y] as f64 - 1.0) / 2.0, (shape[X] as f64 - 1.0) / 2.0);
    let (mut out, out_mask) = resample(image, mask, shape, mode, interp.order_3(Cubic::Skimage), |[z, y, x]| {
        // Inverse of (x, y) → (x + tx·y, y + ty·x') applied to the output position.
        let (dy_out, dx_out) = (y as f64 - cy, x as f64 - cx);
        let dy = dy_out - ty * dx_out;
        [z as f64, cy + dy, cx + dx_out - tx * dy]
    });
    clip_like_skimage(image, &mut out, mode);
    (out, out_mask)
}

/// skimage's `warp` clipping, per z-slice (BiaPy warps a stack slice by slice, cval 0).
fn clip_like_skimage(input: &Volume<f32>, output: &mut Volume<f32>, mode: FillMode) {
    let slice = input.shape()[1..].iter().product::<usize>();
    if slice == 0 {
        return;
    }
    let cval = (mode == FillMode::Constant).then_some(0.0);
    for (src, dst) in input.as_slice().chunks(slice).zip(output.as_mut_slice().chunks_mut(slice)) {
        clip_warp_output(src, dst, cval);
    }
}

/// `SHIFT`: one fraction `f` drawn in `range`; y moves by `round(f·H)` and x by `round(f·W)`
/// pixels (Python's round-half-even), always down/right. Whole pixels: BiaPy's spline order 3
/// reads the samples themselves there, as the linear taps do.
pub(super) fn shift(
    image: &Volume<f32>,
    mask: &Volume<u16>,
    range: [f64; 2],
    mode: FillMode,
    interp: Interp,
    rng: &mut ChaCha8Rng,
) -> (Volume<f32>, Volume<u16>) {
    let f = uniform(rng, range);
    let [_, ny, nx] = image.spatial_shape();
    let (dy, dx) = ((f * ny as f64).round_ties_even(), (f * nx as f64).round_ties_even());
    translate(image, mask, dy, dx, mode, interp)
}

/// `ELASTIC`: α uniform in `alpha`; one in-plane displacement field (uniform[−1, 1] noise,
/// Gaussian-smoothed with `sigma`, × α) moves every z-slice and channel; output `(y, x)` samples
/// the input at `(y − dy, x − dx)` as BiaPy's `_map_coordinates` (`cv2.remap`, bicubic).
pub(super) fn elastic(
    image: &Volume<f32>,
    mask: &Volume<u16>,
    alpha: [f64; 2],
    sigma: f64,
    mode: FillMode,
    interp: Interp,
    rng: &mut ChaCha8Rng,
) -> (Volume<f32>, Volume<u16>) {
    let alpha = uniform(rng, alpha);
    let shape = image.spatial_shape();
    let nx = shape[X];
    let (dx, dy) = displacement_field(shape[Y], nx, alpha, sigma, rng);
    resample(image, mask, shape, mode, interp.order_3(Cubic::OpenCv), |[z, y, x]| {
        let k = y * nx + x;
        [z as f64, y as f64 - f64::from(dy[k]), x as f64 - f64::from(dx[k])]
    })
}

/// BiaPy's `_generate_shift_maps`: noise on a plane padded by the kernel size on every side,
/// smoothed (OpenCV kernel, `BORDER_REFLECT_101`), scaled by `alpha`, cropped back. Returns
/// `(dx, dy)`, each `ny × nx` row-major.
fn displacement_field(ny: usize, nx: usize, alpha: f64, sigma: f64, rng: &mut ChaCha8Rng) -> (Vec<f32>, Vec<f32>) {
    let kernel = gaussian_kernel(sigma);
    let pad = kernel.len();
    let (py, px) = (ny + 2 * pad, nx + 2 * pad);
    let mut noise: Vec<f32> = (0..2 * py * px).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect();
    let (noise_x, noise_y) = noise.split_at_mut(py * px);
    let smooth = |field: &mut [f32]| -> Vec<f32> {
        convolve_plane(field, py, px, &kernel, FillMode::Reflect);
        (pad..pad + ny).flat_map(|y| field[y * px + pad..y * px + pad + nx].iter().map(|v| v * alpha as f32)).collect()
    };
    (smooth(noise_x), smooth(noise_y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ramp(shape: [usize; 4]) -> Volume<f32> {
        Volume::from_vec(shape, (0..shape.iter().product::<usize>()).map(|i| i as f32).collect()).unwrap()
    }

    #[test]
    fn flips_reverse_one_axis_exactly() {
        let v = ramp([2, 3, 4, 2]);
        let y = flip(&v, Y);
        let x = flip(&v, X);
        let z = flip(&v, Z);
        assert_eq!(y.get(1, 0, 1, 1), v.get(1, 2, 1, 1));
        assert_eq!(x.get(1, 2, 0, 0), v.get(1, 2, 3, 0));
        assert_eq!(z.get(0, 1, 2, 1), v.get(1, 1, 2, 1));
        assert_eq!(flip(&y, Y), v);
    }

    #[test]
    fn rot90_is_exact_np_rot90() {
        let n = 6;
        let img = ramp([1, n, n, 1]);
        let msk = img.map(|&v| v as u16);
        let warp = Warp { rot90: Some(1.0), random_rot: None, zoom: None, mode: FillMode::Constant };
        assert_eq!(warp.window([1, n, n], 1.0), [1, n, n]);
        let mut seen = [false; 3];
        for seed in 0..30 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (out, out_mask) = warp.apply(&img, &msk, [1, n, n], Interp::Linear, 1.0, &mut rng);
            // np.rot90(a, k): out[i][j] = a[j][n-1-i] for k = 1, applied k times.
            let k = (1..=3)
                .find(|&k| {
                    let mut r = img.clone();
                    for _ in 0..k {
                        let prev = r.clone();
                        for i in 0..n {
                            for j in 0..n {
                                r.set(0, i, j, 0, prev.get(0, j, n - 1 - i, 0));
                            }
                        }
                    }
                    r == out
                })
                .expect("output is an exact 90/180/270 rotation");
            seen[k - 1] = true;
            assert_eq!(out_mask, out.map(|&v| v as u16));
        }
        assert_eq!(seen, [true; 3]);
    }

    #[test]
    fn window_grows_for_rotation_and_zoom_out() {
        let zoom = Some(Zoom { range: [0.5, 1.5], in_z: false, prob: 0.5 });
        let rot = Some(RandomRot { range: [-180.0, 180.0], prob: 0.5 });
        let w = |rot90, random_rot, zoom| Warp { rot90, random_rot, zoom, mode: FillMode::Reflect };
        assert_eq!(w(None, rot, None).window([1, 256, 256], 1.0), [1, 363, 363]);
        assert_eq!(w(None, None, zoom).window([1, 256, 256], 1.0), [1, 512, 512]);
        assert_eq!(w(None, None, zoom).window([8, 64, 64], 1.0), [8, 128, 128]);
        let zoom_z = Some(Zoom { range: [0.5, 1.5], in_z: true, prob: 0.5 });
        assert_eq!(w(None, None, zoom_z).window([8, 64, 64], 1.0), [16, 128, 128]);
        assert_eq!(w(Some(0.5), None, None).window([1, 32, 48], 1.0), [1, 48, 48]);
        let zoom_in = Some(Zoom { range: [1.0, 1.5], in_z: false, prob: 0.5 });
        assert_eq!(w(None, None, zoom_in).window([1, 30, 40], 1.0), [1, 30, 40]);
    }

    #[test]
    fn window_grows_for_the_resolution_norm_downscale_as_geom_aug_load_shape() {
        // BiaPy: plane = ZOOM_RANGE[0] · min(extra, 1); ⌈size / plane⌉ (·√2 with rotation).
        let w = |random_rot, zoom| Warp { rot90: None, random_rot, zoom, mode: FillMode::Reflect };
        let rot = Some(RandomRot { range: [-180.0, 180.0], prob: 0.5 });
        let zoom = Some(Zoom { range: [0.8, 1.2], in_z: true, prob: 0.5 });
        assert_eq!(w(None, None).window([1, 16, 16], 0.5), [1, 32, 32]);
        assert_eq!(w(None, None).window([1, 16, 16], 2.0), [1, 16, 16], "coarser files only magnify");
        assert_eq!(w(rot, None).window([1, 16, 16], 0.5), [1, 46, 46], "⌈16 · 2 · √2⌉");
        // 0.8 · 0.5 = 0.4 in plane; z by the zoom alone (1 / 0.8).
        assert_eq!(w(None, zoom).window([4, 16, 16], 0.5), [5, 40, 40]);
    }

    #[test]
    fn a_resolution_scale_warps_about_the_window_centre_without_any_roll() {
        // A ramp 8y + x: bilinear interpolation is exact on it, so output (y, x) reads input
        // (c + (y − c) / 2, c + (x − c) / 2) about the centre c = 3.5.
        let img = ramp([1, 8, 8, 1]);
        let msk = img.map(|&v| v as u16);
        let warp = Warp { rot90: None, random_rot: None, zoom: None, mode: FillMode::Reflect };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (out, _) = warp.apply(&img, &msk, [1, 8, 8], Interp::Linear, 2.0, &mut rng);
        let half = |i: usize| 3.5 + (i as f32 - 3.5) / 2.0;
        for (y, x) in [(0, 0), (5, 2), (7, 7), (3, 6)] {
            assert_eq!(out.get(0, y, x, 0), 8.0 * half(y) + half(x), "({y}, {x})");
        }
        // Within 10⁻³ of 1 it is no warp at all (BiaPy's threshold).
        let (same, _) = warp.apply(&img, &msk, [1, 8, 8], Interp::Linear, 1.0005, &mut rng);
        assert_eq!(same, img);
    }

    #[test]
    fn shift_moves_down_right_by_rounded_fraction() {
        let img = ramp([1, 10, 20, 1]);
        let msk = img.map(|&v| v as u16);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (out, out_mask) = shift(&img, &msk, [0.1, 0.1], FillMode::Constant, Interp::Linear, &mut rng);
        // f = 0.1: dy = 1, dx = 2.
        assert_eq!(out.get(0, 1, 2, 0), img.get(0, 0, 0, 0));
        assert_eq!(out.get(0, 9, 19, 0), img.get(0, 8, 17, 0));
        assert_eq!(out.get(0, 0, 5, 0), 0.0);
        assert_eq!(out_mask, out.map(|&v| v as u16));
    }

    #[test]
    fn zero_shear_and_zero_alpha_are_identities() {
        let img = ramp([2, 7, 9, 2]);
        let msk = img.map(|&v| v as u16);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (sheared, sheared_mask) = shear(&img, &msk, [0, 0], FillMode::Reflect, Interp::Linear, &mut rng);
        assert_eq!((sheared, sheared_mask), (img.clone(), msk.clone()));
        let (warped, warped_mask) = elastic(&img, &msk, [0.0, 0.0], 4.0, FillMode::Constant, Interp::Linear, &mut rng);
        assert_eq!((warped, warped_mask), (img, msk));
    }

    #[test]
    fn a_cubic_shear_stays_in_each_slices_range() {
        // A hard 0/10 step in slice 0 and a 100/200 step in slice 1: Catmull–Rom overshoots at
        // the steps, and skimage's warp clips back to each slice's own range.
        let img = Volume::from_vec(
            [2, 12, 12, 1],
            (0..288)
                .map(|i| {
                    let (z, x) = (i / 144, i % 12);
                    let high = x >= 6;
                    match (z, high) {
                        (0, false) => 0.0,
                        (0, true) => 10.0,
                        (_, false) => 100.0,
                        (_, true) => 200.0,
                    }
                })
                .collect(),
        )
        .unwrap();
        let msk = img.map(|_| 0u16);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let (out, _) = shear(&img, &msk, [20, 20], FillMode::Symmetric, Interp::Linear, &mut rng);
        let slice = |z: usize| &out.as_slice()[z * 144..(z + 1) * 144];
        assert!(slice(0).iter().all(|&v| (0.0..=10.0).contains(&v)));
        assert!(slice(1).iter().all(|&v| (100.0..=200.0).contains(&v)));
        assert!(slice(0).iter().any(|&v| v > 0.0 && v < 10.0), "interpolated values across the step");
    }

    #[test]
    fn displacement_field_is_smooth_and_scaled() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (dx, dy) = displacement_field(24, 20, 10.0, 4.0, &mut rng);
        assert_eq!((dx.len(), dy.len()), (480, 480));
        assert!(dx != dy);
        let max_step = dx.chunks(20).flat_map(|row| row.windows(2).map(|w| (w[1] - w[0]).abs())).fold(0.0f32, f32::max);
        let max_abs = dx.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
        assert!(max_abs > 0.1 && max_abs < 10.0, "{max_abs}");
        assert!(max_step < max_abs, "{max_step} vs {max_abs}");
    }
}
