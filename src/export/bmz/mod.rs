//! BioImage Model Zoo packages (bioimage.io, model format 0.5): one zip that Fiji/deepImageJ,
//! ilastik, napari, BiaPy and `bioimageio.core` run. It holds `rdf.yaml` ([`rdf`]), the weights
//! as ONNX (written from Rust, every architecture) and as a PyTorch state dict for BiaPy's own
//! class (architectures with BiaPy's names), a test input with segsweep's prediction for it and a
//! cover ([`sample`]), and a README. [`metadata`] checks `MODEL.BMZ.EXPORT.*` first.
//!
//! Data flow: config + trained model → [`sample::make`] → [`write_package`]. Must not train, or
//! download anything.

pub mod import;
pub mod metadata;
pub mod npy;
pub mod rdf;
pub mod sample;

use std::io::Write;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

use self::rdf::{Description, FileRef, TorchWeights};
use self::sample::Sample;
use crate::config::{Config, NormLayer};
use crate::data::hash::sha256_hex;
use crate::model::{Arch, ModelError, SegModel};
use crate::train::error::WeightsError;
use crate::train::pth_write::{self, Contents};

/// Why a package cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the package's metadata is incomplete:\n  - {}", .0.join("\n  - "))]
    Metadata(Vec<String>),
    #[error("no test input for the package: {0}")]
    NoSample(String),
    #[error("cannot read `{0}`: {1}")]
    Read(PathBuf, String),
    #[error("cannot write `{0}`: {1}")]
    Write(PathBuf, String),
    #[error("the pre-processing cannot be described: {0}")]
    Preprocessing(String),
    #[error(transparent)]
    Data(#[from] crate::data::dataset::DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the PyTorch weights: {0}")]
    Weights(#[from] WeightsError),
}

impl ExportError {
    fn read(path: &Path, e: impl std::fmt::Display) -> Self {
        ExportError::Read(path.to_path_buf(), e.to_string())
    }
}

/// BiaPy's class for an architecture: `(module, callable)`.
pub fn biapy_class(arch: Arch) -> (&'static str, &'static str) {
    match arch {
        Arch::Unet => ("biapy.models.unet", "U_Net"),
        Arch::AttentionUnet => ("biapy.models.attention_unet", "Attention_U_Net"),
        Arch::Seunet => ("biapy.models.seunet", "SE_U_Net"),
        Arch::Resunet => ("biapy.models.resunet", "ResUNet"),
        Arch::ResunetSe => ("biapy.models.resunet_se", "ResUNet_SE"),
        Arch::ResunetPlusPlus => ("biapy.models.resunet++", "ResUNetPlusPlus"),
        Arch::Multiresunet => ("biapy.models.multiresunet", "MultiResUnet"),
        Arch::Stunet => ("biapy.models.stunet", "build_stunet"),
        Arch::UnextV1 => ("biapy.models.unext_v1", "U_NeXt_V1"),
        Arch::UnextV2 => ("biapy.models.unext_v2", "U_NeXt_V2"),
        Arch::Unetr => ("biapy.models.unetr", "UNETR"),
        Arch::Hrnet => ("biapy.models.hrnet", "HighResolutionNet"),
    }
}

/// What [`write_package`] wrote.
#[derive(Debug)]
pub struct Written {
    /// File names inside the zip, in order.
    pub files: Vec<String>,
    /// Why the package has no PyTorch weights, if it has none.
    pub no_torch: Option<String>,
}

/// Writes the package of `model` (built from `config`, weights loaded) to `out` (a `.zip`),
/// atomically. `sample` is the test input and prediction.
pub fn write_package(out: &Path, config: &Config, model: &SegModel, sample: &Sample) -> Result<Written, ExportError> {
    let export = &config.model.bmz.export;
    let missing = metadata::missing_fields(export);
    if !missing.is_empty() {
        return Err(ExportError::Metadata(missing));
    }
    let ndim = config.problem.ndim;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| {
        let sha256 = sha256_hex(&bytes);
        files.push((name.to_string(), bytes));
        FileRef { name: name.to_string(), sha256 }
    };
    let (values, shape) = sample::to_bcyx(&sample.input, ndim);
    let test_input = add("test-input.npy", npy::to_bytes(&values, &shape));
    let (values, shape) = sample::to_bcyx(&sample.output, ndim);
    let test_output = add("test-output.npy", npy::to_bytes(&values, &shape));
    let onnx = add("model.onnx", crate::export::onnx::to_bytes(model));
    let arch = crate::model::Arch::from_name(&config.model.architecture)
        .ok_or_else(|| ModelError::UnsupportedArchitecture(config.model.architecture.clone()))?;
    let state_dict = if arch.reads_normalization() && config.model.normalization == NormLayer::Gn {
        // spec §7 quirk: BiaPy 3.7.1's norm factory raises a TypeError for `gn`, so its class
        // cannot be built to take these weights.
        Err(WeightsError::Unsupported(
            "BiaPy 3.7.1 cannot build a network with `gn` normalisation (a TypeError in its norm factory)",
        ))
    } else if config.loss.contrast.enable {
        // D30: BiaPy 3.7.1's networks walk a contrastive `heads` Sequential as separate heads and
        // fail in their forward, so a consumer could not run these weights in BiaPy's class.
        Err(WeightsError::Unsupported(
            "BiaPy 3.7.1's networks with `LOSS.CONTRAST` heads fail in their forward (the ONNX weights hold the head)",
        ))
    } else {
        pth_write::to_bytes(model, Contents::StateDict)
    };
    let (torch, no_torch) = match state_dict {
        Ok(bytes) => {
            let file = add("weights.pt", bytes);
            let kwargs = pth_write::model_build_kwargs(config);
            (Some(TorchWeights { file, class: biapy_class(arch), kwargs }), None)
        }
        Err(WeightsError::Unsupported(why)) => (None, Some(why.to_string())),
        Err(e) => return Err(e.into()),
    };
    let documentation = match export.documentation.as_str() {
        "" => add("README.md", readme(config, sample).into_bytes()),
        path => {
            let bytes = std::fs::read(path).map_err(|e| ExportError::read(Path::new(path), e))?;
            add("README.md", bytes)
        }
    };
    let staging = crate::atomic::temporary_sibling(out);
    std::fs::create_dir_all(&staging).map_err(|e| ExportError::Write(staging.clone(), e.to_string()))?;
    let cover_path = staging.join("cover.png");
    let cover = sample::cover(sample, config, &cover_path)
        .and_then(|()| std::fs::read(&cover_path).map_err(|e| ExportError::read(&cover_path, e)));
    let _ = std::fs::remove_dir_all(&staging);
    add("cover.png", cover?);
    let description = Description {
        config,
        export,
        in_channels: sample.input.n_channels(),
        out_channels: sample.output.n_channels(),
        size_step: model.geometry().total_factors(),
        fixed_size: model.geometry().fixed,
        test_input,
        test_output,
        cover: "cover.png".into(),
        documentation: documentation.name,
        onnx,
        torch,
        stats: &sample.stats,
    };
    let rdf = rdf::describe(&description).map_err(ExportError::Preprocessing)?;
    let yaml = serde_yaml::to_string(&rdf).map_err(|e| ExportError::Write(out.to_path_buf(), e.to_string()))?;
    files.insert(0, ("rdf.yaml".into(), yaml.into_bytes()));
    let bytes = zip_files(&files).map_err(|e| ExportError::Write(out.to_path_buf(), e.to_string()))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| ExportError::Write(dir.to_path_buf(), e.to_string()))?;
    }
    crate::atomic::write(out, bytes).map_err(|e| ExportError::Write(out.to_path_buf(), e.to_string()))?;
    Ok(Written { files: files.into_iter().map(|(name, _)| name).collect(), no_torch })
}

