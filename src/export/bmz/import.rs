//! `MODEL.SOURCE: bmz`: a bioimage.io model package from a local path (a `.zip`, or a folder
//! with `rdf.yaml`) as a segsweep model. The package must describe a semantic-segmentation
//! network of BiaPy's U-Net family by its PyTorch state dict (`weights.pytorch_state_dict` with
//! `U_Net`, `Attention_U_Net`, `SE_U_Net` or `ResUNet` — as segsweep and BiaPy export them); its
//! constructor arguments become `MODEL.*`, its pre-processing `DATA.NORMALIZATION.*` (BiaPy
//! overrides the config's with the package's too), and its weights are written out for the
//! checkpoint loader. Nothing is downloaded.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::ExportError;
use crate::config::{Config, Ndim};
use crate::model::Arch;

/// A package read and turned into config values and a weight file.
pub struct Imported {
    /// The `MODEL.*` architecture keys and `DATA.NORMALIZATION` of the package, as overrides.
    pub overrides: Vec<(String, Value)>,
    /// The state dict's bytes (a PyTorch zip file).
    pub weights: Vec<u8>,
    /// What the package calls itself.
    pub name: String,
}

/// The files of a package, by name.
struct PackageFiles {
    path: PathBuf,
    zip: Option<zip::ZipArchive<std::fs::File>>,
}

impl PackageFiles {
    fn open(path: &Path) -> Result<Self, ExportError> {
        if path.is_dir() {
            return Ok(Self { path: path.to_path_buf(), zip: None });
        }
        let file = std::fs::File::open(path).map_err(|e| ExportError::read(path, e))?;
        let zip = zip::ZipArchive::new(file).map_err(|e| ExportError::read(path, format!("not a zip archive: {e}")))?;
        Ok(Self { path: path.to_path_buf(), zip: Some(zip) })
    }

    fn read(&mut self, name: &str) -> Result<Vec<u8>, ExportError> {
        let shown = self.path.join(name);
        match &mut self.zip {
            None => std::fs::read(&shown).map_err(|e| ExportError::read(&shown, e)),
            Some(zip) => {
                let mut entry = zip.by_name(name).map_err(|e| ExportError::read(&shown, e))?;
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(|e| ExportError::read(&shown, e))?;
                Ok(bytes)
            }
        }
    }
}

/// Reads the package at `path` for a run with `config`.
pub fn open(path: &Path, config: &Config) -> Result<Imported, ExportError> {
    let mut files = PackageFiles::open(path)?;
    let rdf_bytes = files.read("rdf.yaml")?;
    let rdf: Value = serde_yaml::from_slice(&rdf_bytes)
        .map_err(|e| ExportError::read(&path.join("rdf.yaml"), format!("not valid YAML: {e}")))?;
    let wrong = |what: String| ExportError::Read(path.to_path_buf(), what);
    if rdf["type"] != "model" {
        return Err(wrong(format!("the package is a `{}`, not a `model`", rdf["type"].as_str().unwrap_or("?"))));
    }
    const OTHER_WORKFLOWS: &[&str] = &[
        "instance-segmentation",
        "detection",
        "denoising",
        "super-resolution",
        "self-supervision",
        "classification",
        "image-to-image",
    ];
    let tags = rdf["tags"].as_array().into_iter().flatten().filter_map(Value::as_str);
    if let Some(workflow) = tags.into_iter().find(|t| OTHER_WORKFLOWS.contains(t)) {
        return Err(wrong(format!(
            "the package is tagged `{workflow}`: a model of another workflow than semantic segmentation"
        )));
    }
    let weights = rdf["weights"].as_object().ok_or_else(|| wrong("`weights` is missing".into()))?;
    let found: Vec<&str> = weights.keys().map(String::as_str).collect();
    let Some(torch) = weights.get("pytorch_state_dict") else {
        return Err(wrong(format!(
            "it has {} weights; segsweep runs BiaPy's U-Net family from `pytorch_state_dict` weights",
            found.join(", ")
        )));
    };
    let callable = torch["architecture"]["callable"].as_str().unwrap_or("");
    let arch = [Arch::Unet, Arch::AttentionUnet, Arch::Seunet, Arch::Resunet, Arch::ResunetSe]
        .into_iter()
        .find(|&a| super::biapy_class(a).1 == callable)
        .ok_or_else(|| {
            wrong(format!(
                "its network is `{callable}`; segsweep builds BiaPy's `U_Net`, `Attention_U_Net`, `SE_U_Net` and `ResUNet`"
            ))
        })?;
    let kwargs = &torch["architecture"]["kwargs"];
    let mut overrides = architecture(arch, kwargs).map_err(wrong)?;
    check_axes(&rdf, config).map_err(wrong)?;
    overrides.extend(normalization(&rdf["inputs"][0]["preprocessing"]).map_err(wrong)?);
    let source =
        torch["source"].as_str().ok_or_else(|| wrong("`weights.pytorch_state_dict.source` is missing".into()))?;
    if source.starts_with("http") {
        return Err(wrong(format!("its weights are at `{source}`, and segsweep downloads nothing")));
    }
    let weights = files.read(source)?;
    if let Some(sha256) = torch["sha256"].as_str() {
        let actual = crate::data::hash::sha256_hex(&weights);
        if actual != sha256 {
            return Err(wrong(format!("`{source}` has sha256 {actual} but the rdf.yaml says {sha256}")));
        }
    }
    let name = rdf["name"].as_str().unwrap_or("").to_string();
    if config.model.bmz.export.reuse_bmz_config {
        overrides.extend(export_metadata(&rdf));
    }
    Ok(Imported { overrides, weights, name })
}

