//! Training-time data augmentation, as BiaPy's `apply_transform` (spec §9): an [`Augmenter`]
//! built once from `AUGMENTOR.*` holds the enabled transforms, in BiaPy's fixed order, each fired
//! independently with its `<NAME>_PROB`; [`Augmenter::apply`] runs them on one
//! `(image, mask)` sample with a seeded RNG.
//!
//! Data flow: the caller extracts a window of [`Augmenter::input_window`] around the sample
//! (larger than the patch when zoom-out or random rotation is on) → z-flip (3D) → the combined
//! rotation/`ROT90`/zoom warp and random crop back to the patch → grayscale → channel shuffle →
//! cutblur → cutmix → cutnoise → misalignment → brightness → contrast → gamma → Gaussian noise → Poisson noise → salt → pepper
//! → salt and pepper → missing sections → grid mask → cutout → elastic → shear → shift → `VFLIP` (y, D8) →
//! `HFLIP` (x, D8) → Gaussian blur → median blur → motion blur → dropout.
//!
//! Geometric transforms move image and mask through one coordinate map (image linear, mask
//! nearest neighbour, so no label is ever invented); intensity transforms touch the image only.
//! In 3D, in-plane transforms use the same parameters on every z-slice. Pure computation, no I/O.
//!
//! ```
//! use rand::SeedableRng;
//! use segsweep::augment::Augmenter;
//! use segsweep::config::{Augmentor, Ndim};
//! use segsweep::data::Volume;
//!
//! let aug = Augmentor { enable: true, vflip: true, vflip_prob: 1.0, ..Augmentor::default() };
//! let augmenter = Augmenter::from_config(&aug, Ndim::D2, [1, 2, 2]).unwrap();
//! let image = Volume::from_vec([1, 2, 2, 1], vec![0.0f32, 1.0, 2.0, 3.0]).unwrap();
//! let mask = Volume::from_vec([1, 2, 2, 1], vec![0u16, 0, 1, 1]).unwrap();
//! let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(0);
//! let (image, mask) = augmenter.apply(&image, &mask, &mut rng);
//! assert_eq!(image.as_slice(), &[2.0, 3.0, 0.0, 1.0]);
//! assert_eq!(mask.as_slice(), &[1, 1, 0, 0]);
//! assert_eq!(augmenter.suffix(), "_vflip");
//! ```

mod channels;
mod cutblur;
mod draw;
mod filters;
mod geometry;
mod gridmask;
mod intensity;
mod noise;
mod sample;
mod sections;
mod suffix;
#[cfg(test)]
mod tests;

use std::borrow::Cow;

use rand::rngs::ChaCha8Rng;

use crate::config::{Augmentor, FillMode, Ndim};
use crate::data::Volume;

use geometry::{RandomRot, Warp, Zoom};
use sample::Interp;
use sections::Cutout;

/// Why an [`Augmenter`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum AugmentError {
    /// A parameter the transforms cannot work with.
    #[error("`{key}`: {reason}")]
    Invalid {
        /// The full key.
        key: String,
        /// What was expected.
        reason: String,
    },
}

/// One transform with its parameters.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    ZFlip,
    Warp(Warp),
    Grayscale,
    ChannelShuffle,
    Misalignment {
        displacement: i64,
        rotate_ratio: f64,
    },
    Brightness {
        range: [f64; 2],
    },
    Contrast {
        range: [f64; 2],
    },
    GammaContrast {
        range: [f64; 2],
    },
    GaussianNoise {
        mean: f64,
        var: f64,
        use_image_stats: bool,
    },
    PoissonNoise,
    CutNoise(noise::CutNoise),
    CutBlur(cutblur::CutBlur),
    /// Handled in `apply_with_partner` (it needs the partner sample).
    CutMix {
        size: [f64; 2],
    },
    /// `SALT` (share of salt 1), `PEPPER` (0) and `SALT_AND_PEPPER` (its `_PROP`).
    SaltAndPepper {
        amount: f64,
        salt_vs_pepper: f64,
    },
    MissingSections {
        iterations: [i64; 2],
        section_prob: f64,
    },
    GridMask(gridmask::GridMask),
    Cutout(Cutout),
    Elastic {
        alpha: [f64; 2],
        sigma: f64,
        mode: FillMode,
    },
    Shear {
        range: [i64; 2],
        mode: FillMode,
    },
    Shift {
        range: [f64; 2],
        mode: FillMode,
    },
    VFlip,
    HFlip,
    GaussianBlur {
        sigma: [f64; 2],
    },
    MedianBlur {
        kernel: [i64; 2],
    },
    MotionBlur {
        k_range: [i64; 2],
    },
    Dropout {
        range: [f64; 2],
    },
}

