//! The axes-order keys of Zarr and HDF5 inputs (`DATA.*.INPUT_IMG_AXES_ORDER`,
//! `INPUT_MASK_AXES_ORDER`, D17): which array dimension is time, z, channel, y and x. Parses and
//! validates the text only; the readers in `data::array_io` apply it to an array's shape.

use std::fmt;

/// One named array dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Axis {
    /// `T`: time; segsweep reads one time point, so its length must be 1.
    T,
    /// `Z`: the slices of a 3D stack.
    Z,
    /// `C`: channels.
    C,
    /// `Y`: rows.
    Y,
    /// `X`: columns.
    X,
}

impl Axis {
    fn from_letter(letter: char) -> Option<Self> {
        Some(match letter {
            'T' => Self::T,
            'Z' => Self::Z,
            'C' => Self::C,
            'Y' => Self::Y,
            'X' => Self::X,
            _ => return None,
        })
    }

    /// The axis's letter.
    pub fn letter(self) -> char {
        match self {
            Self::T => 'T',
            Self::Z => 'Z',
            Self::C => 'C',
            Self::Y => 'Y',
            Self::X => 'X',
        }
    }
}

/// A parsed axes order such as `TZCYX` or `ZYX`: one letter per array dimension, slowest first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AxesOrder(Vec<Axis>);

impl AxesOrder {
    /// Parses `text`: the letters `T`, `Z`, `C`, `Y`, `X`, each at most once, `Z`, `Y` and `X`
    /// among them (as BiaPy's readers index them). The error says what is wrong, without the key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut axes = Vec::new();
        for letter in text.chars() {
            let axis = Axis::from_letter(letter)
                .ok_or_else(|| format!("`{text}` has `{letter}`: expected only the letters T, Z, C, Y and X"))?;
            if axes.contains(&axis) {
                return Err(format!("`{text}` names `{letter}` twice"));
            }
            axes.push(axis);
        }
        for needed in [Axis::Z, Axis::Y, Axis::X] {
            if !axes.contains(&needed) {
                return Err(format!("`{text}` has no `{}`: a 3D array needs Z, Y and X", needed.letter()));
            }
        }
        Ok(Self(axes))
    }

    /// The axes, slowest first.
    pub fn axes(&self) -> &[Axis] {
        &self.0
    }

    /// Number of dimensions the order names.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true for a parsed order (it names at least Z, Y and X).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Position of `axis` among the dimensions, if named.
    pub fn position(&self, axis: Axis) -> Option<usize> {
        self.0.iter().position(|&a| a == axis)
    }

    /// The order with a `C` appended when it has none (BiaPy's output arrays always carry one).
    pub fn with_channels(&self) -> Self {
        let mut axes = self.0.clone();
        if !axes.contains(&Axis::C) {
            axes.push(Axis::C);
        }
        Self(axes)
    }
}

impl fmt::Display for AxesOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|a| write!(f, "{}", a.letter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn biapy_orders_parse_and_print_back() {
        for text in ["TZCYX", "TZYXC", "ZCYX", "ZYXC", "ZYX", "XYZ"] {
            let order = AxesOrder::parse(text).unwrap();
            assert_eq!(order.to_string(), text);
            assert_eq!(order.len(), text.len());
        }
        let order = AxesOrder::parse("TZCYX").unwrap();
        assert_eq!(order.position(Axis::C), Some(2));
        assert_eq!(order.position(Axis::X), Some(4));
        assert_eq!(AxesOrder::parse("ZYX").unwrap().with_channels().to_string(), "ZYXC");
        assert_eq!(order.with_channels(), order);
    }

    #[test]
    fn bad_orders_say_why() {
        assert!(AxesOrder::parse("ZYXQ").unwrap_err().contains("has `Q`"));
        assert!(AxesOrder::parse("ZZYX").unwrap_err().contains("names `Z` twice"));
        assert!(AxesOrder::parse("CYX").unwrap_err().contains("has no `Z`"));
        assert!(AxesOrder::parse("").unwrap_err().contains("has no `Z`"));
    }
}
