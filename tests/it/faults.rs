//! Fault injection (issue 8) through the test-only switches of `src/fault.rs`: a disk that fills
//! up after N bytes (`SEGSWEEP_FAULT_WRITE_AFTER_BYTES`) and a read-only results folder
//! (`SEGSWEEP_FAULT_READ_ONLY`; tests run as root, where `chmod` stops no write). Each fault must
//! give a clear error naming the file, leave the previous good state as it was, and a sweep run
//! again once space returns must end with the uninterrupted sweep's results.

use std::collections::BTreeSet;
use std::path::Path;

use crate::drill_core::{check_completions, compare, snapshot, temporaries, write_manifest};
use crate::util::{TestDir, repo_root, segsweep_with};

fn ci_text() -> String {
    std::fs::read_to_string(repo_root().join("experiments/ci.yaml")).unwrap()
}

/// The finished entries of the cache under `root` (`stage/key`); each must have its record.
fn finished_entries(root: &Path) -> BTreeSet<String> {
    let mut entries = BTreeSet::new();
    for stage in ["train", "infer", "evaluate"] {
        let Ok(dir) = std::fs::read_dir(root.join("results/.cache").join(stage)) else { continue };
        for entry in dir.map(Result::unwrap) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.contains('.') {
                assert!(entry.path().join("record.json").exists(), "entry {stage}/{name} has no record.json");
                entries.insert(format!("{stage}/{name}"));
            }
        }
    }
    entries
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_sweep_resumes_once_space_returns() {
    let reference = TestDir::new();
    let manifest = write_manifest(&reference.join("r"), &ci_text()).unwrap();
    assert_eq!(segsweep_with(&["sweep", manifest.to_str().unwrap()], &[]).code, 0);
    let expected = snapshot(&reference.join("r"), "ci").unwrap();
    // Budgets that run out while writing the data, checkpoints, TIFF predictions and reports
    // (a clean CI sweep commits about 1.4 MB).
    let mut named = BTreeSet::new();
    for budget in ["0", "100000", "600000", "1000000", "1300000"] {
        let dir = TestDir::new();
        let root = dir.join("r");
        let manifest = write_manifest(&root, &ci_text()).unwrap();
        let manifest = manifest.to_str().unwrap();
        let full = segsweep_with(&["sweep", manifest], &[("SEGSWEEP_FAULT_WRITE_AFTER_BYTES", budget)]);
        let said = format!("{}{}", full.stdout, full.stderr);
        assert_eq!(full.code, 2, "budget {budget}: {said}");
        assert!(said.contains("No space left on device") && !said.contains("panicked"), "budget {budget}: {said}");
        for (kind, ends) in [
            ("checkpoint", &[".safetensors`", ".bpk`"][..]),
            ("tiff", &[".tif`"][..]),
            ("report", &[".csv`", ".md`", ".png`"][..]),
        ] {
            if ends.iter().any(|e| said.lines().any(|l| l.contains("No space") && l.contains(e))) {
                named.insert(kind);
            }
        }
        finished_entries(&root);
        assert_eq!(temporaries(&root.join("results")), Vec::<std::path::PathBuf>::new(), "budget {budget}");
        let again = segsweep_with(&["sweep", manifest], &[]);
        assert_eq!(again.code, 0, "budget {budget}: {}{}", again.stdout, again.stderr);
        check_completions(&root, &finished_entries(&root)).unwrap();
        compare(&expected, &snapshot(&root, "ci").unwrap()).unwrap_or_else(|e| panic!("budget {budget}: {e}"));
    }
    assert_eq!(named, BTreeSet::from(["checkpoint", "report", "tiff"]), "the budgets reach every kind of file");
}

