//! Stage keys (harness.md, "Run identity and the stage cache"): each of the three stages of a run
//! — `train`, `infer`, `evaluate` — is keyed by the sha256 of a canonical JSON of exactly the
//! inputs that can change its result.
//!
//! The inputs come from the resolved [`Config`], so defaults are already filled in and writing a
//! default explicitly, or `1` for `1.0`, changes nothing; object keys are sorted (serde_json's
//! map); every number is written in one canonical form. Keys that cannot change a result (result
//! paths, names, verbosity, thread counts) are removed; data paths are replaced by content
//! hashes. A per-stage format version is part of every key: bump it, and its tests, when a stage's
//! outputs change.
//!
//! ```
//! use segsweep::sweep::key::canonical_json;
//! assert_eq!(canonical_json(&serde_json::json!({"b": 1.0, "a": [2, 0.5]})), r#"{"a":[2,0.5],"b":1}"#);
//! ```

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::data::hash::sha256_hex;
use crate::device::DeviceKind;

/// Bump when the train stage's outputs change (checkpoints, logs).
pub const TRAIN_FORMAT_VERSION: u32 = 1;
/// Bump when the infer stage's outputs change (probability maps).
pub const INFER_FORMAT_VERSION: u32 = 1;
/// Bump when the evaluate stage's outputs change (masks, metrics).
pub const EVALUATE_FORMAT_VERSION: u32 = 3;

/// Config keys that never change a stage's result.
const NEVER: &[&str] = &[
    "SYSTEM.NUM_CPUS",
    "SYSTEM.NUM_WORKERS",
    "SYSTEM.PIN_MEM",
    "SYSTEM.DEVICE",
    "PROBLEM.PRINT_OLD_KEY_CHANGES",
    "TRAIN.VERBOSE",
    "TEST.VERBOSE",
    "TEST.METRICS_IN_CPU",
    "LOG",
    "PATHS",
    "DATA.TRAIN.PATH",
    "DATA.TRAIN.GT_PATH",
    "DATA.VAL.PATH",
    "DATA.VAL.GT_PATH",
    "DATA.TEST.PATH",
    "DATA.TEST.GT_PATH",
    "DATA.TRAIN.IN_MEMORY",
    "DATA.VAL.IN_MEMORY",
    "DATA.TEST.IN_MEMORY",
    "AUGMENTOR.AUG_SAMPLES",
    "AUGMENTOR.AUG_NUM_SAMPLES",
    "AUGMENTOR.DRAW_GRID",
];

/// Config sections that only the test phase reads.
const TEST_ONLY: &[&str] = &["TEST", "DATA.TEST"];

/// Inference keys (the rest of `TEST`/`DATA.TEST` belongs to evaluation).
const INFER_KEYS: &[&str] = &[
    "DATA.TEST.OVERLAP",
    "DATA.TEST.PADDING",
    "DATA.TEST.MEDIAN_PADDING",
    "TEST.FULL_IMG",
    "TEST.AUGMENTATION",
    "TEST.AUGMENTATION_MODE",
    "TEST.AUGMENTATION_GROUP",
    "TEST.BLEND",
    "TEST.REDUCE_MEMORY",
    "TEST.BINARIZATION",
    "TEST.EMPTY_IOU",
    "TEST.SAVE_MODEL_RAW_OUTPUT",
    "TEST.EVAL_BORDER_CROP",
    "DATA.TEST.LOAD_GT",
];

/// Canonical JSON text: sorted keys, no spaces, integral floats written as integers.
pub fn canonical_json(value: &Value) -> String {
    crate::json::sorted(&normalise(value)).to_string()
}

fn normalise(value: &Value) -> Value {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(normalise).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalise(v))).collect::<Map<_, _>>()),
        other => other.clone(),
    }
}

/// The config as a JSON object without the dotted `paths` (sections or keys).
fn config_without(config: &Config, remove: &[&str]) -> Value {
    let mut value = serde_json::to_value(config).unwrap_or(Value::Null);
    for path in remove {
        remove_path(&mut value, path);
    }
    value
}

fn remove_path(value: &mut Value, path: &str) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut node = value;
    for part in parts {
        match node.get_mut(part) {
            Some(child) => node = child,
            None => return,
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(last);
    }
}

fn pick(config: &Config, keys: &[&str]) -> Value {
    let full = serde_json::to_value(config).unwrap_or(Value::Null);
    let mut out = Map::new();
    for key in keys {
        let value = key.split('.').try_fold(&full, |node, part| node.get(part)).cloned().unwrap_or(Value::Null);
        out.insert((*key).to_string(), value);
    }
    Value::Object(out)
}

/// What goes into a stage key, readable (`inputs.json`), and its hash.
#[derive(Clone, Debug, PartialEq)]
pub struct StageInputs {
    pub inputs: Value,
    pub key: String,
}

