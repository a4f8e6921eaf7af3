//! The images of a training or validation split with, for the grid plan, their patches — what
//! the split and the sample filters (spec §3.3, §3.9) work on before it becomes a
//! [`super::samples::Plan`]. Filtering drops whole images (`DATA.FILTER_BY_IMAGE`, random
//! patches) or grid patches, prints BiaPy's lines and, with `DATA.SAVE_FILTERED_IMAGES`, writes
//! BiaPy's examples to `filtering_information/<phase>/`.
//!
//! Must not: decide how validation is split off (that is `setup.rs`).

use std::io::Write;
use std::path::Path;

use super::error::TrainError;
use super::samples::{ImageOptions, Plan, TrainImage, grid_patches, reread};
use crate::config::FilterRules;
use crate::data::Volume;
use crate::data::filter::{Ranges, discards};
use crate::data::normalize::apply;
use crate::data::tiff_io::{AnyVolume, WriteOptions, write_tiff};
use crate::data::window::crop_reflect;

/// Grid patches `(image index, start in padded coordinates)` and the padding.
pub(super) type Grid = (Vec<(usize, [usize; 3])>, [usize; 3]);

/// The images of a split and, for the grid plan, their patches; `None` for random patches.
pub(super) struct Pool {
    pub(super) images: Vec<TrainImage>,
    pub(super) grid: Option<Grid>,
}

impl Pool {
    /// Every image, and every grid patch of each when `grid` gives `(overlap, padding)`.
    pub(super) fn new(
        images: Vec<TrainImage>,
        patch: [usize; 3],
        grid: Option<([f64; 3], [usize; 3])>,
    ) -> Result<Self, TrainError> {
        let grid = match grid {
            Some((overlap, padding)) => {
                let all: Vec<usize> = (0..images.len()).collect();
                Some((grid_patches(&images, &all, patch, overlap, padding)?, padding))
            }
            None => None,
        };
        Ok(Self { images, grid })
    }

    /// Samples: grid patches, or images for random patches.
    pub(super) fn n_samples(&self) -> usize {
        self.grid.as_ref().map_or(self.images.len(), |(patches, _)| patches.len())
    }

    /// The pool of the images `keep` (sorted indices), their patches re-indexed.
    pub(super) fn keep_images(self, keep: &[usize]) -> Self {
        self.split_images(keep, &[]).0
    }

    /// The pools of the images `a` and of the images `b` (disjoint sorted indices), their patches
    /// re-indexed.
    pub(super) fn split_images(self, a: &[usize], b: &[usize]) -> (Self, Self) {
        let reindex = |keep: &[usize]| {
            let mut new_index = vec![None; self.images.len()];
            for (new, &old) in keep.iter().enumerate() {
                new_index[old] = Some(new);
            }
            self.grid.as_ref().map(|(patches, padding)| {
                (patches.iter().filter_map(|&(i, p)| new_index[i].map(|n| (n, p))).collect(), *padding)
            })
        };
        let (grid_a, grid_b) = (reindex(a), reindex(b));
        let mut slots: Vec<Option<TrainImage>> = self.images.into_iter().map(Some).collect();
        let mut take = |keep: &[usize]| keep.iter().filter_map(|&i| slots[i].take()).collect();
        (Self { images: take(a), grid: grid_a }, Self { images: take(b), grid: grid_b })
    }

    /// The pool of the grid patches `keep` (sorted indices), over the same images.
    pub(super) fn keep_patches(&self, keep: &[usize]) -> Self {
        let grid = self.grid.as_ref().map(|(patches, padding)| (keep.iter().map(|&i| patches[i]).collect(), *padding));
        Self { images: self.images.clone(), grid }
    }