/// A transform and the probability it fires with (the warp has its own rolls: 1).
#[derive(Clone, Debug, PartialEq)]
struct Step {
    prob: f64,
    op: Op,
}

/// The enabled transforms of an `AUGMENTOR` section, in BiaPy's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Augmenter {
    steps: Vec<Step>,
    patch: [usize; 3],
    window: [usize; 3],
    image_interp: Interp,
    suffix: String,
}

impl Augmenter {
    /// Builds the transform list. `patch` is the output spatial size `(z, y, x)` (z = 1 in 2D).
    /// With `AUGMENTOR.ENABLE` off the augmenter is the identity. `ZFLIP` and `ZOOM_IN_Z` are
    /// ignored in 2D (as BiaPy's 2D generator does).
    pub fn from_config(aug: &Augmentor, ndim: Ndim, patch: [usize; 3]) -> Result<Self, AugmentError> {
        if patch.contains(&0) || (ndim == Ndim::D2 && patch[0] != 1) {
            return Err(invalid("DATA.PATCH_SIZE", format!("expected a non-empty patch (z = 1 in 2D), got {patch:?}")));
        }
        if !aug.enable {
            let suffix = String::new();
            return Ok(Self { steps: Vec::new(), patch, window: patch, image_interp: Interp::Linear, suffix });
        }
        validate(aug)?;
        let steps = steps(aug, ndim == Ndim::D3);
        let window = steps.iter().find_map(|s| if let Op::Warp(w) = &s.op { Some(w.window(patch, 1.0)) } else { None });
        let window = window.unwrap_or(patch);
        Ok(Self { steps, patch, window, image_interp: Interp::Linear, suffix: suffix::suffix(aug) })
    }

    /// `DATA.RESOLUTION_NORM` (BiaPy's `resolution_norm_factor`): every sample is scaled in plane
    /// by its own factor ([`apply_scaled`](Augmenter::apply_scaled)) inside the zoom/rotation
    /// warp — a warp of its own, filled with `mode`, when none is enabled (and so also with
    /// `AUGMENTOR.ENABLE` off, and for validation) — and the input window grows for the
    /// split's smallest factor `extra_downscale` (BiaPy's `geom_aug_load_shape`).
    pub fn with_resolution_norm(mut self, extra_downscale: f64, mode: FillMode) -> Self {
        let at = self.steps.iter().position(|s| matches!(s.op, Op::Warp(_)));
        let at = at.unwrap_or_else(|| {
            let warp = Warp { rot90: None, random_rot: None, zoom: None, mode };
            // After `ZFLIP` when it is on, as the augmentation warp sits.
            let after_zflip = usize::from(self.steps.first().is_some_and(|s| s.op == Op::ZFlip));
            self.steps.insert(after_zflip, Step { prob: 1.0, op: Op::Warp(warp) });
            after_zflip
        });
        if let Op::Warp(w) = &self.steps[at].op {
            self.window = w.window(self.patch, extra_downscale);
        }
        self
    }

    /// True when nothing is enabled (or `AUGMENTOR.ENABLE` is off): `apply` returns its input.
    pub fn is_identity(&self) -> bool {
        self.steps.is_empty()
    }

    /// The `(z, y, x)` window the caller must extract around the sample before [`apply`]: larger
    /// than the patch when zoom-out or random rotation is on (`⌈√(py² + px²) · f⌉` in-plane with
    /// random rotation, `f = 1 / ZOOM_RANGE[0]` when below 1; see `Warp::window`), else the patch.
    ///
    /// [`apply`]: Augmenter::apply
    pub fn input_window(&self) -> [usize; 3] {
        self.window
    }

    /// The patch size `(z, y, x)` [`apply`](Augmenter::apply) returns.
    pub fn patch(&self) -> [usize; 3] {
        self.patch
    }

    /// Augments one sample. `image` is `(z, y, x, c)` normalised `f32`, `mask` `(z, y, x, 1)`
    /// labels, both of spatial shape [`input_window`](Augmenter::input_window). Returns both
    /// cropped to the patch (random position inside the warped window, as BiaPy). Deterministic
    /// given the RNG state.
    ///
    /// # Panics
    /// If the image or mask spatial shape is not the input window.
    pub fn apply(&self, image: &Volume<f32>, mask: &Volume<u16>, rng: &mut ChaCha8Rng) -> (Volume<f32>, Volume<u16>) {
        debug_assert!(!self.needs_partner(), "with CUTMIX, call `apply_with_partner`");
        self.apply_with_partner(image, mask, None, rng)
    }

