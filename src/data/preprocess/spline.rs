//! SciPy `ndimage`'s B-spline zoom along one axis, orders 0–5, as `ndimage.zoom(grid_mode=True)`
//! computes it (and so `skimage.transform.resize`): for orders above 1 the line is first
//! pre-filtered into spline coefficients (Unser's recursive filter, with SciPy's boundary
//! initialisations; `nearest` and `grid-constant` pre-padded by 12 samples as SciPy pads them),
//! then each output sample is the weighted sum of the `order + 1` coefficients around its input
//! coordinate, out-of-range taps mapped by the fill mode. Ported from SciPy's `ni_splines.c` and
//! `NI_ZoomShift`; the arithmetic follows theirs step by step, so the results agree to rounding.
//! Pure computation on `f64` lines; [`super::resize`] applies it axis by axis.
//!
//! Mode names are NumPy's ([`FillMode`]); SciPy's counterparts (as skimage translates them):
//! `constant` → `grid-constant`, `edge` → `nearest`, `reflect` → `mirror`, `symmetric` →
//! `reflect`, `wrap` → `grid-wrap`.

use crate::config::FillMode;
use crate::data::border::map_index;

/// Samples SciPy pads a line with before pre-filtering it in `nearest` and `grid-constant`
/// modes (`_prepad_for_spline_filter`).
const PREPAD: usize = 12;

/// The filter poles of the B-spline of `order` (SciPy's `get_filter_poles`).
fn poles(order: usize) -> &'static [f64] {
    match order {
        2 => &[-0.171_572_875_253_809_9],
        3 => &[-0.267_949_192_431_122_7],
        4 => &[-0.361_341_225_900_220_2, -0.013_725_429_297_339_121],
        5 => &[-0.430_575_347_099_973_8, -0.043_096_288_203_264_65],
        _ => &[],
    }
}

/// How SciPy starts the two recursive passes for a mode (`apply_filter`'s table).
#[derive(Clone, Copy)]
enum FilterInit {
    Mirror,
    Wrap,
    Reflect,
}

fn filter_init(mode: FillMode) -> FilterInit {
    match mode {
        FillMode::Constant | FillMode::Reflect => FilterInit::Mirror,
        FillMode::Wrap => FilterInit::Wrap,
        FillMode::Nearest | FillMode::Symmetric => FilterInit::Reflect,
    }
}

/// `line` turned in place into the B-spline coefficients of `order` (SciPy's `apply_filter`,
/// boundary per `mode`); orders 0 and 1 and lines shorter than 2 are left as they are.
pub fn prefilter(line: &mut [f64], order: usize, mode: FillMode) {
    let n = line.len();
    let poles = poles(order);
    if n < 2 || poles.is_empty() {
        return;
    }
    let gain: f64 = poles.iter().map(|&z| (1.0 - z) * (1.0 - 1.0 / z)).product();
    for c in line.iter_mut() {
        *c *= gain;
    }
    let init = filter_init(mode);
    for &z in poles {
        match init {
            FilterInit::Mirror => init_causal_mirror(line, z),
            FilterInit::Wrap => init_causal_wrap(line, z),
            FilterInit::Reflect => init_causal_reflect(line, z),
        }
        for i in 1..n {
            line[i] += z * line[i - 1];
        }
        match init {
            FilterInit::Mirror => line[n - 1] = (z * line[n - 2] + line[n - 1]) * z / (z * z - 1.0),
            FilterInit::Wrap => init_anticausal_wrap(line, z),
            FilterInit::Reflect => line[n - 1] *= z / (z - 1.0),
        }
        for i in (0..n - 1).rev() {
            line[i] = z * (line[i + 1] - line[i]);
        }
    }
}

fn init_causal_mirror(c: &mut [f64], z: f64) {
    let n = c.len();
    let z_n_1 = z.powi(n as i32 - 1);
    let mut z_i = z;
    c[0] += z_n_1 * c[n - 1];
    for i in 1..n - 1 {
        c[0] += z_i * (c[i] + z_n_1 * c[n - 1 - i]);
        z_i *= z;
    }
    c[0] /= 1.0 - z_n_1 * z_n_1;
}

