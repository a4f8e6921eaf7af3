//! `segsweep why MANIFEST RUN`: for each stage of one run of the grid, whether it is cached and,
//! when it is not, which inputs differ from the nearest cached entry of that stage (the one with
//! the fewest differing inputs) — e.g. a data folder that changed since it was cached.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::cache::{Cache, Stage};
use super::driver::run_config;
use super::exec::{DataHashes, stage_keys};
use super::grid::expand;
use super::manifest::{load_manifest, validate};
use crate::config::raw::flatten;
use crate::device::DeviceKind;

/// Differences `key: cached → wanted` between two inputs documents.
pub fn differences(cached: &Value, wanted: &Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", cached.clone(), &mut a);
    flatten("", wanted.clone(), &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&Value>| v.map_or("(absent)".to_string(), |v| v.to_string());
            format!("{k}: {} → {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

/// Explains run `run` (`<cell>_<run_id>`) of the manifest.
pub fn why(manifest_path: &Path, run: &str, device_kind: DeviceKind, out: &mut dyn Write) -> anyhow::Result<()> {
    let manifest = load_manifest(manifest_path)?;
    validate(&manifest)?;
    let specs = expand(&manifest)?;
    let names: Vec<String> = specs.iter().map(|s| format!("{}_{}", s.cell_name, s.run_id)).collect();
    let Some(index) = names.iter().position(|n| n == run) else {
        anyhow::bail!("no run `{run}` in `{}`; its runs are: {}", manifest_path.display(), names.join(", "));
    };
    let spec = &specs[index];
    let hashes = DataHashes::default();
    let data = super::driver::data_overrides(&manifest)?;
    let config = run_config(&manifest, spec, &data)?;
    let (_, keys) = stage_keys(&config, spec.run_id, device_kind, &hashes)?;
    let cache = Cache::new(&manifest.result_dir);
    for (stage, inputs) in keys.iter() {
        let short = &inputs.key[..12];
        if cache.is_finished(stage, &inputs.key) {
            writeln!(out, "{}: cached ({short})", stage.name())?;
            continue;
        }
        match nearest(&cache, stage, &inputs.inputs) {
            None => writeln!(out, "{}: to run ({short}); nothing of this stage is cached yet", stage.name())?,
            Some((key, diffs)) => {
                writeln!(
                    out,
                    "{}: to run ({short}); nearest cached entry {} differs in:",
                    stage.name(),
                    &key[..12.min(key.len())]
                )?;
                for diff in diffs {
                    writeln!(out, "  {diff}")?;
                }
            }
        }
    }
    Ok(())
}

/// The finished entry of `stage` whose inputs differ least from `wanted`.
fn nearest(cache: &Cache, stage: Stage, wanted: &Value) -> Option<(String, Vec<String>)> {
    let dir = cache.root.join(stage.name());
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("record.json").exists())
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("inputs.json")).ok()?;
            let cached: Value = serde_json::from_str(&text).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), differences(&cached, wanted)))
        })
        .min_by_key(|(_, diffs)| diffs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_changed_leaves() {
        let a = serde_json::json!({"config": {"DATA": {"TEST": {"OVERLAP": [0, 0]}}}, "data": "abc"});
        let b = serde_json::json!({"config": {"DATA": {"TEST": {"OVERLAP": [0.5, 0.5]}}}, "data": "abc", "new": 1});
        assert_eq!(
            differences(&a, &b),
            vec!["config.DATA.TEST.OVERLAP: [0,0] → [0.5,0.5]".to_string(), "new: (absent) → 1".to_string()]
        );
    }
}