    /// True when `CUTMIX` is on: [`apply_with_partner`](Augmenter::apply_with_partner) then needs
    /// a second training sample of patch size to paste from.
    pub fn needs_partner(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.op, Op::CutMix { .. }))
    }

    /// [`apply`](Augmenter::apply) with `partner`, the `(image, mask)` patch of another training
    /// sample that `CUTMIX` pastes a box from (BiaPy loads one at random; the caller does).
    ///
    /// # Panics
    /// If the image or mask spatial shape is not the input window, or the partner's is not the
    /// patch.
    pub fn apply_with_partner(
        &self,
        image: &Volume<f32>,
        mask: &Volume<u16>,
        partner: Option<(&Volume<f32>, &Volume<u16>)>,
        rng: &mut ChaCha8Rng,
    ) -> (Volume<f32>, Volume<u16>) {
        self.apply_scaled(image, mask, partner, 1.0, rng)
    }

    /// [`apply_with_partner`](Augmenter::apply_with_partner) of a sample with its own in-plane
    /// scale `scale_xy` (`DATA.RESOLUTION_NORM`: the file's x spacing over the target's),
    /// multiplied into the warp's zoom (see [`with_resolution_norm`](Augmenter::with_resolution_norm)).
    pub fn apply_scaled(
        &self,
        image: &Volume<f32>,
        mask: &Volume<u16>,
        partner: Option<(&Volume<f32>, &Volume<u16>)>,
        scale_xy: f64,
        rng: &mut ChaCha8Rng,
    ) -> (Volume<f32>, Volume<u16>) {
        debug_assert!(
            scale_xy == 1.0 || self.steps.iter().any(|s| matches!(s.op, Op::Warp(_))),
            "a sample scale needs `with_resolution_norm`"
        );
        assert_eq!(image.spatial_shape(), self.window, "image must have the augmenter's input window shape");
        assert_eq!(mask.spatial_shape(), self.window, "mask must have the augmenter's input window shape");
        if let Some((p_image, p_mask)) = partner {
            assert_eq!((p_image.spatial_shape(), p_mask.spatial_shape()), (self.patch, self.patch), "partner patch");
        }
        let (mut image, mut mask) = (Cow::Borrowed(image), Cow::Borrowed(mask));
        for step in &self.steps {
            if draw::roll(rng, step.prob) {
                if let (Op::CutMix { size }, Some((p_image, p_mask))) = (&step.op, partner) {
                    sections::cutmix((image.to_mut(), mask.to_mut()), (p_image, p_mask), *size, rng);
                    continue;
                }
                (image, mask) = self.run(&step.op, image, mask, scale_xy, rng);
            }
        }
        (image.into_owned(), mask.into_owned())
    }

    /// BiaPy's file-name suffix listing the enabled transforms (§9.3), e.g.
    /// `_rrot(-180,180)_vflip_hflip` for the 2D template; spaces removed. The exact tags are
    /// listed in `augment/suffix.rs`.
    pub fn suffix(&self) -> String {
        self.suffix.clone()
    }

    /// Runs one transform. The input is only copied when a transform edits it in place, so the
    /// caller's volumes are never cloned when a warp comes first.
    fn run<'a>(
        &self,
        op: &Op,
        mut img: Cow<'a, Volume<f32>>,
        mut msk: Cow<'a, Volume<u16>>,
        scale_xy: f64,
        rng: &mut ChaCha8Rng,
    ) -> (Cow<'a, Volume<f32>>, Cow<'a, Volume<u16>>) {
        let interp = self.image_interp;
        let (image, mask) = match *op {
            Op::ZFlip => (geometry::flip(&img, geometry::Z), geometry::flip(&msk, geometry::Z)),
            Op::Warp(ref w) => w.apply(&img, &msk, self.patch, interp, scale_xy, rng),
            Op::Misalignment { displacement, rotate_ratio } => {
                sections::misalignment(&img, &msk, displacement, rotate_ratio, interp, rng)
            }
            Op::Elastic { alpha, sigma, mode } => geometry::elastic(&img, &msk, alpha, sigma, mode, interp, rng),
            Op::Shear { range, mode } => geometry::shear(&img, &msk, range, mode, interp, rng),
            Op::Shift { range, mode } => geometry::shift(&img, &msk, range, mode, interp, rng),
            // D8: VFLIP flips up-down (y), HFLIP left-right (x); BiaPy swaps them.
            Op::VFlip => (geometry::flip(&img, geometry::Y), geometry::flip(&msk, geometry::Y)),
            Op::HFlip => (geometry::flip(&img, geometry::X), geometry::flip(&msk, geometry::X)),
            _ => {
                self.run_in_place(op, img.to_mut(), &mut msk, rng);
                return (img, msk);
            }
        };
        (Cow::Owned(image), Cow::Owned(mask))
    }

    /// The transforms that edit the image (and, for cutout, the mask) in place.
    fn run_in_place(&self, op: &Op, img: &mut Volume<f32>, msk: &mut Cow<'_, Volume<u16>>, rng: &mut ChaCha8Rng) {
        match *op {
            Op::Grayscale => channels::grayscale(img),
            Op::ChannelShuffle => channels::channel_shuffle(img, rng),
            Op::PoissonNoise => noise::poisson(img, rng),
            Op::CutNoise(ref p) => noise::cutnoise(img, p, rng),
            Op::CutBlur(ref p) => cutblur::cutblur(img, p, rng),
            Op::CutMix { .. } => {}
            Op::GridMask(ref p) => gridmask::gridmask(img, p, rng),
            Op::SaltAndPepper { amount, salt_vs_pepper } => noise::salt_and_pepper(img, amount, salt_vs_pepper, rng),
            Op::Brightness { range } => intensity::brightness(img, range, rng),
            Op::Contrast { range } => intensity::contrast(img, range, rng),
            Op::GammaContrast { range } => intensity::gamma_contrast(img, range, rng),
            Op::GaussianNoise { mean, var, use_image_stats } => {
                intensity::gaussian_noise(img, mean, var, use_image_stats, rng)
            }
            Op::MissingSections { iterations, section_prob } => {
                sections::missing_sections(img, iterations, section_prob, rng)
            }
            Op::Cutout(ref p) => sections::cutout(img, p.apply_to_mask.then(|| msk.to_mut()), p, rng),
            Op::GaussianBlur { sigma } => intensity::gaussian_blur(img, sigma, rng),
            Op::MedianBlur { kernel } => intensity::median_blur(img, kernel, rng),
            Op::MotionBlur { k_range } => intensity::motion_blur(img, k_range, rng),
            Op::Dropout { range } => intensity::dropout(img, range, rng),
            _ => unreachable!("geometric transforms are handled in `run`"),
        }
    }
}

