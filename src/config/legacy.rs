//! D1: legacy keys from BiaPy's documentation and older versions, translated to the canonical
//! keys of BiaPy 3.7.1 (spec §1.6) before anything else looks at a layer.
//!
//! Differences from BiaPy's converter, on purpose: a legacy switch set to `False` stays off
//! (BiaPy turns `YZ_FILTERING: False` into a median filter), a missing `*_FILTERING_SIZE` takes 5
//! (BiaPy raises `KeyError`), and an old and a new key given with different values is an error
//! naming both. Every change is reported as a note. This file is a flat table of rules; it must
//! not check types beyond what a rule needs.

use serde_json::{Value, json};

use super::error::Problem;
use super::keys;
use super::raw::RawLayer;

/// Legacy keys that only moved.
const MOVED: &[(&str, &str)] = &[
    ("MODEL.N_CLASSES", "DATA.N_CLASSES"),
    ("DATA.EXTRACT_RANDOM_PATCH", "DATA.TRAIN.EXTRACT_RANDOM_PATCH"),
    ("DATA.PROBABILITY_MAP", "DATA.TRAIN.PROBABILITY_MAP"),
    ("DATA.W_FOREGROUND", "DATA.TRAIN.W_FOREGROUND"),
    ("DATA.W_BACKGROUND", "DATA.TRAIN.W_BACKGROUND"),
    ("TEST.STATS.FULL_IMG", "TEST.FULL_IMG"),
    ("DATA.NORMALIZATION.PERC_LOWER", "DATA.NORMALIZATION.PERC_CLIP.LOWER_PERC"),
    ("DATA.NORMALIZATION.PERC_UPPER", "DATA.NORMALIZATION.PERC_CLIP.UPPER_PERC"),
];

/// Keys whose single value became a one-element list.
const WRAPPED: &[&str] = &["TRAIN.OPTIMIZER", "TRAIN.LR", "TRAIN.LR_SCHEDULER.MIN_LR"];

/// Legacy keys that are simply dropped.
const DROPPED: &[&str] = &["TEST.EVALUATE"];

/// What translating one layer did.
#[derive(Debug, Default)]
pub struct Translation {
    /// Human-readable notes, one per change (BiaPy prints these when
    /// `PROBLEM.PRINT_OLD_KEY_CHANGES` is on).
    pub notes: Vec<String>,
    /// Conflicts between an old key and its new form.
    pub problems: Vec<Problem>,
}

/// Rewrites the legacy keys of `layer` in place.
pub fn translate(layer: &mut RawLayer) -> Translation {
    let mut t = Translation::default();
    for (old, new) in MOVED {
        if let Some(value) = layer.values.remove(*old) {
            put(layer, &mut t, old, new, value);
        }
    }
    for key in WRAPPED {
        if let Some(value) = layer.values.get_mut(*key).filter(|v| !v.is_array()) {
            *value = Value::Array(vec![value.take()]);
            t.notes.push(format!("`{key}`: single value wrapped into a list"));
        }
    }
    for key in DROPPED {
        if layer.values.remove(*key).is_some() {
            t.notes.push(format!("`{key}`: removed (no longer an option)"));
        }
    }
    drop_other_stats(layer, &mut t);
    batch_normalization(layer, &mut t);
    median_filters(layer, &mut t);
    loss_type(layer, &mut t);
    perc_clip(layer, &mut t);
    custom_normalization(layer, &mut t);
    class_rebalance(layer, &mut t);
    only_weights(layer, &mut t);
    hrnet_variant(layer, &mut t);
    minimum_foreground(layer, &mut t);
    da_prob(layer, &mut t);
    t
}

/// Sets `new` from legacy `old`; an explicit, different `new` is a conflict.
fn put(layer: &mut RawLayer, t: &mut Translation, old: &str, new: &str, value: Value) {
    match layer.values.get(new) {
        Some(existing) if !same_value(existing, &value) => t.problems.push(Problem::new(
            new,
            &layer.origin,
            format!("conflicts with legacy key `{old}` ({value} vs {existing}); keep one of them"),
        )),
        _ => {
            t.notes.push(format!("`{old}` → `{new}`: {value}"));
            layer.values.insert(new.to_string(), value);
        }
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b)),
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// Reads a legacy switch; a non-boolean is reported and treated as off.
fn switch(layer: &mut RawLayer, t: &mut Translation, key: &str) -> Option<bool> {
    let value = layer.values.remove(key)?;
    match value {
        Value::Bool(on) => Some(on),
        other => {
            t.problems.push(Problem::new(key, &layer.origin, format!("expected `true` or `false`, found {other}")));
            None
        }
    }
}

