//! Where an array's dimensions go: an [`AxesOrder`] applied to one array's shape, mapping a z
//! range to the array region to read and the region's samples (in the array's own dimension
//! order) to a `(z, y, x, c)` volume, and back for writing. Pure arithmetic: no file access.

use std::ops::Range;

use crate::config::axes::{AxesOrder, Axis};
use crate::data::Volume;

/// An axes order checked against an array's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayLayout {
    order: AxesOrder,
    shape: Vec<u64>,
}

impl ArrayLayout {
    /// Checks that `order` names every dimension of `shape` and that a time axis holds one time
    /// point. The error says what does not fit, without the file or key (the caller adds both).
    pub fn new(order: &AxesOrder, shape: &[u64]) -> Result<Self, String> {
        if order.len() != shape.len() {
            return Err(format!(
                "is {}-dimensional {shape:?}, but the axes order `{order}` names {} dimensions",
                shape.len(),
                order.len()
            ));
        }
        if let Some(t) = order.position(Axis::T)
            && shape[t] != 1
        {
            return Err(format!(
                "has {} time points (axis T of {shape:?} in `{order}`): segsweep reads one, so T must be 1",
                shape[t]
            ));
        }
        Ok(Self { order: order.clone(), shape: shape.to_vec() })
    }

    /// The layout of a new array holding a `(z, y, x, c)` volume in `order` (a `T` of one); an
    /// error when the order has no `C` for several channels.
    pub fn for_volume(order: &AxesOrder, zyxc: [usize; 4]) -> Result<Self, String> {
        if order.position(Axis::C).is_none() && zyxc[3] != 1 {
            return Err(format!("{} channels, but the axes order `{order}` has no C", zyxc[3]));
        }
        let shape = order.axes().iter().map(|&a| Self::along(a, zyxc) as u64).collect();
        Ok(Self { order: order.clone(), shape })
    }

    /// The length of `axis` in a `(z, y, x, c)` shape (1 for `T`).
    fn along(axis: Axis, [z, y, x, c]: [usize; 4]) -> usize {
        match axis {
            Axis::T => 1,
            Axis::Z => z,
            Axis::Y => y,
            Axis::X => x,
            Axis::C => c,
        }
    }

    /// The axes order.
    pub fn order(&self) -> &AxesOrder {
        &self.order
    }

    /// The array's shape.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// `zyxc` (a chunk of a volume) in the array's dimension order.
    pub fn arrange(&self, zyxc: [usize; 4]) -> Vec<u64> {
        self.order.axes().iter().map(|&a| Self::along(a, zyxc) as u64).collect()
    }

    /// Length of `axis` (1 when the order does not name it).
    fn len(&self, axis: Axis) -> usize {
        self.order.position(axis).map_or(1, |i| self.shape[i] as usize)
    }

    /// `(z, y, x, c)` of the whole array.
    pub fn zyxc(&self) -> [usize; 4] {
        [self.len(Axis::Z), self.len(Axis::Y), self.len(Axis::X), self.len(Axis::C)]
    }

    /// The array region holding planes `z` (every y, x and channel; time point 0).
    pub fn region(&self, z: Range<usize>) -> Vec<Range<u64>> {
        self.order
            .axes()
            .iter()
            .zip(&self.shape)
            .map(|(&axis, &n)| match axis {
                Axis::Z => z.start as u64..z.end as u64,
                Axis::T => 0..1,
                _ => 0..n,
            })
            .collect()
    }

    /// For each `(z, y, x, c)` step, the step in the region's samples of `depth` planes
    /// (row-major in the array's dimension order).
    fn strides(&self, depth: usize) -> [usize; 4] {
        let lens: Vec<usize> = self
            .order
            .axes()
            .iter()
            .map(|&a| match a {
                Axis::Z => depth,
                Axis::T => 1,
                other => self.len(other),
            })
            .collect();
        let mut stride = vec![1usize; lens.len()];
        for i in (0..lens.len().saturating_sub(1)).rev() {
            stride[i] = stride[i + 1] * lens[i + 1];
        }
        let of = |axis| self.order.position(axis).map_or(0, |i| stride[i]);
        [of(Axis::Z), of(Axis::Y), of(Axis::X), of(Axis::C)]
    }

    /// True when the region's samples are already `(z, y, x, c)` row-major (T and C aside, the
    /// order is Z, Y, X, then C).
    fn is_zyxc(&self) -> bool {
        let spatial: Vec<Axis> = self.order.axes().iter().copied().filter(|&a| a != Axis::T).collect();
        spatial == [Axis::Z, Axis::Y, Axis::X] || spatial == [Axis::Z, Axis::Y, Axis::X, Axis::C]
    }

