//! Tests of manifest parsing, validation and their error messages.

use std::path::Path;

use super::*;
use serde_json::json;

const TEMPLATE: &str = include_str!("../../../templates/semantic_segmentation/2d_semantic_segmentation.yaml");

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
    let text = with_grid(grid) + "zip: [[DATA.TEST.OVERLAP, DATA.TEST.PADDING], [DATA.TEST.OVERLAPS], [run_id], 3]\n";
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
    let m = parse("name: s\nbase: b.yaml\ndata:\n  synthetic: {kind: mito, ndim: 3, classes: 3, seed: 7}\n").unwrap();
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
fn switches_that_a_sweep_cannot_honour_are_refused_with_their_reason() {
    let p = problems(&with_grid("  run_id: [1]\n  TEST.REUSE_PREDICTIONS: [true]\n"));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].contains("grid.TEST.REUSE_PREDICTIONS") && p[0].contains("re-uses its cached inference"), "{p:#?}");
    let pth = "  run_id: [1]\n  MODEL.LOAD_CHECKPOINT: [true]\n  PATHS.CHECKPOINT_FILE: [biapy.pth]\n";
    let p = problems(&with_grid(pth));
    assert!(p.len() == 1 && p[0].contains("list only `weights`"), "{p:#?}");
    let only_weights = format!("{pth}  MODEL.ITEMS_TO_LOAD_FROM_CHECKPOINT: [[weights]]\n");
    assert!(problems(&with_grid(&only_weights)).is_empty());
    let p = problems(&with_grid("  run_id: [1]\n  MODEL.BMZ.EXPORT.ENABLE: [true]\n"));
    assert!(p.len() == 1 && p[0].contains("MODEL.BMZ.EXPORT.ENABLE"), "{p:#?}");
}

#[test]
fn legacy_keys_are_accepted_as_axes_and_checked_in_context() {
    // `Z_FILTERING: True` becomes a median filter along z, which needs 2D images read as a stack.
    let grid = "  TEST.POST_PROCESSING.Z_FILTERING: [false, true]\n";
    let p = problems(&with_grid(grid));
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(p[0].starts_with("manifest `m.yaml`: `grid.TEST.POST_PROCESSING.Z_FILTERING`: value `true`: "), "{p:#?}");
    assert!(p[0].contains("filters along z, which 2D data lack"), "{p:#?}");
    assert_eq!(problems(&(with_grid(grid) + "set: {TEST.ANALIZE_2D_IMGS_AS_3D_STACK: true}\n")), Vec::<String>::new());
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

#[test]
fn resources_are_parsed_per_stage_and_every_mistake_is_named() {
    let text = format!(
        "{}resources:\n  train: {{gpus: 1, cpus: 8, mem: 32G, time: \"04:00:00\", partition: gpu, requeue: true}}\n  all: {{account: mylab, extra: [\"--constraint=a100\"], setup: [\"module load cuda\"]}}\n",
        with_grid("  run_id: [1]\n")
    );
    let manifest = parse(&text).unwrap();
    let train = manifest.resources.of(crate::sweep::cache::Stage::Train);
    assert_eq!((train.gpus, train.cpus, train.mem.as_deref()), (Some(1), Some(8), Some("32G")));
    assert_eq!((train.account.as_deref(), train.requeue), (Some("mylab"), Some(true)));
    assert_eq!(manifest.resources.of(crate::sweep::cache::Stage::Infer).extra, ["--constraint=a100"]);
    let bad = format!(
        "{}resources:\n  trian: {{cpus: 2}}\n  infer: {{cpu: 2, mem: 16GB, time: 1h, gpus: -1, extra: [constraint=a100]}}\n",
        with_grid("  run_id: [1]\n")
    );
    let found = problems(&bad).join("\n");
    for expected in [
        "`resources.trian`: unknown stage (did you mean `train`?)",
        "`resources.infer.cpu`: unknown resource (did you mean `cpus`?)",
        "`resources.infer.mem`: expected a memory size such as `16G`",
        "`resources.infer.time`: expected a Slurm time",
        "`resources.infer.gpus`: expected a whole number ≥ 0, found `-1`",
        "`resources.infer.extra`: expected sbatch options such as `--constraint=a100`, found `constraint=a100`",
    ] {
        assert!(found.contains(expected), "{expected}\nnot in:\n{found}");
    }
}