    /// Drops the samples `rules` discards (spec §3.9): whole images with `by_image` or random
    /// patches, else grid patches; images left without patches leave the pool. Prints BiaPy's
    /// lines; an error when nothing is left.
    pub(super) fn filter(
        self,
        rules: &FilterRules,
        by_image: bool,
        options: &ImageOptions,
        key: &str,
        save: Option<(&Path, usize)>,
        out: &mut dyn Write,
    ) -> Result<Self, TrainError> {
        writeln!(out, "Applying filtering to data samples . . .").ok();
        let mut examples = Examples { save, filtered: 0, kept: 0 };
        let whole_images = by_image || self.grid.is_none();
        let before = if whole_images { self.images.len() } else { self.n_samples() };
        writeln!(out, "Number of samples before filtering: {before}").ok();
        let mut kept_images = Vec::new();
        let mut kept_patches = Vec::new();
        for (i, entry) in self.images.iter().enumerate() {
            let (mut image, mask) = reread(options, entry)?;
            if rules.norm_before {
                apply(image.as_mut_slice(), &entry.stats);
            }
            let ranges = Ranges::of(image.as_slice(), Some(mask.as_slice()));
            if whole_images {
                let dropped = discards(rules, image.as_slice(), Some(mask.as_slice()), ranges);
                if dropped {
                    writeln!(out, "Discarding file {}", entry.image_path.display()).ok();
                } else {
                    kept_images.push(i);
                }
                examples.whole(&image, &entry.image_path, dropped)?;
                continue;
            }
            let (patches, padding) = self.grid.as_ref().expect("grid pool");
            let mut kept_here = Vec::new();
            for (n, &(_, start)) in patches.iter().enumerate().filter(|(_, (image_idx, _))| *image_idx == i) {
                let from: [isize; 3] = std::array::from_fn(|a| start[a] as isize - padding[a] as isize);
                let window = (crop_reflect(&image, from, options.patch), crop_reflect(&mask, from, options.patch));
                if !discards(rules, window.0.as_slice(), Some(window.1.as_slice()), ranges) {
                    kept_patches.push(n);
                    kept_here.push(from);
                }
            }
            examples.patches(&image, &entry.image_path, &kept_here, options.patch)?;
            if !kept_here.is_empty() {
                kept_images.push(i);
            }
        }
        let after = if whole_images { kept_images.len() } else { kept_patches.len() };
        if after == 0 {
            return Err(TrainError::AllFiltered { key: key.to_string(), before });
        }
        writeln!(out, "Number of samples after filtering: {after}").ok();
        let pool = if whole_images { self } else { self.keep_patches(&kept_patches) };
        Ok(pool.keep_images(&kept_images))
    }

    /// The images and the plan; `fixed` random crops for validation.
    pub(super) fn into_plan(self, fixed: bool) -> (Vec<TrainImage>, Plan) {
        let plan = match self.grid {
            Some((patches, padding)) => Plan::Grid { patches, padding },
            None => Plan::Random { fixed },
        };
        (self.images, plan)
    }
}

/// `DATA.SAVE_FILTERED_IMAGES`: BiaPy's examples of what a filter did, at most
/// `SAVE_FILTERED_IMAGES_NUM` of each kind — whole images in `filtered/` and `not-filtered/`, or,
/// when grid patches are filtered, each image with its dropped patches black.
struct Examples<'a> {
    save: Option<(&'a Path, usize)>,
    filtered: usize,
    kept: usize,
}

impl Examples<'_> {
    fn whole(&mut self, image: &Volume<f32>, path: &Path, dropped: bool) -> Result<(), TrainError> {
        let Some((dir, num)) = self.save else { return Ok(()) };
        let (count, folder) = if dropped { (&mut self.filtered, "filtered") } else { (&mut self.kept, "not-filtered") };
        if *count >= num {
            return Ok(());
        }
        *count += 1;
        write_example(&dir.join(folder), path, image.clone())
    }

    fn patches(
        &mut self,
        image: &Volume<f32>,
        path: &Path,
        kept: &[[isize; 3]],
        patch: [usize; 3],
    ) -> Result<(), TrainError> {
        let Some((dir, num)) = self.save else { return Ok(()) };
        if self.kept >= num {
            return Ok(());
        }
        self.kept += 1;
        let [nz, ny, nx, nc] = image.shape();
        let mut shown = Volume::filled([nz, ny, nx, nc], 0.0f32);
        for from in kept {
            for z in (from[0].max(0) as usize)..((from[0] + patch[0] as isize).min(nz as isize).max(0) as usize) {
                for y in (from[1].max(0) as usize)..((from[1] + patch[1] as isize).min(ny as isize).max(0) as usize) {
                    let row = ((z * ny + y) * nx) * nc;
                    let (x0, x1) =
                        (from[2].max(0) as usize, (from[2] + patch[2] as isize).min(nx as isize).max(0) as usize);
                    let range = row + x0 * nc..row + x1 * nc;
                    shown.as_mut_slice()[range.clone()].copy_from_slice(&image.as_slice()[range]);
                }
            }
        }
        write_example(dir, path, shown)
    }
}

fn write_example(dir: &Path, image_path: &Path, image: Volume<f32>) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(TrainError::write(dir))?;
    let name = image_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(write_tiff(&dir.join(format!("{name}.tif")), &AnyVolume::F32(image), &WriteOptions::default())?)
}
