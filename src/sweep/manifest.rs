//! The experiment manifest (`experiments/*.yaml`, harness spec §Manifest): [`parse_manifest`]
//! reads it into a [`Manifest`] with every path resolved against the manifest's folder and checks
//! its structure (unknown keys, types, `zip`, `exclude`, `run_id`); [`validate`] then checks every
//! `set` key and every grid value against the config schema, by resolving the base config with
//! exactly the overrides a run will get, and reports every problem in one error.
//!
//! Owns: the manifest format and its error messages. Must not: expand the grid (that is
//! `grid.rs`), re-implement config key or type checks (it asks `config::keys` and
//! `config::resolve`), create or write files, or print.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_yaml::Value as Yaml;

use super::grid::{self, same_value};
use crate::config::raw::{self, RawLayer};
use crate::config::{ConfigError, Origin, Problem, keys, legacy, resolve};
use crate::data::synth::{SynthError, SynthParams};

/// The name of the grid axis that repeats a cell with different seeds (BiaPy's `--run_id`).
pub const RUN_ID: &str = "run_id";

/// The top-level keys a manifest may have.
const TOP_KEYS: &[&str] = &["name", "result_dir", "base", "data", "set", "grid", "zip", "exclude", "gate"];

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

/// Reads and parses the manifest at `path`.
pub fn load_manifest(path: &Path) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.into(), source })?;
    parse_manifest(&text, path)
}

/// Parses manifest `text` read from `path` (used for messages and to resolve relative paths).
pub fn parse_manifest(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
    let yaml_error = |message: String| ManifestError::Yaml { path: path.into(), message };
    let yaml: Yaml = serde_yaml::from_str(text).map_err(|e| yaml_error(e.to_string()))?;
    let expected = "expected a mapping with `name`, `base` and `grid`";
    let map = match yaml {
        Yaml::Mapping(map) => map,
        Yaml::Null => return Err(yaml_error(format!("the file is empty; {expected}"))),
        other => return Err(yaml_error(format!("{expected}, found {}", yaml_kind(&other)))),
    };
    let mut p = Parser { path: path.to_path_buf(), dir: folder_of(path), problems: Vec::new() };
    let mut fields = BTreeMap::new();
    for (key, value) in map {
        match key.as_str() {
            Some(k) if TOP_KEYS.contains(&k) => {
                fields.insert(k.to_string(), value);
            }
            Some(k) => p.fail(k, format!("unknown manifest key{}", did_you_mean(k, TOP_KEYS))),
            None => p.fail(&format!("{key:?}"), "manifest keys must be strings"),
        }
    }
    let manifest = p.manifest(fields);
    match p.problems.is_empty() {
        true => Ok(manifest),
        false => Err(ManifestError::Invalid(p.problems)),
    }
}

/// The folder relative paths in a manifest are resolved against.
fn folder_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `" (did you mean `X`?)"` for the candidate closest to `word`, or nothing.
fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    let best = candidates.iter().map(|c| (*c, strsim::levenshtein(word, c))).min_by_key(|&(_, d)| d);
    match best {
        Some((c, d)) if d <= (word.len() / 3).max(2) => format!(" (did you mean `{c}`?)"),
        _ => String::new(),
    }
}

fn yaml_kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "null",
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(_) => "a string",
        Yaml::Sequence(_) => "a list",
        Yaml::Mapping(_) => "a mapping",
        Yaml::Tagged(_) => "a tagged value",
    }
}

/// A YAML value as JSON (the config reader's conversion).
fn to_json(yaml: Yaml) -> Result<Value, String> {
    crate::config::raw::yaml_to_json(yaml)
}

/// Collects structural problems while building a [`Manifest`]; each field parser returns a
/// fallback after recording a problem, so one pass reports everything.
struct Parser {
    path: PathBuf,
    dir: PathBuf,
    problems: Vec<String>,
}

impl Parser {
    fn fail(&mut self, key: &str, message: impl AsRef<str>) {
        self.problems.push(format!("manifest `{}`: `{key}`: {}", self.path.display(), message.as_ref()));
    }

    fn manifest(&mut self, mut fields: BTreeMap<String, Yaml>) -> Manifest {
        let name = self.name(fields.remove("name"));
        let result_dir = match fields.remove("result_dir") {
            None => self.dir.join("results"),
            Some(value) => self.path_value("result_dir", value).unwrap_or_default(),
        };
        let base = self.base(fields.remove("base"));
        let data = fields.remove("data").and_then(|v| self.data(v));
        let set = fields.remove("set").map(|v| self.set(v)).unwrap_or_default();
        let mut grid = fields.remove("grid").map(|v| self.grid(v)).unwrap_or_default();
        if !grid.iter().any(|(k, _)| k == RUN_ID) {
            grid.push((RUN_ID.to_string(), vec![Value::from(1)]));
        }
        let zip = fields.remove("zip").map(|v| self.zip(v, &grid)).unwrap_or_default();
        let exclude = fields.remove("exclude").map(|v| self.exclude(v, &grid)).unwrap_or_default();
        let gate = fields.remove("gate").and_then(|v| self.gate(v));
        for key in set.keys().filter(|k| grid.iter().any(|(axis, _)| axis == *k)) {
            self.fail(&format!("set.{key}"), "is also a grid axis; keep it in one place");
        }
        Manifest { path: self.path.clone(), name, result_dir, base, data, set, grid, zip, exclude, gate }
    }

    fn name(&mut self, value: Option<Yaml>) -> String {
        let expected = "expected a name made of letters, digits, `.`, `_` and `-`, starting with a letter or digit";
        match value {
            None => self.fail("name", format!("missing; {expected} (results go to `<result_dir>/<name>/`)")),
            Some(Yaml::String(name)) if is_folder_name(&name) => return name,
            Some(Yaml::String(name)) => self.fail("name", format!("{expected}, found `{name}`")),
            Some(other) => self.fail("name", format!("{expected}, found {}", yaml_kind(&other))),
        }
        String::new()
    }

