//! Section-level transforms modelled on EM artefacts and occlusion: `CUTOUT` (boxes filled with a
//! constant), `CUTMIX` (a box of another training sample, image and mask, pasted in), `MISSING_SECTIONS` (a dilated line blanked in some planes, image only) and
//! `MISALIGNMENT` (part of the sample shifted or rotated against the rest, image and mask
//! together). Pure computation, no I/O.

use rand::rngs::ChaCha8Rng;

use crate::config::FillMode;
use crate::data::Volume;

use super::draw::{randint_exclusive, roll, uniform};
use super::geometry::{rotate, translate};
use super::sample::{Interp, crop, paste};

/// `CUTOUT` parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Cutout {
    /// `COUT_NB_ITERATIONS`: number of boxes, drawn as NumPy's exclusive `randint(lo, hi)`.
    pub n_boxes: [i64; 2],
    /// `COUT_SIZE`: box side as a fraction of each axis.
    pub size: [f64; 2],
    /// `COUT_CVAL`: image value inside the boxes.
    pub cval: f32,
    /// `COUT_APPLY_TO_MASK`: also set the mask to 0 inside the boxes.
    pub apply_to_mask: bool,
}

/// `CUTOUT`: `randint(lo, hi)` boxes (so 1 or 2 with the default `(1, 3)`, as BiaPy). Each box
/// has side `int(max(min(n·s, n), 1))` along every axis for one s uniform in `size` (z too in
/// 3D; resolution taken isotropic) and a corner drawn with NumPy's exclusive `randint(0, n − side)`.
/// `mask` is given only with `COUT_APPLY_TO_MASK`.
pub(super) fn cutout(image: &mut Volume<f32>, mut mask: Option<&mut Volume<u16>>, p: &Cutout, rng: &mut ChaCha8Rng) {
    let n_boxes = randint_exclusive(rng, p.n_boxes[0], p.n_boxes[1]);
    let [nz, ny, nx] = image.spatial_shape();
    for _ in 0..n_boxes {
        let s = uniform(rng, p.size);
        let side = |n: usize| (n as f64 * s).min(n as f64).max(1.0) as usize;
        let corner =
            |rng: &mut ChaCha8Rng, n: usize, side: usize| randint_exclusive(rng, 0, (n - side) as i64) as usize;
        let (sy, sx) = (side(ny), side(nx));
        let (y0, x0) = (corner(rng, ny, sy), corner(rng, nx, sx));
        let (z0, sz) = if nz > 1 { (corner(rng, nz, side(nz)), side(nz)) } else { (0, nz) };
        fill_box(image, [z0, y0, x0], [sz, sy, sx], p.cval);
        if let Some(mask) = mask.as_mut() {
            fill_box(mask, [z0, y0, x0], [sz, sy, sx], 0);
        }
    }
}

/// `CUTMIX`, as BiaPy's `cutmix`: one fraction f uniform in `size` gives a box of
/// `max(1, round(n·f))` along y and x (all z-slices); its corner in the sample and, drawn after,
/// its corner in the partner are uniform where the box fits; the partner's box (image and mask)
/// replaces the sample's.
pub(super) fn cutmix(
    (image, mask): (&mut Volume<f32>, &mut Volume<u16>),
    (p_image, p_mask): (&Volume<f32>, &Volume<u16>),
    size: [f64; 2],
    rng: &mut ChaCha8Rng,
) {
    let [nz, h, w] = image.spatial_shape();
    let frac = uniform(rng, size);
    let side = |n: usize| ((n as f64 * frac).round_ties_even() as usize).clamp(1, n.max(1));
    let (ys, xs) = (side(h), side(w));
    let corner = |rng: &mut ChaCha8Rng, n: usize, s: usize| {
        if n == s { 0 } else { randint_exclusive(rng, 0, (n - s + 1) as i64) as usize }
    };
    let (y1, x1) = (corner(rng, h, ys), corner(rng, w, xs));
    let (y2, x2) = (corner(rng, h, ys), corner(rng, w, xs));
    copy_box(image, p_image, nz, [y1, x1], [y2, x2], [ys, xs]);
    copy_box(mask, p_mask, nz, [y1, x1], [y2, x2], [ys, xs]);
}