impl StageInputs {
    fn new(inputs: Value) -> Self {
        let key = sha256_hex(canonical_json(&inputs).as_bytes());
        Self { inputs, key }
    }
}

/// The train key: every config key that can change training, the training data's content hash,
/// the effective seed, the device kind and the training code version.
pub fn train_inputs(config: &Config, train_data_hash: &str, seed: u64, device_kind: DeviceKind) -> StageInputs {
    let mut remove: Vec<&str> = NEVER.to_vec();
    remove.extend_from_slice(TEST_ONLY);
    StageInputs::new(json!({
        "stage": "train",
        "format": TRAIN_FORMAT_VERSION,
        "code": crate::train::job::TRAIN_CODE_VERSION,
        "config": config_without(config, &remove),
        "data": train_data_hash,
        "seed": seed,
        "device": device_kind,
    }))
}

/// How the test split's Zarr/HDF5 files are read (D17): in the infer key when any differs from
/// its default, so the keys of runs on TIFF data stay what they were.
const TEST_ARRAY_KEYS: &[&str] = &[
    "DATA.TEST.INPUT_IMG_AXES_ORDER",
    "DATA.TEST.INPUT_MASK_AXES_ORDER",
    "DATA.TEST.INPUT_ZARR_MULTIPLE_DATA",
    "DATA.TEST.INPUT_ZARR_MULTIPLE_DATA_RAW_PATH",
    "DATA.TEST.INPUT_ZARR_MULTIPLE_DATA_GT_PATH",
];

/// The infer key: the train key, the test images' content hash and the inference keys. With
/// `TEST.BY_CHUNKS.ENABLE` the infer stage also binarises, counts and writes the masks, so every
/// `TEST.BY_CHUNKS` key joins it; without, the section is left out so that the keys of runs that
/// never used it stay what they were. The test split's array keys join when set.
pub fn infer_inputs(config: &Config, train_key: &str, test_data_hash: &str) -> StageInputs {
    let mut picked = pick(config, INFER_KEYS);
    let arrays = pick(config, TEST_ARRAY_KEYS);
    if arrays != pick(&Config::default(), TEST_ARRAY_KEYS)
        && let (Value::Object(map), Value::Object(arrays)) = (&mut picked, arrays)
    {
        map.extend(arrays);
    }
    if config.test.by_chunks.enable
        && let Value::Object(map) = &mut picked
    {
        map.extend(
            pick(config, &["TEST.BY_CHUNKS", "DATA.TEST.ARGMAX_TO_OUTPUT"]).as_object().cloned().unwrap_or_default(),
        );
    }
    StageInputs::new(json!({
        "stage": "infer",
        "format": INFER_FORMAT_VERSION,
        "train": train_key,
        "config": picked,
        "data": test_data_hash,
    }))
}

