//! `segsweep sweep` on the CI manifest: the grid runs through the stage cache (two trainings for
//! four runs), a second sweep executes no stage and writes identical reports, a new inference
//! value re-runs only infer and evaluate, `--dry-run` says what is cached, and a bad manifest is
//! one error naming the culprit.

use std::path::PathBuf;

use crate::util::{TestDir, repo_root, segsweep};

/// The CI manifest copied into a temporary folder (its results land beside it).
fn ci_manifest(dir: &TestDir, extra_overlap: bool) -> PathBuf {
    let mut text = std::fs::read_to_string(repo_root().join("experiments/ci.yaml")).unwrap();
    if extra_overlap {
        text = text.replace(
            "DATA.TEST.OVERLAP: [[0, 0], [0.5, 0.5]]",
            "DATA.TEST.OVERLAP: [[0, 0], [0.5, 0.5], [0.25, 0.25]]",
        );
    }
    dir.write("exp/ci.yaml", &text)
}

fn sweep(manifest: &std::path::Path, extra: &[&str]) -> crate::util::Output {
    let mut args = vec!["sweep", manifest.to_str().unwrap()];
    args.extend_from_slice(extra);
    segsweep(&args)
}

#[test]
fn cached_stages_are_never_run_twice() {
    let dir = TestDir::new();
    let manifest = ci_manifest(&dir, false);
    let first = sweep(&manifest, &[]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    assert!(first.stdout.contains("4 runs, 2 trainings run, 0 failed"), "{}", first.stdout);
    assert!(
        first.stdout.contains("[3/4] ci-ov0.5 run_id 1: train cached, infer ran, evaluate ran"),
        "{}",
        first.stdout
    );
    let reports = dir.join("results/ci/sweep");
    let read = |name: &str| std::fs::read_to_string(reports.join(name)).unwrap();
    let (summary, compare) = (read("summary.csv"), read("compare.csv"));
    for file in ["runs.csv", "report.md", "iou_per_variant.png", "loss_curves.png", "per_image_iou.png"] {
        assert!(reports.join(file).exists(), "{file} missing");
    }
    assert!(dir.join("results/ci/ci-ov0.5/results/ci-ov0.5_2/per_image_binarized/0000.tif").exists());
    assert!(dir.join("results/ci/ci/checkpoints/ci_1-checkpoint-best.safetensors").exists());

    let dry = sweep(&manifest, &["--dry-run"]);
    assert_eq!(dry.code, 0);
    assert_eq!(dry.stdout.matches("train cached, infer cached, evaluate cached").count(), 4, "{}", dry.stdout);

    let second = sweep(&manifest, &[]);
    assert_eq!(second.code, 0);
    assert!(second.stdout.contains("4 runs, 0 trainings run, 0 failed"), "{}", second.stdout);
    assert_eq!(second.stdout.matches("train cached, infer cached, evaluate cached").count(), 4);
    assert_eq!(
        (read("summary.csv"), read("compare.csv")),
        (summary.clone(), compare),
        "identical reports from the cache"
    );

    // The regression gate against the committed baseline (CI fails when the means move).
    let snapshots = dir.join("snapshots");
    std::fs::create_dir_all(&snapshots).unwrap();
    std::fs::copy(repo_root().join("snapshots/ci.summary.yaml"), snapshots.join("ci.summary.yaml")).unwrap();
    let gate = segsweep(&["check", manifest.to_str().unwrap()]);
    assert_eq!(gate.code, 0, "{}\n{}", gate.stdout, gate.stderr);
    assert!(gate.stdout.contains("0 of 2 gated means moved beyond their tolerance"), "{}", gate.stdout);
    let rounded: Vec<String> = summary
        .lines()
        .map(|line| {
            line.split(',')
                .map(|v| {
                    v.parse::<f64>()
                        .map(|x| if v.contains('.') { format!("{x:.2}") } else { v.to_string() })
                        .unwrap_or(v.to_string())
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    insta::with_settings!({snapshot_path => repo_root().join("snapshots"), prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("ci_sweep_summary_rounded", rounded.join("\n"));
    });
    let moved = std::fs::read_to_string(snapshots.join("ci.summary.yaml"))
        .unwrap()
        .replace("iou.merge_patches: 0.", "iou.merge_patches: 0.9");
    std::fs::write(snapshots.join("ci.summary.yaml"), moved).unwrap();
    let gate = segsweep(&["check", manifest.to_str().unwrap()]);
    assert_eq!(gate.code, 1, "a regression exits 1: {}", gate.stdout);
    assert!(gate.stdout.contains("| FAIL |"));
    std::fs::write(snapshots.join("ci.summary.yaml"), "manifest: other\nmeans: {}\n").unwrap();
    let gate = segsweep(&["check", manifest.to_str().unwrap()]);
    assert_eq!(gate.code, 2);
    assert!(gate.stderr.contains("is for manifest `other`, not `ci`"), "{}", gate.stderr);

    let why = segsweep(&["why", manifest.to_str().unwrap(), "ci-ov0.5_2"]);
    assert_eq!(why.code, 0, "{}", why.stderr);
    assert_eq!(why.stdout.matches(": cached (").count(), 3, "{}", why.stdout);

    let more = ci_manifest(&dir, true);
    let why = segsweep(&["why", more.to_str().unwrap(), "ci-ov0.25_1"]);
    assert_eq!(why.code, 0, "{}", why.stderr);
    assert!(why.stdout.starts_with("train: cached ("), "{}", why.stdout);
    assert!(
        why.stdout.contains("infer: to run (")
            && why.stdout.contains("config.DATA.TEST.OVERLAP: [")
            && why.stdout.contains("] → [0.25,0.25]"),
        "{}",
        why.stdout
    );
    let third = sweep(&more, &[]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(third.stdout.contains("6 runs, 0 trainings run, 0 failed"), "{}", third.stdout);
    assert_eq!(third.stdout.matches("train cached, infer ran, evaluate ran").count(), 2, "{}", third.stdout);
}

#[test]
fn a_bad_axis_is_one_error_with_a_suggestion() {
    let dir = TestDir::new();
    let text = std::fs::read_to_string(repo_root().join("experiments/ci.yaml"))
        .unwrap()
        .replace("DATA.TEST.OVERLAP:", "DATA.TEST.OVERLAPS:");
    let manifest = dir.write("exp/ci.yaml", &text);
    let out = sweep(&manifest, &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains("DATA.TEST.OVERLAPS") && out.stderr.contains("did you mean `DATA.TEST.OVERLAP`"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_killed_sweep_resumes_and_ends_with_the_uninterrupted_numbers() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let straight = TestDir::new();
    let manifest = ci_manifest(&straight, false);
    assert_eq!(sweep(&manifest, &[]).code, 0);
    let expected = std::fs::read_to_string(straight.join("results/ci/sweep/summary.csv")).unwrap();

    let dir = TestDir::new();
    let manifest = ci_manifest(&dir, false);
    let train_cache = dir.join("results/.cache/train");
    let mut child = Command::new(env!("CARGO_BIN_EXE_segsweep"))
        .args(["sweep", manifest.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a training has finished its first epoch but not the stage.
    let resume_point_exists = || {
        std::fs::read_dir(&train_cache).into_iter().flatten().filter_map(Result::ok).any(|e| {
            e.file_name().to_string_lossy().ends_with(".partial")
                && e.path().join("checkpoints/run-resume.json").exists()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !resume_point_exists() && Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let rerun = sweep(&manifest, &[]);
    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let entries: Vec<String> = std::fs::read_dir(&train_cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!entries.iter().any(|n| n.ends_with(".partial")), "no half entry is left: {entries:?}");
    assert_eq!(std::fs::read_to_string(dir.join("results/ci/sweep/summary.csv")).unwrap(), expected);
}

#[test]
fn two_jobs_at_once_give_the_same_numbers_and_train_each_model_once() {
    let one = TestDir::new();
    let manifest = ci_manifest(&one, false);
    assert_eq!(sweep(&manifest, &[]).code, 0);
    let two = TestDir::new();
    let manifest = ci_manifest(&two, false);
    let out = sweep(&manifest, &["--jobs", "2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("4 runs, 2 trainings run, 0 failed"),
        "the lock per key shares trainings: {}",
        out.stdout
    );
    let summary = |dir: &TestDir| std::fs::read_to_string(dir.join("results/ci/sweep/summary.csv")).unwrap();
    assert_eq!(summary(&one), summary(&two));
}

#[test]
fn gc_removes_what_no_manifest_refers_to() {
    let dir = TestDir::new();
    let more = ci_manifest(&dir, true);
    assert_eq!(sweep(&more, &[]).code, 0);
    let base = ci_manifest(&dir, false);
    let gc = segsweep(&["gc", base.parent().unwrap().to_str().unwrap()]);
    assert_eq!(gc.code, 0, "{}", gc.stderr);
    assert_eq!(
        gc.stdout.matches("removed ").count(),
        4,
        "two infer and two evaluate entries of the dropped overlap: {}",
        gc.stdout
    );
    assert!(gc.stdout.contains("freed "));
    let dry = sweep(&base, &["--dry-run"]);
    assert_eq!(dry.stdout.matches("train cached, infer cached, evaluate cached").count(), 4, "{}", dry.stdout);
}

#[test]
fn a_corrupt_record_is_a_warning_and_the_stage_runs_again() {
    let dir = TestDir::new();
    let manifest = ci_manifest(&dir, false);
    assert_eq!(sweep(&manifest, &[]).code, 0);
    let evaluate = dir.join("results/.cache/evaluate");
    let entry = std::fs::read_dir(&evaluate).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    std::fs::write(entry.join("record.json"), "{ not json").unwrap();
    let again = sweep(&manifest, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.contains("is corrupt") && again.stdout.contains("running the stage again"),
        "{}",
        again.stdout
    );
    assert_eq!(again.stdout.matches("evaluate ran").count(), 1, "{}", again.stdout);
    let forced = sweep(&manifest, &["--force", "infer"]);
    assert_eq!(forced.stdout.matches("train cached, infer ran, evaluate ran").count(), 4, "{}", forced.stdout);
}

/// The per-image chart and its CSV draw the IoU of the masks each run wrote: after the median
/// filter in a filtered cell (they once drew the merged patches' IoU in every cell, so the
/// filtered boxes were copies of the unfiltered ones).
#[test]
fn per_image_numbers_are_the_written_masks_of_each_cell() {
    let dir = TestDir::new();
    let text = std::fs::read_to_string(repo_root().join("experiments/ci.yaml"))
        .unwrap()
        .replace("  run_id: [1, 2]\n  DATA.TEST.OVERLAP: [[0, 0], [0.5, 0.5]]\n", "  run_id: [1]\n  TEST.POST_PROCESSING.MEDIAN_FILTER: [false, true]\n")
        .replace("data:\n", "set:\n  TEST.POST_PROCESSING.MEDIAN_FILTER_AXIS: [xy]\n  TEST.POST_PROCESSING.MEDIAN_FILTER_SIZE: [5]\ndata:\n")
        .replace("gate:\n  baseline: ../snapshots/ci.summary.yaml\n  tolerance: {\"iou.merge_patches\": 0.02}\n", "");
    assert!(text.contains("MEDIAN_FILTER: [false, true]") && !text.contains("gate:"), "{text}");
    let manifest = dir.write("exp/mf.yaml", &text);
    let out = sweep(&manifest, &[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let reports = dir.join("results/ci/sweep");
    let csv = std::fs::read_to_string(reports.join("per_image_iou.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("cell,run_id,image,metric,value"));
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_string).collect()).collect();
    let cells: std::collections::BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(cells.len(), 2, "{csv}");
    let filtered_cell =
        *cells.iter().find(|c| c.contains("mf") || c.contains("MEDIAN")).unwrap_or_else(|| panic!("{csv}"));
    let plain_cell = *cells.iter().find(|c| **c != filtered_cell).unwrap();
    let metrics = |cell: &str| -> serde_json::Value {
        let path = dir.join(&format!("results/ci/{cell}/results/{cell}_1/metrics.json"));
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
            .unwrap()
    };
    let values_of = |cell: &str| -> Vec<(String, f64)> {
        rows.iter().filter(|r| r[0] == cell).map(|r| (r[2].clone(), r[4].parse().unwrap())).collect()
    };
    let level = |cell: &str, key: &str| -> Vec<(String, f64)> {
        metrics(cell)["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| Some((i["file"].as_str()?.to_string(), i[key].as_f64()?)))
            .collect()
    };
    let filtered = values_of(filtered_cell);
    assert!(!filtered.is_empty());
    assert_eq!(filtered, level(filtered_cell, "iou_post_processing"), "the filtered cell draws its post-processed IoU");
    assert_eq!(values_of(plain_cell), level(plain_cell, "iou_merge_patches"), "the plain cell draws its merged IoU");
    assert_ne!(filtered, values_of(plain_cell), "the filter changed the masks");
    for chart in ["iou_per_variant", "loss_curves", "per_image_iou"] {
        assert!(
            reports.join(format!("{chart}.png")).exists() && reports.join(format!("{chart}.csv")).exists(),
            "{chart}"
        );
    }
    let report = std::fs::read_to_string(reports.join("report.md")).unwrap();
    assert!(report.contains("### iou.written_masks per image") && report.contains("(per_image_iou.csv)"), "{report}");
}

/// `--dry-run` on an empty cache: cells that differ only in inference share their training, and
/// the totals count each stage once; the real sweep then names its headline metric per run.
#[test]
fn a_dry_run_shows_shared_stages_and_totals() {
    let dir = TestDir::new();
    let manifest = ci_manifest(&dir, false);
    let dry = sweep(&manifest, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stdout.contains("[1/4] ci run_id 1: train to run, infer to run, evaluate to run"), "{}", dry.stdout);
    assert!(
        dry.stdout.contains("[3/4] ci-ov0.5 run_id 1: train shared with [1/4], infer to run, evaluate to run"),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("4 runs: 2 trainings, 4 inferences, 4 evaluations to run"), "{}", dry.stdout);
    let real = sweep(&manifest, &[]);
    assert_eq!(real.code, 0, "{}", real.stderr);
    assert_eq!(real.stdout.matches("; iou.written_masks 0.").count(), 4, "{}", real.stdout);
    let again = sweep(&manifest, &["--dry-run"]);
    assert!(again.stdout.contains("4 runs: 0 trainings, 0 inferences, 0 evaluations to run"), "{}", again.stdout);
}
