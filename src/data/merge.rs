//! Merging patch predictions back into an image (spec §4.2, decision D7): the padded border of
//! every patch is discarded and the inner parts are blended with a per-voxel weight window.
//!
//! Owns: the blend windows ([`spline_window`], [`blend_window`]) and the [`Merger`] accumulator
//! (parallel over image rows with rayon, bit-identical to a serial pass).
//! Must not: read or write files, print, compute the grid (that is `patches`) or threshold.
//!
//! Blend modes (`TEST.BLEND`): `spline` is BiaPy's taper, exactly; `mean` weights every voxel 1
//! (plain averaging of overlaps); `gaussian` is nnU-Net's importance map (sigma = 1/8 of the inner
//! patch size per axis, maximum 1) with MONAI's floor of 1e-3 so that no voxel weighs 0.
//!
//! ```
//! use segsweep::config::Blend;
//! use segsweep::data::Volume;
//! use segsweep::data::merge::Merger;
//! use segsweep::data::patches::{PatchGrid, crop};
//! let image = Volume::from_vec([1, 6, 6, 1], (0..36).map(|v| v as f32).collect()).unwrap();
//! let grid = PatchGrid::new([1, 6, 6], [1, 4, 4], [0.0; 3], [0; 3]).unwrap();
//! let mut merger = Merger::new(&grid, 1, Blend::Spline);
//! for position in grid.positions() {
//!     merger.add(position, &crop(&image, position, grid.patch));
//! }
//! let merged = merger.finish();
//! assert!(merged.as_slice().iter().zip(image.as_slice()).all(|(a, b)| (a - b).abs() < 1e-5));
//! ```

use rayon::prelude::*;

use super::Volume;
use super::patches::PatchGrid;
use crate::config::Blend;

/// Image rows below which a rayon task of [`Merger::add`] is not split further.
const ROWS_PER_TASK: usize = 8;

/// Voxels below which a rayon task of [`Merger::finish`] is not split further.
const VOXELS_PER_TASK: usize = 1 << 14;

/// Lowest weight of the gaussian window (MONAI's `compute_importance_map` clamps to 1e-3).
const GAUSSIAN_FLOOR: f32 = 1e-3;

/// 1-D taper of length `inner` for overlap width `overlap` (BiaPy spline: `k = min(overlap,
/// inner/2)`, `t_j = j/(k+1)`, `w_j = t²/(t² + (1−t)² + 1e-8)` on the first `k` entries and the
/// same reversed on the last `k`; the rest is 1). With `overlap == 0` it is all ones.
pub fn spline_window(inner: usize, overlap: usize) -> Vec<f32> {
    let mut w = vec![1.0f32; inner];
    let k = overlap.min(inner / 2);
    for j in 1..=k {
        let t = j as f64 / (k + 1) as f64;
        let value = (t * t / (t * t + (1.0 - t) * (1.0 - t) + 1e-8)) as f32;
        w[j - 1] = value;
        w[inner - j] = value;
    }
    w
}

/// 1-D gaussian of length `n`, centre `n/2` (integer division, as nnU-Net), sigma `n/8`,
/// maximum 1 at the centre.
fn gaussian_axis(n: usize) -> Vec<f32> {
    let centre = (n / 2) as f64;
    let sigma = n as f64 / 8.0;
    (0..n).map(|i| (-(i as f64 - centre).powi(2) / (2.0 * sigma * sigma)).exp() as f32).collect()
}

/// The weight window over the inner patch `(z, y, x)`, row-major, one value per voxel (shared by
/// every channel). `Spline` is the outer product of [`spline_window`]s for the given overlap
/// widths; `Mean` is all ones; `Gaussian` is the outer product of 1-D gaussians (the overlap is not
/// used), floored at 1e-3.
pub fn blend_window(blend: Blend, inner: [usize; 3], overlap: [usize; 3]) -> Vec<f32> {
    let axes: [Vec<f32>; 3] = std::array::from_fn(|a| match blend {
        Blend::Spline => spline_window(inner[a], overlap[a]),
        Blend::Mean => vec![1.0; inner[a]],
        Blend::Gaussian => gaussian_axis(inner[a]),
    });
    let mut window = Vec::with_capacity(inner.iter().product());
    for &wz in &axes[0] {
        for &wy in &axes[1] {
            for &wx in &axes[2] {
                window.push(wz * wy * wx);
            }
        }
    }
    if blend == Blend::Gaussian {
        window.iter_mut().for_each(|w| *w = w.max(GAUSSIAN_FLOOR));
    }
    window
}

/// Sum and weight accumulators for one image, built from its [`PatchGrid`].
///
/// Add every patch of the grid with [`Merger::add`] (any order), then [`Merger::finish`].
#[derive(Clone, Debug)]
pub struct Merger {
    image: [usize; 3],
    patch: [usize; 3],
    padding: [usize; 3],
    inner: [usize; 3],
    n_channels: usize,
    /// Per-voxel window over the inner patch, `(z, y, x)` row-major.
    window: Vec<f32>,
    /// `Σ patch · window`, `(z, y, x, c)`, image-sized.
    sum: Vec<f32>,
    /// `Σ window`, `(z, y, x)`, image-sized (the same for every channel).
    weight: Vec<f32>,
}

