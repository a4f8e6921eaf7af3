//! Tests of the whole [`Augmenter`]: image/mask alignment for every geometric transform alone and
//! for the template chains, D8 flips, determinism, probabilities, input windows, suffixes, the
//! debug grid and the unsupported-switch error. Tiny volumes: the crate is tested unoptimised.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::*;

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Labels 0..=2, constant on blocks of `block` pixels in-plane and `block_z` slices.
fn blocky_mask(shape: [usize; 3], block: usize, block_z: usize, seed: u64) -> Volume<u16> {
    let mut r = rng(seed);
    let nb = [shape[0].div_ceil(block_z), shape[1].div_ceil(block), shape[2].div_ceil(block)];
    let labels: Vec<u16> = (0..nb.iter().product::<usize>()).map(|_| r.random_range(0..3)).collect();
    let data = (0..shape.iter().product::<usize>())
        .map(|i| {
            let (z, y, x) = (i / (shape[1] * shape[2]), (i / shape[2]) % shape[1], i % shape[2]);
            labels[((z / block_z) * nb[1] + y / block) * nb[2] + x / block]
        })
        .collect();
    Volume::from_vec([shape[0], shape[1], shape[2], 1], data).unwrap()
}

/// A sample whose image equals its mask: channel 0 = label, channel 1 = −label.
fn sample(shape: [usize; 3], seed: u64) -> (Volume<f32>, Volume<u16>) {
    let mask = blocky_mask(shape, 8, 4, seed);
    let data = mask.as_slice().iter().flat_map(|&l| [f32::from(l), -f32::from(l)]).collect();
    (Volume::from_vec([shape[0], shape[1], shape[2], 2], data).unwrap(), mask)
}

fn matches(image: &Volume<f32>, mask: &Volume<u16>, z: usize, y: usize, x: usize) -> bool {
    let label = f32::from(mask.get(z, y, x, 0));
    image.get(z, y, x, 0).round() == label && (-image.get(z, y, x, 1)).round() == label
}

/// Fraction of interior voxels (away from every border the fill mode may blend in) with a uniform 3×3(×3) mask neighbourhood where the image rounds
/// to the mask (in both channels): linear interpolation only blends labels across boundaries.
fn agreement(image: &Volume<f32>, mask: &Volume<u16>) -> f64 {
    let [nz, ny, nx] = mask.spatial_shape();
    let (mut agree, mut total) = (0usize, 0usize);
    let interior_z = if nz > 2 { 1..nz - 1 } else { 0..nz };
    for z in interior_z {
        for y in 1..ny - 1 {
            for x in 1..nx - 1 {
                let label = mask.get(z, y, x, 0);
                let mut around = (z.saturating_sub(1)..=(z + 1).min(nz - 1))
                    .flat_map(|a| (y - 1..=y + 1).flat_map(move |b| (x - 1..=x + 1).map(move |c| (a, b, c))));
                if around.all(|(a, b, c)| mask.get(a, b, c, 0) == label) {
                    total += 1;
                    agree += usize::from(matches(image, mask, z, y, x));
                }
            }
        }
    }
    assert!(total > 0, "no uniform neighbourhood to compare");
    agree as f64 / total as f64
}

/// An enabled `AUGMENTOR` with `set` applied on top of the defaults.
fn config(set: impl FnOnce(&mut Augmentor)) -> Augmentor {
    let mut a = Augmentor { enable: true, ..Augmentor::default() };
    set(&mut a);
    a
}

