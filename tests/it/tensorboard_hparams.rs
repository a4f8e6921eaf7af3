//! The sweep's HParams summaries read by TensorBoard itself: `tests/python/check_hparams.py`
//! loads `sweep/tensorboard/` with TensorBoard's `EventAccumulator` and its HParams plugin's own
//! metadata parsers, in the Python of `SEGSWEEP_PYTHON` (the venv `.ci/run` makes from the
//! registry). Without it the test says it is skipped; with `SEGSWEEP_REQUIRE_PYTHON=1` (set by
//! `.ci/run` once the venv works) a missing one fails it instead.

use std::process::Command;

use crate::util::{TestDir, available_or_skip, repo_root, segsweep};

/// The Python with TensorBoard (else the test is skipped, or fails in CI).
fn python_with_tensorboard() -> Option<String> {
    let python = std::env::var("SEGSWEEP_PYTHON").unwrap_or_else(|_| "python3".into());
    let works = Command::new(&python).args(["-c", "import tensorboard"]).output().is_ok_and(|o| o.status.success());
    let missing = format!("`{python}` has no tensorboard (set SEGSWEEP_PYTHON to a venv with it)");
    available_or_skip("tensorboard_hparams", works, "SEGSWEEP_REQUIRE_PYTHON", &missing).then_some(python)
}

#[test]
fn tensorboard_reads_the_grid_as_hparams_with_each_runs_metrics() {
    let Some(python) = python_with_tensorboard() else { return };
    let dir = TestDir::new();
    let text = std::fs::read_to_string(repo_root().join("experiments/ci.yaml")).unwrap();
    let manifest = dir.write("exp/ci.yaml", &text);
    let sweep = segsweep(&["sweep", manifest.to_str().unwrap()]);
    assert_eq!(sweep.code, 0, "{}\n{}", sweep.stdout, sweep.stderr);
    let board = dir.join("results/ci/sweep/tensorboard");
    let out = Command::new(&python)
        .arg(repo_root().join("tests/python/check_hparams.py"))
        .arg(&board)
        .output()
        .expect("run python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let hparams = &seen["experiment"]["hparams"];
    assert_eq!(hparams.as_object().unwrap().len(), 1, "the one axis; run_id is the session, not a hyper-parameter");
    assert_eq!(hparams["DATA.TEST.OVERLAP"]["domain"], serde_json::json!(["[0,0]", "[0.5,0.5]"]));
    let metrics = seen["experiment"]["metrics"].as_array().unwrap();
    assert!(
        metrics.contains(&serde_json::json!("iou.written_masks")) && metrics.contains(&serde_json::json!("val.loss"))
    );

    let sessions = seen["sessions"].as_object().unwrap();
    assert_eq!(sessions.keys().collect::<Vec<_>>(), ["ci-ov0.5_1", "ci-ov0.5_2", "ci_1", "ci_2"]);
    let mut runs = csv::Reader::from_path(dir.join("results/ci/sweep/runs.csv")).unwrap();
    let column = runs.headers().unwrap().iter().position(|h| h == "iou.written_masks").unwrap();
    for record in runs.records() {
        let fields: Vec<String> = record.unwrap().iter().map(String::from).collect();
        let session = &sessions[&format!("{}_{}", fields[0], fields[1])];
        assert_eq!(session["group"], fields[0].as_str(), "the cell is the session group");
        assert_eq!(session["status"], 1, "STATUS_SUCCESS");
        let expected: f64 = fields[column].parse().unwrap();
        let got = session["metrics"]["iou.written_masks"].as_f64().unwrap();
        assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
        let overlap = if fields[0] == "ci" { "[0,0]" } else { "[0.5,0.5]" };
        assert_eq!(session["hparams"]["DATA.TEST.OVERLAP"], overlap);
    }
}
