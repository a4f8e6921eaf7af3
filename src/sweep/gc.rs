//! `segsweep gc [DIR]`: removes the cache entries that no manifest in `DIR` (default
//! `experiments/`) refers to, in the caches those manifests use, and says what it freed and
//! what it kept.
//!
//! Safe by construction, because a removed training cannot be had back cheaply:
//! - an entry is kept when any manifest refers to it under **any** device kind (a cache holds
//!   `flex`, `tch` and GPU trainings side by side; the keys are computed for every kind);
//! - a train entry whose record names a device kind this build does not know is kept;
//! - every YAML file in `DIR` is either a run config (recognised by its upper-case sections) or a
//!   manifest that must parse and validate: one that does not stops `gc` before anything is
//!   removed, with the manifest's own error;
//! - unfinished entries (`*.partial`) are kept while a manifest still wants their key, so a
//!   killed training can resume; locks of removed entries go with them.
//!
//! `--dry-run` lists what would go and removes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::cache::{Cache, Stage};
use super::driver::{data_overrides, run_config};
use super::exec::{DataHashes, stage_keys};
use super::grid::expand;
use super::manifest::{YamlFile, classify};
use crate::device::DeviceKind;

/// Every key each cache root is asked for by the manifests in `dir`, under every device kind.
/// Any manifest that does not load or validate is an error naming it.
pub fn referenced_keys(dir: &Path) -> anyhow::Result<BTreeMap<PathBuf, BTreeSet<String>>> {
    let mut wanted: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list `{}`", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    for path in files {
        let refuse = || format!("gc removes nothing while `{}` does not load; fix or move it", path.display());
        let manifest = match classify(&path).with_context(refuse)? {
            YamlFile::RunConfig => continue,
            YamlFile::Manifest(manifest) => manifest,
        };
        let data = data_overrides(&manifest).with_context(refuse)?;
        let keys = wanted.entry(Cache::new(&manifest.result_dir).root).or_default();
        let hashes = DataHashes::default();
        for spec in expand(&manifest).with_context(refuse)? {
            let config = run_config(&manifest, &spec, &data).with_context(refuse)?;
            for kind in DeviceKind::ALL {
                let (_, stages) = stage_keys(&config, spec.run_id, kind, &hashes).with_context(refuse)?;
                keys.extend(stages.iter().map(|(_, s)| s.key.clone()));
            }
        }
    }
    Ok(wanted)
}

/// What `gc` did (or, dry, would do).
#[derive(Debug, Default, PartialEq)]
pub struct GcSummary {
    /// Entries removed (or to remove), with their sizes.
    pub removed: Vec<(PathBuf, u64)>,
    pub freed: u64,
    pub kept: usize,
    pub kept_bytes: u64,
}

/// Removes (unless `dry_run`) the entries no manifest in `dir` refers to, printing one line per
/// entry and a summary.
pub fn collect(dir: &Path, dry_run: bool, out: &mut dyn Write) -> anyhow::Result<GcSummary> {
    let mut summary = GcSummary::default();
    for (root, keys) in referenced_keys(dir)? {
        for stage in Stage::ALL {
            let Ok(entries) = std::fs::read_dir(root.join(stage.name())) else { continue };
            let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
            entries.sort();
            for path in entries {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let key = name.split('.').next().unwrap_or_default();
                let size = size_of(&path);
                // A key with a claim is being computed right now (maybe on another machine).
                let claimed = root.join(stage.name()).join(format!("{key}.claim")).exists();
                if keys.contains(key) || unknown_device(stage, &path) || claimed {
                    summary.kept += usize::from(!name.ends_with(".lock") && !name.ends_with(".claim"));
                    summary.kept_bytes += size;
                    continue;
                }
                if !dry_run {
                    let removed =
                        if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                    removed.with_context(|| format!("cannot remove `{}`", path.display()))?;
                }
                if !name.ends_with(".lock") {
                    let verb = if dry_run { "would remove" } else { "removed" };
                    writeln!(out, "{verb} {} ({})", path.display(), human(size))?;
                    summary.removed.push((path, size));
                }
                summary.freed += size;
            }
        }
    }
    let verb = if dry_run { "would free" } else { "freed" };
    writeln!(
        out,
        "{verb} {} in {} entries; kept {} entries ({})",
        human(summary.freed),
        summary.removed.len(),
        summary.kept,
        human(summary.kept_bytes)
    )?;
    Ok(summary)
}

/// A finished train entry whose `inputs.json` names a device kind this build does not know: no
/// manifest's keys can match it here, so it is kept rather than judged.
fn unknown_device(stage: Stage, entry: &Path) -> bool {
    if stage != Stage::Train {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(entry.join("inputs.json")) else { return false };
    let Ok(inputs) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    inputs.get("device").and_then(|d| d.as_str()).is_some_and(|d| DeviceKind::from_name(d).is_err())
}

fn size_of(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// `1.5 MiB`-style sizes.
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::manifest::load_manifest;

    #[test]
    fn human_sizes() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 * 1024 * 1024), "3.0 MiB");
    }

    const MANIFEST: &str = "name: tiny
