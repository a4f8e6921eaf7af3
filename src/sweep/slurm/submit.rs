//! Submitting a sweep to Slurm: the stages whose key is neither finished nor already waiting or
//! running, one job array per stage, submitted at once so the graph runs without the submitting
//! shell. An array depends (`afterany`) on the arrays of the earlier stages — this submission's
//! and earlier ones' still in the queue. Slurm's arrays cannot say "task 7 waits for task 3",
//! so a failing task cancels the waiting tasks that need its entry itself (`task.rs`), and each
//! task checks that its own earlier stages finished before it computes anything: a failed
//! training stops exactly its own inferences and evaluations, and the others run. The number of
//! `sbatch` calls is at most three, whatever the size of the grid.
//!
//! Owns: the arrays' `sbatch` arguments, batch scripts, task files and the submission records.
//! Must not: key runs (that is [`super::plan`]) or parse Slurm's output (that is [`super::queue`]).

use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::plan::{KeyedSweep, key_sweep, stage_tasks};
use super::queue::{QueueRow, is_active, sbatch, scancel, squeue};
use super::{SlurmDir, Submission, Task, TaskFile};
use crate::device::DeviceKind;
use crate::sweep::cache::{Cache, PerStage, Stage};
use crate::sweep::claim::Claim;
use crate::sweep::manifest::StageResources;

/// How to submit.
pub struct SubmitOptions {
    /// The device the tasks run on, as the user wrote it (`flex`, `tch:cuda`).
    pub device: String,
    pub device_kind: DeviceKind,
    /// Submit the arrays held (`sbatch --hold`): they wait for `scontrol release`.
    pub hold: bool,
}

/// What a submission did.
pub struct Submitted {
    pub arrays: Vec<Submission>,
    /// Stage keys left alone because an earlier submission's task waits for or runs them.
    pub in_flight: usize,
    /// Stage keys (of the grid's distinct ones) already finished in the cache.
    pub cached: usize,
}

/// What the queue says of earlier submissions: the keys their live tasks make, and per stage
/// the arrays that still have live tasks.
pub struct InFlight {
    pub keys: HashSet<(Stage, String)>,
    pub jobs: PerStage<BTreeSet<String>>,
}

/// The live tasks of `records` according to `rows` (one `squeue` of the sweep's job names).
pub fn in_flight(records: &[Submission], rows: &[QueueRow]) -> InFlight {
    let live: HashSet<(&str, Option<usize>)> =
        rows.iter().filter(|r| is_active(&r.state)).map(|r| (r.job.as_str(), r.task)).collect();
    let mut found = InFlight { keys: HashSet::new(), jobs: PerStage::default() };
    for record in records {
        for (i, task) in record.tasks.iter().enumerate() {
            if live.contains(&(record.job.as_str(), Some(i))) {
                found.keys.insert((record.stage, task.key.clone()));
                found.jobs[record.stage].insert(record.job.clone());
            }
        }
    }
    found
}

/// Submits the sweep of `manifest_path` (see the module's doc); prints one line per array.
pub fn submit(manifest_path: &Path, options: &SubmitOptions, out: &mut dyn Write) -> anyhow::Result<Submitted> {
    let manifest_path =
        std::path::absolute(manifest_path).with_context(|| format!("cannot resolve `{}`", manifest_path.display()))?;
    let sweep = key_sweep(&manifest_path, options.device_kind)?;
    let dir = SlurmDir::of(&sweep.manifest);
    std::fs::create_dir_all(dir.tasks_dir()).with_context(|| format!("cannot create `{}`", dir.root.display()))?;
    // Two submissions of one sweep at once would both see the same keys as not in flight.
    let claim_path = dir.root.join("submit.claim");
    let _claim = Claim::acquire(&claim_path, &Default::default())
        .with_context(|| format!("cannot claim `{}`", claim_path.display()))?;
    let records = dir.read_submissions()?;
    let names: Vec<String> = Stage::ALL.into_iter().map(|s| dir.job_name(s)).collect();
    let rows = squeue(&names)?;
    let flight = in_flight(&records, &rows);
    let cache = Cache::new(&sweep.manifest.result_dir);
    let tasks = stage_tasks(&sweep.keys, |stage, key| cache.is_finished(stage, key), &flight.keys);
    let distinct: HashSet<(Stage, &String)> = sweep.keys.iter().flat_map(|k| k.iter()).collect();
    let cached = distinct.iter().filter(|(stage, key)| cache.is_finished(*stage, key)).count();
    let arrays = submit_arrays(&sweep, &dir, &tasks, &flight, &manifest_path, options)?;
    append_records(&dir, &arrays)?;
    for array in &arrays {
        writeln!(
            out,
            "submitted {}: {} task{} as job {} ({})",
            array.stage,
            array.tasks.len(),
            if array.tasks.len() == 1 { "" } else { "s" },
            array.job,
            dir.job_name(array.stage)
        )?;
    }
    if arrays.is_empty() {
        writeln!(
            out,
            "nothing to submit: {cached} stage{} cached, {} waiting or running from earlier submissions",
            if cached == 1 { "" } else { "s" },
            flight.keys.len()
        )?;
    }
    Ok(Submitted { arrays, in_flight: flight.keys.len(), cached })
}

