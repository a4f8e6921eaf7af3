//! Test-time augmentation (spec §4.4, BiaPy `ensemble_predictions`): the orientations of
//! `TEST.AUGMENTATION_GROUP`, applying and undoing them on `(z, y, x, c)` volumes, the square
//! padding a transpose needs, and the element-wise reduction of `TEST.AUGMENTATION_MODE`.
//!
//! This module owns the geometry only: it never runs a model itself (the caller passes a
//! predictor closure that batches the oriented copies through the model), does no I/O and no
//! printing, and knows nothing about patching or merging.
//!
//! ```
//! use segsweep::config::{Ndim, TtaGroup, TtaMode};
//! use segsweep::data::Volume;
//! use segsweep::infer::tta::predict_with_tta;
//! let img = Volume::from_vec([1, 2, 3, 1], vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
//! // An element-wise "model" is equivariant, so TTA returns its plain prediction.
//! let model = |batch: Vec<Volume<f32>>| -> Result<_, ()> {
//!     Ok(batch.iter().map(|v| v.map(|x| 2.0 * x + 1.0)).collect())
//! };
//! let out = predict_with_tta(&img, TtaGroup::Full, TtaMode::Mean, Ndim::D2, model).unwrap();
//! assert_eq!(out.as_slice(), &[1.0, 3.0, 5.0, 7.0, 9.0, 11.0]);
//! ```

use crate::config::{Ndim, TtaGroup, TtaMode};
use crate::data::Volume;

/// One orientation: optional transpose of (y, x), then optional flips of z, y, x (applied in
/// that order, the flips acting on the axes of the transposed volume).
///
/// This is BiaPy's `AxisTransform` restricted to what semantic segmentation uses: z is never
/// permuted, so the only permutation is the in-plane swap of y and x.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Orientation {
    /// Swap the y and x axes first.
    pub transpose: bool,
    /// Reverse z (after the transpose).
    pub flip_z: bool,
    /// Reverse y (after the transpose).
    pub flip_y: bool,
    /// Reverse x (after the transpose).
    pub flip_x: bool,
}

impl Orientation {
    /// The orientation that changes nothing.
    pub const IDENTITY: Orientation = Orientation { transpose: false, flip_z: false, flip_y: false, flip_x: false };

    /// Applies the orientation to a `(z, y, x, c)` volume. A transpose turns shape
    /// `(z, y, x, c)` into `(z, x, y, c)`; [`predict_with_tta`] pads to square first (see
    /// [`pad_square`]) so that the model always sees the patch shape it was built for.
    pub fn apply<T: Copy>(&self, v: &Volume<T>) -> Volume<T> {
        let [nz, ny, nx, _] = v.shape();
        let out = if self.transpose { [nz, nx, ny] } else { [nz, ny, nx] };
        remap(v, out, |p| {
            let q = self.flip(p, out);
            if self.transpose { [q[0], q[2], q[1]] } else { q }
        })
    }

    /// The inverse mapping: `invert(&apply(v)) == v` for every volume `v`.
    pub fn invert<T: Copy>(&self, v: &Volume<T>) -> Volume<T> {
        let [nz, oy, ox, _] = v.shape();
        let out = if self.transpose { [nz, ox, oy] } else { [nz, oy, ox] };
        remap(v, out, |p| {
            let q = if self.transpose { [p[0], p[2], p[1]] } else { p };
            self.flip(q, [nz, oy, ox])
        })
    }

    /// Reverses the flipped axes of position `p` in a volume of spatial shape `shape`.
    fn flip(&self, p: [usize; 3], shape: [usize; 3]) -> [usize; 3] {
        let r = |i: usize, n: usize, f: bool| if f { n - 1 - i } else { i };
        [r(p[0], shape[0], self.flip_z), r(p[1], shape[1], self.flip_y), r(p[2], shape[2], self.flip_x)]
    }
}