fn zip_files(files: &[(String, Vec<u8>)]) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in files {
        zip.start_file(name.as_str(), options)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// The generated documentation: what the model is, how it was trained, how to run it.
fn readme(config: &Config, sample: &Sample) -> String {
    let export = &config.model.bmz.export;
    let model = &config.model;
    let yaml = crate::config::to_yaml(config).unwrap_or_default();
    format!(
        "# {name}\n\n{description}\n\n## Model\n\n- Architecture: BiaPy's `{arch}` ({ndim}), feature maps {fm:?}, \
         `{norm}` normalisation, `{act}` activation.\n- Input: {channels} channel(s), normalised by the package's \
         pre-processing (segsweep's `DATA.NORMALIZATION`).\n- Output: {classes} after the package's post-processing.\n\
         - Trained with segsweep {version} (a Rust implementation of BiaPy's semantic-segmentation workflow); the \
         test tensors are a crop of `{source}` and segsweep's prediction for it.\n\n## Run it\n\n- segsweep: \
         `MODEL.SOURCE: bmz`, `MODEL.BMZ.SOURCE_MODEL_ID: <this zip>`.\n- BiaPy, bioimageio.core, deepImageJ, \
         ilastik, napari: open the zip as a bioimage.io model.\n\n## Configuration\n\n```yaml\n{yaml}```\n",
        name = export.model_name,
        description = export.description,
        arch = model.architecture,
        ndim = if config.problem.ndim.n_axes() == 2 { "2D" } else { "3D" },
        fm = model.feature_maps,
        norm = serde_json::to_value(model.normalization).unwrap_or_default().as_str().unwrap_or(""),
        act = serde_json::to_value(model.activation).unwrap_or_default().as_str().unwrap_or(""),
        channels = sample.input.n_channels(),
        classes = if sample.output.n_channels() == 1 {
            "the foreground probability (sigmoid)".to_string()
        } else {
            format!("{} class probabilities (softmax)", sample.output.n_channels())
        },
        version = env!("CARGO_PKG_VERSION"),
        source = sample.source.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned()),
    )
}
