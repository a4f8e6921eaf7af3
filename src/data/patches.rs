//! The patch grid of BiaPy's crop-with-overlap (spec §4.1), NumPy-`reflect` padding, plain crops,
//! and `DATA.REFLECT_TO_COMPLETE_SHAPE` (spec §3.5).
//!
//! Owns: the start positions of the patches along each axis ([`axis_starts`], [`PatchGrid`]),
//! [`reflect_pad`], [`crop`], [`complete_shape`] and its inverse [`undo_complete_shape`]. Must not:
//! read or write files, print, normalise, or blend patches back (that is `merge`).
//!
//! All functions work on `(z, y, x)` with channels carried along, so 2D (z = 1, patch z = 1,
//! overlap z = 0, padding z = 0) and 3D share every code path.
//!
//! ```
//! use segsweep::data::patches::PatchGrid;
//! let grid = PatchGrid::new([1, 600, 600], [1, 256, 256], [0.0; 3], [0; 3]).unwrap();
//! assert_eq!(grid.starts[1], vec![0, 172, 344]);
//! assert_eq!(grid.len(), 9);
//! ```

use super::Volume;

/// Axis names used in error messages, in `(z, y, x)` order.
const AXIS_NAMES: [char; 3] = ['z', 'y', 'x'];

/// A patch grid that cannot be built from the given sizes.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// Padding must stay below half of the patch (BiaPy: "'Padding' can not be greater than the
    /// half of 'crop_shape'").
    #[error(
        "`DATA.TEST.PADDING` (or `DATA.TRAIN`/`DATA.VAL.PADDING`) is {padding} along {} but must be smaller than \
         half of the patch ({patch}/2)",
        axis_label(*.axis)
    )]
    Padding {
        /// `'z'`, `'y'` or `'x'`; `None` when [`axis_starts`] was called on its own.
        axis: Option<char>,
        /// The padding asked for.
        padding: usize,
        /// The patch length.
        patch: usize,
    },
    /// An image smaller than the patch, without `DATA.REFLECT_TO_COMPLETE_SHAPE` to pad it.
    #[error("image `{}` is {shape:?} (z, y, x), smaller than `DATA.PATCH_SIZE` {patch:?}; set `DATA.REFLECT_TO_COMPLETE_SHAPE: True` or use a smaller patch", path.display())]
    TooSmall { path: std::path::PathBuf, shape: [usize; 3], patch: [usize; 3] },
    /// No patch was predicted for an image (an image with no voxel).
    #[error("the patch grid of an image of {shape:?} voxels (z, y, x) is empty")]
    Empty { shape: [usize; 3] },
    /// Overlap must be a fraction in `[0, 1)`.
    #[error("overlap {overlap} along {} must be in [0, 1) (`DATA.TEST.OVERLAP`)", axis_label(*.axis))]
    Overlap {
        /// `'z'`, `'y'` or `'x'`; `None` when [`axis_starts`] was called on its own.
        axis: Option<char>,
        /// The overlap asked for.
        overlap: f64,
    },
    /// `int((patch − 2·padding)·(1 − overlap))` is 0: the grid would never advance.
    #[error(
        "patch {patch} with padding {padding} and overlap {overlap} along {} gives a step of 0 pixels",
        axis_label(*.axis)
    )]
    ZeroStep {
        /// `'z'`, `'y'` or `'x'`; `None` when [`axis_starts`] was called on its own.
        axis: Option<char>,
        /// The patch length.
        patch: usize,
        /// The padding.
        padding: usize,
        /// The overlap.
        overlap: f64,
    },
    /// The patch does not fit in the image padded on both sides.
    #[error(
        "patch size {patch} along {} is larger than the image ({image}) plus twice the padding ({padding}); \
         reduce `DATA.PATCH_SIZE` or use `DATA.REFLECT_TO_COMPLETE_SHAPE`",
        axis_label(*.axis)
    )]
    PatchTooLarge {
        /// `'z'`, `'y'` or `'x'`; `None` when [`axis_starts`] was called on its own.
        axis: Option<char>,
        /// The patch length.
        patch: usize,
        /// The image length.
        image: usize,
        /// The padding on each side.
        padding: usize,
    },
}

