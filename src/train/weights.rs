//! D9: checkpoint weights as safetensors with BiaPy's PyTorch state-dict names (spec §7.3), so
//! PyTorch/BiaPy load them as they are and BiaPy-named files load here. The model is written by
//! burn (its own names), then the tensors are renamed with [`crate::model::biapy_names`]; an
//! architecture whose names do not map completely keeps burn's names (the file's metadata says
//! which). Loading renames BiaPy names back to the model's burn paths first.

use std::collections::HashMap;

use burn::store::{ModuleSnapshot, SafetensorsStore};
use safetensors::SafeTensors;

use crate::model::SegModel;
use crate::model::biapy_names::renaming;

/// The burn → BiaPy renaming of `model`'s tensors, when it maps completely.
fn model_renaming(model: &SegModel) -> Result<Option<Vec<(String, String)>>, String> {
    let bytes = burn_bytes(model)?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| e.to_string())?;
    let paths: Vec<String> = tensors.names().into_iter().map(str::to_string).collect();
    let expected: Vec<String> = model.biapy_state_dict_names().into_iter().map(|(name, _)| name).collect();
    Ok(renaming(&paths, &expected))
}

/// The model's weights as safetensors bytes with burn's names.
fn burn_bytes(model: &SegModel) -> Result<Vec<u8>, String> {
    let mut store = SafetensorsStore::from_bytes(None);
    model.save_into(&mut store).map_err(|e| e.to_string())?;
    store.get_bytes().map_err(|e| e.to_string())
}

/// Safetensors bytes of `model` with BiaPy's names where the architecture maps completely.
pub fn to_bytes(model: &SegModel) -> Result<Vec<u8>, String> {
    let bytes = burn_bytes(model)?;
    let Some(pairs) = model_renaming(model)? else { return Ok(bytes) };
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| e.to_string())?;
    let rename: HashMap<&str, &str> = pairs.iter().map(|(b, p)| (b.as_str(), p.as_str())).collect();
    let renamed: Vec<(String, _)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| (rename.get(name.as_str()).map_or(name.clone(), |n| n.to_string()), view))
        .collect();
    let metadata = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("producer".to_string(), "segsweep".to_string()),
        ("names".to_string(), "biapy".to_string()),
    ]);
    let bytes = safetensors::serialize(renamed, Some(metadata)).map_err(|e| e.to_string())?;
    Ok(sorted_header(bytes))
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
    let Ok(sorted) = serde_json::to_vec(&header) else { return bytes };
    if sorted.len() <= end - 8 {
        bytes[8..8 + sorted.len()].copy_from_slice(&sorted);
        bytes[8 + sorted.len()..end].fill(b' ');
    }
    bytes
}

/// `bytes` with BiaPy names turned back into `model`'s burn paths (unchanged when the file
/// already has burn's names).
pub fn to_burn_names(bytes: Vec<u8>, model: &SegModel) -> Result<Vec<u8>, String> {
    let Some(pairs) = model_renaming(model)? else { return Ok(bytes) };
    let back: HashMap<&str, &str> = pairs.iter().map(|(b, p)| (p.as_str(), b.as_str())).collect();
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| e.to_string())?;
    if !tensors.names().iter().any(|n| back.contains_key(n)) {
        return Ok(bytes);
    }
    let renamed: Vec<(String, _)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| (back.get(name.as_str()).map_or(name.clone(), |n| n.to_string()), view))
        .collect();
    safetensors::serialize(renamed, None).map_err(|e| e.to_string())
}

/// Loads safetensors `bytes` (BiaPy or burn names) into `model`'s store form.
pub fn store_for(bytes: Vec<u8>, model: &SegModel) -> Result<SafetensorsStore, String> {
    Ok(SafetensorsStore::from_bytes(Some(to_burn_names(bytes, model)?)).validate(true))
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;
    use burn::store::ModuleSnapshot;

    use super::*;
    use crate::config::load_str;
    use crate::model::ModelSpec;

    fn model(seed: u64) -> SegModel {
        let config = load_str("TRAIN: {ENABLE: True}", &[]).unwrap().config;
        let device = Device::flex();
        device.seed(seed);
        SegModel::try_new(&ModelSpec::from_config(&config).unwrap(), &device).unwrap()
    }

    #[test]
    fn default_unet_is_written_with_biapy_names_and_shapes() {
        let unet = model(1);
        let bytes = to_bytes(&unet).unwrap();
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        let mut written: Vec<(String, Vec<usize>)> =
            tensors.tensors().into_iter().map(|(name, view)| (name, view.shape().to_vec())).collect();
        let mut expected = unet.biapy_state_dict_names();
        written.sort();
        expected.sort();
        assert_eq!(written, expected);
        assert_eq!(written.iter().map(|(_, s)| s.iter().product::<usize>()).sum::<usize>(), 1_944_241);
        assert!(written.iter().any(|(n, s)| n == "up_paths.0.0.up.0.weight" && s == &vec![256, 128, 2, 2]));
        // The header is sorted, so equal weights give equal bytes in every process.
        let header = String::from_utf8_lossy(&bytes[8..400]);
        assert!(header.contains(r#""__metadata__":{"format":"pt","names":"biapy","producer":"segsweep"}"#), "{header}");
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
