//! `DATA.RESOLUTION_NORM` for the training and validation sets (BiaPy's `set_file_resolutions`
//! and the generators' `resolution_norm_factor`): each image gets its in-plane scale from the
//! `resolution.json` beside its split folder — validation falls back to the training file when
//! it has none of its own — and each set's augmenter is told to warp by it and to extract a
//! window large enough for the set's strongest downscale. Test images are not rescaled (as
//! BiaPy). Prints BiaPy's "matched" lines.

use std::io::Write;

use super::error::TrainError;
use super::samples::TrainImage;
use crate::augment::Augmenter;
use crate::config::{Augmentor, Config, FillMode};
use crate::data::dataset::DataError;
use crate::data::dataset::SplitSpec;
use crate::data::resolution::{Resolutions, scale};

/// The per-file resolutions of the training and validation sets, and the target x spacing.
#[derive(Debug)]
pub struct ResolutionNorm {
    target_x: f64,
    train: Option<Resolutions>,
    /// The validation folder's own file (`DATA.VAL.FROM_TRAIN: False`), if it has one.
    val: Option<Resolutions>,
}

impl ResolutionNorm {
    /// Reads the files of `train` (and of a separate `val` split); `None` when
    /// `DATA.RESOLUTION_NORM` is off.
    pub fn load(config: &Config, train: &SplitSpec, val: Option<&SplitSpec>) -> Result<Option<Self>, TrainError> {
        let norm = &config.data.resolution_norm;
        if !norm.enable {
            return Ok(None);
        }
        let read = |spec: &SplitSpec| match &spec.resolution_json {
            Some(path) => Resolutions::load(path).map_err(|e| TrainError::Data(DataError::from(e))),
            None => Ok(None),
        };
        let target_x = norm.target_resolution.last().copied().unwrap_or(1.0);
        Ok(Some(ResolutionNorm { target_x, train: read(train)?, val: val.map(read).transpose()?.flatten() }))
    }

    /// Sets the scale of every image of a set (`is_val`: the validation set) and prints how
    /// many files the resolutions cover.
    pub fn attach(&self, images: &mut [TrainImage], is_val: bool, out: &mut dyn Write) {
        let (source, fallback) = match (&self.val, is_val) {
            (Some(own), true) => (Some(own), false),
            (None, true) => (self.train.as_ref(), true),
            (_, false) => (self.train.as_ref(), false),
        };
        let mut matched = 0;
        for image in images.iter_mut() {
            let x = source.and_then(|r| r.x_of(&image.image_path));
            matched += usize::from(x.is_some());
            image.resolution_scale = scale(x, self.target_x);
        }
        let set = if is_val { "validation" } else { "training" };
        let n = images.len();
        match source {
            Some(r) if fallback => writeln!(
                out,
                "Resolution norm: matched {matched}/{n} {set} file(s) from the training set's `{}`.",
                r.path.display()
            ),
            Some(r) => {
                writeln!(out, "Resolution norm: matched {matched}/{n} {set} file(s) from `{}`.", r.path.display())
            }
            None => writeln!(
                out,
                "Resolution norm: no resolution.json beside the {set} folder: none of its {n} file(s) is rescaled."
            ),
        }
        .ok();
    }

    /// `augmenter` (`AUGMENTOR`'s, if any) told to rescale each sample of `images` and to
    /// extract for their smallest scale; a warp it has not gets filled with `mode` (training:
    /// `AUGMENTOR.AFFINE_MODE`; validation: `constant`, as BiaPy's validation generator).
    pub fn augmenter(
        &self,
        config: &Config,
        augmenter: Option<Augmenter>,
        images: &[TrainImage],
        patch: [usize; 3],
        mode: FillMode,
    ) -> Result<Augmenter, TrainError> {
        // Files without a resolution have scale 1, which adds nothing (the window only grows
        // below 1).
        let smallest = images.iter().map(|i| i.resolution_scale).fold(1.0, f64::min);
        let augmenter = match augmenter {
            Some(a) => a,
            None => {
                let off = Augmentor { enable: false, ..config.augmentor.clone() };
                Augmenter::from_config(&off, config.problem.ndim, patch)?
            }
        };
        Ok(augmenter.with_resolution_norm(smallest, mode))
    }
}
