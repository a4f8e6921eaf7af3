//! In-plane filters shared by the transforms: OpenCV-style Gaussian blur (used by `G_BLUR` and to
//! smooth the elastic displacement field) and SciPy-style median filter (`MEDIAN_BLUR`). They work
//! on one `(y, x)` plane at a time; [`for_each_plane`] runs one over every `(z, c)` plane of a
//! volume. Pure computation, no I/O.

use crate::config::FillMode;
use crate::data::Volume;

use super::sample::map_index;
use crate::data::border::fold_index;
use crate::data::preprocess::spline::{first_tap, prefilter, weights};

/// OpenCV kernel size for `sigma` as BiaPy picks it (`_compute_gaussian_blur_ksize`): about
/// 3.3σ (σ < 3), 2.9σ (σ < 5) or 2.6σ, at least 5, made odd.
pub(super) fn gaussian_ksize(sigma: f64) -> usize {
    let k = if sigma < 3.0 {
        3.3 * sigma
    } else if sigma < 5.0 {
        2.9 * sigma
    } else {
        2.6 * sigma
    };
    let k = k.max(5.0) as usize;
    if k.is_multiple_of(2) { k + 1 } else { k }
}

/// Normalised 1D Gaussian of `gaussian_ksize(sigma)` taps, as `cv2.getGaussianKernel`.
pub(super) fn gaussian_kernel(sigma: f64) -> Vec<f32> {
    let k = gaussian_ksize(sigma);
    let centre = (k as f64 - 1.0) / 2.0;
    let w: Vec<f64> = (0..k).map(|i| (-(i as f64 - centre).powi(2) / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f64 = w.iter().sum();
    w.iter().map(|v| (v / sum) as f32).collect()
}

/// Convolves a line with `kernel` (odd length), borders filled with `mode`. Loops run kernel tap
/// outermost so the inner loop is a vectorisable multiply-add over the line.
fn convolve_line(line: &[f32], kernel: &[f32], mode: FillMode, padded: &mut Vec<f32>, out: &mut [f32]) {
    let r = kernel.len() / 2;
    let n = line.len();
    padded.clear();
    padded.extend((0..n + 2 * r).map(|i| map_index(i as isize - r as isize, n, mode).map_or(0.0, |j| line[j])));
    out.fill(0.0);
    for (k, &w) in kernel.iter().enumerate() {
        for (o, &p) in out.iter_mut().zip(&padded[k..k + n]) {
            *o += w * p;
        }
    }
}

/// Separable 2D convolution of a `(ny, nx)` plane with `kernel` along x then y, in place.
pub(super) fn convolve_plane(plane: &mut [f32], ny: usize, nx: usize, kernel: &[f32], mode: FillMode) {
    let mut padded = Vec::new();
    let mut line = vec![0.0f32; nx];
    for y in 0..ny {
        let row = &mut plane[y * nx..(y + 1) * nx];
        line.copy_from_slice(row);
        convolve_line(&line, kernel, mode, &mut padded, row);
    }
    // Along y, whole rows at a time: each output row is a weighted sum of (mapped) input rows.
    let r = kernel.len() / 2;
    let input = plane.to_vec();
    for y in 0..ny {
        let out = &mut plane[y * nx..(y + 1) * nx];
        out.fill(0.0);
        for (k, &w) in kernel.iter().enumerate() {
            let Some(sy) = map_index(y as isize + k as isize - r as isize, ny, mode) else { continue };
            for (o, &p) in out.iter_mut().zip(&input[sy * nx..(sy + 1) * nx]) {
                *o += w * p;
            }
        }
    }
}

/// `scipy.ndimage.rotate(kernel, angle)` of a square `k × k` kernel with its `reshape=True`
/// output size (the bounding box of the rotated square), zero outside; returns the rotated
/// values and their `(rows, columns)`. Interpolation is SciPy's: a cubic B-spline of the
/// pre-filtered kernel (`mode='constant'`: mirror-started filter and taps, and 0 wherever the
/// source point lies outside the kernel), computed in `f64` and cast to `f32` as SciPy casts
/// to a `float32` input's type.
pub(super) fn rotate_kernel(kernel: &[f32], k: usize, angle: f64) -> (Vec<f32>, usize, usize) {
    let a = angle.rem_euclid(360.0);
    let (c, s) = match a {
        0.0 => (1.0, 0.0),
        90.0 => (0.0, 1.0),
        180.0 => (-1.0, 0.0),
        270.0 => (0.0, -1.0),
        _ => (a.to_radians().cos(), a.to_radians().sin()),
    };
    let n = k as f64;
    // Corners (0,0), (0,k), (k,0), (k,k) through [[c, s], [-s, c]].
    let (ys, xs): (Vec<f64>, Vec<f64>) =
        [(0.0, 0.0), (0.0, n), (n, 0.0), (n, n)].iter().map(|&(y, x)| (c * y + s * x, -s * y + c * x)).unzip();
    let ptp = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min);
    let (ry, rx) = ((ptp(&ys) + 0.5) as usize, (ptp(&xs) + 0.5) as usize);
    let (oy, ox) = ((ry as f64 - 1.0) / 2.0, (rx as f64 - 1.0) / 2.0);
    let centre = (n - 1.0) / 2.0;
    let (off_y, off_x) = (centre - (c * oy + s * ox), centre - (-s * oy + c * ox));
    let coefficients = cubic_coefficients(kernel, k);
    let inside = |v: f64| (0.0..=n - 1.0).contains(&v);
    let taps = |v: f64| {
        let (start, w) = (first_tap(v, 3), weights(v, 3));
        // Taps past the edge fold as SciPy's pre-filter assumed (`mirror`).
        std::array::from_fn::<_, 4, _>(|i| (fold_index(start + i as isize, k, FillMode::Reflect), w[i]))
    };
    let mut out = Vec::with_capacity(ry * rx);
    for y in 0..ry {
        for x in 0..rx {
            let (fy, fx) = (c * y as f64 + s * x as f64 + off_y, -s * y as f64 + c * x as f64 + off_x);
            // `constant`: a source outside the kernel's samples reads 0, no blending at its edge.
            if !(inside(fy) && inside(fx)) {
                out.push(0.0);
                continue;
            }
            let (ty, tx) = (taps(fy), taps(fx));
            let mut t = 0.0;
            for &(iy, wy) in &ty {
                for &(ix, wx) in &tx {
                    t += coefficients[iy * k + ix] * wy * wx;
                }
            }
            out.push(t as f32);
        }
    }
    (out, ry, rx)
}

/// The `k × k` kernel's cubic B-spline coefficients: SciPy's `spline_filter` along y, then x.
fn cubic_coefficients(kernel: &[f32], k: usize) -> Vec<f64> {
    let mut c: Vec<f64> = kernel.iter().map(|&v| f64::from(v)).collect();
    let mut line = vec![0.0; k];
    for x in 0..k {
        line.iter_mut().enumerate().for_each(|(y, v)| *v = c[y * k + x]);
        prefilter(&mut line, 3, FillMode::Reflect);
        line.iter().enumerate().for_each(|(y, &v)| c[y * k + x] = v);
    }
    for row in c.chunks_mut(k) {
        prefilter(row, 3, FillMode::Reflect);
    }
    c
}

/// OpenCV's `filter2D` (a correlation) of a `(ny, nx)` plane with a `(ky, kx)` kernel anchored
/// at `(ky / 2, kx / 2)`, borders `reflect` (OpenCV's default `BORDER_REFLECT_101`).
pub(super) fn correlate_plane(plane: &mut [f32], ny: usize, nx: usize, kernel: &[f32], ky: usize, kx: usize) {
    let input = plane.to_vec();
    let (ay, ax) = ((ky / 2) as isize, (kx / 2) as isize);
    let cols: Vec<Vec<usize>> = (0..nx)
        .map(|x| (0..kx).filter_map(|j| map_index(x as isize + j as isize - ax, nx, FillMode::Reflect)).collect())
        .collect();
    for y in 0..ny {
        for x in 0..nx {
            let mut sum = 0.0f32;
            for i in 0..ky {
                let Some(sy) = map_index(y as isize + i as isize - ay, ny, FillMode::Reflect) else { continue };
                let row = &input[sy * nx..(sy + 1) * nx];
                for (j, &sx) in cols[x].iter().enumerate() {
                    sum += kernel[i * kx + j] * row[sx];
                }
            }
            plane[y * nx + x] = sum;
        }
    }
}

/// Median over a `k × k` window (k odd) of a `(ny, nx)` plane, borders filled with `mode`.
pub(super) fn median_plane(plane: &[f32], ny: usize, nx: usize, k: usize, mode: FillMode) -> Vec<f32> {
    let r = k / 2;
    let (py, px) = (ny + 2 * r, nx + 2 * r);
    let mut padded = Vec::with_capacity(py * px);
    for y in 0..py {
        let sy = map_index(y as isize - r as isize, ny, mode);
        for x in 0..px {
            let sx = map_index(x as isize - r as isize, nx, mode);
            padded.push(sy.zip(sx).map_or(0.0, |(sy, sx)| plane[sy * nx + sx]));
        }
    }
    let mut window = Vec::with_capacity(k * k);
    let mut out = Vec::with_capacity(ny * nx);
    for y in 0..ny {
        for x in 0..nx {
            window.clear();
            for wy in y..y + k {
                window.extend_from_slice(&padded[wy * px + x..wy * px + x + k]);
            }
            let mid = window.len() / 2;
            let (_, median, _) = window.select_nth_unstable_by(mid, f32::total_cmp);
            out.push(*median);
        }
    }
    out
}

/// Runs `f(plane, ny, nx)` on every `(z, c)` plane of `v` (copied out contiguous, written back).
pub(super) fn for_each_plane(v: &mut Volume<f32>, mut f: impl FnMut(&mut [f32], usize, usize)) {
    let [nz, ny, nx, nc] = v.shape();
    let mut plane = vec![0.0f32; ny * nx];
    for z in 0..nz {
        let base = z * ny * nx * nc;
        for c in 0..nc {
            let data = v.as_mut_slice();
            for (i, p) in plane.iter_mut().enumerate() {
                *p = data[base + i * nc + c];
            }
            f(&mut plane, ny, nx);
            let data = v.as_mut_slice();
            for (i, p) in plane.iter().enumerate() {
                data[base + i * nc + c] = *p;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_size_follows_biapy_rule() {
        assert_eq!(gaussian_ksize(1.0), 5);
        assert_eq!(gaussian_ksize(2.0), 7);
        assert_eq!(gaussian_ksize(4.0), 11);
        assert_eq!(gaussian_ksize(10.0), 27);
        let k = gaussian_kernel(1.5);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(k[0], k[k.len() - 1]);
    }

    #[test]
    fn blur_keeps_constants_and_spreads_a_spike() {
        let mut flat = vec![3.0f32; 6 * 5];
        convolve_plane(&mut flat, 6, 5, &gaussian_kernel(1.0), FillMode::Reflect);
        assert!(flat.iter().all(|v| (v - 3.0).abs() < 1e-5));
        let mut spike = vec![0.0f32; 9 * 9];
        spike[4 * 9 + 4] = 1.0;
        convolve_plane(&mut spike, 9, 9, &gaussian_kernel(1.0), FillMode::Reflect);
        assert!((spike.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(spike[4 * 9 + 4] > spike[4 * 9 + 5] && spike[4 * 9 + 5] > spike[4 * 9 + 6]);
    }

    #[test]
    fn median_removes_an_outlier() {
        let mut plane: Vec<f32> = (0..25).map(|i| (i % 5) as f32).collect();
        plane[12] = 100.0;
        let out = median_plane(&plane, 5, 5, 3, FillMode::Symmetric);
        assert_eq!(out[12], 2.0);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[4], 4.0);
    }
}