fn axis_label(axis: Option<char>) -> String {
    axis.map_or_else(|| "the axis".to_owned(), |a| format!("axis {a}"))
}

/// One axis of the grid: its starts and its step after the shrink.
struct AxisGrid {
    starts: Vec<usize>,
    step: usize,
}

/// Start positions (in padded coordinates) along one axis of length `len`.
///
/// Spec §4.1: the axis is padded by `padding` on both sides; `step = int((patch − 2·padding)·f)`
/// with `f = 1` for no overlap and `1 − overlap` otherwise; `n = ceil(len / step)`; the excess of
/// `n` patches over the padded length is spread by shrinking the step, and the integer remainder
/// is absorbed by moving the patch(es) that would reach past the end back.
pub fn axis_starts(len: usize, patch: usize, overlap: f64, padding: usize) -> Result<Vec<usize>, GridError> {
    axis_grid(None, len, patch, overlap, padding).map(|g| g.starts)
}

fn axis_grid(
    axis: Option<char>,
    len: usize,
    patch: usize,
    overlap: f64,
    padding: usize,
) -> Result<AxisGrid, GridError> {
    if !(0.0..1.0).contains(&overlap) {
        return Err(GridError::Overlap { axis, overlap });
    }
    // BiaPy checks `padding < patch // 2`; padding 0 is always allowed so that a 2D z axis of
    // patch 1 passes.
    if padding > 0 && padding >= patch / 2 {
        return Err(GridError::Padding { axis, padding, patch });
    }
    let inner = patch - 2 * padding;
    let f = if overlap == 0.0 { 1.0 } else { 1.0 - overlap };
    // Python's `int()` truncates, as `as usize` does for non-negative values.
    let step = (inner as f64 * f) as usize;
    if step == 0 {
        return Err(GridError::ZeroStep { axis, patch, padding, overlap });
    }
    let padded = len + 2 * padding;
    if padded < patch {
        return Err(GridError::PatchTooLarge { axis, patch, image: len, padding });
    }
    let n = len.div_ceil(step);
    if n <= 1 {
        // `n == 1` means len ≤ step ≤ inner, so padded ≤ patch; with the check above, equal.
        return Ok(AxisGrid { starts: vec![0], step });
    }
    // Never negative: (n − 1)·step ≥ len − step and step ≤ inner (see the spec).
    let excess = (n - 1) * step + patch - padded;
    let shrink = excess / (n - 1);
    let step = step - shrink;
    let rem = excess - shrink * (n - 1);
    let starts = (0..n)
        .map(|i| {
            let start = i * step;
            // BiaPy would go negative for tiny steps in tiny images; we stop at 0.
            if start + patch >= padded { start.saturating_sub(rem) } else { start }
        })
        .collect();
    Ok(AxisGrid { starts, step })
}

/// The crop positions of one image: BiaPy's grid on each of `(z, y, x)`.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchGrid {
    /// Image spatial shape `(z, y, x)`, unpadded.
    pub image: [usize; 3],
    /// Patch spatial shape `(z, y, x)`, including its padded border.
    pub patch: [usize; 3],
    /// Padding on each side of each axis.
    pub padding: [usize; 3],
    /// Start positions per axis, in padded coordinates. The inner (unpadded) part of the patch
    /// starting at `s` covers `[s, s + patch − 2·padding)` of the unpadded image.
    pub starts: [Vec<usize>; 3],
    steps: [usize; 3],
}

impl PatchGrid {
    /// Builds the grid; the error names the offending axis and sizes.
    pub fn new(
        image: [usize; 3],
        patch: [usize; 3],
        overlap: [f64; 3],
        padding: [usize; 3],
    ) -> Result<Self, GridError> {
        let mut starts: [Vec<usize>; 3] = Default::default();
        let mut steps = [0; 3];
        for a in 0..3 {
            let g = axis_grid(Some(AXIS_NAMES[a]), image[a], patch[a], overlap[a], padding[a])?;
            starts[a] = g.starts;
            steps[a] = g.step;
        }
        Ok(Self { image, patch, padding, starts, steps })
    }

