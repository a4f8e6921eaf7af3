//! Which keys exist. The canonical keys and their default values are read off
//! [`Config::default`](super::Config) (one source of truth); keys of other BiaPy workflows,
//! other architectures and derived paths are recognised by prefix and accepted without effect
//! (D14); anything else is unknown and gets a "did you mean" suggestion (D2).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::Config;
use super::raw::flatten;

/// Why a recognised non-canonical key has no effect in segsweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Foreign {
    /// The key prefix that matched.
    pub prefix: &'static str,
    /// What the key belongs to.
    pub belongs_to: &'static str,
}

/// Prefixes of keys that BiaPy knows but a semantic-segmentation run never reads.
const FOREIGN: &[(&str, &str)] = &[
    ("PROBLEM.INSTANCE_SEG.", "the instance segmentation workflow"),
    ("PROBLEM.DETECTION.", "the detection workflow"),
    ("PROBLEM.DENOISING.", "the denoising workflow"),
    ("PROBLEM.SUPER_RESOLUTION.", "the super-resolution workflow"),
    ("PROBLEM.SELF_SUPERVISED.", "the self-supervised workflow"),
    ("PROBLEM.CLASSIFICATION.", "the classification workflow"),
    ("PROBLEM.IMAGE_TO_IMAGE.", "the image-to-image workflow"),
    ("TEST.DET_", "the detection workflow"),
    ("TEST.MATCHING_STATS", "the instance segmentation workflow"),
    ("TEST.POST_PROCESSING.", "post-processing of other workflows"),
    ("DATA.NORMALIZATION.TARGET.", "the image-to-image workflow"),
    ("DATA.TRAIN.INPUT_ZARR_MULTIPLE_DATA_", "the synapse annotations of the instance segmentation workflow"),
    ("DATA.VAL.INPUT_ZARR_MULTIPLE_DATA_", "the synapse annotations of the instance segmentation workflow"),
    ("DATA.TEST.INPUT_ZARR_MULTIPLE_DATA_", "the synapse annotations of the instance segmentation workflow"),
    ("MODEL.VIT_", "vision-transformer architectures"),
    ("MODEL.MAE_", "the self-supervised workflow"),
    ("MODEL.UNEXT_", "the unext architectures"),
    ("MODEL.SR_", "super-resolution architectures"),
    ("PATHS.", "paths derived from --result_dir"),
    ("LOG.", "log paths derived from --result_dir"),
];

/// Every canonical key with its default value.
pub fn known() -> &'static BTreeMap<String, Value> {
    static KNOWN: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let value = serde_json::to_value(Config::default()).expect("the default config serialises");
        let mut flat = BTreeMap::new();
        flatten("", value, &mut flat);
        flat
    })
}

/// True when `key` is a section (a prefix of canonical keys), e.g. `DATA.TEST`.
pub fn is_section(key: &str) -> bool {
    let prefix = format!("{key}.");
    known().range(prefix.clone()..).next().is_some_and(|(k, _)| k.starts_with(&prefix))
}

/// The foreign prefix `key` falls under, if it is not canonical.
pub fn foreign(key: &str) -> Option<Foreign> {
    if known().contains_key(key) {
        return None;
    }
    FOREIGN
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
        .map(|&(prefix, belongs_to)| Foreign { prefix, belongs_to })
}

/// The canonical key closest to an unknown `key`, if any is close enough to be a likely typo or
/// a key placed in the wrong section.
pub fn suggest(key: &str) -> Option<&'static str> {
    let (best, distance) = known().keys().map(|k| (k.as_str(), strsim::levenshtein(key, k))).min_by_key(|&(_, d)| d)?;
    if distance <= (key.len() / 4).max(2) {
        return Some(best);
    }
    // Same last component in another section (`DATA.OVERLAP` → `DATA.VAL.OVERLAP`).
    let leaf = key.rsplit('.').next()?;
    known()
        .keys()
        .filter(|k| k.rsplit('.').next() == Some(leaf))
        .min_by_key(|k| strsim::levenshtein(key, k))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_come_from_the_defaults() {
        assert_eq!(known()["DATA.PATCH_SIZE"], serde_json::json!([256, 256, 1]));
        assert_eq!(known()["TRAIN.LR"], serde_json::json!([1e-4]));
        assert_eq!(known()["TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS"], serde_json::json!([]));
        assert_eq!(known()["PROBLEM.TYPE"], serde_json::json!("SEMANTIC_SEG"));
        assert!(is_section("DATA.TEST"));
        assert!(!is_section("DATA.TEST.OVERLAP"));
    }

    #[test]
    fn suggestions_for_typos_and_wrong_sections() {
        assert_eq!(suggest("DATA.N_CLASES"), Some("DATA.N_CLASSES"));
        assert_eq!(suggest("TRAIN.EPOCH"), Some("TRAIN.EPOCHS"));
        assert_eq!(suggest("DATA.OVERLAP"), Some("DATA.VAL.OVERLAP"));
        assert_eq!(suggest("COMPLETELY.DIFFERENT.THING"), None);
    }

    #[test]
    fn foreign_keys_are_recognised_by_prefix() {
        assert_eq!(
            foreign("PROBLEM.INSTANCE_SEG.DATA_CHANNELS").unwrap().belongs_to,
            "the instance segmentation workflow"
        );
        assert!(foreign("TEST.POST_PROCESSING.MEDIAN_FILTER").is_none());
        assert!(foreign("TRAIN.EPOCH").is_none());
    }
}
