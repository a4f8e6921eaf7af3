//! Tile arithmetic of `TEST.BY_CHUNKS` (spec §4.7, D15): pure, no I/O.
//!
//! Along each axis of length `len`, the inner tiles (`patch − 2·padding` long) follow each other
//! with step `patch − 2·padding` (`DATA.TEST.OVERLAP` is not used). Tile `i` *owns* the voxels
//! `[i·inner, min((i+1)·inner, len))`: every voxel is written by exactly one tile. The patch
//! around a tile is `patch` long and starts `padding` before the tile's inner start; the last
//! tile's inner start is moved back so that it ends at the border (it then overlaps its
//! neighbour, whose voxels it does not own) and a volume shorter than one inner tile is read
//! with reflection past its end. Voxels before 0 or past `len` are NumPy-`reflect`ed by the
//! reader. With `padding` 0 and `len` a multiple of `patch`, the tiles are exactly the normal
//! path's patch grid (spec §4.1).
//!
//! Also the `TEST.BY_CHUNKS.Z_START`/`Z_END` range and the `TEST.EVAL_BORDER_CROP` box.
//!
//! ```
//! use segsweep::infer::chunks::grid::tiles;
//! let t = tiles(10, 4, 0).unwrap();
//! assert_eq!(t.iter().map(|t| t.own.clone()).collect::<Vec<_>>(), vec![0..4, 4..8, 8..10]);
//! assert_eq!(t[2].patch_start, 6); // moved back to end at the border
//! assert_eq!(t[2].offset, 2); // its owned voxels start 2 into the patch
//! ```

use std::ops::Range;

use crate::data::patches::GridError;

/// One tile along one axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile {
    /// Where the patch starts (may be negative: reflected voxels).
    pub patch_start: isize,
    /// The voxels this tile writes.
    pub own: Range<usize>,
    /// Where `own` starts inside the patch.
    pub offset: usize,
}

/// The tiles along an axis of `len` voxels for `patch` with `padding` on each side.
pub fn tiles(len: usize, patch: usize, padding: usize) -> Result<Vec<Tile>, GridError> {
    if padding > 0 && padding >= patch / 2 {
        return Err(GridError::Padding { axis: None, padding, patch });
    }
    let inner = patch - 2 * padding;
    if inner == 0 {
        return Err(GridError::ZeroStep { axis: None, patch, padding, overlap: 0.0 });
    }
    Ok((0..len.div_ceil(inner))
        .map(|i| {
            let own = i * inner..((i + 1) * inner).min(len);
            let inner_start = own.start.min(len.saturating_sub(inner));
            Tile {
                patch_start: inner_start as isize - padding as isize,
                offset: padding + own.start - inner_start,
                own,
            }
        })
        .collect())
}

/// The `(z, y, x)` tiles of a volume, the axis named in errors.
pub fn tiles_3d(shape: [usize; 3], patch: [usize; 3], padding: [usize; 3]) -> Result<[Vec<Tile>; 3], GridError> {
    let axis = |a: usize| {
        tiles(shape[a], patch[a], padding[a]).map_err(|e| match e {
            GridError::Padding { padding, patch, .. } => {
                GridError::Padding { axis: Some(['z', 'y', 'x'][a]), padding, patch }
            }
            GridError::ZeroStep { patch, padding, overlap, .. } => {
                GridError::ZeroStep { axis: Some(['z', 'y', 'x'][a]), patch, padding, overlap }
            }
            other => other,
        })
    };
    Ok([axis(0)?, axis(1)?, axis(2)?])
}

/// The z planes `TEST.BY_CHUNKS.Z_START`/`Z_END` select in a stack of `depth` planes (−1: the
/// start, the end); `Err` says what is wrong with the values for this stack.
pub fn z_range(z_start: i64, z_end: i64, depth: usize) -> Result<Range<usize>, String> {
    let start = if z_start < 0 { 0 } else { z_start as usize };
    let end = if z_end < 0 { depth } else { z_end as usize };
    if end > depth {
        return Err(format!("`TEST.BY_CHUNKS.Z_END` is {z_end} but the stack has {depth} planes"));
    }
    if start >= end {
        return Err(format!("`TEST.BY_CHUNKS.Z_START` {start} is not before the end {end} of the stack's z range"));
    }
    Ok(start..end)
}

/// Per axis, the voxels `TEST.EVAL_BORDER_CROP` keeps for the metrics (the same box as
/// `crop_border` in the normal path).
pub fn border_box(shape: [usize; 3], crop: [usize; 3]) -> [Range<usize>; 3] {
    std::array::from_fn(|a| {
        let size = shape[a].saturating_sub(2 * crop[a]).max(1);
        let start = crop[a].min(shape[a].saturating_sub(1) / 2);
        start..start + size
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owns(t: &[Tile]) -> Vec<Range<usize>> {
        t.iter().map(|t| t.own.clone()).collect()
    }

    #[test]
    fn tiles_cover_every_voxel_once_with_the_padding_around_them() {
        // Patch 8, padding 2: inner 4, patches start 2 before their tile.
        let t = tiles(12, 8, 2).unwrap();
        assert_eq!(owns(&t), vec![0..4, 4..8, 8..12]);
        assert_eq!(t.iter().map(|t| t.patch_start).collect::<Vec<_>>(), vec![-2, 2, 6]);
        assert!(t.iter().all(|t| t.offset == 2));
        // 13 voxels: a fourth tile owning one voxel, its patch moved back to end at the border.
        let t = tiles(13, 8, 2).unwrap();
        assert_eq!(owns(&t), vec![0..4, 4..8, 8..12, 12..13]);
        assert_eq!((t[3].patch_start, t[3].offset), (7, 5));
        // Shorter than one inner tile: one tile, read with reflection past the end.
        assert_eq!(tiles(3, 8, 2).unwrap(), vec![Tile { patch_start: -2, own: 0..3, offset: 2 }]);
    }

    #[test]
    fn without_padding_aligned_tiles_are_the_normal_patch_grid() {
        let grid = crate::data::patches::PatchGrid::new([16, 24, 8], [4, 8, 8], [0.0; 3], [0; 3]).unwrap();
        let t = tiles_3d([16, 24, 8], [4, 8, 8], [0; 3]).unwrap();
        for a in 0..3 {
            let starts: Vec<usize> = t[a].iter().map(|t| t.patch_start as usize).collect();
            assert_eq!(starts, grid.starts[a]);
        }
    }

    #[test]
    fn bad_padding_names_the_axis() {
        let err = tiles_3d([16, 16, 16], [8, 8, 8], [0, 4, 0]).unwrap_err().to_string();
        assert!(err.contains("is 4 along axis y but must be smaller than half of the patch (8/2)"), "{err}");
    }

    #[test]
    fn z_range_and_border_box() {
        assert_eq!(z_range(-1, -1, 10), Ok(0..10));
        assert_eq!(z_range(4, 8, 10), Ok(4..8));
        assert!(z_range(4, 12, 10).unwrap_err().contains("the stack has 10 planes"));
        assert!(z_range(8, 4, 10).is_err());
        assert_eq!(border_box([8, 5, 1], [2, 3, 0]), [2..6, 2..3, 0..1]);
    }
}