/// The orientations of `TEST.AUGMENTATION_GROUP` (`auto` = `full`): 2D `full` = 8 (the
/// dihedral group: {identity, transpose} × flip y × flip x), `flips` = 4, `none` = 1; 3D
/// `full` = 16 (z never transposed: {identity, transpose of y/x} × flips of z, y, x),
/// `flips` = 8, `none` = 1.
///
/// Order as BiaPy's `build_axis_transform_group`: flip signs of (z,) y, x enumerated
/// lexicographically (no flip first), the transpose varying fastest; identity is first.
pub fn orientations(group: TtaGroup, ndim: Ndim) -> Vec<Orientation> {
    let transposes: &[bool] = match group {
        TtaGroup::None => return vec![Orientation::IDENTITY],
        TtaGroup::Flips => &[false],
        TtaGroup::Auto | TtaGroup::Full => &[false, true],
    };
    let z_flips: &[bool] = match ndim {
        Ndim::D2 => &[false],
        Ndim::D3 => &[false, true],
    };
    let mut out = Vec::with_capacity(z_flips.len() * 4 * transposes.len());
    for &flip_z in z_flips {
        for flip_y in [false, true] {
            for flip_x in [false, true] {
                for &transpose in transposes {
                    out.push(Orientation { transpose, flip_z, flip_y, flip_x });
                }
            }
        }
    }
    out
}

/// Pads the start of the shorter of y/x so that the volume is square in (y, x). The fill is
/// NumPy `reflect` (mirror without repeating the edge), or `edge` (repeat the first element)
/// when the pad exceeds the axis length − 1, as in BiaPy. Returns the padded volume and the pad
/// `(dy, dx)` that [`crop_square`] removes. Square (or empty) volumes come back unchanged
/// with pad `[0, 0]`.
pub fn pad_square<T: Copy>(v: &Volume<T>) -> (Volume<T>, [usize; 2]) {
    let [nz, ny, nx, _] = v.shape();
    let side = ny.max(nx);
    let pad = [side - ny, side - nx];
    if pad == [0, 0] || ny == 0 || nx == 0 {
        return (v.clone(), [0, 0]);
    }
    let source = |i: usize, before: usize, n: usize| match i.checked_sub(before) {
        Some(inside) => inside,
        None if before < n => before - i,
        None => 0,
    };
    let out = remap(v, [nz, side, side], |[z, y, x]| [z, source(y, pad[0], ny), source(x, pad[1], nx)]);
    (out, pad)
}

/// Undoes [`pad_square`]: drops the first `pad[0]` rows (y) and the first `pad[1]` columns
/// (x), keeping every channel. A pad longer than the axis leaves it empty.
pub fn crop_square<T: Copy>(v: &Volume<T>, pad: [usize; 2]) -> Volume<T> {
    let [nz, ny, nx, _] = v.shape();
    let out = [nz, ny.saturating_sub(pad[0]), nx.saturating_sub(pad[1])];
    remap(v, out, |[z, y, x]| [z, y + pad[0], x + pad[1]])
}

/// Element-wise reduction of same-shape predictions over orientations: `mean` (float32 sum in
/// the given order, then divided by the count, as NumPy's `mean(axis=0)`), `min` or `max`
/// (NaN propagates, as in NumPy). An empty slice gives an empty `[0, 0, 0, 0]` volume.
///
/// # Panics
/// If the predictions do not all have the same shape.
pub fn reduce(predictions: &[Volume<f32>], mode: TtaMode) -> Volume<f32> {
    let Some((first, rest)) = predictions.split_first() else {
        return Volume::filled([0; 4], 0.0);
    };
    let mut acc = first.clone();
    for p in rest {
        assert_eq!(p.shape(), acc.shape(), "TTA predictions must share one shape");
        for (slot, &b) in acc.as_mut_slice().iter_mut().zip(p.as_slice()) {
            let a = *slot;
            *slot = match mode {
                TtaMode::Mean => a + b,
                _ if a.is_nan() || b.is_nan() => f32::NAN,
                TtaMode::Min => a.min(b),
                TtaMode::Max => a.max(b),
            };
        }
    }
    if mode == TtaMode::Mean {
        let n = predictions.len() as f32;
        acc.as_mut_slice().iter_mut().for_each(|a| *a /= n);
    }
    acc
}

