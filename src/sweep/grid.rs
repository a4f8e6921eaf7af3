//! Grid expansion: from a [`Manifest`] to the list of runs it describes ([`expand`]), each with
//! its grid values, its `--set` overrides and a readable, folder-safe job name ([`cell_name`]).
//!
//! Owns: the order of runs, the zip/cross/exclude semantics and the naming of cells. Must not:
//! read files, check config keys or types (that is `manifest::validate`), or print.
//!
//! Naming: the reference cell is the first value of every axis; a cell's name is the manifest's
//! name followed by one `-token` per axis whose value differs from the reference, in axis order.
//! Tokens, by key:
//!
//! | key | token |
//! |---|---|
//! | `DATA.TEST.OVERLAP` | `ov<value>` |
//! | `DATA.TEST.PADDING` | `pad<value>` |
//! | `TEST.POST_PROCESSING.MEDIAN_FILTER` | `mf` / `nomf` |
//! | `TEST.POST_PROCESSING.Z_FILTERING` | `zf` / `nozf` |
//! | `TEST.POST_PROCESSING.YZ_FILTERING` | `yzf` / `noyzf` |
//! | `TEST.AUGMENTATION` | `tta` / `notta` |
//! | `TEST.FULL_IMG` | `full` / `nofull` |
//! | `TRAIN.EPOCHS` | `ep<value>` |
//! | `TRAIN.LR` | `lr<value>` |
//! | `MODEL.ARCHITECTURE` | the value itself |
//! | any other key | its last component, lower-cased, then the value (`no<component>` for false) |
//!
//! Booleans give the bare abbreviation for true and `no` + abbreviation for false. Values: a
//! list whose items are all equal collapses to one item (`[0.5, 0.5]` → `0.5`); other lists join
//! their items with `x` (numbers) or `.` (anything else); an empty list or null is `none`.
//! Characters outside `[A-Za-z0-9._-]` become `-` (`+` becomes `p`, so `resunet++` reads
//! `resunetpp`). A name longer than [`MAX_NAME`] characters is cut and ends in a hash of the
//! whole name. [`expand`] makes names unique: cells whose names collide all get `-<cell number>`.
//!
//! The job name of a run is its cell name (what is passed as `--name`); BiaPy's job id, and so
//! the run's folder, is `<cell name>_<run_id>`, e.g. `mito-ov0.5-pad16-mf_3`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::manifest::{Manifest, ManifestError, RUN_ID};
use crate::data::hash::sha256_hex;

/// The longest cell name [`cell_name`] returns.
pub const MAX_NAME: usize = 120;

/// The most runs one manifest may expand to (a guard against a typo that multiplies the grid).
pub const MAX_RUNS: usize = 100_000;

/// Abbreviations of common axes in cell names (see the module table).
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("DATA.TEST.OVERLAP", "ov"),
    ("DATA.TEST.PADDING", "pad"),
    ("TEST.POST_PROCESSING.MEDIAN_FILTER", "mf"),
    ("TEST.POST_PROCESSING.Z_FILTERING", "zf"),
    ("TEST.POST_PROCESSING.YZ_FILTERING", "yzf"),
    ("TEST.AUGMENTATION", "tta"),
    ("TEST.FULL_IMG", "full"),
    ("TRAIN.EPOCHS", "ep"),
    ("TRAIN.LR", "lr"),
];

/// One run of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    /// BiaPy's `--run_id`.
    pub run_id: u64,
    /// The cell's axis values, in manifest axis order, without `run_id`.
    pub cell: Vec<(String, Value)>,
    /// `KEY=VALUE` for every `set` entry (sorted by key) then every cell value, VALUE as compact
    /// JSON (which `--set` reads as YAML flow); later entries win. The manifest's `data` is not
    /// in here: pointing `DATA.*.PATH` at the folders (or the generated set) is the runner's job.
    pub overrides: Vec<String>,
    /// The name passed as `--name`; equal to [`RunSpec::cell_name`]. The run's folder is
    /// `<job_name>_<run_id>`.
    pub job_name: String,
    /// The cell's unique, folder-safe name (see the module documentation).
    pub cell_name: String,
}