result_dir: results
base:
  PROBLEM: {NDIM: 2D}
  DATA: {PATCH_SIZE: [16, 16, 1]}
  MODEL: {FEATURE_MAPS: [4, 8, 16]}
  TRAIN: {ENABLE: True, EPOCHS: 1}
  TEST: {ENABLE: True}
data:
  synthetic: {kind: mito, ndim: 2, classes: 2, n_train: 2, n_test: 1, size: [32, 32], seed: 3}
grid:
  run_id: [1]
";

    /// A finished entry with the stage's key: what a sweep leaves behind.
    fn fake_entry(cache: &Cache, stage: Stage, key: &str, device: &str) {
        let entry = cache.entry(stage, key);
        std::fs::create_dir_all(&entry).unwrap();
        std::fs::write(entry.join("inputs.json"), serde_json::json!({ "device": device }).to_string()).unwrap();
        std::fs::write(entry.join("record.json"), "{}").unwrap();
    }

    /// The keys a sweep of the tiny manifest computes on `kind`.
    fn keys_on(manifest_path: &Path, kind: DeviceKind) -> Vec<(Stage, String)> {
        let manifest = load_manifest(manifest_path).unwrap();
        let data = data_overrides(&manifest).unwrap();
        let spec = &expand(&manifest).unwrap()[0];
        let config = run_config(&manifest, spec, &data).unwrap();
        let (_, keys) = stage_keys(&config, spec.run_id, kind, &DataHashes::default()).unwrap();
        keys.iter().map(|(stage, inputs)| (stage, inputs.key.clone())).collect()
    }

    #[test]
    fn entries_of_every_device_kind_are_kept_and_the_rest_goes() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("tiny.yaml");
        std::fs::write(&manifest, MANIFEST).unwrap();
        std::fs::write(dir.path().join("run.yaml"), "PROBLEM: {NDIM: 2D}\nTRAIN: {ENABLE: False}\n").unwrap();
        let cache = Cache::new(&dir.path().join("results"));
        // The entries a `flex` sweep and a `tch` sweep of the manifest leave.
        let mut wanted = Vec::new();
        for kind in [DeviceKind::Flex, DeviceKind::Tch] {
            for (stage, key) in keys_on(&manifest, kind) {
                fake_entry(&cache, stage, &key, kind.name());
                wanted.push(cache.entry(stage, &key));
            }
        }
        // An entry no manifest wants, and a training of a device kind this build cannot name.
        fake_entry(&cache, Stage::Infer, &"a".repeat(64), "flex");
        fake_entry(&cache, Stage::Train, &"b".repeat(64), "npu");
        let mut out = Vec::new();
        let dry = collect(dir.path(), true, &mut out).unwrap();
        assert_eq!(dry.removed.len(), 1);
        assert!(cache.entry(Stage::Infer, &"a".repeat(64)).exists(), "a dry run removes nothing");
        assert!(String::from_utf8(out).unwrap().contains("would remove"));
        let done = collect(dir.path(), false, &mut Vec::new()).unwrap();
        assert_eq!(done.removed, dry.removed);
        assert_eq!(done.kept, 7, "six wanted entries and the unknown device's training");
        assert!(!cache.entry(Stage::Infer, &"a".repeat(64)).exists());
        assert!(cache.entry(Stage::Train, &"b".repeat(64)).exists());
        for entry in wanted {
            assert!(entry.exists(), "{} was kept", entry.display());
        }
    }

    #[test]
    fn a_broken_manifest_stops_gc_before_anything_goes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tiny.yaml"), MANIFEST).unwrap();
        let cache = Cache::new(&dir.path().join("results"));
        fake_entry(&cache, Stage::Infer, &"a".repeat(64), "flex");
        let cases = [
            ("broken.yaml", "name: broken\nbase: {TRAIN: {EPOCS: 3}}\ngrid: {run_id: [1]}\n", "EPOCS"),
            ("typo.yaml", "name: typo\nbsae: {}\n", "bsae"),
            ("notes.yaml", "- a list\n", "neither a manifest"),
            ("bad.yaml", "name: [unclosed\n", "not valid YAML"),
        ];
        for (file, text, detail) in cases {
            let path = dir.path().join(file);
            std::fs::write(&path, text).unwrap();
            let error = format!("{:#}", collect(dir.path(), false, &mut Vec::new()).unwrap_err());
            assert!(error.contains(&format!("`{}` does not load", path.display())), "{file}: {error}");
            assert!(error.contains(detail), "{file}: {error}");
            assert!(cache.entry(Stage::Infer, &"a".repeat(64)).exists(), "{file}: nothing removed");
            std::fs::remove_file(&path).unwrap();
        }
    }
}
