//! The stage cache (harness.md): `<result_dir>/.cache/<stage>/<key>/` holding `inputs.json`
//! (everything hashed, readable), the stage's outputs and `record.json` (its numbers), written
//! last. A stage works in `<key>.partial/` (stable, so a killed training resumes there) under an
//! exclusive lock `<key>.lock`, and the finished folder is renamed into place: an entry counts
//! only when its `record.json` exists, and two sweeps on one cache never run a stage twice.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The three cached stages of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Train,
    Infer,
    Evaluate,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Train => "train",
            Stage::Infer => "infer",
            Stage::Evaluate => "evaluate",
        }
    }

    /// Parses `train`, `infer` or `evaluate`.
    pub fn parse(name: &str) -> Option<Self> {
        [Stage::Train, Stage::Infer, Stage::Evaluate].into_iter().find(|s| s.name() == name)
    }
}

/// A cache error names the entry and what failed.
#[derive(Debug, thiserror::Error)]
#[error("cache `{}`: {message}", path.display())]
pub struct CacheError {
    pub path: PathBuf,
    pub message: String,
}

impl CacheError {
    fn new(path: &Path, message: impl ToString) -> Self {
        Self { path: path.into(), message: message.to_string() }
    }
}

/// A stage cache rooted at `<result_dir>/.cache`.
#[derive(Clone, Debug)]
pub struct Cache {
    pub root: PathBuf,
}

/// Holds the exclusive lock of one key until dropped.
pub struct KeyLock {
    _file: File,
}

impl Cache {
    pub fn new(result_dir: &Path) -> Self {
        Self { root: result_dir.join(".cache") }
    }

    /// The finished entry's folder.
    pub fn entry(&self, stage: Stage, key: &str) -> PathBuf {
        self.root.join(stage.name()).join(key)
    }

    /// The working folder of an unfinished entry.
    pub fn partial(&self, stage: Stage, key: &str) -> PathBuf {
        self.root.join(stage.name()).join(format!("{key}.partial"))
    }

    /// The entry's record, if it is finished and readable; a corrupt record counts as missing
    /// (the warning says so) and the stage runs again.
    pub fn record<T: DeserializeOwned>(&self, stage: Stage, key: &str) -> Result<Option<T>, String> {
        let path = self.entry(stage, key).join("record.json");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(None) };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("warning: `{}` is corrupt ({e}); running the stage again", path.display()))
    }

    /// Waits for and takes the exclusive lock of `key`.
    pub fn lock(&self, stage: Stage, key: &str) -> Result<KeyLock, CacheError> {
        let dir = self.root.join(stage.name());
        std::fs::create_dir_all(&dir).map_err(|e| CacheError::new(&dir, e))?;
        let path = dir.join(format!("{key}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CacheError::new(&path, e))?;
        file.lock().map_err(|e| CacheError::new(&path, e))?;
        Ok(KeyLock { _file: file })
    }

    /// Finishes an entry: writes `inputs.json` and then `record.json` into the partial folder and
    /// renames it into place (replacing a corrupt entry).
    pub fn commit<R: Serialize>(
        &self,
        stage: Stage,
        key: &str,
        inputs: &serde_json::Value,
        record: &R,
    ) -> Result<PathBuf, CacheError> {
        let partial = self.partial(stage, key);
        std::fs::create_dir_all(&partial).map_err(|e| CacheError::new(&partial, e))?;
        let inputs_text = serde_json::to_string_pretty(inputs).map_err(|e| CacheError::new(&partial, e))?;
        crate::atomic::write(&partial.join("inputs.json"), inputs_text + "\n")
            .map_err(|e| CacheError::new(&partial, e))?;
        let record_text = serde_json::to_string_pretty(record).map_err(|e| CacheError::new(&partial, e))?;
        crate::atomic::write(&partial.join("record.json"), record_text + "\n")
            .map_err(|e| CacheError::new(&partial, e))?;
        let entry = self.entry(stage, key);
        if entry.exists() {
            std::fs::remove_dir_all(&entry).map_err(|e| CacheError::new(&entry, e))?;
        }
        std::fs::rename(&partial, &entry).map_err(|e| CacheError::new(&entry, e))?;
        Ok(entry)
    }
}

/// Copies `from` into `to` recursively, hard-linking files where the file system allows.
pub fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(from).min_depth(1) {
        let entry = entry.map_err(std::io::Error::other)?;
        let target = to.join(entry.path().strip_prefix(from).map_err(std::io::Error::other)?);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let _ = std::fs::remove_file(&target);
            if std::fs::hard_link(entry.path(), &target).is_err() {
                std::fs::copy(entry.path(), &target)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_counts_only_once_committed_and_corrupt_records_are_missing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert_eq!(cache.record::<u32>(Stage::Train, "k").unwrap(), None);
        let _lock = cache.lock(Stage::Train, "k").unwrap();
        std::fs::create_dir_all(cache.partial(Stage::Train, "k")).unwrap();
        std::fs::write(cache.partial(Stage::Train, "k").join("weights.bin"), b"w").unwrap();
        assert_eq!(cache.record::<u32>(Stage::Train, "k").unwrap(), None, "a partial entry is not finished");
        let entry = cache.commit(Stage::Train, "k", &serde_json::json!({"a": 1}), &7u32).unwrap();
        assert_eq!(cache.record::<u32>(Stage::Train, "k").unwrap(), Some(7));
        assert!(entry.join("weights.bin").exists() && entry.join("inputs.json").exists());
        std::fs::write(entry.join("record.json"), b"{not json").unwrap();
        assert!(cache.record::<u32>(Stage::Train, "k").unwrap_err().contains("is corrupt"));
    }

    #[test]
    fn link_tree_links_or_copies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f.txt"), b"x").unwrap();
        link_tree(&dir.path().join("a"), &dir.path().join("c")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("c/b/f.txt")).unwrap(), b"x");
        assert_eq!(Stage::parse("infer"), Some(Stage::Infer));
    }
}
