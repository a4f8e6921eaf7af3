//! The resampling core of the geometric transforms: fill (boundary) modes, interpolation taps and
//! [`resample`], which moves an image and its mask through one coordinate map, so the two can
//! never drift apart. The image is interpolated (linear, bicubic where BiaPy uses spline order 3,
//! or nearest in tests); the mask is always nearest neighbour, so a warped mask only ever holds
//! labels that were in the input.
//!
//! Fill modes follow NumPy's `np.pad` names (which are also OpenCV's `BORDER_*` and skimage's):
//!
//! | mode        | outside `a b c d` | NumPy / SciPy `ndimage` / OpenCV            |
//! |-------------|-------------------|---------------------------------------------|
//! | `constant`  | `0 0 0`           | `constant` / `grid-constant` / `CONSTANT`   |
//! | `nearest`   | `a a a`           | `edge` / `nearest` / `REPLICATE`            |
//! | `reflect`   | `d c b`           | `reflect` / `mirror` / `REFLECT_101`        |
//! | `symmetric` | `c b a`           | `symmetric` / `reflect` / `REFLECT`         |
//! | `wrap`      | `b c d`           | `wrap` / `grid-wrap` / `WRAP`               |
//!
//! (the column shows what lies left of `a`, nearest first). The mode applies to every integer
//! sample position an interpolation touches, as OpenCV does. Pure computation, no I/O.

use crate::config::FillMode;
use crate::data::Volume;

/// How the image is interpolated; the mask is always nearest neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Interp {
    /// (Tri/bi)linear: rotations, zoom and the other affine warps.
    Linear,
    /// Bicubic in the `(y, x)` plane (z on a slice), where BiaPy warps with spline order 3.
    Cubic(Cubic),
    /// Nearest neighbour, as the mask: tests use it to check image/mask alignment exactly.
    #[cfg_attr(not(test), allow(dead_code))]
    Nearest,
}

/// Which bicubic: Keys' cubic convolution with the parameter `a` each library uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cubic {
    /// skimage's `warp(order=3)` (a = −0.5, Catmull–Rom): `SHEAR`.
    Skimage,
    /// OpenCV's `INTER_CUBIC` (a = −0.75): `ELASTIC` (`cv2.remap`).
    OpenCv,
}

impl Cubic {
    fn a(self) -> f64 {
        match self {
            Cubic::Skimage => -0.5,
            Cubic::OpenCv => -0.75,
        }
    }
}

impl Interp {
    /// What a warp BiaPy runs with spline order 3 uses: `kind`, unless the tests' nearest
    /// neighbour is on.
    pub(super) fn order_3(self, kind: Cubic) -> Interp {
        match self {
            Interp::Nearest => Interp::Nearest,
            _ => Interp::Cubic(kind),
        }
    }
}

/// Keys' cubic convolution weights of the four samples at offsets −1, 0, 1, 2 around a point
/// `t ∈ [0, 1)` past the second (OpenCV's `interpolateCubic`).
fn cubic_weights(a: f64, t: f64) -> [f64; 4] {
    let w0 = ((a * (t + 1.0) - 5.0 * a) * (t + 1.0) + 8.0 * a) * (t + 1.0) - 4.0 * a;
    let w1 = ((a + 2.0) * t - (a + 3.0)) * t * t + 1.0;
    let u = 1.0 - t;
    let w2 = ((a + 2.0) * u - (a + 3.0)) * u * u + 1.0;
    [w0, w1, w2, 1.0 - w0 - w1 - w2]
}

pub(super) use crate::data::border::map_index;

/// Up to `N` (voxel, weight) pairs whose weighted sum is an interpolated value: 8 for (tri)linear,
/// 16 for bicubic, 1 for nearest (sized per kind, as they are built for every output voxel).
/// Voxels are flat spatial indices `(z * ny + y) * nx + x`; taps outside the volume in `constant`
/// mode are left out (they contribute the fill value 0).
#[derive(Clone, Copy, Debug)]
pub(super) struct Taps<const N: usize> {
    len: usize,
    voxel: [usize; N],
    weight: [f32; N],
}

