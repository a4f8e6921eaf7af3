//! The package's `rdf.yaml` (bioimage.io model description, format 0.5): axes, the input's
//! pre-processing (segsweep's normalisation as bioimage.io's processing steps), the output's
//! post-processing (sigmoid or softmax), test tensors, weights and the `MODEL.BMZ.EXPORT.*`
//! metadata. Pure: it describes files, it writes none.

use serde_json::{Value, json};

use crate::config::{BmzExport, Config, Ndim, NormalizationType};
use crate::data::normalize::NormStats;

/// The format version written: the 0.5 release every current consumer reads.
pub const FORMAT_VERSION: &str = "0.5.4";

/// A file of the package with its sha256.
pub struct FileRef {
    pub name: String,
    pub sha256: String,
}

/// PyTorch weights with BiaPy's class, where the architecture has one.
pub struct TorchWeights {
    pub file: FileRef,
    /// `(import_from, callable)`, e.g. `("biapy.models.unet", "U_Net")`.
    pub class: (&'static str, &'static str),
    pub kwargs: Value,
}

/// Everything the description names.
pub struct Description<'a> {
    pub config: &'a Config,
    pub export: &'a BmzExport,
    pub in_channels: usize,
    pub out_channels: usize,
    /// Product of the pooling factors `(z, y, x)`: valid sizes are multiples of it.
    pub size_step: [usize; 3],
    /// The only valid size `(z, y, x)` of a network built for one input size (`unetr`).
    pub fixed_size: Option<[usize; 3]>,
    pub test_input: FileRef,
    pub test_output: FileRef,
    pub cover: String,
    pub documentation: String,
    pub onnx: FileRef,
    pub torch: Option<TorchWeights>,
    /// The statistics segsweep computed on the test input (for the constant gains of `div`).
    pub stats: &'a NormStats,
}

/// The spatial axis ids of a `PROBLEM.NDIM`.
pub fn spatial_axes(ndim: Ndim) -> &'static [&'static str] {
    match ndim {
        Ndim::D2 => &["y", "x"],
        Ndim::D3 => &["z", "y", "x"],
    }
}

