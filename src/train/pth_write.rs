//! Writing BiaPy `.pth` checkpoints (spec §8.6): PyTorch's zip format (`torch.save`) holding the
//! dict BiaPy's workflow loads with `MODEL.LOAD_CHECKPOINT` — `model` (the state dict with
//! BiaPy's names), `cfg` (the resolved config as plain nested dicts), `model_build_kwargs` (BiaPy's
//! constructor arguments), `epoch` and `biapy_version` — or a bare state dict (what a BioImage
//! Model Zoo package's `pytorch_state_dict` weights are). Only networks whose tensors all carry
//! BiaPy's names are written (all four today): any other file would not load into BiaPy's class.

use std::io::Write;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use zip::write::SimpleFileOptions;

use super::error::WeightsError;
use super::pickle::{PyValue, StorageType, TensorRef, dumps};
use super::weights;
use crate::config::Config;
use crate::model::SegModel;

/// The BiaPy release whose checkpoint layout and constructors segsweep follows.
pub const BIAPY_VERSION: &str = "3.7.1";

/// The folder every record of the archive lives in (`torch.save` names it after the file; any
/// name loads).
const ARCHIVE: &str = "archive";

/// What goes into the file.
pub enum Contents<'a> {
    /// BiaPy's checkpoint dict, with the config the model was built from.
    Checkpoint { config: &'a Config, epoch: PyValue },
    /// The state dict alone (`torch.save(model.state_dict())`).
    StateDict,
}

/// The bytes of a `.pth` file with `model`'s weights.
pub fn to_bytes(model: &SegModel, contents: Contents<'_>) -> Result<Vec<u8>, WeightsError> {
    let safetensors = weights::to_bytes(model)?;
    let tensors = SafeTensors::deserialize(&safetensors)?;
    let (_, metadata) = SafeTensors::read_metadata(&safetensors)?;
    let biapy_names = metadata.metadata().as_ref().and_then(|m| m.get("names")).is_some_and(|n| n == "biapy");
    if !biapy_names {
        return Err(WeightsError::Unsupported(
            "some of this network's tensors have no BiaPy state-dict name, so BiaPy's class could not \
             load a .pth of it; write .safetensors instead",
        ));
    }
    let mut records = Vec::new();
    let mut state_dict = Vec::new();
    let mut names: Vec<&str> = tensors.names();
    // The order BiaPy's own state dict has is the model's module order, which the names' order
    // in `biapy_state_dict_names` gives; buffers follow their layer's parameters.
    let order = module_order(model);
    names.sort_by_key(|name| order.iter().position(|n| n == name).unwrap_or(usize::MAX));
    for name in names {
        let view = tensors.tensor(name).map_err(|source| WeightsError::Tensor { name: name.to_string(), source })?;
        let storage = match view.dtype() {
            Dtype::F32 => StorageType::Float,
            Dtype::I64 => StorageType::Long,
            _ => return Err(WeightsError::Unsupported("only f32 and i64 tensors can be written to .pth")),
        };
        let key = records.len().to_string();
        records.push((key.clone(), view.data().to_vec()));
        state_dict.push((name.to_string(), PyValue::Tensor(TensorRef { key, storage, shape: view.shape().to_vec() })));
    }
    let state_dict = PyValue::OrderedDict(state_dict);
    let root = match contents {
        Contents::StateDict => state_dict,
        Contents::Checkpoint { config, epoch } => {
            let cfg = serde_json::to_value(config)?;
            let str_key = |k: &str| PyValue::Str(k.to_string());
            PyValue::Dict(vec![
                (str_key("model_build_kwargs"), PyValue::from_json(&model_build_kwargs(config))),
                (str_key("model"), state_dict),
                (str_key("optimizer"), PyValue::List(Vec::new())),
                (str_key("epoch"), epoch),
                (str_key("cfg"), PyValue::from_json(&cfg)),
                (str_key("biapy_version"), PyValue::Str(BIAPY_VERSION.to_string())),
            ])
        }
    };
    archive(&dumps(&root), &records).map_err(|e| WeightsError::store("cannot write the zip archive", e))
}

