//! The checks of `TEST.BY_CHUNKS` (spec §4.7, D14, D15): BiaPy's own (phases, tile size,
//! `Z_START`/`Z_END`) and segsweep's: every test option that needs a whole image or volume in
//! memory, or that chunked inference would silently not honour, is refused together with
//! `TEST.BY_CHUNKS.ENABLE`, naming both keys. Pure, like the rest of `check`.

use super::Checker;
use crate::config::schema::{Binarization, Config, Ndim};

const ENABLE: &str = "TEST.BY_CHUNKS.ENABLE";
const PHASES: [&str; 3] = ["prediction", "instance_creation", "instance_merging"];

/// All problems of the `TEST.BY_CHUNKS` settings of a 3D config.
pub(super) fn check(config: &Config, c: &mut Checker) {
    let by = &config.test.by_chunks;
    if !by.enable || config.problem.ndim != Ndim::D3 {
        return;
    }
    check_combinations(config, c);
    for phase in &by.phases {
        c.require(
            PHASES.contains(&phase.as_str()),
            "TEST.BY_CHUNKS.PHASES",
            format!("`{phase}` is not one of `prediction`, `instance_creation`, `instance_merging`"),
        );
    }
    c.require(
        by.phases.iter().any(|p| p == "prediction"),
        "TEST.BY_CHUNKS.PHASES",
        "semantic segmentation runs the `prediction` phase only, and it is not listed: nothing would be predicted",
    );
    c.require(
        ["tif", "zarr"].contains(&by.format.as_str()),
        "TEST.BY_CHUNKS.FORMAT",
        format!("expected `tif` or `zarr`, found `{}`", by.format),
    );
    let kind = by.workflow_process.r#type.as_str();
    c.require(
        ["chunk_by_chunk", "entire_pred"].contains(&kind),
        "TEST.BY_CHUNKS.WORKFLOW_PROCESS.TYPE",
        format!("expected `chunk_by_chunk` or `entire_pred`, found `{kind}`"),
    );
    let tile = &by.workflow_process.patches_per_tile;
    let tile_ok = tile.len() == 3 && tile.iter().all(|&n| n > 0);
    c.require(
        tile_ok,
        "TEST.BY_CHUNKS.WORKFLOW_PROCESS.PATCHES_PER_TILE",
        format!("expected 3 positive patch counts (z, y, x), found {tile:?}"),
    );
    let (patch_z, pad_z) = (config.data.patch_size.first().copied(), config.data.test.padding.first().copied());
    if let (Some(patch_z), Some(pad_z), true) = (patch_z, pad_z, tile_ok) {
        check_z_range(by.z_start, by.z_end, patch_z.saturating_sub(2 * pad_z) * tile[0], c);
    }
}

/// BiaPy's rules on `Z_START`/`Z_END` (−1: the start, the end): multiples of the tile depth
/// `(PATCH_SIZE[0] − 2·PADDING[0])·PATCHES_PER_TILE[0]`, the start before the end.
fn check_z_range(z_start: i64, z_end: i64, tile_depth: usize, c: &mut Checker) {
    for (key, value) in [("TEST.BY_CHUNKS.Z_START", z_start), ("TEST.BY_CHUNKS.Z_END", z_end)] {
        let multiple = value >= 0 && tile_depth > 0 && (value as usize).is_multiple_of(tile_depth);
        c.require(
            value == -1 || multiple,
            key,
            format!(
                "expected -1 or a multiple of (`DATA.PATCH_SIZE`[0] - 2·`DATA.TEST.PADDING`[0]) · \
                 `TEST.BY_CHUNKS.WORKFLOW_PROCESS.PATCHES_PER_TILE`[0] = {tile_depth}, found {value}"
            ),
        );
    }
    c.require(
        z_start < 0 || z_end < 0 || z_start < z_end,
        "TEST.BY_CHUNKS.Z_START",
        format!("must be smaller than `TEST.BY_CHUNKS.Z_END` ({z_start} >= {z_end})"),
    );
}