impl<const N: usize> Taps<N> {
    fn empty() -> Self {
        Taps { len: 0, voxel: [0; N], weight: [0.0; N] }
    }

    fn single(voxel: Option<usize>) -> Self {
        let mut taps = Taps::empty();
        if let Some(v) = voxel {
            taps.push(v, 1.0);
        }
        taps
    }

    fn push(&mut self, voxel: usize, weight: f32) {
        self.voxel[self.len] = voxel;
        self.weight[self.len] = weight;
        self.len += 1;
    }

    /// The same taps in room for `M` of them.
    fn widened<const M: usize>(&self) -> Taps<M> {
        let mut wide = Taps::empty();
        for t in 0..self.len {
            wide.push(self.voxel[t], self.weight[t]);
        }
        wide
    }

    /// Interpolated values of every channel of `data` (laid out `(z, y, x, c)`) into `out`.
    #[inline]
    fn fill(&self, data: &[f32], out: &mut [f32]) {
        let n_channels = out.len();
        for (c, o) in out.iter_mut().enumerate() {
            *o = self.value(data, n_channels, c);
        }
    }

    /// Interpolated value of channel `c` in `data` laid out `(z, y, x, c)` with `n_channels`.
    #[inline]
    pub(super) fn value(&self, data: &[f32], n_channels: usize, c: usize) -> f32 {
        let mut acc = 0.0f32;
        for t in 0..self.len {
            acc += self.weight[t] * data[self.voxel[t] * n_channels + c];
        }
        acc
    }
}

/// `⌊coord⌋` without a libm call (baseline x86-64 has no SSE4.1 `roundsd`); coordinates are
/// clamped to ±1e9 first, so absurd warps (a ±90° shear) stay finite and never overflow.
#[inline]
fn floor_index(coord: f64) -> isize {
    let c = coord.clamp(-1e9, 1e9);
    let i = c as isize;
    if (i as f64) > c { i - 1 } else { i }
}

/// The linear taps along one axis that matter: mapped index and non-zero weight; samples that
/// fall outside in `constant` mode are dropped (they contribute 0). Returns the taps and their
/// number.
#[inline]
fn axis_taps(coord: f64, n: usize, mode: FillMode) -> ([(usize, f64); 2], usize) {
    let i = floor_index(coord);
    let t = coord.clamp(-1e9, 1e9) - i as f64;
    let mut taps = [(0, 0.0); 2];
    let mut len = 0;
    if t != 1.0
        && let Some(j) = map_index(i, n, mode)
    {
        taps[0] = (j, 1.0 - t);
        len = 1;
    }
    if t != 0.0
        && let Some(j) = map_index(i + 1, n, mode)
    {
        taps[len] = (j, t);
        len += 1;
    }
    (taps, len)
}

/// Linear-interpolation taps at `src` `(z, y, x)` in a volume of spatial `shape`.
#[inline]
pub(super) fn linear_taps(src: [f64; 3], shape: [usize; 3], mode: FillMode) -> Taps<8> {
    if let Some(taps) = interior_plane_taps(src, shape) {
        return taps;
    }
    let (tz, nz) = axis_taps(src[0], shape[0], mode);
    let (ty, ny) = axis_taps(src[1], shape[1], mode);
    let (tx, nx) = axis_taps(src[2], shape[2], mode);
    let mut taps = Taps::empty();
    for &(z, wz) in &tz[..nz] {
        for &(y, wy) in &ty[..ny] {
            let row = (z * shape[1] + y) * shape[2];
            for &(x, wx) in &tx[..nx] {
                taps.voxel[taps.len] = row + x;
                taps.weight[taps.len] = (wz * wy * wx) as f32;
                taps.len += 1;
            }
        }
    }
    taps
}

