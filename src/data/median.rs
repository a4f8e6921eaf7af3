//! SciPy's `ndimage.median_filter` with an axis-aligned box footprint on `(z, y, x)` per
//! channel, or on `(z, y, x, c)` across channels, for the two border modes segsweep's callers
//! use: `reflect` (half-sample symmetric; the post-processing filters) and `nearest` (edge
//! repeated; `DATA.PREPROCESS.MEDIAN_BLUR`, as `skimage.filters.median`). Pure computation on
//! a [`Volume`]; which filter runs when is the callers' business.

use rayon::prelude::*;

use super::Volume;
use super::border::fold_index;
use crate::config::FillMode;

/// How the box is filled beyond the volume's edge (SciPy's `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MedianBorder {
    /// SciPy `reflect`: `d c b a | a b c d | d c b a`.
    Symmetric,
    /// SciPy `nearest`: `a a a a | a b c d | d d d d`.
    Nearest,
}

/// SciPy `median_filter(channel, size=footprint, mode=...)` on every channel of `volume`, the
/// border as `border` says.
///
/// `footprint` is the `(z, y, x)` box (0 is read as 1). As in SciPy the window of an axis of size
/// `s` covers offsets `-(s/2) ..= s - 1 - s/2` and the result is element `n/2` (0-based) of the
/// sorted `n`-element window, so odd boxes give the true median. Borders repeat the data
/// half-sample symmetrically, periodically with period `2 × length` when the box is larger than
/// the axis; an axis of length 1 repeats its one element (so a z box on 2D data is the
/// identity). NaN sorts above every number (`f32::total_cmp`).
pub fn median_filter(volume: &Volume<f32>, [z, y, x]: [usize; 3], border: MedianBorder) -> Volume<f32> {
    median_filter_across_channels(volume, [z, y, x, 1], border)
}

/// [`median_filter`] with a `(z, y, x, c)` box whose last size spans channels, as SciPy filters
/// a channels-last array with a 4-D footprint (the channel axis bordered the same way).
pub fn median_filter_across_channels(volume: &Volume<f32>, footprint: [usize; 4], border: MedianBorder) -> Volume<f32> {
    let footprint = footprint.map(|s| s.max(1));
    let mut out = volume.clone();
    let [nz, ny, nx, nc] = volume.shape();
    if footprint == [1, 1, 1, 1] || out.as_slice().is_empty() {
        return out;
    }
    let plan = Plan {
        shape: volume.shape(),
        windows: [
            Window::new(nz, footprint[0], border),
            Window::new(ny, footprint[1], border),
            Window::new(nx, footprint[2], border),
            Window::new(nc, footprint[3], border),
        ],
        rank: footprint.iter().product::<usize>() / 2,
    };
    let src = volume.as_slice();
    out.as_mut_slice().par_chunks_mut(nx * nc).enumerate().for_each(|(row, dst)| plan.row(src, row, dst));
    out
}

/// Source indices along one axis: the window of output position `i` is `ext[i .. i + size]`.
struct Window {
    ext: Vec<usize>,
    size: usize,
}

impl Window {
    fn new(len: usize, size: usize, border: MedianBorder) -> Self {
        let before = (size / 2) as isize;
        let mode = match border {
            MedianBorder::Symmetric => FillMode::Symmetric,
            MedianBorder::Nearest => FillMode::Nearest,
        };
        let ext = (0..len + size - 1).map(|j| fold_index(j as isize - before, len, mode)).collect();
        Self { ext, size }
    }

    fn at(&self, i: usize) -> &[usize] {
        &self.ext[i..i + self.size]
    }
}

/// Everything one output row needs.
struct Plan {
    shape: [usize; 4],
    windows: [Window; 4],
    rank: usize,
}

