//! D9: checkpoint weights as safetensors with BiaPy's PyTorch state-dict names (spec §7.3), so
//! PyTorch/BiaPy load them as they are and BiaPy-named files load here. The model is written by
//! burn (its own names), then the tensors are renamed with [`crate::model::biapy_names`]; an
//! architecture whose names do not map completely keeps burn's names (the file's metadata says
//! which). Loading renames BiaPy names back to the model's burn paths first.

use std::collections::HashMap;

use burn::store::{ApplyError, ApplyResult, ModuleSnapshot, SafetensorsStore};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::error::WeightsError;
use crate::model::SegModel;
use crate::model::biapy_names::{biapy_name_of, renaming};

/// The model's weights as safetensors bytes with burn's names.
fn burn_bytes(model: &SegModel) -> Result<Vec<u8>, WeightsError> {
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| WeightsError::store("cannot take the network's tensors", e))?;
    store.get_bytes().map_err(|e| WeightsError::store("cannot write the tensors as safetensors", e))
}

/// `tensors` renamed by `map` (name → new name, and whether to transpose the rank-2 tensor),
/// others kept as they are, serialised with `metadata`.
fn renamed(
    tensors: &SafeTensors<'_>,
    map: &HashMap<&str, (&str, bool)>,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>, WeightsError> {
    let mut owned: Vec<OwnedTensor> = Vec::new();
    for (name, view) in tensors.tensors() {
        let (new_name, transpose) = map.get(name.as_str()).map_or((name.as_str(), false), |&(n, t)| (n, t));
        let (mut shape, mut data) = (view.shape().to_vec(), view.data().to_vec());
        if transpose {
            data = transposed(&data, shape[0], shape[1], view.dtype().bitsize() / 8);
            shape.reverse();
        }
        owned.push((new_name.to_string(), view.dtype(), shape, data));
    }
    serialize(&owned, metadata)
}

/// A tensor held in memory: name, element type, shape, little-endian bytes.
pub type OwnedTensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// `tensors` as safetensors bytes, with `metadata`.
pub fn serialize(tensors: &[OwnedTensor], metadata: Option<HashMap<String, String>>) -> Result<Vec<u8>, WeightsError> {
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            let view = TensorView::new(*dtype, shape.clone(), data)
                .map_err(|source| WeightsError::Tensor { name: name.clone(), source })?;
            Ok((name.clone(), view))
        })
        .collect::<Result<Vec<_>, WeightsError>>()?;
    Ok(safetensors::serialize(views, metadata)?)
}

/// A row-major `rows × cols` matrix of `elem`-byte values, transposed.
fn transposed(data: &[u8], rows: usize, cols: usize, elem: usize) -> Vec<u8> {
    let mut out = vec![0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            let (from, to) = ((r * cols + c) * elem, (c * rows + r) * elem);
            out[to..to + elem].copy_from_slice(&data[from..from + elem]);
        }
    }
    out
}

/// Safetensors bytes of `model` with BiaPy's names where the architecture maps completely.
pub fn to_bytes(model: &SegModel) -> Result<Vec<u8>, WeightsError> {
    let bytes = burn_bytes(model)?;
    let Some(renames) = renaming(model) else { return Ok(bytes) };
    let tensors = SafeTensors::deserialize(&bytes)?;
    let map = renames.iter().map(|r| (r.burn.as_str(), (r.biapy.as_str(), r.transposed))).collect();
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("producer".to_string(), "segsweep".to_string()),
        ("names".to_string(), "biapy".to_string()),
    ]);
    Ok(sorted_header(renamed(&tensors, &map, Some(metadata))?))
}

/// `bytes` with the safetensors JSON header's keys in sorted order, padded with spaces to its
/// old length (so the tensor data does not move). `safetensors` writes the metadata from a
/// `HashMap`, whose order changes from one process to the next; sorted, the same weights give
/// the same file bytes, which the kill-and-resume drill compares (issue 8).
fn sorted_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(len) = bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_le_bytes) else {
        return bytes;
    };
    let Some(end) = usize::try_from(len).ok().and_then(|n| n.checked_add(8)).filter(|&e| e <= bytes.len()) else {
        return bytes;
    };
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&bytes[8..end]) else { return bytes };
    let Ok(sorted) = serde_json::to_vec(&crate::json::sorted(&header)) else { return bytes };
    if sorted.len() <= end - 8 {
        bytes[8..8 + sorted.len()].copy_from_slice(&sorted);
        bytes[8 + sorted.len()..end].fill(b' ');
    }
    bytes
}

/// `bytes` with BiaPy names turned back into `model`'s burn paths (unchanged when the file
/// already has burn's names).
pub fn to_burn_names(bytes: Vec<u8>, model: &SegModel) -> Result<Vec<u8>, WeightsError> {
    let Some(renames) = renaming(model) else { return Ok(bytes) };
    let back: HashMap<&str, (&str, bool)> =
        renames.iter().map(|r| (r.biapy.as_str(), (r.burn.as_str(), r.transposed))).collect();
    let tensors = SafeTensors::deserialize(&bytes)?;
    if !tensors.names().iter().any(|n| back.contains_key(n)) {
        return Ok(bytes);
    }
    renamed(&tensors, &back, None)
}

