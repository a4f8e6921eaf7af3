//! `skimage.transform.resize` as BiaPy's `DATA.PREPROCESS.RESIZE` calls it: SciPy's
//! `ndimage.zoom` with `grid_mode=True` (output voxel `o` samples input coordinate
//! `(o + ½)·in/out − ½`), spline order 0 (nearest: index `⌊c + ½⌋`) or 1 (linear), the border
//! as `MODE` says (`constant` fills `CVAL`), an optional Gaussian anti-aliasing pass before
//! down-sampling (σ = (factor − 1)/2 per axis) and clipping to the input's range. Channels are
//! never resized. Computes in `f64`, as SciPy does; the caller casts to the sample type.

use super::gaussian::gaussian_filter;
use crate::config::FillMode;
use crate::data::Volume;
use crate::data::border::map_index;

/// Spline order of the interpolation (`RESIZE.ORDER`; BiaPy's 2–5 are refused by `config check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Nearest,
    Linear,
}

/// How to resize: everything `skimage.transform.resize` takes but the output shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResizeOptions {
    pub order: Order,
    pub mode: FillMode,
    pub cval: f64,
    pub clip: bool,
    pub anti_aliasing: bool,
}

/// `volume` resized to the spatial shape `out` (`(z, y, x)`; channels kept).
pub fn resize(volume: &Volume<f64>, out: [usize; 3], options: &ResizeOptions) -> Volume<f64> {
    let [nz, ny, nx, nc] = volume.shape();
    let input = [nz, ny, nx];
    let smoothed;
    let source = if options.anti_aliasing && (0..3).any(|a| out[a] < input[a]) {
        let sigmas: [f64; 4] =
            [0, 1, 2, 3].map(|a| if a < 3 { ((input[a] as f64 / out[a] as f64 - 1.0) / 2.0).max(0.0) } else { 0.0 });
        smoothed = gaussian_filter(volume, sigmas, options.mode, options.cval);
        &smoothed
    } else {
        volume
    };
    // Separable: x, then y, then z (a tensor-product spline of order 0 or 1 is separable, the
    // `constant` fill included, as an all-`cval` line interpolates to `cval`).
    let mut current = source.clone();
    for axis in [2, 1, 0] {
        if out[axis] != input[axis] {
            current = resize_axis(&current, axis, out[axis], options);
        }
    }
    if options.clip {
        let cval = (options.mode == FillMode::Constant).then_some(options.cval);
        clip_warp_output(volume.as_slice(), current.as_mut_slice(), cval);
    }
    debug_assert_eq!(current.shape(), [out[0], out[1], out[2], nc]);
    current
}

/// One spatial axis (`0` z, `1` y, `2` x) resized to `n_out`.
fn resize_axis(volume: &Volume<f64>, axis: usize, n_out: usize, options: &ResizeOptions) -> Volume<f64> {
    let shape = volume.shape();
    let n_in = shape[axis];
    let mut out_shape = shape;
    out_shape[axis] = n_out;
    // Per output position along the axis: (input index or fill, weight) taps.
    let scale = n_in as f64 / n_out as f64;
    let taps: Vec<[(Option<usize>, f64); 2]> = (0..n_out)
        .map(|o| {
            let c = (o as f64 + 0.5) * scale - 0.5;
            match options.order {
                Order::Nearest => [(map_index((c + 0.5).floor() as isize, n_in, options.mode), 1.0), (None, 0.0)],
                Order::Linear => {
                    let i0 = c.floor();
                    let w = c - i0;
                    let i0 = i0 as isize;
                    [(map_index(i0, n_in, options.mode), 1.0 - w), (map_index(i0 + 1, n_in, options.mode), w)]
                }
            }
        })
        .collect();
    let strides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
    let out_strides = [out_shape[1] * out_shape[2] * out_shape[3], out_shape[2] * out_shape[3], out_shape[3], 1];
    let src = volume.as_slice();
    let mut data = vec![0.0f64; out_shape.iter().product()];
    // Every output element: split its flat index into (outer, o, inner) around `axis`.
    let inner: usize = out_strides[axis];
    let outer_count: usize = out_shape[..axis].iter().product();
    for outer in 0..outer_count {
        for (o, tap) in taps.iter().enumerate() {
            let dst = outer * n_out * inner + o * inner;
            for k in 0..inner {
                let mut value = 0.0;
                for &(index, weight) in tap {
                    if weight == 0.0 {
                        continue;
                    }
                    value += weight
                        * match index {
                            Some(i) => src[outer * n_in * strides[axis] + i * strides[axis] + k],
                            None => options.cval,
                        };
                }
                data[dst + k] = value;
            }
        }
    }
    Volume::from_vec(out_shape, data).expect("the output shape's element count")
}

