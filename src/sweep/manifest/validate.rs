//! Validation of a parsed manifest against the config schema (see [`validate`]): every key and
//! value is resolved exactly as `segsweep run --set …` would, and every problem is reported at
//! once. Reads the base config file; runs nothing.

use std::collections::BTreeSet;

use serde_json::Value;

use super::*;
use crate::config::raw::{self, RawLayer};
use crate::config::{ConfigError, Origin, Problem, keys, legacy, resolve};
use crate::sweep::grid;

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
            Ok(loaded) if loaded.config.model.bmz.export.enable => vec![Problem::new(
                "MODEL.BMZ.EXPORT.ENABLE",
                &Origin::Override,
                "packages one run's model, which a sweep does not do: export a cell's checkpoint with \
                 `segsweep export CONFIG CHECKPOINT --bmz OUT.zip` (or set it in a `segsweep run` config)",
            )],
            Ok(loaded) if loaded.config.model.source == "bmz" => vec![Problem::new(
                "MODEL.SOURCE",
                &Origin::Override,
                "`bmz` runs a BioImage Model Zoo package with `segsweep run`; a sweep's cached stages do not take one yet",
            )],
            Ok(loaded) if takes_keys_from_a_pth(&loaded.config) => vec![Problem::new(
                "MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT",
                &Origin::Override,
                "`norm` / `model_arch` take keys from a `.pth` checkpoint's saved config, which a sweep's stage keys \
                 cannot see: set those keys in the manifest and list only `weights`",
            )],
            Ok(loaded) if loaded.config.test.reuse_predictions => vec![Problem::new(
                "TEST.REUSE_PREDICTIONS",
                &Origin::Override,
                "reads an earlier `segsweep run`'s `per_image/`; a sweep re-uses its cached inference by itself",
            )],
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

/// `MODEL.LOAD_CHECKPOINT` from a `.pth` with `norm` or `model_arch` to load: `segsweep run`
/// takes those keys from the checkpoint's saved config.
fn takes_keys_from_a_pth(config: &crate::config::Config) -> bool {
    let model = &config.model;
    model.load_checkpoint
        && model.source == "biapy"
        && (config.paths.checkpoint_file.ends_with(".pth") || config.paths.checkpoint_file.ends_with(".pt"))
        && model.items_to_load_from_checkpoint.iter().any(|i| i == "norm" || i == "model_arch")
}
