//! Content hashes (sha256, hex) of files and folders, streamed so multi-gigabyte stacks never sit
//! in memory. A folder's hash covers the sorted names and contents of the files it holds (a
//! Zarr container among the listed files counts as every file inside it), so
//! renaming, adding, removing or editing any of them changes it; where the folder lives does not.
//! The stage cache keys its entries with these.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A file or folder could not be read for hashing.
#[derive(Debug, thiserror::Error)]
#[error("cannot hash `{}`", path.display())]
pub struct HashError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Lower-case hex of a digest.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// sha256 of a file's contents, hex, read in 1 MiB blocks.
pub fn hash_file(path: &Path) -> Result<String, HashError> {
    let err = |source| HashError { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(to_hex(&hasher.finalize()))
}

/// `path` itself when it is a file; every file under it, sorted by path, when it is a folder.
fn files_under(path: &Path) -> Result<Vec<PathBuf>, HashError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.map_err(|e| HashError { path: path.to_path_buf(), source: e.into() })?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// sha256 over `files` in the given order (a folder among them: the files under it, sorted): for
/// each, its name (relative to `root`) and its content hash, one line each.
pub fn hash_files(root: &Path, files: &[PathBuf]) -> Result<String, HashError> {
    let mut hasher = Sha256::new();
    for file in files.iter().map(|f| files_under(f)).collect::<Result<Vec<_>, _>>()?.iter().flatten() {
        let name = file.strip_prefix(root).unwrap_or(file);
        hasher.update(name.to_string_lossy().as_bytes());
        hasher.update(b"\0");
        hasher.update(hash_file(file)?.as_bytes());
        hasher.update(b"\n");
    }
    Ok(to_hex(&hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.tif");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(hash_file(&path).unwrap(), sha256_hex(b"abc"));
    }

    #[test]
    fn folder_hash_sees_names_and_contents_but_not_location() {
        let hash_dir = |files: &[(&str, &[u8])]| {
            let dir = tempfile::tempdir().unwrap();
            let paths: Vec<PathBuf> = files
                .iter()
                .map(|(name, bytes)| {
                    let p = dir.path().join(name);
                    std::fs::write(&p, bytes).unwrap();
                    p
                })
                .collect();
            hash_files(dir.path(), &paths).unwrap()
        };
        let base = hash_dir(&[("a.tif", b"1"), ("b.tif", b"2")]);
        assert_eq!(base, hash_dir(&[("a.tif", b"1"), ("b.tif", b"2")]));
        assert_ne!(base, hash_dir(&[("a.tif", b"1"), ("c.tif", b"2")]));
        assert_ne!(base, hash_dir(&[("a.tif", b"1"), ("b.tif", b"3")]));
        assert_ne!(base, hash_dir(&[("a.tif", b"1")]));
    }

    #[test]
    fn a_zarr_folder_hashes_as_the_files_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let zarr = dir.path().join("v.zarr");
        std::fs::create_dir_all(zarr.join("c/0")).unwrap();
        std::fs::write(zarr.join("zarr.json"), b"{}").unwrap();
        std::fs::write(zarr.join("c/0/0"), b"chunk").unwrap();
        let before = hash_files(dir.path(), std::slice::from_ref(&zarr)).unwrap();
        assert_eq!(before, hash_files(dir.path(), &[zarr.join("c/0/0"), zarr.join("zarr.json")]).unwrap());
        std::fs::write(zarr.join("c/0/0"), b"other").unwrap();
        assert_ne!(before, hash_files(dir.path(), &[zarr]).unwrap());
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = hash_file(Path::new("/nonexistent/x.tif")).unwrap_err();
        assert_eq!(err.to_string(), "cannot hash `/nonexistent/x.tif`");
    }
}
