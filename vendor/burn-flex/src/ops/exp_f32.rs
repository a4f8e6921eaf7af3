//! segsweep patch: `exp` of f32 tensors as a branch-free polynomial that the compiler
//! vectorises, instead of libm's scalar `expf` per element (7-9 % of a U-Net step on `flex`, as
//! ELU's forward pass and autodiff's backward both call it over every activation).
//!
//! Cephes' `expf` reduction and polynomial: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, `e^r` by a
//! degree-7 polynomial, `2^n` built from its exponent bits in two halves so that results down to
//! the subnormal range and up to overflow come out right. Every element is computed by the same
//! scalar expression with no fused multiply-add, so the vectorised loop, the scalar tail and the
//! other layouts' paths give the same bits.

/// e^x, within 2 ulp of the exact value (tested against f64); ±∞ and NaN as `f32::exp`.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2_E: f32 = core::f32::consts::LOG2_E;
    // ln 2 split so that n·LN2_HI is exact for |n| < 2^9.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer (ties to even).
    const ROUND: f32 = 12_582_912.0;
    // Below e^-104 the result rounds to 0; above e^89 it overflows to +∞. NaN stays NaN.
    let clamped = x.clamp(-104.0, 89.0);
    let n = (clamped * LOG2_E + ROUND) - ROUND;
    let r = (clamped - n * LN2_HI) - n * LN2_LO;
    let r2 = r * r;
    let p = ((((((1.987_569_2e-4 * r + 1.398_2e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1)
        * r2)
        + r
        + 1.0;
    // 2^n = 2^n1 · 2^n2 with both halves normal for n in [-150, 129].
    let n = n as i32;
    let n1 = n >> 1;
    let n2 = n - n1;
    let scale1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let scale2 = f32::from_bits(((n2 + 127) as u32) << 23);
    (p * scale1) * scale2
}

/// e^x of every element, in place.
pub(crate) fn exp_f32_inplace(data: &mut [f32]) {
    #[cfg(feature = "simd")]
    exp_simd(data);
    #[cfg(not(feature = "simd"))]
    exp_scalar(data);
}

/// The same loop compiled for the best instruction set found at run time (AVX-512, AVX2, NEON…).
#[cfg(feature = "simd")]
#[macerator::with_simd]
fn exp_simd<S: macerator::Simd>(data: &mut [f32]) {
    exp_scalar(data)
}

#[inline(always)]
fn exp_scalar(data: &mut [f32]) {
    for x in data.iter_mut() {
        *x = exp_f32(*x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in representable f32 values between `got` and the exact `want`.
    fn ulps(got: f32, want: f64) -> f64 {
        let rounded = want as f32;
        if got == rounded {
            return 0.0;
        }
        let spacing = (f32::from_bits(rounded.to_bits() + 1) - rounded)
            .abs()
            .max(f32::from_bits(1)) as f64;
        (got as f64 - want).abs() / spacing
    }

    #[test]
    fn within_two_ulp_over_the_whole_range() {
        let mut worst: f64 = 0.0;
        let mut x = -104.0f32;
        while x < 89.0 {
            let got = exp_f32(x);
            let want = (x as f64).exp();
            if want < f32::MAX as f64 {
                worst = worst.max(ulps(got, want));
            } else {
                assert_eq!(got, f32::INFINITY, "exp({x})");
            }
            x += 0.000_37;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
    }

    #[test]
    fn limits_and_special_values() {
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(-0.0), 1.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert_eq!(exp_f32(88.7), 88.7f32.exp());
        assert_eq!(exp_f32(-105.0), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        // Subnormal results: e^-100 ≈ 3.7e-44.
        assert!(ulps(exp_f32(-100.0), (-100.0f64).exp()) <= 1.0);
        assert!(exp_f32(-87.0).is_normal());
    }

    #[test]
    fn the_vectorised_loop_gives_the_scalar_bits() {
        let values: alloc::vec::Vec<f32> = (0..10_007)
            .map(|i| (i as f32 * 0.731).sin() * 40.0 - 5.0)
            .collect();
        let mut vectorised = values.clone();
        exp_f32_inplace(&mut vectorised);
        for (x, got) in values.iter().zip(&vectorised) {
            assert_eq!(got.to_bits(), exp_f32(*x).to_bits(), "exp({x})");
        }
    }
}
