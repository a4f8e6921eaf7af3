//! Atomic file output: write under a temporary sibling name, then rename into place, so a killed
//! process never leaves a half-written file under a final name. Used by every writer of the
//! results tree and the cache. Temporary names carry the writer's process id, so the leftovers of
//! a killed process can be told apart from a living writer's and removed
//! ([`remove_stale_temporaries`]). Every commit passes [`crate::fault`], the test-only switch that
//! simulates a full disk or a read-only folder. (Who may write a shared folder is decided by
//! claims, `crate::sweep::claim`, not here.)
//!
//! ```
//! use std::path::Path;
//! let tmp = segsweep::atomic::temporary_sibling(Path::new("/r/charts/loss.png"));
//! assert!(tmp.starts_with("/r/charts") && tmp.extension().unwrap() == "png");
//! let name = tmp.file_name().unwrap().to_str().unwrap();
//! assert_eq!(segsweep::atomic::temporary_owner(name), Some(std::process::id()));
//! assert_eq!(segsweep::atomic::temporary_owner("loss.png"), None);
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// A hidden sibling of `path` that keeps its extension (some writers choose the format from it):
/// `dir/.stem.tmp-<pid>.ext`.
pub fn temporary_sibling(path: &Path) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!(".{stem}.tmp-{}.{}", std::process::id(), ext.to_string_lossy()),
        None => format!(".{stem}.tmp-{}", std::process::id()),
    };
    path.with_file_name(name)
}

/// The process id in a [`temporary_sibling`] file name, `None` for any other name.
pub fn temporary_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, after) = rest.rsplit_once(".tmp-")?;
    let digits = after.split('.').next()?;
    digits.parse().ok()
}

/// Renames a finished temporary file into place; removes it if the rename (or the injected
/// fault) fails.
pub fn commit(tmp: &Path, path: &Path) -> io::Result<()> {
    injected_fault(tmp, path).and_then(|()| std::fs::rename(tmp, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(tmp);
    })
}

/// The test-only fault for committing `tmp` to `path` (feature `fault-injection`).
#[cfg(feature = "fault-injection")]
fn injected_fault(tmp: &Path, path: &Path) -> io::Result<()> {
    crate::fault::check_write(path, std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0))
}

/// Builds without the feature (every build but the tests') have no fault to inject.
#[cfg(not(feature = "fault-injection"))]
fn injected_fault(_tmp: &Path, _path: &Path) -> io::Result<()> {
    Ok(())
}

/// Puts the finished folder `new` in the place of `dir`. An older `dir` is first renamed aside
/// (`.name.old-<pid>`), then `new` is renamed into place and the old one removed; if that
/// rename fails the old folder is put back. So the name always holds one complete folder, but
/// for the instant between the two renames, when the old one lies aside (a kill there leaves it
/// under the hidden name, never deleted).
pub fn replace_dir(new: &Path, dir: &Path) -> io::Result<()> {
    let name = dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let aside = dir.with_file_name(format!(".{name}.old-{}", std::process::id()));
    let had_old = std::fs::symlink_metadata(dir).is_ok();
    if had_old {
        std::fs::rename(dir, &aside)?;
    }
    if let Err(e) = std::fs::rename(new, dir) {
        if had_old {
            let _ = std::fs::rename(&aside, dir);
        }
        return Err(e);
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&aside);
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let tmp = temporary_sibling(path);
    std::fs::write(&tmp, bytes).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    commit(&tmp, path)
}

/// Removes, anywhere under `dir`, the temporary files of processes that no longer run (a killed
/// writer's leftovers); returns how many. Files of living processes are kept. Where process ids
/// cannot be checked (no `/proc`), nothing is removed.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let mut removed = 0;
    for entry in walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy();
        let Some(pid) = temporary_owner(&name) else { continue };
        if entry.file_type().is_file() && !process_alive(pid) && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether process `pid` runs (this process always does); `true` when it cannot be told.
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() || !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_dir_swaps_a_folder_in_and_keeps_the_old_one_when_it_cannot() {
        let root = tempfile::tempdir().unwrap();
        let (new, dir) = (root.path().join("new"), root.path().join("out.zarr"));
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("v"), "1").unwrap();
        replace_dir(&new, &dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("v")).unwrap(), "1");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("v"), "2").unwrap();
        replace_dir(&new, &dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("v")).unwrap(), "2");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "nothing left aside");
        // A missing new folder fails and leaves the old one in place.
        assert!(replace_dir(&root.path().join("absent"), &dir).is_err());
        assert_eq!(std::fs::read_to_string(dir.join("v")).unwrap(), "2");
    }

    #[test]
    fn writes_in_place_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        write(&path, "1").unwrap();
        write(&path, "2").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "2");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(write(&dir.path().join("missing/a.json"), "x").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn only_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        // Process ids above the kernel's maximum (4 194 304) never run.
        let dead = dir.path().join("sub/.weights.tmp-99999999.bpk");
        let dead_plain = dir.path().join(".resume.tmp-99999998");
        let mine = temporary_sibling(&dir.path().join("report.md"));
        let kept = dir.path().join("sub/0000.tif");
        for path in [&dead, &dead_plain, &mine, &kept] {
            std::fs::write(path, b"x").unwrap();
        }
        assert_eq!(remove_stale_temporaries(dir.path()), 2);
        assert!(!dead.exists() && !dead_plain.exists());
        assert!(mine.exists() && kept.exists());
        assert_eq!(temporary_owner(".a.b.tmp-12.tif"), Some(12));
        assert_eq!(temporary_owner(".a.tmp-x.tif"), None);
    }
}