fn drop_other_stats(layer: &mut RawLayer, t: &mut Translation) {
    let stats: Vec<String> = layer.values.keys().filter(|k| k.starts_with("TEST.STATS.")).cloned().collect();
    for key in stats {
        layer.values.remove(&key);
        t.notes.push(format!("`{key}`: removed (BiaPy always computes these statistics)"));
    }
}

fn batch_normalization(layer: &mut RawLayer, t: &mut Translation) {
    match switch(layer, t, "MODEL.BATCH_NORMALIZATION") {
        Some(true) => put(layer, t, "MODEL.BATCH_NORMALIZATION", "MODEL.NORMALIZATION", json!("bn")),
        Some(false) => t.notes.push("`MODEL.BATCH_NORMALIZATION: False`: removed (default `in` stays)".into()),
        None => {}
    }
}

/// `Z_FILTERING` / `YZ_FILTERING` (+ `_SIZE`) become `MEDIAN_FILTER*` entries.
fn median_filters(layer: &mut RawLayer, t: &mut Translation) {
    let mut axes = Vec::new();
    let mut sizes = Vec::new();
    for (name, axis) in [("Z_FILTERING", "z"), ("YZ_FILTERING", "yz")] {
        let key = format!("TEST.POST_PROCESSING.{name}");
        let size_key = format!("{key}_SIZE");
        let size = layer.values.remove(&size_key);
        match switch(layer, t, &key) {
            Some(true) => {
                axes.push(json!(axis));
                sizes.push(size.unwrap_or(json!(5)));
                t.notes.push(format!("`{key}: True` → median filter along `{axis}`"));
            }
            Some(false) => t.notes.push(format!("`{key}: False`: removed (stays off)")),
            None if size.is_some() => t.notes.push(format!("`{size_key}`: removed (its switch is not set)")),
            None => {}
        }
    }
    if axes.is_empty() {
        return;
    }
    let old = "TEST.POST_PROCESSING.Z_FILTERING/YZ_FILTERING";
    put(layer, t, old, "TEST.POST_PROCESSING.MEDIAN_FILTER", json!(true));
    put(layer, t, old, "TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS", Value::Array(axes));
    put(layer, t, old, "TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE", Value::Array(sizes));
}

fn loss_type(layer: &mut RawLayer, t: &mut Translation) {
    let Some(Value::String(name)) = layer.values.get("LOSS.TYPE").cloned() else { return };
    if name.eq_ignore_ascii_case("W_CE_DICE") {
        // The first weight goes to DICE (spec §1.6); missing weights default to 1.0.
        let given = layer.values.get("LOSS.WEIGHTS").and_then(Value::as_array).cloned().unwrap_or_default();
        let weight = |i: usize| given.get(i).cloned().unwrap_or(json!(1.0));
        layer.values.insert("LOSS.TYPE".into(), json!(["DICE", "CE"]));
        layer.values.insert("LOSS.WEIGHTS".into(), json!([weight(0), weight(1)]));
        t.notes.push("`LOSS.TYPE: W_CE_DICE` → `[DICE, CE]` with `LOSS.WEIGHTS` in that order".into());
    } else {
        layer.values.insert("LOSS.TYPE".into(), json!([name]));
        t.notes.push(format!("`LOSS.TYPE: {name}` → `[{name}]`"));
    }
}

fn perc_clip(layer: &mut RawLayer, t: &mut Translation) {
    if let Some(on) = switch(layer, t, "DATA.NORMALIZATION.PERC_CLIP") {
        put(layer, t, "DATA.NORMALIZATION.PERC_CLIP", "DATA.NORMALIZATION.PERC_CLIP.ENABLE", json!(on));
    }
}

fn custom_normalization(layer: &mut RawLayer, t: &mut Translation) {
    let key = "DATA.NORMALIZATION.TYPE";
    let is_custom = matches!(layer.values.get(key), Some(Value::String(s)) if s == "custom");
    let mean = layer.values.remove("DATA.NORMALIZATION.CUSTOM_MEAN");
    let std = layer.values.remove("DATA.NORMALIZATION.CUSTOM_STD");
    if !is_custom {
        return;
    }
    layer.values.insert(key.into(), json!("zero_mean_unit_variance"));
    t.notes.push("`DATA.NORMALIZATION.TYPE: custom` → `zero_mean_unit_variance`".into());
    let as_list = |v: Value| if v.is_array() { v } else { Value::Array(vec![v]) };
    if let Some(mean) = mean {
        put(
            layer,
            t,
            "DATA.NORMALIZATION.CUSTOM_MEAN",
            "DATA.NORMALIZATION.ZERO_MEAN_UNIT_VAR.MEAN_VAL",
            as_list(mean),
        );
    }
    if let Some(std) = std {
        put(layer, t, "DATA.NORMALIZATION.CUSTOM_STD", "DATA.NORMALIZATION.ZERO_MEAN_UNIT_VAR.STD_VAL", as_list(std));
    }
}

