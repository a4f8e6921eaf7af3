//! `DATA.PREPROCESS.CLAHE` as BiaPy calls skimage's `equalize_adapthist`: a 2D RGB image is
//! equalised on its HSV value ([`super::hsv`], skimage's `adapt_rgb(hsv_value)`); any other image
//! is taken as an N-D array with its channel axis (`(y, x, c)` or `(z, y, x, c)`). The values are
//! scaled to 16-bit (`img_as_uint`) and stretched to 14 bits, binned into 256 bins, one clipped
//! and equalised histogram per contextual region (`KERNEL_SIZE`, default ⅛ of every axis), each
//! value interpolated (multi-)linearly between the 2ᴺ neighbouring regions' mappings, and the
//! result stretched to [0, 1]. Follows skimage 0.26's `_clahe` step by step, float32 accumulation
//! included, so the values are skimage's.

use super::resize::value_range;
use crate::config::FillMode;
use crate::data::border::fold_index;

const NR_OF_GRAY: usize = 1 << 14;
const NBINS: usize = 256;

/// `CLAHE.KERNEL_SIZE` as given: null (⅛ of every axis), one size for every axis, or one per
/// array axis.
#[derive(Clone, Debug, PartialEq)]
pub enum KernelSize {
    Default,
    Every(usize),
    PerAxis(Vec<usize>),
}

impl KernelSize {
    /// The setting's value (`config check` has checked it).
    pub fn from_config(value: Option<&serde_json::Value>) -> Self {
        let size = |v: &serde_json::Value| v.as_u64().unwrap_or(1).max(1) as usize;
        match value {
            Some(number @ serde_json::Value::Number(_)) => KernelSize::Every(size(number)),
            Some(serde_json::Value::Array(items)) => KernelSize::PerAxis(items.iter().map(size).collect()),
            _ => KernelSize::Default,
        }
    }

    /// The region size per axis of an array of `shape`; `None` for a list of another length
    /// (skimage refuses it).
    fn for_shape(&self, shape: &[usize]) -> Option<Vec<usize>> {
        match self {
            KernelSize::Default => Some(shape.iter().map(|&s| (s / 8).max(1)).collect()),
            KernelSize::Every(k) => Some(vec![*k; shape.len()]),
            KernelSize::PerAxis(sizes) => (sizes.len() == shape.len()).then(|| sizes.clone()),
        }
    }
}

/// Why an image cannot be equalised as BiaPy would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaheRefusal {
    /// Not uint8/uint16, nor floats in [−1, 1] (skimage's `img_as_uint`).
    SampleType,
    /// RGBA: skimage drops the alpha channel, so the image would lose a channel.
    Rgba,
    /// A `KERNEL_SIZE` list for `(y, x, c)`, but an RGB image is equalised on its `(y, x)` value.
    RgbKernelList,
}