/// Copies the `size` box at `from` of every z-slice of `src` to `to` in `dst`.
fn copy_box<T: Copy>(
    dst: &mut Volume<T>,
    src: &Volume<T>,
    nz: usize,
    to: [usize; 2],
    from: [usize; 2],
    size: [usize; 2],
) {
    let nc = dst.n_channels();
    for z in 0..nz {
        for dy in 0..size[0] {
            let (d, s) = (dst.index(z, to[0] + dy, to[1], 0), src.index(z, from[0] + dy, from[1], 0));
            dst.as_mut_slice()[d..d + size[1] * nc].copy_from_slice(&src.as_slice()[s..s + size[1] * nc]);
        }
    }
}

/// Sets every channel of the box at `start` with spatial `size` to `value`.
fn fill_box<T: Copy>(v: &mut Volume<T>, start: [usize; 3], size: [usize; 3], value: T) {
    let nc = v.n_channels();
    for z in start[0]..start[0] + size[0] {
        for y in start[1]..start[1] + size[1] {
            let row = v.index(z, y, start[2], 0);
            v.as_mut_slice()[row..row + size[2] * nc].fill(value);
        }
    }
}

/// `MISSING_SECTIONS`: `it = randint(lo, hi)`; planes are visited in BiaPy's order (z-major,
/// then channel); each is hit with probability `section_prob`, and after a hit the next two are
/// skipped. A hit plane gets a random straight line from one border to the opposite one, dilated
/// `it` times (4-connected), set to the plane's mean (BiaPy blanks with the mean, not 0). Planes
/// smaller than 4 × 4 are left alone (BiaPy cannot draw the end points there).
pub(super) fn missing_sections(image: &mut Volume<f32>, iterations: [i64; 2], section_prob: f64, rng: &mut ChaCha8Rng) {
    let it = randint_exclusive(rng, iterations[0], iterations[1]).max(0) as usize;
    let [nz, ny, nx, nc] = image.shape();
    if ny < 4 || nx < 4 {
        return;
    }
    let mut hits = Vec::new();
    let mut section = 0;
    while section < nz * nc {
        if roll(rng, section_prob) {
            hits.push((section, line_mask(ny, nx, it, rng)));
            section += 2;
        }
        section += 1;
    }
    for (section, line) in hits {
        let (z, c) = (section / nc, section % nc);
        let at = |i: usize| image.index(z, i / nx, i % nx, c);
        let mean = (0..ny * nx).map(|i| f64::from(image.as_slice()[at(i)])).sum::<f64>() / (ny * nx) as f64;
        let targets: Vec<usize> = (0..ny * nx).filter(|&i| line[i]).map(at).collect();
        for i in targets {
            image.as_mut_slice()[i] = mean as f32;
        }
    }
}

/// BiaPy's `_prepare_deform_slice`: a line top-to-bottom or left-to-right (p = 1/2) between end
/// points drawn in `randint(1, n − 2)`, dilated `it` times with the 4-connected cross.
fn line_mask(ny: usize, nx: usize, it: usize, rng: &mut ChaCha8Rng) -> Vec<bool> {
    let top_to_bottom = roll(rng, 0.5);
    let mut end = |n: usize| randint_exclusive(rng, 1, n as i64 - 2);
    let (p0, p1) =
        if top_to_bottom { ((0, end(nx)), (ny as i64 - 1, end(nx))) } else { ((end(ny), 0), (end(ny), nx as i64 - 1)) };
    let mut distance = vec![usize::MAX; ny * nx];
    let mut queue = std::collections::VecDeque::new();
    for (y, x) in bresenham(p0, p1) {
        distance[y as usize * nx + x as usize] = 0;
        queue.push_back((y as usize, x as usize));
    }
    // Breadth-first search: `it` cross dilations reach exactly the pixels within L1 distance `it`.
    while let Some((y, x)) = queue.pop_front() {
        let d = distance[y * nx + x];
        if d == it {
            continue;
        }
        let neighbours = [(y.wrapping_sub(1), x), (y + 1, x), (y, x.wrapping_sub(1)), (y, x + 1)];
        for (ny_, nx_) in neighbours.into_iter().filter(|&(a, b)| a < ny && b < nx) {
            if distance[ny_ * nx + nx_] == usize::MAX {
                distance[ny_ * nx + nx_] = d + 1;
                queue.push_back((ny_, nx_));
            }
        }
    }
    distance.into_iter().map(|d| d <= it).collect()
}