/// The whole TTA around any predictor. For each orientation of `group`: pad to square if it
/// transposes and y ≠ x ([`pad_square`]), orient; all oriented copies go to `predict` in one
/// call (identity first), then each prediction is un-oriented and cropped back; finally the
/// stack is reduced with `mode` ([`reduce`]).
///
/// `predict` maps a batch of `(z, y, x, c)` inputs to a batch of `(z, y, x, k)` predictions of
/// the same spatial shape, in the same order (the caller batches them through the model).
/// Its error is passed through unchanged.
///
/// # Panics
/// If `predict` returns a different number of predictions than it was given inputs, or
/// predictions of differing shapes.
pub fn predict_with_tta<F, E>(
    input: &Volume<f32>,
    group: TtaGroup,
    mode: TtaMode,
    ndim: Ndim,
    mut predict: F,
) -> Result<Volume<f32>, E>
where
    F: FnMut(Vec<Volume<f32>>) -> Result<Vec<Volume<f32>>, E>,
{
    let orients = orientations(group, ndim);
    let [_, ny, nx, _] = input.shape();
    let square = (ny != nx && orients.iter().any(|o| o.transpose)).then(|| pad_square(input));
    // The padded copy and its pad, for the orientations that transpose.
    let source = |o: &Orientation| match &square {
        Some((padded, pad)) if o.transpose => (padded, *pad),
        _ => (input, [0, 0]),
    };
    let batch = orients.iter().map(|o| o.apply(source(o).0)).collect();
    let predictions = predict(batch)?;
    assert_eq!(predictions.len(), orients.len(), "the predictor must return one prediction per input");
    let restored: Vec<Volume<f32>> = orients
        .iter()
        .zip(&predictions)
        .map(|(o, p)| {
            let back = o.invert(p);
            match source(o).1 {
                [0, 0] => back,
                pad => crop_square(&back, pad),
            }
        })
        .collect();
    Ok(reduce(&restored, mode))
}

