//! `MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT`'s `model_arch` and `norm` (BiaPy's defaults): with
//! `MODEL.LOAD_CHECKPOINT`, BiaPy takes `MODEL.*` — except `BMZ`, `OUT_CHECKPOINT_FORMAT` and
//! `SKIP_UNMATCHED_LAYERS` — and `DATA.NORMALIZATION.*` from the config saved in the checkpoint,
//! over the user's own values. [`checkpoint_layer`] turns such a saved config into the layer that
//! does the same here, on top of the file and the overrides; only keys segsweep knows are taken.
//!
//! Must not: read the checkpoint (the caller hands its config over).

use std::path::Path;

use serde_json::Value;

use super::error::Origin;
use super::keys::known;
use super::raw::RawLayer;

/// `MODEL` keys BiaPy keeps from the current config when it takes the checkpoint's.
const KEPT: [&str; 4] =
    ["MODEL.BMZ.", "MODEL.OUT_CHECKPOINT_FORMAT", "MODEL.SKIP_UNMATCHED_LAYERS", "MODEL.LOAD_CHECKPOINT"];

/// The layer of `saved` (the checkpoint `file`'s config) for `items`, with BiaPy's line for each
/// part taken; `None` when `items` asks for neither part.
pub fn checkpoint_layer(saved: &Value, items: &[String], file: &Path) -> Option<(RawLayer, Vec<String>)> {
    let mut parts = Vec::new();
    if items.iter().any(|i| i == "norm") {
        parts.push(("DATA.NORMALIZATION", "Normalization instructions will be loaded from checkpoint."));
    }
    if items.iter().any(|i| i == "model_arch") {
        parts.push(("MODEL", "Model architecture will be loaded from checkpoint."));
    }
    if parts.is_empty() {
        return None;
    }
    let mut layer = RawLayer::new(Origin::File(file.to_path_buf()));
    let mut lines =
        vec![format!("Checkpoint file loaded. Extracting the following items (if available): {} .", items.join(", "))];
    for (section, line) in parts {
        let mut at = saved;
        for part in section.split('.') {
            at = &at[part];
        }
        let mut flat = Vec::new();
        flatten(section, at, &mut flat);
        for (key, value) in flat {
            let kept = KEPT.iter().any(|k| key.starts_with(k));
            if !kept && !value.is_null() && known().contains_key(&key) {
                layer.values.insert(key, value);
            }
        }
        lines.push(line.to_string());
    }
    Some((layer, lines))
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn takes_the_model_and_normalization_but_keeps_what_biapy_keeps() {
        let saved = json!({
            "MODEL": {"ARCHITECTURE": "resunet", "FEATURE_MAPS": [8, 16], "OUT_CHECKPOINT_FORMAT": "pth",
                      "BMZ": {"SOURCE_MODEL_ID": "x"}, "MAE_DEC_HIDDEN_SIZE": 3, "DROPOUT_VALUES": null},
            "DATA": {"NORMALIZATION": {"TYPE": "div"}, "PATCH_SIZE": [64, 64, 1]},
        });
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (layer, lines) =
            checkpoint_layer(&saved, &items(&["weights", "norm", "model_arch"]), Path::new("c.pth")).unwrap();
        let keys: Vec<&str> = layer.values.keys().map(String::as_str).collect();
        assert_eq!(keys, ["DATA.NORMALIZATION.TYPE", "MODEL.ARCHITECTURE", "MODEL.FEATURE_MAPS"]);
        assert_eq!(layer.values["MODEL.ARCHITECTURE"], json!("resunet"));
        assert_eq!(lines.len(), 3);
        assert!(lines[0].contains("weights, norm, model_arch"));
        let (layer, _) = checkpoint_layer(&saved, &items(&["norm"]), Path::new("c.pth")).unwrap();
        assert_eq!(layer.values.keys().collect::<Vec<_>>(), ["DATA.NORMALIZATION.TYPE"]);
        assert!(checkpoint_layer(&saved, &items(&["weights"]), Path::new("c.pth")).is_none());
    }
}
