//! BiaPy's median-filter post-processing (spec §6): SciPy `ndimage.median_filter` with axis-aligned
//! box footprints on `(z, y, x)`, run per channel on probability maps, borders in SciPy's `reflect`
//! mode (half-sample symmetric, NumPy's `symmetric`). Also turns `TEST.POST_PROCESSING` into a
//! filter list.
//!
//! Pure functions on [`Volume`]s: no I/O, no printing, no binarisation, and no decision about
//! *when* a filter runs (per image or on the 2D stack, §4.6) — the caller owns that.
//!
//! ```
//! use segsweep::data::Volume;
//! use segsweep::postprocess::{FilterAxis, apply_filters};
//! let v = Volume::from_vec([1, 1, 5, 1], vec![1.0, 5.0, 2.0, 8.0, 3.0]).unwrap();
//! let out = apply_filters(&v, &[(FilterAxis::Xy, 3)]);
//! assert_eq!(out.as_slice(), &[1.0, 2.0, 5.0, 3.0, 3.0]);
//! ```

use crate::config::PostProcessing;
use crate::data::Volume;
use crate::data::median::MedianBorder;

const AXIS_KEY: &str = "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS";
const SIZE_KEY: &str = "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE";

/// The plane or line a median filter runs along (`TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterAxis {
    /// `xy` / `yx`: an in-plane `s × s` box.
    Xy,
    /// `yz` / `zy`: an `s × s` box in the (z, y) plane.
    Yz,
    /// `xz` / `zx`: an `s × s` box in the (z, x) plane.
    Xz,
    /// `z`: a line of `s` along z.
    Z,
}

impl FilterAxis {
    /// Parses a BiaPy axis name: `xy`, `yx`, `zy`, `yz`, `zx`, `xz` or `z` (lower case, as BiaPy).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "xy" | "yx" => Some(Self::Xy),
            "yz" | "zy" => Some(Self::Yz),
            "xz" | "zx" => Some(Self::Xz),
            "z" => Some(Self::Z),
            _ => None,
        }
    }

    /// The `(z, y, x)` box footprint for `size`, an even size first made odd by adding 1 (as
    /// BiaPy). Size 0 becomes 1, the identity.
    pub fn footprint(self, size: usize) -> [usize; 3] {
        let s = if size.is_multiple_of(2) { size + 1 } else { size };
        match self {
            Self::Xy => [1, s, s],
            Self::Yz => [s, s, 1],
            Self::Xz => [s, 1, s],
            Self::Z => [s, 1, 1],
        }
    }
}

/// `TEST.POST_PROCESSING` values that do not describe a filter list.
#[derive(Debug, thiserror::Error)]
pub enum PostprocessError {
    /// An axis name other than `xy`, `yx`, `zy`, `yz`, `zx`, `xz`, `z`.
    #[error("{AXIS_KEY}: `{0}` is not one of `xy`, `yx`, `zy`, `yz`, `zx`, `xz`, `z`")]
    UnknownAxis(String),
    /// A size that is not a positive integer.
    #[error("{SIZE_KEY}: `{0}` is not a positive size")]
    BadSize(i64),
    /// `MEDIAN_FILTER_SIZE` does not hold one size per `MEDIAN_FILTER_AXIS` entry.
    #[error("{SIZE_KEY}: {sizes} size(s) for {axes} `MEDIAN_FILTER_AXIS` entries; expected one per axis")]
    CountMismatch {
        /// Entries in `MEDIAN_FILTER_AXIS`.
        axes: usize,
        /// Entries in `MEDIAN_FILTER_SIZE`.
        sizes: usize,
    },
    /// `MEDIAN_FILTER` is on but no axis is given.
    #[error("{AXIS_KEY}: `[]`; the median filter needs at least one axis")]
    NoAxis,
}

/// The filters `TEST.POST_PROCESSING` asks for, in list order, sizes as written (made odd by
/// [`FilterAxis::footprint`]). Empty when `MEDIAN_FILTER` is off (the lists are then ignored, as
/// in BiaPy).
pub fn filters_from_config(pp: &PostProcessing) -> Result<Vec<(FilterAxis, usize)>, PostprocessError> {
    if !pp.median_filter {
        return Ok(Vec::new());
    }
    if pp.median_filter_axis.is_empty() {
        return Err(PostprocessError::NoAxis);
    }
    let (axes, sizes) = (&pp.median_filter_axis, &pp.median_filter_size);
    if axes.len() != sizes.len() {
        return Err(PostprocessError::CountMismatch { axes: axes.len(), sizes: sizes.len() });
    }
    axes.iter()
        .zip(sizes)
        .map(|(name, &size)| {
            let axis = FilterAxis::parse(name).ok_or_else(|| PostprocessError::UnknownAxis(name.clone()))?;
            let size = usize::try_from(size).ok().filter(|&s| s > 0).ok_or(PostprocessError::BadSize(size))?;
            Ok((axis, size))
        })
        .collect()
}

