//! `DATA.{TRAIN,VAL,TEST}.FILTER_SAMPLES` as typed rules (spec §3.9): the property names, signs
//! and values of the config, checked and parsed. The sample properties themselves are measured
//! by `data::filter`.
//!
//! Must not: look at data.

use super::schema::FilterSamples;

/// A property of a sample that a condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prop {
    Foreground,
    Mean,
    Min,
    Max,
    Diff,
    DiffByMinMaxRatio,
    DiffByTargetMinMaxRatio,
    TargetMean,
    TargetMin,
    TargetMax,
}

/// The property names BiaPy accepts, in its documentation's order.
pub const PROP_NAMES: [&str; 10] = [
    "foreground",
    "mean",
    "min",
    "max",
    "diff",
    "diff_by_min_max_ratio",
    "diff_by_target_min_max_ratio",
    "target_mean",
    "target_min",
    "target_max",
];

impl Prop {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "foreground" => Self::Foreground,
            "mean" => Self::Mean,
            "min" => Self::Min,
            "max" => Self::Max,
            "diff" => Self::Diff,
            "diff_by_min_max_ratio" => Self::DiffByMinMaxRatio,
            "diff_by_target_min_max_ratio" => Self::DiffByTargetMinMaxRatio,
            "target_mean" => Self::TargetMean,
            "target_min" => Self::TargetMin,
            "target_max" => Self::TargetMax,
            _ => return None,
        })
    }

    /// Whether the property reads the mask.
    pub fn needs_mask(self) -> bool {
        !matches!(self, Self::Mean | Self::Min | Self::Max)
    }
}

/// The comparison of a condition: `gt` (>), `ge` (>=), `lt` (<), `le` (<=).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Sign {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }

    /// Whether `value sign limit` holds.
    pub fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Self::Gt => value > limit,
            Self::Ge => value >= limit,
            Self::Lt => value < limit,
            Self::Le => value <= limit,
        }
    }
}

/// One condition: `prop sign value`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    pub prop: Prop,
    pub sign: Sign,
    pub value: f64,
}

/// The parsed conditions of one phase's `FILTER_SAMPLES`: groups joined by "or", conditions in a
/// group by "and".
#[derive(Clone, Debug, PartialEq)]
pub struct FilterRules {
    pub groups: Vec<Vec<Condition>>,
    /// `NORM_BEFORE`: measure the normalised image.
    pub norm_before: bool,
}

/// A `FILTER_SAMPLES` setting that cannot be used: the full key and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct FilterError {
    pub key: String,
    pub message: String,
}

impl FilterRules {
    /// The rules of `config` (`key` is its prefix, e.g. `DATA.TRAIN.FILTER_SAMPLES`, for the
    /// errors); `Ok(None)` when filtering is off. An error names the key and what was expected.
    pub fn from_config(config: &FilterSamples, key: &str) -> Result<Option<Self>, FilterError> {
        let fail = |sub: &str, message: String| FilterError { key: format!("{key}.{sub}"), message };
        if !config.enable {
            return Ok(None);
        }
        if config.props.is_empty() {
            return Err(fail("PROPS", format!("is empty but `{key}.ENABLE` is True: give at least one condition")));
        }
        if config.props.len() != config.values.len() || config.props.len() != config.signs.len() {
            return Err(fail(
                "PROPS",
                format!(
                    "`PROPS`, `VALUES` and `SIGNS` must have the same number of groups, found {}, {} and {}",
                    config.props.len(),
                    config.values.len(),
                    config.signs.len()
                ),
            ));
        }
        let mut groups = Vec::with_capacity(config.props.len());
        for (i, ((props, values), signs)) in config.props.iter().zip(&config.values).zip(&config.signs).enumerate() {
            if props.is_empty() || props.len() != values.len() || props.len() != signs.len() {
                return Err(fail(
                    "PROPS",
                    format!(
                        "group {i} of `PROPS`, `VALUES` and `SIGNS` has {}, {} and {} entries: expected the same \
                     number, at least one",
                        props.len(),
                        values.len(),
                        signs.len()
                    ),
                ));
            }
            let mut group = Vec::with_capacity(props.len());
            for ((prop, &value), sign) in props.iter().zip(values).zip(signs) {
                let prop = Prop::parse(prop).ok_or_else(|| {
                    fail("PROPS", format!("unknown property `{prop}`; expected one of {}", PROP_NAMES.join(", ")))
                })?;
                let sign = Sign::parse(sign)
                    .ok_or_else(|| fail("SIGNS", format!("unknown sign `{sign}`; expected one of gt, ge, lt, le")))?;
                if !value.is_finite() {
                    return Err(fail("VALUES", format!("{value} is not a finite number")));
                }
                group.push(Condition { prop, sign, value });
            }
            groups.push(group);
        }
        Ok(Some(Self { groups, norm_before: config.norm_before }))
    }

    /// Whether any condition reads the mask.
    pub fn needs_mask(&self) -> bool {
        self.groups.iter().flatten().any(|c| c.prop.needs_mask())
    }
}

/// An enabled `FILTER_SAMPLES` of the given groups (tests here and in `data::filter`).
#[cfg(test)]
pub(crate) fn example(props: &[&[&str]], values: &[&[f64]], signs: &[&[&str]]) -> FilterSamples {
    let strings = |v: &[&[&str]]| v.iter().map(|g| g.iter().map(|s| s.to_string()).collect()).collect();
    FilterSamples {
        enable: true,
        props: strings(props),
        values: values.iter().map(|g| g.to_vec()).collect(),
        signs: strings(signs),
        norm_before: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::example as config;

    #[test]
    fn off_and_bad_configs() {
        let mut off = config(&[&["mean"]], &[&[1.0]], &[&["lt"]]);
        off.enable = false;
        assert_eq!(FilterRules::from_config(&off, "K"), Ok(None));
        let bad = |c: FilterSamples| FilterRules::from_config(&c, "DATA.VAL.FILTER_SAMPLES").unwrap_err().to_string();
        assert!(bad(config(&[], &[], &[])).contains("`DATA.VAL.FILTER_SAMPLES.PROPS`: is empty"));
        assert!(bad(config(&[&["mean"]], &[], &[&["lt"]])).contains("same number of groups"));
        assert!(bad(config(&[&["mean", "max"]], &[&[1.0]], &[&["lt", "gt"]])).contains("group 0"));
        let unknown = bad(config(&[&["median"]], &[&[1.0]], &[&["lt"]]));
        assert!(unknown.contains("`median`") && unknown.contains("target_max"), "{unknown}");
        assert!(
            bad(config(&[&["mean"]], &[&[1.0]], &[&["eq"]]))
                .contains("`DATA.VAL.FILTER_SAMPLES.SIGNS`: unknown sign `eq`")
        );
    }
}