/// Pixels of the digital straight line from `a` to `b` `(row, col)`, ends included (Bresenham).
fn bresenham(a: (i64, i64), b: (i64, i64)) -> Vec<(i64, i64)> {
    let (dy, dx) = ((b.0 - a.0).abs(), (b.1 - a.1).abs());
    let (sy, sx) = ((b.0 - a.0).signum(), (b.1 - a.1).signum());
    let (mut y, mut x, mut err) = (a.0, a.1, dx - dy);
    let mut points = vec![(y, x)];
    while (y, x) != b {
        let e2 = 2 * err;
        if e2 > -dy {
            err -= dy;
            x += sx;
        }
        if e2 < dx {
            err += dx;
            y += sy;
        }
        points.push((y, x));
    }
    points
}

/// `MISALIGNMENT` (EM-style, after PyTorch Connectomics): part of the sample moves against the
/// rest, image and mask alike, filled with 0. 2D: rows from `oy ∈ randint(1, H − 1)` down move
/// left by `d ∈ randint(0, MS_DISPLACEMENT)` pixels, or (with probability `rotate_ratio`) rotate
/// about their own centre. 3D: from slice `idx ∈ randint(1, Z − 1)` on (or only that slice,
/// "slip", p = 1/2) the slices shift by `(y1 − y0, x1 − x0)` (each in `randint(0, disp)`) or
/// rotate. The rotation angle is BiaPy's `random_rotate_matrix` bound. Samples too small to
/// split (fewer than 3 rows in 2D, 3 slices in 3D) are returned unchanged.
pub(super) fn misalignment(
    image: &Volume<f32>,
    mask: &Volume<u16>,
    displacement: i64,
    rotate_ratio: f64,
    interp: Interp,
    rng: &mut ChaCha8Rng,
) -> (Volume<f32>, Volume<u16>) {
    let [nz, ny, nx] = image.spatial_shape();
    let (start, size, rotate_part, shift) = if nz == 1 {
        if ny < 3 {
            return (image.clone(), mask.clone());
        }
        let oy = randint_exclusive(rng, 1, ny as i64 - 1) as usize;
        let d = randint_exclusive(rng, 0, displacement).max(0) as f64;
        ([0, oy, 0], [1, ny - oy, nx], roll(rng, rotate_ratio), (0.0, -d))
    } else {
        if nz < 3 {
            return (image.clone(), mask.clone());
        }
        let slip = roll(rng, 0.5);
        let idx = randint_exclusive(rng, 1, nz as i64 - 1) as usize;
        let rotate_part = roll(rng, rotate_ratio);
        let shift = if rotate_part { (0.0, 0.0) } else { slab_shift(displacement, rng) };
        ([idx, 0, 0], [if slip { 1 } else { nz - idx }, ny, nx], rotate_part, shift)
    };
    let (part_image, part_mask) = (crop(image, start, size), crop(mask, start, size));
    let (moved_image, moved_mask) = if rotate_part {
        let angle = tilt_angle(ny, displacement, rng);
        rotate(&part_image, &part_mask, angle, FillMode::Constant, interp)
    } else {
        translate(&part_image, &part_mask, shift.0, shift.1, FillMode::Constant, interp)
    };
    let (mut out_image, mut out_mask) = (image.clone(), mask.clone());
    paste(&mut out_image, &moved_image, start);
    paste(&mut out_mask, &moved_mask, start);
    (out_image, out_mask)
}

/// The 3D translation: offsets `x0, y0, x1, y1` drawn in `randint(0, disp)`; the moved part
/// shifts by `(y1 − y0, x1 − x0)` relative to the rest.
fn slab_shift(displacement: i64, rng: &mut ChaCha8Rng) -> (f64, f64) {
    let [x0, y0, x1, y1] = [(); 4].map(|_| randint_exclusive(rng, 0, displacement) as f64);
    (y1 - y0, x1 - x0)
}

