//! `CUTBLUR` (Yoo et al. 2020), as BiaPy 3.7.1's `cutblur`: a box of the image is made coarse
//! by a down- then up-sampling (`CBLUR_INSIDE`), or the whole image is and the box keeps its
//! original detail. The resampling is skimage's `resize` as BiaPy calls it: down with linear
//! interpolation and anti-aliasing (a Gaussian of σ = (factor − 1)/2, `mirror` edges, truncated
//! at 4σ), up with nearest neighbour, pixel-edge-aligned (`grid_mode`), clipped to the input's
//! range. In-plane only: each z-slice on its own, channels never mixed. The mask is never
//! touched. Pure computation, no I/O.

use rand::rngs::ChaCha8Rng;

use crate::data::Volume;

use super::draw::{randint_exclusive, roll, uniform};

/// `CUTBLUR` parameters from `AUGMENTOR.*`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct CutBlur {
    /// `CBLUR_SIZE`: the box side as a share of y and x.
    pub size: [f64; 2],
    /// `CBLUR_DOWN_RANGE`: the down-sampling ratio, inclusive.
    pub down_range: [i64; 2],
    /// `CBLUR_INSIDE`: blur the box (else everything but the box; else a coin decides).
    pub inside: bool,
}

/// Applies `CUTBLUR` to `image` `(z, y, x, c)`. Draws in BiaPy's order: the size fraction, the
/// box corner (y, x), the ratio, and — without `CBLUR_INSIDE` — the inside/outside coin.
pub(super) fn cutblur(image: &mut Volume<f32>, p: &CutBlur, rng: &mut ChaCha8Rng) {
    let [nz, h, w] = image.spatial_shape();
    let nc = image.n_channels();
    if image.as_slice().is_empty() {
        return;
    }
    let frac = uniform(rng, p.size);
    let side = |n: usize| ((n as f64 * frac).round_ties_even() as usize).max(1).min(n);
    let (ys, xs) = (side(h), side(w));
    let cy = if h == ys { 0 } else { randint_exclusive(rng, 0, (h - ys + 1) as i64) as usize };
    let cx = if w == xs { 0 } else { randint_exclusive(rng, 0, (w - xs + 1) as i64) as usize };
    let ratio = randint_exclusive(rng, p.down_range[0], p.down_range[1] + 1).max(1) as usize;
    let inside = p.inside || roll(rng, 0.5);
    for z in 0..nz {
        // The (y, x, c) planes of this slice, channel-interleaved as stored.
        let start = image.index(z, 0, 0, 0);
        let slice = image.as_slice()[start..start + h * w * nc].to_vec();
        let region = |v: &[f32], y0: usize, x0: usize, hh: usize, ww: usize| -> Vec<f32> {
            let mut out = Vec::with_capacity(hh * ww * nc);
            for y in y0..y0 + hh {
                out.extend_from_slice(&v[((y * w) + x0) * nc..((y * w) + x0 + ww) * nc]);
            }
            out
        };
        let coarse = |v: &[f32], hh: usize, ww: usize| {
            let (dh, dw) = ((hh / ratio).max(1), (ww / ratio).max(1));
            let down = resize(v, [hh, ww], nc, [dh, dw], true);
            resize(&down, [dh, dw], nc, [hh, ww], false)
        };
        let out = &mut image.as_mut_slice()[start..start + h * w * nc];
        if inside {
            let blurred = coarse(&region(&slice, cy, cx, ys, xs), ys, xs);
            for (row, y) in (cy..cy + ys).enumerate() {
                out[((y * w) + cx) * nc..((y * w) + cx + xs) * nc]
                    .copy_from_slice(&blurred[row * xs * nc..(row + 1) * xs * nc]);
            }
        } else {
            out.copy_from_slice(&coarse(&slice, h, w));
            for y in cy..cy + ys {
                let span = ((y * w) + cx) * nc..((y * w) + cx + xs) * nc;
                out[span.clone()].copy_from_slice(&slice[span]);
            }
        }
    }
}

/// skimage's `resize(v, (oh, ow, c), order, mode="reflect", clip=True, preserve_range=True,
/// anti_aliasing)` of a channel-interleaved `(h, w, c)` plane: linear (`down`, with the
/// anti-aliasing Gaussian) or nearest neighbour, clipped to the input's minimum and maximum.
fn resize(v: &[f32], [h, w]: [usize; 2], nc: usize, [oh, ow]: [usize; 2], down: bool) -> Vec<f32> {
    let (lo, hi) = v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let mut data: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
    if down {
        let sigma = |n: usize, o: usize| ((n as f64 / o as f64 - 1.0) / 2.0).max(0.0);
        gaussian_axis(&mut data, [h, w], nc, 0, sigma(h, oh));
        gaussian_axis(&mut data, [h, w], nc, 1, sigma(w, ow));
    }
    let sample = |o: usize, n: usize, out: usize| (o as f64 + 0.5) * n as f64 / out as f64 - 0.5;
    let mut out = Vec::with_capacity(oh * ow * nc);
    for oy in 0..oh {
        let fy = sample(oy, h, oh);
        for ox in 0..ow {
            let fx = sample(ox, w, ow);
            for c in 0..nc {
                let at = |y: usize, x: usize| data[(y * w + x) * nc + c];
                let value = if down {
                    let (y0, x0) = (fy.floor(), fx.floor());
                    let (ty, tx) = (fy - y0, fx - x0);
                    let (y0, x0) = (mirror(y0 as i64, h), mirror(x0 as i64, w));
                    let (y1, x1) = (mirror(y0 as i64 + 1, h), mirror(x0 as i64 + 1, w));
                    (1.0 - ty) * ((1.0 - tx) * at(y0, x0) + tx * at(y0, x1))
                        + ty * ((1.0 - tx) * at(y1, x0) + tx * at(y1, x1))
                } else {
                    at(mirror((fy + 0.5).floor() as i64, h), mirror((fx + 0.5).floor() as i64, w))
                };
                out.push((value as f32).clamp(lo, hi));
            }
        }
    }
    out
}

