//! Reading BiaPy `.pth` checkpoints (spec §8.6) with burn-store's PyTorch reader: the model's
//! state dict becomes safetensors bytes with the same (BiaPy) names, which [`super::weights`]
//! maps to burn's paths like any BiaPy-named safetensors file. BiaPy's `torch.save` dict keeps the
//! state dict under `model`; other PyTorch habits (`model_state_dict`, `state_dict`, a bare state
//! dict) are accepted too. Reading only: segsweep never writes `.pth` (its safetensors load in
//! PyTorch with `safetensors.torch.load_file`).

use std::path::Path;

use burn::store::pytorch_reader::PytorchError;
use burn::store::{ModuleStore, PytorchStore, PytorchStoreError};
use burn::tensor::DType;
use safetensors::Dtype;

use super::error::WeightsError;
use super::weights::OwnedTensor;

/// Where a checkpoint dict may keep the model's state dict, in the order tried (BiaPy's first).
pub const STATE_DICT_KEYS: &[&str] = &["model", "model_state_dict", "state_dict"];

/// Whether `path` names a PyTorch checkpoint (`.pth` or `.pt`).
pub fn is_pytorch(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "pth" || ext == "pt")
}

/// The state dict of the PyTorch checkpoint at `path` as safetensors bytes (names unchanged).
pub fn to_safetensors(path: &Path) -> Result<Vec<u8>, WeightsError> {
    let tensors = match state_dict(path) {
        Err(PytorchStoreError::Reader(PytorchError::Pickle(first))) => {
            // burn's reader refuses dict subclasses such as BiaPy's `cfg`; retry on a copy that
            // has them as plain dicts. Either failure reports the reader's first complaint.
            let unreadable = || WeightsError::Pytorch(format!("PyTorch reader error: pickle: {first}").into());
            let copy = super::pth_patch::patched_copy(path).map_err(|_| unreadable())?;
            let read = state_dict(&copy);
            let _ = std::fs::remove_file(&copy);
            read.map_err(|_| unreadable())?
        }
        other => other.map_err(|e| WeightsError::Pytorch(e.into()))?,
    };
    if tensors.is_empty() {
        return Err(WeightsError::NoTensors(STATE_DICT_KEYS.join(", ")));
    }
    super::weights::serialize(&tensors, None)
}

/// The config a PyTorch checkpoint carries under `cfg` (BiaPy's, or one segsweep wrote) as
/// JSON; `None` when it has none. Values the reader cannot represent become `null`.
pub fn saved_config(path: &Path) -> Result<Option<serde_json::Value>, WeightsError> {
    use burn::store::pytorch_reader::{PickleValue, PytorchReader};
    fn json(value: PickleValue) -> serde_json::Value {
        match value {
            PickleValue::Bool(b) => b.into(),
            PickleValue::Int(i) => i.into(),
            PickleValue::Float(f) => serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into),
            PickleValue::String(s) => s.into(),
            PickleValue::List(items) => items.into_iter().map(json).collect(),
            PickleValue::Dict(map) => map.into_iter().map(|(k, v)| (k, json(v))).collect(),
            _ => serde_json::Value::Null,
        }
    }
    let read = |p: &Path| PytorchReader::read_pickle_data(p, Some("cfg"));
    let value = match read(path) {
        Ok(value) => value,
        Err(PytorchError::KeyNotFound(_)) => return Ok(None),
        Err(PytorchError::Pickle(first)) => {
            // BiaPy's `cfg` is a dict subclass the reader refuses: read a copy with plain dicts.
            let unreadable = || WeightsError::Pytorch(format!("PyTorch reader error: pickle: {first}").into());
            let copy = super::pth_patch::patched_copy(path).map_err(|_| unreadable())?;
            let value = read(&copy);
            let _ = std::fs::remove_file(&copy);
            match value {
                Ok(value) => value,
                Err(PytorchError::KeyNotFound(_)) => return Ok(None),
                Err(_) => return Err(unreadable()),
            }
        }
        Err(e) => return Err(WeightsError::Pytorch(e.into())),
    };
    Ok(Some(json(value)).filter(serde_json::Value::is_object))
}

/// The tensors under the first of [`STATE_DICT_KEYS`] the file has, else all of its tensors.
fn state_dict(path: &Path) -> Result<Vec<OwnedTensor>, PytorchStoreError> {
    for key in STATE_DICT_KEYS {
        match read(PytorchStore::from_file(path).with_top_level_key(*key)) {
            Ok(found) if !found.is_empty() => return Ok(found),
            Ok(_) | Err(PytorchStoreError::Reader(PytorchError::KeyNotFound(_))) => {}
            Err(e) => return Err(e),
        }
    }
    read(PytorchStore::from_file(path))
}

