//! `DATA.TEST.ROI_MASK` (spec §4.3): a region-of-interest mask per test image zeroes the
//! prediction outside it, as BiaPy's `CoarseROIMask`. The mask may be coarser or finer than the
//! image: it is stretched over the image by nearest neighbour (voxel `i` of an axis of `n`
//! takes mask voxel `⌊i·m/n⌋`). `PATH` is one mask file for every image, or a folder with one
//! file (used for all) or one file per image named like it. `AXES_ORDER` says how the file's
//! axes are laid out (`YX` / `ZYX` by default; `T` and `C` may appear and are collapsed, channels
//! by their maximum).
//!
//! Must not: change anything but the prediction it is given.

use std::path::{Path, PathBuf};

use crate::config::Ndim;
use crate::data::Volume;
use crate::data::dataset::list_tiffs;
use crate::data::read_tiff;

use super::InferError;

const KEY: &str = "DATA.TEST.ROI_MASK.PATH";

/// A region-of-interest mask in `(z, y, x)` order.
#[derive(Clone, Debug, PartialEq)]
pub struct RoiMask {
    pub inside: Vec<bool>,
    pub shape: [usize; 3],
    pub file: PathBuf,
}

impl RoiMask {
    /// The mask for the test image `image_file` (its file name picks the mask in a folder of
    /// several).
    pub fn for_image(path: &Path, axes_order: &str, ndim: Ndim, image_file: &str) -> Result<Self, InferError> {
        let file = mask_file(path, image_file)?;
        let volume = read_tiff(&file).map_err(|e| roi_error(&file, e.to_string()))?.volume.to_f32();
        // As stored: pages, rows, columns; channels (samples per pixel) collapse by their maximum.
        let [pages, rows, cols, channels] = volume.shape();
        let values: Vec<bool> =
            volume.as_slice().chunks(channels).map(|v| v.iter().copied().fold(f32::MIN, f32::max) > 0.0).collect();
        let order = axes(axes_order, ndim, pages).map_err(|m| roi_error(&file, m))?;
        let stored = [pages, rows, cols];
        // `order[a]` is the stored axis holding z, y, x.
        let shape = [stored[order[0]], stored[order[1]], stored[order[2]]];
        let mut inside = Vec::with_capacity(values.len());
        for z in 0..shape[0] {
            for y in 0..shape[1] {
                for x in 0..shape[2] {
                    let mut at = [0; 3];
                    for (axis, &i) in order.iter().zip(&[z, y, x]) {
                        at[*axis] = i;
                    }
                    inside.push(values[(at[0] * rows + at[1]) * cols + at[2]]);
                }
            }
        }
        Ok(Self { inside, shape, file })
    }

    /// Zeroes `probs` `(z, y, x, k)` outside the region, the mask stretched over its shape.
    pub fn apply(&self, probs: &mut Volume<f32>) {
        let [nz, ny, nx, k] = probs.shape();
        let map = |n: usize, m: usize| -> Vec<usize> { (0..n).map(|i| ((i * m) / n.max(1)).min(m - 1)).collect() };
        let (zs, ys, xs) = (map(nz, self.shape[0]), map(ny, self.shape[1]), map(nx, self.shape[2]));
        let data = probs.as_mut_slice();
        for (z, &mz) in zs.iter().enumerate() {
            for (y, &my) in ys.iter().enumerate() {
                for (x, &mx) in xs.iter().enumerate() {
                    if !self.inside[(mz * self.shape[1] + my) * self.shape[2] + mx] {
                        let base = ((z * ny + y) * nx + x) * k;
                        data[base..base + k].fill(0.0);
                    }
                }
            }
        }
    }
}

/// For each of z, y, x, the stored axis (0 pages, 1 rows, 2 columns) that holds it.
fn axes(axes_order: &str, ndim: Ndim, pages: usize) -> Result<[usize; 3], String> {
    let given = axes_order.to_uppercase();
    let default = if ndim == Ndim::D3 { "ZYX" } else { "YX" };
    let letters: String = if given.is_empty() { default.into() } else { given.replace(['T', 'C'], "") };
    let (expected, stored): (&str, &[usize]) = if letters.len() == 2 { ("YX", &[1, 2]) } else { ("ZYX", &[0, 1, 2]) };
    let mut sorted: Vec<char> = letters.chars().collect();
    sorted.sort_unstable();
    let mut want: Vec<char> = expected.chars().collect();
    want.sort_unstable();
    if sorted != want || (ndim == Ndim::D2 && letters.len() != 2) || (ndim == Ndim::D3 && letters.len() != 3) {
        return Err(format!(
            "`DATA.TEST.ROI_MASK.AXES_ORDER` `{axes_order}` must name Y and X{} once each (T and C may appear)",
            if ndim == Ndim::D3 { " and Z" } else { "" }
        ));
    }
    if letters.len() == 2 && pages != 1 {
        return Err(format!("a 2D ROI mask must be one plane, found {pages} pages"));
    }
    let position = |c: char| stored[letters.find(c).expect("checked above")];
    Ok(if letters.len() == 2 {
        [0, position('Y'), position('X')]
    } else {
        [position('Z'), position('Y'), position('X')]
    })
}