fn init_causal_wrap(c: &mut [f64], z: f64) {
    let n = c.len();
    let mut z_i = z;
    for i in 1..n {
        c[0] += z_i * c[n - i];
        z_i *= z;
    }
    c[0] /= 1.0 - z_i;
}

fn init_anticausal_wrap(c: &mut [f64], z: f64) {
    let n = c.len();
    let mut z_i = z;
    for i in 0..n - 1 {
        c[n - 1] += z_i * c[i];
        z_i *= z;
    }
    c[n - 1] *= z / (z_i - 1.0);
}

fn init_causal_reflect(c: &mut [f64], z: f64) {
    let n = c.len();
    let z_n = z.powi(n as i32);
    let mut z_i = z;
    let mut sum = c[0] + z_n * c[n - 1];
    for i in 1..n {
        sum += z_i * (c[i] + z_n * c[n - 1 - i]);
        z_i *= z;
    }
    c[0] += sum * z / (1.0 - z_n * z_n);
}

/// The `order + 1` interpolation weights at coordinate `x` (SciPy's
/// `get_spline_interpolation_weights`): the taps start at [`first_tap`]`(x, order)`.
pub fn weights(x: f64, order: usize) -> [f64; 6] {
    let mut w = [0.0; 6];
    if order == 0 {
        w[0] = 1.0;
        return w;
    }
    let x = x - if order & 1 == 1 { x.floor() } else { (x + 0.5).floor() };
    let (y, z) = (x, 1.0 - x);
    match order {
        1 => w[0] = 1.0 - x,
        2 => {
            w[1] = 0.75 - x * x;
            let y = 0.5 - x;
            w[0] = 0.5 * y * y;
        }
        3 => {
            w[1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
            w[2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
            w[0] = z * z * z / 6.0;
        }
        4 => {
            let t = x * x;
            w[2] = t * (t * 0.25 - 0.625) + 115.0 / 192.0;
            let y = 1.0 + x;
            w[1] = y * (y * (y * (5.0 - y) / 6.0 - 1.25) + 5.0 / 24.0) + 55.0 / 96.0;
            w[3] = z * (z * (z * (5.0 - z) / 6.0 - 1.25) + 5.0 / 24.0) + 55.0 / 96.0;
            let y = 0.5 - x;
            let t = y * y;
            w[0] = t * t / 24.0;
        }
        5 => {
            let t = y * y;
            w[2] = t * (t * (0.25 - y / 12.0) - 0.5) + 0.55;
            let t = z * z;
            w[3] = t * (t * (0.25 - z / 12.0) - 0.5) + 0.55;
            let y1 = y + 1.0;
            w[1] = y1 * (y1 * (y1 * (y1 * (y1 / 24.0 - 0.375) + 1.25) - 1.75) + 0.625) + 0.425;
            let z1 = z + 1.0;
            w[4] = z1 * (z1 * (z1 * (z1 * (z1 / 24.0 - 0.375) + 1.25) - 1.75) + 0.625) + 0.425;
            let y = 1.0 - x;
            let t = y * y;
            w[0] = y * t * t / 120.0;
        }
        _ => unreachable!("spline orders are 0–5"),
    }
    // All weights add up to 1: the last one is what the others leave.
    w[order] = 1.0 - w[..order].iter().fold(0.0, |acc, &v| acc + v);
    w
}

/// The index of the first of the `order + 1` taps around coordinate `x`.
pub fn first_tap(x: f64, order: usize) -> isize {
    let centre = if order & 1 == 1 { x.floor() } else { (x + 0.5).floor() };
    centre as isize - (order / 2) as isize
}

/// A coordinate outside `0..=len − 1` folded back by `mode` (SciPy's `map_coordinate` for the
/// modes that fold: `mirror`, `reflect`, `grid-wrap` and `nearest`; `grid-constant` never
/// folds and is returned as is).
fn map_coordinate(x: f64, len: usize, mode: FillMode) -> f64 {
    let n = len as f64;
    if x < 0.0 {
        match mode {
            _ if len <= 1 && mode != FillMode::Constant => 0.0,
            FillMode::Reflect => {
                let sz2 = 2.0 * n - 2.0;
                let x = sz2 * (-x / sz2).trunc() + x;
                if x <= 1.0 - n { x + sz2 } else { -x }
            }
            FillMode::Symmetric => {
                let sz2 = 2.0 * n;
                let x = if x < -sz2 { sz2 * (-x / sz2).trunc() + x } else { x };
                if x < -n {
                    x + sz2
                } else {
                    // SciPy's guard against `-x - 1` rounding to −1.
                    (if x > -1e-15 { 1e-15 } else { -x }) - 1.0
                }
            }
            FillMode::Wrap => x + n * (((-1.0 - x) / n).trunc() + 1.0),
            FillMode::Nearest => 0.0,
            FillMode::Constant => x,
        }
    } else if x > n - 1.0 {
        match mode {
            _ if len <= 1 && mode != FillMode::Constant => 0.0,
            FillMode::Reflect => {
                let sz2 = 2.0 * n - 2.0;
                let x = x - sz2 * (x / sz2).trunc();
                if x >= n { sz2 - x } else { x }
            }
            FillMode::Symmetric => {
                let sz2 = 2.0 * n;
                let x = x - sz2 * (x / sz2).trunc();
                if x >= n { sz2 - x - 1.0 } else { x }
            }
            FillMode::Wrap => x - n * (x / n).trunc(),
            FillMode::Nearest => n - 1.0,
            FillMode::Constant => x,
        }
    } else {
        x
    }
}

/// Where one output sample reads: up to six coefficient indices (`None`: the `constant` fill
/// value) and their weights.
#[derive(Clone, Copy, Debug)]
struct Taps {
    index: [Option<usize>; 6],
    weight: [f64; 6],
}

/// A line of `n_in` samples zoomed to `n_out` (`ndimage.zoom(grid_mode=True)` along one axis).
#[derive(Clone, Debug)]
pub struct LineZoom {
    order: usize,
    mode: FillMode,
    cval: f64,
    pad: usize,
    n_in: usize,
    taps: Vec<Taps>,
}

impl LineZoom {
    /// Output sample `o` reads input coordinate `(o + ½)·n_in/n_out − ½`; `order` is 0–5.
    pub fn new(n_in: usize, n_out: usize, order: usize, mode: FillMode, cval: f64) -> LineZoom {
        assert!(order <= 5, "spline orders are 0–5");
        let pad = if order > 1 && matches!(mode, FillMode::Nearest | FillMode::Constant) { PREPAD } else { 0 };
        let len = n_in + 2 * pad;
        // SciPy's zoom factor in grid mode; a zero-sized output keeps factor 1.
        let zoom = if n_out == 0 { 1.0 } else { n_in as f64 / n_out as f64 };
        let taps = (0..n_out)
            .map(|o| {
                let mut cc = ((o as f64 + 0.5) * zoom - 0.5) + pad as f64;
                if !matches!(mode, FillMode::Constant | FillMode::Nearest) {
                    cc = map_coordinate(cc, len, mode);
                }
                let start = first_tap(cc, order);
                let mut index = [None; 6];
                for (k, slot) in index.iter_mut().enumerate().take(order + 1) {
                    // Taps past the edge fold as the pre-filter assumed (SciPy's
                    // `_get_spline_boundary_mode`); `constant` reads the fill value.
                    *slot = map_index(start + k as isize, len, mode);
                }
                Taps { index, weight: weights(cc, order) }
            })
            .collect();
        LineZoom { order, mode, cval, pad, n_in, taps }
    }

    /// `input` (`n_in` samples) zoomed into `out` (`n_out` samples); `scratch` is reused
    /// between lines.
    pub fn apply(&self, input: &[f64], scratch: &mut Vec<f64>, out: &mut [f64]) {
        debug_assert_eq!(input.len(), self.n_in);
        debug_assert_eq!(out.len(), self.taps.len());
        scratch.clear();
        if self.pad > 0 {
            let (first, last) = match self.mode {
                FillMode::Constant => (self.cval, self.cval),
                _ => (input[0], input[self.n_in - 1]),
            };
            scratch.extend(std::iter::repeat_n(first, self.pad));
            scratch.extend_from_slice(input);
            scratch.extend(std::iter::repeat_n(last, self.pad));
        } else {
            scratch.extend_from_slice(input);
        }
        prefilter(scratch, self.order, self.mode);
        for (value, taps) in out.iter_mut().zip(&self.taps) {
            let mut t = 0.0;
            for k in 0..=self.order {
                let coefficient = taps.index[k].map_or(self.cval, |i| scratch[i]);
                t += coefficient * taps.weight[k];
            }
            *value = t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: [FillMode; 5] =
        [FillMode::Constant, FillMode::Nearest, FillMode::Reflect, FillMode::Symmetric, FillMode::Wrap];

    fn zoom(input: &[f64], n_out: usize, order: usize, mode: FillMode) -> Vec<f64> {
        let mut out = vec![0.0; n_out];
        LineZoom::new(input.len(), n_out, order, mode, 0.0).apply(input, &mut Vec::new(), &mut out);
        out
    }

    #[test]
    fn weights_add_up_to_one_and_match_the_b_spline_at_a_knot() {
        for order in 0..=5 {
            for x in [0.0, 0.25, 0.5, 0.75, 3.1, -1.4] {
                let w = weights(x, order);
                assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15, "order {order} x {x}");
            }
        }
        // At a knot the cubic B-spline is (1, 4, 1)/6, the quintic (1, 26, 66, 26, 1)/120.
        let w = weights(2.0, 3);
        assert!(
            (w[0] - 1.0 / 6.0).abs() < 1e-15 && (w[1] - 4.0 / 6.0).abs() < 1e-15 && (w[2] - 1.0 / 6.0).abs() < 1e-15
        );
        let w = weights(2.0, 5);
        for (got, want) in w.iter().zip([1.0, 26.0, 66.0, 26.0, 1.0, 0.0]) {
            assert!((got - want / 120.0).abs() < 1e-15, "{w:?}");
        }
        // Quadratic at a knot: (1, 6, 1)/8.
        let w = weights(4.0, 2);
        assert!((w[0] - 0.125).abs() < 1e-15 && (w[1] - 0.75).abs() < 1e-15 && (w[2] - 0.125).abs() < 1e-15);
        assert_eq!((first_tap(2.0, 3), first_tap(2.4, 2), first_tap(2.6, 2)), (1, 1, 2));
    }

    #[test]
    fn the_prefilter_inverts_b_spline_sampling() {
        // Coefficients c of a line s satisfy s[i] = Σ_k B(k)·c[i+k] at every sample: zooming by 1
        // (output at the input's knots) gives the line back in every mode and order.
        let line = [3.0, -1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        for mode in MODES {
            for order in 0..=5 {
                let same = zoom(&line, line.len(), order, mode);
                for (a, b) in same.iter().zip(&line) {
                    assert!((a - b).abs() < 1e-9, "{mode:?} order {order}: {same:?}");
                }
            }
        }
    }

    #[test]
    fn cubic_coefficients_by_hand() {
        // A constant line stays constant (gain 6 cancels the kernel's 4/6 + 2·1/6).
        let mut c = [2.0; 5];
        prefilter(&mut c, 3, FillMode::Reflect);
        assert!(c.iter().all(|v| (v - 2.0).abs() < 1e-12), "{c:?}");
        // An impulse in a long mirrored line: c[i] = √3·z^|i| around it (z = √3 − 2).
        let mut c = [0.0; 41];
        c[20] = 1.0;
        prefilter(&mut c, 3, FillMode::Reflect);
        let z = 3f64.sqrt() - 2.0;
        for (i, v) in c.iter().enumerate().take(25).skip(15) {
            let want = 3f64.sqrt() * z.powi((i as i32 - 20).abs());
            assert!((v - want).abs() < 1e-12, "c[{i}] = {v}, want {want}");
        }
    }

    #[test]
    fn scipy_zoom_values() {
        // scipy.ndimage.zoom(LINE, 17/12, order=k, mode=m, grid_mode=True), printed by SciPy
        // 1.17.1 (modes named as SciPy: mirror, reflect, grid-wrap, grid-constant, nearest). The
        // line is long enough that SciPy ≤ 1.17's aliasing in its `reflect` start (fixed in
        // SciPy #24615; segsweep computes the fixed sum) stays below 1e-15.
        let line = [0.0, 10.0, 20.0, 40.0, 30.0, 5.0, 7.0, 12.0, 50.0, 45.0, 3.0, 1.0];
        let cases: [(usize, FillMode, [f64; 17]); 5] = [
            (
                3,
                FillMode::Reflect,
                [
                    0.38891804571212096,
                    4.412392133952982,
                    12.35531599582794,
                    19.50027348138334,
                    34.88799748976383,
                    40.46532835229552,
                    27.63509589982501,
                    8.333662160458012,
                    4.364054290718039,
                    6.948965454971644,
                    10.07668372412559,
                    35.810153383675775,
                    55.40890606643987,
                    43.91164798006692,
                    11.837607154197897,
                    -1.1257107963672535,
                    0.6750251258941428,
                ],
            ),
            (
                2,
                FillMode::Symmetric,
                [
                    -0.7662723785762928,
                    5.290929470787138,
                    12.309119474866325,
                    19.504287842713794,
                    35.4504073926002,
                    39.96249149665991,
                    27.92762763841707,
                    8.34831245792837,
                    4.174386724386725,
                    7.277646089483447,
                    10.065791975417763,
                    36.90230725706624,
                    54.428271137635434,
                    44.06460174520694,
                    11.741574813544188,
                    -1.7914837031752806,
                    1.4192604900419163,
                ],
            ),
            (
                5,
                FillMode::Wrap,
                [
                    -0.16639698806083625,
                    4.743841918759878,
                    12.362767925639437,
                    19.520577937424804,
                    34.41579211279395,
                    41.39936467030609,
                    27.377915924295138,
                    7.817727537392817,
                    4.8134268951760015,
                    6.933651429807405,
                    10.15277192804077,
                    34.89724755974434,
                    56.739117566319706,
                    43.79860267840747,
                    11.304011363295418,
                    -1.5400216124467987,
                    1.3357852802176389,
                ],
            ),
            (
                4,
                FillMode::Constant,
                [
                    -0.6974136690326546,
                    5.353607023511528,
                    12.103222719062476,
                    19.491773076198008,
                    34.730903373514145,
                    41.02624109890768,
                    27.49538173284698,
                    7.999753648737066,
                    4.628990173746988,
                    6.9663318619740195,
                    10.090856367350456,
                    35.325410915016285,
                    56.24545881079989,
                    43.856502619264674,
                    11.64165316630802,
                    -2.003786499407376,
                    1.6380887780572944,
                ],
            ),
            (
                3,
                FillMode::Nearest,
                [
                    -0.625545341260048,
                    5.226581338582156,
                    12.120330327948086,
                    19.487899573260467,
                    34.93230403671925,
                    40.44711094419811,
                    27.637212520126482,
                    8.335367644985864,
                    4.363965972502245,
                    6.947423052644786,
                    10.0747275974188,
                    35.8270457488897,
                    55.36780133793577,
                    43.9231284954178,
                    12.055629360988146,
                    -1.8811256934651244,
                    1.5803889140330603,
                ],
            ),
        ];
        for (order, mode, want) in cases {
            let got = zoom(&line, 17, order, mode);
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-11, "order {order} {mode:?}: {got:?}");
            }
        }
    }
}