fn geometric_cases(mode: FillMode) -> Vec<(&'static str, Augmentor)> {
    let with = |set: fn(&mut Augmentor)| {
        config(|a| {
            set(a);
            a.affine_mode = mode;
            a.e_mode = mode;
        })
    };
    vec![
        ("zflip", with(|a| (a.zflip, a.zflip_prob) = (true, 1.0))),
        ("rot90", with(|a| (a.rot90, a.rot90_prob) = (true, 1.0))),
        ("random_rot", with(|a| (a.random_rot, a.random_rot_prob) = (true, 1.0))),
        ("zoom", with(|a| (a.zoom, a.zoom_prob, a.zoom_in_z) = (true, 1.0, true))),
        ("misalignment", with(|a| (a.misalignment, a.misalignment_prob) = (true, 1.0))),
        ("cutout", with(|a| (a.cutout, a.cutout_prob, a.cout_apply_to_mask) = (true, 1.0, true))),
        ("elastic", with(|a| (a.elastic, a.elastic_prob) = (true, 1.0))),
        ("shear", with(|a| (a.shear, a.shear_prob) = (true, 1.0))),
        ("shift", with(|a| (a.shift, a.shift_prob) = (true, 1.0))),
        ("vflip", with(|a| (a.vflip, a.vflip_prob) = (true, 1.0))),
        ("hflip", with(|a| (a.hflip, a.hflip_prob) = (true, 1.0))),
    ]
}

#[test]
fn every_geometric_transform_keeps_image_and_mask_aligned() {
    for (ndim, patch) in [(Ndim::D2, [1, 32, 32]), (Ndim::D3, [8, 32, 32])] {
        for mode in [FillMode::Constant, FillMode::Reflect] {
            for (name, aug) in geometric_cases(mode) {
                let mut augmenter = Augmenter::from_config(&aug, ndim, patch).unwrap();
                for seed in 0..3 {
                    let (image, mask) = sample(augmenter.input_window(), seed);
                    augmenter.image_interp = Interp::Nearest;
                    let (out, out_mask) = augmenter.apply(&image, &mask, &mut rng(seed));
                    assert_eq!(out.spatial_shape(), patch, "{name}");
                    let exact = (0..out.as_slice().len() / 2).all(|v| {
                        let label = f32::from(out_mask.as_slice()[v]);
                        out.as_slice()[2 * v] == label && out.as_slice()[2 * v + 1] == -label
                    });
                    assert!(exact, "{name} {ndim:?} {mode:?} seed {seed}: nearest image differs from mask");
                    augmenter.image_interp = Interp::Linear;
                    let (out, out_mask) = augmenter.apply(&image, &mask, &mut rng(seed));
                    let fraction = agreement(&out, &out_mask);
                    assert!(fraction >= 0.99, "{name} {ndim:?} {mode:?} seed {seed}: {fraction}");
                }
            }
        }
    }
}

#[test]
fn template_chains_stay_aligned() {
    let chain = |a: &mut Augmentor| {
        (a.random_rot, a.vflip, a.hflip, a.elastic, a.zoom, a.zflip) = (true, true, true, true, true, true);
    };
    for (ndim, patch, runs) in [(Ndim::D2, [1, 32, 32], 40), (Ndim::D3, [8, 24, 24], 12)] {
        let augmenter = Augmenter::from_config(&config(chain), ndim, patch).unwrap();
        let (mut agree, mut runs_done) = (0.0, 0);
        for seed in 0..runs {
            let (image, mask) = sample(augmenter.input_window(), 100 + seed);
            let (out, out_mask) = augmenter.apply(&image, &mask, &mut rng(seed));
            assert_eq!(out.spatial_shape(), patch);
            assert!(out_mask.as_slice().iter().all(|&l| l <= 2), "nearest never invents labels");
            agree += agreement(&out, &out_mask);
            runs_done += 1;
        }
        let mean = agree / f64::from(runs_done);
        assert!(mean >= 0.99, "{ndim:?}: {mean}");
    }
}

#[test]
fn d8_vflip_reverses_y_and_hflip_reverses_x() {
    let image = Volume::from_vec([1, 4, 5, 1], (0..20).map(|i| i as f32).collect()).unwrap();
    let mask = image.map(|&v| v as u16);
    let flip = |set: fn(&mut Augmentor)| {
        let augmenter = Augmenter::from_config(&config(set), Ndim::D2, [1, 4, 5]).unwrap();
        augmenter.apply(&image, &mask, &mut rng(0))
    };
    let (v, v_mask) = flip(|a| (a.vflip, a.vflip_prob) = (true, 1.0));
    let (h, h_mask) = flip(|a| (a.hflip, a.hflip_prob) = (true, 1.0));
    for y in 0..4 {
        for x in 0..5 {
            assert_eq!(v.get(0, y, x, 0), image.get(0, 3 - y, x, 0));
            assert_eq!(h.get(0, y, x, 0), image.get(0, y, 4 - x, 0));
        }
    }
    assert_eq!((v_mask, h_mask), (v.map(|&x| x as u16), h.map(|&x| x as u16)));
}

