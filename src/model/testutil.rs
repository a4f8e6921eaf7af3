//! Test fixtures for the model module: specs from YAML snippets.

use super::ModelSpec;
use crate::config::load_str;

/// The spec of a config made of `yaml` plus `TRAIN.ENABLE: True` (a config must do something).
pub(crate) fn spec(yaml: &str) -> ModelSpec {
    let yaml = format!("TRAIN: {{ENABLE: True}}\n{yaml}");
    let loaded = load_str(&yaml, &[]).expect("valid test config");
    ModelSpec::from_config(&loaded.config).expect("buildable spec")
}
