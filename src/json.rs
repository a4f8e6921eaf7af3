//! JSON values with every object's keys in sorted order. In this build serde_json keeps the order
//! keys were inserted in (`zarrs` turns on its `preserve_order` feature for the whole build), so
//! any JSON whose bytes must not depend on insertion order — the stage cache's keys, the
//! safetensors header — is sorted here first. It must not change any value, only key order.

use serde_json::{Map, Value};

/// `value` with the keys of every object, at every depth, sorted.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), sorted(v))).collect::<Map<_, _>>())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_at_every_depth_and_values_kept() {
        let value = serde_json::json!({"z": 1, "a": {"y": [{"d": 1, "c": 2}], "b": null}});
        assert_eq!(serde_json::to_string(&sorted(&value)).unwrap(), r#"{"a":{"b":null,"y":[{"c":2,"d":1}]},"z":1}"#);
        assert_eq!(sorted(&value), value, "equal as values");
    }
}
