//! [`Volume`]: the one array type for images and masks, 2D and 3D alike.
//!
//! Axis order is `(z, y, x, c)`, channels last as in BiaPy's NumPy side, with `z = 1` for 2D
//! images, so 2D and 3D share every code path. Data are stored row-major (c fastest). This module
//! owns shape bookkeeping only: no I/O, no normalisation.
//!
//! ```
//! use segsweep::data::Volume;
//! let v = Volume::from_vec([1, 2, 3, 1], (0u8..6).collect()).unwrap();
//! assert_eq!(v.get(0, 1, 2, 0), 5);
//! assert!(v.is_2d());
//! ```

/// A dense `(z, y, x, c)` array.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume<T> {
    shape: [usize; 4],
    data: Vec<T>,
}

/// The `(z, y, x, c)` shape did not match the number of elements given.
#[derive(Debug, thiserror::Error)]
#[error("shape {shape:?} needs {expected} elements, got {got}")]
pub struct ShapeError {
    /// The requested `(z, y, x, c)` shape.
    pub shape: [usize; 4],
    /// Product of the shape.
    pub expected: usize,
    /// Elements supplied.
    pub got: usize,
}

impl<T> Volume<T> {
    /// Wraps `data` laid out as `(z, y, x, c)` row-major.
    pub fn from_vec(shape: [usize; 4], data: Vec<T>) -> Result<Self, ShapeError> {
        let expected = shape.iter().product();
        if expected != data.len() {
            return Err(ShapeError { shape, expected, got: data.len() });
        }
        Ok(Self { shape, data })
    }

    /// `(z, y, x, c)`.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// `(z, y, x)`, the spatial part of the shape.
    pub fn spatial_shape(&self) -> [usize; 3] {
        [self.shape[0], self.shape[1], self.shape[2]]
    }

    /// Number of channels.
    pub fn n_channels(&self) -> usize {
        self.shape[3]
    }

    /// True when `z == 1`.
    pub fn is_2d(&self) -> bool {
        self.shape[0] == 1
    }

    /// The elements, `(z, y, x, c)` row-major.
    pub fn as_slice(&self) -> &[T] {
        &self.data
    }

    /// The elements, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the volume, returning its elements.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// Flat index of `(z, y, x, c)`.
    pub fn index(&self, z: usize, y: usize, x: usize, c: usize) -> usize {
        let [_, ny, nx, nc] = self.shape;
        ((z * ny + y) * nx + x) * nc + c
    }

    /// Applies `f` to every element.
    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> Volume<U> {
        Volume { shape: self.shape, data: self.data.iter().map(f).collect() }
    }
}

impl<T: Copy> Volume<T> {
    /// A volume filled with `value`.
    pub fn filled(shape: [usize; 4], value: T) -> Self {
        Self { shape, data: vec![value; shape.iter().product()] }
    }

    /// Element at `(z, y, x, c)`.
    pub fn get(&self, z: usize, y: usize, x: usize, c: usize) -> T {
        self.data[self.index(z, y, x, c)]
    }

    /// Sets the element at `(z, y, x, c)`.
    pub fn set(&mut self, z: usize, y: usize, x: usize, c: usize, value: T) {
        let i = self.index(z, y, x, c);
        self.data[i] = value;
    }

    /// Channel `c` as a single-channel volume.
    pub fn channel(&self, c: usize) -> Volume<T> {
        let nc = self.shape[3];
        let data = self.data.iter().skip(c).step_by(nc).copied().collect();
        let [z, y, x, _] = self.shape;
        Volume { shape: [z, y, x, 1], data }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_length() {
        let err = Volume::from_vec([1, 2, 2, 1], vec![0u8; 3]).unwrap_err();
        assert_eq!(err.to_string(), "shape [1, 2, 2, 1] needs 4 elements, got 3");
    }

    #[test]
    fn index_is_channels_last_row_major() {
        let v = Volume::from_vec([2, 2, 3, 2], (0u16..24).collect()).unwrap();
        assert_eq!(v.get(1, 0, 0, 0), 12);
        assert_eq!(v.get(0, 1, 2, 1), 11);
        assert_eq!(v.channel(1).as_slice(), &[1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
    }
}