    /// A non-empty path string, resolved against the manifest's folder unless absolute.
    fn path_value(&mut self, key: &str, value: Yaml) -> Option<PathBuf> {
        match value {
            Yaml::String(s) if !s.trim().is_empty() => Some(self.dir.join(s)),
            Yaml::String(_) => {
                self.fail(key, "expected a path, found an empty string");
                None
            }
            other => {
                self.fail(key, format!("expected a path, found {}", yaml_kind(&other)));
                None
            }
        }
    }

    fn base(&mut self, value: Option<Yaml>) -> Base {
        let expected = "expected the path of a run config or an inline mapping of config keys";
        match value {
            None => self.fail("base", format!("missing; {expected}")),
            Some(Yaml::String(s)) => {
                return self.path_value("base", Yaml::String(s)).map(Base::File).unwrap_or(Base::Inline(Value::Null));
            }
            Some(value @ Yaml::Mapping(_)) => match to_json(value) {
                Ok(json) => return Base::Inline(json),
                Err(message) => self.fail("base", message),
            },
            Some(other) => self.fail("base", format!("{expected}, found {}", yaml_kind(&other))),
        }
        Base::Inline(Value::Null)
    }

    /// `set`: dotted keys to values; nested mappings are flattened the way a config file is.
    fn set(&mut self, value: Yaml) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        match value {
            Yaml::Null => {}
            value @ Yaml::Mapping(_) => match to_json(value) {
                Ok(json) => raw::flatten("", json, &mut out),
                Err(message) => self.fail("set", message),
            },
            other => self.fail(
                "set",
                format!("expected a mapping of dotted config keys to values, found {}", yaml_kind(&other)),
            ),
        }
        if out.remove(RUN_ID).is_some() {
            self.fail(&format!("set.{RUN_ID}"), "`run_id` is not a config key; list run ids under `grid`");
        }
        out
    }
}

/// True when `name` can be a folder name on every platform segsweep runs on.
fn is_folder_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

impl Parser {
    /// `grid`: axis → non-empty list of distinct values, in file order.
    fn grid(&mut self, value: Yaml) -> Vec<(String, Vec<Value>)> {
        let map = match value {
            Yaml::Null => return Vec::new(),
            Yaml::Mapping(map) => map,
            other => {
                self.fail(
                    "grid",
                    format!(
                        "expected a mapping of axes (dotted config keys) to lists of values, found {}",
                        yaml_kind(&other)
                    ),
                );
                return Vec::new();
            }
        };
        let mut axes = Vec::new();
        for (key, values) in map {
            let Yaml::String(key) = key else {
                self.fail(&format!("grid.{key:?}"), "axis names must be strings such as `DATA.TEST.OVERLAP`");
                continue;
            };
            if let Some(values) = self.axis(&key, values) {
                axes.push((key, values));
            }
        }
        axes
    }

    fn axis(&mut self, key: &str, values: Yaml) -> Option<Vec<Value>> {
        let at = format!("grid.{key}");
        let Yaml::Sequence(items) = values else {
            let hint = if key.contains('.') || key == RUN_ID {
                ""
            } else {
                " (axes are dotted keys such as `DATA.TEST.OVERLAP`)"
            };
            self.fail(&at, format!("expected a list of values, found {}{hint}", yaml_kind(&values)));
            return None;
        };
        if items.is_empty() {
            self.fail(
                &at,
                "expected a non-empty list of values; an axis without values makes the grid expand to zero runs",
            );
            return None;
        }
        let values = match items.into_iter().map(to_json).collect::<Result<Vec<_>, _>>() {
            Ok(values) => values,
            Err(message) => {
                self.fail(&at, message);
                return None;
            }
        };
        for (i, value) in values.iter().enumerate() {
            if values[..i].iter().any(|earlier| same_value(earlier, value)) {
                self.fail(&at, format!("the value `{value}` is listed twice; expected distinct values"));
            }
            if key == RUN_ID && value.as_u64().is_none_or(|id| id == 0) {
                self.fail(&at, format!("expected positive integers, found `{value}`"));
            }
        }
        Some(values)
    }