#[test]
fn a_failed_write_keeps_the_previous_reports_and_entries() {
    let dir = TestDir::new();
    let root = dir.join("r");
    let manifest = write_manifest(&root, &ci_text()).unwrap();
    let manifest = manifest.to_str().unwrap();
    assert_eq!(segsweep_with(&["sweep", manifest], &[]).code, 0);
    let before = snapshot(&root, "ci").unwrap();
    let entries = finished_entries(&root);
    // A third overlap: its inference cannot write a byte, and neither can the reports.
    let more = ci_text().replace("[[0, 0], [0.5, 0.5]]", "[[0, 0], [0.5, 0.5], [0.25, 0.25]]");
    std::fs::write(manifest, &more).unwrap();
    let full = segsweep_with(&["sweep", manifest], &[("SEGSWEEP_FAULT_WRITE_AFTER_BYTES", "0")]);
    assert_eq!(full.code, 2, "{}{}", full.stdout, full.stderr);
    assert!(full.stdout.contains("2 failed") || full.stderr.contains("No space left on device"), "{}", full.stderr);
    assert!(full.stderr.contains("cannot write `") && full.stderr.contains("runs.csv`"), "{}", full.stderr);
    assert_eq!(finished_entries(&root), entries, "no entry is added, none is lost");
    let after = snapshot(&root, "ci").unwrap();
    let reports: Vec<&String> = before.keys().filter(|k| k.starts_with("sweep/")).collect();
    assert_eq!(reports.len(), 11, "{reports:?}");
    for report in reports {
        assert_eq!(before[report], after[report], "`{report}` is the previous complete report");
    }
    let again = segsweep_with(&["sweep", manifest], &[]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("6 runs, 0 trainings run, 0 failed"), "{}", again.stdout);
}

#[test]
fn a_read_only_results_folder_is_a_clear_error_and_nothing_looks_finished() {
    let dir = TestDir::new();
    let data = crate::util::tiny_synthetic_set(&dir, 2, 4, 2);
    let results = dir.join("results");
    let config = dir.write(
        "cfg.yaml",
        "PROBLEM: {NDIM: 2D}\nDATA: {PATCH_SIZE: [32, 32, 1], TEST: {LOAD_GT: True}}\nMODEL: {FEATURE_MAPS: [4, 8, 16]}\nTRAIN: {ENABLE: True, EPOCHS: 1, BATCH_SIZE: 4}\nTEST: {ENABLE: True}\n",
    );
    let path = |s: &str| format!("{}", data.join(s).display());
    let sets = [
        format!("DATA.TRAIN.PATH={}", path("train/x")),
        format!("DATA.TRAIN.GT_PATH={}", path("train/y")),
        format!("DATA.TEST.PATH={}", path("test/x")),
        format!("DATA.TEST.GT_PATH={}", path("test/y")),
    ];
    let mut args = vec!["run", "--config", config.to_str().unwrap(), "--result_dir", results.to_str().unwrap()];
    args.extend(["--name", "ro", "--run_id", "1"]);
    for set in &sets {
        args.extend(["--set", set.as_str()]);
    }
    let read_only = segsweep_with(&args, &[("SEGSWEEP_FAULT_READ_ONLY", results.to_str().unwrap())]);
    assert_eq!(read_only.code, 2, "{}{}", read_only.stdout, read_only.stderr);
    assert!(
        read_only.stderr.contains("Read-only file system") && read_only.stderr.contains(results.to_str().unwrap()),
        "{}",
        read_only.stderr
    );
    assert!(!read_only.stderr.contains("panicked"));
    let mut written = Vec::new();
    crate::drill_core::walk_files(&results, &mut |p| written.push(p.to_path_buf()));
    assert!(written.iter().all(|p| !p.ends_with("test_results_metrics.csv")), "{written:?}");
    assert_eq!(temporaries(&results), Vec::<std::path::PathBuf>::new());
    let writable = segsweep_with(&args, &[]);
    assert_eq!(writable.code, 0, "{}{}", writable.stdout, writable.stderr);
    assert!(results.join("ro/results/ro_1/test_results_metrics.csv").exists());
}

#[test]
fn a_benchmark_switch_in_the_environment_refuses_run_train_and_sweep() {
    let dir = TestDir::new();
    let manifest = dir.join("ci.yaml");
    std::fs::write(&manifest, ci_text()).unwrap();
    let config = repo_root().join("experiments/demo_2d.yaml");
    let results = dir.join("results");
    let run_args = |command: &'static str| {
        vec![command, "--config", config.to_str().unwrap(), "--result_dir", results.to_str().unwrap()]
    };
    for switch in [("SEGSWEEP_FLEX_UPSTREAM_CONV", "1"), ("SEGSWEEP_TCH_CONV_GRAD", "upstream")] {
        for args in [vec!["sweep", manifest.to_str().unwrap()], run_args("run"), run_args("train")] {
            let out = segsweep_with(&args, &[switch]);
            assert_eq!(out.code, 2, "{args:?} {switch:?}: {}", out.stderr);
            assert!(out.stderr.contains(&format!("`{}` is set", switch.0)), "{}", out.stderr);
        }
    }
    assert!(!results.exists(), "nothing was computed");
}
