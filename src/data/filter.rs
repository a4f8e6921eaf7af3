//! Sample filtering (`DATA.{TRAIN,VAL,TEST}.FILTER_SAMPLES`, spec §3.9): the properties of one
//! sample (a patch, or a whole image) and the decision to drop it under the config's
//! [`FilterRules`].
//!
//! A sample is dropped when **any** group of conditions holds with **all** its conditions — as
//! BiaPy's `sample_satisfy_conds`. Properties: `foreground` (fraction of mask voxels > 0), `mean`,
//! `min`, `max` of the image (all channels), `target_mean/min/max` of the mask, `diff` (sum of
//! |image − mask| over voxels and channels), and `diff` times the image's or the mask's value
//! range (`diff_by_min_max_ratio`, `diff_by_target_min_max_ratio`; the range is the whole
//! image's, as BiaPy measures it).
//!
//! Owns: [`measure`] and [`discards`]. Must not: read files, normalise, or choose what a sample
//! is — the training setup and the test phase decide that.
//!
//! ```
//! use segsweep::config::{FilterRules, FilterSamples};
//! use segsweep::data::filter::{Ranges, discards};
//! let config = FilterSamples {
//!     enable: true,
//!     props: vec![vec!["foreground".into()]],
//!     values: vec![vec![0.1]],
//!     signs: vec![vec!["lt".into()]],
//!     norm_before: false,
//! };
//! let rules = FilterRules::from_config(&config, "DATA.TRAIN.FILTER_SAMPLES").unwrap().unwrap();
//! // 1 of 20 mask voxels is foreground: 0.05 < 0.1, so the sample is dropped.
//! let image = vec![0.5f32; 20];
//! let mut mask = vec![0u16; 20];
//! mask[3] = 1;
//! assert!(discards(&rules, &image, Some(&mask), Ranges::default()));
//! ```

use crate::config::{FilterRules, Prop};

/// The value ranges (max − min) of the whole image and mask a sample comes from, for the
/// `diff_by_*_ratio` properties.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ranges {
    pub image: f64,
    pub mask: f64,
}

impl Ranges {
    /// The ranges of a whole image and its mask.
    pub fn of(image: &[f32], mask: Option<&[u16]>) -> Self {
        let range = |values: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
            if lo.is_finite() { hi - lo } else { 0.0 }
        };
        Self {
            image: range(&mut image.iter().map(|&v| f64::from(v))),
            mask: mask.map_or(0.0, |m| range(&mut m.iter().map(|&v| f64::from(v)))),
        }
    }
}

/// Whether the sample — `image` values (all channels), `mask` labels (one per voxel) — is
/// dropped. A property that needs the mask is false without one.
pub fn discards(rules: &FilterRules, image: &[f32], mask: Option<&[u16]>, ranges: Ranges) -> bool {
    let props = measure(image, mask, ranges);
    rules.groups.iter().any(|group| group.iter().all(|c| props.get(c.prop).is_some_and(|v| c.sign.holds(v, c.value))))
}

/// The properties of one sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// The mask's properties, when there is a mask.
    pub target: Option<Target>,
    pub ranges: Ranges,
}

/// The properties that read the mask.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    /// Fraction of mask voxels above 0.
    pub foreground: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Sum of |image − mask| over voxels and channels.
    pub diff: f64,
}

impl Measured {
    /// The value of `prop`; `None` for a mask property without a mask.
    pub fn get(&self, prop: Prop) -> Option<f64> {
        let target = self.target;
        Some(match prop {
            Prop::Mean => self.mean,
            Prop::Min => self.min,
            Prop::Max => self.max,
            Prop::Foreground => target?.foreground,
            Prop::TargetMean => target?.mean,
            Prop::TargetMin => target?.min,
            Prop::TargetMax => target?.max,
            Prop::Diff => target?.diff,
            Prop::DiffByMinMaxRatio => target?.diff * self.ranges.image,
            Prop::DiffByTargetMinMaxRatio => target?.diff * self.ranges.mask,
        })
    }
}

