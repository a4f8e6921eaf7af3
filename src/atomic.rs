//! Atomic file output: write under a temporary sibling name, then rename into place, so a killed
//! process never leaves a half-written file under a final name. Used by every writer of the
//! results tree.
//!
//! ```
//! use std::path::Path;
//! let tmp = segsweep::atomic::temporary_sibling(Path::new("/r/charts/loss.png"));
//! assert!(tmp.starts_with("/r/charts") && tmp.extension().unwrap() == "png");
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

/// Renames a finished temporary file into place; removes it if the rename fails.
pub fn commit(tmp: &Path, path: &Path) -> io::Result<()> {
    std::fs::rename(tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(tmp);
    })
}

/// Writes `bytes` to `path` atomically.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let tmp = temporary_sibling(path);
    std::fs::write(&tmp, bytes).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    commit(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