    /// `zip`: groups of config axes of equal lengths; an axis belongs to one group at most.
    fn zip(&mut self, value: Yaml, grid: &[(String, Vec<Value>)]) -> Vec<Vec<String>> {
        let expected = "expected a list of groups of axis names, such as `[[DATA.TEST.OVERLAP, DATA.TEST.PADDING]]`";
        let groups = match value {
            Yaml::Null => return Vec::new(),
            Yaml::Sequence(groups) => groups,
            other => {
                self.fail("zip", format!("{expected}, found {}", yaml_kind(&other)));
                return Vec::new();
            }
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for (i, group) in groups.into_iter().enumerate() {
            let at = format!("zip[{i}]");
            let names: Option<Vec<String>> = match group {
                Yaml::Sequence(names) => names.into_iter().map(|n| n.as_str().map(str::to_string)).collect(),
                _ => None,
            };
            match names {
                Some(names) if !names.is_empty() => {
                    self.zip_group(&at, &names, grid, &mut seen);
                    out.push(names);
                }
                _ => self.fail(&at, format!("{expected}; each group a non-empty list of names")),
            }
        }
        out
    }

    fn zip_group(&mut self, at: &str, names: &[String], grid: &[(String, Vec<Value>)], seen: &mut BTreeSet<String>) {
        let mut lengths = Vec::new();
        for name in names {
            match grid.iter().find(|(axis, _)| axis == name) {
                _ if name == RUN_ID => self.fail(at, "`run_id` cannot be zipped; it always crosses every cell"),
                Some((_, values)) => lengths.push(format!("`{name}` has {}", values.len())),
                None => self.fail(at, format!("`{name}` is not a grid axis{}", did_you_mean(name, &axis_names(grid)))),
            }
            if !seen.insert(name.clone()) {
                self.fail(at, format!("`{name}` is in more than one zip group (or twice in one)"));
            }
        }
        let counts: BTreeSet<usize> =
            names.iter().filter_map(|n| grid.iter().find(|(axis, _)| axis == n)).map(|(_, v)| v.len()).collect();
        if counts.len() > 1 {
            self.fail(at, format!("zipped axes must have equal lengths, but {}", lengths.join(", ")));
        }
    }

    /// `exclude`: non-empty mappings of axis → one of its values.
    fn exclude(&mut self, value: Yaml, grid: &[(String, Vec<Value>)]) -> Vec<BTreeMap<String, Value>> {
        let expected = "expected a list of partial assignments such as `{DATA.TEST.OVERLAP: [0.5, 0.5], run_id: 3}`";
        let entries = match value {
            Yaml::Null => return Vec::new(),
            Yaml::Sequence(entries) => entries,
            other => {
                self.fail("exclude", format!("{expected}, found {}", yaml_kind(&other)));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let at = format!("exclude[{i}]");
            match entry {
                Yaml::Mapping(map) if !map.is_empty() => {
                    if let Some(assignment) = self.assignment(&at, map, grid) {
                        out.push(assignment);
                    }
                }
                Yaml::Mapping(_) => {
                    self.fail(&at, "an empty assignment would drop every run; expected axis: value pairs")
                }
                other => self.fail(&at, format!("{expected}, found {}", yaml_kind(&other))),
            }
        }
        out
    }

    fn assignment(
        &mut self,
        at: &str,
        map: serde_yaml::Mapping,
        grid: &[(String, Vec<Value>)],
    ) -> Option<BTreeMap<String, Value>> {
        let mut out = BTreeMap::new();
        for (key, value) in map {
            let (Some(key), Ok(value)) = (key.as_str().map(str::to_string), to_json(value)) else {
                self.fail(at, "expected axis names as keys and plain values");
                return None;
            };
            match grid.iter().find(|(axis, _)| *axis == key) {
                None => self.fail(at, format!("`{key}` is not a grid axis{}", did_you_mean(&key, &axis_names(grid)))),
                Some((_, values)) if !values.iter().any(|v| same_value(v, &value)) => {
                    self.fail(at, format!("`{key}: {value}` is not one of the axis values"));
                }
                Some(_) => {}
            }
            out.insert(key, value);
        }
        Some(out)
    }
}

fn axis_names(grid: &[(String, Vec<Value>)]) -> Vec<&str> {
    grid.iter().map(|(k, _)| k.as_str()).collect()
}

/// The keys of `data.synthetic`.
const SYNTH_KEYS: &[&str] = &["kind", "ndim", "classes", "n_train", "n_test", "size", "seed"];

impl Parser {
    /// `data`: either folders (`train`, optional `val` and `test`) or `synthetic`.
    fn data(&mut self, value: Yaml) -> Option<DataSpec> {
        let expected = "expected `{train: {x: FOLDER, y: FOLDER}, test: …}` or `{synthetic: {kind: mito, …}}`";
        let map = match value {
            Yaml::Mapping(map) => map,
            other => {
                self.fail("data", format!("{expected}, found {}", yaml_kind(&other)));
                return None;
            }
        };
        let mut fields = BTreeMap::new();
        for (key, value) in map {
            match key.as_str() {
                Some(k @ ("train" | "val" | "test" | "synthetic")) => {
                    fields.insert(k.to_string(), value);
                }
                other => {
                    let k = other.map_or_else(|| format!("{key:?}"), str::to_string);
                    let hint = did_you_mean(&k, &["train", "val", "test", "synthetic"]);
                    self.fail(&format!("data.{k}"), format!("unknown data key{hint}"));
                }
            }
        }
        if let Some(synthetic) = fields.remove("synthetic") {
            if !fields.is_empty() {
                self.fail("data", "expected either `synthetic` or folders (`train`, `val`, `test`), not both");
            }
            return self.synthetic(synthetic).map(DataSpec::Synthetic);
        }
        let mut pair = |split: &str| fields.remove(split).and_then(|v| self.pair(&format!("data.{split}"), v));
        let (train, val, test) = (pair("train"), pair("val"), pair("test"));
        match train {
            Some(train) => Some(DataSpec::Folders { train, val, test }),
            None => {
                self.fail(
                    "data.train",
                    "missing; expected `{x: FOLDER, y: FOLDER}` with the training images and masks",
                );
                None
            }
        }
    }

    /// `{x: FOLDER, y: FOLDER}`, both resolved against the manifest's folder.
    fn pair(&mut self, at: &str, value: Yaml) -> Option<(PathBuf, PathBuf)> {
        let Yaml::Mapping(map) = value else {
            self.fail(at, format!("expected `{{x: IMAGES_FOLDER, y: MASKS_FOLDER}}`, found {}", yaml_kind(&value)));
            return None;
        };
        let (mut x, mut y) = (None, None);
        for (key, value) in map {
            match key.as_str() {
                Some("x") => x = self.path_value(&format!("{at}.x"), value),
                Some("y") => y = self.path_value(&format!("{at}.y"), value),
                other => self.fail(
                    at,
                    format!("unknown key `{}`; expected only `x` (images) and `y` (masks)", other.unwrap_or("?")),
                ),
            }
        }
        if x.is_none() || y.is_none() {
            self.fail(at, "expected both `x` (images folder) and `y` (masks folder)");
        }
        Some((x?, y?))
    }

    /// `data.synthetic`; unset fields take the generator's defaults for `ndim`.
    fn synthetic(&mut self, value: Yaml) -> Option<SynthSpec> {
        let at = "data.synthetic";
        let Yaml::Mapping(map) = value else {
            self.fail(at, format!("expected a mapping such as `{{kind: mito, ndim: 2}}`, found {}", yaml_kind(&value)));
            return None;
        };
        let mut fields = BTreeMap::new();
        for (key, value) in map {
            match key.as_str() {
                Some(k) if SYNTH_KEYS.contains(&k) => {
                    fields.insert(k.to_string(), value);
                }
                other => {
                    let k = other.unwrap_or("?");
                    self.fail(
                        &format!("{at}.{k}"),
                        format!("unknown synthetic data key{}", did_you_mean(k, SYNTH_KEYS)),
                    );
                }
            }
        }
        match fields.remove("kind") {
            None => {}
            Some(Yaml::String(kind)) if kind == "mito" => {}
            Some(other) => {
                self.fail(&format!("{at}.kind"), format!("expected `mito`, found `{}`", yaml_scalar(&other)))
            }
        }
        let params = self.synth_params(at, fields)?;
        Some(SynthSpec { kind: SynthKind::Mito, params })
    }

    fn synth_params(&mut self, at: &str, mut fields: BTreeMap<String, Yaml>) -> Option<SynthParams> {
        let mut int = |p: &mut Self, key: &str| match fields.remove(key) {
            None => Some(None),
            Some(Yaml::Number(n)) if n.as_u64().is_some() => Some(n.as_u64()),
            Some(other) => {
                p.fail(
                    &format!("{at}.{key}"),
                    format!("expected a non-negative integer, found `{}`", yaml_scalar(&other)),
                );
                None
            }
        };
        let (ndim, classes, n_train) = (int(self, "ndim"), int(self, "classes"), int(self, "n_train"));
        let (n_test, seed) = (int(self, "n_test"), int(self, "seed"));
        let size = match fields.remove("size") {
            None => Some(None),
            Some(Yaml::Sequence(items)) if items.iter().all(|i| i.as_u64().is_some()) => {
                Some(Some(items.iter().filter_map(Yaml::as_u64).map(to_usize).collect::<Vec<_>>()))
            }
            Some(other) => {
                self.fail(
                    &format!("{at}.size"),
                    format!("expected a list of sizes such as `[256, 256]`, found `{}`", yaml_scalar(&other)),
                );
                None
            }
        };
        let (ndim, classes, n_train, n_test, seed, size) = (ndim?, classes?, n_train?, n_test?, seed?, size?);
        let mut params = if ndim == Some(3) { SynthParams::default_3d() } else { SynthParams::default_2d() };
        params.ndim = ndim.map_or(params.ndim, to_usize);
        params.n_classes = classes.map_or(params.n_classes, to_usize);
        params.n_train = n_train.map_or(params.n_train, to_usize);
        params.n_test = n_test.map_or(params.n_test, to_usize);
        params.seed = seed.unwrap_or(params.seed);
        params.size = size.unwrap_or(params.size);
        if let Err(SynthError::Invalid { field, expected, got }) = params.validate() {
            let field = if field == "n_classes" { "classes" } else { field };
            self.fail(&format!("{at}.{field}"), format!("expected {expected}, found {got}"));
            return None;
        }
        Some(params)
    }

    /// `gate`: `{baseline: PATH, tolerance: {METRIC: NUMBER, …}}`.
    fn gate(&mut self, value: Yaml) -> Option<Gate> {
        let expected = "expected `{baseline: SNAPSHOT.yaml, tolerance: {METRIC: NUMBER}}`";
        let Yaml::Mapping(map) = value else {
            self.fail("gate", format!("{expected}, found {}", yaml_kind(&value)));
            return None;
        };
        let (mut baseline, mut tolerance) = (None, None);
        for (key, value) in map {
            match key.as_str() {
                Some("baseline") => baseline = Some(self.path_value("gate.baseline", value)),
                Some("tolerance") => tolerance = Some(self.tolerance(value)),
                other => {
                    let k = other.unwrap_or("?");
                    self.fail(
                        &format!("gate.{k}"),
                        format!("unknown gate key{}", did_you_mean(k, &["baseline", "tolerance"])),
                    );
                }
            }
        }
        for (key, present) in [("baseline", baseline.is_some()), ("tolerance", tolerance.is_some())] {
            if !present {
                self.fail(&format!("gate.{key}"), format!("missing; {expected}"));
            }
        }
        Some(Gate { baseline: baseline??, tolerance: tolerance?? })
    }

    fn tolerance(&mut self, value: Yaml) -> Option<BTreeMap<String, f64>> {
        let at = "gate.tolerance";
        let Yaml::Mapping(map) = value else {
            self.fail(at, format!("expected a mapping of metric names to tolerances, found {}", yaml_kind(&value)));
            return None;
        };
        if map.is_empty() {
            self.fail(at, "expected at least one gated metric, such as `{\"iou.merge_patches\": 0.02}`");
            return None;
        }
        let mut out = BTreeMap::new();
        for (key, value) in map {
            let key = key.as_str().map_or_else(|| format!("{key:?}"), str::to_string);
            match value.as_f64() {
                Some(t) if t.is_finite() && t >= 0.0 => {
                    out.insert(key, t);
                }
                _ => self.fail(
                    &format!("{at}.{key}"),
                    format!("expected a non-negative number, found `{}`", yaml_scalar(&value)),
                ),
            }
        }
        Some(out)
    }
}

/// A short rendering of a YAML value for messages.
fn yaml_scalar(value: &Yaml) -> String {
    match to_json(value.clone()) {
        Ok(json) => json.to_string(),
        Err(_) => yaml_kind(value).to_string(),
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Checks the manifest against the config schema before anything runs: every `set` key and grid
/// axis must be a config key (legacy keys included, as `resolve` translates them; keys segsweep
/// ignores are refused, since setting them would change nothing), the base config must load, and
/// the base resolved with the overrides of `set`, of each grid value (each zip row), and finally
/// of each grid cell must pass `config::resolve`, exactly as `segsweep run --set …` would resolve
/// it. Also checks that the grid expands to at least one run. Reads the base file; every problem
/// is reported in one [`ManifestError::Invalid`]. Later steps run only when earlier ones passed,
/// so one mistake is not reported once per cell.
pub fn validate(manifest: &Manifest) -> Result<(), ManifestError> {
    let mut v = Validator { m: manifest, problems: Vec::new() };
    for (key, value) in &manifest.set {
        v.check_key(&format!("set.{key}"), key, value);
    }
    for (axis, values) in manifest.axes() {
        v.check_key(&format!("grid.{axis}"), axis, values.first().unwrap_or(&Value::Null));
    }
    let runs = grid::expand(manifest).unwrap_or_else(|e| {
        v.problems.extend(e.problems());
        Vec::new()
    });
    let base = v.base_layer();
    let Some(base) = base.filter(|_| v.problems.is_empty()) else { return v.finish() };
    let set = v.set_args();
    v.check(&base, &set, |p| {
        let at = match p.origin {
            Origin::Override => "`set`",
            Origin::File(_) => "`base`",
            _ => "`base` with `set`",
        };
        format!("{at}: {}", render(p, None))
    });
    if v.problems.is_empty() {
        v.check_values(&base);
    }
    if v.problems.is_empty() {
        v.check_cells(&base, &runs);
    }
    v.finish()
}

/// Collects schema problems of one manifest.
struct Validator<'a> {
    m: &'a Manifest,
    problems: Vec<String>,
}

impl Validator<'_> {
    fn fail(&mut self, at: &str, message: impl AsRef<str>) {
        self.problems.push(format!("manifest `{}`: {at}: {}", self.m.path.display(), message.as_ref()));
    }

    fn finish(self) -> Result<(), ManifestError> {
        match self.problems.is_empty() {
            true => Ok(()),
            false => Err(ManifestError::Invalid(self.problems)),
        }
    }

    /// `key` (written at `at`) must be a config key segsweep reads, or a legacy one.
    fn check_key(&mut self, at: &str, key: &str, sample: &Value) {
        if keys::known().contains_key(key) {
            return;
        }
        let mut layer = RawLayer::new(Origin::Override);
        layer.values.insert(key.to_string(), sample.clone());
        legacy::translate(&mut layer);
        if !layer.values.contains_key(key) {
            return; // a legacy key; `resolve` translates it the same way
        }
        let message = if keys::is_section(key) {
            "is a section of the config, not a key; name a key under it".to_string()
        } else if let Some(foreign) = keys::foreign(key) {
            format!("is for {}, which segsweep ignores; setting it would not change any run", foreign.belongs_to)
        } else {
            match keys::suggest(key) {
                Some(near) => format!("is not a config key (did you mean `{near}`?)"),
                None => "is not a config key".to_string(),
            }
        };
        self.fail(&format!("`{at}`"), message);
    }

    fn base_layer(&mut self) -> Option<RawLayer> {
        match &self.m.base {
            Base::File(path) => match raw::read_yaml_file(path) {
                Ok(layer) => Some(layer),
                Err(e) => {
                    self.fail("`base`", error_chain(&e));
                    None
                }
            },
            Base::Inline(value) => {
                let mut layer = RawLayer::new(Origin::File(self.m.path.clone()));
                match value {
                    Value::Object(_) => raw::flatten("", value.clone(), &mut layer.values),
                    Value::Null => {}
                    other => {
                        self.fail("`base`", format!("expected a mapping of config keys, found {}", raw::kind(other)))
                    }
                }
                Some(layer)
            }
        }
    }

    fn set_args(&self) -> Vec<String> {
        self.m.set.iter().map(|(k, v)| grid::override_arg(k, v)).collect()
    }

    /// Resolves `base` with `args` as one `--set` layer, as `segsweep run` does; `line` words
    /// each problem (a failure that is not about one key comes with an empty key).
    fn check(&mut self, base: &RawLayer, args: &[String], line: impl Fn(&Problem) -> String) {
        let problems = match raw::parse_overrides(args).and_then(|layer| resolve::resolve(vec![base.clone(), layer])) {
            Ok(_) => return,
            Err(ConfigError::Invalid(problems)) => problems,
            Err(other) => vec![Problem::new("", &Origin::Override, error_chain(&other))],
        };
        for problem in problems {
            let text = line(&problem);
            self.problems.push(format!("manifest `{}`: {text}", self.m.path.display()));
        }
    }

    /// Each value of each axis (each row of a zip group) on top of the base and `set`.
    fn check_values(&mut self, base: &RawLayer) {
        let set = self.set_args();
        for unit in grid::units(self.m) {
            for row in unit {
                let args: Vec<String> =
                    set.iter().cloned().chain(row.iter().map(|(k, v)| grid::override_arg(k, v))).collect();
                match row.as_slice() {
                    [(axis, value)] => self
                        .check(base, &args, |p| format!("`grid.{axis}`: value `{value}`: {}", render(p, Some(axis)))),
                    _ => {
                        let shown: Vec<String> = row.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        self.check(base, &args, |p| format!("`zip`: row `{}`: {}", shown.join(", "), render(p, None)));
                    }
                }
            }
        }
    }

    /// Each grid cell (all its values together) on top of the base and `set`.
    fn check_cells(&mut self, base: &RawLayer, runs: &[grid::RunSpec]) {
        let mut seen = BTreeSet::new();
        for run in runs.iter().filter(|run| seen.insert(run.cell_name.clone())) {
            let shown: Vec<String> = run.cell.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let at = format!("grid cell `{}` ({})", run.cell_name, shown.join(", "));
            self.check(base, &run.overrides, |p| format!("{at}: {}", render(p, None)));
        }
    }
}

/// "`KEY`: message"; just the message when the key is empty or is `known` from the context.
fn render(problem: &Problem, known: Option<&str>) -> String {
    if problem.key.is_empty() || known == Some(problem.key.as_str()) {
        problem.message.clone()
    } else {
        format!("`{}`: {}", problem.key, problem.message)
    }
}

/// An error and its sources, joined with `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEMPLATE: &str = include_str!("../../templates/semantic_segmentation/2d_semantic_segmentation.yaml");

    /// The example manifest of the harness spec.
    const EXAMPLE: &str = "
name: mito
result_dir: results
base: ../templates/semantic_segmentation/2d_semantic_segmentation.yaml
data:
  train: {x: data/mito/train/x, y: data/mito/train/y}
  test:  {x: data/mito/test/x,  y: data/mito/test/y}
set:
  TRAIN.EPOCHS: 30
grid:
  run_id: [1, 2, 3, 4, 5]
  DATA.TEST.OVERLAP: [[0, 0], [0.5, 0.5]]
  DATA.TEST.PADDING: [[0, 0], [16, 16]]
  TEST.POST_PROCESSING.MEDIAN_FILTER: [false, true]
zip: []
exclude: []
gate:
  baseline: ../snapshots/mito.summary.yaml
  tolerance: {\"iou.merge_patches\": 0.02}
";

    /// A folder with `templates/…/2d_semantic_segmentation.yaml` and `experiments/mito.yaml`
    /// holding `manifest`; returns the folder and the manifest's path.
    fn setup(manifest: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let templates = dir.path().join("templates/semantic_segmentation");
        std::fs::create_dir_all(&templates).unwrap();
        std::fs::write(templates.join("2d_semantic_segmentation.yaml"), TEMPLATE).unwrap();
        std::fs::create_dir_all(dir.path().join("experiments")).unwrap();
        let path = dir.path().join("experiments/mito.yaml");
        std::fs::write(&path, manifest).unwrap();
        (dir, path)
    }

    /// The problems of parsing `text` (as `m.yaml`), or of validating it when it parses.
    fn problems(text: &str) -> Vec<String> {
        let (_dir, path) = setup(text);
        match load_manifest(&path).and_then(|m| validate(&m)) {
            Ok(()) => Vec::new(),
            Err(e) => e.problems().iter().map(|p| p.replace(&path.display().to_string(), "m.yaml")).collect(),
        }
    }

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        parse_manifest(text, Path::new("exp/m.yaml"))
    }

    /// A minimal manifest with an inline base and `grid` as given.
    fn with_grid(grid: &str) -> String {
        format!("name: t\nbase: {{TRAIN: {{ENABLE: true}}}}\ngrid:\n{grid}")
    }

    #[test]
    fn parses_the_example_of_the_spec_and_resolves_paths_against_its_folder() {
        let (dir, path) = setup(EXAMPLE);
        let m = load_manifest(&path).unwrap();
        let exp = dir.path().join("experiments");
        assert_eq!(m.name, "mito");
        assert_eq!(m.result_dir, exp.join("results"));
        assert_eq!(m.base, Base::File(exp.join("../templates/semantic_segmentation/2d_semantic_segmentation.yaml")));
        let pair = |split: &str| (exp.join(format!("data/mito/{split}/x")), exp.join(format!("data/mito/{split}/y")));
        assert_eq!(m.data, Some(DataSpec::Folders { train: pair("train"), val: None, test: Some(pair("test")) }));
        assert_eq!(m.set, BTreeMap::from([("TRAIN.EPOCHS".to_string(), json!(30))]));
        let axes: Vec<&str> = m.grid.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(axes, ["run_id", "DATA.TEST.OVERLAP", "DATA.TEST.PADDING", "TEST.POST_PROCESSING.MEDIAN_FILTER"]);
        assert_eq!(m.run_ids(), [1, 2, 3, 4, 5]);
        assert_eq!(m.grid[1].1, vec![json!([0, 0]), json!([0.5, 0.5])]);
        assert!(m.zip.is_empty() && m.exclude.is_empty());
        let gate = m.gate.clone().unwrap();
        assert_eq!(gate.baseline, exp.join("../snapshots/mito.summary.yaml"));
        assert_eq!(gate.tolerance, BTreeMap::from([("iou.merge_patches".to_string(), 0.02)]));
        // As written in the spec, the median filter has no axis: segsweep's config refuses that.
        let problems = validate(&m).unwrap_err().problems();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].ends_with(
            "`grid.TEST.POST_PROCESSING.MEDIAN_FILTER`: value `true`: \
             `TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS`: the median filter needs at least one axis"
        ));
        let text = EXAMPLE.replace(
            "  TRAIN.EPOCHS: 30\n",
            "  TRAIN.EPOCHS: 30\n  TEST.POST_PROCESSING: {MEDIAN_FILTER_AXIS: [yx], MEDIAN_FILTER_SIZE: [5]}\n",
        );
        let (_dir, path) = setup(&text);
        let m = load_manifest(&path).unwrap();
        assert_eq!(m.set["TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS"], json!(["yx"]), "nested `set` is flattened");
        validate(&m).unwrap();
    }

    #[test]
    fn absolute_paths_stay_and_defaults_apply() {
        let m = parse_manifest("name: a\nbase: /cfg/base.yaml\nresult_dir: /tmp/out\n", Path::new("m.yaml")).unwrap();
        assert_eq!(m.base, Base::File(PathBuf::from("/cfg/base.yaml")));
        assert_eq!(m.result_dir, PathBuf::from("/tmp/out"));
        assert_eq!(m.grid, vec![(RUN_ID.to_string(), vec![json!(1)])], "run_id defaults to [1]");
        let m = parse("name: a\nbase: {TRAIN: {ENABLE: true}}\n").unwrap();
        assert_eq!(m.result_dir, PathBuf::from("exp/results"));
        assert_eq!(m.base, Base::Inline(json!({"TRAIN": {"ENABLE": true}})));
        assert_eq!((m.data, m.gate), (None, None));
    }

    #[test]
    fn unknown_manifest_keys_get_a_suggestion() {
        let err = parse("name: a\nbase: b.yaml\ngrids: {}\nexclud: []\nbogus: 1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "3 problems in the manifest:\n  \
             - manifest `exp/m.yaml`: `grids`: unknown manifest key (did you mean `grid`?)\n  \
             - manifest `exp/m.yaml`: `exclud`: unknown manifest key (did you mean `exclude`?)\n  \
             - manifest `exp/m.yaml`: `bogus`: unknown manifest key"
        );
    }

    #[test]
    fn structural_mistakes_are_all_reported_at_once() {
        let text = "name: a/b\nresult_dir: 3\ngrid:\n  TRAIN.EPOCHS: 5\n  DATA.TEST.OVERLAP: []\n  run_id: [0, 2, 2, x]\n\
                    set: {TRAIN.LR: 0.1}\ngate: {baseline: s.yaml, tolerance: {iou: -1}}\n";
        let problems = parse(text).unwrap_err().problems();
        let expected = [
            "`name`: expected a name made of letters, digits, `.`, `_` and `-`, starting with a letter or digit, found `a/b`",
            "`result_dir`: expected a path, found a number",
            "`base`: missing; expected the path of a run config or an inline mapping of config keys",
            "`grid.TRAIN.EPOCHS`: expected a list of values, found a number",
            "`grid.DATA.TEST.OVERLAP`: expected a non-empty list of values; an axis without values makes the grid expand to zero runs",
            "`grid.run_id`: expected positive integers, found `0`",
            "`grid.run_id`: the value `2` is listed twice; expected distinct values",
            "`grid.run_id`: expected positive integers, found `\"x\"`",
            "`gate.tolerance.iou`: expected a non-negative number, found `-1`",
        ];
        let expected: Vec<String> = expected.iter().map(|e| format!("manifest `exp/m.yaml`: {e}")).collect();
        assert_eq!(problems, expected);
    }

    #[test]
    fn bad_yaml_empty_files_and_lists_are_refused() {
        assert!(parse("name: [").unwrap_err().to_string().starts_with("manifest `exp/m.yaml` is not valid YAML: "));
        assert_eq!(
            parse("").unwrap_err().to_string(),
            "manifest `exp/m.yaml` is not valid YAML: the file is empty; expected a mapping with `name`, `base` and `grid`"
        );
        assert!(parse("- 1\n").unwrap_err().to_string().ends_with("found a list"));
        let err = load_manifest(Path::new("/nonexistent/m.yaml")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read manifest `/nonexistent/m.yaml`: "), "{err}");
    }

    #[test]
    fn zip_groups_need_axes_of_equal_lengths() {
        let grid = "  DATA.TEST.OVERLAP: [[0, 0], [0.5, 0.5]]\n  DATA.TEST.PADDING: [[0, 0], [16, 16], [32, 32]]\n";
        let text =
            with_grid(grid) + "zip: [[DATA.TEST.OVERLAP, DATA.TEST.PADDING], [DATA.TEST.OVERLAPS], [run_id], 3]\n";
        let problems = parse(&text).unwrap_err().problems();
        let expected = [
            "`zip[0]`: zipped axes must have equal lengths, but `DATA.TEST.OVERLAP` has 2, `DATA.TEST.PADDING` has 3",
            "`zip[1]`: `DATA.TEST.OVERLAPS` is not a grid axis (did you mean `DATA.TEST.OVERLAP`?)",
            "`zip[2]`: `run_id` cannot be zipped; it always crosses every cell",
            "`zip[3]`: expected a list of groups of axis names, such as `[[DATA.TEST.OVERLAP, DATA.TEST.PADDING]]`; each group a non-empty list of names",
        ];
        let expected: Vec<String> = expected.iter().map(|e| format!("manifest `exp/m.yaml`: {e}")).collect();
        assert_eq!(problems, expected);
    }

    #[test]
    fn exclude_entries_name_axes_and_their_values() {
        let text = with_grid("  TRAIN.EPOCHS: [5, 10]\n") + "exclude: [{TRAIN.EPOCH: 5}, {TRAIN.EPOCHS: 7}, {}]\n";
        let problems = parse(&text).unwrap_err().problems();
        let expected = [
            "`exclude[0]`: `TRAIN.EPOCH` is not a grid axis (did you mean `TRAIN.EPOCHS`?)",
            "`exclude[1]`: `TRAIN.EPOCHS: 7` is not one of the axis values",
            "`exclude[2]`: an empty assignment would drop every run; expected axis: value pairs",
        ];
        let expected: Vec<String> = expected.iter().map(|e| format!("manifest `exp/m.yaml`: {e}")).collect();
        assert_eq!(problems, expected);
        let m = parse(&(with_grid("  TRAIN.EPOCHS: [5, 10.0]\n") + "exclude: [{TRAIN.EPOCHS: 10, run_id: 1}]\n"));
        assert_eq!(m.unwrap().exclude[0]["TRAIN.EPOCHS"], json!(10), "numbers compare by value");
    }

    #[test]
    fn a_key_in_both_set_and_grid_is_refused() {
        let text = with_grid("  TRAIN.EPOCHS: [5, 10]\n") + "set: {TRAIN: {EPOCHS: 3}, run_id: 2}\n";
        let problems = parse(&text).unwrap_err().problems();
        assert_eq!(
            problems,
            [
                "manifest `exp/m.yaml`: `set.run_id`: `run_id` is not a config key; list run ids under `grid`",
                "manifest `exp/m.yaml`: `set.TRAIN.EPOCHS`: is also a grid axis; keep it in one place",
            ]
        );
    }

    #[test]
    fn synthetic_data_takes_defaults_and_checks_its_fields() {
        let m =
            parse("name: s\nbase: b.yaml\ndata:\n  synthetic: {kind: mito, ndim: 3, classes: 3, seed: 7}\n").unwrap();
        let params = SynthParams { n_classes: 3, seed: 7, ..SynthParams::default_3d() };
        assert_eq!(m.data, Some(DataSpec::Synthetic(SynthSpec { kind: SynthKind::Mito, params })));
        let text = "name: s\nbase: b.yaml\ndata:\n  synthetic: {kind: nuclei, n_classes: 2, classes: 5, size: [8, x]}\n  test: {x: a}\n";
        let problems = parse(text).unwrap_err().problems();
        let expected = [
            "`data`: expected either `synthetic` or folders (`train`, `val`, `test`), not both",
            "`data.synthetic.n_classes`: unknown synthetic data key (did you mean `classes`?)",
            "`data.synthetic.kind`: expected `mito`, found `\"nuclei\"`",
            "`data.synthetic.size`: expected a list of sizes such as `[256, 256]`, found `[8,\"x\"]`",
        ];
        let expected: Vec<String> = expected.iter().map(|e| format!("manifest `exp/m.yaml`: {e}")).collect();
        assert_eq!(problems, expected);
        let err = parse("name: s\nbase: b.yaml\ndata: {synthetic: {classes: 5}}\n").unwrap_err();
        assert_eq!(err.to_string(), "manifest `exp/m.yaml`: `data.synthetic.classes`: expected 2 or 3, found 5");
        let err = parse("name: s\nbase: b.yaml\ndata: {test: {x: a, y: b}}\n").unwrap_err();
        assert!(err.to_string().contains("`data.train`: missing"), "{err}");
    }

    #[test]
    fn a_bad_axis_key_gets_a_suggestion_and_every_key_problem_is_listed() {
        let grid = "  TRAIN.EPOCH: [1, 2]\n  DATA.TEST: [1]\n  PROBLEM.INSTANCE_SEG.DATA_CHANNELS: [BC]\n  \
                    TEST.POST_PROCESSING.Z_FILTERING: [false]\n";
        let p = problems(&(with_grid(grid) + "set: {DATA.N_CLASES: 2}\n"));
        assert_eq!(
            p,
            [
                "manifest `m.yaml`: `set.DATA.N_CLASES`: is not a config key (did you mean `DATA.N_CLASSES`?)",
                "manifest `m.yaml`: `grid.TRAIN.EPOCH`: is not a config key (did you mean `TRAIN.EPOCHS`?)",
                "manifest `m.yaml`: `grid.DATA.TEST`: is a section of the config, not a key; name a key under it",
                "manifest `m.yaml`: `grid.PROBLEM.INSTANCE_SEG.DATA_CHANNELS`: is for the instance segmentation workflow, \
                 which segsweep ignores; setting it would not change any run",
            ]
        );
    }

    #[test]
    fn every_wrongly_typed_value_is_listed_in_one_error() {
        let grid = "  DATA.TEST.OVERLAP: [[0, 0], [abc], [0.5, 0.5]]\n  TRAIN.EPOCHS: [10, ten, 2.5]\n";
        let p = problems(&(with_grid(grid) + "zip: []\n"));
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(p[0].starts_with("manifest `m.yaml`: `grid.DATA.TEST.OVERLAP`: value `[\"abc\"]`: "), "{p:#?}");
        assert!(p[1].starts_with("manifest `m.yaml`: `grid.TRAIN.EPOCHS`: value `\"ten\"`: "), "{p:#?}");
        assert!(p[2].starts_with("manifest `m.yaml`: `grid.TRAIN.EPOCHS`: value `2.5`: "), "{p:#?}");
        let err = ManifestError::Invalid(p);
        assert!(err.to_string().starts_with("3 problems in the manifest:\n  - manifest `m.yaml`: "), "{err}");
    }

    #[test]
    fn set_and_base_problems_name_where_they_are() {
        let p = problems("name: t\nbase: {TRAIN: {ENABLE: true, EPOCHS: x}}\nset: {DATA.TEST.PADDING: [a, 0]}\n");
        assert_eq!(p.len(), 2, "{p:#?}");
        assert!(p[0].starts_with("manifest `m.yaml`: `base`: `TRAIN.EPOCHS`: "), "{p:#?}");
        assert!(p[1].starts_with("manifest `m.yaml`: `set`: `DATA.TEST.PADDING`: "), "{p:#?}");
        let p = problems("name: t\nbase: missing.yaml\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("manifest `m.yaml`: `base`: cannot read config `"), "{p:#?}");
    }

    #[test]
    fn legacy_keys_are_accepted_as_axes_and_checked_in_context() {
        // `Z_FILTERING: True` becomes a median filter along z, which needs 2D images read as a stack.
        let grid = "  TEST.POST_PROCESSING.Z_FILTERING: [false, true]\n";
        let p = problems(&with_grid(grid));
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].starts_with("manifest `m.yaml`: `grid.TEST.POST_PROCESSING.Z_FILTERING`: value `true`: "),
            "{p:#?}"
        );
        assert!(p[0].contains("filters along z, which 2D data lack"), "{p:#?}");
        assert_eq!(
            problems(&(with_grid(grid) + "set: {TEST.ANALIZE_2D_IMGS_AS_3D_STACK: true}\n")),
            Vec::<String>::new()
        );
    }

    #[test]
    fn combinations_are_checked_cell_by_cell() {
        // Each value is fine alone; 3D with a 2D patch size is not.
        let grid = "  PROBLEM.NDIM: [2D, 3D]\n  DATA.PATCH_SIZE: [[64, 64, 1], [32, 64, 64, 1]]\n";
        let p = problems(&with_grid(grid));
        assert!(!p.is_empty(), "3D alone has a 2D patch size");
        let p = problems(&(with_grid(grid) + "zip: [[PROBLEM.NDIM, DATA.PATCH_SIZE]]\n"));
        assert_eq!(p, Vec::<String>::new());
        let crossed = "  DATA.PATCH_SIZE: [[64, 64, 1], [80, 80, 1]]\n  \
                       MODEL.FEATURE_MAPS: [[16, 32, 64, 128, 256], [16, 32, 64, 128, 256, 512]]\n";
        let p = problems(&with_grid(crossed));
        assert_eq!(p.len(), 1, "{p:#?}");
        let cell = "grid cell `t-patch_size80x80x1-feature_maps16x32x64x128x256x512` \
                    (DATA.PATCH_SIZE=[80,80,1], MODEL.FEATURE_MAPS=[16,32,64,128,256,512]): `DATA.PATCH_SIZE`: ";
        assert!(p[0].starts_with(&format!("manifest `m.yaml`: {cell}")), "{p:#?}");
    }

    #[test]
    fn odd_inputs_give_errors_not_panics() {
        let odd = [
            "name: a\nbase: b\ngrid: {TRAIN.EPOCHS: [1], TRAIN.EPOCHS: [2]}\n",
            "name: a\nbase: b\ngrid: {TRAIN.LR: [.nan]}\n",
            "name: a\nbase: b\ngrid: {1: [1], run_id: [18446744073709551615, 1.5, -1, null]}\n",
            "name: a\nbase: !tag {X: 1}\nset: {? [1]: 2}\n",
            "name: a\nbase: b\nzip: {a: b}\nexclude: [1, {run_id: [1]}]\ngate: 3\ndata: {synthetic: {size: 7}}\n",
            "name: a\nbase: b\ngate: {tolerance: {}}\ndata: {train: {x: 1, y: \"\", z: 2}}\n",
            "3: 4\n",
            "[a, b]",
            "name: a\nbase: ''\n",
        ];
        for text in odd {
            let result = parse(text);
            assert!(result.is_err(), "{text}: {result:?}");
        }
    }

    #[test]
    fn an_empty_grid_is_an_error() {
        let text = with_grid("  TRAIN.EPOCHS: [5]\n") + "exclude: [{TRAIN.EPOCHS: 5}]\n";
        assert_eq!(problems(&text), ["manifest `m.yaml`: `grid`: the grid expands to zero runs"]);
    }
}
