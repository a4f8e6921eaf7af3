//! `MODEL.FREEZE_LAYERS_MATCHING`: the parameters whose BiaPy name matches one of the regular
//! expressions (searched anywhere in the name, as Python's `re.search`) stop taking gradients,
//! so the optimiser leaves them — weight decay included — exactly as loaded. Applied after
//! `MODEL.LOAD_CHECKPOINT`'s weights, as BiaPy does; batch-norm running statistics are buffers,
//! not parameters, and keep updating.
//!
//! Must not: load weights or build the optimiser.

use std::collections::HashSet;
use std::io::Write;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::Tensor;
use regex::Regex;

use crate::model::SegModel;

/// Freezes the parameters of `model` whose BiaPy name `patterns` match (nothing without
/// patterns); prints BiaPy's lines to `out`.
pub fn freeze(model: SegModel, patterns: &[Regex], out: &mut dyn Write) -> SegModel {
    if patterns.is_empty() {
        return model;
    }
    let names = model.biapy_state_dict_names();
    let (frozen, trainable): (Vec<_>, Vec<_>) =
        names.into_iter().partition(|(name, _, _)| patterns.iter().any(|p| p.is_match(name)));
    writeln!(out, "Frozen {} parameter tensor(s) matching MODEL.FREEZE_LAYERS_MATCHING:", frozen.len()).ok();
    for (name, _, _) in &frozen {
        writeln!(out, "  [frozen]    {name}").ok();
    }
    writeln!(out, "Trainable parameter tensors remaining: {}", trainable.len()).ok();
    let ids: HashSet<ParamId> = frozen.into_iter().map(|(_, _, id)| id).collect();
    model.map(&mut Freezer { ids: &ids })
}

/// Turns gradients off for the parameters in `ids`.
struct Freezer<'a> {
    ids: &'a HashSet<ParamId>,
}

impl ModuleMapper for Freezer<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if self.ids.contains(&param.id) { param.set_require_grad(false) } else { param }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use burn::module::ModuleVisitor;
    use burn::optim::{AdamWConfig, GradientsParams};
    use burn::tensor::{Device, Distribution, TensorData};

    use super::*;
    use crate::config::load_str;
    use crate::model::ModelSpec;

    /// Every float tensor's values by id.
    struct Values(HashMap<ParamId, TensorData>);

    impl ModuleVisitor for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.insert(param.id, param.val().into_data());
        }
    }

    fn values(model: &SegModel) -> HashMap<ParamId, TensorData> {
        let mut v = Values(HashMap::new());
        model.visit(&mut v);
        v.0
    }

    #[test]
    fn an_adamw_step_with_weight_decay_leaves_the_frozen_parameters_as_they_were() {
        let config =
            load_str("MODEL: {FEATURE_MAPS: [2, 4, 8]}\nDATA: {PATCH_SIZE: '(16, 16, 1)'}\nTRAIN: {ENABLE: True}", &[])
                .unwrap()
                .config;
        let device = Device::flex().autodiff();
        let model = SegModel::try_new(&ModelSpec::from_config(&config).unwrap(), &device).unwrap();
        let names = model.biapy_state_dict_names();
        let mut out = Vec::new();
        let patterns = [Regex::new(r"^down_path\.0\.").unwrap(), Regex::new(r"^heads\.0\.bias$").unwrap()];
        let model = freeze(model, &patterns, &mut out);
        let text = String::from_utf8(out).unwrap();
        let frozen: Vec<_> =
            names.iter().filter(|(n, _, _)| n.starts_with("down_path.0.") || n == "heads.0.bias").collect();
        assert!(frozen.len() > 2);
        assert!(text.starts_with(&format!("Frozen {} parameter tensor(s)", frozen.len())), "{text}");
        for (name, _, _) in &frozen {
            assert!(text.contains(&format!("  [frozen]    {name}\n")), "{text}");
        }
        let remaining = names.len() - frozen.len();
        assert!(text.ends_with(&format!("Trainable parameter tensors remaining: {remaining}\n")), "{text}");

        let before = values(&model);
        let x = Tensor::<4>::random([2, 1, 16, 16], Distribution::Normal(0.0, 1.0), &device);
        let logits = model.forward2d(x).expect("fits");
        let loss = (logits.clone() * logits).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let mut optim = AdamWConfig::new().with_weight_decay(0.1).init();
        let after = values(&optim.step(1e-2, model, grads));
        // A trainable bias right before a normalisation has a gradient of zero in exact
        // arithmetic (the norm removes any per-channel shift), so only rounding moves it and,
        // for some random inputs, nothing does: biases are held to "frozen ⇒ unchanged" only,
        // and at least one trainable bias must have moved.
        let mut moved_biases = 0;
        for (name, _, id) in &names {
            let same = before[id] == after[id];
            let is_frozen = frozen.iter().any(|(_, _, f)| f == id);
            if is_frozen || !name.ends_with(".bias") {
                assert_eq!(same, is_frozen, "{name}: frozen {is_frozen}, unchanged {same}");
            } else if !same {
                moved_biases += 1;
            }
        }
        assert!(moved_biases > 0, "no trainable bias moved");
    }
}
