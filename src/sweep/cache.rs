//! The stage cache (harness.md): `<result_dir>/.cache/<stage>/<key>/` holding `inputs.json`
//! (everything hashed, readable), the stage's outputs and `record.json` (its numbers), written
//! last. A stage works in `<key>.partial/` (stable, so a killed training resumes there) under the
//! key's claim `<key>.claim` (safe on shared filesystems, [`super::claim`]), and the finished
//! folder is renamed into place: an entry counts only when its `record.json` exists, two sweeps
//! (or Slurm tasks on different nodes) on one cache never run a stage twice, and a finished
//! entry is never rewritten but by `--force` or because its record is corrupt.
//! Every commit appends one line to `completions.log` (append-only: stage, key, process id, unix
//! time), so the robustness drills can tell that no stage ran twice to completion.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::claim::{Claim, ClaimPolicy};
use serde::de::DeserializeOwned;

/// The three cached stages of a run, ordered as a run goes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Train,
    Infer,
    Evaluate,
}

impl Stage {
    /// The stages in the order a run goes through them.
    pub const ALL: [Stage; 3] = [Stage::Train, Stage::Infer, Stage::Evaluate];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Train => "train",
            Stage::Infer => "infer",
            Stage::Evaluate => "evaluate",
        }
    }

    /// Parses `train`, `infer` or `evaluate`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per stage, indexed by [`Stage`] (`keys[Stage::Infer]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerStage<T> {
    pub train: T,
    pub infer: T,
    pub evaluate: T,
}

impl<T> PerStage<T> {
    /// The value of each stage from `f(stage)`.
    pub fn from_fn(mut f: impl FnMut(Stage) -> T) -> Self {
        Self { train: f(Stage::Train), infer: f(Stage::Infer), evaluate: f(Stage::Evaluate) }
    }

    /// `(stage, value)` in run order.
    pub fn iter(&self) -> impl Iterator<Item = (Stage, &T)> {
        Stage::ALL.into_iter().map(move |stage| (stage, &self[stage]))
    }

    /// The same stages with `f` applied to each value.
    pub fn map<U>(&self, mut f: impl FnMut(Stage, &T) -> U) -> PerStage<U> {
        PerStage::from_fn(|stage| f(stage, &self[stage]))
    }
}

impl<T> std::ops::Index<Stage> for PerStage<T> {
    type Output = T;
    fn index(&self, stage: Stage) -> &T {
        match stage {
            Stage::Train => &self.train,
            Stage::Infer => &self.infer,
            Stage::Evaluate => &self.evaluate,
        }
    }
}

