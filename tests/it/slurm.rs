//! `--executor slurm` against a real Slurm (the one-node cluster `.ci/slurm-up` starts): the CI
//! sweep through Slurm equals the local one and is submitted once; a failing task stops only its
//! own dependents and resubmission runs exactly what is missing; `status` is a snapshot; a
//! refused `resources` value and a missing Slurm are one error each and leave nothing recorded.
//!
//! Without a Slurm controller these tests say they are skipped; with `SEGSWEEP_REQUIRE_SLURM=1`
//! (set by `.ci/run` once its cluster is up) a missing controller fails them instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{TestDir, available_or_skip, repo_root, segsweep, segsweep_with};

/// Whether a Slurm controller answers (else the test is skipped, or fails in CI).
fn slurm_ready(test: &str) -> bool {
    let answers = Command::new("sinfo").arg("-h").output().is_ok_and(|o| o.status.success());
    let missing = "no Slurm controller answers `sinfo` (`.ci/slurm-up` starts one)";
    available_or_skip(test, answers, "SEGSWEEP_REQUIRE_SLURM", missing)
}

/// The CI manifest, without its gate, in `dir/exp/ci.yaml` (results in `dir/results`), with
/// `resources` appended when given.
fn ci_manifest(dir: &TestDir, resources: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("experiments/ci.yaml")).unwrap();
    let text = text.split("\ngate:").next().unwrap().to_string();
    dir.write("exp/ci.yaml", &format!("{text}\n{resources}"))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn reports(dir: &TestDir) -> (String, String) {
    let read = |name: &str| std::fs::read_to_string(dir.join("results/ci/sweep").join(name)).unwrap();
    (read("summary.csv"), read("compare.csv"))
}

