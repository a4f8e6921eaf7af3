//! `GRIDMASK` (Chen et al. 2020, "GridMask Data Augmentation"), as BiaPy 3.7.1's `GridMask`: a
//! square grid of period `d` whose bands of width `⌈d · GRID_RATIO⌉` are kept and whose squares
//! are zeroed (the other way round with `GRID_INVERT`), rotated by a whole number of degrees,
//! multiplied into every channel of the image — in 3D into a random block of z-slices. The mask
//! is never touched. Pure computation, no I/O.

use rand::rngs::ChaCha8Rng;

use crate::data::Volume;

use super::draw::randint_exclusive;

/// `GRIDMASK` parameters from `AUGMENTOR.*`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct GridMask {
    /// `GRID_RATIO`: band width as a share of the period.
    pub ratio: f64,
    /// `GRID_D_RANGE`: the period as a share of the patch (lower bound of y, upper bound of x;
    /// of z for the slice block in 3D).
    pub d_range: [f64; 2],
    /// `GRID_ROTATE`: the largest rotation as a share of 360°.
    pub rotate: f64,
    /// `GRID_INVERT`: zero the bands instead of the squares.
    pub invert: bool,
}

/// Applies the grid to `image` `(z, y, x, c)`. NumPy's draws, in BiaPy's order: the period `d`
/// in `[⌊y·d₀⌋, ⌊x·d₁⌋)`, the grid offsets in `[0, d)`, the angle in `[0, max(1, round(360·rotate)))`
/// whole degrees, then (3D) the block of `[max(1, ⌊z·d₀⌋), min(max(that, ⌊z·d₁⌋), z)]` slices and
/// its start.
pub(super) fn gridmask(image: &mut Volume<f32>, p: &GridMask, rng: &mut ChaCha8Rng) {
    let [nz, h, w] = image.spatial_shape();
    if image.as_slice().is_empty() {
        return;
    }
    let hh = ((h * h + w * w) as f64).sqrt().ceil() as usize;
    let d = randint_exclusive(rng, (h as f64 * p.d_range[0]) as i64, (w as f64 * p.d_range[1]) as i64).max(1) as usize;
    let band = (d as f64 * p.ratio).ceil() as usize;
    let start_y = randint_exclusive(rng, 0, d as i64) as usize;
    let start_x = randint_exclusive(rng, 0, d as i64) as usize;
    let in_band = |i: usize, start: usize| {
        // Bands start at d·k + start for k ≥ −1 and are `band` wide.
        let shifted = (i + d) as i64 - start as i64;
        shifted >= 0 && (shifted as usize) % d < band
    };
    let max_degrees = ((p.rotate * 360.0).round() as i64).max(1);
    let degrees = randint_exclusive(rng, 0, max_degrees) as f64;
    // The base grid is 1 off the bands; PIL rotates it counter-clockwise about the canvas centre
    // with nearest-neighbour sampling and fills with 0 (`Image.rotate` defaults).
    let (sin, cos) = (-degrees.to_radians()).sin_cos();
    let (a, b) = (round15(cos), round15(sin));
    let (dd, e) = (round15(-sin), round15(cos));
    let centre = hh as f64 / 2.0;
    let c = a * -centre + b * -centre + centre;
    let f = dd * -centre + e * -centre + centre;
    let (off_y, off_x) = ((hh - h) / 2, (hh - w) / 2);
    let mut keep = vec![0.0f32; h * w];
    for y in 0..h {
        for x in 0..w {
            let (ox, oy) = ((x + off_x) as f64 + 0.5, (y + off_y) as f64 + 0.5);
            let (xin, yin) = (a * ox + b * oy + c, dd * ox + e * oy + f);
            let inside = xin >= 0.0 && yin >= 0.0 && (xin as usize) < hh && (yin as usize) < hh;
            let grid = inside && !in_band(yin as usize, start_y) && !in_band(xin as usize, start_x);
            // Without `invert` the squares (grid = 1) are zeroed: the image is multiplied by 1 − grid.
            let grid = f32::from(u8::from(grid));
            keep[y * w + x] = if p.invert { grid } else { 1.0 - grid };
        }
    }
    let (z0, nzb) = if nz > 1 {
        let z_min = ((nz as f64 * p.d_range[0]) as usize).max(1);
        let z_max = ((nz as f64 * p.d_range[1]) as usize).max(z_min).min(nz);
        let block = randint_exclusive(rng, z_min as i64, z_max as i64 + 1) as usize;
        let start = randint_exclusive(rng, 0, (nz - block + 1).max(1) as i64) as usize;
        (start, block)
    } else {
        (0, 1)
    };
    let nc = image.n_channels();
    for z in z0..z0 + nzb {
        for (i, &k) in keep.iter().enumerate() {
            let at = image.index(z, i / w, i % w, 0);
            image.as_mut_slice()[at..at + nc].iter_mut().for_each(|v| *v *= k);
        }
    }
}

