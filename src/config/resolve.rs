//! From raw layers to a [`Config`]: legacy translation, key classification (canonical, foreign,
//! unknown), yacs-style value coercion, per-key type checks, the layered merge
//! defaults ← file ← `--set` (figment), the derived defaults of BiaPy's `check_configuration`
//! (spec §1.7, first table) and finally the consistency checks of `check.rs`.
//!
//! Every problem found on the way is collected, so one call reports all of them.

use std::collections::BTreeMap;

use figment::Figment;
use figment::providers::Serialized;
use serde_json::Value;

use super::error::{ConfigError, Origin, Problem};
use super::raw::{RawLayer, kind, python_literal, unflatten};
use super::schema::{Config, Ndim};
use super::{check, keys, legacy};

/// A recognised key that segsweep accepts and ignores (D14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredKey {
    pub key: String,
    pub origin: Origin,
    /// Why it has no effect.
    pub reason: String,
}

/// A resolved configuration and what resolving it said.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    /// Legacy translations applied (D1).
    pub notes: Vec<String>,
    /// Keys accepted without effect (D14).
    pub ignored: Vec<IgnoredKey>,
    /// For each key set by the user, the layer that set it last.
    pub origins: BTreeMap<String, Origin>,
    /// Valid BiaPy settings segsweep does not implement (only from
    /// [`resolve_allowing_unsupported`]; [`resolve`] refuses them).
    pub unsupported: Vec<Problem>,
}

/// Resolves `layers` (lowest priority first) on top of the defaults. A setting segsweep does not
/// implement is an error, as is every invalid one.
pub fn resolve(layers: Vec<RawLayer>) -> Result<Loaded, ConfigError> {
    let loaded = resolve_allowing_unsupported(layers)?;
    if loaded.unsupported.is_empty() { Ok(loaded) } else { Err(ConfigError::Invalid(loaded.unsupported)) }
}

/// Like [`resolve`], but a valid BiaPy config that uses features segsweep does not implement is
/// returned (with those listed in [`Loaded::unsupported`]) instead of refused: what
/// `segsweep config check` needs to accept any BiaPy template.
pub fn resolve_allowing_unsupported(layers: Vec<RawLayer>) -> Result<Loaded, ConfigError> {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut ignored = Vec::new();
    let mut origins = BTreeMap::new();
    let mut figment = Figment::from(Serialized::defaults(Config::default()));
    for mut layer in layers {
        let translation = legacy::translate(&mut layer);
        notes.extend(translation.notes);
        problems.extend(translation.problems);
        let accepted = classify(layer, &mut problems, &mut ignored);
        for (key, (value, origin)) in &accepted {
            match type_error(key, value) {
                Some(message) => problems.push(Problem::new(key.as_str(), origin, message)),
                None => {
                    origins.insert(key.clone(), origin.clone());
                }
            }
        }
        let values = accepted.into_iter().map(|(k, (v, _))| (k, v)).collect();
        figment = figment.merge(Serialized::defaults(unflatten(&values)));
    }
    let (mut unsupported, hard): (Vec<Problem>, Vec<Problem>) = problems.iter().cloned().partition(|p| p.unsupported);
    if !hard.is_empty() {
        return Err(ConfigError::Invalid(problems));
    }
    let mut config: Config = figment.extract().map_err(|e| {
        ConfigError::Invalid(vec![Problem::new(e.path.join("."), &Origin::Derived, e.kind.to_string())])
    })?;
    fill_derived(&mut config);
    let checked = check::check(&config, &origins);
    if checked.iter().any(|p| !p.unsupported) {
        unsupported.extend(checked);
        return Err(ConfigError::Invalid(unsupported));
    }
    unsupported.extend(checked);
    Ok(Loaded { config, notes, ignored, origins, unsupported })
}