fn class_rebalance(layer: &mut RawLayer, t: &mut Translation) {
    let key = "LOSS.CLASS_REBALANCE";
    let Some(Value::Bool(on)) = layer.values.get(key).cloned() else { return };
    let has_weights = layer.values.get("LOSS.CLASS_WEIGHTS").and_then(Value::as_array).is_some_and(|w| !w.is_empty());
    let new = if has_weights { "manual" } else { "none" };
    layer.values.insert(key.into(), json!(new));
    let why = if on && !has_weights { " (no `LOSS.CLASS_WEIGHTS` given, so no rebalancing)" } else { "" };
    t.notes.push(format!("`{key}: {on}` → `{new}`{why}"));
}

fn only_weights(layer: &mut RawLayer, t: &mut Translation) {
    let old = "MODEL.LOAD_CHECKPOINT_ONLY_WEIGHTS";
    if switch(layer, t, old) == Some(true) {
        put(layer, t, old, "MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT", json!(["weights"]));
    }
}

fn hrnet_variant(layer: &mut RawLayer, t: &mut Translation) {
    let Some(Value::String(arch)) = layer.values.get("MODEL.ARCHITECTURE").cloned() else { return };
    // BiaPy's converter (run on the YAML file, not on command-line options) gives an `hrnet`
    // without a variant `W18`, where config.py's default is `W48` (spec architectures §9.1).
    let from_file = matches!(layer.origin, crate::config::error::Origin::File(_));
    if arch == "hrnet" && from_file && !layer.values.contains_key("MODEL.HRNET.VARIANT") {
        layer.values.insert("MODEL.HRNET.VARIANT".into(), json!("W18"));
        t.notes.push("`MODEL.ARCHITECTURE: hrnet` without `MODEL.HRNET.VARIANT` → `W18` (as BiaPy's converter)".into());
        return;
    }
    let Some(width) = arch.strip_prefix("hrnet").filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()))
    else {
        return;
    };
    layer.values.insert("MODEL.ARCHITECTURE".into(), json!("hrnet"));
    layer.values.insert("MODEL.HRNET.VARIANT".into(), json!(format!("W{width}")));
    t.notes.push(format!("`MODEL.ARCHITECTURE: {arch}` → `hrnet` with `MODEL.HRNET.VARIANT: W{width}`"));
}

fn minimum_foreground(layer: &mut RawLayer, t: &mut Translation) {
    let old = "DATA.TRAIN.MINIMUM_FOREGROUND_PER";
    let Some(value) = layer.values.remove(old) else { return };
    if value.as_f64() == Some(-1.0) {
        t.notes.push(format!("`{old}: -1`: removed"));
        return;
    }
    let prefix = "DATA.TRAIN.FILTER_SAMPLES";
    put(layer, t, old, &format!("{prefix}.PROPS"), json!([["foreground"]]));
    put(layer, t, old, &format!("{prefix}.VALUES"), json!([[value]]));
    put(layer, t, old, &format!("{prefix}.SIGNS"), json!([["lt"]]));
}

