//! Weight files in every format segsweep reads or writes, chosen by extension, and the
//! conversions behind `segsweep export` / `segsweep import`:
//!
//! - `.bpk`: segsweep's own burnpack (burn's paths and parameter ids; the resume points' format);
//! - `.safetensors`: BiaPy's state-dict names (D9, [`super::weights`]), or burn's paths;
//! - `.pth` / `.pt`: a BiaPy/PyTorch checkpoint: read ([`super::pth`]), and written as BiaPy's
//!   checkpoint dict ([`super::pth_write`]) where the architecture has BiaPy's names.
//!
//! The architecture comes from the caller's config (as BiaPy's `MODEL.*` keys do); a file that
//! does not fit it is an error naming the tensor and both shapes. Writes are atomic.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{BurnpackStore, ModuleSnapshot};

use super::error::{TrainError, WeightsError};
use super::pickle::PyValue;
use super::pth_write::Contents;
use super::{pth, pth_write, weights};
use crate::config::Config;
use crate::model::SegModel;

/// A weight file's format, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Burnpack,
    Safetensors,
    Pytorch,
}

impl Format {
    /// The format of `path`, or an error naming the extensions segsweep knows.
    pub fn of(path: &Path) -> Result<Format, TrainError> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("bpk") => Ok(Format::Burnpack),
            Some("safetensors") => Ok(Format::Safetensors),
            _ if pth::is_pytorch(path) => Ok(Format::Pytorch),
            _ => Err(unsupported(path, "unknown weight format: the name must end in .bpk, .safetensors, .pth or .pt")),
        }
    }
}

/// `PATHS.CHECKPOINT_FILE` as BiaPy resolves it: the path as given, or, when that does not exist
/// and it has no extension, the path with `.pth`, then `.safetensors` appended.
pub fn resolve(path: &Path) -> PathBuf {
    if path.exists() || path.extension().is_some() {
        return path.to_path_buf();
    }
    ["pth", "safetensors"]
        .iter()
        .map(|ext| PathBuf::from(format!("{}.{ext}", path.display())))
        .find(|candidate| candidate.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

/// Loads the weights at `path` (any [`Format`]) into `model`.
pub fn load(path: &Path, model: SegModel) -> Result<SegModel, TrainError> {
    load_with(path, model, false).map(|(model, _)| model)
}

/// [`load`], or with `skip_unmatched` (`MODEL.SKIP_UNMATCHED_LAYERS`) BiaPy's non-strict load,
/// which also returns a line per skipped tensor (see [`weights::load_with`]).
pub fn load_with(path: &Path, model: SegModel, skip_unmatched: bool) -> Result<(SegModel, Vec<String>), TrainError> {
    if !path.exists() {
        let tried = if path.extension().is_none() { " (nor with .pth or .safetensors appended)" } else { "" };
        return Err(TrainError::checkpoint(path)(WeightsError::NotFound(tried)));
    }
    match Format::of(path)? {
        Format::Burnpack => {
            let mut model = model;
            let mut store = BurnpackStore::from_file(path).validate(false);
            let result =
                model.load_from(&mut store).map_err(|e| TrainError::store(path, "cannot read the tensors", e))?;
            if skip_unmatched {
                return Ok((model, weights::skipped(&result, None)));
            }
            weights::check(&result, None).map_err(TrainError::checkpoint(path))?;
            Ok((model, Vec::new()))
        }
        Format::Safetensors => {
            let bytes = std::fs::read(path).map_err(TrainError::checkpoint(path))?;
            weights::load_with(bytes, model, skip_unmatched).map_err(TrainError::checkpoint(path))
        }
        Format::Pytorch => {
            let bytes = pth::to_safetensors(path).map_err(TrainError::checkpoint(path))?;
            weights::load_with(bytes, model, skip_unmatched).map_err(TrainError::checkpoint(path))
        }
    }
}

/// Writes `model`'s weights to `path` as `.bpk`, BiaPy-named `.safetensors` or BiaPy's `.pth`
/// checkpoint dict (with `config`, the one the model was built from), atomically.
pub fn save(path: &Path, model: &SegModel, config: &Config) -> Result<(), TrainError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(TrainError::write(dir))?;
    }
    match Format::of(path)? {
        Format::Burnpack => {
            let tmp = crate::atomic::temporary_sibling(path);
            model.clone().save_file(&tmp).map_err(|e| TrainError::store(path, "cannot write the weights", e))?;
            crate::atomic::commit(&tmp, path).map_err(TrainError::write(path))
        }
        Format::Safetensors => {
            let bytes = weights::to_bytes(model).map_err(TrainError::checkpoint(path))?;
            crate::atomic::write(path, bytes).map_err(TrainError::write(path))
        }
        Format::Pytorch => {
            let contents = Contents::Checkpoint { config, epoch: PyValue::Str("best".into()) };
            pth_write::write(path, model, contents).map_err(TrainError::checkpoint(path))
        }
    }
}

/// Which way a conversion goes: out of segsweep (to the PyTorch world) or into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// `.bpk` or `.safetensors` → BiaPy-named `.safetensors` or BiaPy's `.pth` checkpoint.
    Export,
    /// `.pth`, `.pt` or `.safetensors` → `.bpk` or `.safetensors`.
    Import,
}

/// Loads `from` into `model` and writes it to `to`; both formats must suit `direction`. Returns
/// the number of values written.
pub fn convert(
    direction: Direction,
    model: SegModel,
    config: &Config,
    from: &Path,
    to: &Path,
) -> Result<usize, TrainError> {
    let (source, target) = (Format::of(from)?, Format::of(to)?);
    match direction {
        Direction::Export if source == Format::Pytorch => {
            return Err(unsupported(
                from,
                "export reads segsweep's .bpk or .safetensors; use `segsweep import` for .pth",
            ));
        }
        Direction::Export if target == Format::Burnpack => {
            return Err(unsupported(to, "export writes BiaPy-named .safetensors or a BiaPy .pth checkpoint"));
        }
        Direction::Import if source == Format::Burnpack => {
            return Err(unsupported(from, "import reads .pth, .pt or .safetensors; use `segsweep export` for .bpk"));
        }
        Direction::Import if target == Format::Pytorch => {
            return Err(unsupported(to, "import writes .bpk or .safetensors"));
        }
        _ => {}
    }
    let model = load(from, model)?;
    save(to, &model, config)?;
    Ok(model.n_params())
}

fn unsupported(path: &Path, message: &'static str) -> TrainError {
    TrainError::checkpoint(path)(WeightsError::Unsupported(message))
}
