//! The checks of `DATA.PREPROCESS` (BiaPy's `check_configuration` rules, plus segsweep's: what
//! it does not implement is refused by key, never ignored — D14). Pure: the reference folder of
//! `MATCH_HISTOGRAM` is read when the data are.

use super::Checker;
use crate::config::schema::{Config, Ndim};

const NUMPY_MODES: [&str; 5] = ["constant", "edge", "symmetric", "reflect", "wrap"];
const SCIPY_MODES: [&str; 5] = ["reflect", "constant", "nearest", "mirror", "wrap"];

/// All problems of the `DATA.PREPROCESS` settings.
pub(super) fn check(config: &Config, c: &mut Checker) {
    let p = &config.data.preprocess;
    if !(p.train || p.val || p.test) {
        return;
    }
    let is_3d = config.problem.ndim == Ndim::D3;
    let n_axes = if is_3d { 3 } else { 2 };
    if p.resize.enable {
        let shape = p.resize.output_shape(is_3d);
        let ok = shape.len() == n_axes && shape.iter().all(|&s| s > 0);
        c.require(
            ok,
            "DATA.PREPROCESS.RESIZE.OUTPUT_SHAPE",
            format!("expected {n_axes} positive sizes ({}), found {:?}", if is_3d { "z, y, x" } else { "y, x" }, shape),
        );
        if ok {
            let patch = &config.data.patch_size;
            let smaller = shape.iter().zip(patch).any(|(&s, &p)| p > s);
            c.require(
                !smaller,
                "DATA.PREPROCESS.RESIZE.OUTPUT_SHAPE",
                format!("{shape:?} is smaller than `DATA.PATCH_SIZE` {patch:?} (as BiaPy refuses)"),
            );
        }
        c.require(
            (0..=5).contains(&p.resize.order),
            "DATA.PREPROCESS.RESIZE.ORDER",
            format!("expected a spline order 0–5 (as SciPy), found {}", p.resize.order),
        );
        let mode = p.resize.mode.as_str();
        c.require(
            NUMPY_MODES.contains(&mode),
            "DATA.PREPROCESS.RESIZE.MODE",
            format!("expected one of {}, found `{mode}`", NUMPY_MODES.join(", ")),
        );
        c.require(
            p.resize.preserve_range,
            "DATA.PREPROCESS.RESIZE.PRESERVE_RANGE",
            "False would rescale integer images to [0, 1] before BiaPy casts them back to integers (all zeros); set it to True",
        );
        c.require(
            !(p.test && config.test.by_chunks.enable),
            "DATA.PREPROCESS.RESIZE.ENABLE",
            "cannot resize volumes predicted by chunks (`TEST.BY_CHUNKS`); set `DATA.PREPROCESS.TEST` to False",
        );
    }
    c.require(
        !p.zoom.enable,
        "DATA.PREPROCESS.ZOOM.ENABLE",
        "BiaPy applies the zoom in its detection workflow only (semantic segmentation ignores it); set it to False",
    );
    let blur = &p.gaussian_blur;
    if blur.enable {
        c.require(
            blur.sigma >= 0.0,
            "DATA.PREPROCESS.GAUSSIAN_BLUR.SIGMA",
            format!("expected σ ≥ 0, found {}", blur.sigma),
        );
        let mode = blur.mode.as_str();
        c.require(
            SCIPY_MODES.contains(&mode),
            "DATA.PREPROCESS.GAUSSIAN_BLUR.MODE",
            format!("expected one of {}, found `{mode}`", SCIPY_MODES.join(", ")),
        );
        if let Some(axis) = blur.channel_axis {
            let last = n_axes as i64;
            c.require(
                axis == -1 || axis == last,
                "DATA.PREPROCESS.GAUSSIAN_BLUR.CHANNEL_AXIS",
                format!("images are channels-last: expected null, -1 or {last}, found {axis}"),
            );
        }
    }
    let median = &p.median_blur;
    if median.enable {
        let k = &median.kernel_size;
        let ok = k.len() == n_axes + 1 && k.iter().all(|&s| s > 0);
        c.require(
            ok,
            "DATA.PREPROCESS.MEDIAN_BLUR.KERNEL_SIZE",
            format!(
                "expected {} positive sizes ({}, channels included, as BiaPy), found {k:?}",
                n_axes + 1,
                if is_3d { "z, y, x, c" } else { "y, x, c" }
            ),
        );
    }
    if p.match_histogram.enable {
        c.require(
            !p.match_histogram.reference_path.is_empty(),
            "DATA.PREPROCESS.MATCH_HISTOGRAM.REFERENCE_PATH",
            "needs the folder of reference images",
        );
    }
    if p.clahe.enable {
        let key = "DATA.PREPROCESS.CLAHE.KERNEL_SIZE";
        let axes = if is_3d { "z, y, x, c" } else { "y, x, c" };
        match &p.clahe.kernel_size {
            None => {}
            Some(serde_json::Value::Number(n)) => {
                c.require(n.as_u64().is_some_and(|k| k > 0), key, format!("expected a positive size, found {n}"))
            }
            Some(serde_json::Value::Array(items)) => c.require(
                items.len() == n_axes + 1 && items.iter().all(|v| v.as_u64().is_some_and(|k| k > 0)),
                key,
                format!(
                    "expected {} positive sizes ({axes}, as skimage sees BiaPy's array), found {items:?}",
                    n_axes + 1
                ),
            ),
            Some(other) => c.fail(key, format!("expected null, a size or a list of sizes, found {other}")),
        }
        c.require(
            p.clahe.clip_limit >= 0.0,
            "DATA.PREPROCESS.CLAHE.CLIP_LIMIT",
            format!("expected a limit ≥ 0, found {}", p.clahe.clip_limit),
        );
    }
    if p.canny.enable {
        c.require(!is_3d, "DATA.PREPROCESS.CANNY.ENABLE", "edge detection works on 2D images only (as BiaPy)");
        let (low, high) = (p.canny.low_threshold, p.canny.high_threshold);
        c.require(
            low.is_none_or(|l| l >= 0.0) && high.is_none_or(|h| h >= 0.0),
            "DATA.PREPROCESS.CANNY.LOW_THRESHOLD",
            "thresholds must not be negative",
        );
        if let (Some(l), Some(h)) = (low, high) {
            c.require(
                l <= h,
                "DATA.PREPROCESS.CANNY.HIGH_THRESHOLD",
                format!("must not be below `LOW_THRESHOLD` ({h} < {l}), as skimage refuses"),
            );
        }
    }
    let any_step =
        p.resize.enable || blur.enable || median.enable || p.match_histogram.enable || p.clahe.enable || p.canny.enable;
    c.require(
        !(p.test && config.test.by_chunks.enable && any_step),
        "DATA.PREPROCESS.TEST",
        "is not applied to volumes predicted by chunks (`TEST.BY_CHUNKS`); set one of them to False",
    );
}