    /// The samples of the region of `depth` planes (see [`Self::region`]) as a `(z, y, x, c)`
    /// volume.
    pub fn to_zyxc<T: Copy>(&self, samples: Vec<T>, depth: usize) -> Volume<T> {
        let [_, y, x, c] = self.zyxc();
        let shape = [depth, y, x, c];
        if self.is_zyxc() {
            return Volume::from_vec(shape, samples).expect("the region holds depth·y·x·c samples");
        }
        let [sz, sy, sx, sc] = self.strides(depth);
        let mut out = Vec::with_capacity(samples.len());
        for iz in 0..depth {
            for iy in 0..y {
                for ix in 0..x {
                    let base = iz * sz + iy * sy + ix * sx;
                    out.extend((0..c).map(|ic| samples[base + ic * sc]));
                }
            }
        }
        Volume::from_vec(shape, out).expect("one sample per voxel and channel")
    }

    /// The inverse of [`Self::to_zyxc`]: a `(z, y, x, c)` slab as the samples of its region, in
    /// the array's dimension order.
    pub fn from_zyxc<T: Copy + Default>(&self, slab: &Volume<T>) -> Vec<T> {
        let [depth, y, x, c] = slab.shape();
        if self.is_zyxc() {
            return slab.as_slice().to_vec();
        }
        let [sz, sy, sx, sc] = self.strides(depth);
        let mut out = vec![T::default(); slab.as_slice().len()];
        let mut i = 0;
        for iz in 0..depth {
            for iy in 0..y {
                for ix in 0..x {
                    let base = iz * sz + iy * sy + ix * sx;
                    for ic in 0..c {
                        out[base + ic * sc] = slab.as_slice()[i];
                        i += 1;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(order: &str, shape: &[u64]) -> ArrayLayout {
        ArrayLayout::new(&AxesOrder::parse(order).unwrap(), shape).unwrap()
    }

    #[test]
    fn shapes_and_regions_follow_the_order() {
        let l = layout("TZCYX", &[1, 5, 2, 3, 4]);
        assert_eq!(l.zyxc(), [5, 3, 4, 2]);
        assert_eq!(l.region(1..3), vec![0..1, 1..3, 0..2, 0..3, 0..4]);
        let l = layout("ZYX", &[5, 3, 4]);
        assert_eq!(l.zyxc(), [5, 3, 4, 1]);
        assert_eq!(l.region(4..5), vec![4..5, 0..3, 0..4]);
    }

    #[test]
    fn channel_first_samples_become_channel_last_and_back() {
        // C, Z, Y, X = 2, 2, 1, 3: sample value = c·100 + z·10 + x.
        let l = layout("CZYX", &[2, 2, 1, 3]);
        let mut samples = Vec::new();
        for c in 0..2u16 {
            for z in 0..2u16 {
                for x in 0..3u16 {
                    samples.push(c * 100 + z * 10 + x);
                }
            }
        }
        let v = l.to_zyxc(samples.clone(), 2);
        assert_eq!(v.shape(), [2, 1, 3, 2]);
        assert_eq!(v.get(1, 0, 2, 1), 112);
        assert_eq!(v.get(0, 0, 1, 0), 1);
        assert_eq!(l.from_zyxc(&v), samples);
    }

    #[test]
    fn a_region_of_fewer_planes_uses_its_own_strides() {
        // X, Y, Z = 2, 1, 4 read as planes 1..3 (depth 2): value = x·10 + z.
        let l = layout("XYZ", &[2, 1, 4]);
        let samples: Vec<u8> = vec![1, 2, 11, 12];
        let v = l.to_zyxc(samples.clone(), 2);
        assert_eq!(v.shape(), [2, 1, 2, 1]);
        assert_eq!(v.as_slice(), &[1, 11, 2, 12]);
        assert_eq!(l.from_zyxc(&v), samples);
    }

    #[test]
    fn zyx_orders_are_not_copied_through_the_strides() {
        let l = layout("TZYXC", &[1, 2, 1, 2, 2]);
        let samples: Vec<u8> = (0..8).collect();
        assert_eq!(l.to_zyxc(samples.clone(), 2).into_vec(), samples);
    }

    #[test]
    fn misfits_are_explained() {
        let order = AxesOrder::parse("TZCYX").unwrap();
        let err = ArrayLayout::new(&order, &[5, 3, 4]).unwrap_err();
        assert!(err.contains("is 3-dimensional [5, 3, 4], but the axes order `TZCYX` names 5"), "{err}");
        let err = ArrayLayout::new(&order, &[2, 5, 1, 3, 4]).unwrap_err();
        assert!(err.contains("has 2 time points"), "{err}");
    }
}
