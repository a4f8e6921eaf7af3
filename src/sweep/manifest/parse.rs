//! Reading a manifest file: YAML → [`Manifest`] with every path resolved against the
//! manifest's folder and its structure checked (unknown keys, types, `zip`, `exclude`,
//! `run_id`), every problem collected in one pass; and telling a manifest from a run config.
//!
//! Owns: the YAML-level parsing and its messages. Must not: check config keys or values (that is
//! [`super::validate`]), expand the grid, or touch anything but the file it reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_yaml::Value as Yaml;

use super::*;
use crate::config::raw;
use crate::data::synth::{SynthError, SynthParams};
use crate::sweep::grid::same_value;

/// The top-level keys a manifest may have.
const TOP_KEYS: &[&str] = &["name", "result_dir", "base", "data", "set", "grid", "zip", "exclude", "gate", "resources"];

/// What a YAML file in an experiments folder is, by its top-level keys.
#[derive(Debug)]
pub enum YamlFile {
    /// Has manifest keys (`name`, `base`, `grid`, …): parsed and validated.
    Manifest(Box<Manifest>),
    /// A BiaPy-style run config: upper-case sections only (`PROBLEM`, `DATA`, …).
    RunConfig,
}

/// Reads `path` and tells a manifest from a run config without guessing: a mapping with any
/// manifest key is a manifest and must parse and validate (its error is returned); one whose
/// keys are all upper-case config sections is a run config; anything else is an error.
pub fn classify(path: &Path) -> Result<YamlFile, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.into(), source })?;
    let yaml: Yaml =
        serde_yaml::from_str(&text).map_err(|e| ManifestError::Yaml { path: path.into(), message: e.to_string() })?;
    let keys: Vec<String> = match &yaml {
        Yaml::Mapping(map) => map.keys().map(|k| k.as_str().unwrap_or_default().to_string()).collect(),
        _ => Vec::new(),
    };
    let is_section = |k: &String| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_');
    if keys.iter().any(|k| TOP_KEYS.contains(&k.as_str())) {
        let manifest = parse_manifest(&text, path)?;
        validate(&manifest)?;
        Ok(YamlFile::Manifest(Box::new(manifest)))
    } else if !keys.is_empty() && keys.iter().all(is_section) {
        Ok(YamlFile::RunConfig)
    } else {
        Err(ManifestError::Yaml {
            path: path.into(),
            message: format!(
                "neither a manifest (top-level `name`, `base`, `grid`, …) nor a run config (upper-case sections such as `PROBLEM`, `DATA`); found {}",
                if keys.is_empty() { yaml_kind(&yaml).to_string() } else { format!("keys {}", keys.join(", ")) }
            ),
        })
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
pub(super) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    let best = candidates.iter().map(|c| (*c, strsim::levenshtein(word, c))).min_by_key(|&(_, d)| d);
    match best {
        Some((c, d)) if d <= (word.len() / 3).max(2) => format!(" (did you mean `{c}`?)"),
        _ => String::new(),
    }
}

pub(super) fn yaml_kind(value: &Yaml) -> &'static str {
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
pub(super) struct Parser {
    path: PathBuf,
    dir: PathBuf,
    problems: Vec<String>,
}

impl Parser {
    pub(super) fn fail(&mut self, key: &str, message: impl AsRef<str>) {
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
        let resources = fields.remove("resources").map(|v| self.resources(v)).unwrap_or_default();
        for key in set.keys().filter(|k| grid.iter().any(|(axis, _)| axis == *k)) {
            self.fail(&format!("set.{key}"), "is also a grid axis; keep it in one place");
        }
        Manifest { path: self.path.clone(), name, result_dir, base, data, set, grid, zip, exclude, gate, resources }
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
