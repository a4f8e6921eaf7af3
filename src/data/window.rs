//! Cutting a window out of an image (training samples, test patches): a `(z, y, x)` box that may reach past the image
//! border, filled by NumPy-style `reflect` (mirror without repeating the edge) — the fill BiaPy's
//! training generator uses (`AUGMENTOR.AFFINE_MODE` default). Pure; no I/O.
//!
//! ```
//! use segsweep::data::Volume;
//! use segsweep::data::window::crop_reflect;
//! let row = Volume::from_vec([1, 1, 4, 1], vec![0u8, 1, 2, 3]).unwrap();
//! let out = crop_reflect(&row, [0, 0, -2], [1, 1, 8]);
//! assert_eq!(out.as_slice(), &[2, 1, 0, 1, 2, 3, 2, 1]);
//! ```

use crate::data::Volume;

/// Index `i` of an axis of length `n` under `reflect` (period `2n − 2`).
pub fn reflect_index(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    (if m < n as isize { m } else { period - m }) as usize
}

/// The `size` box starting at `start` (may be negative or past the end), reflect-filled.
pub fn crop_reflect<T: Copy>(v: &Volume<T>, start: [isize; 3], size: [usize; 3]) -> Volume<T> {
    let [nz, ny, nx, nc] = v.shape();
    let src = v.as_slice();
    let mut out = Vec::with_capacity(size.iter().product::<usize>() * nc);
    let xs: Vec<usize> = (0..size[2]).map(|i| reflect_index(start[2] + i as isize, nx)).collect();
    for dz in 0..size[0] {
        let z = reflect_index(start[0] + dz as isize, nz);
        for dy in 0..size[1] {
            let y = reflect_index(start[1] + dy as isize, ny);
            let row = (z * ny + y) * nx;
            for &x in &xs {
                let base = (row + x) * nc;
                out.extend_from_slice(&src[base..base + nc]);
            }
        }
    }
    Volume::from_vec([size[0], size[1], size[2], nc], out).expect("the output has exactly size × channels elements")
}

/// The start of a `window` centred on the `patch` that starts at `corner` (which may lie
/// before the image, in padded coordinates).
pub fn window_start(corner: [isize; 3], patch: [usize; 3], window: [usize; 3]) -> [isize; 3] {
    std::array::from_fn(|a| corner[a] - (window[a].saturating_sub(patch[a]) / 2) as isize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_indices_match_numpy() {
        // np.pad([0,1,2,3], 5, mode="reflect") → 1 2 3 2 1 | 0 1 2 3 | 2 1 0 1 2
        let got: Vec<usize> = (-5..9).map(|i| reflect_index(i, 4)).collect();
        assert_eq!(got, vec![1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2]);
        assert_eq!(reflect_index(-3, 1), 0);
    }

    #[test]
    fn inside_crop_is_a_plain_copy_with_channels() {
        let v = Volume::from_vec([2, 3, 3, 2], (0..36).collect::<Vec<i32>>()).unwrap();
        let out = crop_reflect(&v, [1, 1, 1], [1, 2, 2]);
        assert_eq!(out.shape(), [1, 2, 2, 2]);
        assert_eq!(out.get(0, 0, 0, 1), v.get(1, 1, 1, 1));
        assert_eq!(out.get(0, 1, 1, 0), v.get(1, 2, 2, 0));
        assert_eq!(window_start([10, 20, -30], [1, 64, 64], [1, 90, 90]), [10, 7, -43]);
    }
}