/// Writes `model` to `path` as a `.pth` file, atomically.
pub fn write(path: &Path, model: &SegModel, contents: Contents<'_>) -> Result<(), WeightsError> {
    let bytes = to_bytes(model, contents)?;
    crate::atomic::write(path, bytes).map_err(WeightsError::Io)
}

/// BiaPy's names in its state dict's order: parameters as `biapy_state_dict_names` lists them,
/// each norm's running statistics right after its bias.
fn module_order(model: &SegModel) -> Vec<String> {
    let mut order = Vec::new();
    for (name, _, _) in model.biapy_state_dict_names() {
        let buffers = name
            .strip_suffix(".bias")
            .map(|layer| ["running_mean", "running_var", "num_batches_tracked"].map(|b| format!("{layer}.{b}")));
        order.push(name);
        order.extend(buffers.into_iter().flatten());
    }
    order
}

/// The constructor arguments BiaPy's `build_model` passes to the U-Net family's classes for a
/// semantic-segmentation run (`biapy/models/__init__.py`), as JSON.
pub fn model_build_kwargs(config: &Config) -> serde_json::Value {
    let model = &config.model;
    let n_classes = config.data.n_classes;
    let out_channels = if n_classes <= 2 { 1 } else { n_classes };
    let head = if n_classes > 2 { "ce_softmax" } else { "ce_sigmoid" };
    // `build_model`'s arguments for MultiResUnet, which takes no other model key.
    if model.architecture == "multiresunet" {
        let ndim = if config.problem.ndim == crate::config::Ndim::D3 { 3 } else { 2 };
        return serde_json::json!({
            "input_channels": config.data.patch_size.last(),
            "ndim": ndim,
            "alpha": crate::model::multiresunet::ALPHA,
            "z_down": model.z_down,
            "output_channels": [out_channels],
            "explicit_activations": false,
        });
    }
    // `build_stunet`'s arguments (`build_model`'s STU-Net branch); `pretrained` is off: the
    // weights are in the checkpoint.
    if model.architecture == "stunet" {
        let stunet = &model.stunet;
        let mut kwargs = serde_json::json!({
            "variant": json(&stunet.variant),
            "image_shape": config.data.patch_size,
            "output_channels": [out_channels],
            "output_channel_info": ["pred0"],
            "explicit_activations": false,
            "head_activations": vec![head; out_channels],
            "deep_supervision": false,
            "return_one_tensor": false,
            "pretrained": false,
        });
        if stunet.variant == crate::config::StunetVariant::Custom {
            kwargs["depth"] = serde_json::json!(stunet.depth);
            kwargs["dims"] = serde_json::json!(stunet.dims);
            kwargs["pool_op_kernel_sizes"] = serde_json::json!(stunet.pool_op_kernel_sizes);
            kwargs["conv_kernel_sizes"] = serde_json::json!(stunet.conv_kernel_sizes);
        }
        return kwargs;
    }
    // `HighResolutionNet`: the preset's topology dict as `build_model` writes it (after
    // `check_configuration` set `HRNET.Z_DOWN` to 1s and `YX_DOWN` to 2s).
    if model.architecture == "hrnet" {
        let w: usize = model.hrnet.variant.trim_start_matches(['W', 'w']).parse().unwrap_or(18);
        let branches = [2usize, 3, 4];
        return serde_json::json!({
            "cfg": {
                "Z_DOWN": [1, 1, 1],
                "YX_DOWN": [2, 2, 2],
                "BLOCK_TYPE": "BASIC",
                "NUM_STAGES": 3,
                "NUM_MODULES": crate::model::hrnet::MODULES,
                "NUM_BRANCHES": branches,
                "NUM_BLOCKS": branches.map(|b| vec![crate::model::hrnet::BLOCKS; b]),
                "NUM_CHANNELS": branches.map(|b| (0..b).map(|i| w << i).collect::<Vec<_>>()),
            },
            "image_shape": config.data.patch_size,
            "normalization": json(&model.normalization),
            "output_channels": [out_channels],
            "contrast": config.loss.contrast.enable,
            "contrast_proj_dim": config.loss.contrast.proj_dim,
            "head_type": model.hrnet.head_type,
            "head_activations": vec![head; out_channels],
            "output_channel_info": ["pred0"],
            "explicit_activations": false,
            "activation": json(&model.activation),
            "return_one_tensor": false,
        });
    }
    // `UNETR`: the ViT keys, the decoder's activation and norm, one dropout value.
    if model.architecture == "unetr" {
        return serde_json::json!({
            "input_shape": config.data.patch_size,
            "patch_size": model.vit_token_size,
            "embed_dim": model.vit_embed_dim,
            "depth": model.vit_num_layers,
            "num_heads": model.vit_num_heads,
            "mlp_ratio": model.vit_mlp_ratio,
            "vit_model": model.unetr_vit_model,
            "num_filters": model.unetr_vit_num_filters,
            "output_channels": [out_channels],
            "output_channel_info": ["pred0"],
            "head_activations": vec![head; out_channels],
            "explicit_activations": false,
            "decoder_activation": json(&model.activation),
            "ViT_hidd_mult": model.unetr_vit_hidd_mult,
            "normalization": json(&model.normalization),
            "dropout": model.dropout_values.first().copied().unwrap_or(0.0),
            "k_size": model.kernel_size,
            "contrast": config.loss.contrast.enable,
            "contrast_proj_dim": config.loss.contrast.proj_dim,
            "return_one_tensor": false,
        });
    }
    // `U_NeXt_V1/V2`: `build_model` renames `conv_layers` and drops the keys they do not take.
    if let Some(version) = model.architecture.strip_prefix("unext_") {
        let mut kwargs = serde_json::json!({
            "image_shape": config.data.patch_size,
            "feature_maps": model.feature_maps,
            "upsample_layer": json(&model.upsample_layer),
            "yx_down": model.yx_down,
            "z_down": model.z_down,
            "output_channels": [out_channels],
            "output_channel_info": ["pred0"],
            "head_activations": vec![head; out_channels],
            "explicit_activations": false,
            "separated_decoders": false,
            "divide_decoder_feature_maps": false,
            "stochastic_depth_prob": model.convnext_sd_prob,
            "cn_layers": model.conv_layers,
            "isotropy": model.isotropy,
            "stem_k_size": model.convnext_stem_k_size,
            "contrast": config.loss.contrast.enable,
            "contrast_proj_dim": config.loss.contrast.proj_dim,
            "return_one_tensor": false,
        });
        if version == "v1" {
            kwargs["layer_scale"] = serde_json::json!(model.convnext_layer_scale);
        }
        return kwargs;
    }
    serde_json::json!({
        "image_shape": config.data.patch_size,
        "activation": json(&model.activation),
        "feature_maps": model.feature_maps,
        "drop_values": model.dropout_values,
        "normalization": json(&model.normalization),
        "k_size": model.kernel_size,
        "upsample_layer": json(&model.upsample_layer),
        "yx_down": model.yx_down,
        "z_down": model.z_down,
        "output_channels": [out_channels],
        "output_channel_info": ["pred0"],
        "head_activations": vec![head; out_channels],
        "explicit_activations": false,
        "contrast": config.loss.contrast.enable,
        "contrast_proj_dim": config.loss.contrast.proj_dim,
        "separated_decoders": false,
        "divide_decoder_feature_maps": false,
        "isotropy": model.isotropy,
        "larger_io": model.larger_io,
        "conv_layers": model.conv_layers,
        "conv_block_order": json(&model.conv_block_order),
        "return_one_tensor": false,
    })
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

/// The zip archive `torch.load` reads: `data.pkl`, one record per storage under `data/`,
/// `byteorder` and `version`, stored uncompressed and aligned to 64 bytes as `torch.save` does.
fn archive(pickle: &[u8], records: &[(String, Vec<u8>)]) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .with_alignment(64);
    zip.start_file(format!("{ARCHIVE}/data.pkl"), options)?;
    zip.write_all(pickle)?;
    zip.start_file(format!("{ARCHIVE}/byteorder"), options)?;
    zip.write_all(b"little")?;
    for (key, bytes) in records {
        zip.start_file(format!("{ARCHIVE}/data/{key}"), options)?;
        zip.write_all(bytes)?;
    }
    zip.start_file(format!("{ARCHIVE}/version"), options)?;
    zip.write_all(b"3\n")?;
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelSpec;
    use burn::tensor::Device;

    fn tiny(yaml: &str) -> (Config, SegModel) {
        let config = crate::config::load_str(&format!("TRAIN: {{ENABLE: True}}\n{yaml}"), &[]).expect("config").config;
        let spec = ModelSpec::from_config(&config).expect("spec");
        let model = SegModel::new(&spec, &Device::flex());
        (config, model)
    }

    #[test]
    fn reads_back_with_segsweeps_pth_reader() {
        let (config, model) = tiny("MODEL: {FEATURE_MAPS: [4, 8, 16]}\nDATA: {PATCH_SIZE: [16, 16, 1]}");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.pth");
        write(&path, &model, Contents::Checkpoint { config: &config, epoch: PyValue::Str("best".into()) })
            .expect("written");
        let (_, fresh) = tiny("MODEL: {FEATURE_MAPS: [4, 8, 16]}\nDATA: {PATCH_SIZE: [16, 16, 1]}");
        let loaded = super::super::interop::load(&path, fresh).expect("loads");
        assert_eq!(weights::to_bytes(&loaded).expect("bytes"), weights::to_bytes(&model).expect("bytes"));
    }

    #[test]
    fn records_are_aligned_and_stored() {
        let (_, model) = tiny("MODEL: {FEATURE_MAPS: [4, 8, 16]}\nDATA: {PATCH_SIZE: [16, 16, 1]}");
        let bytes = to_bytes(&model, Contents::StateDict).expect("bytes");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
        let n = zip.len();
        for i in 0..n {
            let file = zip.by_index(i).expect("entry");
            assert_eq!(file.compression(), zip::CompressionMethod::Stored);
            let name = file.name().expect("utf-8 name").to_string();
            if name.contains("/data/") {
                assert_eq!(file.data_start().expect("data offset") % 64, 0, "{name}");
            }
        }
        assert!(zip.by_name("archive/data.pkl").is_ok());
    }

    #[test]
    fn every_architecture_is_written_with_biapys_names() {
        for arch in crate::model::Arch::ALL.map(crate::model::Arch::name) {
            // MultiResUNet ignores the feature maps but always pools four times.
            let (maps, patch) =
                if arch == "multiresunet" { ("[16, 16, 16, 16, 32]", 32) } else { ("[16, 16, 32]", 16) };
            // A small ViT (BiaPy's default has 86 million weights).
            let vit = if arch == "unetr" {
                ", VIT_TOKEN_SIZE: 4, VIT_EMBED_DIM: 8, VIT_NUM_HEADS: 2, VIT_NUM_LAYERS: 2"
            } else {
                ""
            };
            let (_, model) = tiny(&format!(
                "MODEL: {{ARCHITECTURE: {arch}, FEATURE_MAPS: {maps}{vit}}}\nDATA: {{PATCH_SIZE: [{patch}, {patch}, 1]}}"
            ));
            let bytes = to_bytes(&model, Contents::StateDict).expect(arch);
            let zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
            // data.pkl, byteorder, version and one record per BiaPy-named tensor (parameters and
            // batch norm's running statistics; PyTorch fills `num_batches_tracked` in when absent).
            let tensors = crate::model::biapy_names::renaming(&model).expect("BiaPy names").len();
            assert_eq!(zip.len(), 3 + tensors, "{arch}");
        }
    }

    #[test]
    fn build_kwargs_follow_the_class_count() {
        let (config, _) = tiny("DATA: {N_CLASSES: 3}");
        let kwargs = model_build_kwargs(&config);
        assert_eq!(kwargs["output_channels"], serde_json::json!([3]));
        assert_eq!(kwargs["head_activations"], serde_json::json!(["ce_softmax", "ce_softmax", "ce_softmax"]));
        assert_eq!(kwargs["activation"], serde_json::json!("elu"));
        assert_eq!(kwargs["upsample_layer"], serde_json::json!("convtranspose"));
    }
}