/// `image` (`(z, y, x, c)`, values in its sample type's units; `is_3d`: z is an array axis)
/// equalised as BiaPy's `apply_clahe`: in [0, 1] times `max` for integer images (`Some(255)` or
/// `Some(65535)`), in [0, 1] for float ones (`None`). The caller casts back to the sample type.
pub fn equalize_image(
    image: &mut [f64],
    [nz, ny, nx, nc]: [usize; 4],
    is_3d: bool,
    max: Option<f64>,
    kernel: &KernelSize,
    clip_limit: f64,
) -> Result<(), ClaheRefusal> {
    if max.is_some_and(|m| m != 255.0 && m != 65535.0) {
        return Err(ClaheRefusal::SampleType);
    }
    // skimage's img_as_uint: a float in [−1, 1] times 65535, rounded half to even and clipped;
    // 8-bit integers times 257, 16-bit ones as they are.
    let float_to_sixteen = |x: f64| {
        if (-1.0..=1.0).contains(&x) {
            Ok((x * 65535.0).round_ties_even().clamp(0.0, 65535.0))
        } else {
            Err(ClaheRefusal::SampleType)
        }
    };
    let sixteen = |x: f64| match max {
        Some(255.0) => Ok(x * 257.0),
        Some(_) => Ok(x),
        None => float_to_sixteen(x),
    };
    let unit = max.unwrap_or(1.0);
    if !is_3d && nc == 4 {
        return Err(ClaheRefusal::Rgba);
    }
    if !is_3d && nc == 3 {
        let kernel = kernel.for_shape(&[ny, nx]).ok_or(ClaheRefusal::RgbKernelList)?;
        // img_as_float: integers times the reciprocal of their type's largest value.
        let scale = 1.0 / unit;
        let hsv: Vec<[f64; 3]> =
            image.chunks(3).map(|p| super::hsv::rgb_to_hsv([p[0] * scale, p[1] * scale, p[2] * scale])).collect();
        // The value channel is a float image to skimage, whatever the RGB image's type.
        let values = hsv.iter().map(|h| float_to_sixteen(h[2])).collect::<Result<Vec<_>, _>>()?;
        let equalised = equalize_adapthist(&values, &[ny, nx], &kernel, clip_limit);
        for ((pixel, [h, s, _]), v) in image.chunks_mut(3).zip(hsv).zip(equalised) {
            let rgb = super::hsv::hsv_to_rgb([h, s, v]);
            pixel.iter_mut().zip(rgb).for_each(|(x, c)| *x = c * unit);
        }
        return Ok(());
    }
    let shape: Vec<usize> = if is_3d { vec![nz, ny, nx, nc] } else { vec![ny, nx, nc] };
    let kernel = kernel.for_shape(&shape).ok_or(ClaheRefusal::RgbKernelList)?;
    let values = image.iter().map(|&x| sixteen(x)).collect::<Result<Vec<_>, _>>()?;
    for (x, e) in image.iter_mut().zip(equalize_adapthist(&values, &shape, &kernel, clip_limit)) {
        *x = e * unit;
    }
    Ok(())
}