/// skimage's `_clip_warp_output`: `output` clipped to the range of `input`, widened to `cval`
/// when a `constant` fill (`cval` given) brought it in from outside that range. Shared with the
/// augmentations' `SHEAR` (skimage's `warp`).
pub fn clip_warp_output<T: Copy + PartialOrd>(input: &[T], output: &mut [T], cval: Option<T>) {
    let (Some((min, max)), Some((out_min, out_max))) = (value_range(input), value_range(output)) else { return };
    let (mut low, mut high) = (min, max);
    if let Some(c) = cval
        && !(min <= c && c <= max)
        && out_min <= c
        && c <= out_max
    {
        low = if c < low { c } else { low };
        high = if c > high { c } else { high };
    }
    for v in output {
        *v = if *v < low {
            low
        } else if *v > high {
            high
        } else {
            *v
        };
    }
}

/// The smallest and largest value, `None` when there is none.
pub fn value_range<T: Copy + PartialOrd>(values: &[T]) -> Option<(T, T)> {
    let first = *values.first()?;
    Some(values.iter().fold((first, first), |(lo, hi), &v| (if v < lo { v } else { lo }, if v > hi { v } else { hi })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(values: &[f64]) -> Volume<f64> {
        Volume::from_vec([1, 1, values.len(), 1], values.to_vec()).unwrap()
    }

    fn options(order: Order, mode: FillMode) -> ResizeOptions {
        ResizeOptions { order, mode, cval: 0.0, clip: true, anti_aliasing: false }
    }

    #[test]
    fn nearest_picks_the_rounded_source_index() {
        // 0..=60 by 10 to 9 and to 14 samples: skimage.transform.resize(order=0) printed these.
        let v = line(&[0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]);
        let nine = resize(&v, [1, 1, 9], &options(Order::Nearest, FillMode::Reflect));
        assert_eq!(nine.as_slice(), &[0.0, 10.0, 10.0, 20.0, 30.0, 40.0, 50.0, 50.0, 60.0]);
        let three = resize(&v, [1, 1, 3], &options(Order::Nearest, FillMode::Reflect));
        assert_eq!(three.as_slice(), &[10.0, 30.0, 50.0]);
    }

    #[test]
    fn linear_up_sampling_by_two_by_hand() {
        // [0, 4] to 4 samples: coordinates −0.25, 0.25, 0.75, 1.25. With `reflect` (SciPy's
        // mirror) −0.25 reads 0.75·0 + 0.25·4 = 1; 1.25 mirrors to 0.75 → 3.
        let v = line(&[0.0, 4.0]);
        let up = resize(&v, [1, 1, 4], &options(Order::Linear, FillMode::Reflect));
        assert_eq!(up.as_slice(), &[1.0, 1.0, 3.0, 3.0]);
        // `edge` (nearest): −0.25 reads 0, 1.25 reads 4.
        let up = resize(&v, [1, 1, 4], &options(Order::Linear, FillMode::Nearest));
        assert_eq!(up.as_slice(), &[0.0, 1.0, 3.0, 4.0]);
        // `constant` with cval 0: −0.25 → 0.75·0 + 0.25·0 = 0; 1.25 → 0.75·4 = 3, clipped.
        let up = resize(&v, [1, 1, 4], &options(Order::Linear, FillMode::Constant));
        assert_eq!(up.as_slice(), &[0.0, 1.0, 3.0, 3.0]);
    }

    #[test]
    fn two_d_resizes_y_and_x_and_keeps_channels() {
        let v = Volume::from_vec([1, 2, 2, 2], vec![0.0, 10.0, 4.0, 10.0, 8.0, 10.0, 12.0, 10.0]).unwrap();
        let out = resize(&v, [1, 4, 4], &options(Order::Linear, FillMode::Nearest));
        assert_eq!(out.shape(), [1, 4, 4, 2]);
        assert!(out.channel(1).as_slice().iter().all(|&v| v == 10.0), "a constant channel stays constant");
        // Channel 0 is the plane [[0, 4], [8, 12]]: bilinear, corners replicate the edge.
        assert_eq!(out.get(0, 0, 0, 0), 0.0);
        assert_eq!(out.get(0, 3, 3, 0), 12.0);
        assert_eq!(out.get(0, 1, 1, 0), 0.75 * (0.75 * 0.0 + 0.25 * 4.0) + 0.25 * (0.75 * 8.0 + 0.25 * 12.0));
    }
}
