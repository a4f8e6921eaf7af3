//! `DATA.RESOLUTION_NORM`'s per-file physical resolutions: BiaPy's `resolution.json`, a flat
//! map from image file name to its `(z, y, x)` voxel spacing, read from the parent folder of a
//! split's `PATH` (so one file can describe sibling `train/`, `val/` folders). Only the x spacing
//! is used: a training or validation sample is scaled in plane by `x / TARGET_RESOLUTION[x]`.
//! Owns reading and checking that file; the rescale itself is the augmentation warp's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file BiaPy looks for beside a split's folder.
pub const FILE_NAME: &str = "resolution.json";

/// Why a `resolution.json` cannot be used; names the file and the entry.
#[derive(Debug, thiserror::Error)]
pub enum ResolutionError {
    #[error("cannot read `{}` (`DATA.RESOLUTION_NORM`): {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error(
        "`{}` (`DATA.RESOLUTION_NORM`): expected a JSON object mapping image file names to their (z, y, x) resolution, e.g. {{\"a.tif\": [1.0, 0.5, 0.5]}}: {message}",
        path.display()
    )]
    Format { path: PathBuf, message: String },
    #[error(
        "`{}` (`DATA.RESOLUTION_NORM`): the resolution of `{name}` is {found}; expected 2 or 3 positive numbers, (z, y, x) or (y, x)",
        path.display()
    )]
    Entry { path: PathBuf, name: String, found: String },
}

/// The `resolution.json` a split folder `data_dir` uses: in its parent.
pub fn json_path(data_dir: &Path) -> PathBuf {
    data_dir.parent().unwrap_or(Path::new("")).join(FILE_NAME)
}

/// The resolutions of one `resolution.json`.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolutions {
    /// The file they were read from.
    pub path: PathBuf,
    /// File name → x spacing.
    x_by_name: BTreeMap<String, f64>,
}

impl Resolutions {
    /// Reads `path`; `Ok(None)` when there is no such file (BiaPy then leaves every file
    /// un-rescaled).
    pub fn load(path: &Path) -> Result<Option<Resolutions>, ResolutionError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(ResolutionError::Read { path: path.to_path_buf(), message: e.to_string() }),
        };
        Self::parse(path, &text).map(Some)
    }

    fn parse(path: &Path, text: &str) -> Result<Resolutions, ResolutionError> {
        let format = |message: String| ResolutionError::Format { path: path.to_path_buf(), message };
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format(e.to_string()))?;
        let serde_json::Value::Object(entries) = value else {
            return Err(format(format!("found {value}")));
        };
        let mut x_by_name = BTreeMap::new();
        for (name, res) in entries {
            let spacing: Option<Vec<f64>> =
                res.as_array().map(|items| items.iter().filter_map(serde_json::Value::as_f64).collect());
            let x = match spacing {
                Some(s)
                    if (2..=3).contains(&s.len())
                        && s.len() == res.as_array().map_or(0, Vec::len)
                        && s.iter().all(|&v| v > 0.0 && v.is_finite()) =>
                {
                    s[s.len() - 1]
                }
                _ => return Err(ResolutionError::Entry { path: path.to_path_buf(), name, found: res.to_string() }),
            };
            x_by_name.insert(name, x);
        }
        Ok(Resolutions { path: path.to_path_buf(), x_by_name })
    }

    /// The x spacing of `image`, looked up by its file name (BiaPy's `basename`); `None` when the
    /// file lists no such image.
    pub fn x_of(&self, image: &Path) -> Option<f64> {
        let name = image.file_name()?.to_str()?;
        self.x_by_name.get(name).copied()
    }
}

/// The in-plane scale of a sample whose file has x spacing `x`: `x / target_x` (> 1 magnifies a
/// coarser file); 1 for a file without a resolution.
pub fn scale(x: Option<f64>, target_x: f64) -> f64 {
    x.map_or(1.0, |x| x / target_x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_lies_beside_the_split_folder() {
        assert_eq!(json_path(Path::new("/data/mito/train/x")), PathBuf::from("/data/mito/train/resolution.json"));
        assert_eq!(json_path(Path::new("/data/mito/train/x/")), PathBuf::from("/data/mito/train/resolution.json"));
        assert_eq!(json_path(Path::new("x")), PathBuf::from("resolution.json"));
    }

    #[test]
    fn entries_are_looked_up_by_file_name_and_give_the_x_spacing() {
        let r = Resolutions::parse(Path::new("r.json"), r#"{"a.tif": [2.0, 0.5, 0.25], "b.tif": [1, 4]}"#).unwrap();
        assert_eq!(r.x_of(Path::new("/any/where/a.tif")), Some(0.25));
        assert_eq!(r.x_of(Path::new("b.tif")), Some(4.0));
        assert_eq!(r.x_of(Path::new("c.tif")), None);
        assert_eq!(scale(r.x_of(Path::new("a.tif")), 0.5), 0.5);
        assert_eq!(scale(None, 0.5), 1.0);
    }

    #[test]
    fn a_missing_file_is_no_resolutions_and_bad_ones_name_file_and_entry() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Resolutions::load(&dir.path().join(FILE_NAME)).unwrap(), None);
        let bad = |text: &str| Resolutions::parse(Path::new("/d/resolution.json"), text).unwrap_err().to_string();
        assert!(bad("[1, 2]").contains("expected a JSON object"), "{}", bad("[1, 2]"));
        assert!(bad("{").contains("`/d/resolution.json`"));
        for entry in [r#"{"a.tif": [1, 0, 1]}"#, r#"{"a.tif": 0.5}"#, r#"{"a.tif": [1]}"#, r#"{"a.tif": [1, "x", 2]}"#]
        {
            let e = bad(entry);
            assert!(e.contains("`a.tif`") && e.contains("positive numbers"), "{entry}: {e}");
        }
    }
}
