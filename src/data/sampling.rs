//! Random training patches (spec §3.4, §3.8): uniform corners, and patch centres drawn from a
//! foreground/background probability map (`DATA.TRAIN.PROBABILITY_MAP`).
//!
//! Owns: [`random_corner`], [`probability_map`] (with scikit-image's `clear_border`, per z-slice,
//! 8-connectivity), [`CentreSampler`] / [`sample_centre`] and [`corner_from_centre`]. Must not:
//! read or cache maps on disk (BiaPy's `_prob_maps/` folder is the caller's business), print, or
//! draw from an unseeded generator: every draw takes the caller's `rng`.
//!
//! **Deviation from BiaPy:** for an odd patch size BiaPy's corner rule can place the patch one
//! voxel past the far edge (NumPy then silently returns a short patch); [`corner_from_centre`]
//! clamps the corner to `len − patch`. Even patch sizes are unaffected.
//!
//! ```
//! use segsweep::data::sampling::corner_from_centre;
//! assert_eq!(corner_from_centre([0, 100, 3], [1, 512, 512], [1, 256, 256]), [0, 0, 0]);
//! assert_eq!(corner_from_centre([0, 300, 500], [1, 512, 512], [1, 256, 256]), [0, 172, 256]);
//! ```

use rand::{Rng, RngExt};

use super::Volume;

/// A uniform patch corner: each axis in `0..=shape − patch` (BiaPy's `randint(0, H − P)`), drawn
/// in z, y, x order.
///
/// # Panics
/// If the patch is larger than the image on some axis (pad it first, spec §3.5).
pub fn random_corner<R: Rng + ?Sized>(shape: [usize; 3], patch: [usize; 3], rng: &mut R) -> [usize; 3] {
    std::array::from_fn(|a| {
        assert!(patch[a] <= shape[a], "patch {patch:?} larger than image {shape:?}");
        rng.random_range(0..=shape[a] - patch[a])
    })
}

/// Clears, in place, every foreground object of one `ny × nx` slice that touches the slice
/// border, objects being 8-connected (scikit-image `clear_border` with its default full
/// connectivity).
fn clear_border_2d(slice: &mut [bool], ny: usize, nx: usize) {
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut seed = |y: usize, x: usize, slice: &mut [bool]| {
        if slice[y * nx + x] {
            slice[y * nx + x] = false;
            stack.push((y, x));
        }
    };
    for x in 0..nx {
        seed(0, x, slice);
        seed(ny - 1, x, slice);
    }
    for y in 0..ny {
        seed(y, 0, slice);
        seed(y, nx - 1, slice);
    }
    // Flood fill from the border pixels; a pixel is cleared when it is pushed.
    while let Some((y, x)) = stack.pop() {
        for yy in y.saturating_sub(1)..(y + 2).min(ny) {
            for xx in x.saturating_sub(1)..(x + 2).min(nx) {
                if slice[yy * nx + xx] {
                    slice[yy * nx + xx] = false;
                    stack.push((yy, xx));
                }
            }
        }
    }
}

/// The foreground map of `mask` (any channel > 0) with border-touching objects removed, one
/// `bool` per voxel, `(z, y, x)` row-major.
pub fn interior_foreground(mask: &Volume<u16>) -> Vec<bool> {
    let [nz, ny, nx, nc] = mask.shape();
    let mut fg: Vec<bool> = mask.as_slice().chunks_exact(nc.max(1)).map(|px| px.iter().any(|&v| v > 0)).collect();
    if ny > 0 && nx > 0 {
        for z in 0..nz {
            clear_border_2d(&mut fg[z * ny * nx..(z + 1) * ny * nx], ny, nx);
        }
    }
    fg
}

/// The patch-centre probability map of a mask (spec §3.8), one value per voxel, `(z, y, x)`
/// row-major, summing to 1.
///
/// Foreground is any channel > 0, minus objects touching the border of their z-slice. Each
/// foreground voxel weighs `w_foreground / nF`, each background voxel `w_background / nB` (0
/// for an empty class); the map is then renormalised, or uniform when everything weighs 0.
pub fn probability_map(mask: &Volume<u16>, w_foreground: f64, w_background: f64) -> Vec<f32> {
    let fg = interior_foreground(mask);
    let n = fg.len();
    let n_fg = fg.iter().filter(|&&f| f).count();
    let n_bg = n - n_fg;
    let per_fg = if n_fg > 0 { w_foreground / n_fg as f64 } else { 0.0 };
    let per_bg = if n_bg > 0 { w_background / n_bg as f64 } else { 0.0 };
    let total = per_fg * n_fg as f64 + per_bg * n_bg as f64;
    if total <= 0.0 || !total.is_finite() {
        return vec![1.0 / n as f32; n];
    }
    let (p_fg, p_bg) = ((per_fg / total) as f32, (per_bg / total) as f32);
    fg.iter().map(|&f| if f { p_fg } else { p_bg }).collect()
}