/// Every run of `manifest`: the cartesian product of the axes (the axes of a zip group vary
/// together, at the place of the group's first axis), first axis slowest and `run_id` fastest,
/// without the runs an `exclude` entry matches. Cell names are made unique over the whole
/// product before excluding, so adding an `exclude` never renames another cell. Errors when the
/// grid expands to zero runs or to more than [`MAX_RUNS`], and when an `exclude` entry matches
/// no run. Reads no file and checks no config key: call [`validate`](super::manifest::validate).
pub fn expand(manifest: &Manifest) -> Result<Vec<RunSpec>, ManifestError> {
    let at = |key: &str, message: String| format!("manifest `{}`: `{key}`: {message}", manifest.path.display());
    let units = units(manifest);
    let run_ids = manifest.run_ids();
    let total = units.iter().map(Vec::len).chain([run_ids.len()]).try_fold(1usize, usize::checked_mul);
    if total.is_none_or(|n| n > MAX_RUNS) {
        let message = format!("the grid expands to more than {MAX_RUNS} runs; split the manifest or use `zip`");
        return Err(ManifestError::Invalid(vec![at("grid", message)]));
    }
    let cells = product(manifest, &units);
    let names = unique_names(&cells, manifest);
    let mut matched = vec![false; manifest.exclude.len()];
    let mut runs = Vec::new();
    for (cell, name) in cells.into_iter().zip(names) {
        for &run_id in &run_ids {
            let hits: Vec<usize> =
                (0..manifest.exclude.len()).filter(|&i| excludes(&manifest.exclude[i], &cell, run_id)).collect();
            hits.iter().for_each(|&i| matched[i] = true);
            if hits.is_empty() {
                let overrides = overrides(manifest, &cell);
                runs.push(RunSpec {
                    run_id,
                    cell: cell.clone(),
                    overrides,
                    job_name: name.clone(),
                    cell_name: name.clone(),
                });
            }
        }
    }
    let mut problems: Vec<String> = (0..matched.len())
        .filter(|&i| !matched[i])
        .map(|i| at(&format!("exclude[{i}]"), "matches no run of the grid".to_string()))
        .collect();
    if runs.is_empty() {
        problems.push(at("grid", "the grid expands to zero runs".to_string()));
    }
    match problems.is_empty() {
        true => Ok(runs),
        false => Err(ManifestError::Invalid(problems)),
    }
}

/// The factors of the product, in manifest order: one per axis not in a zip group, one per zip
/// group at the place of its first axis. Each factor is its list of rows; a row assigns values
/// to the factor's axes. `run_id` is not a factor.
pub fn units(manifest: &Manifest) -> Vec<Vec<Vec<(String, Value)>>> {
    let mut done = BTreeSet::new();
    let mut units = Vec::new();
    for (axis, values) in manifest.axes() {
        if done.contains(axis) {
            continue;
        }
        let group = manifest.zip.iter().find(|g| g.contains(axis)).cloned().unwrap_or_else(|| vec![axis.clone()]);
        let members: Vec<&(String, Vec<Value>)> = manifest.axes().filter(|(k, _)| group.contains(k)).collect();
        let rows = members.iter().map(|(_, v)| v.len()).min().unwrap_or(values.len());
        let unit: Vec<Vec<(String, Value)>> =
            (0..rows).map(|i| members.iter().map(|(k, v)| (k.clone(), v[i].clone())).collect()).collect();
        done.extend(members.iter().map(|(k, _)| k.clone()));
        units.push(unit);
    }
    units
}

/// The cells of the product of `units`, first unit slowest, values in manifest axis order.
fn product(manifest: &Manifest, units: &[Vec<Vec<(String, Value)>>]) -> Vec<Vec<(String, Value)>> {
    let order: BTreeMap<&str, usize> = manifest.axes().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect();
    let mut cells: Vec<Vec<(String, Value)>> = vec![Vec::new()];
    for unit in units {
        cells = cells.iter().flat_map(|cell| unit.iter().map(move |row| [cell.as_slice(), row].concat())).collect();
    }
    for cell in &mut cells {
        cell.sort_by_key(|(k, _)| order.get(k.as_str()).copied().unwrap_or(usize::MAX));
    }
    cells
}