#[test]
fn a_sweep_through_slurm_equals_the_local_one_and_is_submitted_once() {
    if !slurm_ready("a_sweep_through_slurm_equals_the_local_one_and_is_submitted_once") {
        return;
    }
    let local_dir = TestDir::new();
    let local = segsweep(&["sweep", path(&ci_manifest(&local_dir, ""))]);
    assert_eq!(local.code, 0, "{}\n{}", local.stdout, local.stderr);

    let dir = TestDir::new();
    // Resources change no key: the trainings ask for one of the cluster's (fake) GPUs.
    let resources =
        "resources:\n  train: {gpus: 1, cpus: 1, mem: 500M, time: \"10:00\"}\n  all: {setup: [\"echo setup ran\"]}\n";
    let manifest = ci_manifest(&dir, resources);
    let first = segsweep(&["sweep", path(&manifest), "--executor", "slurm"]);
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    for line in
        ["submitted train: 2 tasks as job", "submitted infer: 4 tasks as job", "submitted evaluate: 4 tasks as job"]
    {
        assert!(first.stdout.contains(line), "{line}\n{}", first.stdout);
    }
    let again = segsweep(&["sweep", path(&manifest), "--executor", "slurm"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.stdout.contains("nothing to submit"), "queued stages are not submitted twice:\n{}", again.stdout);

    let watched = segsweep(&["status", path(&manifest), "--watch"]);
    assert_eq!(watched.code, 0, "{}\n{}", watched.stdout, watched.stderr);
    assert!(watched.stdout.contains("4 runs, 12 stages: 12 cached, 0 queued, 0 running, 0 failed, 0 missing"));
    assert_eq!(reports(&dir), reports(&local_dir), "summary.csv and compare.csv as the local executor's");
    assert!(dir.join("results/ci/ci-ov0.5/results/ci-ov0.5_2/per_image_binarized/0000.tif").exists());
    let logs = std::fs::read_dir(dir.join("results/.slurm/ci")).unwrap().filter_map(Result::ok);
    assert_eq!(logs.filter(|e| e.file_name().to_string_lossy().ends_with(".log")).count(), 10);

    let train_log = std::fs::read_dir(dir.join("results/.slurm/ci"))
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("train-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap();
    assert!(train_log.starts_with("setup ran\n"), "{train_log}");
    assert!(
        train_log.contains("on flex, 1 threads, CUDA_VISIBLE_DEVICES="),
        "Slurm's CPUs and GPU reach the task: {train_log}"
    );
    let third = segsweep(&["sweep", path(&manifest), "--executor", "slurm"]);
    assert!(third.stdout.contains("nothing to submit: 10 stages cached, 0 waiting or running"), "{}", third.stdout);
}

#[test]
fn a_failed_task_stops_only_its_dependents_and_resubmission_runs_what_is_missing() {
    if !slurm_ready("a_failed_task_stops_only_its_dependents_and_resubmission_runs_what_is_missing") {
        return;
    }
    let dir = TestDir::new();
    let manifest = ci_manifest(&dir, "");
    let fault = [("SEGSWEEP_FAULT_FAIL_STAGE", "train:2")];
    let failed = segsweep_with(&["sweep", path(&manifest), "--executor", "slurm", "--watch"], &fault);
    assert_eq!(failed.code, 2, "{}\n{}", failed.stdout, failed.stderr);
    assert!(failed.stdout.contains("4 runs, 2 failed; reports in"), "{}", failed.stdout);
    let runs = std::fs::read_to_string(dir.join("results/ci/sweep/runs.csv")).unwrap();
    assert_eq!(runs.matches("train failed under Slurm").count(), 2, "{runs}");
    assert!(runs.contains("injected failure") && runs.contains(".slurm/ci/train-"), "the reason and the log: {runs}");

    // The failed training cancelled exactly its own dependents: they never ran (no log).
    let logs: Vec<(String, String)> = std::fs::read_dir(dir.join("results/.slurm/ci"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap_or_default()))
        .filter(|(name, _)| name.ends_with(".log"))
        .collect();
    let failed_log = &logs.iter().find(|(_, text)| text.contains("injected failure")).unwrap().1;
    let cancelled = failed_log.split("cancelled the tasks that needed this entry: ").nth(1).unwrap();
    assert_eq!(cancelled.lines().next().unwrap().split(' ').count(), 4, "2 inferences and 2 evaluations: {failed_log}");
    let ran = |stage: &str| logs.iter().filter(|(name, _)| name.starts_with(stage)).count();
    assert_eq!((ran("train-"), ran("infer-"), ran("evaluate-")), (2, 2, 2), "{logs:?}");
    let status = segsweep(&["status", path(&manifest)]);
    assert_eq!(status.code, 2);
    let shown = redact(&status.stdout, &dir);
    insta::with_settings!({snapshot_path => repo_root().join("snapshots"), prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("slurm_status_after_a_failed_training", shown);
    });

    let again = segsweep(&["sweep", path(&manifest), "--executor", "slurm", "--watch"]);
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    for line in
        ["submitted train: 1 task as job", "submitted infer: 2 tasks as job", "submitted evaluate: 2 tasks as job"]
    {
        assert!(again.stdout.contains(line), "exactly the missing stages: {line}\n{}", again.stdout);
    }
    assert!(again.stdout.contains("12 cached, 0 queued, 0 running, 0 failed, 0 missing"), "{}", again.stdout);
    assert!(dir.join("results/ci/sweep/summary.csv").exists());
}

/// Job ids, stage keys and the temporary folder out of `status` output.
fn redact(text: &str, dir: &TestDir) -> String {
    let root = dir.join("").display().to_string();
    let mut out = String::new();
    for word in text.replace(root.trim_end_matches('/'), "<dir>").split_inclusive([' ', '(', ')', '\n', '-', ',']) {
        let (body, tail) = word.split_at(word.trim_end_matches([' ', '(', ')', '\n', '-', ',']).len());
        let is_job = body.split_once('_').is_some_and(|(a, b)| {
            [a, b.trim_end_matches(".log")].iter().all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        });
        let is_key = body.len() == 12 && body.bytes().all(|c| c.is_ascii_hexdigit());
        if is_job {
            out.push_str(if body.ends_with(".log") { "<job>.log" } else { "<job>" });
        } else if is_key {
            out.push_str("<key>");
        } else {
            out.push_str(body);
        }
        out.push_str(tail);
    }
    out
}

#[test]
fn a_partition_slurm_refuses_is_its_error_with_the_stage_named_and_nothing_recorded() {
    if !slurm_ready("a_partition_slurm_refuses_is_its_error_with_the_stage_named_and_nothing_recorded") {
        return;
    }
    let dir = TestDir::new();
    let manifest = ci_manifest(&dir, "resources:\n  evaluate: {partition: nosuchpartition}\n");
    let refused = segsweep(&["sweep", path(&manifest), "--executor", "slurm"]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(refused.stderr.contains("submitting the evaluate stage (4 tasks)"), "{}", refused.stderr);
    assert!(refused.stderr.to_lowercase().contains("invalid partition"), "sbatch's own words: {}", refused.stderr);
    assert!(refused.stderr.contains("were cancelled"), "{}", refused.stderr);
    assert!(!dir.join("results/.slurm/ci/submissions.jsonl").exists(), "nothing half-submitted is recorded");
    let status = segsweep(&["status", path(&manifest)]);
    assert!(status.stdout.contains("0 cached, 0 queued, 0 running, 0 failed, 12 missing"), "{}", status.stdout);
}

#[test]
fn without_slurms_commands_the_error_names_the_command() {
    let dir = TestDir::new();
    let manifest = ci_manifest(&dir, "");
    let empty = dir.join("no-slurm-here");
    std::fs::create_dir_all(&empty).unwrap();
    let refused = segsweep_with(&["sweep", path(&manifest), "--executor", "slurm"], &[("PATH", path(&empty))]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("`squeue` was not found on PATH"), "{}", refused.stderr);
    assert!(!dir.join("results/.slurm/ci/submissions.jsonl").exists());
}

/// A one-training manifest of `epochs` epochs whose training is preemptible.
fn preemptible_manifest(dir: &TestDir, epochs: usize) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("experiments/ci.yaml")).unwrap();
    let text = text.split("\ngrid:").next().unwrap().replace("EPOCHS: 2", &format!("EPOCHS: {epochs}"));
    dir.write("exp/ci.yaml", &format!("{text}\ngrid:\n  run_id: [1]\nresources:\n  train: {{requeue: true}}\n"))
}

#[test]
fn a_training_preempted_mid_run_is_requeued_and_ends_with_the_uninterrupted_numbers() {
    if !slurm_ready("a_training_preempted_mid_run_is_requeued_and_ends_with_the_uninterrupted_numbers") {
        return;
    }
    // About 25 ms an epoch here: long enough to be signalled in the middle.
    let epochs = 300;
    let local_dir = TestDir::new();
    let local = segsweep(&["sweep", path(&preemptible_manifest(&local_dir, epochs))]);
    assert_eq!(local.code, 0, "{}\n{}", local.stdout, local.stderr);

    let dir = TestDir::new();
    let manifest = preemptible_manifest(&dir, epochs);
    let submitted = segsweep(&["sweep", path(&manifest), "--executor", "slurm"]);
    assert_eq!(submitted.code, 0, "{}", submitted.stderr);
    let job =
        submitted.stdout.split("submitted train: 1 task as job ").nth(1).unwrap().split_whitespace().next().unwrap();
    let task = format!("{job}_0");
    // Wait until two epochs are done, then send the preemption warning to the batch step.
    let resume = find_resume(&dir.join("results/.cache/train"), 2);
    assert!(resume.is_some(), "the training never finished two epochs");
    let signal = Command::new("scancel").args(["--batch", "--signal=USR2", &task]).output().unwrap();
    assert!(signal.status.success(), "{}", String::from_utf8_lossy(&signal.stderr));
    // Slurm holds a requeued job back for a while: start it now — but not within the second of
    // the kill. slurmd revokes the killed incarnation's credential with one-second resolution, so
    // a second incarnation (same job id) launched in that second is refused ("Job N already
    // killed, do not launch batch job") and ends FAILED without running a line: that was this
    // test's occasional failure. Real clusters hold a requeued job back far longer.
    let mut released = false;
    for _ in 0..300 {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let queue = Command::new("squeue").args(["-h", "-r", "-j", job, "-o", "%T"]).output().unwrap();
        if String::from_utf8_lossy(&queue.stdout).trim() != "PENDING" {
            continue;
        }
        std::thread::sleep(std::time::Duration::from_millis(2500));
        let update = Command::new("scontrol").args(["update", &format!("JobId={task}"), "StartTime=now"]).output();
        released = update.is_ok_and(|o| o.status.success());
        break;
    }
    assert!(released, "the task was not requeued");
    let watched = segsweep(&["status", path(&manifest), "--watch"]);
    let log = std::fs::read_to_string(dir.join(&format!("results/.slurm/ci/train-{task}.log"))).unwrap_or_default();
    assert_eq!(watched.code, 0, "{}\n{}\ntrain log:\n{log}", watched.stdout, watched.stderr);
    assert!(watched.stdout.contains("reports in"), "{}", watched.stdout);
    assert!(log.contains("preemption signal: requeueing"), "{log}");
    assert!(log.contains("Resuming training from epoch"), "{log}");
    assert!(log.contains("requeued 1×"), "the requeued incarnation knows it (SLURM_RESTART_COUNT): {log}");
    let record = |d: &TestDir| {
        let train = d.join("results/.cache/train");
        let entry = std::fs::read_dir(&train)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.path().join("record.json").exists())
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.path().join("record.json")).unwrap()).unwrap();
        let mut rows = json["rows"].clone();
        for row in rows.as_array_mut().unwrap() {
            for timing in ["seconds", "data_wait_seconds", "validation_seconds"] {
                row.as_object_mut().unwrap().remove(timing);
            }
        }
        (rows, json["best_epoch"].clone(), json["best_val_loss"].clone())
    };
    assert_eq!(record(&dir), record(&local_dir), "every epoch's numbers as the uninterrupted training's");
    let summary = |d: &TestDir| std::fs::read_to_string(d.join("results/ci/sweep/summary.csv")).unwrap();
    assert_eq!(summary(&dir), summary(&local_dir));
}

