//! `DATA.PREPROCESS.CANNY` as BiaPy's `detect_edges` calls skimage's `canny` on a single-channel
//! 2D image: Gaussian smoothing (σ 1, `constant` borders, compensated by the smoothed all-ones
//! mask), Sobel gradients (SciPy, `reflect` borders), bilinear non-maximum suppression inside
//! the one-pixel-eroded frame, and hysteresis over 8-connected components; edges become 255,
//! the rest 0 (BiaPy's `uint8` output). Computes in `f64` as skimage does for integer images.

use super::gaussian::gaussian_filter;
use crate::config::FillMode;
use crate::data::Volume;
use crate::data::border::fold_index;

/// The edges of the `(ny, nx)` image `values` (already divided by its type's largest value, as
/// skimage's `img_as_float`); `low` and `high` are the hysteresis thresholds on that scale.
pub fn canny(values: &[f64], ny: usize, nx: usize, low: f64, high: f64) -> Vec<f64> {
    let plane = |v: Vec<f64>| Volume::from_vec([1, ny, nx, 1], v).expect("one value per pixel");
    let sigmas = [0.0, 1.0, 1.0, 0.0];
    let smoothed = gaussian_filter(&plane(values.to_vec()), sigmas, FillMode::Constant, 0.0);
    let bleed = gaussian_filter(&plane(vec![1.0; ny * nx]), sigmas, FillMode::Constant, 0.0);
    let smoothed: Vec<f64> =
        smoothed.as_slice().iter().zip(bleed.as_slice()).map(|(s, b)| s / (b + f64::EPSILON)).collect();
    let jsobel = sobel(&smoothed, ny, nx, 1);
    let isobel = sobel(&smoothed, ny, nx, 0);
    let magnitude: Vec<f64> = isobel.iter().zip(&jsobel).map(|(i, j)| (i * i + j * j).sqrt()).collect();
    let low_masked = non_maximum_suppression(&isobel, &jsobel, &magnitude, ny, nx, low);
    hysteresis(&low_masked, ny, nx, high).into_iter().map(|edge| if edge { 255.0 } else { 0.0 }).collect()
}

/// SciPy's `ndimage.sobel` along `axis` (0 rows, 1 columns), `reflect` (half-sample, NumPy's
/// `symmetric`) borders:
/// `[-1, 0, 1]` along the axis, then `[1, 2, 1]` across it.
fn sobel(values: &[f64], ny: usize, nx: usize, axis: usize) -> Vec<f64> {
    let reflect = |i: isize, n: usize| fold_index(i, n, FillMode::Symmetric);
    let at = |v: &[f64], y: isize, x: isize| v[reflect(y, ny) * nx + reflect(x, nx)];
    let mut derivative = vec![0.0; values.len()];
    for y in 0..ny as isize {
        for x in 0..nx as isize {
            let (before, after) = if axis == 0 { ((y - 1, x), (y + 1, x)) } else { ((y, x - 1), (y, x + 1)) };
            derivative[y as usize * nx + x as usize] = -at(values, before.0, before.1) + at(values, after.0, after.1);
        }
    }
    let mut out = vec![0.0; values.len()];
    for y in 0..ny as isize {
        for x in 0..nx as isize {
            let (before, after) = if axis == 0 { ((y, x - 1), (y, x + 1)) } else { ((y - 1, x), (y + 1, x)) };
            out[y as usize * nx + x as usize] =
                at(&derivative, before.0, before.1) + 2.0 * at(&derivative, y, x) + at(&derivative, after.0, after.1);
        }
    }
    out
}