/// SciPy's `mirror` edge: reflect about the edge pixel's centre (`… 2 1 | 0 1 2 … n−1 | n−2 …`).
fn mirror(i: i64, n: usize) -> usize {
    let n = n as i64;
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - m }) as usize
}

/// SciPy's `gaussian_filter1d(sigma, mode="mirror", truncate=4)` along `axis` (0 = y, 1 = x) of
/// a channel-interleaved `(h, w, c)` plane, in place; nothing for σ = 0.
fn gaussian_axis(data: &mut [f64], [h, w]: [usize; 2], nc: usize, axis: usize, sigma: f64) {
    if sigma <= 0.0 {
        return;
    }
    let radius = (4.0 * sigma + 0.5) as i64;
    let weights: Vec<f64> = (-radius..=radius).map(|k| (-0.5 * (k * k) as f64 / (sigma * sigma)).exp()).collect();
    let total: f64 = weights.iter().sum();
    let (n, lines) = if axis == 0 { (h, w) } else { (w, h) };
    let index =
        |line: usize, i: usize, c: usize| if axis == 0 { (i * w + line) * nc + c } else { (line * w + i) * nc + c };
    let mut buffer = vec![0.0; n];
    for line in 0..lines {
        for c in 0..nc {
            for (i, b) in buffer.iter_mut().enumerate() {
                *b = data[index(line, i, c)];
            }
            for i in 0..n {
                let sum: f64 = weights
                    .iter()
                    .enumerate()
                    .map(|(j, wgt)| wgt * buffer[mirror(i as i64 + j as i64 - radius, n)])
                    .sum();
                data[index(line, i, c)] = sum / total;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn mirror_reflects_about_the_edge_pixels() {
        let got: Vec<usize> = (-3..7).map(|i| mirror(i, 4)).collect();
        assert_eq!(got, vec![3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
        assert_eq!(mirror(-5, 1), 0);
    }

    #[test]
    fn resizing_down_and_up_by_an_integer_ratio_gives_blocks_of_local_means() {
        // A 4×4 ramp halved: each 2×2 block becomes one value between its extremes, and
        // nearest-neighbour up-sampling repeats it over the block.
        let plane: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let down = resize(&plane, [4, 4], 1, [2, 2], true);
        assert_eq!(down.len(), 4);
        let up = resize(&down, [2, 2], 1, [4, 4], false);
        for (i, &v) in up.iter().enumerate() {
            let (y, x) = (i / 4, i % 4);
            assert_eq!(v, down[(y / 2) * 2 + x / 2], "block replication at ({y}, {x})");
        }
        // Linear on a ramp with a symmetric blur: the block centres' values, 2.5 + 8·by + 2·bx.
        for (b, &v) in down.iter().enumerate() {
            let expected = 2.5 + 8.0 * (b / 2) as f32 + 2.0 * (b % 2) as f32;
            assert!((v - expected).abs() < 0.8, "{b}: {v} vs {expected}");
        }
        // A constant stays constant, and nothing leaves the input's range.
        assert!(resize(&[0.5; 36], [6, 6], 1, [2, 2], true).iter().all(|&v| (v - 0.5).abs() < 1e-6));
        assert!(resize(&plane, [4, 4], 1, [3, 3], true).iter().all(|&v| (0.0..=15.0).contains(&v)));
    }

    #[test]
    fn inside_only_the_box_changes_outside_only_the_box_stays() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let noise: Vec<f32> = (0..32 * 32 * 2).map(|i| ((i * 7919) % 101) as f32 / 100.0).collect();
        let original = Volume::from_vec([1, 32, 32, 2], noise).unwrap();
        for inside in [true, false] {
            let mut image = original.clone();
            let p = CutBlur { size: [0.5, 0.5], down_range: [4, 4], inside };
            cutblur(&mut image, &p, &mut rng);
            let changed: Vec<bool> =
                original.as_slice().chunks(2).zip(image.as_slice().chunks(2)).map(|(a, b)| a != b).collect();
            let n_changed = changed.iter().filter(|&&c| c).count();
            // The box is 16×16 = 256 pixels: blurred inside, or the only part left sharp.
            if inside {
                assert!(n_changed <= 256 && n_changed > 200, "{n_changed}");
            } else {
                assert!(n_changed <= 1024 - 256 && n_changed > 600, "{n_changed}");
            }
        }
    }
}