/// Splits a translated layer into canonical keys (coerced), ignored keys and problems.
fn classify(
    layer: RawLayer,
    problems: &mut Vec<Problem>,
    ignored: &mut Vec<IgnoredKey>,
) -> BTreeMap<String, (Value, Origin)> {
    let mut accepted = BTreeMap::new();
    for (key, value) in layer.values {
        if let Some(default) = keys::known().get(&key) {
            let value = coerce(&key, value, default);
            accepted.insert(key, (value, layer.origin.clone()));
        } else if keys::is_section(&key) && value.is_null() {
            // An empty section (`DATA:` with nothing under it).
        } else if let Some(foreign) = keys::foreign(&key) {
            if value == Value::Bool(true) && !foreign.prefix.starts_with("PROBLEM.") {
                let message = format!(
                    "is for {}; segsweep does not implement it (set it to False or remove it)",
                    foreign.belongs_to
                );
                problems.push(Problem::unsupported(key.as_str(), &layer.origin, message));
            }
            ignored.push(IgnoredKey { key, origin: layer.origin.clone(), reason: foreign.belongs_to.to_string() });
        } else {
            problems.push(unknown_key(&key, &value, &layer.origin));
        }
    }
    accepted
}

fn unknown_key(key: &str, value: &Value, origin: &Origin) -> Problem {
    let message = if keys::is_section(key) {
        format!("is a section, but has {} instead of keys", kind(value))
    } else {
        match keys::suggest(key) {
            Some(near) => format!("unknown key (did you mean `{near}`?)"),
            None => "unknown key".to_string(),
        }
    };
    Problem::new(key, origin, message)
}

/// yacs reads strings as Python literals when the key is not a string; names are normalised
/// the way BiaPy does (loss names upper-case, metric names lower-case).
fn coerce(key: &str, value: Value, default: &Value) -> Value {
    let value = match value {
        Value::String(s) if !default.is_string() => python_literal(&s).unwrap_or(Value::String(s)),
        value => value,
    };
    let map_strings = |value: Value, f: fn(&str) -> String| match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Value::String(f(&s)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    };
    match key {
        "LOSS.TYPE" => map_strings(value, str::to_uppercase),
        "TRAIN.METRICS" | "TEST.METRICS" => map_strings(value, str::to_lowercase),
        "MODEL.NORMALIZATION" if value == Value::String(String::new()) => Value::String("in".into()),
        _ => value,
    }
}

/// The type error of setting `key` to `value` alone on top of the defaults, if any.
fn type_error(key: &str, value: &Value) -> Option<String> {
    let single = BTreeMap::from([(key.to_string(), value.clone())]);
    Figment::from(Serialized::defaults(Config::default()))
        .merge(Serialized::defaults(unflatten(&single)))
        .extract::<Config>()
        .err()
        .map(|e| e.kind.to_string())
}

/// BiaPy's auto-filled values (spec §1.7, first table).
pub fn fill_derived(config: &mut Config) {
    let n_axes = config.problem.ndim.n_axes();
    if config.problem.ndim == Ndim::D3 {
        let data = &mut config.data;
        for overlap in [&mut data.train.overlap, &mut data.val.overlap, &mut data.test.overlap] {
            if *overlap == [0.0, 0.0] {
                *overlap = vec![0.0; 3];
            }
        }
        for padding in [&mut data.train.padding, &mut data.val.padding, &mut data.test.padding] {
            if *padding == [0, 0] {
                *padding = vec![0; 3];
            }
        }
    }
    let data = &mut config.data;
    for resolution in [&mut data.train.resolution, &mut data.val.resolution, &mut data.test.resolution] {
        if *resolution == [-1.0] {
            *resolution = vec![1.0; n_axes];
        }
    }
    for metrics in [&mut config.train.metrics, &mut config.test.metrics] {
        if metrics.is_empty() {
            *metrics = vec!["iou".into()];
        }
    }
    let loss = &mut config.loss;
    if loss.r#type.is_empty() {
        loss.r#type = vec!["CE".into()];
    }
    if loss.weights.is_empty() {
        loss.weights = vec![1.0; loss.r#type.len()];
    }
    fill_model(config);
}

