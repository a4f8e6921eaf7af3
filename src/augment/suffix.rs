//! BiaPy's `trans_made` file-name suffix (spec §9.3): one tag per enabled transform, in BiaPy's
//! order, with the parameters as Python's `str()` prints them and every space removed. The tags
//! segsweep can produce (defaults shown):
//!
//! `_rot[90,180,270]` · `_rrot(-180,180)` · `_shear(-20,20)` · `_zoom(0.5,1.5)+False` ·
//! `_shift(0.1,0.2)` · `_vflip` · `_hflip` · `_elastic(12,16)+4+constant` · `_gblur(1.0,2.0)` ·
//! `_mblur(3,7)` · `_gcontrast(1.25,1.75)` · `_brightness(-0.1,0.1)` · `_contrast(-0.1,0.1)` ·
//! `_drop(0,0.2)` · `_cout(1,3)+(0.05,0.3)+0.0+False` · `_msalg16+0.5` · `_missp+(10,30)` ·
//! `_gausnoise+0.0+0.05` · `_gray` · `_chshuffle` · `_poisnoise` · `_salt+0.05` · `_pepper+0.05` ·
//! `_salt_and_pepper+0.05+0.5` · `_cnoi(0.05,0.1)+(1,3)+(0.2,0.4)` ·
//! `_gridmask0.6+(0.4,1)+1.0+False` · `_cblur(0.2,0.4)+(2,8)+True` ·
//! `_cmix(0.2,0.4)`.
//!
//! BiaPy has no tag for `ZFLIP`, so neither does segsweep. Python prints a number as it was
//! typed; segsweep stores every parameter as `f64`, so each value is printed in the style of
//! BiaPy's default for that key: integral values without a decimal point where the default is an
//! int (`RANDOM_ROT_RANGE`, `E_ALPHA`, `E_SIGMA`, `DROP_RANGE[0]`), with `.0` where it is a
//! float. Pure, no I/O.

use crate::config::{Augmentor, FillMode};

/// The suffix for the switches on in `a` (empty when `AUGMENTOR.ENABLE` is off).
pub(super) fn suffix(a: &Augmentor) -> String {
    if !a.enable {
        return String::new();
    }
    let tags = [
        (a.rot90, "_rot[90,180,270]".to_string()),
        (a.random_rot, format!("_rrot{}", pair(a.random_rot_range.map(int_style)))),
        (a.shear, format!("_shear{}", pair(a.shear_range.map(|v| v.to_string())))),
        (a.zoom, format!("_zoom{}+{}", pair(a.zoom_range.map(float_style)), py_bool(a.zoom_in_z))),
        (a.shift, format!("_shift{}", pair(a.shift_range.map(float_style)))),
        (a.vflip, "_vflip".to_string()),
        (a.hflip, "_hflip".to_string()),
        (a.elastic, elastic_tag(a)),
        (a.g_blur, format!("_gblur{}", pair(a.g_sigma.map(float_style)))),
        (a.median_blur, format!("_mblur{}", pair(a.mb_kernel.map(|v| v.to_string())))),
        (a.motion_blur, format!("_motb{}", pair(a.motb_k_range.map(|v| v.to_string())))),
        (a.gamma_contrast, format!("_gcontrast{}", pair(a.gc_gamma.map(float_style)))),
        (a.brightness, format!("_brightness{}", pair(a.brightness_factor.map(float_style)))),
        (a.contrast, format!("_contrast{}", pair(a.contrast_factor.map(float_style)))),
        (a.dropout, format!("_drop{}", pair([int_style(a.drop_range[0]), float_style(a.drop_range[1])]))),
        (a.grayscale, "_gray".to_string()),
        (
            a.gridmask,
            format!(
                "_gridmask{}+{}+{}+{}",
                float_style(a.grid_ratio),
                pair([float_style(a.grid_d_range[0]), int_style(a.grid_d_range[1])]),
                float_style(a.grid_rotate),
                py_bool(a.grid_invert)
            ),
        ),
        (a.channel_shuffle, "_chshuffle".to_string()),
        (a.cutout, cutout_tag(a)),
        (
            a.cutblur,
            format!(
                "_cblur{}+{}+{}",
                pair(a.cblur_size.map(float_style)),
                pair(a.cblur_down_range.map(int_style)),
                py_bool(a.cblur_inside)
            ),
        ),
        (a.cutmix, format!("_cmix{}", pair(a.cmix_size.map(float_style)))),
        (
            a.cutnoise,
            format!(
                "_cnoi{}+{}+{}",
                pair(a.cnoise_scale.map(float_style)),
                pair(a.cnoise_nb_iterations.map(|v| v.to_string())),
                pair(a.cnoise_size.map(float_style))
            ),
        ),
        (a.misalignment, format!("_msalg{}+{}", a.ms_displacement, float_style(a.ms_rotate_ratio))),
        (a.missing_sections, format!("_missp+{}", pair(a.missp_iterations.map(|v| v.to_string())))),
        (
            a.gaussian_noise,
            format!("_gausnoise+{}+{}", float_style(a.gaussian_noise_mean), float_style(a.gaussian_noise_var)),
        ),
        (a.poisson_noise, "_poisnoise".to_string()),
        (a.salt, format!("_salt+{}", float_style(a.salt_amount))),
        (a.pepper, format!("_pepper+{}", float_style(a.pepper_amount))),
        (
            a.salt_and_pepper,
            format!(
                "_salt_and_pepper+{}+{}",
                float_style(a.salt_and_pepper_amount),
                float_style(a.salt_and_pepper_prop)
            ),
        ),
    ];
    let text: String = tags.into_iter().filter(|(on, _)| *on).map(|(_, tag)| tag).collect();
    text.replace(' ', "")
}