/// The description as JSON (YAML's data model), keys in bioimage.io's usual order.
pub fn describe(d: &Description<'_>) -> Result<Value, String> {
    let export = d.export;
    let ndim = d.config.problem.ndim;
    let axes = spatial_axes(ndim);
    let step_of = |axis: &str| match axis {
        "z" => d.size_step[0],
        "y" => d.size_step[1],
        _ => d.size_step[2],
    };
    let channel_names = |n: usize| (0..n).map(|i| format!("channel{i}")).collect::<Vec<_>>();
    let mut input_axes =
        vec![json!({"type": "batch"}), json!({"type": "channel", "channel_names": channel_names(d.in_channels)})];
    // The smallest input leaves at least 2 voxels per axis at the bottleneck: instance norm
    // (BiaPy's default) has no statistics of a single voxel, and PyTorch refuses it.
    let fixed_of = |axis: &str| {
        d.fixed_size.map(|f| match axis {
            "z" => f[0],
            "y" => f[1],
            _ => f[2],
        })
    };
    input_axes.extend(axes.iter().map(|a| match fixed_of(a) {
        Some(size) => json!({"type": "space", "id": a, "size": size}),
        None => json!({"type": "space", "id": a, "size": {"min": 2 * step_of(a), "step": step_of(a)}}),
    }));
    let mut output_axes =
        vec![json!({"type": "batch"}), json!({"type": "channel", "channel_names": channel_names(d.out_channels)})];
    output_axes
        .extend(axes.iter().map(|a| json!({"type": "space", "id": a, "size": {"tensor_id": "input0", "axis_id": a}})));
    let postprocessing = if d.out_channels == 1 {
        json!([{"id": "sigmoid"}])
    } else {
        json!([{"id": "softmax", "kwargs": {"axis": "channel"}}])
    };
    let mut tags: Vec<String> = export.tags.clone();
    let architecture = d.config.model.architecture.replace('_', "-");
    for tag in [ndim_tag(ndim), "semantic-segmentation", "segsweep", architecture.as_str()] {
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_string());
        }
    }
    let mut cite: Vec<Value> = export.cite.iter().map(|c| serde_json::to_value(c).unwrap_or(Value::Null)).collect();
    if !export.cite.iter().any(|c| c.text.to_lowercase().contains("biapy")) {
        cite.push(json!({
            "text": "BiaPy: accessible deep learning on bioimages",
            "doi": "10.1038/s41592-025-02699-y",
        }));
    }
    let authors: Vec<Value> = export
        .authors
        .iter()
        .map(|a| {
            let mut author = serde_json::to_value(a).unwrap_or(Value::Null);
            if a.github_user.is_empty() {
                // A package's authors need no GitHub account (a reused package's may have none).
                author.as_object_mut().map(|o| o.remove("github_user"));
            }
            author
        })
        .collect();
    let mut weights = serde_json::Map::new();
    if let Some(torch) = &d.torch {
        weights.insert(
            "pytorch_state_dict".into(),
            json!({
                "source": torch.file.name,
                "sha256": torch.file.sha256,
                "architecture": {"callable": torch.class.1, "import_from": torch.class.0, "kwargs": torch.kwargs},
                "pytorch_version": "2.11",
            }),
        );
    }
    let mut onnx = json!({"source": d.onnx.name, "sha256": d.onnx.sha256, "opset_version": crate::export::onnx::OPSET});
    if d.torch.is_some() {
        onnx["parent"] = json!("pytorch_state_dict");
    }
    weights.insert("onnx".into(), onnx);
    let mut rdf = json!({
        "format_version": FORMAT_VERSION,
        "type": "model",
        "name": export.model_name,
        "description": export.description,
        "version": export.model_version,
        "authors": authors,
        "maintainers": authors,
        "cite": cite,
        "license": export.license,
        "documentation": d.documentation,
        "covers": [d.cover],
        "tags": tags,
        "inputs": [{
            "id": "input0",
            "axes": input_axes,
            "test_tensor": {"source": d.test_input.name, "sha256": d.test_input.sha256},
            "data": {"type": "float32"},
            "preprocessing": preprocessing(d.config, d.stats, axes)?,
        }],
        "outputs": [{
            "id": "output0",
            "axes": output_axes,
            "test_tensor": {"source": d.test_output.name, "sha256": d.test_output.sha256},
            "data": {"type": "float32"},
            "postprocessing": postprocessing,
        }],
        "weights": weights,
        // How segsweep turns the output into masks (a threshold or Otsu for one channel, the most
        // probable class otherwise): recorded, not a processing step, so consumers get
        // probabilities as from BiaPy's packages.
        "config": {"segsweep": {
            "version": env!("CARGO_PKG_VERSION"),
            "architecture": d.config.model.architecture,
            "binarization": d.config.test.binarization,
        }},
    });
    if let Some(id) = export.dataset_info.first().and_then(|info| info.get("dataset_id")) {
        rdf["training_data"] = json!({"id": id});
    }
    Ok(rdf)
}

fn ndim_tag(ndim: Ndim) -> &'static str {
    match ndim {
        Ndim::D2 => "2d",
        Ndim::D3 => "3d",
    }
}