/// Loads safetensors `bytes` (BiaPy or burn names) into `model`'s store form. Validation is
/// left to [`load`], whose messages use the file's names.
pub fn store_for(bytes: Vec<u8>, model: &SegModel) -> Result<SafetensorsStore, WeightsError> {
    Ok(SafetensorsStore::from_bytes(Some(to_burn_names(bytes, model)?)).validate(false))
}

/// Loads safetensors `bytes` (BiaPy or burn names) into `model`; see [`check`] for the errors.
pub fn load(bytes: Vec<u8>, model: SegModel) -> Result<SegModel, WeightsError> {
    load_with(bytes, model, false).map(|(model, _)| model)
}

/// [`load`], or with `skip_unmatched` (`MODEL.SKIP_UNMATCHED_LAYERS`) BiaPy's non-strict load:
/// every tensor whose name and shape fit is loaded, the others are skipped and listed (the
/// second value) and the model's own values stay where the file has none.
pub fn load_with(
    bytes: Vec<u8>,
    mut model: SegModel,
    skip_unmatched: bool,
) -> Result<(SegModel, Vec<String>), WeightsError> {
    let names = has_biapy_names(&bytes, &model)?.then(|| biapy_name_of(&model));
    let mut store = store_for(bytes, &model)?;
    let result = model.load_from(&mut store).map_err(|e| WeightsError::store("cannot read the tensors", e))?;
    if skip_unmatched {
        return Ok((model, skipped(&result, names.as_ref())));
    }
    check(&result, names.as_ref())?;
    Ok((model, Vec::new()))
}

/// BiaPy's lines for the tensors a non-strict load skipped, named as in the file.
pub fn skipped(result: &ApplyResult, biapy_names: Option<&HashMap<String, String>>) -> Vec<String> {
    let shown = |path: &str| biapy_names.and_then(|names| names.get(path)).cloned().unwrap_or_else(|| path.to_string());
    let mut lines: Vec<String> = result
        .errors
        .iter()
        .map(|error| match error {
            ApplyError::ShapeMismatch { path, expected, found } => format!(
                "Skipping layer '{}' due to shape mismatch: checkpoint {:?} vs model {:?}",
                shown(path),
                found.as_slice(),
                expected.as_slice()
            ),
            other => format!("Skipping a layer: {other}"),
        })
        .collect();
    lines.extend(result.unused.iter().map(|name| format!("Skipping unexpected layer '{name}' not found in model.")));
    lines
}

/// One message for what went wrong loading a file: the first tensor of the wrong shape, named as
/// in the file (BiaPy's name, from `biapy_names`, when the file has those) with both shapes, or
/// else the first missing tensor; with how many more there are.
pub fn check(result: &ApplyResult, biapy_names: Option<&HashMap<String, String>>) -> Result<(), WeightsError> {
    let shown = |path: &str| biapy_names.and_then(|names| names.get(path)).cloned().unwrap_or_else(|| path.to_string());
    let more = |n: usize, what: &str| if n > 1 { format!(" and {} more {what}", n - 1) } else { String::new() };
    if let Some(error) = result.errors.first() {
        let message = match error {
            ApplyError::ShapeMismatch { path, expected, found } => format!(
                "tensor `{}` has shape {:?} in the file but the model needs {:?}",
                shown(path),
                found.as_slice(),
                expected.as_slice()
            ),
            other => other.to_string(),
        };
        return Err(WeightsError::Mismatch(format!(
            "{message}{} (is it a checkpoint of another architecture or class count?)",
            more(result.errors.len(), "mismatches")
        )));
    }
    if let Some((missing, _)) = result.missing.first() {
        return Err(WeightsError::Mismatch(format!(
            "tensor `{}` is missing{} (is it a checkpoint of another architecture?)",
            shown(missing),
            more(result.missing.len(), "missing tensors")
        )));
    }
    Ok(())
}

