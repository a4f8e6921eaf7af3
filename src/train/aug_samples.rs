//! The `aug/` folder (spec §9.3): before training, `AUGMENTOR.AUG_NUM_SAMPLES` training samples
//! as float32 TIFFs — `<i>_<pos>_orig_x<T>.tif` / `_orig_y` (the untransformed patch) and
//! `<i>_<pos>_x<T>.tif` / `_y` (transformed), `<T>` listing the enabled transforms — with BiaPy's
//! debug grid burnt in when `AUGMENTOR.DRAW_GRID`. With a probability map, `_mark_x` / `_mark_y`
//! show the chosen patch centre (red square) and the crop outline (blue) as 3-channel uint8
//! images.

use std::path::Path;

use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;

use super::error::TrainError;
use super::samples::{Placement, SampleSet};
use super::seed::derive;
use crate::augment::draw_grid;
use crate::data::Volume;
use crate::data::tiff_io::{AnyVolume, WriteOptions, write_tiff};
use crate::data::window::crop_reflect;

/// Writes `n` samples of `set` into `dir`.
pub fn write(set: &SampleSet, n: usize, dir: &Path) -> Result<(), TrainError> {
    let Some(augmenter) = &set.augmenter else { return Ok(()) };
    if set.is_empty() || n == 0 {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(TrainError::write(dir))?;
    let suffix = augmenter.suffix();
    let mut pick = ChaCha8Rng::seed_from_u64(derive(set.seed, "aug-samples", &[]));
    let patch = set.options.patch;
    for i in 0..n {
        let pos = pick.random_range(0..set.len());
        let ((mut image, mut mask), placement) = set.window(pos, 0)?;
        if set.options.draw_grid {
            draw_grid(&mut image, &mut mask);
        }
        let window = image.spatial_shape();
        let inset: [isize; 3] = std::array::from_fn(|a| ((window[a] - patch[a]) / 2) as isize);
        let orig = (crop_reflect(&image, inset, patch), crop_reflect(&mask, inset, patch));
        let mut rng = ChaCha8Rng::seed_from_u64(derive(set.seed, "aug-samples", &[i as u64]));
        let partner = set.cutmix_partner(augmenter, &[0, i as u64])?;
        let scale = set.images[placement.image].resolution_scale;
        let (x, y) = augmenter.apply_scaled(&image, &mask, partner.as_ref().map(|(i, m)| (i, m)), scale, &mut rng);
        let name = |kind: &str| dir.join(format!("{i}_{pos}_{kind}{suffix}.tif"));
        save_f32(&name("orig_x"), orig.0)?;
        save_f32(&name("orig_y"), orig.1.map(|&v| f32::from(v)))?;
        save_f32(&name("x"), x)?;
        save_f32(&name("y"), y.map(|&v| f32::from(v)))?;
        if set.images[placement.image].prob_map.is_some() {
            write_marks(set, placement, &name("mark_x"), &name("mark_y"))?;
        }
    }
    Ok(())
}

fn save_f32(path: &Path, volume: Volume<f32>) -> Result<(), TrainError> {
    Ok(write_tiff(path, &AnyVolume::F32(volume), &WriteOptions::default())?)
}

/// The whole image (z-slice of the patch centre) with the patch outline in blue and its centre
/// as a red 12×12 square; the mask likewise (×255 when binary).
fn write_marks(set: &SampleSet, placement: Placement, x_path: &Path, y_path: &Path) -> Result<(), TrainError> {
    let entry = &set.images[placement.image];
    let Some((image, mask)) = &entry.data else { return Ok(()) };
    let patch = set.options.patch;
    let centre: [isize; 3] = std::array::from_fn(|a| placement.start[a] + (patch[a] / 2) as isize);
    let z = centre[0].clamp(0, entry.shape[0] as isize - 1) as usize;
    let (max_image, max_mask) = (
        image.as_slice().iter().copied().fold(f32::MIN, f32::max).max(1e-6),
        mask.as_slice().iter().copied().max().unwrap_or(1).max(1),
    );
    for (path, value) in [
        (
            x_path,
            Box::new(|y: usize, x: usize| (image.get(z, y, x, 0) / max_image * 255.0) as u8)
                as Box<dyn Fn(usize, usize) -> u8>,
        ),
        (y_path, Box::new(|y: usize, x: usize| (f32::from(mask.get(z, y, x, 0)) / f32::from(max_mask) * 255.0) as u8)),
    ] {
        let [_, ny, nx] = entry.shape;
        let mut rgb = Volume::filled([1, ny, nx, 3], 0u8);
        for y in 0..ny {
            for x in 0..nx {
                let v = value(y, x);
                let outline = on_outline(y as isize, x as isize, placement.start, patch);
                let near_centre = (y as isize - centre[1]).abs() < 6 && (x as isize - centre[2]).abs() < 6;
                let pixel = if near_centre {
                    [255, 0, 0]
                } else if outline {
                    [0, 0, 255]
                } else {
                    [v, v, v]
                };
                for (c, p) in pixel.into_iter().enumerate() {
                    rgb.set(0, y, x, c, p);
                }
            }
        }
        write_tiff(path, &AnyVolume::U8(rgb), &WriteOptions::default())?;
    }
    Ok(())
}

fn on_outline(y: isize, x: isize, start: [isize; 3], patch: [usize; 3]) -> bool {
    let (y0, x0, y1, x1) = (start[1], start[2], start[1] + patch[1] as isize - 1, start[2] + patch[2] as isize - 1);
    let inside = y >= y0 && y <= y1 && x >= x0 && x <= x1;
    inside && (y == y0 || y == y1 || x == x0 || x == x1)
}
