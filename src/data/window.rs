//! Cutting a window out of an image (training samples, test patches): a `(z, y, x)` box that may reach past the image
//! border, filled by NumPy-style `reflect` (mirror without repeating the edge) — the fill BiaPy's
//! training generator uses (`AUGMENTOR.AFFINE_MODE` default); and the median-filled border of
//! `DATA.TEST.MEDIAN_PADDING`. Pure; no I/O.
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

/// The volume padded by `padding` on both sides of each axis as BiaPy's
/// `crop_3D_data_with_overlap(median_padding=True)`: reflect-filled, then, axis by axis (z, y,
/// x), the slabs before and after the data are set to the median of the data's first and last
/// plane along that axis (all channels), across the whole padded extent of the other axes.
/// (BiaPy bounds the end slab of y by the z length, a bug; here each slab has its own axis.)
pub fn pad_median(v: &Volume<f32>, padding: [usize; 3]) -> Volume<f32> {
    let [nz, ny, nx, nc] = v.shape();
    let n = [nz, ny, nx];
    let start: [isize; 3] = std::array::from_fn(|a| -(padding[a] as isize));
    let size: [usize; 3] = std::array::from_fn(|a| n[a] + 2 * padding[a]);
    let mut out = crop_reflect(v, start, size);
    let src = v.as_slice();
    for axis in 0..3 {
        if padding[axis] == 0 {
            continue;
        }
        for (plane, range) in [(0, 0..padding[axis]), (n[axis] - 1, padding[axis] + n[axis]..size[axis])] {
            let mut values: Vec<f32> = Vec::new();
            for z in 0..nz {
                for y in 0..ny {
                    for x in 0..nx {
                        if [z, y, x][axis] == plane {
                            let base = ((z * ny + y) * nx + x) * nc;
                            values.extend_from_slice(&src[base..base + nc]);
                        }
                    }
                }
            }
            let fill = median(&mut values);
            let dst = out.as_mut_slice();
            for z in 0..size[0] {
                for y in 0..size[1] {
                    for x in 0..size[2] {
                        if range.contains(&[z, y, x][axis]) {
                            let base = ((z * size[1] + y) * size[2] + x) * nc;
                            dst[base..base + nc].fill(fill);
                        }
                    }
                }
            }
        }
    }
    out
}

/// NumPy's median: the middle value, or the mean of the two middle values.
fn median(values: &mut [f32]) -> f32 {
    values.sort_unstable_by(f32::total_cmp);
    let m = values.len() / 2;
    if values.len() % 2 == 1 { values[m] } else { (values[m - 1] + values[m]) / 2.0 }
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
    fn median_padding_fills_each_border_slab_with_its_plane_median() {
        // z = 2, y = 2, x = 3: values 0..12; pad (1, 0, 1).
        let v = Volume::from_vec([2, 2, 3, 1], (0..12).map(|i| i as f32).collect()).unwrap();
        let out = pad_median(&v, [1, 0, 1]);
        assert_eq!(out.shape(), [4, 2, 5, 1]);
        // Interior: the data.
        assert_eq!(out.get(1, 1, 2, 0), v.get(0, 1, 1, 0));
        // z before: median of plane z = 0 (0..6) = 2.5, except where the x slabs (set after z)
        // cover it: x before = median of x = 0 (0, 3, 6, 9) = 4.5, x after = median of (2, 5, 8, 11) = 6.5.
        assert_eq!(out.get(0, 0, 2, 0), 2.5);
        assert_eq!(out.get(3, 1, 3, 0), 8.5);
        assert_eq!(out.get(0, 0, 0, 0), 4.5);
        assert_eq!(out.get(2, 1, 4, 0), 6.5);
        // Without padding it is a copy.
        assert_eq!(pad_median(&v, [0; 3]), v);
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