/// segsweep's normalisation (`DATA.NORMALIZATION.*`, spec §3.7) as bioimage.io processing
/// steps, per sample and channel over the spatial `axes`, as segsweep computes it per image.
pub fn preprocessing(config: &Config, stats: &NormStats, axes: &[&str]) -> Result<Value, String> {
    let norm = &config.data.normalization;
    let mut steps = Vec::new();
    let clip = &norm.perc_clip;
    if clip.enable {
        let fixed = |values: &[f64], key: &str| -> Result<Option<f64>, String> {
            match values {
                [] => Ok(None),
                [v] if *v == -1.0 => Ok(None),
                [v] => Ok(Some(*v)),
                _ => Err(format!("`{key}` has one value per channel, which a bioimage.io `clip` step cannot hold")),
            }
        };
        let (lo, hi) = (clip.lower_perc, clip.upper_perc);
        if lo != -1.0 || hi != -1.0 {
            let mut kwargs = json!({"axes": axes});
            if lo != -1.0 {
                kwargs["min_percentile"] = json!(lo);
            }
            if hi != -1.0 {
                kwargs["max_percentile"] = json!(hi);
            }
            steps.push(json!({"id": "clip", "kwargs": kwargs}));
        } else {
            let lower = fixed(&clip.lower_value, "DATA.NORMALIZATION.PERC_CLIP.LOWER_VALUE")?;
            let upper = fixed(&clip.upper_value, "DATA.NORMALIZATION.PERC_CLIP.UPPER_VALUE")?;
            let mut kwargs = json!({});
            if let Some(lower) = lower {
                kwargs["min"] = json!(lower);
            }
            if let Some(upper) = upper {
                kwargs["max"] = json!(upper);
            }
            if lower.is_some() || upper.is_some() {
                steps.push(json!({"id": "clip", "kwargs": kwargs}));
            }
        }
    }
    match norm.r#type {
        NormalizationType::Div => {
            let gains: Vec<f64> = stats.channels.iter().map(|c| 1.0 / c.scale).collect();
            if gains.iter().any(|&g| g != 1.0) {
                let kwargs = if gains.windows(2).all(|w| w[0] == w[1]) {
                    json!({"gain": gains[0], "offset": 0.0})
                } else {
                    json!({"gain": gains, "offset": vec![0.0; gains.len()], "axis": "channel"})
                };
                steps.push(json!({"id": "scale_linear", "kwargs": kwargs}));
            }
        }
        NormalizationType::ScaleRange => {
            steps.push(
                json!({"id": "scale_range", "kwargs": {"axes": axes, "min_percentile": 0.0, "max_percentile": 100.0}}),
            );
        }
        NormalizationType::ZeroMeanUnitVariance => {
            let zm = &norm.zero_mean_unit_var;
            let custom = |v: &[f64]| !v.is_empty() && v[0] != -1.0;
            if custom(&zm.mean_val) && custom(&zm.std_val) {
                let kwargs = if zm.mean_val.len() == 1 && zm.std_val.len() == 1 {
                    json!({"mean": zm.mean_val[0], "std": zm.std_val[0]})
                } else {
                    json!({"mean": zm.mean_val, "std": zm.std_val, "axis": "channel"})
                };
                steps.push(json!({"id": "fixed_zero_mean_unit_variance", "kwargs": kwargs}));
            } else {
                steps.push(json!({"id": "zero_mean_unit_variance", "kwargs": {"axes": axes}}));
            }
        }
    }
    Ok(Value::Array(steps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::normalize::ChannelNorm;

    fn config(yaml: &str) -> Config {
        crate::config::load_str(&format!("TRAIN: {{ENABLE: True}}\n{yaml}"), &[]).expect("config").config
    }

    fn stats(scale: f64) -> NormStats {
        NormStats { channels: vec![ChannelNorm { clip: None, offset: 0.0, scale }] }
    }

    #[test]
    fn each_normalisation_becomes_its_processing_step() {
        let z = preprocessing(&config(""), &stats(3.0), &["y", "x"]).unwrap();
        assert_eq!(z, json!([{"id": "zero_mean_unit_variance", "kwargs": {"axes": ["y", "x"]}}]));
        let div = config("DATA: {NORMALIZATION: {TYPE: div}}");
        assert_eq!(
            preprocessing(&div, &stats(255.0), &["y", "x"]).unwrap(),
            json!([{"id": "scale_linear", "kwargs": {"gain": 1.0 / 255.0, "offset": 0.0}}])
        );
        assert_eq!(preprocessing(&div, &stats(1.0), &["y", "x"]).unwrap(), json!([]));
        let clipped = config(
            "DATA: {NORMALIZATION: {TYPE: scale_range, PERC_CLIP: {ENABLE: True, LOWER_PERC: 1.0, UPPER_PERC: 99.0}}}",
        );
        let steps = preprocessing(&clipped, &stats(1.0), &["z", "y", "x"]).unwrap();
        assert_eq!(
            steps[0],
            json!({"id": "clip", "kwargs": {"axes": ["z", "y", "x"], "min_percentile": 1.0, "max_percentile": 99.0}})
        );
        assert_eq!(steps[1]["id"], "scale_range");
        let fixed = config("DATA: {NORMALIZATION: {ZERO_MEAN_UNIT_VAR: {MEAN_VAL: [10.0], STD_VAL: [2.0]}}}");
        assert_eq!(
            preprocessing(&fixed, &stats(2.0), &["y", "x"]).unwrap(),
            json!([{"id": "fixed_zero_mean_unit_variance", "kwargs": {"mean": 10.0, "std": 2.0}}])
        );
    }

    #[test]
    fn per_channel_clip_values_cannot_be_expressed() {
        let c = config("DATA: {NORMALIZATION: {PERC_CLIP: {ENABLE: True, LOWER_VALUE: [1, 2], UPPER_VALUE: [5, 6]}}}");
        let err = preprocessing(&c, &stats(1.0), &["y", "x"]).unwrap_err();
        assert!(err.contains("LOWER_VALUE"), "{err}");
    }
}