/// Draws flat indices with the probabilities of a map, from a cumulative table built once.
#[derive(Clone, Debug)]
pub struct CentreSampler {
    cumulative: Vec<f64>,
}

impl CentreSampler {
    /// Builds the table. Weights need not sum to 1; negative weights count as 0.
    ///
    /// # Panics
    /// If `map` is empty or its weights sum to 0.
    pub fn new(map: &[f32]) -> Self {
        let mut total = 0.0;
        let cumulative: Vec<f64> = map
            .iter()
            .map(|&p| {
                total += f64::from(p.max(0.0));
                total
            })
            .collect();
        assert!(total > 0.0, "probability map is empty or all zero");
        Self { cumulative }
    }

    /// One flat index; indices of weight 0 are never drawn.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let total = *self.cumulative.last().expect("non-empty by construction");
        let u = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= u).min(self.cumulative.len() - 1)
    }
}

/// `(z, y, x)` of flat index `flat` in a volume of spatial `shape`.
pub fn unravel(flat: usize, shape: [usize; 3]) -> [usize; 3] {
    let [_, ny, nx] = shape;
    [flat / (ny * nx), (flat / nx) % ny, flat % nx]
}

/// One patch centre drawn with the probabilities of `map` (spatial `shape`). Builds the table
/// each call: for repeated draws keep a [`CentreSampler`].
pub fn sample_centre<R: Rng + ?Sized>(map: &[f32], shape: [usize; 3], rng: &mut R) -> [usize; 3] {
    assert_eq!(map.len(), shape.iter().product::<usize>(), "map does not match the shape");
    unravel(CentreSampler::new(map).sample(rng), shape)
}