/// Builds a volume of spatial shape `out` (channels kept) whose voxel `p` is `v` at `src(p)`.
fn remap<T: Copy>(v: &Volume<T>, out: [usize; 3], src: impl Fn([usize; 3]) -> [usize; 3]) -> Volume<T> {
    let nc = v.n_channels();
    let data = v.as_slice();
    let mut gathered = Vec::with_capacity(out.iter().product::<usize>() * nc);
    for z in 0..out[0] {
        for y in 0..out[1] {
            for x in 0..out[2] {
                let [sz, sy, sx] = src([z, y, x]);
                let at = v.index(sz, sy, sx, 0);
                gathered.extend_from_slice(&data[at..at + nc]);
            }
        }
    }
    Volume::from_vec([out[0], out[1], out[2], nc], gathered).expect("remap builds the exact length")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: [TtaGroup; 4] = [TtaGroup::Auto, TtaGroup::Full, TtaGroup::Flips, TtaGroup::None];
    const MODES: [TtaMode; 3] = [TtaMode::Mean, TtaMode::Min, TtaMode::Max];

    /// A non-symmetric ramp in [0, 1): every element distinct.
    fn ramp(shape: [usize; 4]) -> Volume<f32> {
        let n: usize = shape.iter().product();
        Volume::from_vec(shape, (0..n).map(|i| i as f32 / n as f32).collect()).unwrap()
    }

    fn max_abs_diff(a: &Volume<f32>, b: &Volume<f32>) -> f32 {
        assert_eq!(a.shape(), b.shape());
        a.as_slice().iter().zip(b.as_slice()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    /// A per-voxel "model" with two output channels from the first input channel.
    fn pointwise(batch: Vec<Volume<f32>>) -> Result<Vec<Volume<f32>>, ()> {
        Ok(batch.iter().map(|v| two_channels(v, |x| 2.0 * x + 1.0, |x| -x)).collect())
    }

    fn two_channels(v: &Volume<f32>, f: impl Fn(f32) -> f32, g: impl Fn(f32) -> f32) -> Volume<f32> {
        let [nz, ny, nx, _] = v.shape();
        let mut out = Volume::filled([nz, ny, nx, 2], 0.0);
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    out.set(z, y, x, 0, f(v.get(z, y, x, 0)));
                    out.set(z, y, x, 1, g(v.get(z, y, x, 0)));
                }
            }
        }
        out
    }

    /// Every `(z, y, x, c)` position of `shape`, row-major.
    fn voxels(shape: [usize; 4]) -> impl Iterator<Item = (usize, usize, usize, usize)> {
        let [nz, ny, nx, nc] = shape;
        (0..nz)
            .flat_map(move |z| (0..ny).flat_map(move |y| (0..nx).flat_map(move |x| (0..nc).map(move |c| (z, y, x, c)))))
    }

    /// 3×3(×3) box sum with zero boundary: equivariant under flips and the y/x transpose.
    fn box_sum(v: &Volume<f32>) -> Volume<f32> {
        let [nz, ny, nx, _] = v.shape();
        let dz: &[isize] = if nz == 1 { &[0] } else { &[-1, 0, 1] };
        let mut out = Volume::filled(v.shape(), 0.0);
        for (z, y, x, c) in voxels(v.shape()) {
            let mut sum = 0.0;
            for &oz in dz {
                for oy in -1..=1isize {
                    for ox in -1..=1isize {
                        let (sz, sy, sx) = (z as isize + oz, y as isize + oy, x as isize + ox);
                        if (0..nz as isize).contains(&sz)
                            && (0..ny as isize).contains(&sy)
                            && (0..nx as isize).contains(&sx)
                        {
                            sum += v.get(sz as usize, sy as usize, sx as usize, c);
                        }
                    }
                }
            }
            out.set(z, y, x, c, sum);
        }
        out
    }

    #[test]
    fn orientation_counts_identity_first_all_distinct() {
        let expected = [
            (TtaGroup::Auto, Ndim::D2, 8),
            (TtaGroup::Full, Ndim::D2, 8),
            (TtaGroup::Flips, Ndim::D2, 4),
            (TtaGroup::None, Ndim::D2, 1),
            (TtaGroup::Auto, Ndim::D3, 16),
            (TtaGroup::Full, Ndim::D3, 16),
            (TtaGroup::Flips, Ndim::D3, 8),
            (TtaGroup::None, Ndim::D3, 1),
        ];
        for (group, ndim, n) in expected {
            let os = orientations(group, ndim);
            assert_eq!(os.len(), n, "{group:?} {ndim:?}");
            assert_eq!(os[0], Orientation::IDENTITY);
            for (i, a) in os.iter().enumerate() {
                assert!(os[i + 1..].iter().all(|b| b != a), "{group:?} {ndim:?}: duplicate {a:?}");
                assert!(ndim == Ndim::D3 || !a.flip_z, "2D never flips z");
                assert!(group != TtaGroup::Flips || !a.transpose, "flips never transpose");
            }
        }
    }

    #[test]
    fn invert_undoes_apply_for_every_orientation() {
        for shape in [[1, 3, 5, 2], [1, 4, 4, 3], [3, 4, 6, 2], [2, 5, 5, 1]] {
            let ndim = if shape[0] == 1 { Ndim::D2 } else { Ndim::D3 };
            let v = ramp(shape);
            for o in orientations(TtaGroup::Full, ndim) {
                let moved = o.apply(&v);
                if o != Orientation::IDENTITY {
                    assert_ne!(moved, v, "{o:?} should move a non-symmetric ramp");
                }
                assert_eq!(o.invert(&moved), v, "{o:?} on {shape:?}");
            }
        }
    }

    #[test]
    fn transpose_and_flips_move_single_elements() {
        let v = ramp([2, 3, 4, 2]);
        let at = |o: Orientation| o.apply(&v);
        let t = at(Orientation { transpose: true, ..Orientation::IDENTITY });
        assert_eq!(t.shape(), [2, 4, 3, 2]);
        let fz = at(Orientation { flip_z: true, ..Orientation::IDENTITY });
        let fy = at(Orientation { flip_y: true, ..Orientation::IDENTITY });
        let fx = at(Orientation { flip_x: true, ..Orientation::IDENTITY });
        // Transpose, then flip y of the transposed volume (y length 4): a rotation.
        let rot = at(Orientation { transpose: true, flip_y: true, ..Orientation::IDENTITY });
        for (z, y, x, c) in [(0, 0, 0, 0), (1, 2, 3, 1), (0, 1, 2, 0), (1, 0, 3, 1)] {
            let want = v.get(z, y, x, c);
            assert_eq!(t.get(z, x, y, c), want);
            assert_eq!(fz.get(1 - z, y, x, c), want);
            assert_eq!(fy.get(z, 2 - y, x, c), want);
            assert_eq!(fx.get(z, y, 3 - x, c), want);
            assert_eq!(rot.get(z, 3 - x, y, c), want);
        }
    }

    #[test]
    fn pad_square_reflects_or_repeats_the_edge_and_crops_back() {
        // y = 3 < x = 5: pad 2 ≤ 3 − 1, reflect: rows 2, 1, then 0, 1, 2.
        let v = Volume::from_vec([1, 3, 5, 1], (0..15).map(|i| i as f32).collect()).unwrap();
        let (sq, pad) = pad_square(&v);
        assert_eq!((sq.shape(), pad), ([1, 5, 5, 1], [2, 0]));
        let rows: Vec<f32> = (0..5).map(|y| sq.get(0, y, 4, 0)).collect();
        assert_eq!(rows, [14.0, 9.0, 4.0, 9.0, 14.0]);
        assert_eq!(crop_square(&sq, pad), v);
        // x = 2 < y = 5: pad 3 > 2 − 1, edge: the first column repeated.
        let w = ramp([2, 5, 2, 2]);
        let (sq, pad) = pad_square(&w);
        assert_eq!((sq.shape(), pad), ([2, 5, 5, 2], [0, 3]));
        for x in 0..3 {
            assert_eq!(sq.get(1, 4, x, 1), w.get(1, 4, 0, 1));
        }
        assert_eq!(sq.get(1, 4, 4, 1), w.get(1, 4, 1, 1));
        assert_eq!(crop_square(&sq, pad), w);
        // Square volumes are untouched.
        let s = ramp([1, 4, 4, 1]);
        assert_eq!(pad_square(&s), (s.clone(), [0, 0]));
    }

    #[test]
    fn reduce_mean_min_max_on_hand_values() {
        let a = Volume::from_vec([1, 1, 3, 1], vec![1.0f32, -2.0, 0.5]).unwrap();
        let b = Volume::from_vec([1, 1, 3, 1], vec![3.0f32, 4.0, 0.5]).unwrap();
        let c = Volume::from_vec([1, 1, 3, 1], vec![2.0f32, 1.0, -0.5]).unwrap();
        let all = [a, b, c];
        assert_eq!(reduce(&all, TtaMode::Mean).as_slice(), &[2.0, 1.0, 0.5 / 3.0]);
        assert_eq!(reduce(&all, TtaMode::Min).as_slice(), &[1.0, -2.0, -0.5]);
        assert_eq!(reduce(&all, TtaMode::Max).as_slice(), &[3.0, 4.0, 0.5]);
        assert_eq!(reduce(&all[..1], TtaMode::Mean), all[0]);
        assert_eq!(reduce(&[], TtaMode::Max).shape(), [0, 0, 0, 0]);
        let nan = Volume::from_vec([1, 1, 1, 1], vec![f32::NAN]).unwrap();
        let one = Volume::from_vec([1, 1, 1, 1], vec![1.0]).unwrap();
        assert!(reduce(&[one, nan], TtaMode::Min).as_slice()[0].is_nan());
    }

    #[test]
    fn tta_of_a_pointwise_model_is_the_plain_prediction() {
        let shapes = [[1, 6, 6, 1], [1, 5, 8, 1], [1, 8, 3, 2], [3, 4, 4, 1], [3, 4, 7, 2], [2, 6, 1, 1]];
        for shape in shapes {
            let ndim = if shape[0] == 1 { Ndim::D2 } else { Ndim::D3 };
            let input = ramp(shape);
            let plain = pointwise(vec![input.clone()]).unwrap().remove(0);
            for group in GROUPS {
                for mode in MODES {
                    let out = predict_with_tta(&input, group, mode, ndim, pointwise).unwrap();
                    assert!(max_abs_diff(&out, &plain) <= 1e-6, "{shape:?} {group:?} {mode:?}");
                }
            }
        }
    }

    #[test]
    fn tta_of_an_equivariant_neighbourhood_model_is_the_plain_prediction() {
        for shape in [[1, 7, 7, 2], [4, 5, 5, 1]] {
            let ndim = if shape[0] == 1 { Ndim::D2 } else { Ndim::D3 };
            let input = ramp(shape);
            let plain = box_sum(&input);
            for group in GROUPS {
                for mode in MODES {
                    let model = |b: Vec<Volume<f32>>| Ok::<_, ()>(b.iter().map(box_sum).collect());
                    let out = predict_with_tta(&input, group, mode, ndim, model).unwrap();
                    assert!(max_abs_diff(&out, &plain) <= 1e-5, "{shape:?} {group:?} {mode:?}");
                }
            }
        }
    }

    #[test]
    fn a_non_equivariant_model_changes_the_result() {
        // Adds the y coordinate: not invariant under flips of y or the transpose.
        let add_y = |batch: Vec<Volume<f32>>| -> Result<Vec<Volume<f32>>, ()> {
            Ok(batch
                .iter()
                .map(|v| {
                    let mut out = v.clone();
                    for (z, y, x, c) in voxels(v.shape()) {
                        out.set(z, y, x, c, v.get(z, y, x, c) + y as f32);
                    }
                    out
                })
                .collect())
        };
        for (shape, ndim) in [([1, 4, 6, 1], Ndim::D2), ([2, 5, 5, 1], Ndim::D3)] {
            let input = ramp(shape);
            let plain = add_y(vec![input.clone()]).unwrap().remove(0);
            let none = predict_with_tta(&input, TtaGroup::None, TtaMode::Mean, ndim, add_y).unwrap();
            assert_eq!(none, plain);
            for group in [TtaGroup::Full, TtaGroup::Flips] {
                let out = predict_with_tta(&input, group, TtaMode::Mean, ndim, add_y).unwrap();
                assert!(max_abs_diff(&out, &plain) > 0.5, "{shape:?} {group:?}");
            }
        }
    }

    #[test]
    fn the_predictor_sees_square_inputs_only_where_a_transpose_needs_them() {
        let input = ramp([1, 5, 8, 1]);
        let mut seen = Vec::new();
        let record = |batch: Vec<Volume<f32>>| -> Result<Vec<Volume<f32>>, ()> {
            seen = batch.iter().map(Volume::shape).collect();
            Ok(batch)
        };
        predict_with_tta(&input, TtaGroup::Full, TtaMode::Mean, Ndim::D2, record).unwrap();
        let want: Vec<[usize; 4]> = orientations(TtaGroup::Full, Ndim::D2)
            .iter()
            .map(|o| if o.transpose { [1, 8, 8, 1] } else { [1, 5, 8, 1] })
            .collect();
        assert_eq!(seen, want);
        assert_eq!(seen[0], input.shape(), "identity first, unpadded");
    }

    #[test]
    fn predictor_errors_pass_through() {
        let input = ramp([1, 4, 4, 1]);
        let failing = |_: Vec<Volume<f32>>| -> Result<Vec<Volume<f32>>, &'static str> { Err("out of memory") };
        assert_eq!(predict_with_tta(&input, TtaGroup::Full, TtaMode::Mean, Ndim::D2, failing), Err("out of memory"));
    }
}
