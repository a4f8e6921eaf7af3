//! [`SlabProgress`]: what a volume written slab by slab has received so far — the checks every
//! slab writer makes (the next slab's plane shape, no plane past the end, every plane before
//! the file is committed) and the most planes one slab carried, which the memory-bound tests
//! read. It must not write anything itself: the TIFF and Zarr writers do.

use std::ops::Range;

/// The planes of a `(z, y, x, c)` volume written so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlabProgress {
    shape: [usize; 4],
    written: usize,
    most: usize,
}

impl SlabProgress {
    /// Nothing written yet of a volume of `shape`.
    pub fn new(shape: [usize; 4]) -> Self {
        Self { shape, written: 0, most: 0 }
    }

    /// The planes a slab of `slab` shape would fill next; an error, in words, when its plane
    /// shape differs or it runs past the last plane.
    pub fn next(&self, slab: [usize; 4]) -> Result<Range<usize>, String> {
        let [n, y, x, c] = slab;
        let [z, fy, fx, fc] = self.shape;
        if [y, x, c] != [fy, fx, fc] || self.written + n > z {
            return Err(format!("a slab of shape {slab:?} after {} of {z} planes of {:?}", self.written, self.shape));
        }
        Ok(self.written..self.written + n)
    }

    /// Records the slab [`Self::next`] admitted as written.
    pub fn advance(&mut self, planes: Range<usize>) {
        self.written = planes.end;
        self.most = self.most.max(planes.len());
    }

    /// True before the first slab.
    pub fn at_start(&self) -> bool {
        self.written == 0
    }

    /// An error, in words, unless every plane was written.
    pub fn complete(&self) -> Result<(), String> {
        if self.written != self.shape[0] {
            return Err(format!("only {} of {} planes were written", self.written, self.shape[0]));
        }
        Ok(())
    }

    /// The most planes one slab carried.
    pub fn max_planes_at_once(&self) -> usize {
        self.most
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slabs_must_fit_and_fill_the_volume() {
        let mut p = SlabProgress::new([5, 2, 3, 1]);
        assert!(p.at_start());
        let first = p.next([2, 2, 3, 1]).unwrap();
        assert_eq!(first, 0..2);
        p.advance(first);
        assert_eq!(p.complete().unwrap_err(), "only 2 of 5 planes were written");
        assert!(p.next([4, 2, 3, 1]).unwrap_err().contains("after 2 of 5 planes"));
        assert!(p.next([1, 3, 3, 1]).is_err(), "another plane shape");
        let rest = p.next([3, 2, 3, 1]).unwrap();
        p.advance(rest);
        assert!(p.complete().is_ok() && !p.at_start());
        assert_eq!(p.max_planes_at_once(), 3);
    }
}