/// BiaPy's corner for a patch centred at `centre`, per axis with `h = patch/2`: 0 if
/// `c < h`; `len − patch` if `c > len − h`; else `c − h`, clamped to `len − patch` (see the module
/// docs for odd patch sizes).
///
/// # Panics
/// If the patch is larger than the image on some axis.
pub fn corner_from_centre(centre: [usize; 3], shape: [usize; 3], patch: [usize; 3]) -> [usize; 3] {
    std::array::from_fn(|a| {
        assert!(patch[a] <= shape[a], "patch {patch:?} larger than image {shape:?}");
        let (c, len, half) = (centre[a], shape[a], patch[a] / 2);
        let last = len - patch[a];
        if c < half {
            0
        } else if c > len - half {
            last
        } else {
            (c - half).min(last)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::ChaCha8Rng;

    fn mask_2d(ny: usize, nx: usize, fg: impl Fn(usize, usize) -> bool) -> Volume<u16> {
        let data = (0..ny * nx).map(|i| u16::from(fg(i / nx, i % nx))).collect();
        Volume::from_vec([1, ny, nx, 1], data).unwrap()
    }

    #[test]
    fn clear_border_removes_touching_objects_8_connected() {
        // Object A touches the left edge; object B touches A only diagonally (so is removed with
        // 8-connectivity); object C is interior.
        let mask = mask_2d(8, 8, |y, x| {
            matches!((y, x), (2, 0) | (2, 1) | (3, 2) | (3, 3)) || (5..7).contains(&y) && (5..7).contains(&x)
        });
        let fg = interior_foreground(&mask);
        let kept: Vec<_> = (0..64).filter(|&i| fg[i]).map(|i| (i / 8, i % 8)).collect();
        assert_eq!(kept, [(5, 5), (5, 6), (6, 5), (6, 6)]);
    }

    #[test]
    fn clear_border_works_per_z_slice() {
        // 3 x 3 slices. Slice 0: one pixel on the edge, removed; slice 1: the centre pixel, kept.
        let mask = Volume::from_vec([2, 3, 3, 1], vec![0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0]).unwrap();
        let fg = interior_foreground(&mask);
        assert_eq!(fg.iter().filter(|&&f| f).count(), 1);
        assert!(fg[9 + 4]);
    }

    #[test]
    fn probability_map_weights_and_uniform_fallback() {
        let mask = mask_2d(4, 4, |y, x| y == 1 && x == 1);
        let map = probability_map(&mask, 0.94, 0.06);
        assert!((map[5] - 0.94).abs() < 1e-6);
        assert!((map[0] - 0.06 / 15.0).abs() < 1e-7);
        let sum: f64 = map.iter().map(|&p| f64::from(p)).sum();
        assert!((sum - 1.0).abs() < 1e-6);
        // No foreground and no background weight: uniform.
        assert_eq!(probability_map(&mask_2d(3, 3, |_, _| false), 0.94, 0.0), vec![1.0 / 9.0; 9]);
        // A border object counts as background.
        let map = probability_map(&mask_2d(3, 3, |y, _| y == 0), 0.94, 0.06);
        assert!(map.iter().all(|&p| (p - 1.0 / 9.0).abs() < 1e-7));
    }

    #[test]
    fn sampled_centres_follow_the_weights() {
        // 100 x 100 with 5 interior 10 x 10 squares: 5% foreground, none on the border.
        let mask = mask_2d(100, 100, |y, x| {
            [(10, 10), (10, 60), (45, 35), (80, 15), (70, 80)]
                .iter()
                .any(|&(y0, x0)| (y0..y0 + 10).contains(&y) && (x0..x0 + 10).contains(&x))
        });
        let fg = interior_foreground(&mask);
        assert_eq!(fg.iter().filter(|&&f| f).count(), 500);
        let map = probability_map(&mask, 0.94, 0.06);
        let sampler = CentreSampler::new(&map);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let hits = (0..5000).filter(|_| fg[sampler.sample(&mut rng)]).count();
        let fraction = hits as f64 / 5000.0;
        assert!((fraction - 0.94).abs() < 0.03, "foreground fraction {fraction}");
        let [z, y, x] = sample_centre(&map, [1, 100, 100], &mut rng);
        assert!(z == 0 && y < 100 && x < 100);
    }

    #[test]
    fn sampler_never_draws_zero_weight() {
        let sampler = CentreSampler::new(&[0.0, 0.0, 1.0, 0.0, 3.0, 0.0]);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let draws: Vec<_> = (0..2000).map(|_| sampler.sample(&mut rng)).collect();
        assert!(draws.iter().all(|&i| i == 2 || i == 4));
        let n4 = draws.iter().filter(|&&i| i == 4).count();
        assert!((1400..1600).contains(&n4), "{n4}");
    }

    #[test]
    fn corner_rule_at_the_edges() {
        let (shape, patch) = ([1, 100, 100], [1, 20, 20]);
        assert_eq!(corner_from_centre([0, 9, 10], shape, patch), [0, 0, 0]);
        assert_eq!(corner_from_centre([0, 80, 91], shape, patch), [0, 70, 80]);
        assert_eq!(corner_from_centre([0, 90, 90], shape, patch), [0, 80, 80]);
        assert_eq!(corner_from_centre([0, 99, 50], shape, patch), [0, 80, 40]);
        // Odd patch: BiaPy would give 96 (one past the edge); clamped to 95.
        assert_eq!(corner_from_centre([0, 0, 98], [1, 5, 100], [1, 5, 5]), [0, 0, 95]);
        assert_eq!(unravel(2 * 12 + 4 + 3, [3, 3, 4]), [2, 1, 3]);
    }

    #[test]
    fn random_corner_stays_inside_and_is_seeded() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let corners: Vec<_> = (0..200).map(|_| random_corner([4, 10, 12], [4, 6, 12], &mut rng)).collect();
        assert!(corners.iter().all(|c| c[0] == 0 && c[1] <= 4 && c[2] == 0));
        assert!(corners.iter().any(|c| c[1] == 4) && corners.iter().any(|c| c[1] == 0));
        let again: Vec<_> =
            (0..200).map(|_| random_corner([4, 10, 12], [4, 6, 12], &mut ChaCha8Rng::seed_from_u64(11))).collect();
        assert!(again.iter().all(|c| *c == corners[0]));
    }
}