/// Waits (up to two minutes) for a training's resume point with at least `epochs` epochs done.
fn find_resume(train: &Path, epochs: u64) -> Option<PathBuf> {
    for _ in 0..1200 {
        for entry in std::fs::read_dir(train).into_iter().flatten().filter_map(Result::ok) {
            let file = entry.path().join("checkpoints/run-resume.json");
            let done = std::fs::read_to_string(&file)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v["epochs_done"].as_u64());
            if done.is_some_and(|d| d >= epochs) {
                return Some(file);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    None
}

#[test]
fn two_processes_running_one_task_at_once_compute_it_once() {
    if !slurm_ready("two_processes_running_one_task_at_once_compute_it_once") {
        return;
    }
    let dir = TestDir::new();
    let manifest = ci_manifest(&dir, "");
    let held = segsweep(&["sweep", path(&manifest), "--executor", "slurm", "--hold"]);
    assert_eq!(held.code, 0, "{}", held.stderr);
    let jobs: Vec<&str> =
        held.stdout.lines().filter_map(|l| l.split(" as job ").nth(1)?.split_whitespace().next()).collect();
    let tasks = std::fs::read_dir(dir.join("results/.slurm/ci/tasks")).unwrap().filter_map(Result::ok);
    let train = tasks.map(|e| e.path()).find(|p| p.to_string_lossy().ends_with("-train.json")).unwrap();
    // Two processes (no lock table between them: the claim file decides) run the same task.
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_segsweep"))
            .args(["stage", path(&train), "--task", "0"])
            .output()
            .expect("run segsweep stage")
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap(), b.join().unwrap())
    });
    let _ = Command::new("scancel").args(&jobs).status();
    let said: Vec<String> = [&a, &b].iter().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).collect();
    assert!(a.status.success() && b.status.success(), "{said:?}\n{}", String::from_utf8_lossy(&b.stderr));
    assert_eq!(said.iter().filter(|s| s.contains("train finished and committed")).count(), 1, "{said:?}");
    assert_eq!(said.iter().filter(|s| s.contains("train was already cached")).count(), 1, "{said:?}");
    let log = std::fs::read_to_string(dir.join("results/.cache/completions.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "one completion: {log}");
    assert!(!std::fs::read_dir(dir.join("results/.cache/train")).unwrap().any(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        name.ends_with(".claim") || name.ends_with(".partial")
    }));
}
