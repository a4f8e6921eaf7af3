//! skimage's `rgb2hsv` and `hsv2rgb` for one pixel, step by step as skimage computes them (its
//! ties included: where two channels share the maximum, the hue of the later one wins), so that
//! `CLAHE` of an RGB image — skimage equalises the HSV value channel — gives skimage's values.
//! Pure arithmetic on float triples in [0, 1].

/// `(h, s, v)` of an `(r, g, b)` pixel.
pub fn rgb_to_hsv([r, g, b]: [f64; 3]) -> [f64; 3] {
    let v = r.max(g).max(b);
    let delta = v - r.min(g).min(b);
    if delta == 0.0 {
        return [0.0, 0.0, v];
    }
    let sixths = if b == v {
        4.0 + (r - g) / delta
    } else if g == v {
        2.0 + (b - r) / delta
    } else {
        (g - b) / delta
    };
    [(sixths / 6.0).rem_euclid(1.0), delta / v, v]
}

/// `(r, g, b)` of an `(h, s, v)` pixel.
pub fn hsv_to_rgb([h, s, v]: [f64; 3]) -> [f64; 3] {
    let hi = (h * 6.0).floor();
    let f = h * 6.0 - hi;
    let p = v * (1.0 - s);
    let q = v * (1.0 - f * s);
    let t = v * (1.0 - (1.0 - f) * s);
    match (hi as u8) % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primaries_greys_and_ties_as_skimage() {
        assert_eq!(rgb_to_hsv([1.0, 0.0, 0.0]), [0.0, 1.0, 1.0]);
        assert_eq!(rgb_to_hsv([0.0, 1.0, 0.0]), [2.0 / 6.0, 1.0, 1.0]);
        assert_eq!(rgb_to_hsv([0.0, 0.0, 0.5]), [4.0 / 6.0, 1.0, 0.5]);
        assert_eq!(rgb_to_hsv([0.3, 0.3, 0.3]), [0.0, 0.0, 0.3]);
        // Red and blue share the maximum: blue's formula (assigned last by skimage) wins.
        assert_eq!(rgb_to_hsv([1.0, 0.0, 1.0]), [5.0 / 6.0, 1.0, 1.0]);
        assert_eq!(rgb_to_hsv([1.0, 0.5, 1.0]), [5.0 / 6.0, 0.5, 1.0]);
        // Hue below red wraps: (g − b)/δ = −0.5 → −1/12 mod 1.
        assert!((rgb_to_hsv([1.0, 0.0, 0.5])[0] - (1.0 - 1.0 / 12.0)).abs() < 1e-15);
    }

    #[test]
    fn round_trips() {
        for rgb in [[0.2, 0.4, 0.6], [0.9, 0.1, 0.1], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.25, 0.75, 0.5]] {
            let back = hsv_to_rgb(rgb_to_hsv(rgb));
            for (a, b) in back.iter().zip(rgb) {
                assert!((a - b).abs() < 1e-12, "{rgb:?} → {back:?}");
            }
        }
    }
}