/// Measures a sample: `image` holds `channels = image.len() / mask.len()` values per voxel,
/// channel-last, `mask` one label per voxel.
pub fn measure(image: &[f32], mask: Option<&[u16]>, ranges: Ranges) -> Measured {
    let (mut sum, mut min, mut max) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &v in image {
        let v = f64::from(v);
        sum += v;
        min = min.min(v);
        max = max.max(v);
    }
    let mean = if image.is_empty() { 0.0 } else { sum / image.len() as f64 };
    let target = mask.filter(|m| !m.is_empty()).map(|mask| {
        let channels = (image.len() / mask.len()).max(1);
        let (mut fg, mut sum, mut lo, mut hi, mut diff) = (0usize, 0.0f64, u16::MAX, 0u16, 0.0f64);
        for (voxel, &label) in mask.iter().enumerate() {
            fg += usize::from(label > 0);
            sum += f64::from(label);
            lo = lo.min(label);
            hi = hi.max(label);
            for c in 0..channels {
                let value = image.get(voxel * channels + c).copied().unwrap_or(0.0);
                diff += (f64::from(value) - f64::from(label)).abs();
            }
        }
        let n = mask.len() as f64;
        Target { foreground: fg as f64 / n, mean: sum / n, min: f64::from(lo), max: f64::from(hi), diff }
    });
    Measured { mean, min, max, target, ranges }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Prop;
    use crate::config::filter::example as config;

    fn rules(props: &[&[&str]], values: &[&[f64]], signs: &[&[&str]]) -> FilterRules {
        FilterRules::from_config(&config(props, values, signs), "DATA.TRAIN.FILTER_SAMPLES").unwrap().unwrap()
    }

    #[test]
    fn properties_by_hand() {
        // Two channels, two voxels: image [1, 3 | 5, 7], mask [0, 2].
        let m = measure(&[1.0, 3.0, 5.0, 7.0], Some(&[0, 2]), Ranges { image: 6.0, mask: 2.0 });
        assert_eq!((m.mean, m.min, m.max), (4.0, 1.0, 7.0));
        assert_eq!(m.get(Prop::Foreground), Some(0.5));
        assert_eq!(m.get(Prop::TargetMean), Some(1.0));
        assert_eq!((m.get(Prop::TargetMin), m.get(Prop::TargetMax)), (Some(0.0), Some(2.0)));
        // |1-0| + |3-0| + |5-2| + |7-2| = 12
        assert_eq!(m.get(Prop::Diff), Some(12.0));
        assert_eq!(m.get(Prop::DiffByMinMaxRatio), Some(72.0));
        assert_eq!(m.get(Prop::DiffByTargetMinMaxRatio), Some(24.0));
        assert_eq!(measure(&[1.0], None, Ranges::default()).get(Prop::Foreground), None);
    }

    #[test]
    fn any_group_all_conditions() {
        let r = rules(&[&["max"], &["foreground", "mean"]], &[&[10.0], &[0.2, 0.5]], &[&["gt"], &["lt", "ge"]]);
        let mask = [0u16, 0, 0, 1, 0];
        // max 11 > 10: the first group drops it.
        assert!(discards(&r, &[11.0, 0.0, 0.0, 0.0, 0.0], Some(&mask), Ranges::default()));
        // foreground 0.2 is not < 0.2: the second group does not hold.
        assert!(!discards(&r, &[1.0; 5], Some(&mask), Ranges::default()));
        // foreground 0 < 0.2 and mean 1 >= 0.5: dropped.
        assert!(discards(&r, &[1.0; 5], Some(&[0; 5]), Ranges::default()));
        // mean 0.4 < 0.5: kept.
        assert!(!discards(&r, &[0.4; 5], Some(&[0; 5]), Ranges::default()));
    }

    #[test]
    fn signs_at_the_limit() {
        for (sign, at_limit) in [("gt", false), ("ge", true), ("lt", false), ("le", true)] {
            let r = rules(&[&["mean"]], &[&[2.0]], &[&[sign]]);
            assert_eq!(discards(&r, &[2.0, 2.0], None, Ranges::default()), at_limit, "{sign}");
        }
    }

    #[test]
    fn mask_properties_without_a_mask_never_hold() {
        let r = rules(&[&["foreground"]], &[&[1.0]], &[&["lt"]]);
        assert!(r.needs_mask());
        assert!(!discards(&r, &[0.0; 4], None, Ranges::default()));
        assert!(!rules(&[&["min"]], &[&[1.0]], &[&["lt"]]).needs_mask());
    }

    #[test]
    fn ranges_of_a_whole_image() {
        let r = Ranges::of(&[2.0, -1.0, 5.0], Some(&[0, 3]));
        assert_eq!(r, Ranges { image: 6.0, mask: 3.0 });
        assert_eq!(Ranges::of(&[], None), Ranges::default());
    }
}