fn fill_model(config: &mut Config) {
    let model = &mut config.model;
    let n_levels = model.feature_maps.len();
    if model.dropout_values.iter().all(|&p| p == 0.0) && model.dropout_values.len() != n_levels {
        model.dropout_values = vec![0.0; n_levels];
    }
    for downs in [&mut model.yx_down, &mut model.z_down] {
        if downs.iter().all(|&d| d == 0) {
            *downs = vec![2; n_levels.saturating_sub(1)];
        }
    }
    if model.isotropy.iter().all(|&b| b) {
        model.isotropy = vec![true; n_levels];
    }
    let layers = &model.conv_layers;
    let uniform = layers.windows(2).all(|w| w[0] == w[1]);
    if layers.is_empty() {
        model.conv_layers = vec![2; n_levels];
    } else if uniform && layers.len() != n_levels {
        model.conv_layers = vec![layers[0]; n_levels];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::{parse_overrides, parse_yaml_text};
    use std::path::Path;

    fn load(yaml: &str) -> Result<Loaded, ConfigError> {
        resolve(vec![parse_yaml_text(yaml, Path::new("c.yaml")).unwrap()])
    }

    #[test]
    fn defaults_resolve_without_problems() {
        let loaded = load("TRAIN:\n  ENABLE: True\n").unwrap();
        assert_eq!(loaded.config.loss.r#type, vec!["CE"]);
        assert_eq!(loaded.config.model.z_down, vec![2; 4]);
        assert_eq!(loaded.config.data.train.resolution, vec![1.0, 1.0]);
    }

    #[test]
    fn overrides_win_over_the_file() {
        let file = parse_yaml_text("TRAIN:\n  ENABLE: True\n  EPOCHS: 5\n", Path::new("c.yaml")).unwrap();
        let set = parse_overrides(&["TRAIN.EPOCHS=7".into()]).unwrap();
        let loaded = resolve(vec![file, set]).unwrap();
        assert_eq!(loaded.config.train.epochs, 7);
        assert_eq!(loaded.origins["TRAIN.EPOCHS"], Origin::Override);
    }

    #[test]
    fn tuples_in_strings_ints_as_floats_and_exponents() {
        let yaml = "TRAIN:\n  ENABLE: True\n  LR: 1e-3\n  W_DECAY: 0\nDATA:\n  PATCH_SIZE: (128, 128, 1)\n";
        let config = load(yaml).unwrap().config;
        assert_eq!(config.data.patch_size, vec![128, 128, 1]);
        assert_eq!(config.train.lr, vec![1e-3]);
        assert_eq!(config.train.w_decay, 0.0);
    }

    #[test]
    fn unknown_key_names_the_file_and_the_closest_key() {
        let err = load("TRAIN:\n  ENABLE: True\n  EPOCH: 3\n").unwrap_err();
        assert_eq!(err.to_string(), "`TRAIN.EPOCH` (in `c.yaml`): unknown key (did you mean `TRAIN.EPOCHS`?)");
    }

    #[test]
    fn wrong_type_names_the_key_and_what_was_expected() {
        let err = load("TRAIN:\n  ENABLE: yes please\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`TRAIN.ENABLE` (in `c.yaml`): invalid type: found string \"yes please\", expected a boolean"
        );
    }

    #[test]
    fn every_problem_is_listed() {
        let err = load("TRAIN:\n  ENABLE: 3\n  EPOCHS: x\nFOO: 1\n").unwrap_err();
        assert_eq!(err.problems().len(), 3, "{err}");
    }

    #[test]
    fn foreign_keys_are_ignored_unless_switched_on() {
        let loaded = load("TRAIN:\n  ENABLE: True\nPROBLEM:\n  INSTANCE_SEG:\n    DATA_CHANNELS: BC\n").unwrap();
        assert_eq!(loaded.ignored[0].key, "PROBLEM.INSTANCE_SEG.DATA_CHANNELS");
        let err = load("TRAIN:\n  ENABLE: True\nTEST:\n  POST_PROCESSING:\n    FILL_HOLES: True\n").unwrap_err();
        assert!(err.to_string().contains("segsweep does not implement it"), "{err}");
    }
}