/// `AUGMENTOR.DA_PROB: p` gives every `AUGMENTOR.*_PROB` not set explicitly the value `p`.
fn da_prob(layer: &mut RawLayer, t: &mut Translation) {
    let Some(p) = layer.values.remove("AUGMENTOR.DA_PROB") else { return };
    for key in keys::known().keys().filter(|k| k.starts_with("AUGMENTOR.") && k.ends_with("_PROB")) {
        layer.values.entry(key.clone()).or_insert_with(|| p.clone());
    }
    t.notes.push(format!("`AUGMENTOR.DA_PROB: {p}` → every `AUGMENTOR.*_PROB` not set explicitly"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::error::Origin;
    use std::path::PathBuf;

    fn layer(pairs: &[(&str, Value)]) -> RawLayer {
        let mut layer = RawLayer::new(Origin::File(PathBuf::from("old.yaml")));
        for (k, v) in pairs {
            layer.values.insert(k.to_string(), v.clone());
        }
        layer
    }

    #[test]
    fn moved_keys_and_wrapped_values() {
        let mut l =
            layer(&[("MODEL.N_CLASSES", json!(3)), ("TRAIN.LR", json!(1e-3)), ("TRAIN.OPTIMIZER", json!("ADAMW"))]);
        let t = translate(&mut l);
        assert!(t.problems.is_empty());
        assert_eq!(l.values["DATA.N_CLASSES"], json!(3));
        assert_eq!(l.values["TRAIN.LR"], json!([1e-3]));
        assert_eq!(l.values["TRAIN.OPTIMIZER"], json!(["ADAMW"]));
        assert!(!l.values.contains_key("MODEL.N_CLASSES"));
    }

    #[test]
    fn old_and_new_key_with_different_values_is_an_error_naming_both() {
        let mut l = layer(&[("MODEL.N_CLASSES", json!(3)), ("DATA.N_CLASSES", json!(2))]);
        let t = translate(&mut l);
        assert_eq!(
            t.problems[0].to_string(),
            "`DATA.N_CLASSES` (in `old.yaml`): conflicts with legacy key `MODEL.N_CLASSES` (3 vs 2); keep one of them"
        );
        let mut same = layer(&[("MODEL.N_CLASSES", json!(2)), ("DATA.N_CLASSES", json!(2.0))]);
        assert!(translate(&mut same).problems.is_empty());
    }

    #[test]
    fn filtering_switches_off_stay_off_and_size_defaults_to_5() {
        let mut off = layer(&[("TEST.POST_PROCESSING.YZ_FILTERING", json!(false))]);
        translate(&mut off);
        assert!(off.values.is_empty());
        let mut on = layer(&[
            ("TEST.POST_PROCESSING.Z_FILTERING", json!(true)),
            ("TEST.POST_PROCESSING.YZ_FILTERING", json!(true)),
            ("TEST.POST_PROCESSING.YZ_FILTERING_SIZE", json!(3)),
        ]);
        translate(&mut on);
        assert_eq!(on.values["TEST.POST_PROCESSING.MEDIAN_FILTER"], json!(true));
        assert_eq!(on.values["TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS"], json!(["z", "yz"]));
        assert_eq!(on.values["TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE"], json!([5, 3]));
    }

    #[test]
    fn w_ce_dice_puts_the_first_weight_on_dice() {
        let mut l = layer(&[("LOSS.TYPE", json!("W_CE_DICE")), ("LOSS.WEIGHTS", json!([0.3]))]);
        translate(&mut l);
        assert_eq!(l.values["LOSS.TYPE"], json!(["DICE", "CE"]));
        assert_eq!(l.values["LOSS.WEIGHTS"], json!([0.3, 1.0]));
    }

    #[test]
    fn batch_normalization_and_rebalance_and_da_prob() {
        let mut l = layer(&[
            ("MODEL.BATCH_NORMALIZATION", json!(true)),
            ("LOSS.CLASS_REBALANCE", json!(true)),
            ("AUGMENTOR.DA_PROB", json!(0.3)),
            ("AUGMENTOR.VFLIP_PROB", json!(0.9)),
        ]);
        let t = translate(&mut l);
        assert_eq!(l.values["MODEL.NORMALIZATION"], json!("bn"));
        assert_eq!(l.values["LOSS.CLASS_REBALANCE"], json!("none"));
        assert!(t.notes.iter().any(|n| n.contains("no rebalancing")));
        assert_eq!(l.values["AUGMENTOR.HFLIP_PROB"], json!(0.3));
        assert_eq!(l.values["AUGMENTOR.VFLIP_PROB"], json!(0.9));
    }

    #[test]
    fn an_hrnet_file_without_a_variant_gets_w18() {
        let mut l = layer(&[("MODEL.ARCHITECTURE", json!("hrnet"))]);
        translate(&mut l);
        assert_eq!(l.values["MODEL.HRNET.VARIANT"], json!("W18"));
        let mut given = layer(&[("MODEL.ARCHITECTURE", json!("hrnet")), ("MODEL.HRNET.VARIANT", json!("W32"))]);
        translate(&mut given);
        assert_eq!(given.values["MODEL.HRNET.VARIANT"], json!("W32"));
    }

    #[test]
    fn hrnet_width_becomes_a_variant() {
        let mut l = layer(&[("MODEL.ARCHITECTURE", json!("hrnet48"))]);
        translate(&mut l);
        assert_eq!(l.values["MODEL.ARCHITECTURE"], json!("hrnet"));
        assert_eq!(l.values["MODEL.HRNET.VARIANT"], json!("W48"));
    }
}