/// The mask file for `image_file`: `path` itself, the only TIFF of the folder `path`, or the one
/// named like the image.
fn mask_file(path: &Path, image_file: &str) -> Result<PathBuf, InferError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(roi_error(path, "does not exist".into()));
    }
    let files = list_tiffs(KEY, path)?;
    match files.as_slice() {
        [] => Err(roi_error(path, "holds no .tif/.tiff mask".into())),
        [one] => Ok(one.clone()),
        _ => {
            let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
            let wanted = stem(Path::new(image_file));
            files.iter().find(|f| stem(f) == wanted).cloned().ok_or_else(|| {
                roi_error(
                    path,
                    format!(
                        "holds {} masks but none named like the test image `{image_file}`: give one mask per image, \
                         named as the image, or a single mask for all",
                        files.len()
                    ),
                )
            })
        }
    }
}

fn roi_error(path: &Path, message: String) -> InferError {
    InferError::Roi { path: path.to_path_buf(), message }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{AnyVolume, WriteOptions, write_tiff};

    fn write(path: &Path, shape: [usize; 4], values: Vec<u8>) {
        write_tiff(path, &AnyVolume::U8(Volume::from_vec(shape, values).unwrap()), &WriteOptions::default()).unwrap();
    }

    #[test]
    fn a_coarse_mask_is_stretched_by_nearest_neighbour() {
        let roi = RoiMask { inside: vec![true, false], shape: [1, 1, 2], file: PathBuf::new() };
        let mut probs = Volume::filled([1, 2, 5, 1], 0.5f32);
        roi.apply(&mut probs);
        // x = 0, 1, 2 → mask 0 (⌊x·2/5⌋ = 0, 0, 0); x = 3, 4 → mask 1.
        assert_eq!(probs.as_slice(), &[0.5, 0.5, 0.5, 0.0, 0.0, 0.5, 0.5, 0.5, 0.0, 0.0]);
        // Finer than the image, with channels: every channel of a voxel outside is zeroed.
        let roi = RoiMask { inside: vec![false, false, true, true], shape: [1, 2, 2], file: PathBuf::new() };
        let mut probs = Volume::filled([1, 1, 1, 3], 0.2f32);
        roi.apply(&mut probs);
        assert_eq!(probs.as_slice(), &[0.0; 3]);
    }

    #[test]
    fn files_axes_and_channels() {
        let dir = tempfile::tempdir().unwrap();
        // A 2×3 mask stored as XY (so 3 rows of 2): the transpose of [[1, 0, 0], [1, 1, 0]].
        let file = dir.path().join("m.tif");
        write(&file, [1, 3, 2, 1], vec![1, 1, 0, 1, 0, 0]);
        let roi = RoiMask::for_image(&file, "XY", Ndim::D2, "img.tif").unwrap();
        assert_eq!((roi.shape, roi.inside.clone()), ([1, 2, 3], vec![true, false, false, true, true, false]));
        let roi = RoiMask::for_image(&file, "", Ndim::D2, "img.tif").unwrap();
        assert_eq!(roi.shape, [1, 3, 2]);
        // Channels collapse by their maximum.
        let rgb = dir.path().join("rgb.tif");
        write(&rgb, [1, 1, 2, 3], vec![0, 0, 0, 0, 9, 0]);
        assert_eq!(RoiMask::for_image(&rgb, "YXC", Ndim::D2, "a.tif").unwrap().inside, vec![false, true]);
        // A 3D stack for 2D data, and a bad order, name the file and the key.
        let stack = dir.path().join("stack.tif");
        write(&stack, [2, 1, 1, 1], vec![1, 0]);
        let err = RoiMask::for_image(&stack, "", Ndim::D2, "a.tif").unwrap_err().to_string();
        assert!(err.contains("stack.tif") && err.contains("one plane, found 2 pages"), "{err}");
        let err = RoiMask::for_image(&file, "ZYQ", Ndim::D3, "a.tif").unwrap_err().to_string();
        assert!(err.contains("`DATA.TEST.ROI_MASK.AXES_ORDER` `ZYQ`"), "{err}");
    }

    #[test]
    fn a_folder_gives_its_only_mask_or_the_one_named_like_the_image() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("a.tif"), [1, 1, 1, 1], vec![1]);
        assert!(mask_file(dir.path(), "whatever.tif").unwrap().ends_with("a.tif"));
        write(&dir.path().join("b.tif"), [1, 1, 1, 1], vec![1]);
        assert!(mask_file(dir.path(), "b.tiff").unwrap().ends_with("b.tif"));
        let err = mask_file(dir.path(), "c.tif").unwrap_err().to_string();
        assert!(err.contains("holds 2 masks but none named like the test image `c.tif`"), "{err}");
        let err = mask_file(&dir.path().join("nope"), "c.tif").unwrap_err().to_string();
        assert!(err.contains("`DATA.TEST.ROI_MASK.PATH`") && err.contains("does not exist"), "{err}");
    }
}
