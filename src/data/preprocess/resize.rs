//! `skimage.transform.resize` as BiaPy's `DATA.PREPROCESS.RESIZE` calls it: SciPy's
//! `ndimage.zoom` with `grid_mode=True` (output voxel `o` samples input coordinate
//! `(o + ½)·in/out − ½`), B-spline order 0 (nearest: index `⌊c + ½⌋`), 1 (linear) or 2–5
//! (pre-filtered splines, [`super::spline`]), the border as `MODE` says (`constant` fills
//! `CVAL`), an optional Gaussian anti-aliasing pass before
//! down-sampling (σ = (factor − 1)/2 per axis) and clipping to the input's range. Channels are
//! never resized. Computes in `f64`, as SciPy does; the caller casts to the sample type.

use super::gaussian::gaussian_filter;
use super::spline::LineZoom;
use crate::config::FillMode;
use crate::data::Volume;

/// Spline order of the interpolation (`RESIZE.ORDER`): 0 nearest, 1 linear, 2–5 B-splines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order(u8);

impl Order {
    pub const NEAREST: Order = Order(0);
    pub const LINEAR: Order = Order(1);

    /// The order `n`, `None` outside SciPy's 0–5.
    pub fn new(n: i64) -> Option<Order> {
        u8::try_from(n).ok().filter(|&n| n <= 5).map(Order)
    }
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
    // Separable: x, then y, then z. SciPy pre-filters every axis and sums the tensor-product
    // taps; per axis is the same sum regrouped (filters on different axes commute, a `cval` line
    // stays `cval`, and an axis zoomed by 1 is the identity), so only rounding differs.
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
    let zoom = LineZoom::new(n_in, n_out, usize::from(options.order.0), options.mode, options.cval);
    // Elements along `axis` are `inner` apart; `outer` counts the blocks before it.
    let inner: usize = shape[axis + 1..].iter().product();
    let outer_count: usize = shape[..axis].iter().product();
    let src = volume.as_slice();
    let mut data = vec![0.0f64; out_shape.iter().product()];
    let (mut line, mut scratch, mut zoomed) = (vec![0.0; n_in], Vec::new(), vec![0.0; n_out]);
    for outer in 0..outer_count {
        for k in 0..inner {
            let (src_base, dst_base) = (outer * n_in * inner + k, outer * n_out * inner + k);
            for (i, v) in line.iter_mut().enumerate() {
                *v = src[src_base + i * inner];
            }
            zoom.apply(&line, &mut scratch, &mut zoomed);
            for (o, &v) in zoomed.iter().enumerate() {
                data[dst_base + o * inner] = v;
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
        let nine = resize(&v, [1, 1, 9], &options(Order::NEAREST, FillMode::Reflect));
        assert_eq!(nine.as_slice(), &[0.0, 10.0, 10.0, 20.0, 30.0, 40.0, 50.0, 50.0, 60.0]);
        let three = resize(&v, [1, 1, 3], &options(Order::NEAREST, FillMode::Reflect));
        assert_eq!(three.as_slice(), &[10.0, 30.0, 50.0]);
    }

    #[test]
    fn linear_up_sampling_by_two_by_hand() {
        // [0, 4] to 4 samples: coordinates −0.25, 0.25, 0.75, 1.25. With `reflect` (SciPy's
        // mirror) −0.25 reads 0.75·0 + 0.25·4 = 1; 1.25 mirrors to 0.75 → 3.
        let v = line(&[0.0, 4.0]);
        let up = resize(&v, [1, 1, 4], &options(Order::LINEAR, FillMode::Reflect));
        assert_eq!(up.as_slice(), &[1.0, 1.0, 3.0, 3.0]);
        // `edge` (nearest): −0.25 reads 0, 1.25 reads 4.
        let up = resize(&v, [1, 1, 4], &options(Order::LINEAR, FillMode::Nearest));
        assert_eq!(up.as_slice(), &[0.0, 1.0, 3.0, 4.0]);
        // `constant` with cval 0: −0.25 → 0.75·0 + 0.25·0 = 0; 1.25 → 0.75·4 = 3, clipped.
        let up = resize(&v, [1, 1, 4], &options(Order::LINEAR, FillMode::Constant));
        assert_eq!(up.as_slice(), &[0.0, 1.0, 3.0, 3.0]);
    }

    #[test]
    fn two_d_resizes_y_and_x_and_keeps_channels() {
        let v = Volume::from_vec([1, 2, 2, 2], vec![0.0, 10.0, 4.0, 10.0, 8.0, 10.0, 12.0, 10.0]).unwrap();
        let out = resize(&v, [1, 4, 4], &options(Order::LINEAR, FillMode::Nearest));
        assert_eq!(out.shape(), [1, 4, 4, 2]);
        assert!(out.channel(1).as_slice().iter().all(|&v| v == 10.0), "a constant channel stays constant");
        // Channel 0 is the plane [[0, 4], [8, 12]]: bilinear, corners replicate the edge.
        assert_eq!(out.get(0, 0, 0, 0), 0.0);
        assert_eq!(out.get(0, 3, 3, 0), 12.0);
        assert_eq!(out.get(0, 1, 1, 0), 0.75 * (0.75 * 0.0 + 0.25 * 4.0) + 0.25 * (0.75 * 8.0 + 0.25 * 12.0));
    }
}