/// One `sbatch` per stage with tasks; when one is refused, the arrays already accepted are
/// cancelled and their task files removed, and nothing is recorded.
fn submit_arrays(
    sweep: &KeyedSweep,
    dir: &SlurmDir,
    tasks: &PerStage<Vec<Task>>,
    flight: &InFlight,
    manifest_path: &Path,
    options: &SubmitOptions,
) -> anyhow::Result<Vec<Submission>> {
    let exe = std::env::current_exe().context("cannot find the segsweep executable the tasks are to run")?;
    let stamp = format!("{}-{}", unix_seconds(), std::process::id());
    let mut accepted: Vec<Submission> = Vec::new();
    let mut files: Vec<PathBuf> = Vec::new();
    for stage in Stage::ALL.into_iter().filter(|&s| !tasks[s].is_empty()) {
        let tasks_file = dir.tasks_dir().join(format!("{stamp}-{stage}.json"));
        let file = TaskFile {
            manifest: manifest_path.to_path_buf(),
            stage,
            device: options.device.clone(),
            tasks: tasks[stage].clone(),
        };
        let submitted = write_task_file(&tasks_file, &file).and_then(|()| {
            files.push(tasks_file.clone());
            let upstream: BTreeSet<String> = Stage::ALL
                .into_iter()
                .filter(|&s| s < stage)
                .flat_map(|s| flight.jobs[s].iter().cloned())
                .chain(accepted.iter().map(|a| a.job.clone()))
                .collect();
            let resources = sweep.manifest.resources.of(stage);
            let args = sbatch_args(dir, stage, tasks[stage].len(), &resources, &upstream, options.hold);
            sbatch(&args, &batch_script(&exe, &tasks_file, &resources))
                .with_context(|| format!("submitting the {stage} stage ({} tasks)", tasks[stage].len()))
        });
        match submitted {
            Ok(job) => accepted.push(Submission {
                job,
                stage,
                tasks_file,
                tasks: tasks[stage].clone(),
                submitted: unix_seconds(),
            }),
            Err(error) => {
                let jobs: Vec<String> = accepted.iter().map(|a| a.job.clone()).collect();
                let undone = if jobs.is_empty() { Ok(()) } else { scancel(&jobs) };
                for file in &files {
                    let _ = std::fs::remove_file(file);
                }
                return Err(match undone {
                    Ok(()) if jobs.is_empty() => error,
                    Ok(()) => error.context(format!("nothing was submitted (jobs {} were cancelled)", jobs.join(", "))),
                    Err(cancel) => error.context(format!("and cancelling the jobs already accepted failed: {cancel}")),
                });
            }
        }
    }
    Ok(accepted)
}

fn write_task_file(path: &Path, file: &TaskFile) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(file)?;
    crate::atomic::write(path, text + "\n").with_context(|| format!("cannot write `{}`", path.display()))
}

/// Appends the accepted arrays to `submissions.jsonl` in one write.
fn append_records(dir: &SlurmDir, arrays: &[Submission]) -> anyhow::Result<()> {
    if arrays.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for array in arrays {
        text.push_str(&serde_json::to_string(array)?);
        text.push('\n');
    }
    let path = dir.submissions();
    let mut file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open `{}`", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot append to `{}`", path.display()))
}

/// The `sbatch` arguments of one stage's array of `n` tasks.
pub fn sbatch_args(
    dir: &SlurmDir,
    stage: Stage,
    n: usize,
    resources: &StageResources,
    upstream: &BTreeSet<String>,
    hold: bool,
) -> Vec<String> {
    let mut args = vec![
        format!("--job-name={}", dir.job_name(stage)),
        format!("--array=0-{}", n.saturating_sub(1)),
        format!("--output={}", dir.log_pattern(stage).display()),
        // A requeued task appends to its log instead of replacing it.
        "--open-mode=append".to_string(),
    ];
    let mut push = |flag: &str, value: &Option<String>| {
        if let Some(value) = value {
            args.push(format!("--{flag}={value}"));
        }
    };
    push("cpus-per-task", &resources.cpus.map(|c| c.to_string()));
    push("mem", &resources.mem);
    push("time", &resources.time);
    push("gres", &resources.gpus.filter(|&g| g > 0).map(|g| format!("gpu:{g}")));
    push("partition", &resources.partition);
    push("account", &resources.account);
    push("qos", &resources.qos);
    if !upstream.is_empty() {
        args.push(format!("--dependency=afterany:{}", upstream.iter().cloned().collect::<Vec<_>>().join(":")));
        args.push("--kill-on-invalid-dep=yes".to_string());
    }
    if resources.requeue == Some(true) {
        args.push("--requeue".to_string());
        args.push(format!("--signal=B:USR2@{PREEMPT_WARNING_SECONDS}"));
    }
    if hold {
        args.push("--hold".to_string());
    }
    args.extend(resources.extra.iter().cloned());
    args
}