/// Every tensor `store` finds, with its bytes read. Names keep the file's order-independent
/// BiaPy form: no index renumbering.
fn read(store: PytorchStore) -> Result<Vec<OwnedTensor>, PytorchStoreError> {
    let mut store = store.map_indices_contiguous(false);
    let mut raw = Vec::new();
    for (name, tensor) in store.get_all_tensors()? {
        let dtype = safetensors_dtype(tensor.dtype).ok_or_else(|| {
            PytorchStoreError::Other(format!("tensor `{name}` has element type {:?}, not a number", tensor.dtype))
        })?;
        let bytes = tensor.to_bytes().map_err(|e| PytorchStoreError::Other(format!("tensor `{name}`: {e}")))?;
        raw.push((name.clone(), dtype, tensor.shape.to_vec(), bytes.to_vec()));
    }
    Ok(raw)
}

fn safetensors_dtype(dtype: DType) -> Option<Dtype> {
    Some(match dtype {
        DType::F64 => Dtype::F64,
        DType::F32 | DType::Flex32 => Dtype::F32,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::I64 => Dtype::I64,
        DType::I32 => Dtype::I32,
        DType::I16 => Dtype::I16,
        DType::I8 => Dtype::I8,
        DType::U64 => Dtype::U64,
        DType::U32 => Dtype::U32,
        DType::U16 => Dtype::U16,
        DType::U8 => Dtype::U8,
        DType::Bool(_) | DType::QFloat(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use burn::prelude::*;

    use super::*;
    use crate::model::{ModelSpec, SegModel};
    use crate::train::interop;

    /// `tests/fixtures/biapy/<name>`: a tiny U-Net's weights as segsweep wrote them
    /// (`tiny_unet.safetensors`) and as BiaPy's `torch.save` dict (`tiny_unet.pth`, made from it
    /// by `make_pth.py`).
    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/biapy").join(name)
    }

    fn tiny_model(overrides: &[&str], seed: u64) -> SegModel {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        let config = crate::config::load(&fixture("tiny_unet.yaml"), &overrides).unwrap().config;
        let device = Device::flex();
        device.seed(seed);
        SegModel::try_new(&ModelSpec::from_config(&config).unwrap(), &device).unwrap()
    }

    #[test]
    fn a_biapy_pth_predicts_what_its_safetensors_predicts() {
        let from_pth = interop::load(&fixture("tiny_unet.pth"), tiny_model(&[], 1)).unwrap();
        let from_safetensors = interop::load(&fixture("tiny_unet.safetensors"), tiny_model(&[], 2)).unwrap();
        let untouched = tiny_model(&[], 3);
        let x = Tensor::<4>::random([2, 1, 32, 32], burn::tensor::Distribution::Default, &Device::flex());
        let a = from_pth.forward2d(x.clone()).unwrap().into_data();
        let b = from_safetensors.forward2d(x.clone()).unwrap().into_data();
        assert_eq!(a, b, "the same weights give bit-identical logits");
        assert_ne!(a, untouched.forward2d(x).unwrap().into_data(), "the weights were really loaded");
    }

    #[test]
    fn the_state_dict_is_read_under_biapys_key_with_biapys_names() {
        let bytes = to_safetensors(&fixture("tiny_unet.pth")).unwrap();
        let from_pth = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let original = std::fs::read(fixture("tiny_unet.safetensors")).unwrap();
        let original = safetensors::SafeTensors::deserialize(&original).unwrap();
        let mut names = from_pth.names();
        names.sort();
        let mut expected = original.names();
        expected.sort();
        assert_eq!(names, expected);
        for name in names {
            assert_eq!(from_pth.tensor(name).unwrap(), original.tensor(name).unwrap(), "{name}");
        }
    }

    #[test]
    fn a_mismatch_names_the_tensor_and_both_shapes() {
        let model = tiny_model(&["MODEL.FEATURE_MAPS=[8, 16, 32]"], 1);
        let message =
            format!("{:#}", anyhow::Error::from(interop::load(&fixture("tiny_unet.pth"), model).unwrap_err()));
        assert!(message.contains("tiny_unet.pth"), "{message}");
        assert!(message.contains("`down_path.0.block.0.block.0.weight`"), "{message}");
        assert!(message.contains("[4, 1, 3, 3]") && message.contains("[8, 1, 3, 3]"), "{message}");
    }

    #[test]
    fn a_file_that_is_not_a_checkpoint_is_one_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.pth");
        std::fs::write(&path, b"not a zip, not a pickle").unwrap();
        let message = format!("{:#}", anyhow::Error::from(interop::load(&path, tiny_model(&[], 1)).unwrap_err()));
        assert!(message.starts_with(&format!("checkpoint `{}`: not a readable PyTorch checkpoint", path.display())));
    }
}