/// The common case, without fill-mode lookups: `z` on a slice and the 2 × 2 in-plane
/// neighbours inside the volume.
#[inline]
fn interior_plane_taps(src: [f64; 3], shape: [usize; 3]) -> Option<Taps<8>> {
    let [z, y, x] = src;
    let (iy, ix) = (floor_index(y), floor_index(x));
    let inside = z >= 0.0 && z == z.trunc() && (z as usize) < shape[0];
    if !(inside && iy >= 0 && ix >= 0 && (iy as usize) + 1 < shape[1] && (ix as usize) + 1 < shape[2]) {
        return None;
    }
    let (ty, tx) = ((y - iy as f64) as f32, (x - ix as f64) as f32);
    let v = (z as usize * shape[1] + iy as usize) * shape[2] + ix as usize;
    let nx = shape[2];
    let mut taps = Taps::empty();
    taps.push(v, (1.0 - ty) * (1.0 - tx));
    taps.push(v + 1, (1.0 - ty) * tx);
    taps.push(v + nx, ty * (1.0 - tx));
    taps.push(v + nx + 1, ty * tx);
    Some(taps)
}

/// Bicubic taps at `src` `(z, y, x)`: the 4 × 4 in-plane neighbours, each index mapped by `mode`
/// (samples outside in `constant` mode contribute 0). Off a slice (fractional z) the taps are
/// linear: BiaPy's cubic warps are all in-plane.
#[inline]
pub(super) fn cubic_taps(src: [f64; 3], shape: [usize; 3], mode: FillMode, kind: Cubic) -> Taps<16> {
    let z = src[0];
    let Some(z) = (z == z.trunc()).then(|| map_index(z as isize, shape[0], mode)).flatten() else {
        return linear_taps(src, shape, mode).widened();
    };
    let (y, x) = (src[1].clamp(-1e9, 1e9), src[2].clamp(-1e9, 1e9));
    let (iy, ix) = (floor_index(y), floor_index(x));
    let (wy, wx) = (cubic_weights(kind.a(), y - iy as f64), cubic_weights(kind.a(), x - ix as f64));
    let mut taps = Taps::empty();
    for (dy, &w_y) in wy.iter().enumerate() {
        let Some(sy) = map_index(iy + dy as isize - 1, shape[1], mode) else { continue };
        let row = (z * shape[1] + sy) * shape[2];
        for (dx, &w_x) in wx.iter().enumerate() {
            let Some(sx) = map_index(ix + dx as isize - 1, shape[2], mode) else { continue };
            taps.push(row + sx, (w_y * w_x) as f32);
        }
    }
    taps
}

/// The voxel nearest to `src` `(z, y, x)` (halves round up), or `None` outside in `constant` mode.
#[inline]
pub(super) fn nearest_voxel(src: [f64; 3], shape: [usize; 3], mode: FillMode) -> Option<usize> {
    let [z, y, x] = [0, 1, 2].map(|a| map_index(floor_index(src[a] + 0.5), shape[a], mode));
    Some((z? * shape[1] + y?) * shape[2] + x?)
}