#[test]
fn same_seed_same_output_and_seeds_differ() {
    let template = config(|a| (a.random_rot, a.vflip, a.hflip, a.zflip, a.brightness) = (true, true, true, true, true));
    let augmenter = Augmenter::from_config(&template, Ndim::D3, [4, 16, 16]).unwrap();
    let (image, mask) = sample(augmenter.input_window(), 1);
    let first = augmenter.apply(&image, &mask, &mut rng(7));
    assert_eq!(first, augmenter.apply(&image, &mask, &mut rng(7)));
    assert_ne!(first.0, augmenter.apply(&image, &mask, &mut rng(8)).0);
}

#[test]
fn probabilities_gate_each_transform() {
    let image = Volume::from_vec([1, 3, 3, 1], (0..9).map(|i| i as f32).collect()).unwrap();
    let mask = image.map(|&v| v as u16);
    let fired = |prob: f64| {
        let augmenter =
            Augmenter::from_config(&config(|a| (a.hflip, a.hflip_prob) = (true, prob)), Ndim::D2, [1, 3, 3]);
        let augmenter = augmenter.unwrap();
        let mut r = rng(11);
        (0..200).filter(|_| augmenter.apply(&image, &mask, &mut r).0 != image).count()
    };
    assert_eq!(fired(0.0), 0);
    assert_eq!(fired(1.0), 200);
    let half = fired(0.5);
    assert!((70..=130).contains(&half), "{half}");
}

#[test]
fn intensity_transforms_leave_the_mask_untouched() {
    let aug = config(|a| {
        (a.brightness, a.contrast, a.gamma_contrast, a.gaussian_noise) = (true, true, true, true);
        (a.missing_sections, a.g_blur, a.median_blur, a.dropout) = (true, true, true, true);
        (a.brightness_prob, a.contrast_prob, a.gamma_contrast_prob, a.gaussian_noise_prob) = (1.0, 1.0, 1.0, 1.0);
        (a.missing_sections_prob, a.g_blur_prob, a.median_blur_prob, a.dropout_prob) = (1.0, 1.0, 1.0, 1.0);
        (a.motion_blur, a.motion_blur_prob, a.motb_k_range) = (true, 1.0, [3, 5]);
        a.missp_iterations = [1, 3];
    });
    for (ndim, patch) in [(Ndim::D2, [1, 16, 16]), (Ndim::D3, [3, 16, 16])] {
        let augmenter = Augmenter::from_config(&aug, ndim, patch).unwrap();
        assert_eq!(augmenter.input_window(), patch);
        let (image, mask) = sample(patch, 3);
        let (out, out_mask) = augmenter.apply(&image, &mask, &mut rng(5));
        assert_eq!(out_mask, mask);
        assert_ne!(out, image);
    }
}

#[test]
fn input_window_for_template_and_zoom() {
    let template = config(|a| (a.random_rot, a.vflip, a.hflip) = (true, true, true));
    let augmenter = Augmenter::from_config(&template, Ndim::D2, [1, 256, 256]).unwrap();
    // ⌈256·√2⌉ = ⌈362.04⌉.
    assert_eq!(augmenter.input_window(), [1, 363, 363]);
    assert_eq!(augmenter.patch(), [1, 256, 256]);
    let zoom = config(|a| a.zoom = true);
    assert_eq!(Augmenter::from_config(&zoom, Ndim::D2, [1, 256, 256]).unwrap().input_window(), [1, 512, 512]);
    assert_eq!(Augmenter::from_config(&zoom, Ndim::D3, [8, 64, 64]).unwrap().input_window(), [8, 128, 128]);
    let flips = config(|a| (a.vflip, a.hflip) = (true, true));
    assert_eq!(Augmenter::from_config(&flips, Ndim::D2, [1, 256, 256]).unwrap().input_window(), [1, 256, 256]);
}

