//! The experiment manifest (`experiments/*.yaml`, format in `docs/manifest.md`): the types here;
//! [`parse_manifest`] (in `parse.rs`) reads a file into a [`Manifest`] with every path resolved
//! against the manifest's folder and checks its structure (unknown keys, types, `zip`,
//! `exclude`, `run_id`); [`validate`] (in `validate.rs`) then checks every
//! `set` key and every grid value against the config schema, by resolving the base config with
//! exactly the overrides a run will get, and reports every problem in one error.
//!
//! Owns: the manifest format and its error messages. Must not: expand the grid (that is
//! `grid.rs`), re-implement config key or type checks (it asks `config::keys` and
//! `config::resolve`), create or write files, or print.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::data::synth::SynthParams;

/// The name of the grid axis that repeats a cell with different seeds (BiaPy's `--run_id`).
pub const RUN_ID: &str = "run_id";

/// An experiment manifest, paths resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Results go to `<result_dir>/<name>/`; only `[A-Za-z0-9._-]`, starting with a letter or digit.
    pub name: String,
    /// Default `results`; relative to the manifest's folder unless absolute.
    pub result_dir: PathBuf,
    /// The run config every run starts from.
    pub base: Base,
    /// Where the images are, if the manifest says.
    pub data: Option<DataSpec>,
    /// Overrides applied to every run, dotted keys (nested mappings are flattened).
    pub set: BTreeMap<String, Value>,
    /// Axes in file order. Always holds a `run_id` axis of distinct positive integers (`[1]` when
    /// the manifest has none), placed where the file put it or last.
    pub grid: Vec<(String, Vec<Value>)>,
    /// Groups of axes that vary together (equal lengths) instead of being crossed.
    pub zip: Vec<Vec<String>>,
    /// Partial assignments (axis, `run_id` included, → value) whose runs are dropped.
    pub exclude: Vec<BTreeMap<String, Value>>,
    /// The optional regression gate.
    pub gate: Option<Gate>,
    /// What each stage asks of a Slurm cluster (`--executor slurm`); ignored by local sweeps.
    pub resources: Resources,
}

impl Manifest {
    /// The `run_id` values, in manifest order.
    pub fn run_ids(&self) -> Vec<u64> {
        self.grid
            .iter()
            .filter(|(k, _)| k == RUN_ID)
            .flat_map(|(_, values)| values.iter().filter_map(Value::as_u64))
            .collect()
    }

    /// The config axes (every axis but `run_id`), in manifest order.
    pub fn axes(&self) -> impl Iterator<Item = &(String, Vec<Value>)> {
        self.grid.iter().filter(|(k, _)| k != RUN_ID)
    }
}

/// The run config every run starts from.
#[derive(Clone, Debug, PartialEq)]
pub enum Base {
    /// A BiaPy YAML file (resolved relative to the manifest).
    File(PathBuf),
    /// A mapping written in the manifest itself (nested sections or dotted keys).
    Inline(Value),
}

/// Where a sweep's images come from.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSpec {
    /// Existing folders, each split as `(images, masks)`, resolved relative to the manifest.
    Folders { train: (PathBuf, PathBuf), val: Option<(PathBuf, PathBuf)>, test: Option<(PathBuf, PathBuf)> },
    /// A built-in synthetic set, generated deterministically.
    Synthetic(SynthSpec),
}

/// `data.synthetic`: which generator and its parameters (unset fields take
/// [`SynthParams::default_2d`] or [`SynthParams::default_3d`] after `ndim`).
#[derive(Clone, Debug, PartialEq)]
pub struct SynthSpec {
    pub kind: SynthKind,
    pub params: SynthParams,
}

/// The synthetic generators segsweep has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynthKind {
    /// EM-like mitochondria (`crate::data::synth`).
    Mito,
}

/// The regression gate: fail when a gated metric's mean moves more than its tolerance.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// The committed summary snapshot (resolved relative to the manifest).
    pub baseline: PathBuf,
    /// Metric → largest accepted absolute difference (finite, ≥ 0).
    pub tolerance: BTreeMap<String, f64>,
}

/// Everything that can be wrong with a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("manifest `{}` is not valid YAML: {message}", path.display())]
    Yaml { path: PathBuf, message: String },
    /// Every problem found, each naming the manifest, the key and what was expected.
    #[error("{}", list_problems(.0))]
    Invalid(Vec<String>),
}

impl ManifestError {
    /// The individual problems (one line each; the read or parse error for the other variants).
    pub fn problems(&self) -> Vec<String> {
        match self {
            ManifestError::Invalid(problems) => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

fn list_problems(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => {
            let mut text = format!("{} problems in the manifest:", many.len());
            for problem in many {
                text.push_str("\n  - ");
                text.push_str(problem);
            }
            text
        }
    }
}

mod parse;
pub use parse::{YamlFile, classify, load_manifest, parse_manifest};
mod resources;
pub use resources::{Resources, StageResources};
mod validate;

pub use validate::validate;

#[cfg(test)]
mod tests;