/// True when every entry of `assignment` holds for this cell and run id.
fn excludes(assignment: &BTreeMap<String, Value>, cell: &[(String, Value)], run_id: u64) -> bool {
    assignment.iter().all(|(key, wanted)| match key.as_str() {
        RUN_ID => same_value(wanted, &Value::from(run_id)),
        _ => cell.iter().any(|(k, v)| k == key && same_value(v, wanted)),
    })
}

/// The `--set` arguments of a cell: `set`, then the cell's values.
fn overrides(manifest: &Manifest, cell: &[(String, Value)]) -> Vec<String> {
    manifest.set.iter().chain(cell.iter().map(|(k, v)| (k, v))).map(|(k, v)| override_arg(k, v)).collect()
}

/// `KEY=VALUE` with VALUE as compact JSON, which `config::raw::parse_overrides` reads back as the
/// same value.
pub fn override_arg(key: &str, value: &Value) -> String {
    format!("{key}={value}")
}

/// The names of `cells`, made unique: every cell of a colliding group gets `-<cell number>`
/// (1-based, in expansion order), lengthened further in the unlikely case that is taken too.
fn unique_names(cells: &[Vec<(String, Value)>], manifest: &Manifest) -> Vec<String> {
    let reference: Vec<(String, Value)> =
        manifest.axes().filter_map(|(k, values)| values.first().map(|v| (k.clone(), v.clone()))).collect();
    let natural: Vec<String> = cells.iter().map(|cell| cell_name(&manifest.name, cell, &reference)).collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    natural.iter().for_each(|n| *counts.entry(n).or_default() += 1);
    let mut taken: BTreeSet<String> = natural.iter().filter(|n| counts[n.as_str()] == 1).cloned().collect();
    let mut names = Vec::with_capacity(natural.len());
    for (i, name) in natural.iter().enumerate() {
        if counts[name.as_str()] == 1 {
            names.push(name.clone());
            continue;
        }
        let mut candidate = format!("{name}-{}", i + 1);
        let mut extra = 1;
        while taken.contains(&candidate) {
            extra += 1;
            candidate = format!("{name}-{}-{extra}", i + 1);
        }
        taken.insert(candidate.clone());
        names.push(candidate);
    }
    names
}

/// The readable name of `cell`: `manifest_name` then one token per axis whose value differs from
/// `reference` (see the module documentation). Folder-safe, at most [`MAX_NAME`] characters; not
/// necessarily unique on its own ([`expand`] makes names unique).
pub fn cell_name(manifest_name: &str, cell: &[(String, Value)], reference: &[(String, Value)]) -> String {
    let mut name = sanitize(manifest_name);
    for (key, value) in cell {
        let is_reference = reference.iter().any(|(k, v)| k == key && same_value(v, value));
        if !is_reference {
            name.push('-');
            name.push_str(&sanitize(&token(key, value)));
        }
    }
    if name.chars().count() <= MAX_NAME {
        return name;
    }
    let hash = sha256_hex(name.as_bytes());
    let kept: String = name.chars().take(MAX_NAME - 9).collect();
    format!("{kept}-{}", &hash[..8])
}

/// The token of one axis value.
fn token(key: &str, value: &Value) -> String {
    if key == "MODEL.ARCHITECTURE" {
        return render(value);
    }
    let prefix = ABBREVIATIONS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| key.rsplit('.').next().unwrap_or(key).to_lowercase(), |(_, short)| short.to_string());
    match collapse(value) {
        Value::Bool(true) => prefix,
        Value::Bool(false) => format!("no{prefix}"),
        other => format!("{prefix}{}", render(other)),
    }
}

/// A list of equal items as its first item; anything else as it is.
fn collapse(value: &Value) -> &Value {
    match value {
        Value::Array(items) if !items.is_empty() && items.iter().all(|i| same_value(i, &items[0])) => {
            collapse(&items[0])
        }
        other => other,
    }
}

