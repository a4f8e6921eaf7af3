//! Raw configuration layers: YAML files and `--set KEY=VALUE` overrides as flat maps of dotted
//! keys to values, exactly as the user wrote them (legacy keys included). Also the pieces of
//! yacs behaviour a BiaPy file relies on: tabs read as two spaces, and strings such as
//! `(256, 256, 1)` read as Python literals.
//!
//! It must not know which keys exist: that is `keys.rs` and `resolve.rs`.
//!
//! ```
//! use segsweep::config::raw::python_literal;
//! assert_eq!(python_literal("(256, 256, 1)"), Some(serde_json::json!([256, 256, 1])));
//! assert_eq!(python_literal("(-1,)"), Some(serde_json::json!([-1])));
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::error::{ConfigError, Origin};

/// One layer of settings: dotted key → value, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct RawLayer {
    pub origin: Origin,
    pub values: BTreeMap<String, Value>,
}

impl RawLayer {
    /// An empty layer.
    pub fn new(origin: Origin) -> Self {
        Self { origin, values: BTreeMap::new() }
    }
}

/// Reads a YAML config file into a flat layer.
pub fn read_yaml_file(path: &Path) -> Result<RawLayer, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    parse_yaml_text(&text, path)
}

/// Parses YAML text (as read from `path`) into a flat layer.
pub fn parse_yaml_text(text: &str, path: &Path) -> Result<RawLayer, ConfigError> {
    let yaml_error = |message: String| ConfigError::Yaml { path: path.to_path_buf(), message };
    // BiaPy replaces every tab by two spaces before parsing (spec §1.1).
    let text = text.replace('\t', "  ");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| yaml_error(e.to_string()))?;
    let value = yaml_to_json(yaml).map_err(yaml_error)?;
    let mut layer = RawLayer::new(Origin::File(path.to_path_buf()));
    match value {
        Value::Null => {}
        Value::Object(_) => flatten("", value, &mut layer.values),
        other => return Err(yaml_error(format!("expected a mapping of keys, found {}", kind(&other)))),
    }
    Ok(layer)
}

/// Parses `--set KEY=VALUE` arguments into a layer; VALUE is read as YAML (`true`, `[1, 2]`, …).
pub fn parse_overrides(args: &[String]) -> Result<RawLayer, ConfigError> {
    let mut layer = RawLayer::new(Origin::Override);
    for arg in args {
        let bad = |message: &str| ConfigError::BadOverride { arg: arg.clone(), message: message.into() };
        let (key, text) = arg.split_once('=').ok_or_else(|| bad("expected KEY=VALUE"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(bad("expected a dotted key such as `DATA.N_CLASSES`"));
        }
        let yaml: serde_yaml::Value = serde_yaml::from_str(text).unwrap_or(serde_yaml::Value::String(text.into()));
        let value = yaml_to_json(yaml).map_err(|m| bad(&m))?;
        match value {
            Value::Object(_) => flatten(&format!("{key}."), value, &mut layer.values),
            value => {
                layer.values.insert(key.to_string(), value);
            }
        }
    }
    Ok(layer)
}

/// Reads a string the way yacs' `literal_eval` would, for keys whose type is not a string:
/// Python tuples and lists, numbers, `True`/`False`/`None`. `None` when it is not a literal.
pub fn python_literal(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    let as_yaml = match trimmed {
        "True" => "true".to_string(),
        "False" => "false".to_string(),
        "None" => "null".to_string(),
        t if t.starts_with('(') || t.starts_with('[') => {
            t.replace('(', "[").replace(')', "]").replace("True", "true").replace("False", "false")
        }
        t => t.to_string(),
    };
    let yaml: serde_yaml::Value = serde_yaml::from_str(&as_yaml).ok()?;
    let value = yaml_to_json(yaml).ok()?;
    match value {
        Value::String(_) | Value::Object(_) => None,
        value => Some(value),
    }
}

/// A short name for the kind of a value, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a float",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Flattens nested mappings into `prefix.KEY` entries; lists and scalars are leaves.
pub fn flatten(prefix: &str, value: Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match child {
                    Value::Object(_) => flatten(&format!("{prefix}{key}."), child, out),
                    leaf => {
                        out.insert(format!("{prefix}{key}"), leaf);
                    }
                }
            }
        }
        leaf => {
            out.insert(prefix.trim_end_matches('.').to_string(), leaf);
        }
    }
}