/// CLAHE of `values` (an array of `shape`, C order, unsigned 16-bit values, already scaled as
/// `img_as_uint` does) with region size `kernel` per axis and `clip_limit`; returns values in
/// [0, 1].
pub fn equalize_adapthist(values: &[f64], shape: &[usize], kernel: &[usize], clip_limit: f64) -> Vec<f64> {
    let ndim = shape.len();
    // rescale_intensity(out_range=(0, 2¹⁴ − 1)), rounded half to even.
    let (min, max) = value_range(values).unwrap_or((0.0, 0.0));
    let span = max - min;
    // (A constant image is clipped into the range instead, as skimage.)
    let scaled: Vec<usize> = values
        .iter()
        .map(|&v| {
            let t =
                if span > 0.0 { (v - min) / span * (NR_OF_GRAY - 1) as f64 } else { v.min((NR_OF_GRAY - 1) as f64) };
            t.round_ties_even() as usize
        })
        .collect();
    // Reflect padding so every axis is a whole number of regions plus half a region each side.
    let pad_start: Vec<usize> = kernel.iter().map(|k| k / 2).collect();
    let pad_end: Vec<usize> = kernel.iter().zip(shape).map(|(&k, &s)| (k - s % k) % k + k.div_ceil(2)).collect();
    let padded_shape: Vec<usize> = (0..ndim).map(|d| shape[d] + pad_start[d] + pad_end[d]).collect();
    let bin_size = 1 + NR_OF_GRAY / NBINS;
    let n_padded: usize = padded_shape.iter().product();
    let mut bins = vec![0usize; n_padded];
    for (flat, bin) in bins.iter_mut().enumerate() {
        let index = unravel(flat, &padded_shape);
        let source: Vec<usize> = (0..ndim)
            .map(|d| fold_index(index[d] as isize - pad_start[d] as isize, shape[d], FillMode::Reflect))
            .collect();
        *bin = scaled[ravel(&source, shape)] / bin_size;
    }
    // One histogram per region of the padded image that starts half a region in.
    let ns_hist: Vec<usize> = (0..ndim).map(|d| padded_shape[d] / kernel[d] - 1).collect();
    let kernel_elements: usize = kernel.iter().product();
    let clim =
        if clip_limit > 0.0 { ((clip_limit * kernel_elements as f64) as i64).max(1) } else { kernel_elements as i64 };
    let n_hist: usize = ns_hist.iter().product();
    let mut maps = vec![0i64; n_hist * NBINS];
    for block in 0..n_hist {
        let b = unravel(block, &ns_hist);
        let mut hist = vec![0i64; NBINS];
        for offset in 0..kernel_elements {
            let o = unravel(offset, kernel);
            let p: Vec<usize> = (0..ndim).map(|d| kernel[d] / 2 + b[d] * kernel[d] + o[d]).collect();
            hist[bins[ravel(&p, &padded_shape)]] += 1;
        }
        clip_histogram(&mut hist, clim);
        let scale = (NR_OF_GRAY - 1) as f64 / kernel_elements as f64;
        let mut running = 0i64;
        for (bin, &count) in hist.iter().enumerate() {
            running += count;
            maps[block * NBINS + bin] = ((running as f64 * scale).min((NR_OF_GRAY - 1) as f64)) as i64;
        }
    }
    // The mappings padded by one region on every side (edge), then each value interpolated.
    let map_at = |m: &[usize], bin: usize| {
        let h: Vec<usize> = (0..ndim).map(|d| m[d].saturating_sub(1).min(ns_hist[d] - 1)).collect();
        maps[ravel(&h, &ns_hist) * NBINS + bin]
    };
    let mut out = vec![0.0f64; values.len()];
    for (flat, o) in out.iter_mut().enumerate() {
        let index = unravel(flat, shape);
        let p: Vec<usize> = (0..ndim).map(|d| index[d] + pad_start[d]).collect();
        let (q, r): (Vec<usize>, Vec<usize>) = (0..ndim).map(|d| (p[d] / kernel[d], p[d] % kernel[d])).unzip();
        let bin = bins[ravel(&p, &padded_shape)];
        let mut acc = 0.0f32;
        for edge in 0..(1usize << ndim) {
            let e: Vec<usize> = (0..ndim).map(|d| (edge >> (ndim - 1 - d)) & 1).collect();
            let m: Vec<usize> = (0..ndim).map(|d| q[d] + e[d]).collect();
            let mut coeff = 1.0f64;
            for (i, d) in (0..ndim).rev().enumerate() {
                let c = r[d] as f64 / kernel[d] as f64;
                let w = if e[d] == 1 { c } else { 1.0 - c };
                coeff = if i == 0 { w } else { coeff * w };
            }
            acc += (map_at(&m, bin) as f64 * coeff) as f32;
        }
        *o = f64::from(acc).trunc().max(0.0).min(u16::MAX as f64);
    }
    // rescale_intensity to [0, 1] (a constant result clipped into it).
    let (min, max) = value_range(&out).unwrap_or((0.0, 0.0));
    let span = max - min;
    out.iter().map(|&v| if span > 0.0 { (v - min) / span } else { v.clamp(0.0, 1.0) }).collect()
}

/// skimage's `clip_histogram`: bins above `limit` cut, the excess spread over the others.
fn clip_histogram(hist: &mut [i64], limit: i64) {
    let n = hist.len() as i64;
    let mut excess: i64 = hist.iter().filter(|&&h| h > limit).map(|&h| h - limit).sum();
    for h in hist.iter_mut() {
        *h = (*h).min(limit);
    }
    let increment = excess / n;
    let upper = limit - increment;
    for h in hist.iter_mut() {
        if *h < upper {
            *h += increment;
            excess -= increment;
        }
    }
    for h in hist.iter_mut() {
        if *h >= upper && *h < limit {
            excess += *h - limit;
            *h = limit;
        }
    }
    while excess > 0 {
        let before = excess;
        for index in 0..hist.len() {
            let under = hist.iter().filter(|&&h| h < limit).count() as i64;
            let step = (under / excess).max(1) as usize;
            let mut added = 0;
            for h in hist.iter_mut().skip(index).step_by(step) {
                if *h < limit {
                    *h += 1;
                    added += 1;
                }
            }
            excess -= added;
            if excess <= 0 {
                break;
            }
        }
        if before == excess {
            break;
        }
    }
}

fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        index[d] = flat % shape[d];
        flat /= shape[d];
    }
    index
}

