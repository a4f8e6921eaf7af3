//! D9: BiaPy's PyTorch state-dict names for the networks' parameters, so a checkpoint segsweep
//! writes loads into BiaPy's class (`strict=True`) and a BiaPy checkpoint loads here (spec §7.3,
//! `../shared/spec/biapy-layouts/`).
//!
//! Each block lists its parameters under BiaPy's names with the burn parameter's id
//! ([`SegModel::biapy_state_dict_names`]); [`renaming`] joins those ids with burn's own module
//! paths (`Unet.down_path.0.block.1.conv.D2.weight` → `down_path.0.block.1.block.0.weight`), adds
//! batch norm's running statistics beside their layer's weight, and marks the tensors PyTorch
//! stores transposed (the `Linear` weights of squeeze-and-excitation blocks). Pure: a model in,
//! names out.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use super::SegModel;

/// One tensor's names: burn's module path and BiaPy's state-dict name, and whether PyTorch holds
/// it transposed (a rank-2 `Linear` weight: burn `[in, out]`, PyTorch `[out, in]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    pub burn: String,
    pub biapy: String,
    pub transposed: bool,
}

/// Every float tensor of a module: `(path, id, shape, is a Linear weight)`, paths as burn's
/// stores write them.
struct Paths {
    path: Vec<String>,
    containers: Vec<String>,
    found: Vec<(String, ParamId, Vec<usize>, bool)>,
}

impl ModuleVisitor for Paths {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_owned());
        self.containers.push(container_type.to_owned());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.containers.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        // burn's `Linear` stores its weight `[in, out]`, PyTorch `[out, in]`: known by the
        // module, not guessed from the shapes (a square weight looks the same both ways).
        let linear_weight = self.containers.last().is_some_and(|c| c == "Struct:Linear")
            && self.path.last().is_some_and(|p| p == "weight");
        self.found.push((self.path.join("."), param.id, param.lazy_shape().to_vec(), linear_weight));
    }
}

/// The burn → BiaPy renaming of every tensor of `model`, or `None` when some tensor has no
/// BiaPy name (the caller then keeps burn's names, and says so where it matters).
pub fn renaming(model: &SegModel) -> Option<Vec<Rename>> {
    let mut visitor = Paths { path: Vec::new(), containers: Vec::new(), found: Vec::new() };
    model.visit(&mut visitor);
    let names: HashMap<ParamId, (String, Vec<usize>)> =
        model.biapy_state_dict_names().into_iter().map(|(name, shape, id)| (id, (name, shape))).collect();
    let mut renames = Vec::with_capacity(visitor.found.len());
    let mut by_path: HashMap<&str, &str> = HashMap::new();
    for (path, id, shape, transposed) in &visitor.found {
        if let Some((name, torch_shape)) = names.get(id) {
            let fits = match transposed {
                true => shape.len() == 2 && shape.iter().rev().eq(torch_shape.iter()),
                false => shape == torch_shape,
            };
            if !fits {
                return None;
            }
            let transposed = *transposed;
            by_path.insert(path, name);
            renames.push(Rename { burn: path.clone(), biapy: name.clone(), transposed });
        }
    }
    for (path, _, _, _) in &visitor.found {
        let (layer, buffer) = path.rsplit_once('.')?;
        if by_path.contains_key(path.as_str()) {
            continue;
        }
        // A running statistic: named after its norm's weight (`X.weight` → `X.running_mean`).
        if !matches!(buffer, "running_mean" | "running_var") {
            return None;
        }
        let weight = by_path.get(format!("{layer}.gamma").as_str())?;
        let biapy = format!("{}.{buffer}", weight.strip_suffix(".weight")?);
        renames.push(Rename { burn: path.clone(), biapy, transposed: false });
    }
    (renames.len() == visitor.found.len()).then_some(renames)
}

/// `renaming(model)` as a burn path → BiaPy name map (empty when the names do not map).
pub fn biapy_name_of(model: &SegModel) -> HashMap<String, String> {
    renaming(model).into_iter().flatten().map(|r| (r.burn, r.biapy)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelSpec;
    use burn::tensor::Device;

    fn model(yaml: &str) -> SegModel {
        let config = crate::config::load_str(&format!("TRAIN: {{ENABLE: True}}\n{yaml}"), &[]).unwrap().config;
        SegModel::new(&ModelSpec::from_config(&config).unwrap(), &Device::flex())
    }

    #[test]
    fn every_layer_kind_maps() {
        let renames = renaming(&model("MODEL: {FEATURE_MAPS: [4, 8, 16], NORMALIZATION: bn}")).unwrap();
        let of = |burn: &str| renames.iter().find(|r| r.burn == burn).map(|r| r.biapy.as_str());
        assert_eq!(of("Unet.bottleneck.block.0.conv.D2.bias"), Some("bottleneck.block.0.block.0.bias"));
        assert_eq!(
            of("Unet.bottleneck.block.1.norm.Batch.running_var"),
            Some("bottleneck.block.1.block.1.running_var")
        );
        assert_eq!(of("Unet.up_paths.0.up_norm.Batch.beta"), Some("up_paths.0.0.up.1.bias"));
        assert_eq!(
            of("Unet.up_paths.1.conv_block.block.0.conv.D2.weight"),
            Some("up_paths.0.1.conv_block.block.0.block.0.weight")
        );
        assert_eq!(of("Unet.heads.0.D2.weight"), Some("heads.0.weight"));
        assert!(renames.iter().all(|r| !r.transposed));
    }

    #[test]
    fn attention_se_and_residual_networks_map_completely() {
        for yaml in [
            "MODEL: {ARCHITECTURE: attention_unet, FEATURE_MAPS: [4, 8, 16]}",
            "MODEL: {ARCHITECTURE: seunet, FEATURE_MAPS: [16, 32, 64], NORMALIZATION: bn, DROPOUT_VALUES: [0.1, 0.1, 0.1]}",
            "MODEL: {ARCHITECTURE: resunet, FEATURE_MAPS: [4, 8, 16], UPSAMPLE_LAYER: upsampling}",
            "MODEL: {FEATURE_MAPS: [4, 8, 16], CONV_BLOCK_ORDER: norm_act_conv, UPSAMPLE_LAYER: upsampling}",
        ] {
            let net = model(yaml);
            let renames = renaming(&net).unwrap_or_else(|| panic!("{yaml}: every tensor has a BiaPy name"));
            let mut biapy: Vec<&str> = renames.iter().map(|r| r.biapy.as_str()).collect();
            biapy.sort_unstable();
            biapy.dedup();
            assert_eq!(biapy.len(), renames.len(), "{yaml}: no two tensors share a name");
            let listed = net.biapy_state_dict_names().len();
            let buffers = renames.iter().filter(|r| r.biapy.contains("running_")).count();
            assert_eq!(renames.len(), listed + buffers, "{yaml}");
        }
        let se = renaming(&model("MODEL: {ARCHITECTURE: seunet, FEATURE_MAPS: [16, 32, 64]}")).unwrap();
        let fc = se.iter().find(|r| r.biapy == "down_path.0.block.0.block.3.excitation.0.weight").expect("SE weight");
        assert!(fc.transposed && fc.burn.ends_with("se.fc1.weight"), "{fc:?}");
    }
}