#[test]
fn suffix_and_identity() {
    let template = config(|a| (a.random_rot, a.vflip, a.hflip) = (true, true, true));
    let augmenter = Augmenter::from_config(&template, Ndim::D2, [1, 256, 256]).unwrap();
    assert_eq!(augmenter.suffix(), "_rrot(-180,180)_vflip_hflip");
    assert!(!augmenter.is_identity());
    let off = Augmentor { enable: false, ..template };
    let identity = Augmenter::from_config(&off, Ndim::D2, [1, 8, 8]).unwrap();
    assert!(identity.is_identity());
    assert_eq!((identity.suffix(), identity.input_window()), (String::new(), [1, 8, 8]));
    let (image, mask) = sample([1, 8, 8], 0);
    assert_eq!(identity.apply(&image, &mask, &mut rng(0)), (image, mask));
    let zflip_in_2d = config(|a| a.zflip = true);
    assert!(Augmenter::from_config(&zflip_in_2d, Ndim::D2, [1, 8, 8]).unwrap().is_identity());
}

#[test]
fn off_switches_and_bad_patches() {
    let off = Augmentor { enable: false, cutmix: true, ..Augmentor::default() };
    assert!(Augmenter::from_config(&off, Ndim::D2, [1, 8, 8]).is_ok());
    let err = Augmenter::from_config(&config(|a| a.zoom = true), Ndim::D2, [2, 8, 8]).unwrap_err();
    assert!(err.to_string().starts_with("`DATA.PATCH_SIZE`"), "{err}");
}

#[test]
fn draw_grid_burns_channel_max_lines() {
    let mut image = Volume::from_vec([1, 10, 10, 2], (0..200).map(|i| (i % 7) as f32 - 3.0).collect()).unwrap();
    let mut mask = Volume::filled([1, 10, 10, 1], 0u16);
    mask.set(0, 5, 5, 0, 2);
    let channel_max = [0, 1].map(|c| image.channel(c).as_slice().iter().copied().fold(f32::MIN, f32::max));
    draw_grid(&mut image, &mut mask);
    for y in 0..10 {
        for x in 0..10 {
            let on_grid = y % 2 == 0 || x % 2 == 0;
            assert_eq!(on_grid || (y, x) == (5, 5), mask.get(0, y, x, 0) == 2, "({y}, {x})");
            if on_grid {
                assert_eq!([image.get(0, y, x, 0), image.get(0, y, x, 1)], channel_max);
            }
        }
    }
}

#[test]
fn channel_and_noise_transforms_fire_in_biapys_order_and_name_themselves() {
    let aug = config(|a| {
        (a.grayscale, a.grayscale_prob, a.channel_shuffle, a.channel_shuffle_prob) = (true, 1.0, true, 1.0);
        (a.poisson_noise, a.salt, a.pepper, a.salt_and_pepper) = (true, true, true, true);
    });
    let augmenter = Augmenter::from_config(&aug, Ndim::D2, [1, 8, 8]).unwrap();
    assert_eq!(augmenter.suffix(), "_gray_chshuffle_poisnoise_salt+0.05_pepper+0.05_salt_and_pepper+0.05+0.5");
    // Grayscale then shuffle: the three channels stay equal, whatever the permutation.
    let rgb = Volume::from_vec([1, 8, 8, 3], (0..192).map(|i| (i % 3) as f32 / 4.0 + 0.1).collect()).unwrap();
    let mask = Volume::from_vec([1, 8, 8, 1], vec![1u16; 64]).unwrap();
    let only_channels = config(|a| {
        (a.grayscale, a.grayscale_prob, a.channel_shuffle, a.channel_shuffle_prob) = (true, 1.0, true, 1.0);
    });
    let (image, out_mask) =
        Augmenter::from_config(&only_channels, Ndim::D2, [1, 8, 8]).unwrap().apply(&rgb, &mask, &mut rng(4));
    assert!(image.as_slice().chunks(3).all(|v| v.iter().all(|&x| (x - 0.35).abs() < 1e-6)));
    assert_eq!(out_mask, mask, "the mask is never touched");
    let (noisy, _) = augmenter.apply(&rgb, &mask, &mut rng(5));
    assert!(noisy.as_slice().iter().all(|v| (0.0..=1.0).contains(v)), "skimage clips to [0, 1]");
}