/// The evaluate key: the infer key and the test-phase settings (post-processing, binarisation,
/// empty-IoU policy, metric keys), the class count and the ignore label.
pub fn evaluate_inputs(config: &Config, infer_key: &str) -> StageInputs {
    let full = serde_json::to_value(config).unwrap_or(Value::Null);
    let mut test = json!({
        "TEST": full.get("TEST").cloned().unwrap_or(Value::Null),
        "DATA": {
            "TEST": full.pointer("/DATA/TEST").cloned().unwrap_or(Value::Null),
            "N_CLASSES": full.pointer("/DATA/N_CLASSES").cloned().unwrap_or(Value::Null),
        },
        "LOSS": { "IGNORE_INDEX": full.pointer("/LOSS/IGNORE_INDEX").cloned().unwrap_or(Value::Null) },
    });
    for key in NEVER {
        remove_path(&mut test, key);
    }
    StageInputs::new(json!({
        "stage": "evaluate",
        "format": EVALUATE_FORMAT_VERSION,
        "infer": infer_key,
        "config": test,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;

    fn config(yaml: &str) -> Config {
        load_str(yaml, &[]).unwrap().config
    }

    const BASE: &str = "TRAIN: {ENABLE: True}\nTEST: {ENABLE: True}\n";

    fn keys(yaml: &str) -> (String, String, String) {
        let c = config(yaml);
        let train = train_inputs(&c, "data", 7, DeviceKind::Flex).key;
        let infer = infer_inputs(&c, &train, "test").key;
        let evaluate = evaluate_inputs(&c, &infer).key;
        (train, infer, evaluate)
    }

    #[test]
    fn canonical_json_sorts_and_normalises_numbers() {
        assert_eq!(canonical_json(&json!({"z": 1, "a": {"y": 1.0, "b": 1e0}})), r#"{"a":{"b":1,"y":1},"z":1}"#);
        assert_eq!(canonical_json(&json!([0.5, 2.0])), "[0.5,2]");
    }

    #[test]
    fn explicit_defaults_and_number_spelling_keep_the_keys() {
        let base = keys(BASE);
        assert_eq!(
            base,
            keys(&format!("{BASE}TRAIN: {{ENABLE: True, EPOCHS: 360}}\n").replace("TRAIN: {ENABLE: True}\n", ""))
        );
        assert_eq!(
            keys(&format!("{BASE}DATA: {{TEST: {{OVERLAP: [0, 0]}}}}\n")),
            keys(&format!("{BASE}DATA: {{TEST: {{OVERLAP: [0.0, 0.0]}}}}\n"))
        );
        assert_eq!(
            base,
            keys(
                &format!("{BASE}SYSTEM: {{NUM_CPUS: 2}}\nTEST: {{ENABLE: True, VERBOSE: False}}\n")
                    .replace("TEST: {ENABLE: True}\n", "")
            )
        );
    }

    #[test]
    fn a_training_key_changes_every_key_an_inference_key_only_infer_and_evaluate() {
        let base = keys(BASE);
        let lr = keys(&format!("{BASE}TRAIN: {{ENABLE: True, LR: [0.01]}}\n").replace("TRAIN: {ENABLE: True}\n", ""));
        assert!(lr.0 != base.0 && lr.1 != base.1 && lr.2 != base.2);
        let overlap = keys(&format!("{BASE}DATA: {{TEST: {{OVERLAP: [0.5, 0.5]}}}}\n"));
        assert_eq!(overlap.0, base.0);
        assert!(overlap.1 != base.1 && overlap.2 != base.2);
        let filter = keys(&format!(
            "{BASE}TEST: {{ENABLE: True, POST_PROCESSING: {{MEDIAN_FILTER: True, MEDIAN_FILTER_AXIS: [xy], MEDIAN_FILTER_SIZE: [3]}}}}\n"
        ).replace("TEST: {ENABLE: True}\n", ""));
        assert_eq!((filter.0.clone(), filter.1.clone()), (base.0.clone(), base.1.clone()));
        assert_ne!(filter.2, base.2);
    }

    #[test]
    fn by_chunks_keys_change_infer_and_evaluate_only_when_enabled() {
        let base = keys(BASE);
        let with = |keys_text: &str| {
            keys(&format!(
                "PROBLEM: {{NDIM: 3D}}\nDATA: {{PATCH_SIZE: [16, 32, 32, 1]}}\nMODEL: {{FEATURE_MAPS: [4, 8, 16], Z_DOWN: [1, 1]}}\nTRAIN: {{ENABLE: True}}\nTEST: {{ENABLE: True{keys_text}}}\n"
            ))
        };
        let normal = with("");
        // A BY_CHUNKS key while it is off leaves the infer key (the evaluate key holds all of
        // `TEST`); on, it changes infer and evaluate.
        let off = with(", BY_CHUNKS: {WRITE_RAW_PREDICTIONS: True}");
        assert_eq!((&off.0, &off.1), (&normal.0, &normal.1));
        let chunked = with(", BY_CHUNKS: {ENABLE: True}");
        assert_eq!(chunked.0, normal.0);
        assert!(chunked.1 != normal.1 && chunked.2 != normal.2);
        let raw = with(", BY_CHUNKS: {ENABLE: True, WRITE_RAW_PREDICTIONS: True}");
        assert_eq!(raw.0, chunked.0);
        assert!(raw.1 != chunked.1 && raw.2 != chunked.2);
        assert_ne!(base.0, normal.0);
        let zarr = with(", BY_CHUNKS: {ENABLE: True, FORMAT: zarr}");
        assert!(zarr.0 == chunked.0 && zarr.1 != chunked.1);
    }

    #[test]
    fn the_test_splits_array_keys_change_infer_and_evaluate_only_when_set() {
        let base = keys(BASE);
        let set = |data_test: &str| keys(&format!("{BASE}DATA: {{TEST: {{{data_test}}}}}\n"));
        assert_eq!(set("INPUT_IMG_AXES_ORDER: TZCYX"), base, "the default leaves every key");
        let zyx = set("INPUT_IMG_AXES_ORDER: ZYX");
        assert_eq!(zyx.0, base.0);
        assert!(zyx.1 != base.1 && zyx.2 != base.2);
        assert_ne!(set("INPUT_MASK_AXES_ORDER: ZYX").1, zyx.1);
    }

    #[test]
    fn seed_device_and_data_are_part_of_the_train_key() {
        let c = config(BASE);
        let a = train_inputs(&c, "data", 7, DeviceKind::Flex).key;
        assert_ne!(a, train_inputs(&c, "data", 8, DeviceKind::Flex).key);
        assert_ne!(a, train_inputs(&c, "data", 7, DeviceKind::Tch).key);
        assert_ne!(a, train_inputs(&c, "other", 7, DeviceKind::Flex).key);
        // The kind enters the key by the name it always had, so existing caches stay valid.
        assert_eq!(train_inputs(&c, "data", 7, DeviceKind::TchCuda).inputs["device"], "tch-cuda");
    }
}