impl Merger {
    /// Zeroed accumulators for an image of `grid.image` with `n_channels` channels.
    pub fn new(grid: &PatchGrid, n_channels: usize, blend: Blend) -> Self {
        let inner = grid.inner();
        let n_voxels: usize = grid.image.iter().product();
        Self {
            image: grid.image,
            patch: grid.patch,
            padding: grid.padding,
            inner,
            n_channels,
            window: blend_window(blend, inner, grid.overlap_widths()),
            sum: vec![0.0; n_voxels * n_channels],
            weight: vec![0.0; n_voxels],
        }
    }

    /// Adds the `(pz, py, px, c)` prediction of the padded patch at `position` (a start in padded
    /// coordinates, as yielded by [`PatchGrid::positions`]); its padded border is discarded.
    ///
    /// # Panics
    /// If the patch shape is not the grid's patch with `n_channels` channels, or the position does
    /// not lie on the image.
    pub fn add(&mut self, position: [usize; 3], patch: &Volume<f32>) {
        let [pz, py, px] = self.patch;
        assert_eq!(patch.shape(), [pz, py, px, self.n_channels], "patch shape does not match the grid");
        let [iz, iy, ix] = self.inner;
        let [_, ny, nx] = self.image;
        let nc = self.n_channels;
        for a in 0..3 {
            assert!(position[a] + self.inner[a] <= self.image[a], "patch at {position:?} outside the image");
        }
        // In unpadded coordinates the inner part of the patch starts at `position`. Each image
        // row the patch covers is written by one rayon task: rows are disjoint, and every voxel
        // still receives its patches in the order they are added, so the sums are bit-identical
        // to a serial pass.
        let [oz, oy, ox] = position;
        let values = patch.as_slice();
        let padding = self.padding;
        let window = &self.window;
        for z in 0..iz {
            let first_row = (oz + z) * ny + oy;
            let sum_rows = &mut self.sum[first_row * nx * nc..(first_row + iy) * nx * nc];
            let weight_rows = &mut self.weight[first_row * nx..(first_row + iy) * nx];
            sum_rows
                .par_chunks_mut(nx * nc)
                .zip(weight_rows.par_chunks_mut(nx))
                .enumerate()
                .with_min_len(ROWS_PER_TASK)
                .for_each(|(y, (sum_row, weight_row))| {
                    let w_row = &window[(z * iy + y) * ix..][..ix];
                    let src0 = patch.index(z + padding[0], y + padding[1], padding[2], 0);
                    for (x, &w) in w_row.iter().enumerate() {
                        weight_row[ox + x] += w;
                        let src = &values[src0 + x * nc..][..nc];
                        let dst = &mut sum_row[(ox + x) * nc..][..nc];
                        dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s * w);
                    }
                });
        }
    }

    /// The merged image, `(z, y, x, c)`: `sum / (weight + 1e-18)` per voxel and channel.
    pub fn finish(self) -> Volume<f32> {
        let nc = self.n_channels;
        let mut data = self.sum;
        data.par_chunks_mut(nc.max(1)).zip(self.weight.par_iter()).with_min_len(VOXELS_PER_TASK).for_each(
            |(chunk, &weight)| {
                let w = weight + 1e-18;
                chunk.iter_mut().for_each(|v| *v /= w);
            },
        );
        let [z, y, x] = self.image;
        Volume::from_vec([z, y, x, nc], data).expect("accumulators are image-sized")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::patches::{crop, reflect_pad};
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn spline_window_k4_matches_spec() {
        let w = spline_window(20, 4);
        let expect = [0.0588, 0.3077, 0.6923, 0.9412];
        for (j, e) in expect.iter().enumerate() {
            assert!((w[j] - e).abs() < 5e-5, "w[{j}] = {}", w[j]);
            assert!((w[19 - j] - e).abs() < 5e-5, "w[{}] = {}", 19 - j, w[19 - j]);
        }
        assert!(w[4..16].iter().all(|&v| v == 1.0));
        // k is capped at inner / 2.
        let w = spline_window(5, 9);
        assert_eq!(w[2], 1.0);
        assert_eq!(w[0], w[4]);
    }

    #[test]
    fn no_overlap_divisible_image_gives_all_ones() {
        let grid = PatchGrid::new([1, 512, 768], [1, 256, 256], [0.0; 3], [0; 3]).unwrap();
        assert_eq!(grid.overlap_widths(), [0, 0, 0]);
        let window = blend_window(Blend::Spline, grid.inner(), grid.overlap_widths());
        assert!(window.iter().all(|&w| w == 1.0));
    }

    #[test]
    fn gaussian_window_peaks_at_one_and_is_floored() {
        let w = blend_window(Blend::Gaussian, [1, 16, 16], [0; 3]);
        let max = w.iter().cloned().fold(0.0f32, f32::max);
        assert_eq!(max, 1.0);
        assert_eq!(w[8 * 16 + 8], 1.0);
        assert!(w.iter().all(|&v| v >= GAUSSIAN_FLOOR));
        assert!(blend_window(Blend::Mean, [2, 3, 4], [1, 1, 1]).iter().all(|&v| v == 1.0));
    }

    /// Crops a random image (values in [0, 1), like probabilities) into its grid (patches taken from the reflect-padded image, as at test
    /// time), merges the crops and compares with the image.
    fn check_roundtrip(image: [usize; 3], patch: [usize; 3], overlap: [f64; 3], padding: [usize; 3]) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n_channels = 2;
        let n: usize = image.iter().product::<usize>() * n_channels;
        let data = (0..n).map(|_| rng.random_range(0.0f32..1.0)).collect();
        let volume = Volume::from_vec([image[0], image[1], image[2], n_channels], data).unwrap();
        let padded = reflect_pad(&volume, padding, padding);
        let grid = PatchGrid::new(image, patch, overlap, padding).unwrap();
        for blend in [Blend::Spline, Blend::Mean, Blend::Gaussian] {
            let mut merger = Merger::new(&grid, n_channels, blend);
            for position in grid.positions() {
                merger.add(position, &crop(&padded, position, patch));
            }
            let merged = merger.finish();
            assert_eq!(merged.shape(), volume.shape());
            let max_err =
                merged.as_slice().iter().zip(volume.as_slice()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(max_err < 1e-6, "{blend:?} {image:?} {patch:?} {overlap:?} {padding:?}: error {max_err}");
        }
    }

    #[test]
    fn crop_then_merge_returns_the_image_2d() {
        check_roundtrip([1, 64, 64], [1, 16, 16], [0.0; 3], [0; 3]);
        check_roundtrip([1, 70, 53], [1, 16, 16], [0.0; 3], [0; 3]);
        check_roundtrip([1, 70, 53], [1, 16, 16], [0.0, 0.5, 0.25], [0; 3]);
        check_roundtrip([1, 70, 53], [1, 16, 16], [0.0; 3], [0, 3, 2]);
        check_roundtrip([1, 70, 53], [1, 20, 16], [0.0, 0.5, 0.5], [0, 4, 2]);
        check_roundtrip([1, 16, 16], [1, 16, 16], [0.0; 3], [0; 3]);
        check_roundtrip([1, 16, 16], [1, 16, 16], [0.0, 0.5, 0.5], [0; 3]);
    }

    #[test]
    fn crop_then_merge_returns_the_image_3d() {
        check_roundtrip([12, 20, 18], [4, 8, 8], [0.0; 3], [0; 3]);
        check_roundtrip([12, 20, 18], [4, 8, 8], [0.5, 0.5, 0.25], [0; 3]);
        check_roundtrip([12, 20, 18], [6, 8, 10], [0.0; 3], [1, 2, 2]);
        check_roundtrip([9, 20, 18], [6, 8, 10], [0.5, 0.25, 0.5], [1, 1, 2]);
    }

    #[test]
    fn parallel_merge_is_bit_identical_to_a_serial_pass() {
        // Random patches (not crops of one image), so every overlap really blends.
        let (image, patch, padding, nc) = ([9, 70, 53], [6, 20, 16], [1, 2, 1], 2);
        let grid = PatchGrid::new(image, patch, [0.5, 0.5, 0.25], padding).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let patches: Vec<([usize; 3], Volume<f32>)> = grid
            .positions()
            .map(|position| {
                let n = patch.iter().product::<usize>() * nc;
                let values = (0..n).map(|_| rng.random_range(0.0f32..1.0)).collect();
                (position, Volume::from_vec([patch[0], patch[1], patch[2], nc], values).unwrap())
            })
            .collect();
        let mut merger = Merger::new(&grid, nc, Blend::Spline);
        patches.iter().for_each(|(position, p)| merger.add(*position, p));
        let parallel = merger.finish();

        let inner = grid.inner();
        let window = blend_window(Blend::Spline, inner, grid.overlap_widths());
        let n_voxels: usize = image.iter().product();
        let (mut sum, mut weight) = (vec![0.0f32; n_voxels * nc], vec![0.0f32; n_voxels]);
        for (position, p) in &patches {
            for z in 0..inner[0] {
                for y in 0..inner[1] {
                    for x in 0..inner[2] {
                        let w = window[(z * inner[1] + y) * inner[2] + x];
                        let voxel = ((position[0] + z) * image[1] + position[1] + y) * image[2] + position[2] + x;
                        weight[voxel] += w;
                        for c in 0..nc {
                            let s = p.as_slice()[p.index(z + padding[0], y + padding[1], x + padding[2], c)];
                            sum[voxel * nc + c] += s * w;
                        }
                    }
                }
            }
        }
        let serial: Vec<u32> = sum.iter().enumerate().map(|(i, s)| (s / (weight[i / nc] + 1e-18)).to_bits()).collect();
        assert_eq!(parallel.as_slice().iter().map(|v| v.to_bits()).collect::<Vec<_>>(), serial);
    }
}