/// Seconds of warning a preemptible task gets before its time limit (`--signal=B:USR2@90`).
pub const PREEMPT_WARNING_SECONDS: u32 = 90;

/// The batch script: the setup lines, then `exec segsweep stage TASKS_FILE` (so the
/// preemption signal reaches segsweep itself).
pub fn batch_script(exe: &Path, tasks_file: &Path, resources: &StageResources) -> String {
    let mut script = String::from("#!/bin/sh\n# Written by segsweep: one stage of a sweep per array task.\nset -e\n");
    for line in &resources.setup {
        script.push_str(line);
        script.push('\n');
    }
    script.push_str(&format!(
        "exec {} stage {}\n",
        shell_quote(&exe.display().to_string()),
        shell_quote(&tasks_file.display().to_string())
    ));
    script
}

/// `s` in single quotes for `sh`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> SlurmDir {
        SlurmDir { root: PathBuf::from("/r/.slurm/ci"), name: "ci".into() }
    }

    #[test]
    fn arguments_carry_resources_dependencies_and_preemption() {
        let resources = StageResources {
            cpus: Some(8),
            mem: Some("32G".into()),
            time: Some("04:00:00".into()),
            gpus: Some(1),
            partition: Some("gpu".into()),
            requeue: Some(true),
            extra: vec!["--constraint=a100".into()],
            ..Default::default()
        };
        let upstream: BTreeSet<String> = ["17".to_string(), "12".to_string()].into();
        let args = sbatch_args(&dir(), Stage::Infer, 4, &resources, &upstream, false);
        for expected in [
            "--job-name=segsweep.ci.infer",
            "--array=0-3",
            "--output=/r/.slurm/ci/infer-%A_%a.log",
            "--cpus-per-task=8",
            "--mem=32G",
            "--time=04:00:00",
            "--gres=gpu:1",
            "--partition=gpu",
            "--dependency=afterany:12:17",
            "--kill-on-invalid-dep=yes",
            "--requeue",
            "--signal=B:USR2@90",
            "--constraint=a100",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} not in {args:?}");
        }
        let plain = sbatch_args(&dir(), Stage::Train, 1, &StageResources::default(), &BTreeSet::new(), true);
        assert_eq!(plain.len(), 5, "{plain:?}");
        assert!(plain.contains(&"--hold".to_string()) && plain.contains(&"--array=0-0".to_string()));
    }

    #[test]
    fn the_script_runs_setup_then_execs_the_stage() {
        let resources = StageResources { setup: vec!["module load cuda".into()], ..Default::default() };
        let script = batch_script(Path::new("/opt/bin/segsweep"), Path::new("/r/it's/t.json"), &resources);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains("module load cuda\nexec '/opt/bin/segsweep' stage '/r/it'\\''s/t.json'\n"), "{script}");
    }

    #[test]
    fn only_live_tasks_of_recorded_arrays_are_in_flight() {
        let record = |job: &str, stage, keys: &[&str]| Submission {
            job: job.into(),
            stage,
            tasks_file: PathBuf::new(),
            tasks: keys.iter().enumerate().map(|(run, k)| Task { run, key: k.to_string() }).collect(),
            submitted: 0,
        };
        let records = [record("5", Stage::Train, &["a", "b"]), record("6", Stage::Infer, &["a0", "b0"])];
        let rows = super::super::queue::parse_squeue(
            "5|0|x|COMPLETED|None\n5|1|x|RUNNING|None\n6|0|x|PENDING|Dependency\n6|1|x|PENDING|Dependency\n9|0|x|PENDING|None\n",
        );
        let flight = in_flight(&records, &rows);
        let mut keys: Vec<_> = flight.keys.iter().map(|(s, k)| format!("{s}:{k}")).collect();
        keys.sort();
        assert_eq!(keys, ["infer:a0", "infer:b0", "train:b"]);
        assert_eq!(flight.jobs.train.iter().collect::<Vec<_>>(), ["5"]);
    }
}
