//! SciPy's `ndimage.gaussian_filter` (truncate 4: a kernel of `2·⌊4σ + ½⌋ + 1` taps
//! `exp(−x²/2σ²)`, normalised), one axis after the other in axis order, skipping axes whose σ is
//! 0, borders as the [`FillMode`] says (`constant` fills `cval`). What `skimage.filters.gaussian`
//! and skimage's anti-aliasing run. Computes in `f64`.

use crate::config::FillMode;
use crate::data::Volume;
use crate::data::border::map_index;

/// The normalised kernel of `sigma` (SciPy's `_gaussian_kernel1d`, order 0).
pub fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as isize;
    let weights: Vec<f64> = (-radius..=radius).map(|x| (-0.5 / (sigma * sigma) * (x * x) as f64).exp()).collect();
    let sum: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / sum).collect()
}

/// `volume` filtered with σ `sigmas` along `(z, y, x, c)`.
pub fn gaussian_filter(volume: &Volume<f64>, sigmas: [f64; 4], mode: FillMode, cval: f64) -> Volume<f64> {
    let mut current = volume.clone();
    for (axis, &sigma) in sigmas.iter().enumerate() {
        if sigma > 1e-15 && volume.shape()[axis] > 0 {
            current = correlate_axis(&current, axis, &gaussian_kernel(sigma), mode, cval);
        }
    }
    current
}

/// SciPy's `correlate1d` of every line along `axis` with the odd-length `kernel`.
fn correlate_axis(volume: &Volume<f64>, axis: usize, kernel: &[f64], mode: FillMode, cval: f64) -> Volume<f64> {
    let shape = volume.shape();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let outer: usize = shape[..axis].iter().product();
    let radius = (kernel.len() / 2) as isize;
    let sources: Vec<Vec<Option<usize>>> =
        (0..n as isize).map(|i| (-radius..=radius).map(|d| map_index(i + d, n, mode)).collect()).collect();
    let src = volume.as_slice();
    let mut data = vec![0.0f64; src.len()];
    for o in 0..outer {
        let base = o * n * inner;
        for (i, taps) in sources.iter().enumerate() {
            let dst = &mut data[base + i * inner..base + (i + 1) * inner];
            for (&w, &j) in kernel.iter().zip(taps) {
                match j {
                    Some(j) => {
                        let line = &src[base + j * inner..base + (j + 1) * inner];
                        for (d, &s) in dst.iter_mut().zip(line) {
                            *d += w * s;
                        }
                    }
                    None => dst.iter_mut().for_each(|d| *d += w * cval),
                }
            }
        }
    }
    Volume::from_vec(shape, data).expect("same shape")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_has_scipys_length_and_sums_to_one() {
        assert_eq!(gaussian_kernel(1.0).len(), 9);
        assert_eq!(gaussian_kernel(0.5).len(), 5);
        assert_eq!(gaussian_kernel(2.0).len(), 17);
        assert!((gaussian_kernel(1.3).iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let k = gaussian_kernel(1.0);
        assert!((k[5] / k[4] - (-0.5f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn an_impulse_spreads_as_the_kernel_and_borders_follow_the_mode() {
        let mut impulse = vec![0.0; 11];
        impulse[5] = 1.0;
        let v = Volume::from_vec([1, 1, 11, 1], impulse).unwrap();
        let out = gaussian_filter(&v, [0.0, 0.0, 1.0, 0.0], FillMode::Constant, 0.0);
        let k = gaussian_kernel(1.0);
        for (i, &value) in out.as_slice().iter().enumerate() {
            let expected = if (1..=9).contains(&i) { k[i - 1] } else { 0.0 };
            assert!((value - expected).abs() < 1e-15, "{i}");
        }
        // A constant line stays constant with `nearest`, and sinks at the borders with `constant`.
        let flat = Volume::from_vec([1, 1, 6, 1], vec![2.0; 6]).unwrap();
        let nearest = gaussian_filter(&flat, [0.0, 0.0, 1.0, 0.0], FillMode::Nearest, 0.0);
        assert!(nearest.as_slice().iter().all(|&v| (v - 2.0).abs() < 1e-12));
        let constant = gaussian_filter(&flat, [0.0, 0.0, 1.0, 0.0], FillMode::Constant, 0.0);
        assert!(constant.as_slice()[0] < 2.0 && (constant.as_slice()[0] - constant.as_slice()[5]).abs() < 1e-12);
    }
}