/// skimage's `_nonmaximum_suppression_bilinear`: a pixel inside the eroded frame whose
/// magnitude reaches `low` keeps it when it is not below either neighbour interpolated along the
/// gradient direction; everything else is 0.
fn non_maximum_suppression(
    isobel: &[f64],
    jsobel: &[f64],
    magnitude: &[f64],
    ny: usize,
    nx: usize,
    low: f64,
) -> Vec<f64> {
    let mut out = vec![0.0; magnitude.len()];
    let mag = |y: usize, x: usize| magnitude[y * nx + x];
    for y in 1..ny.saturating_sub(1) {
        for x in 1..nx.saturating_sub(1) {
            let k = y * nx + x;
            let m = magnitude[k];
            if m.is_nan() || m < low {
                continue;
            }
            let (is, js) = (isobel[k], jsobel[k]);
            let (ais, ajs) = (is.abs(), js.abs());
            let same_sign = (is >= 0.0 && js >= 0.0) || (is <= 0.0 && js <= 0.0);
            let (w, n1, n2, p1, p2) = if same_sign {
                if ais >= ajs {
                    (ajs / ais, mag(y + 1, x), mag(y + 1, x + 1), mag(y - 1, x), mag(y - 1, x - 1))
                } else {
                    (ais / ajs, mag(y, x + 1), mag(y + 1, x + 1), mag(y, x - 1), mag(y - 1, x - 1))
                }
            } else if ais >= ajs {
                (ajs / ais, mag(y + 1, x), mag(y + 1, x - 1), mag(y - 1, x), mag(y - 1, x + 1))
            } else {
                (ais / ajs, mag(y, x + 1), mag(y - 1, x + 1), mag(y, x - 1), mag(y + 1, x - 1))
            };
            let plus = n2 * w + n1 * (1.0 - w) <= m;
            let minus = p2 * w + p1 * (1.0 - w) <= m;
            if plus && minus {
                out[k] = m;
            }
        }
    }
    out
}

/// The 8-connected components of `low_masked > 0` that hold a value ≥ `high`.
fn hysteresis(low_masked: &[f64], ny: usize, nx: usize, high: f64) -> Vec<bool> {
    let mut keep = vec![false; low_masked.len()];
    let mut stack = Vec::new();
    for start in 0..low_masked.len() {
        if keep[start] || !(low_masked[start] >= high && low_masked[start] > 0.0) {
            continue;
        }
        keep[start] = true;
        stack.push(start);
        while let Some(k) = stack.pop() {
            let (y, x) = ((k / nx) as isize, (k % nx) as isize);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (yy, xx) = (y + dy, x + dx);
                    if yy < 0 || xx < 0 || yy >= ny as isize || xx >= nx as isize {
                        continue;
                    }
                    let n = yy as usize * nx + xx as usize;
                    if !keep[n] && low_masked[n] > 0.0 {
                        keep[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bright_square_gives_a_closed_outline() {
        let (ny, nx) = (20, 20);
        let values: Vec<f64> = (0..ny * nx)
            .map(|k| if (6..14).contains(&(k / nx)) && (6..14).contains(&(k % nx)) { 1.0 } else { 0.0 })
            .collect();
        let edges = canny(&values, ny, nx, 0.1, 0.2);
        let at = |y: usize, x: usize| edges[y * nx + x];
        assert!(edges.iter().all(|&v| v == 0.0 || v == 255.0));
        assert_eq!(at(10, 10), 0.0, "no edge inside");
        assert_eq!(at(2, 2), 0.0, "no edge outside");
        // Each side of the square crosses an edge pixel on its middle row / column.
        assert!((4..9).any(|x| at(10, x) == 255.0) && (11..16).any(|x| at(10, x) == 255.0));
        assert!((4..9).any(|y| at(y, 10) == 255.0) && (11..16).any(|y| at(y, 10) == 255.0));
    }

    #[test]
    fn sobel_of_a_ramp_is_eight_times_its_slope() {
        let (ny, nx) = (4, 5);
        let ramp: Vec<f64> = (0..ny * nx).map(|k| (k % nx) as f64 * 2.0).collect();
        let j = sobel(&ramp, ny, nx, 1);
        // Interior columns: (−1·v(x−1) + v(x+1)) = 4, smoothed by [1, 2, 1] across rows: 16.
        assert_eq!(j[nx + 2], 16.0);
        assert!(sobel(&ramp, ny, nx, 0).iter().all(|&v| v == 0.0));
    }
}