/// Resamples `image` and `mask` (same spatial shape) onto an output grid of spatial size `out`:
/// output voxel `o = (z, y, x)` takes the value found at input coordinate `source(o)` (in voxel
/// units, `(z, y, x)`), the image interpolated with `interp`, the mask nearest neighbour, both
/// filled outside with `mode`. Every channel follows the same map.
pub(super) fn resample(
    image: &Volume<f32>,
    mask: &Volume<u16>,
    out: [usize; 3],
    mode: FillMode,
    interp: Interp,
    source: impl Fn([usize; 3]) -> [f64; 3],
) -> (Volume<f32>, Volume<u16>) {
    let shape = image.spatial_shape();
    assert_eq!(shape, mask.spatial_shape(), "image and mask must have the same spatial shape");
    let (nc, nmc) = (image.n_channels(), mask.n_channels());
    let n_out: usize = out.iter().product();
    let (img, msk) = (image.as_slice(), mask.as_slice());
    let mut out_img = vec![0.0f32; n_out * nc];
    let mut out_msk = vec![0u16; n_out * nmc];
    let mut o = 0;
    for oz in 0..out[0] {
        for oy in 0..out[1] {
            for ox in 0..out[2] {
                let src = source([oz, oy, ox]);
                let nearest = nearest_voxel(src, shape, mode);
                let out = &mut out_img[o * nc..(o + 1) * nc];
                match interp {
                    Interp::Linear => linear_taps(src, shape, mode).fill(img, out),
                    Interp::Cubic(kind) => cubic_taps(src, shape, mode, kind).fill(img, out),
                    Interp::Nearest => Taps::<1>::single(nearest).fill(img, out),
                }
                if let Some(v) = nearest {
                    for c in 0..nmc {
                        out_msk[o * nmc + c] = msk[v * nmc + c];
                    }
                }
                o += 1;
            }
        }
    }
    let [z, y, x] = out;
    let image = Volume::from_vec([z, y, x, nc], out_img).expect("resampled image has the output shape");
    let mask = Volume::from_vec([z, y, x, nmc], out_msk).expect("resampled mask has the output shape");
    (image, mask)
}

/// The sub-volume of spatial size `size` starting at `start` `(z, y, x)`, all channels.
pub(super) fn crop<T: Copy>(v: &Volume<T>, start: [usize; 3], size: [usize; 3]) -> Volume<T> {
    let nc = v.n_channels();
    let mut data = Vec::with_capacity(size.iter().product::<usize>() * nc);
    for z in start[0]..start[0] + size[0] {
        for y in start[1]..start[1] + size[1] {
            let row = v.index(z, y, start[2], 0);
            data.extend_from_slice(&v.as_slice()[row..row + size[2] * nc]);
        }
    }
    Volume::from_vec([size[0], size[1], size[2], nc], data).expect("crop has the requested shape")
}