fn invalid(key: &str, reason: impl Into<String>) -> AugmentError {
    AugmentError::Invalid { key: key.to_string(), reason: reason.into() }
}

/// The few parameter checks the transforms need beyond `config::check` (which callers may skip).
fn validate(a: &Augmentor) -> Result<(), AugmentError> {
    if a.zoom && !a.zoom_range.iter().all(|&v| v > 0.0 && v.is_finite()) {
        return Err(invalid("AUGMENTOR.ZOOM_RANGE", format!("expected positive factors, got {:?}", a.zoom_range)));
    }
    if a.elastic && !(a.e_sigma > 0.0 && a.e_sigma.is_finite()) {
        return Err(invalid("AUGMENTOR.E_SIGMA", format!("expected a positive sigma, got {}", a.e_sigma)));
    }
    Ok(())
}

/// The enabled transforms in BiaPy's order (spec §9.1).
fn steps(a: &Augmentor, is_3d: bool) -> Vec<Step> {
    let on = |enabled: bool, prob: f64, op: Op| enabled.then_some(Step { prob, op });
    let warp = (a.rot90 || a.random_rot || a.zoom).then(|| Warp {
        rot90: a.rot90.then_some(a.rot90_prob),
        random_rot: a.random_rot.then_some(RandomRot { range: a.random_rot_range, prob: a.random_rot_prob }),
        zoom: a.zoom.then_some(Zoom { range: a.zoom_range, in_z: is_3d && a.zoom_in_z, prob: a.zoom_prob }),
        mode: a.affine_mode,
    });
    let cutout = Cutout {
        n_boxes: a.cout_nb_iterations,
        size: a.cout_size,
        cval: a.cout_cval as f32,
        apply_to_mask: a.cout_apply_to_mask,
    };
    let noise = Op::GaussianNoise {
        mean: a.gaussian_noise_mean,
        var: a.gaussian_noise_var,
        use_image_stats: a.gaussian_noise_use_input_img_mean_and_var,
    };
    let affine = a.affine_mode;
    [
        on(a.zflip && is_3d, a.zflip_prob, Op::ZFlip),
        warp.map(|w| Step { prob: 1.0, op: Op::Warp(w) }),
        on(a.grayscale, a.grayscale_prob, Op::Grayscale),
        on(a.channel_shuffle, a.channel_shuffle_prob, Op::ChannelShuffle),
        on(
            a.cutblur,
            a.cutblur_prob,
            Op::CutBlur(cutblur::CutBlur {
                size: a.cblur_size,
                down_range: a.cblur_down_range.map(|v| v as i64),
                inside: a.cblur_inside,
            }),
        ),
        on(a.cutmix, a.cutmix_prob, Op::CutMix { size: a.cmix_size }),
        on(
            a.cutnoise,
            a.cutnoise_prob,
            Op::CutNoise(noise::CutNoise {
                scale: a.cnoise_scale,
                n_boxes: a.cnoise_nb_iterations,
                size: a.cnoise_size,
            }),
        ),
        on(
            a.misalignment,
            a.misalignment_prob,
            Op::Misalignment { displacement: a.ms_displacement, rotate_ratio: a.ms_rotate_ratio },
        ),
        on(a.brightness, a.brightness_prob, Op::Brightness { range: a.brightness_factor }),
        on(a.contrast, a.contrast_prob, Op::Contrast { range: a.contrast_factor }),
        on(a.gamma_contrast, a.gamma_contrast_prob, Op::GammaContrast { range: a.gc_gamma }),
        on(a.gaussian_noise, a.gaussian_noise_prob, noise),
        on(a.poisson_noise, a.poisson_noise_prob, Op::PoissonNoise),
        on(a.salt, a.salt_prob, Op::SaltAndPepper { amount: a.salt_amount, salt_vs_pepper: 1.0 }),
        on(a.pepper, a.pepper_prob, Op::SaltAndPepper { amount: a.pepper_amount, salt_vs_pepper: 0.0 }),
        on(
            a.salt_and_pepper,
            a.salt_and_pepper_prob,
            Op::SaltAndPepper { amount: a.salt_and_pepper_amount, salt_vs_pepper: a.salt_and_pepper_prop },
        ),
        on(
            a.missing_sections,
            a.missing_sections_prob,
            Op::MissingSections { iterations: a.missp_iterations, section_prob: a.missp_channel_pb },
        ),
        on(
            a.gridmask,
            a.gridmask_prob,
            Op::GridMask(gridmask::GridMask {
                ratio: a.grid_ratio,
                d_range: a.grid_d_range,
                rotate: a.grid_rotate,
                invert: a.grid_invert,
            }),
        ),
        on(a.cutout, a.cutout_prob, Op::Cutout(cutout)),
        on(a.elastic, a.elastic_prob, Op::Elastic { alpha: a.e_alpha, sigma: a.e_sigma, mode: a.e_mode }),
        on(a.shear, a.shear_prob, Op::Shear { range: a.shear_range, mode: affine }),
        on(a.shift, a.shift_prob, Op::Shift { range: a.shift_range, mode: affine }),
        on(a.vflip, a.vflip_prob, Op::VFlip),
        on(a.hflip, a.hflip_prob, Op::HFlip),
        on(a.g_blur, a.g_blur_prob, Op::GaussianBlur { sigma: a.g_sigma }),
        on(a.median_blur, a.median_blur_prob, Op::MedianBlur { kernel: a.mb_kernel }),
        on(a.motion_blur, a.motion_blur_prob, Op::MotionBlur { k_range: a.motb_k_range }),
        on(a.dropout, a.dropout_prob, Op::Dropout { range: a.drop_range }),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// BiaPy's debug grid (§9.3), burnt into image and mask before transforming: on every z-slice,
/// rows every `ny / 5` and columns every `nx / 5` pixels (at least 1) are set, in every
/// channel, to that channel's maximum over the volume.
pub fn draw_grid(image: &mut Volume<f32>, mask: &mut Volume<u16>) {
    burn_grid(image, |a, b| a.max(b));
    burn_grid(mask, |a, b| a.max(b));
}

fn burn_grid<T: Copy>(v: &mut Volume<T>, max: impl Fn(T, T) -> T) {
    let [nz, ny, nx, nc] = v.shape();
    if v.as_slice().is_empty() {
        return;
    }
    let channel_max: Vec<T> =
        (0..nc).map(|c| v.as_slice().iter().skip(c).step_by(nc).copied().reduce(&max).expect("non-empty")).collect();
    let (step_y, step_x) = ((ny / 5).max(1), (nx / 5).max(1));
    for z in 0..nz {
        for y in 0..ny {
            for x in (0..nx).filter(|x| y % step_y == 0 || x % step_x == 0) {
                let i = v.index(z, y, x, 0);
                v.as_mut_slice()[i..i + nc].copy_from_slice(&channel_max);
            }
        }
    }
}