#[test]
fn cutmix_pastes_one_box_of_the_partner_into_image_and_mask() {
    let aug = config(|a| (a.cutmix, a.cutmix_prob, a.cmix_size) = (true, 1.0, [0.25, 0.25]));
    let augmenter = Augmenter::from_config(&aug, Ndim::D3, [2, 16, 16]).unwrap();
    assert!(augmenter.needs_partner());
    assert_eq!(augmenter.suffix(), "_cmix(0.25,0.25)");
    let image = Volume::from_vec([2, 16, 16, 1], vec![0.0f32; 512]).unwrap();
    let mask = Volume::from_vec([2, 16, 16, 1], vec![0u16; 512]).unwrap();
    let p_image = Volume::from_vec([2, 16, 16, 1], vec![1.0f32; 512]).unwrap();
    let p_mask = Volume::from_vec([2, 16, 16, 1], vec![1u16; 512]).unwrap();
    let (out, out_mask) = augmenter.apply_with_partner(&image, &mask, Some((&p_image, &p_mask)), &mut rng(3));
    for z in 0..2 {
        let pasted = out.as_slice()[z * 256..(z + 1) * 256].iter().filter(|&&v| v == 1.0).count();
        assert_eq!(pasted, 4 * 4, "a round(16 · 0.25)² box on every slice");
    }
    let labels: Vec<f32> = out_mask.as_slice().iter().map(|&v| f32::from(v)).collect();
    assert_eq!(labels, out.as_slice(), "the mask's box is the partner's too, in the same place");
}

#[test]
fn resolution_norm_adds_a_rescale_warp_and_keeps_image_and_mask_aligned() {
    // Augmentation off: only the rescale, which grows the window for the smallest scale.
    let off = Augmenter::from_config(&Augmentor::default(), Ndim::D2, [1, 32, 32]).unwrap();
    assert!(off.is_identity());
    let norm = off.with_resolution_norm(0.5, FillMode::Reflect);
    assert!(!norm.is_identity());
    assert_eq!(norm.input_window(), [1, 64, 64]);
    for scale in [0.5, 0.8, 1.0, 1.7] {
        let (image, mask) = sample(norm.input_window(), 7);
        let (out, out_mask) = norm.apply_scaled(&image, &mask, None, scale, &mut rng(3));
        assert_eq!(out.spatial_shape(), [1, 32, 32]);
        assert!(agreement(&out, &out_mask) > 0.95, "scale {scale}");
    }
    // With a zoom/rotation warp the scale joins it (no second warp), window as BiaPy's.
    let aug = config(|a| {
        a.random_rot = true;
        a.zflip = true;
    });
    let with_rot = Augmenter::from_config(&aug, Ndim::D3, [4, 16, 16]).unwrap();
    let n_steps = with_rot.steps.len();
    let norm = with_rot.with_resolution_norm(0.5, FillMode::Constant);
    assert_eq!(norm.steps.len(), n_steps);
    assert_eq!(norm.input_window(), [4, 46, 46], "⌈16 · 2 · √2⌉");
    // Without one, the rescale warp comes right after ZFLIP, as the augmentation warp would.
    let flips = Augmenter::from_config(&config(|a| a.zflip = true), Ndim::D3, [4, 16, 16]).unwrap();
    let norm = flips.with_resolution_norm(1.0, FillMode::Constant);
    assert!(matches!(norm.steps[1].op, Op::Warp(_)) && norm.steps[0].op == Op::ZFlip);
    assert_eq!(norm.input_window(), [4, 16, 16], "scales of 1 or more need no larger window");
}