/// Writes `src` into `dst` with its origin at `start` `(z, y, x)`; channels must match.
pub(super) fn paste<T: Copy>(dst: &mut Volume<T>, src: &Volume<T>, start: [usize; 3]) {
    let [sz, sy, sx, nc] = src.shape();
    assert_eq!(nc, dst.n_channels(), "paste needs matching channels");
    for z in 0..sz {
        for y in 0..sy {
            let from = src.index(z, y, 0, 0);
            let to = dst.index(start[0] + z, start[1] + y, start[2], 0);
            let row = &src.as_slice()[from..from + sx * nc];
            dst.as_mut_slice()[to..to + sx * nc].copy_from_slice(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(mode: FillMode) -> Vec<Option<usize>> {
        (-4..8).map(|i| map_index(i, 4, mode)).collect()
    }

    #[test]
    fn fill_modes_follow_numpy_pad() {
        // np.pad([0, 1, 2, 3], 4, mode) for each mode.
        let s = |v: &[usize]| v.iter().map(|&i| Some(i)).collect::<Vec<_>>();
        assert_eq!(padded(FillMode::Reflect), s(&[2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1]));
        assert_eq!(padded(FillMode::Symmetric), s(&[3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0]));
        assert_eq!(padded(FillMode::Wrap), s(&[0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3]));
        assert_eq!(padded(FillMode::Nearest), s(&[0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3]));
        let constant = padded(FillMode::Constant);
        assert_eq!(constant.iter().filter(|v| v.is_some()).count(), 4);
        assert_eq!(map_index(-3, 1, FillMode::Reflect), Some(0));
    }

    #[test]
    fn linear_taps_interpolate_and_fill_with_zero_outside() {
        let v = Volume::from_vec([1, 1, 4, 1], vec![0.0f32, 10.0, 20.0, 30.0]).unwrap();
        let at = |x: f64, mode| linear_taps([0.0, 0.0, x], [1, 1, 4], mode).value(v.as_slice(), 1, 0);
        assert_eq!(at(1.25, FillMode::Constant), 12.5);
        assert_eq!(at(2.0, FillMode::Constant), 20.0);
        assert_eq!(at(3.5, FillMode::Constant), 15.0);
        assert_eq!(at(3.5, FillMode::Reflect), 25.0);
        assert_eq!(at(-0.5, FillMode::Reflect), 5.0);
        assert_eq!(at(-0.5, FillMode::Symmetric), 0.0);
        assert_eq!(at(-0.5, FillMode::Wrap), 15.0);
        assert_eq!(nearest_voxel([0.0, 0.0, 2.5], [1, 1, 4], FillMode::Constant), Some(3));
        assert_eq!(nearest_voxel([0.0, 0.0, 3.5], [1, 1, 4], FillMode::Constant), None);
    }

    #[test]
    fn cubic_taps_match_skimage_and_opencv_on_an_impulse() {
        let mut line = vec![0.0f32; 9];
        line[4] = 1.0;
        let v = Volume::from_vec([1, 1, 9, 1], line).unwrap();
        let at =
            |x: f64, kind| cubic_taps([0.0, 0.0, x], [1, 1, 9], FillMode::Constant, kind).value(v.as_slice(), 1, 0);
        // skimage.transform.warp(order=3) of this impulse, read at x = 2.7, 3.7, 4.7, 5.7.
        for (x, expected) in [(2.7, -0.0735), (3.7, 0.8155), (4.7, 0.2895), (5.7, -0.0315)] {
            assert!((at(x, Cubic::Skimage) - expected).abs() < 1e-6, "skimage at {x}");
        }
        // cv2.remap(INTER_CUBIC) at x = 2.3, 3.3, 4.3, 5.3.
        for (x, expected) in [(2.3, -0.04725), (3.3, 0.32625), (4.3, 0.83125), (5.3, -0.11025)] {
            assert!((at(x, Cubic::OpenCv) - expected).abs() < 1e-6, "OpenCV at {x}");
        }
    }

    #[test]
    fn cubic_taps_copy_samples_keep_constants_and_fill_borders() {
        let v = Volume::from_vec([1, 3, 4, 1], (0..12).map(|i| (i * i) as f32).collect()).unwrap();
        for kind in [Cubic::Skimage, Cubic::OpenCv] {
            for (y, x) in [(0usize, 0usize), (1, 2), (2, 3)] {
                let t = cubic_taps([0.0, y as f64, x as f64], [1, 3, 4], FillMode::Reflect, kind);
                assert_eq!(t.value(v.as_slice(), 1, 0), v.get(0, y, x, 0), "a whole position reads the sample");
            }
            let flat = Volume::from_vec([1, 3, 4, 1], vec![7.0f32; 12]).unwrap();
            let t = cubic_taps([0.0, 0.6, 3.4], [1, 3, 4], FillMode::Nearest, kind);
            assert!((t.value(flat.as_slice(), 1, 0) - 7.0).abs() < 1e-5, "the weights sum to one");
            let t = cubic_taps([0.0, 1.0, -1.5], [1, 3, 4], FillMode::Constant, kind);
            assert!(t.value(flat.as_slice(), 1, 0) < 7.0, "outside counts as 0 in constant mode");
        }
    }

    #[test]
    fn crop_then_paste_round_trips() {
        let v = Volume::from_vec([2, 3, 4, 2], (0u16..48).collect()).unwrap();
        let c = crop(&v, [1, 1, 2], [1, 2, 2]);
        assert_eq!(c.as_slice(), &[36, 37, 38, 39, 44, 45, 46, 47]);
        let mut w = Volume::filled([2, 3, 4, 2], 0u16);
        paste(&mut w, &c, [1, 1, 2]);
        assert_eq!(w.get(1, 2, 3, 1), 47);
        assert_eq!(w.as_slice().iter().filter(|&&x| x != 0).count(), 8);
    }
}