impl<T> std::ops::IndexMut<Stage> for PerStage<T> {
    fn index_mut(&mut self, stage: Stage) -> &mut T {
        match stage {
            Stage::Train => &mut self.train,
            Stage::Infer => &mut self.infer,
            Stage::Evaluate => &mut self.evaluate,
        }
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

impl Cache {
    pub fn new(result_dir: &Path) -> Self {
        Self { root: result_dir.join(".cache") }
    }

    /// The finished entry's folder.
    pub fn entry(&self, stage: Stage, key: &str) -> PathBuf {
        self.root.join(stage.name()).join(key)
    }

    /// Whether the entry is finished: its `record.json`, written last, exists.
    pub fn is_finished(&self, stage: Stage, key: &str) -> bool {
        self.entry(stage, key).join("record.json").exists()
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

    /// The append-only log of finished entries.
    pub fn completions_log(&self) -> PathBuf {
        self.root.join("completions.log")
    }

    /// The claim file of `key`.
    pub fn claim_path(&self, stage: Stage, key: &str) -> PathBuf {
        self.root.join(stage.name()).join(format!("{key}.claim"))
    }

    /// Waits for and takes the claim of `key` (see [`super::claim`] for why it is not a lock).
    pub fn claim(&self, stage: Stage, key: &str) -> Result<Claim, CacheError> {
        let dir = self.root.join(stage.name());
        std::fs::create_dir_all(&dir).map_err(|e| CacheError::new(&dir, e))?;
        let path = self.claim_path(stage, key);
        Claim::acquire(&path, &ClaimPolicy::default()).map_err(|e| CacheError::new(&path, e))
    }

    /// Readies the partial folder of a locked key: a killed predecessor's temporary files and a
    /// half-replaced old entry (`<key>.stale-<pid>`) are removed; its finished files stay (a
    /// training resumes from them).
    pub fn prepare_partial(&self, stage: Stage, key: &str, _claim: &Claim) -> Result<PathBuf, CacheError> {
        let partial = self.partial(stage, key);
        std::fs::create_dir_all(&partial).map_err(|e| CacheError::new(&partial, e))?;
        crate::atomic::remove_stale_temporaries(&partial);
        let dir = self.root.join(stage.name());
        let prefix = format!("{key}.stale-");
        for entry in std::fs::read_dir(&dir).map_err(|e| CacheError::new(&dir, e))?.filter_map(Result::ok) {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_dir_all(entry.path()).map_err(|e| CacheError::new(&entry.path(), e))?;
            }
        }
        Ok(partial)
    }

    /// Finishes an entry: writes `inputs.json` and then `record.json` into the partial folder,
    /// renames it into place and logs the completion. The claim must still be held (a holder
    /// whose claim was taken over discards its work). A finished entry is replaced only when
    /// `replace` says so (`--force`, or a corrupt record): it is first renamed aside and removed
    /// afterwards, so a kill never leaves a half-deleted entry that still has its `record.json`.
    /// Otherwise a finished entry found here (committed by a process that took over a claim it
    /// judged stale) is kept, and this work is discarded.
    pub fn commit<R: Serialize>(
        &self,
        stage: Stage,
        key: &str,
        (inputs, record): (&serde_json::Value, &R),
        claim: &Claim,
        replace: bool,
    ) -> Result<PathBuf, CacheError> {
        let partial = self.partial(stage, key);
        if !claim.held() {
            return Err(CacheError::new(
                &self.claim_path(stage, key),
                "another process took this claim over (it judged this one dead); this work is discarded",
            ));
        }
        if !replace && self.is_finished(stage, key) {
            std::fs::remove_dir_all(&partial).map_err(|e| CacheError::new(&partial, e))?;
            return Ok(self.entry(stage, key));
        }
        std::fs::create_dir_all(&partial).map_err(|e| CacheError::new(&partial, e))?;
        let inputs_text = serde_json::to_string_pretty(inputs).map_err(|e| CacheError::new(&partial, e))?;
        let inputs_path = partial.join("inputs.json");
        crate::atomic::write(&inputs_path, inputs_text + "\n").map_err(|e| CacheError::new(&inputs_path, e))?;
        let record_text = serde_json::to_string_pretty(record).map_err(|e| CacheError::new(&partial, e))?;
        let record_path = partial.join("record.json");
        crate::atomic::write(&record_path, record_text + "\n").map_err(|e| CacheError::new(&record_path, e))?;
        let entry = self.entry(stage, key);
        let stale = self.root.join(stage.name()).join(format!("{key}.stale-{}", std::process::id()));
        // The log is opened before the rename, so only one write separates the entry's arrival
        // from its line: a kill in between (a few microseconds) leaves an entry without a line,
        // never a line without an entry.
        let log_path = self.completions_log();
        let mut log =
            File::options().create(true).append(true).open(&log_path).map_err(|e| CacheError::new(&log_path, e))?;
        if entry.exists() && (replace || !self.is_finished(stage, key)) {
            std::fs::rename(&entry, &stale).map_err(|e| CacheError::new(&entry, e))?;
        }
        std::fs::rename(&partial, &entry).map_err(|e| CacheError::new(&entry, e))?;
        log_completion(&mut log, stage, key).map_err(|e| CacheError::new(&log_path, e))?;
        if stale.exists() {
            std::fs::remove_dir_all(&stale).map_err(|e| CacheError::new(&stale, e))?;
        }
        Ok(entry)
    }

    /// The completion log as `(stage, key)` pairs, in order (empty when there is none).
    pub fn completions(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.completions_log()).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                Some((fields.next()?.to_string(), fields.next()?.to_string()))
            })
            .collect()
    }
}

/// Appends `<stage> <key> <pid> <unix seconds>` to the completion log in one write.
fn log_completion(log: &mut File, stage: Stage, key: &str) -> std::io::Result<()> {
    use std::io::Write;
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    log.write_all(format!("{} {key} {} {seconds}\n", stage.name(), std::process::id()).as_bytes())
}

/// Copies `from` into `to` recursively, hard-linking files where the file system allows.
pub fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    link_tree_renamed(from, to, |name| name.to_string())
}