fn ravel(index: &[usize], shape: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &s)| acc * s + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_redistributes_as_skimage_does() {
        // skimage.exposure._adapthist.clip_histogram printed these (its bookkeeping can hand
        // out one count more than the excess: 23 counts in, 24 out).
        let mut hist = vec![0i64; 8];
        hist[2] = 20;
        hist[5] = 3;
        clip_histogram(&mut hist, 5);
        assert_eq!(hist, [2, 3, 5, 2, 2, 5, 2, 3]);
        let mut hist = vec![0, 1, 9, 4, 0, 12, 2, 3];
        clip_histogram(&mut hist, 4);
        assert_eq!(hist, [3, 4, 4, 4, 4, 4, 4, 4]);
    }

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        let n = 4;
        let reflect = |i, n| fold_index(i, n, FillMode::Reflect);
        let got: Vec<usize> = (-3..7).map(|i| reflect(i, n)).collect();
        assert_eq!(got, [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
        assert_eq!(reflect(-2, 1), 0);
    }

    #[test]
    fn output_spans_zero_to_one_and_keeps_the_order_of_a_ramp() {
        let shape = [16, 16, 1];
        let values: Vec<f64> = (0..256).map(|i| (i * 257) as f64).collect();
        let out = equalize_adapthist(&values, &shape, &[2, 2, 1], 0.01);
        let (min, max) = value_range(&out).unwrap_or((0.0, 0.0));
        assert_eq!((min, max), (0.0, 1.0));
        assert_eq!(out.len(), 256);
    }

    fn textured(n: usize, max: f64) -> Vec<f64> {
        (0..n).map(|i| ((i * 7919 + (i / 13) * 104_729) % (max as usize + 1)) as f64).collect()
    }

    #[test]
    fn a_grey_rgb_image_equalises_as_its_single_channel() {
        // r = g = b: the HSV value is the grey level and the saturation 0, so every channel
        // comes back as the single-channel image's result.
        let grey = textured(12 * 16, 255.0);
        let mut single = grey.clone();
        equalize_image(&mut single, [1, 12, 16, 1], false, Some(255.0), &KernelSize::Default, 0.01).unwrap();
        let mut rgb: Vec<f64> = grey.iter().flat_map(|&g| [g, g, g]).collect();
        equalize_image(&mut rgb, [1, 12, 16, 3], false, Some(255.0), &KernelSize::Default, 0.01).unwrap();
        for (i, (pixel, s)) in rgb.chunks(3).zip(&single).enumerate() {
            assert!(pixel.iter().all(|c| (c - s).abs() < 1e-9), "pixel {i}: {pixel:?} vs {s}");
        }
    }

    #[test]
    fn images_skimage_or_biapy_cannot_take_are_refused() {
        let run = |shape: [usize; 4], is_3d, max, kernel: KernelSize, values: Vec<f64>| {
            let mut v = values;
            equalize_image(&mut v, shape, is_3d, max, &kernel, 0.01)
        };
        let n = 8 * 8;
        assert_eq!(
            run([1, 8, 8, 1], false, Some(4_294_967_295.0), KernelSize::Default, vec![1.0; n]),
            Err(ClaheRefusal::SampleType)
        );
        assert_eq!(run([1, 8, 8, 1], false, None, KernelSize::Default, vec![1.5; n]), Err(ClaheRefusal::SampleType));
        assert_eq!(
            run([1, 8, 8, 4], false, Some(255.0), KernelSize::Default, vec![1.0; 4 * n]),
            Err(ClaheRefusal::Rgba)
        );
        let list = KernelSize::PerAxis(vec![2, 2, 1]);
        assert_eq!(
            run([1, 8, 8, 3], false, Some(255.0), list.clone(), vec![1.0; 3 * n]),
            Err(ClaheRefusal::RgbKernelList)
        );
        // The same list fits a two-channel image's (y, x, c) array, and floats in [0, 1] work.
        assert_eq!(
            run([1, 8, 8, 2], false, Some(255.0), KernelSize::PerAxis(vec![2, 2, 2]), textured(2 * n, 255.0)),
            Ok(())
        );
        let unit: Vec<f64> = textured(n, 100.0).iter().map(|v| v / 100.0).collect();
        assert_eq!(run([1, 8, 8, 1], false, None, list, unit), Ok(()));
    }
}