    /// Number of patches.
    pub fn len(&self) -> usize {
        self.starts.iter().map(Vec::len).product()
    }

    /// Always false: a grid has at least one patch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Start of every patch in padded coordinates, z-major, then y, then x (BiaPy's order).
    pub fn positions(&self) -> impl Iterator<Item = [usize; 3]> {
        let [zs, ys, xs] = &self.starts;
        zs.iter().flat_map(move |&z| ys.iter().flat_map(move |&y| xs.iter().map(move |&x| [z, y, x])))
    }

    /// Step after the shrink, per axis (the distance between consecutive starts, except for the
    /// last patch when it was moved back).
    pub fn steps(&self) -> [usize; 3] {
        self.steps
    }

    /// Inner patch size `patch − 2·padding`, per axis: the part of a prediction that is kept.
    pub fn inner(&self) -> [usize; 3] {
        std::array::from_fn(|a| self.patch[a] - 2 * self.padding[a])
    }

    /// Overlap width of neighbouring inner patches after the shrink, `inner − step` (spec §4.2).
    pub fn overlap_widths(&self) -> [usize; 3] {
        let inner = self.inner();
        std::array::from_fn(|a| inner[a] - self.steps[a])
    }
}

/// Source index along one axis of length `n` for padded index `i` when `before` elements are
/// added in front: NumPy `reflect` (mirror without repeating the edge), periodic so that pads
/// longer than the axis repeat the reflection as NumPy does. A length-1 axis repeats its element.
fn reflect_index(i: usize, before: usize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1) as i64;
    let m = (i as i64 - before as i64).rem_euclid(period);
    (if m >= n as i64 { period - m } else { m }) as usize
}

/// Builds a volume of spatial shape `out` whose voxel `(z, y, x)` is `v` at
/// `(zi[z], yi[y], xi[x])`: the shared gather behind padding and cropping.
fn gather<T: Copy>(v: &Volume<T>, index: [Vec<usize>; 3]) -> Volume<T> {
    let nc = v.n_channels();
    let [zi, yi, xi] = &index;
    let mut data = Vec::with_capacity(zi.len() * yi.len() * xi.len() * nc);
    let src = v.as_slice();
    for &z in zi {
        for &y in yi {
            for &x in xi {
                let at = v.index(z, y, x, 0);
                data.extend_from_slice(&src[at..at + nc]);
            }
        }
    }
    Volume::from_vec([zi.len(), yi.len(), xi.len(), nc], data).expect("gather builds the exact length")
}

/// Pads each spatial axis with `before[a]` and `after[a]` elements in NumPy `reflect` mode:
/// `[a b c d]` padded by 2 gives `c b a b c d c b`.
///
/// Pads longer than the axis repeat the reflection (NumPy does the same); a length-1 axis is
/// repeated. Channels are not padded.
///
/// # Panics
/// If an axis to be padded has length 0.
pub fn reflect_pad<T: Copy>(v: &Volume<T>, before: [usize; 3], after: [usize; 3]) -> Volume<T> {
    let shape = v.spatial_shape();
    let index = std::array::from_fn(|a| {
        let n = shape[a];
        assert!(n > 0 || before[a] + after[a] == 0, "cannot reflect-pad an empty axis");
        (0..before[a] + n + after[a]).map(|i| reflect_index(i, before[a], n)).collect()
    });
    gather(v, index)
}

/// The block of spatial size `size` starting at `start`, all channels.
///
/// # Panics
/// If the block reaches past the volume.
pub fn crop<T: Copy>(v: &Volume<T>, start: [usize; 3], size: [usize; 3]) -> Volume<T> {
    let shape = v.spatial_shape();
    let index = std::array::from_fn(|a| {
        assert!(start[a] + size[a] <= shape[a], "crop {start:?}+{size:?} outside volume {shape:?}");
        (start[a]..start[a] + size[a]).collect()
    });
    gather(v, index)
}