/// [`link_tree`], giving each file the name `rename` makes of its own (folders keep theirs).
/// Every file arrives under its final name through [`link_file`], so two processes
/// materialising the same tree at once both succeed.
pub fn link_tree_renamed(from: &Path, to: &Path, rename: impl Fn(&str) -> String) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(from).min_depth(1) {
        let entry = entry.map_err(std::io::Error::other)?;
        let mut target = to.join(entry.path().strip_prefix(from).map_err(std::io::Error::other)?);
        if !entry.file_type().is_dir() {
            target.set_file_name(rename(&entry.file_name().to_string_lossy()));
        }
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            link_file(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Puts a hard link to `from` (a copy where links are not possible) at `to`, through a temporary
/// name and a rename: never truncates an existing `to`, which may be a link to the same cache file
/// (another sweep materialising the same run at the same time).
pub fn link_file(from: &Path, to: &Path) -> std::io::Result<()> {
    let tmp = crate::atomic::temporary_sibling(to);
    let _ = std::fs::remove_file(&tmp);
    if std::fs::hard_link(from, &tmp).is_err() {
        std::fs::copy(from, &tmp).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    }
    let renamed = std::fs::rename(&tmp, to);
    // When `to` already is a link to the same file, POSIX rename does nothing and leaves `tmp`.
    let _ = std::fs::remove_file(&tmp);
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_counts_only_once_committed_and_corrupt_records_are_missing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert_eq!(cache.record::<u32>(Stage::Train, "k").unwrap(), None);
        let claim = cache.claim(Stage::Train, "k").unwrap();
        std::fs::create_dir_all(cache.partial(Stage::Train, "k")).unwrap();
        std::fs::write(cache.partial(Stage::Train, "k").join("weights.bin"), b"w").unwrap();
        assert_eq!(cache.record::<u32>(Stage::Train, "k").unwrap(), None, "a partial entry is not finished");
        let entry = cache.commit(Stage::Train, "k", (&serde_json::json!({"a": 1}), &7u32), &claim, false).unwrap();
        assert_eq!(cache.record::<u32>(Stage::Train, "k").unwrap(), Some(7));
        assert_eq!(cache.completions(), vec![("train".to_string(), "k".to_string())]);
        assert!(entry.join("weights.bin").exists() && entry.join("inputs.json").exists());
        std::fs::write(entry.join("record.json"), b"{not json").unwrap();
        assert!(cache.record::<u32>(Stage::Train, "k").unwrap_err().contains("is corrupt"));
        // Replacing the corrupt entry leaves no old folder aside and logs the second completion.
        cache.commit(Stage::Train, "k", (&serde_json::json!({"a": 1}), &8u32), &claim, true).unwrap();
        assert_eq!(cache.record::<u32>(Stage::Train, "k").unwrap(), Some(8));
        let names: Vec<String> = std::fs::read_dir(cache.root.join("train"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| n == "k" || n == "k.claim"), "{names:?}");
        assert_eq!(cache.completions().len(), 2);
        // Without `replace`, a finished entry stays as it is and the new work is discarded.
        std::fs::create_dir_all(cache.partial(Stage::Train, "k")).unwrap();
        cache.commit(Stage::Train, "k", (&serde_json::json!({"a": 1}), &9u32), &claim, false).unwrap();
        assert_eq!(cache.record::<u32>(Stage::Train, "k").unwrap(), Some(8));
        assert!(!cache.partial(Stage::Train, "k").exists());
        drop(claim);
        assert!(!cache.claim_path(Stage::Train, "k").exists());
    }

    #[test]
    fn a_killed_writers_leftovers_are_cleared_from_the_partial_folder() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let claim = cache.claim(Stage::Infer, "k").unwrap();
        let partial = cache.partial(Stage::Infer, "k");
        std::fs::create_dir_all(partial.join("results")).unwrap();
        std::fs::create_dir_all(cache.root.join("infer/k.stale-99999999")).unwrap();
        std::fs::write(partial.join("results/.0000.tmp-99999999.tif"), b"half").unwrap();
        std::fs::write(partial.join("results/0001.tif"), b"whole").unwrap();
        assert_eq!(cache.prepare_partial(Stage::Infer, "k", &claim).unwrap(), partial);
        assert!(!partial.join("results/.0000.tmp-99999999.tif").exists());
        assert!(partial.join("results/0001.tif").exists());
        assert!(!cache.root.join("infer/k.stale-99999999").exists());
    }

    #[test]
    fn link_tree_links_or_copies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f.txt"), b"x").unwrap();
        link_tree(&dir.path().join("a"), &dir.path().join("c")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("c/b/f.txt")).unwrap(), b"x");
        // Linking again over the existing link keeps the content (no truncation through it).
        link_tree(&dir.path().join("a"), &dir.path().join("c")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("a/b/f.txt")).unwrap(), b"x");
        assert_eq!(std::fs::read_dir(dir.path().join("c/b")).unwrap().count(), 1, "no temporary is left");
        assert_eq!(Stage::parse("infer"), Some(Stage::Infer));
    }
}