impl Plan {
    /// Fills `dst`, output row `row` (= `z × ny + y`), all x and channels.
    fn row(&self, src: &[f32], row: usize, dst: &mut [f32]) {
        let [_, ny, nx, nc] = self.shape;
        let (zs, ys) = (self.windows[0].at(row / ny), self.windows[1].at(row % ny));
        let mut buf = Vec::with_capacity(zs.len() * ys.len() * self.windows[2].size * self.windows[3].size);
        for x in 0..nx {
            let xs = self.windows[2].at(x);
            for c in 0..nc {
                let cs = self.windows[3].at(c);
                buf.clear();
                for &z in zs {
                    for &y in ys {
                        let base = (z * ny + y) * nx;
                        for &xx in xs {
                            buf.extend(cs.iter().map(|&cc| src[(base + xx) * nc + cc]));
                        }
                    }
                }
                let (_, median, _) = buf.select_nth_unstable_by(self.rank, f32::total_cmp);
                dst[x * nc + c] = *median;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_border_repeats_the_edge() {
        // Size 3 on [1, 5, 2, 8, 3], nearest: 1 | 1 5 2 8 3 | 3 → [1, 2, 5, 3, 3]; size 5:
        // 1 1 | 1 5 2 8 3 | 3 3 → x=0 {1,1,1,5,2} → 1; x=1 {1,1,5,2,8} → 2; x=2 → 3;
        // x=3 {5,2,8,3,3} → 3; x=4 {2,8,3,3,3} → 3 (SciPy mode="nearest": [1, 2, 3, 3, 3]).
        let v = Volume::from_vec([1, 1, 5, 1], vec![1.0, 5.0, 2.0, 8.0, 3.0]).unwrap();
        assert_eq!(median_filter(&v, [1, 1, 3], MedianBorder::Nearest).as_slice(), &[1.0, 2.0, 5.0, 3.0, 3.0]);
        assert_eq!(median_filter(&v, [1, 1, 5], MedianBorder::Nearest).as_slice(), &[1.0, 2.0, 3.0, 3.0, 3.0]);
        assert_eq!(median_filter(&v, [1, 1, 5], MedianBorder::Symmetric).as_slice(), &[2.0, 2.0, 3.0, 3.0, 3.0]);
    }

    #[test]
    fn a_channel_size_takes_the_median_across_neighbouring_channels() {
        // One pixel, channels [1, 9, 4, 7]; size 3 along c, nearest: 1 | 1 9 4 7 | 7 →
        // {1,1,9} 1, {1,9,4} 4, {9,4,7} 7, {4,7,7} 7 (SciPy median_filter(size=(1, 3)) on (1, 4)).
        let v = Volume::from_vec([1, 1, 1, 4], vec![1.0, 9.0, 4.0, 7.0]).unwrap();
        let out = median_filter_across_channels(&v, [1, 1, 1, 3], MedianBorder::Nearest);
        assert_eq!(out.as_slice(), &[1.0, 4.0, 7.0, 7.0]);
        // With x too: two pixels [1, 9] and [5, 3], box (x 2, c 2), nearest, window offsets
        // −1..=0: pixel 0 channel 0 sees {1,1,1,1} → 1; channel 1 {1,9,1,9} → 9 (element 2 of 4).
        let v = Volume::from_vec([1, 1, 2, 2], vec![1.0, 9.0, 5.0, 3.0]).unwrap();
        let out = median_filter_across_channels(&v, [1, 1, 2, 2], MedianBorder::Nearest);
        assert_eq!(out.get(0, 0, 0, 0), 1.0);
        assert_eq!(out.get(0, 0, 0, 1), 9.0);
        // A channel size of 1 is the per-channel filter.
        let v = Volume::from_vec([1, 2, 3, 2], (0..12).map(|i| ((i * 7) % 5) as f32).collect()).unwrap();
        assert_eq!(
            median_filter_across_channels(&v, [1, 3, 3, 1], MedianBorder::Nearest),
            median_filter(&v, [1, 3, 3], MedianBorder::Nearest)
        );
    }
}