/// Python's `round(v, 15)`, which PIL applies to the rotation matrix (so 90° is exact).
fn round15(v: f64) -> f64 {
    (v * 1e15).round() / 1e15
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn ones(shape: [usize; 4]) -> Volume<f32> {
        Volume::from_vec(shape, vec![1.0; shape.iter().product()]).unwrap()
    }

    #[test]
    fn without_rotation_the_squares_go_and_the_bands_stay() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // d_range (0.25, 0.26) on 32²: d = 8, band ⌈8 · 0.5⌉ = 4; rotate 0 → max 1 → 0°.
        let p = GridMask { ratio: 0.5, d_range: [0.25, 0.26], rotate: 0.0, invert: false };
        let mut image = ones([1, 32, 32, 2]);
        gridmask(&mut image, &p, &mut rng);
        let v: Vec<f32> = image.as_slice().iter().step_by(2).copied().collect();
        let zeroed = v.iter().filter(|&&x| x == 0.0).count();
        assert_eq!(zeroed, 16 * 16, "a quarter of each 8×8 cell: (8 − 4)² of 64");
        assert!(image.as_slice().chunks(2).all(|c| c[0] == c[1]), "one mask for every channel");
        // Rows and columns with no zero are the bands: 4 of every 8.
        let full_rows = (0..32).filter(|y| v[y * 32..(y + 1) * 32].iter().all(|&x| x == 1.0)).count();
        assert_eq!(full_rows, 16);
        let mut inverted = ones([1, 32, 32, 1]);
        gridmask(&mut inverted, &GridMask { invert: true, ..p }, &mut rng);
        assert_eq!(inverted.as_slice().iter().filter(|&&x| x == 0.0).count(), 32 * 32 - 16 * 16);
    }

    #[test]
    fn a_rotated_grid_keeps_its_share_and_a_3d_block_of_slices_gets_it() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let p = GridMask { ratio: 0.5, d_range: [0.25, 0.26], rotate: 1.0, invert: false };
        let mut image = ones([1, 64, 64, 1]);
        gridmask(&mut image, &p, &mut rng);
        let zeroed = image.as_slice().iter().filter(|&&x| x == 0.0).count() as f64 / 4096.0;
        assert!((zeroed - 0.25).abs() < 0.05, "{zeroed}: a quarter, whatever the angle");
        let mut stack = ones([8, 32, 32, 1]);
        let p = GridMask { ratio: 0.5, d_range: [0.25, 0.5], rotate: 0.0, invert: false };
        gridmask(&mut stack, &p, &mut rng);
        let hit: Vec<bool> = (0..8).map(|z| stack.as_slice()[z * 1024..(z + 1) * 1024].contains(&0.0)).collect();
        let n = hit.iter().filter(|&&h| h).count();
        assert!((2..=4).contains(&n), "{hit:?}: a block of ⌊8·0.25⌋..=⌊8·0.5⌋ slices");
        let first = hit.iter().position(|&h| h).unwrap();
        assert!(hit[first..first + n].iter().all(|&h| h), "{hit:?}: contiguous");
    }
}