/// Builds nested mappings back from dotted keys.
pub fn unflatten(values: &BTreeMap<String, Value>) -> Value {
    let mut root = serde_json::Map::new();
    for (key, value) in values {
        let mut node = &mut root;
        let mut parts = key.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                node.insert(part.to_string(), value.clone());
            } else {
                let child = node.entry(part.to_string()).or_insert_with(|| Value::Object(serde_json::Map::new()));
                if !child.is_object() {
                    *child = Value::Object(serde_json::Map::new());
                }
                node = child.as_object_mut().expect("just made an object");
            }
        }
    }
    Value::Object(root)
}

/// A YAML value as JSON; `Err` says why it cannot be one (non-string keys, non-finite numbers).
pub fn yaml_to_json(yaml: serde_yaml::Value) -> Result<Value, String> {
    match yaml {
        serde_yaml::Value::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                let key = match key {
                    serde_yaml::Value::String(s) => s,
                    other => return Err(format!("keys must be strings, found `{other:?}`")),
                };
                out.insert(key, yaml_to_json(value)?);
            }
            Ok(Value::Object(out))
        }
        serde_yaml::Value::Sequence(items) => {
            items.into_iter().map(yaml_to_json).collect::<Result<_, _>>().map(Value::Array)
        }
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(tagged.value),
        serde_yaml::Value::Number(n) => number_to_json(&n),
        other => serde_json::to_value(&other).map_err(|e| e.to_string()),
    }
}

fn number_to_json(n: &serde_yaml::Number) -> Result<Value, String> {
    if let Some(i) = n.as_i64() {
        Ok(Value::from(i))
    } else if let Some(u) = n.as_u64() {
        Ok(Value::from(u))
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        serde_json::Number::from_f64(f).map(Value::Number).ok_or_else(|| format!("`{f}` is not a finite number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> BTreeMap<String, Value> {
        parse_yaml_text(text, Path::new("t.yaml")).unwrap().values
    }

    #[test]
    fn flattens_nested_sections_and_keeps_lists_as_leaves() {
        let values = parse("DATA:\n  PATCH_SIZE: (256, 256, 1)\n  TEST:\n    OVERLAP: [0, 0]\n");
        assert_eq!(values["DATA.PATCH_SIZE"], json!("(256, 256, 1)"));
        assert_eq!(values["DATA.TEST.OVERLAP"], json!([0, 0]));
    }

    #[test]
    fn tabs_read_as_two_spaces_and_exponents_are_numbers() {
        let values = parse("TRAIN:\n\tLR: 1e-4\n\tW: 1.E-3\n");
        assert_eq!(values["TRAIN.LR"], json!(1e-4));
        assert_eq!(values["TRAIN.W"], json!(1e-3));
    }

    #[test]
    fn rejects_a_top_level_list_naming_the_file() {
        let err = parse_yaml_text("- 1\n- 2\n", Path::new("cfg/x.yaml")).unwrap_err();
        assert_eq!(err.to_string(), "config `cfg/x.yaml` is not valid YAML: expected a mapping of keys, found a list");
    }

    #[test]
    fn python_literals() {
        assert_eq!(python_literal("(0.5, 0.5)"), Some(json!([0.5, 0.5])));
        assert_eq!(python_literal("[(0.9, 0.999)]"), Some(json!([[0.9, 0.999]])));
        assert_eq!(python_literal("True"), Some(json!(true)));
        assert_eq!(python_literal("1e-4"), Some(json!(1e-4)));
        assert_eq!(python_literal("onecycle"), None);
    }

    #[test]
    fn overrides_parse_yaml_values() {
        let args = vec!["TRAIN.ENABLE=false".to_string(), "DATA.PATCH_SIZE=[64, 64, 1]".to_string()];
        let layer = parse_overrides(&args).unwrap();
        assert_eq!(layer.values["TRAIN.ENABLE"], json!(false));
        assert_eq!(layer.values["DATA.PATCH_SIZE"], json!([64, 64, 1]));
        let err = parse_overrides(&["TRAIN.ENABLE".to_string()]).unwrap_err();
        assert_eq!(err.to_string(), "`--set TRAIN.ENABLE`: expected KEY=VALUE");
    }

    #[test]
    fn unflatten_inverts_flatten() {
        let values = parse("A:\n  B: 1\n  C:\n    D: [1]\nE: x\n");
        let mut again = BTreeMap::new();
        flatten("", unflatten(&values), &mut again);
        assert_eq!(values, again);
    }
}