/// Whether the tensors in `bytes` carry BiaPy's names for `model` (rather than burn's paths).
fn has_biapy_names(bytes: &[u8], model: &SegModel) -> Result<bool, WeightsError> {
    let tensors = SafeTensors::deserialize(bytes)?;
    let expected: Vec<String> = model.biapy_state_dict_names().into_iter().map(|(name, _, _)| name).collect();
    Ok(tensors.names().iter().any(|n| expected.iter().any(|e| e == *n)))
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use burn::store::ModuleSnapshot;

    use super::*;
    use crate::config::load_str;
    use crate::model::ModelSpec;

    fn model(seed: u64) -> SegModel {
        model_of("TRAIN: {ENABLE: True}", seed)
    }

    fn model_of(yaml: &str, seed: u64) -> SegModel {
        let config = load_str(yaml, &[]).unwrap().config;
        let device = Device::flex();
        device.seed(seed);
        SegModel::try_new(&ModelSpec::from_config(&config).unwrap(), &device).unwrap()
    }

    /// The default 2D and 3D U-Nets, exported, against the committed listing of BiaPy's state dict
    /// for the same configuration (`snapshots/biapy_state_dict_{2d,3d}.snap`, spec §7.3): every
    /// name with its PyTorch shape, in BiaPy's module order, and the parameter total.
    #[test]
    fn default_unets_are_written_in_biapys_layout() {
        let cases =
            [("2d", "", 1_944_241), ("3d", "PROBLEM: {NDIM: 3D}\nDATA: {PATCH_SIZE: '(32, 64, 64, 1)'}", 5_648_337)];
        for (ndim, yaml, total) in cases {
            let unet = model_of(&format!("TRAIN: {{ENABLE: True}}\n{yaml}"), 1);
            let bytes = to_bytes(&unet).unwrap();
            let tensors = SafeTensors::deserialize(&bytes).unwrap();
            let written: HashMap<String, Vec<usize>> =
                tensors.tensors().into_iter().map(|(name, view)| (name, view.shape().to_vec())).collect();
            let order = unet.biapy_state_dict_names();
            assert_eq!(written.len(), order.len(), "{ndim}: one tensor per BiaPy name, nothing else");
            let mut listing = String::new();
            let mut sum = 0;
            for (name, _, _) in &order {
                let shape = &written[name];
                sum += shape.iter().product::<usize>();
                listing += &format!("{name} {shape:?}\n");
            }
            listing += &format!("total {sum}\n");
            assert_eq!(sum, total, "{ndim}: the parameters add up to BiaPy's count");
            insta::with_settings!({
                snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"),
                prepend_module_to_snapshot => false,
            }, {
                insta::assert_snapshot!(format!("biapy_state_dict_{ndim}"), listing);
            });
        }
    }

    /// The header is sorted, so equal weights give equal bytes in every process.
    #[test]
    fn header_is_sorted() {
        let bytes = to_bytes(&model_of("TRAIN: {ENABLE: True}", 1)).unwrap();
        let header = String::from_utf8_lossy(&bytes[8..400]);
        assert!(header.contains(r#""__metadata__":{"format":"pt","names":"biapy","producer":"segsweep"}"#), "{header}");
    }

    #[test]
    fn a_non_strict_load_takes_what_fits_and_lists_the_rest() {
        let binary = model_of("TRAIN: {ENABLE: True}\nMODEL: {FEATURE_MAPS: [4, 8, 16]}", 1);
        let three = model_of("TRAIN: {ENABLE: True}\nMODEL: {FEATURE_MAPS: [4, 8, 16]}\nDATA: {N_CLASSES: 3}", 2);
        let head_before = three_head(&three);
        let bytes = to_bytes(&binary).unwrap();
        assert!(load(bytes.clone(), three.clone()).is_err(), "strict by default");
        let (loaded, skipped) = load_with(bytes, three, true).unwrap();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].starts_with("Skipping layer 'heads.0."), "{skipped:?}");
        let SegModel::Unet(a) = &loaded else { panic!("a U-Net") };
        let SegModel::Unet(b) = &binary else { panic!("a U-Net") };
        let weight = |net: &crate::model::UNet| match &net.down_path[0].block[0].conv {
            crate::model::layers::ConvNd::D2(c) => c.weight.val().into_data(),
            crate::model::layers::ConvNd::D3(c) => c.weight.val().into_data(),
        };
        assert_eq!(weight(a), weight(b), "the encoder comes from the file");
        assert_eq!(three_head(&loaded), head_before, "the head keeps its own initial values");
    }

    fn three_head(model: &SegModel) -> TensorData {
        let SegModel::Unet(net) = model else { panic!("a U-Net") };
        match &net.heads[0] {
            crate::model::layers::ConvNd::D2(c) => c.weight.val().into_data(),
            crate::model::layers::ConvNd::D3(c) => c.weight.val().into_data(),
        }
    }

    #[test]
    fn import_of_export_reproduces_the_predictions() {
        let original = model(1);
        let bytes = to_bytes(&original).unwrap();
        let mut copy = model(2);
        let mut store = store_for(bytes, &copy).unwrap();
        let result = copy.load_from(&mut store).unwrap();
        assert!(result.errors.is_empty() && result.missing.is_empty(), "{:?}", result.missing);
        let device = Device::flex();
        let x = Tensor::<4>::random([1, 1, 32, 32], burn::tensor::Distribution::Default, &device);
        let a = original.forward2d(x.clone()).unwrap().into_data();
        let b = copy.forward2d(x).unwrap().into_data();
        a.assert_approx_eq::<f32>(&b, burn::tensor::Tolerance::default());
    }
}