/// A value as a short string, before sanitising.
fn render(value: &Value) -> String {
    match collapse(value) {
        Value::Null => "none".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.is_empty() => "none".to_string(),
        Value::Array(items) => {
            let separator = if items.iter().all(Value::is_number) { "x" } else { "." };
            items.iter().map(render).collect::<Vec<_>>().join(separator)
        }
        other => other.to_string(),
    }
}

/// Keeps `[A-Za-z0-9._-]`; `+` becomes `p`, anything else `-`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') => c,
            '+' => 'p',
            _ => '-',
        })
        .collect()
}

/// Equality of manifest values with numbers compared by value (`1`, `1.0` and `1e0` are equal).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::manifest::parse_manifest;
    use serde_json::json;
    use std::path::Path;

    fn manifest(grid: &str, extra: &str) -> Manifest {
        let text = format!("name: mito\nbase: b.yaml\ngrid:\n{grid}{extra}");
        parse_manifest(&text, Path::new("m.yaml")).unwrap()
    }

    /// `(cell name, run_id)` of every run.
    fn runs(m: &Manifest) -> Vec<(String, u64)> {
        expand(m).unwrap().into_iter().map(|r| (r.cell_name, r.run_id)).collect()
    }

    fn pairs(expected: &[(&str, u64)]) -> Vec<(String, u64)> {
        expected.iter().map(|&(n, r)| (n.to_string(), r)).collect()
    }

    const EXAMPLE_GRID: &str = "  run_id: [1, 2, 3, 4, 5]\n  DATA.TEST.OVERLAP: [[0, 0], [0.5, 0.5]]\n  \
                                DATA.TEST.PADDING: [[0, 0], [16, 16]]\n  TEST.POST_PROCESSING.MEDIAN_FILTER: [false, true]\n";

    #[test]
    fn the_spec_example_expands_to_eight_cells_of_five_runs_with_readable_names() {
        let m = manifest(EXAMPLE_GRID, "set: {TRAIN.EPOCHS: 30}\n");
        let runs = expand(&m).unwrap();
        assert_eq!(runs.len(), 40);
        let cells: Vec<&str> = runs.iter().step_by(5).map(|r| r.cell_name.as_str()).collect();
        assert_eq!(
            cells,
            [
                "mito",
                "mito-mf",
                "mito-pad16",
                "mito-pad16-mf",
                "mito-ov0.5",
                "mito-ov0.5-mf",
                "mito-ov0.5-pad16",
                "mito-ov0.5-pad16-mf"
            ]
        );
        let last = &runs[37];
        assert_eq!((last.run_id, last.job_name.as_str()), (3, "mito-ov0.5-pad16-mf"));
        assert_eq!(last.job_name, last.cell_name, "the job name is the cell name; BiaPy appends `_<run_id>`");
        assert_eq!(format!("{}_{}", last.job_name, last.run_id), "mito-ov0.5-pad16-mf_3");
        assert_eq!(
            last.cell,
            vec![
                ("DATA.TEST.OVERLAP".to_string(), json!([0.5, 0.5])),
                ("DATA.TEST.PADDING".to_string(), json!([16, 16])),
                ("TEST.POST_PROCESSING.MEDIAN_FILTER".to_string(), json!(true)),
            ]
        );
        assert_eq!(
            last.overrides,
            [
                "TRAIN.EPOCHS=30",
                "DATA.TEST.OVERLAP=[0.5,0.5]",
                "DATA.TEST.PADDING=[16,16]",
                "TEST.POST_PROCESSING.MEDIAN_FILTER=true"
            ]
        );
    }

    #[test]
    fn first_axis_slowest_and_run_id_fastest_wherever_it_is_written() {
        let m = manifest("  TRAIN.EPOCHS: [5, 10]\n  run_id: [2, 1]\n  TEST.FULL_IMG: [false, true]\n", "");
        let expected = [
            ("mito", 2),
            ("mito", 1),
            ("mito-full", 2),
            ("mito-full", 1),
            ("mito-ep10", 2),
            ("mito-ep10", 1),
            ("mito-ep10-full", 2),
            ("mito-ep10-full", 1),
        ];
        assert_eq!(runs(&m), pairs(&expected));
    }

    #[test]
    fn run_id_defaults_to_one_and_a_grid_without_axes_is_one_run() {
        let m = parse_manifest("name: solo\nbase: b.yaml\n", Path::new("m.yaml")).unwrap();
        let runs = expand(&m).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!((runs[0].run_id, runs[0].cell_name.as_str(), runs[0].cell.len()), (1, "solo", 0));
    }

    #[test]
    fn zipped_axes_vary_together_at_the_place_of_their_first_axis() {
        let grid = "  DATA.TEST.OVERLAP: [[0, 0], [0.5, 0.5]]\n  TEST.AUGMENTATION: [false, true]\n  \
                    DATA.TEST.PADDING: [[0, 0], [32, 32]]\n";
        let m = manifest(grid, "zip: [[DATA.TEST.OVERLAP, DATA.TEST.PADDING]]\n");
        let expected = [("mito", 1), ("mito-tta", 1), ("mito-ov0.5-pad32", 1), ("mito-ov0.5-tta-pad32", 1)];
        assert_eq!(runs(&m), pairs(&expected));
        let cell = &expand(&m).unwrap()[2].cell;
        let keys: Vec<&str> = cell.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["DATA.TEST.OVERLAP", "TEST.AUGMENTATION", "DATA.TEST.PADDING"], "manifest axis order");
    }

    #[test]
    fn excluded_runs_are_dropped() {
        let grid = "  run_id: [1, 2]\n  TRAIN.EPOCHS: [5, 10]\n  TEST.AUGMENTATION: [false, true]\n";
        let m =
            manifest(grid, "exclude: [{TRAIN.EPOCHS: 10.0, TEST.AUGMENTATION: true}, {run_id: 2, TRAIN.EPOCHS: 5}]\n");
        let expected = [("mito", 1), ("mito-tta", 1), ("mito-ep10", 1), ("mito-ep10", 2)];
        assert_eq!(runs(&m), pairs(&expected));
    }

    #[test]
    fn an_exclude_matching_nothing_and_a_grid_of_zero_runs_are_errors() {
        let grid = "  DATA.TEST.OVERLAP: [[0, 0], [0.5, 0.5]]\n  DATA.TEST.PADDING: [[0, 0], [32, 32]]\n";
        let zip = "zip: [[DATA.TEST.OVERLAP, DATA.TEST.PADDING]]\n";
        let m =
            manifest(grid, &format!("{zip}exclude: [{{DATA.TEST.OVERLAP: [0, 0], DATA.TEST.PADDING: [32, 32]}}]\n"));
        assert_eq!(expand(&m).unwrap_err().to_string(), "manifest `m.yaml`: `exclude[0]`: matches no run of the grid");
        let m = manifest("  TRAIN.EPOCHS: [5]\n  run_id: [1, 2]\n", "exclude: [{TRAIN.EPOCHS: 5}]\n");
        assert_eq!(expand(&m).unwrap_err().to_string(), "manifest `m.yaml`: `grid`: the grid expands to zero runs");
        let mut m = manifest("  TRAIN.EPOCHS: [5]\n", "");
        m.grid[0].1.clear();
        assert_eq!(expand(&m).unwrap_err().to_string(), "manifest `m.yaml`: `grid`: the grid expands to zero runs");
    }

    #[test]
    fn a_grid_too_large_to_run_is_refused() {
        let axis =
            |key: &str| format!("  {key}: [{}]\n", (1..=100).map(|i| i.to_string()).collect::<Vec<_>>().join(", "));
        let m = manifest(&(axis("TRAIN.EPOCHS") + &axis("TRAIN.PATIENCE") + &axis("DATA.N_CLASSES")), "");
        assert!(expand(&m).unwrap_err().to_string().contains("more than 100000 runs"));
    }

    #[test]
    fn cell_names_follow_the_abbreviation_table() {
        let name = |key: &str, reference: Value, value: Value| {
            cell_name("m", &[(key.to_string(), value)], &[(key.to_string(), reference)])
        };
        assert_eq!(name("DATA.TEST.OVERLAP", json!([0, 0]), json!([0.5, 0.5])), "m-ov0.5");
        assert_eq!(name("DATA.TEST.OVERLAP", json!([0, 0]), json!([0.0, 0.0])), "m", "the reference gets no token");
        assert_eq!(name("DATA.TEST.PADDING", json!([0, 0]), json!([16, 32])), "m-pad16x32");
        assert_eq!(name("TEST.POST_PROCESSING.MEDIAN_FILTER", json!(true), json!(false)), "m-nomf");
        assert_eq!(name("TEST.AUGMENTATION", json!(false), json!(true)), "m-tta");
        assert_eq!(name("TEST.FULL_IMG", json!(false), json!(true)), "m-full");
        assert_eq!(name("TRAIN.EPOCHS", json!(5), json!(30)), "m-ep30");
        assert_eq!(name("TRAIN.LR", json!([0.001]), json!([0.0001])), "m-lr0.0001");
        assert_eq!(name("TRAIN.LR", json!(0.001), json!(1e-5)), "m-lr0.00001");
        assert_eq!(name("MODEL.ARCHITECTURE", json!("unet"), json!("resunet++")), "m-resunetpp");
        assert_eq!(name("TEST.POST_PROCESSING.Z_FILTERING", json!(false), json!(true)), "m-zf");
        assert_eq!(name("DATA.N_CLASSES", json!(2), json!(3)), "m-n_classes3");
        assert_eq!(name("AUGMENTOR.VFLIP", json!(true), json!(false)), "m-novflip");
        assert_eq!(name("LOSS.TYPE", json!(["CE"]), json!(["DICE", "CE"])), "m-typeDICE.CE");
        assert_eq!(name("TRAIN.OPTIMIZER", json!("SGD"), json!("a b/c")), "m-optimizera-b-c");
        assert_eq!(name("MODEL.DROPOUT_VALUES", json!([0.1]), json!([])), "m-dropout_valuesnone");
    }

    #[test]
    fn long_names_are_cut_with_a_hash_and_stay_folder_safe() {
        let cell = vec![("TRAIN.OPTIMIZER".to_string(), json!("x".repeat(300)))];
        let long = cell_name("m", &cell, &[]);
        assert_eq!(long.len(), MAX_NAME);
        let other = cell_name("m", &[("TRAIN.OPTIMIZER".to_string(), json!("x".repeat(301)))], &[]);
        assert_ne!(long, other);
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    }

    #[test]
    fn colliding_cell_names_get_their_cell_number() {
        let grid = "  DATA.TRAIN.OVERLAP: [[0, 0], [0.5, 0.5]]\n  DATA.VAL.OVERLAP: [[0, 0], [0.5, 0.5]]\n";
        let m = manifest(grid, "");
        let expected =
            [("mito", 1), ("mito-overlap0.5-2", 1), ("mito-overlap0.5-3", 1), ("mito-overlap0.5-overlap0.5", 1)];
        assert_eq!(runs(&m), pairs(&expected));
        let m = manifest("  TRAIN.OPTIMIZER: [SGD, a/b, a_b, a-b]\n", "");
        let names: BTreeSet<String> = runs(&m).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 4, "{names:?}");
    }

    #[test]
    fn overrides_read_back_as_the_same_values() {
        let values = [
            json!(1e-5),
            json!(0.5),
            json!(-3),
            json!("2D"),
            json!("true"),
            json!("a: b"),
            json!("(256, 256, 1)"),
            json!([[0.9, 0.999]]),
            json!(null),
            json!(""),
        ];
        for value in values {
            let arg = override_arg("TRAIN.X", &value);
            let layer = crate::config::raw::parse_overrides(std::slice::from_ref(&arg)).unwrap();
            assert!(same_value(&layer.values["TRAIN.X"], &value), "{arg} read back as {:?}", layer.values["TRAIN.X"]);
        }
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(same_value(&json!([1, 0.5]), &json!([1.0, 0.5])));
        assert!(same_value(&json!({"a": 1}), &json!({"a": 1.0})));
        assert!(!same_value(&json!("1"), &json!(1)));
        assert!(!same_value(&json!([1]), &json!([1, 1])));
    }
}