/// Runs `filters` one after the other (list order), each on the previous result.
pub fn apply_filters(volume: &Volume<f32>, filters: &[(FilterAxis, usize)]) -> Volume<f32> {
    filters.iter().fold(volume.clone(), |v, &(axis, size)| median_filter(&v, axis.footprint(size)))
}

/// SciPy `median_filter(channel, size=footprint, mode="reflect")` on every channel of `volume`
/// (see [`crate::data::median::median_filter`]; borders half-sample symmetric).
pub fn median_filter(volume: &Volume<f32>, footprint: [usize; 3]) -> Volume<f32> {
    crate::data::median::median_filter(volume, footprint, MedianBorder::Symmetric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(shape: [usize; 4], data: &[f32]) -> Volume<f32> {
        Volume::from_vec(shape, data.to_vec()).unwrap()
    }

    /// Deterministic, irregular values in [0, 1).
    fn pseudo(shape: [usize; 4]) -> Volume<f32> {
        let n: usize = shape.iter().product();
        vol(shape, &(0..n).map(|i| ((i * 37 + 11) % 29) as f32 / 29.0).collect::<Vec<_>>())
    }

    /// Brute force, written independently of `Window`: fold out-of-range coordinates back
    /// one mirror at a time, gather, sort, take the middle.
    fn naive(v: &Volume<f32>, fp: [usize; 3]) -> Volume<f32> {
        let [nz, ny, nx, nc] = v.shape();
        let fold = |mut i: i64, n: usize| {
            let n = n as i64;
            while i < 0 || i >= n {
                i = if i < 0 { -i - 1 } else { 2 * n - 1 - i };
            }
            i as usize
        };
        let mut out = v.clone();
        for (z, y, x, c) in (0..nz)
            .flat_map(|z| (0..ny).flat_map(move |y| (0..nx).map(move |x| (z, y, x))))
            .flat_map(|(z, y, x)| (0..nc).map(move |c| (z, y, x, c)))
        {
            let mut w = Vec::new();
            for dz in 0..fp[0] as i64 {
                for dy in 0..fp[1] as i64 {
                    for dx in 0..fp[2] as i64 {
                        let zz = fold(z as i64 + dz - (fp[0] / 2) as i64, nz);
                        let yy = fold(y as i64 + dy - (fp[1] / 2) as i64, ny);
                        let xx = fold(x as i64 + dx - (fp[2] / 2) as i64, nx);
                        w.push(v.get(zz, yy, xx, c));
                    }
                }
            }
            w.sort_by(f32::total_cmp);
            out.set(z, y, x, c, w[w.len() / 2]);
        }
        out
    }

    #[test]
    fn one_d_borders_by_hand() {
        // Size 3 on [1, 5, 2, 8, 3]; symmetric border extends to 1 | 1 5 2 8 3 | 3:
        //   x=0: {1, 1, 5} → 1;  x=1: {1, 5, 2} → 2;  x=2: {5, 2, 8} → 5;
        //   x=3: {2, 8, 3} → 3;  x=4: {8, 3, 3} → 3.   (SciPy: [1, 2, 5, 3, 3])
        let v = vol([1, 1, 5, 1], &[1.0, 5.0, 2.0, 8.0, 3.0]);
        assert_eq!(median_filter(&v, [1, 1, 3]).as_slice(), &[1.0, 2.0, 5.0, 3.0, 3.0]);
        // Size 5; extension 5 1 | 1 5 2 8 3 | 3 8:
        //   x=0: {5, 1, 1, 5, 2} → 2;  x=1: {1, 1, 5, 2, 8} → 2;  x=2: {1, 5, 2, 8, 3} → 3;
        //   x=3: {5, 2, 8, 3, 3} → 3;  x=4: {2, 8, 3, 3, 8} → 3.  (NumPy `symmetric` pad check: same)
        assert_eq!(median_filter(&v, [1, 1, 5]).as_slice(), &[2.0, 2.0, 3.0, 3.0, 3.0]);
        // The same line along z and along y gives the same numbers.
        let along_z = vol([5, 1, 1, 1], &[1.0, 5.0, 2.0, 8.0, 3.0]);
        assert_eq!(median_filter(&along_z, [3, 1, 1]).as_slice(), &[1.0, 2.0, 5.0, 3.0, 3.0]);
        let along_y = vol([1, 5, 1, 1], &[1.0, 5.0, 2.0, 8.0, 3.0]);
        assert_eq!(median_filter(&along_y, [1, 3, 1]).as_slice(), &[1.0, 2.0, 5.0, 3.0, 3.0]);
    }

    #[test]
    fn two_d_three_by_three_by_hand() {
        // 1 2 3 / 4 5 6 / 7 8 9, padded symmetrically to
        //   1 1 2 3 3 / 1 1 2 3 3 / 4 4 5 6 6 / 7 7 8 9 9 / 7 7 8 9 9.
        // (0,0): {1,1,2,1,1,2,4,4,5} sorted 1,1,1,1,2,2,4,4,5 → 2
        // (0,1): {1,2,3,1,2,3,4,5,6} → 1,1,2,2,3,3,4,5,6 → 3
        // (0,2): {2,3,3,2,3,3,5,6,6} → 2,2,3,3,3,3,5,6,6 → 3
        // (1,0): {1,1,2,4,4,5,7,7,8} → 4;  (1,1): 1..9 → 5;  (1,2): {2,3,3,5,6,6,8,9,9} → 6
        // (2,0): {4,4,5,7,7,8,7,7,8} → 4,4,5,7,7,7,7,8,8 → 7
        // (2,1): {4,5,6,7,8,9,7,8,9} → 4,5,6,7,7,8,8,9,9 → 7
        // (2,2): {5,6,6,8,9,9,8,9,9} → 5,6,6,8,8,9,9,9,9 → 8
        let v = vol([1, 3, 3, 1], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        let expected = [2.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0, 7.0, 8.0];
        assert_eq!(median_filter(&v, [1, 3, 3]).as_slice(), &expected);
    }

    #[test]
    fn matches_numpy_symmetric_pad_reference() {
        // Expected values from NumPy: `np.median(sliding_window_view(np.pad(a, pads,
        // mode="symmetric"), fp), ...)` with pads (s//2, s-1-s//2), which is SciPy's rule.
        let a = [3., 9., 1., 7., 4., 8., 2., 6., 0., 5., 1., 1., 9., 3., 7., 6., 4., 2., 8., 0.];
        let v = vol([1, 4, 5, 1], &a);
        let box3 = [3., 3., 6., 4., 4., 3., 3., 3., 5., 5., 4., 4., 3., 5., 5., 4., 4., 4., 3., 3.];
        assert_eq!(median_filter(&v, [1, 3, 3]).as_slice(), &box3);
        // A line of 11 across rows of 5: the window wraps through several mirrors.
        let line11 = [4., 4., 4., 4., 4., 5., 5., 5., 5., 5., 3., 3., 3., 3., 3., 4., 4., 4., 4., 4.];
        assert_eq!(median_filter(&v, [1, 1, 11]).as_slice(), &line11);
    }

    #[test]
    fn agrees_with_brute_force_for_every_axis_and_box_larger_than_axis() {
        let v = pseudo([4, 5, 6, 2]);
        for fp in [[1, 3, 3], [3, 3, 1], [3, 1, 3], [5, 1, 1], [9, 1, 1], [1, 7, 13], [3, 3, 3]] {
            assert_eq!(median_filter(&v, fp), naive(&v, fp), "footprint {fp:?}");
        }
    }

    #[test]
    fn even_footprint_follows_scipy_origin() {
        // SciPy, size 2: window [i-1, i], element 2//2 = 1 of the sorted pair (the larger):
        // 1 | 1 5 2 8 3 → {1,1} 1, {1,5} 5, {5,2} 5, {2,8} 8, {8,3} 8.
        let v = vol([1, 1, 5, 1], &[1.0, 5.0, 2.0, 8.0, 3.0]);
        assert_eq!(median_filter(&v, [1, 1, 2]).as_slice(), &[1.0, 5.0, 5.0, 8.0, 8.0]);
    }

    #[test]
    fn even_size_four_behaves_as_five() {
        assert_eq!(FilterAxis::Z.footprint(4), [5, 1, 1]);
        let v = pseudo([7, 3, 4, 1]);
        assert_eq!(apply_filters(&v, &[(FilterAxis::Z, 4)]), median_filter(&v, [5, 1, 1]));
        assert_eq!(apply_filters(&v, &[(FilterAxis::Xy, 4)]), apply_filters(&v, &[(FilterAxis::Xy, 5)]));
    }

    #[test]
    fn footprints_of_every_axis_name() {
        let cases = [
            ("xy", [1, 3, 3]),
            ("yx", [1, 3, 3]),
            ("yz", [3, 3, 1]),
            ("zy", [3, 3, 1]),
            ("xz", [3, 1, 3]),
            ("zx", [3, 1, 3]),
            ("z", [3, 1, 1]),
        ];
        for (name, fp) in cases {
            assert_eq!(FilterAxis::parse(name).map(|a| a.footprint(3)), Some(fp), "{name}");
        }
        for bad in ["x", "y", "XY", "xyz", "", "zz"] {
            assert_eq!(FilterAxis::parse(bad), None, "{bad}");
        }
        assert_eq!(FilterAxis::Xy.footprint(0), [1, 1, 1]);
    }

    #[test]
    fn filters_run_in_list_order() {
        // A median of medians depends on the order: z then xy differs from xy then z here.
        let v = pseudo([5, 4, 4, 1]);
        let z_then_xy = apply_filters(&v, &[(FilterAxis::Z, 3), (FilterAxis::Xy, 3)]);
        let xy_then_z = apply_filters(&v, &[(FilterAxis::Xy, 3), (FilterAxis::Z, 3)]);
        assert_eq!(z_then_xy, median_filter(&median_filter(&v, [3, 1, 1]), [1, 3, 3]));
        assert_eq!(xy_then_z, median_filter(&median_filter(&v, [1, 3, 3]), [3, 1, 1]));
        assert_ne!(z_then_xy, xy_then_z);
        assert_eq!(apply_filters(&v, &[]), v);
    }

    #[test]
    fn channels_are_filtered_independently() {
        let v = pseudo([3, 4, 5, 3]);
        let out = median_filter(&v, [3, 3, 1]);
        for c in 0..3 {
            assert_eq!(out.channel(c), median_filter(&v.channel(c), [3, 3, 1]), "channel {c}");
        }
    }

    #[test]
    fn constant_volume_is_unchanged() {
        let v = Volume::filled([3, 4, 5, 2], 0.25f32);
        for fp in [[1, 5, 5], [3, 3, 1], [3, 1, 3], [7, 1, 1]] {
            assert_eq!(median_filter(&v, fp), v);
        }
    }

    #[test]
    fn z_filter_on_2d_is_identity() {
        let v = pseudo([1, 6, 7, 2]);
        assert_eq!(apply_filters(&v, &[(FilterAxis::Z, 5)]), v);
        assert_eq!(median_filter(&v, [9, 1, 1]), v);
    }

    #[test]
    fn empty_volume_is_fine() {
        let v = Volume::<f32>::filled([0, 3, 3, 1], 0.0);
        assert_eq!(median_filter(&v, [1, 3, 3]), v);
    }

    fn pp(on: bool, axes: &[&str], sizes: &[i64]) -> PostProcessing {
        PostProcessing {
            median_filter: on,
            median_filter_axis: axes.iter().map(|s| s.to_string()).collect(),
            median_filter_size: sizes.to_vec(),
        }
    }

    #[test]
    fn filters_from_config_reads_the_lists_in_order() {
        let got = filters_from_config(&pp(true, &["z", "yx", "zx"], &[4, 3, 5])).unwrap();
        assert_eq!(got, vec![(FilterAxis::Z, 4), (FilterAxis::Xy, 3), (FilterAxis::Xz, 5)]);
        assert!(filters_from_config(&pp(false, &["bad"], &[-1, 2])).unwrap().is_empty());
    }

    #[test]
    fn filters_from_config_names_key_and_value() {
        let err = |p| filters_from_config(&p).unwrap_err().to_string();
        assert_eq!(
            err(pp(true, &["z", "xyz"], &[3, 3])),
            "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS: `xyz` is not one of `xy`, `yx`, `zy`, `yz`, `zx`, `xz`, `z`"
        );
        assert_eq!(err(pp(true, &["z"], &[0])), "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE: `0` is not a positive size");
        assert_eq!(
            err(pp(true, &["z", "xy"], &[3])),
            "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE: 1 size(s) for 2 `MEDIAN_FILTER_AXIS` entries; expected one per axis"
        );
        assert!(err(pp(true, &[], &[])).starts_with("TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS"));
    }
}