/// BiaPy's `random_rotate_matrix` angle: uniform in `±2·asin((d/2) / ((H − d)/2 · 1.42))`
/// degrees, so the corners move by about `d` pixels at most.
fn tilt_angle(height: usize, displacement: i64, rng: &mut ChaCha8Rng) -> f64 {
    let x = displacement as f64 / 2.0;
    let y = (height as f64 - displacement as f64) / 2.0 * 1.42;
    let ratio = if y > 0.0 { (x / y).clamp(-1.0, 1.0) } else { 1.0 };
    let max_angle = ratio.asin().to_degrees() * 2.0;
    (uniform(rng, [0.0, 1.0]) - 0.5) * 2.0 * max_angle
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    #[test]
    fn cutout_fills_boxes_and_touches_mask_only_when_asked() {
        for apply_to_mask in [false, true] {
            let p = Cutout { n_boxes: [1, 3], size: [0.2, 0.4], cval: -5.0, apply_to_mask };
            let mut img = Volume::filled([4, 20, 30, 2], 1.0f32);
            let mut msk = Volume::filled([4, 20, 30, 1], 2u16);
            cutout(&mut img, apply_to_mask.then_some(&mut msk), &p, &mut rng(1));
            let filled: Vec<usize> = (0..img.as_slice().len() / 2).filter(|&i| img.as_slice()[2 * i] == -5.0).collect();
            assert!(!filled.is_empty());
            assert!(filled.iter().all(|&i| img.as_slice()[2 * i + 1] == -5.0));
            let zeroed: Vec<usize> = (0..msk.as_slice().len()).filter(|&i| msk.as_slice()[i] == 0).collect();
            assert_eq!(zeroed, if apply_to_mask { filled } else { Vec::new() });
        }
    }

    #[test]
    fn bresenham_joins_end_points() {
        assert_eq!(bresenham((0, 0), (3, 1)), vec![(0, 0), (1, 0), (2, 1), (3, 1)]);
        assert_eq!(bresenham((2, 0), (0, 4)).len(), 5);
    }

    #[test]
    fn line_mask_crosses_the_plane_with_the_dilated_width() {
        let mask = line_mask(16, 12, 2, &mut rng(2));
        let rows_hit = (0..16).filter(|y| (0..12).any(|x| mask[y * 12 + x])).count();
        let cols_hit = (0..12).filter(|x| (0..16).any(|y| mask[y * 12 + x])).count();
        assert!(rows_hit == 16 || cols_hit == 12);
        let hit = mask.iter().filter(|&&m| m).count();
        assert!((3 * 12..16 * 12).contains(&hit), "{hit}");
    }

    #[test]
    fn missing_sections_blank_with_the_plane_mean_and_skip_neighbours() {
        let mut img = Volume::from_vec([6, 8, 8, 1], (0..384).map(|i| (i % 64) as f32).collect()).unwrap();
        missing_sections(&mut img, [1, 2], 1.0, &mut rng(3));
        // Probability 1: sections 0 and 3 are hit, 1, 2, 4, 5 skipped.
        let changed: Vec<usize> =
            (0..6).filter(|&z| (0..64).any(|i| img.get(z, i / 8, i % 8, 0) != (i % 64) as f32)).collect();
        assert_eq!(changed, vec![0, 3]);
        assert!((0..64).any(|i| img.get(0, i / 8, i % 8, 0) == 31.5));
    }

    #[test]
    fn misalignment_2d_moves_only_the_lower_part_of_image_and_mask_together() {
        let img = Volume::from_vec([1, 16, 16, 1], (0..256).map(|i| (i % 7) as f32).collect()).unwrap();
        let msk = img.map(|&v| v as u16);
        for seed in 0..20 {
            let (out, out_mask) = misalignment(&img, &msk, 4, 0.5, Interp::Nearest, &mut rng(seed));
            assert_eq!(out.get(0, 0, 5, 0), img.get(0, 0, 5, 0));
            assert_eq!(out_mask, out.map(|&v| v as u16));
        }
    }

    #[test]
    fn misalignment_3d_keeps_the_first_slice() {
        let img = Volume::from_vec([5, 12, 12, 1], (0..720).map(|i| (i % 5) as f32).collect()).unwrap();
        let msk = img.map(|&v| v as u16);
        let mut moved = false;
        for seed in 0..20 {
            let (out, out_mask) = misalignment(&img, &msk, 4, 0.5, Interp::Nearest, &mut rng(seed));
            assert_eq!(crop(&out, [0, 0, 0], [1, 12, 12]), crop(&img, [0, 0, 0], [1, 12, 12]));
            assert_eq!(out_mask, out.map(|&v| v as u16));
            moved |= out != img;
        }
        assert!(moved);
    }
}