/// `config` with the package's keys set and the weights at
/// `weights` as its checkpoint (what the run's test phase then loads).
pub fn apply(config: &Config, imported: &Imported, weights: &Path) -> Result<Config, ExportError> {
    let mut value =
        serde_json::to_value(config).map_err(|e| ExportError::Read(weights.to_path_buf(), e.to_string()))?;
    let mut set = |key: &str, v: Value| {
        let mut at = &mut value;
        for part in key.split('.') {
            at = &mut at[part];
        }
        *at = v;
    };
    for (key, v) in &imported.overrides {
        set(key, v.clone());
    }
    set("MODEL.LOAD_CHECKPOINT", Value::Bool(true));
    set("PATHS.CHECKPOINT_FILE", Value::from(weights.display().to_string()));
    serde_json::from_value(value).map_err(|e| {
        ExportError::Read(
            weights.to_path_buf(),
            format!("the package's architecture does not fit segsweep's keys: {e}"),
        )
    })
}

/// `MODEL.BMZ.EXPORT.REUSE_BMZ_CONFIG`: the package's own name, description, authors, licence,
/// tags, citations and version for the package this run exports.
fn export_metadata(rdf: &Value) -> Vec<(String, Value)> {
    let pick = |v: &Value, fields: &[&str]| -> Value {
        let object =
            fields.iter().filter_map(|f| v.get(*f).filter(|x| !x.is_null()).map(|x| (f.to_string(), x.clone())));
        Value::Object(object.collect())
    };
    let list = |key: &str, fields: &[&str]| -> Value {
        Value::Array(rdf[key].as_array().into_iter().flatten().map(|v| pick(v, fields)).collect())
    };
    let mut authors = list("authors", &["name", "github_user", "affiliation", "email", "orcid"]);
    for author in authors.as_array_mut().into_iter().flatten() {
        if author.get("github_user").is_none() {
            author["github_user"] = Value::from("");
        }
    }
    let tags: Vec<Value> = rdf["tags"].as_array().cloned().unwrap_or_default();
    [
        ("MODEL_NAME", rdf["name"].clone()),
        ("DESCRIPTION", rdf["description"].clone()),
        ("AUTHORS", authors),
        ("LICENSE", rdf["license"].clone()),
        ("TAGS", Value::Array(tags)),
        ("CITE", list("cite", &["text", "doi", "url"])),
        ("MODEL_VERSION", rdf["version"].clone()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_null())
    .map(|(k, v)| (format!("MODEL.BMZ.EXPORT.{k}"), v))
    .collect()
}

/// BiaPy's constructor arguments as `MODEL.*` and `DATA.N_CLASSES` values.
fn architecture(arch: Arch, kwargs: &Value) -> Result<Vec<(String, Value)>, String> {
    let mut out = vec![("MODEL.ARCHITECTURE".to_string(), Value::from(arch.name()))];
    let keys = [
        ("feature_maps", "MODEL.FEATURE_MAPS"),
        ("drop_values", "MODEL.DROPOUT_VALUES"),
        ("normalization", "MODEL.NORMALIZATION"),
        ("k_size", "MODEL.KERNEL_SIZE"),
        ("upsample_layer", "MODEL.UPSAMPLE_LAYER"),
        ("activation", "MODEL.ACTIVATION"),
        ("z_down", "MODEL.Z_DOWN"),
        ("yx_down", "MODEL.YX_DOWN"),
        ("isotropy", "MODEL.ISOTROPY"),
        ("larger_io", "MODEL.LARGER_IO"),
        ("conv_layers", "MODEL.CONV_LAYERS"),
        ("conv_block_order", "MODEL.CONV_BLOCK_ORDER"),
    ];
    for (arg, key) in keys {
        if let Some(value) = kwargs.get(arg) {
            out.push((key.to_string(), value.clone()));
        }
    }
    if kwargs.get("feature_maps").is_none() {
        return Err("its architecture has no `feature_maps` argument".into());
    }
    let outputs = kwargs["output_channels"].as_array().and_then(|o| o.first()).and_then(Value::as_u64).unwrap_or(1);
    if kwargs["output_channels"].as_array().is_some_and(|o| o.len() > 1) {
        return Err("the network has several heads; a semantic-segmentation network has one".into());
    }
    out.push(("DATA.N_CLASSES".to_string(), Value::from(if outputs <= 1 { 2 } else { outputs })));
    Ok(out)
}

/// The package's input must be an image of the config's `PROBLEM.NDIM`.
fn check_axes(rdf: &Value, config: &Config) -> Result<(), String> {
    let axes = rdf["inputs"][0]["axes"].as_array().ok_or("`inputs[0].axes` is missing")?;
    let has_z = axes.iter().any(|a| a["id"] == "z" || a.as_str().is_some_and(|s| s.contains('z')));
    let package = if has_z { Ndim::D3 } else { Ndim::D2 };
    if package != config.problem.ndim {
        let show = |n: Ndim| if n == Ndim::D2 { "2D" } else { "3D" };
        return Err(format!(
            "the package's network takes {} images but `PROBLEM.NDIM` is {}",
            show(package),
            show(config.problem.ndim)
        ));
    }
    Ok(())
}

/// The package's pre-processing as `DATA.NORMALIZATION.*` values.
fn normalization(steps: &Value) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    let set = |out: &mut Vec<(String, Value)>, key: &str, value: Value| {
        out.push((format!("DATA.NORMALIZATION.{key}"), value))
    };
    for step in steps.as_array().into_iter().flatten() {
        let id = step["id"].as_str().or_else(|| step["name"].as_str()).unwrap_or("");
        let kwargs = &step["kwargs"];
        match id {
            // segsweep computes in float32 whatever the file's type.
            "ensure_dtype" if kwargs["dtype"] == "float32" => {}
            "zero_mean_unit_variance" => set(&mut out, "TYPE", "zero_mean_unit_variance".into()),
            "fixed_zero_mean_unit_variance" => {
                set(&mut out, "TYPE", "zero_mean_unit_variance".into());
                let list = |v: &Value| if v.is_array() { v.clone() } else { Value::Array(vec![v.clone()]) };
                set(&mut out, "ZERO_MEAN_UNIT_VAR.MEAN_VAL", list(&kwargs["mean"]));
                set(&mut out, "ZERO_MEAN_UNIT_VAR.STD_VAL", list(&kwargs["std"]));
            }
            "scale_range" => set(&mut out, "TYPE", "scale_range".into()),
            "scale_linear" if kwargs["offset"].as_f64().unwrap_or(0.0) == 0.0 => {
                let gain = kwargs["gain"].as_f64().unwrap_or(0.0);
                if (gain * 255.0 - 1.0).abs() > 1e-6 && (gain * 65535.0 - 1.0).abs() > 1e-6 {
                    return Err(format!("its `scale_linear` gain {gain} is not BiaPy's `div` (1/255 or 1/65535)"));
                }
                set(&mut out, "TYPE", "div".into());
            }
            "clip" => {
                set(&mut out, "PERC_CLIP.ENABLE", true.into());
                for (arg, key) in [
                    ("min_percentile", "PERC_CLIP.LOWER_PERC"),
                    ("max_percentile", "PERC_CLIP.UPPER_PERC"),
                    ("min", "PERC_CLIP.LOWER_VALUE"),
                    ("max", "PERC_CLIP.UPPER_VALUE"),
                ] {
                    if let Some(v) = kwargs.get(arg).filter(|v| !v.is_null()) {
                        let value = if key.ends_with("VALUE") { Value::Array(vec![v.clone()]) } else { v.clone() };
                        set(&mut out, key, value);
                    }
                }
            }
            other => return Err(format!("its pre-processing step `{other}` has no segsweep normalisation")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn constructor_arguments_become_model_keys() {
        let kwargs = json!({"feature_maps": [4, 8], "normalization": "bn", "output_channels": [3], "k_size": 5});
        let out = architecture(Arch::AttentionUnet, &kwargs).unwrap();
        assert!(out.contains(&("MODEL.ARCHITECTURE".into(), json!("attention_unet"))));
        assert!(out.contains(&("MODEL.NORMALIZATION".into(), json!("bn"))));
        assert!(out.contains(&("MODEL.KERNEL_SIZE".into(), json!(5))));
        assert!(out.contains(&("DATA.N_CLASSES".into(), json!(3))));
        let binary = architecture(Arch::Unet, &json!({"feature_maps": [4, 8], "output_channels": [1]})).unwrap();
        assert!(binary.contains(&("DATA.N_CLASSES".into(), json!(2))));
        assert!(architecture(Arch::Unet, &json!({"output_channels": [1, 3], "feature_maps": [4]})).is_err());
    }

    #[test]
    fn reuse_takes_the_packages_metadata() {
        let rdf = json!({"name": "m", "description": "d", "license": "MIT", "version": "1.2.0",
            "authors": [{"name": "A"}], "cite": [{"text": "t", "doi": "10.1/x"}], "tags": ["2d"]});
        let out = export_metadata(&rdf);
        assert!(out.contains(&("MODEL.BMZ.EXPORT.AUTHORS".into(), json!([{"name": "A", "github_user": ""}]))));
        assert!(out.contains(&("MODEL.BMZ.EXPORT.LICENSE".into(), json!("MIT"))));
        assert!(out.contains(&("MODEL.BMZ.EXPORT.MODEL_VERSION".into(), json!("1.2.0"))));
    }

    #[test]
    fn preprocessing_becomes_normalisation_or_an_error_naming_the_step() {
        let steps =
            json!([{"id": "clip", "kwargs": {"min_percentile": 1.0, "max_percentile": 99.0}}, {"id": "scale_range"}]);
        let out = normalization(&steps).unwrap();
        assert!(out.contains(&("DATA.NORMALIZATION.TYPE".into(), json!("scale_range"))));
        assert!(out.contains(&("DATA.NORMALIZATION.PERC_CLIP.LOWER_PERC".into(), json!(1.0))));
        let div =
            normalization(&json!([{"id": "scale_linear", "kwargs": {"gain": 1.0 / 255.0, "offset": 0}}])).unwrap();
        assert_eq!(div, vec![("DATA.NORMALIZATION.TYPE".to_string(), json!("div"))]);
        let err = normalization(&json!([{"id": "binarize"}])).unwrap_err();
        assert!(err.contains("`binarize`"), "{err}");
    }
}
