//! The foreground probability maps of random-patch sampling (spec §3.8), kept in
//! `PATHS.PROB_MAP_DIR` — by default `results/<job>/prob_map/`, inside the results tree and never
//! in the user's data folder (BiaPy writes next to the masks). The folder holds one float32 TIFF
//! per training image and `key.txt`, the hash of the masks and of the settings the maps depend
//! on; maps are re-used while the key matches and recomputed otherwise.

use std::path::Path;

use super::error::TrainError;
use super::samples::TrainImage;
use crate::data::Volume;
use crate::data::hash::sha256_hex;
use crate::data::sampling::probability_map;
use crate::data::tiff_io::{AnyVolume, WriteOptions, read_tiff, write_tiff};

/// Gives every image its probability map, from `dir` when its key matches, else computed (from
/// the in-memory masks, or re-read ones) and written to `dir`. Returns true when re-used.
pub fn attach(
    images: &mut [TrainImage],
    masks: &[Volume<u16>],
    weights: (f64, f64),
    masks_hash: &str,
    patch: [usize; 3],
    dir: &Path,
) -> Result<bool, TrainError> {
    let key = sha256_hex(format!("{masks_hash}\n{:?}\n{patch:?}\n{}", weights, images.len()).as_bytes());
    let key_file = dir.join("key.txt");
    if std::fs::read_to_string(&key_file).is_ok_and(|k| k.trim() == key)
        && let Some(maps) = read_maps(images, dir)
    {
        for (image, map) in images.iter_mut().zip(maps) {
            image.set_prob_map(Some(map));
        }
        return Ok(true);
    }
    std::fs::create_dir_all(dir).map_err(TrainError::write(dir))?;
    let _ = std::fs::remove_file(&key_file);
    for (i, (image, mask)) in images.iter_mut().zip(masks).enumerate() {
        let map = probability_map(mask, weights.0, weights.1);
        let [z, y, x] = image.shape;
        let volume = Volume::from_vec([z, y, x, 1], map.clone())?;
        let path = dir.join(map_name(i, image));
        write_tiff(&path, &AnyVolume::F32(volume), &WriteOptions::default())?;
        image.set_prob_map(Some(map));
    }
    std::fs::write(&key_file, key + "\n").map_err(TrainError::write(&key_file))?;
    Ok(false)
}

fn map_name(i: usize, image: &TrainImage) -> String {
    let stem = image.mask_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{i:04}_{stem}.tif")
}

fn read_maps(images: &[TrainImage], dir: &Path) -> Option<Vec<Vec<f32>>> {
    images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let tiff = read_tiff(&dir.join(map_name(i, image))).ok()?;
            let volume = tiff.volume.to_f32();
            (volume.spatial_shape() == image.shape).then(|| volume.into_vec())
        })
        .collect()
}