/// Test options that cannot be honoured tile by tile in bounded memory (D14: refused, not
/// ignored).
fn check_combinations(config: &Config, c: &mut Checker) {
    let test = &config.test;
    let with = |what: &str| format!("cannot be used with `{ENABLE}: True`: {what}");
    if test.binarization == Binarization::Otsu {
        c.fail(
            "TEST.BINARIZATION",
            with("`otsu` needs the whole prediction of an image, which is never held in memory; give a threshold in (0, 1)"),
        );
    }
    if test.post_processing.median_filter {
        c.fail(
            "TEST.POST_PROCESSING.MEDIAN_FILTER",
            with("the median filter needs the whole prediction of an image, which is never held in memory; set it to False"),
        );
    }
    if test.full_img {
        c.fail(
            "TEST.FULL_IMG",
            with("predicting the whole volume at once contradicts predicting it tile by tile; set it to False"),
        );
    }
    if config.data.test.overlap.iter().any(|&o| o != 0.0) {
        c.fail(
            "DATA.TEST.OVERLAP",
            with("the tiles follow each other with step `DATA.PATCH_SIZE` - 2·`DATA.TEST.PADDING` and are not blended, so the overlap would be ignored; set it to 0"),
        );
    }
    let clip = &config.data.normalization.perc_clip;
    let unset = |v: &[f64]| v.first().is_none_or(|&x| x == -1.0);
    if clip.enable && (unset(&clip.lower_value) || unset(&clip.upper_value)) {
        c.fail(
            "DATA.NORMALIZATION.PERC_CLIP.ENABLE",
            with("percentile clipping needs a sort of the whole volume, which is never held in memory; give fixed `LOWER_VALUE` and `UPPER_VALUE`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;

    fn problems(test_keys: &str, data_test_keys: &str) -> Vec<String> {
        let yaml = format!(
            "PROBLEM: {{NDIM: 3D}}
DATA: {{PATCH_SIZE: [8, 16, 16, 1], TEST: {{PADDING: [1, 2, 2]{data_test_keys}}}}}
MODEL: {{FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1]}}
TRAIN: {{ENABLE: True}}
TEST: {{ENABLE: True, BY_CHUNKS: {{ENABLE: True{test_keys}}}}}
"
        );
        match load_str(&yaml, &[]) {
            Ok(_) => Vec::new(),
            Err(crate::config::ConfigError::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
            Err(other) => vec![other.to_string()],
        }
    }

    #[test]
    fn valid_settings_pass() {
        assert_eq!(problems(", Z_START: 6, Z_END: 18, PHASES: [prediction]", ""), Vec::<String>::new());
        assert_eq!(problems(", Z_END: 12, WORKFLOW_PROCESS: {PATCHES_PER_TILE: [2, 1, 1]}", ""), Vec::<String>::new());
    }

    #[test]
    fn biapy_rules_name_the_key_and_the_value() {
        let p = problems(", Z_START: 12, Z_END: 6, PHASES: [instance_creation, merge]", "");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("`merge` is not one of"), "{p:?}");
        assert!(p[1].contains("runs the `prediction` phase only"), "{p:?}");
        assert!(p[2].contains("`TEST.BY_CHUNKS.Z_START` (in `<inline>`): must be smaller than"), "{p:?}");
        let p = problems(", Z_START: 3, WORKFLOW_PROCESS: {TYPE: whole, PATCHES_PER_TILE: [1, 0, 1]}", "");
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("expected `chunk_by_chunk` or `entire_pred`, found `whole`"), "{p:?}");
        assert!(p[1].contains("expected 3 positive patch counts (z, y, x), found [1, 0, 1]"), "{p:?}");
        assert!(problems(", Z_START: 3", "")[0].contains("= 6, found 3"));
    }

    #[test]
    fn whole_volume_options_are_refused_with_both_keys() {
        let p = problems(
            "}, BINARIZATION: otsu, FULL_IMG: True, POST_PROCESSING: {MEDIAN_FILTER: True, MEDIAN_FILTER_AXIS: [z], MEDIAN_FILTER_SIZE: [3]",
            ", OVERLAP: [0, 0.5, 0.5]",
        );
        let keys = ["TEST.BINARIZATION", "TEST.POST_PROCESSING.MEDIAN_FILTER", "TEST.FULL_IMG", "DATA.TEST.OVERLAP"];
        assert_eq!(p.len(), keys.len(), "{p:?}");
        for (problem, key) in p.iter().zip(keys) {
            assert!(problem.starts_with(&format!("`{key}`")), "{problem}");
            assert!(problem.contains("cannot be used with `TEST.BY_CHUNKS.ENABLE: True`"), "{problem}");
        }
    }
}