/// `DATA.REFLECT_TO_COMPLETE_SHAPE` (spec §3.5): every axis shorter than the patch is
/// reflect-padded at its **start** up to the patch length, so the original content sits at the
/// end. Returns the padded volume and the pad added per axis; [`undo_complete_shape`] crops back
/// by keeping the last elements.
pub fn complete_shape<T: Copy>(v: &Volume<T>, patch: [usize; 3]) -> (Volume<T>, [usize; 3]) {
    let shape = v.spatial_shape();
    let pad = std::array::from_fn(|a| patch[a].saturating_sub(shape[a]));
    (reflect_pad(v, pad, [0; 3]), pad)
}

/// Inverse of [`complete_shape`]: drops the first `pad[a]` elements of each axis.
pub fn undo_complete_shape<T: Copy>(v: &Volume<T>, pad: [usize; 3]) -> Volume<T> {
    let shape = v.spatial_shape();
    crop(v, pad, std::array::from_fn(|a| shape[a] - pad[a]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_axis(len: usize, patch: usize, overlap: f64, padding: usize, expect: &[usize]) {
        assert_eq!(axis_starts(len, patch, overlap, padding).unwrap(), expect, "len {len} patch {patch}");
    }

    #[test]
    fn spec_example_600_no_padding_no_overlap() {
        check_axis(600, 256, 0.0, 0, &[0, 172, 344]);
        let grid = PatchGrid::new([1, 600, 600], [1, 256, 256], [0.0; 3], [0; 3]).unwrap();
        assert_eq!(grid.len(), 9);
        assert_eq!(grid.steps(), [1, 172, 172]);
    }

    #[test]
    fn spec_example_768x1024_padding_32() {
        let grid = PatchGrid::new([1, 768, 1024], [1, 256, 256], [0.0; 3], [0, 32, 32]).unwrap();
        assert_eq!(grid.starts[1], [0, 192, 384, 576]);
        assert_eq!(grid.starts[2], [0, 167, 334, 501, 668, 832]);
        assert_eq!(grid.len(), 24);
        // Patches end at 768 + 2·32 and 1024 + 2·32.
        assert_eq!(grid.starts[1].last().unwrap() + 256, 832);
        assert_eq!(grid.starts[2].last().unwrap() + 256, 1088);
        assert_eq!(grid.steps(), [1, 192, 167]);
        assert_eq!(grid.inner(), [1, 192, 192]);
        assert_eq!(grid.overlap_widths(), [0, 0, 25]);
    }

    #[test]
    fn spec_example_768x1024_overlap_half() {
        let grid = PatchGrid::new([1, 768, 1024], [1, 256, 256], [0.0, 0.5, 0.5], [0; 3]).unwrap();
        assert_eq!(grid.starts[1], [0, 103, 206, 309, 412, 512]);
        assert_eq!(grid.starts[2], [0, 110, 220, 330, 440, 550, 660, 768]);
        assert_eq!(grid.len(), 48);
    }

    #[test]
    fn single_patch_cases() {
        check_axis(256, 256, 0.0, 0, &[0]);
        check_axis(192, 256, 0.0, 32, &[0]);
        // BiaPy's formula: n = 2, the step shrinks to 0, two identical patches.
        check_axis(256, 256, 0.5, 0, &[0, 0]);
        check_axis(1, 1, 0.0, 0, &[0]);
    }

    #[test]
    fn positions_are_z_major_and_cover_the_padded_image() {
        let grid = PatchGrid::new([5, 7, 9], [3, 4, 4], [0.0, 0.5, 0.25], [0, 1, 0]).unwrap();
        let positions: Vec<_> = grid.positions().collect();
        assert_eq!(positions.len(), grid.len());
        assert_eq!(positions[0], [0, 0, 0]);
        assert_eq!(positions[1], [0, 0, grid.starts[2][1]]);
        assert_eq!(positions[grid.starts[2].len()], [0, grid.starts[1][1], 0]);
        for a in 0..3 {
            let end = grid.starts[a].last().unwrap() + grid.patch[a];
            assert_eq!(end, grid.image[a] + 2 * grid.padding[a], "axis {a}");
        }
    }

    #[test]
    fn errors_name_axis_and_sizes() {
        let err = PatchGrid::new([1, 512, 512], [1, 256, 256], [0.0; 3], [0, 0, 128]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`DATA.TEST.PADDING` (or `DATA.TRAIN`/`DATA.VAL.PADDING`) is 128 along axis x but must be smaller than \
             half of the patch (256/2)"
        );
        let err = PatchGrid::new([1, 512, 512], [1, 256, 256], [0.0, 1.0, 0.0], [0; 3]).unwrap_err();
        assert_eq!(err.to_string(), "overlap 1 along axis y must be in [0, 1) (`DATA.TEST.OVERLAP`)");
        let err = PatchGrid::new([1, 100, 512], [1, 256, 256], [0.0; 3], [0, 16, 0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "patch size 256 along axis y is larger than the image (100) plus twice the padding (16); \
             reduce `DATA.PATCH_SIZE` or use `DATA.REFLECT_TO_COMPLETE_SHAPE`"
        );
        assert!(matches!(axis_starts(10, 4, 0.9, 1), Err(GridError::ZeroStep { axis: None, .. })));
        assert!(matches!(axis_starts(10, 4, -0.1, 0), Err(GridError::Overlap { .. })));
    }

    fn line(values: &[u8]) -> Volume<u8> {
        Volume::from_vec([1, 1, values.len(), 1], values.to_vec()).unwrap()
    }

    #[test]
    fn reflect_pad_matches_numpy() {
        let v = line(b"abcd");
        assert_eq!(reflect_pad(&v, [0, 0, 2], [0, 0, 2]).as_slice(), b"cbabcdcb");
        // np.pad(np.arange(4), (9, 7), mode='reflect'): pads longer than the axis.
        let v = line(&[0, 1, 2, 3]);
        let padded = reflect_pad(&v, [0, 0, 9], [0, 0, 7]);
        assert_eq!(padded.as_slice(), [3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2]);
        assert_eq!(reflect_pad(&line(&[5]), [0, 0, 2], [0, 0, 3]).as_slice(), [5; 6]);
    }

    #[test]
    fn reflect_pad_2d_keeps_channels_together() {
        // 2 x 2 image, 2 channels: value = 10·(y·2 + x) + c.
        let v = Volume::from_vec([1, 2, 2, 2], vec![0, 1, 10, 11, 20, 21, 30, 31]).unwrap();
        let p = reflect_pad(&v, [0, 1, 0], [0, 0, 1]);
        assert_eq!(p.shape(), [1, 3, 3, 2]);
        assert_eq!(p.as_slice(), [20, 21, 30, 31, 20, 21, 0, 1, 10, 11, 0, 1, 20, 21, 30, 31, 20, 21]);
    }

    #[test]
    fn crop_takes_the_block() {
        let v = Volume::from_vec([2, 3, 4, 1], (0u8..24).collect()).unwrap();
        let c = crop(&v, [1, 1, 2], [1, 2, 2]);
        assert_eq!(c.shape(), [1, 2, 2, 1]);
        assert_eq!(c.as_slice(), [18, 19, 22, 23]);
    }

    #[test]
    fn complete_shape_keeps_content_at_the_end() {
        let v = Volume::from_vec([1, 2, 3, 1], vec![1u8, 2, 3, 4, 5, 6]).unwrap();
        let (p, pad) = complete_shape(&v, [1, 4, 3]);
        assert_eq!(pad, [0, 2, 0]);
        // Rows: reflect of [r0 r1] padded 2 in front → r0 r1 | r0 r1.
        assert_eq!(p.as_slice(), [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
        let (p, pad) = complete_shape(&line(&[7, 8, 9]), [1, 1, 5]);
        assert_eq!(pad, [0, 0, 2]);
        assert_eq!(p.as_slice(), [9, 8, 7, 8, 9]);
        assert_eq!(undo_complete_shape(&p, pad).as_slice(), [7, 8, 9]);
        let (same, pad) = complete_shape(&v, [1, 2, 2]);
        assert_eq!((same, pad), (v, [0, 0, 0]));
    }
}
