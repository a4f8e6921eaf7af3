//! `segsweep gc [DIR]`: removes the cache entries that no manifest in `DIR` (default
//! `experiments/`) refers to, in the caches those manifests use, and says what it freed.
//! Unfinished entries (`*.partial`) are kept while a manifest still wants their key, so a
//! killed training can resume; locks of removed entries go with them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::cache::{Cache, Stage};
use super::driver::{data_overrides, run_config};
use super::exec::{DataHashes, stage_keys};
use super::grid::expand;
use super::manifest::{load_manifest, validate};

/// Every key each cache root is asked for by the manifests in `dir`.
pub fn referenced_keys(dir: &Path, device_kind: &str) -> anyhow::Result<BTreeMap<PathBuf, BTreeSet<String>>> {
    let mut wanted: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot list `{}`: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    manifests.sort();
    for path in manifests {
        // Run configs in the folder are not manifests; only files that parse as one count.
        let Ok(manifest) = load_manifest(&path) else { continue };
        validate(&manifest)?;
        let data = data_overrides(&manifest)?;
        let root = Cache::new(&manifest.result_dir).root;
        let keys = wanted.entry(root).or_default();
        let hashes = DataHashes::default();
        for spec in expand(&manifest)? {
            let config = run_config(&manifest, &spec, &data)?;
            let (_, stage_inputs) =
                stage_keys(&config, spec.run_id, device_kind, &hashes).map_err(anyhow::Error::msg)?;
            keys.extend(stage_inputs.into_iter().map(|s| s.key));
        }
    }
    Ok(wanted)
}

/// Removes unreferenced entries; returns the bytes freed.
pub fn collect(dir: &Path, device_kind: &str, out: &mut dyn Write) -> anyhow::Result<u64> {
    let mut freed = 0;
    for (root, keys) in referenced_keys(dir, device_kind)? {
        for stage in [Stage::Train, Stage::Infer, Stage::Evaluate] {
            let Ok(entries) = std::fs::read_dir(root.join(stage.name())) else { continue };
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = name.split('.').next().unwrap_or_default();
                if keys.contains(key) {
                    continue;
                }
                let path = entry.path();
                let size = size_of(&path);
                if path.is_dir() {
                    std::fs::remove_dir_all(&path)?
                } else {
                    std::fs::remove_file(&path)?
                }
                if !name.ends_with(".lock") {
                    writeln!(out, "removed {} ({})", path.display(), human(size))?;
                }
                freed += size;
            }
        }
    }
    writeln!(out, "freed {}", human(freed))?;
    Ok(freed)
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
    #[test]
    fn human_sizes() {
        assert_eq!(super::human(512), "512 B");
        assert_eq!(super::human(1536), "1.5 KiB");
        assert_eq!(super::human(3 * 1024 * 1024), "3.0 MiB");
    }
}
