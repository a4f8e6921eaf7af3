//! Border (fill) modes as index maps: where a sample position outside an axis of `n` elements
//! reads from, for NumPy's `np.pad` mode names ([`FillMode`]; SciPy `ndimage` calls `reflect`
//! what NumPy calls `symmetric`, and `mirror` what NumPy calls `reflect`; the table in
//! `augment/sample.rs` lists them). Shared by the augmentations and `DATA.PREPROCESS`.

use crate::config::FillMode;

/// [`map_index`] for the modes that always land on the axis (all but `constant`, which reads 0
/// at index 0 here: callers never pass it).
#[inline]
pub fn fold_index(i: isize, n: usize, mode: FillMode) -> usize {
    debug_assert!(mode != FillMode::Constant, "constant has no index outside the axis");
    map_index(i, n, mode).unwrap_or(0)
}

/// Maps index `i` (possibly outside `0..n`) into `0..n` following `mode`; `None` means "outside,
/// value 0" (`constant`).
#[inline]
pub fn map_index(i: isize, n: usize, mode: FillMode) -> Option<usize> {
    let n_i = n as isize;
    if (0..n_i).contains(&i) {
        return Some(i as usize);
    }
    if n == 0 {
        return None;
    }
    let j = match mode {
        FillMode::Constant => return None,
        FillMode::Nearest => i.clamp(0, n_i - 1),
        FillMode::Wrap => i.rem_euclid(n_i),
        FillMode::Reflect if n == 1 => 0,
        FillMode::Reflect => {
            let period = 2 * n_i - 2;
            let m = i.rem_euclid(period);
            if m >= n_i { period - m } else { m }
        }
        FillMode::Symmetric => {
            let period = 2 * n_i;
            let m = i.rem_euclid(period);
            if m >= n_i { period - 1 - m } else { m }
        }
    };
    Some(j as usize)
}