fn elastic_tag(a: &Augmentor) -> String {
    format!("_elastic{}+{}+{}", pair(a.e_alpha.map(int_style)), int_style(a.e_sigma), mode_name(a.e_mode))
}

fn cutout_tag(a: &Augmentor) -> String {
    let n = pair(a.cout_nb_iterations.map(|v| v.to_string()));
    let size = pair(a.cout_size.map(float_style));
    format!("_cout{n}+{size}+{}+{}", float_style(a.cout_cval), py_bool(a.cout_apply_to_mask))
}

/// A Python 2-tuple as `str()` prints it, without the space.
fn pair(v: [String; 2]) -> String {
    format!("({},{})", v[0], v[1])
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn mode_name(mode: FillMode) -> &'static str {
    match mode {
        FillMode::Constant => "constant",
        FillMode::Nearest => "nearest",
        FillMode::Reflect => "reflect",
        FillMode::Wrap => "wrap",
        FillMode::Symmetric => "symmetric",
    }
}

/// A value whose BiaPy default is an int: integral values print as ints (`-180`).
fn int_style(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { float_style(v) }
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` on integral values, exponent form
/// (two-digit exponent) below 1e-4 and from 1e16.
fn float_style(v: f64) -> String {
    let magnitude = v.abs();
    if v != 0.0 && v.is_finite() && !(1e-4..1e16).contains(&magnitude) {
        let s = format!("{v:e}");
        let (mantissa, exponent) = s.split_once('e').expect("`{:e}` has an exponent");
        let (sign, digits) = exponent.strip_prefix('-').map_or(("+", exponent), |d| ("-", d));
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    if v.fract() == 0.0 && v.is_finite() { format!("{v:.1}") } else { format!("{v}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_number_styles() {
        assert_eq!(float_style(0.5), "0.5");
        assert_eq!(float_style(2.0), "2.0");
        assert_eq!(float_style(-0.1), "-0.1");
        assert_eq!(float_style(0.00001), "1e-05");
        assert_eq!(float_style(1.5e-7), "1.5e-07");
        assert_eq!(float_style(1e20), "1e+20");
        assert_eq!(int_style(-180.0), "-180");
        assert_eq!(int_style(12.5), "12.5");
    }

    #[test]
    fn template_2d_suffix() {
        let a = Augmentor { enable: true, random_rot: true, vflip: true, hflip: true, ..Augmentor::default() };
        assert_eq!(suffix(&a), "_rrot(-180,180)_vflip_hflip");
        let off = Augmentor { enable: false, ..a.clone() };
        assert_eq!(suffix(&off), "");
        let with_zflip = Augmentor { zflip: true, ..a };
        assert_eq!(suffix(&with_zflip), "_rrot(-180,180)_vflip_hflip");
    }

    #[test]
    fn every_tag_with_defaults() {
        let a = Augmentor {
            enable: true,
            rot90: true,
            random_rot: true,
            shear: true,
            zoom: true,
            shift: true,
            vflip: true,
            hflip: true,
            elastic: true,
            g_blur: true,
            median_blur: true,
            gamma_contrast: true,
            brightness: true,
            contrast: true,
            dropout: true,
            cutout: true,
            misalignment: true,
            missing_sections: true,
            gaussian_noise: true,
            grayscale: true,
            gridmask: true,
            channel_shuffle: true,
            cutnoise: true,
            cutblur: true,
            cutmix: true,
            poisson_noise: true,
            salt: true,
            pepper: true,
            salt_and_pepper: true,
            ..Augmentor::default()
        };
        assert_eq!(
            suffix(&a),
            "_rot[90,180,270]_rrot(-180,180)_shear(-20,20)_zoom(0.5,1.5)+False_shift(0.1,0.2)_vflip_hflip\
             _elastic(12,16)+4+constant_gblur(1.0,2.0)_mblur(3,7)_gcontrast(1.25,1.75)_brightness(-0.1,0.1)\
             _contrast(-0.1,0.1)_drop(0,0.2)_gray_gridmask0.6+(0.4,1)+1.0+False_chshuffle_cout(1,3)+(0.05,0.3)+0.0+False\
             _cblur(0.2,0.4)+(2,8)+True_cmix(0.2,0.4)_cnoi(0.05,0.1)+(1,3)+(0.2,0.4)_msalg16+0.5_missp+(10,30)_gausnoise+0.0+0.05_poisnoise\
             _salt+0.05_pepper+0.05_salt_and_pepper+0.05+0.5"
        );
    }
}
