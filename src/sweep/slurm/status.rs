//! `segsweep status MANIFEST`: per run and stage — cached, queued, running, failed (Slurm's
//! reason, the exit code where accounting has it, the log's last error line and its path) or
//! missing — and a summary line. The cache is the source of truth; one `squeue` (and `sacct`
//! where the cluster keeps accounting) only explains what is not finished.
//!
//! Owns: the states and their wording. Must not: submit or cancel anything.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::plan::{KeyedSweep, key_sweep};
use super::queue::{AccountRow, QueueRow, is_active, sacct, squeue};
use super::{SlurmDir, Submission};
use crate::device::DeviceKind;
use crate::sweep::cache::{Cache, PerStage, Stage};

/// Where one stage of one run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageState {
    Cached,
    /// Waiting in the queue: Slurm's reason (`Dependency`, `Resources`, `Priority`, …).
    Queued {
        job: String,
        reason: String,
    },
    Running {
        job: String,
    },
    /// Ended without committing its entry.
    Failed {
        job: String,
        why: String,
        log: PathBuf,
    },
    /// Never submitted (or its record is gone): the next submission sends it.
    Missing,
}

impl StageState {
    fn word(&self) -> &'static str {
        match self {
            StageState::Cached => "cached",
            StageState::Queued { .. } => "queued",
            StageState::Running { .. } => "running",
            StageState::Failed { .. } => "failed",
            StageState::Missing => "missing",
        }
    }

    pub fn is_live(&self) -> bool {
        matches!(self, StageState::Queued { .. } | StageState::Running { .. })
    }
}

/// Every run's stages.
pub struct SweepStatus {
    pub sweep: KeyedSweep,
    pub states: Vec<PerStage<StageState>>,
}

impl SweepStatus {
    /// How many stages (over all runs) are in each state, in the order cached, queued,
    /// running, failed, missing.
    pub fn counts(&self) -> [(&'static str, usize); 5] {
        let mut counts = [("cached", 0), ("queued", 0), ("running", 0), ("failed", 0), ("missing", 0)];
        for state in self.states.iter().flat_map(|s| s.iter().map(|(_, s)| s)) {
            if let Some(slot) = counts.iter_mut().find(|(word, _)| *word == state.word()) {
                slot.1 += 1;
            }
        }
        counts
    }

    pub fn n_live(&self) -> usize {
        self.states.iter().flat_map(|s| s.iter().map(|(_, s)| s)).filter(|s| s.is_live()).count()
    }

    /// Why run `run` (grid index) did not finish under Slurm: its first failed stage, Slurm's
    /// reason and the log's path; `None` when no stage of it failed.
    pub fn failure(&self, run: usize) -> Option<String> {
        self.states.get(run)?.iter().find_map(|(stage, state)| match state {
            StageState::Failed { job, why, log } => {
                Some(format!("{stage} failed under Slurm ({job}): {why}; log `{}`", log.display()))
            }
            _ => None,
        })
    }

    pub fn all_cached(&self) -> bool {
        self.states.iter().all(|s| s.iter().all(|(_, s)| *s == StageState::Cached))
    }

    /// One line per run, the failures' reasons and logs under it, then the summary line.
    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let n = self.states.len();
        for (i, (spec, states)) in self.sweep.specs.iter().zip(&self.states).enumerate() {
            let words: Vec<String> = states
                .iter()
                .map(|(stage, state)| match state {
                    StageState::Queued { job, reason } => format!("{stage} queued ({job}, {reason})"),
                    StageState::Running { job } => format!("{stage} running ({job})"),
                    StageState::Failed { job, .. } => format!("{stage} failed ({job})"),
                    other => format!("{stage} {}", other.word()),
                })
                .collect();
            writeln!(out, "[{}/{n}] {} run_id {}: {}", i + 1, spec.cell_name, spec.run_id, words.join(", "))?;
            for (stage, state) in states.iter() {
                if let StageState::Failed { why, log, .. } = state {
                    writeln!(out, "  {stage}: {why}")?;
                    if log.exists() {
                        writeln!(out, "  log: {}", log.display())?;
                    }
                }
            }
        }
        self.write_summary(out)
    }

    pub fn write_summary(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let words: Vec<String> = self.counts().iter().map(|(word, count)| format!("{count} {word}")).collect();
        writeln!(out, "{} runs, {} stages: {}", self.states.len(), self.states.len() * 3, words.join(", "))
    }
}

/// The status of the sweep of `manifest_path` (keys for `device_kind`).
pub fn status(manifest_path: &Path, device_kind: DeviceKind) -> anyhow::Result<SweepStatus> {
    let sweep = key_sweep(manifest_path, device_kind)?;
    let dir = SlurmDir::of(&sweep.manifest);
    let records = dir.read_submissions()?;
    let cache = Cache::new(&sweep.manifest.result_dir);
    let unfinished = sweep.keys.iter().any(|keys| keys.iter().any(|(stage, key)| !cache.is_finished(stage, key)));
    let rows = if unfinished && !records.is_empty() {
        squeue(&Stage::ALL.into_iter().map(|s| dir.job_name(s)).collect::<Vec<_>>())?
    } else {
        Vec::new()
    };
    let latest = latest_tasks(&records);
    let queue: HashMap<(&str, Option<usize>), &QueueRow> = rows.iter().map(|r| ((r.job.as_str(), r.task), r)).collect();
    // Accounting is asked only about tasks the queue has forgotten.
    let forgotten: Vec<String> = latest
        .values()
        .filter(|(job, task)| !queue.contains_key(&(job.as_str(), Some(*task))))
        .map(|(job, task)| format!("{job}_{task}"))
        .collect();
    let accounts = if forgotten.is_empty() { Some(HashMap::new()) } else { sacct(&forgotten) };
    let states: Vec<PerStage<StageState>> = sweep
        .keys
        .iter()
        .map(|keys| {
            keys.map(|stage, key| {
                if cache.is_finished(stage, key) {
                    return StageState::Cached;
                }
                let Some((job, task)) = latest.get(&(stage, key.clone())) else { return StageState::Missing };
                let log = dir.log(stage, job, *task);
                let shown = format!("{job}_{task}");
                let account = accounts.as_ref().and_then(|a| a.get(&(job.clone(), Some(*task))));
                match queue.get(&(job.as_str(), Some(*task))) {
                    Some(row) if row.state == "RUNNING" || row.state == "COMPLETING" || row.state == "CONFIGURING" => {
                        StageState::Running { job: shown }
                    }
                    Some(row) if is_active(&row.state) => StageState::Queued { job: shown, reason: row.reason.clone() },
                    Some(row) => {
                        StageState::Failed { job: shown, why: failure(&row.state, &row.reason, None, &log), log }
                    }
                    None => match account {
                        Some(AccountRow { state, exit_code }) => {
                            StageState::Failed { job: shown, why: failure(state, "", Some(exit_code), &log), log }
                        }
                        None => StageState::Failed {
                            job: shown,
                            why: format!("no longer known to Slurm and not in the cache{}", last_error(&log)),
                            log,
                        },
                    },
                }
            })
        })
        .collect();
    let states = states.into_iter().map(name_cancelled_dependents).collect();
    Ok(SweepStatus { sweep, states })
}

/// Polls [`status`] until no stage is queued or running: one `squeue` per poll, the pause
/// growing from 2 s by half each time to at most a minute (reset when something changed).
/// Prints the summary line whenever it changes; returns the final status.
pub fn watch(manifest_path: &Path, device_kind: DeviceKind, out: &mut dyn Write) -> anyhow::Result<SweepStatus> {
    let first = std::time::Duration::from_secs(2);
    let mut pause = first;
    let mut last = String::new();
    loop {
        let now = status(manifest_path, device_kind)?;
        let mut line = Vec::new();
        now.write_summary(&mut line)?;
        let line = String::from_utf8_lossy(&line).into_owned();
        if line != last {
            out.write_all(line.as_bytes())?;
            out.flush()?;
            pause = first;
            last = line;
        }
        if now.n_live() == 0 {
            return Ok(now);
        }
        std::thread::sleep(pause);
        pause = (pause + pause / 2).min(std::time::Duration::from_secs(60));
    }
}

/// A stage that ended without running because an earlier stage of its run failed (its task was
/// cancelled by the failing one, or failed its own upstream check) says so.
fn name_cancelled_dependents(mut states: PerStage<StageState>) -> PerStage<StageState> {
    let mut failed_before: Option<Stage> = None;
    for stage in Stage::ALL {
        if let StageState::Failed { why, log, .. } = &mut states[stage] {
            match failed_before {
                Some(earlier) if !log.exists() || why.contains("has not finished") => {
                    *why = format!("not run: its {earlier} stage failed (its task was cancelled or stopped at once)");
                }
                Some(_) => {}
                None => failed_before = Some(stage),
            }
        }
    }
    states
}

/// Per stage key, the newest task that was submitted for it: `(job, task index)`.
pub(super) fn latest_tasks(records: &[Submission]) -> HashMap<(Stage, String), (String, usize)> {
    let mut latest = HashMap::new();
    for record in records {
        for (i, task) in record.tasks.iter().enumerate() {
            latest.insert((record.stage, task.key.clone()), (record.job.clone(), i));
        }
    }
    latest
}

/// Why a task ended without its entry: Slurm's state and reason, the exit code where known,
/// and the log's last error line.
fn failure(state: &str, reason: &str, exit_code: Option<&str>, log: &Path) -> String {
    let mut why = match state {
        "COMPLETED" => "the task ended without committing its entry".to_string(),
        "OUT_OF_MEMORY" => "OUT_OF_MEMORY: raise `mem`".to_string(),
        "TIMEOUT" => "TIMEOUT: raise `time`".to_string(),
        other => other.to_string(),
    };
    if !reason.is_empty() && reason != "None" {
        why.push_str(&format!(" ({reason})"));
    }
    if let Some(code) = exit_code.filter(|c| !c.is_empty()) {
        why.push_str(&format!(", exit code {code}"));
    }
    why + &last_error(log)
}

/// `: <the log's last line starting with "error">`, or nothing.
fn last_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines().rev().find(|l| l.starts_with("error")).map(|l| format!(": {}", l.trim())).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_slurms_reason_the_exit_code_and_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("train-5_0.log");
        std::fs::write(&log, "train of a run_id 1\nerror: out of luck\n  caused by: x\n").unwrap();
        assert_eq!(
            failure("FAILED", "NonZeroExitCode", Some("2:0"), &log),
            "FAILED (NonZeroExitCode), exit code 2:0: error: out of luck"
        );
        assert_eq!(failure("TIMEOUT", "None", None, &dir.path().join("none.log")), "TIMEOUT: raise `time`");
    }

    #[test]
    fn the_newest_submission_of_a_key_wins() {
        let record = |job: &str| Submission {
            job: job.into(),
            stage: Stage::Train,
            tasks_file: PathBuf::new(),
            tasks: vec![super::super::Task { run: 0, key: "k".into() }],
            submitted: 0,
        };
        let latest = latest_tasks(&[record("5"), record("9")]);
        assert_eq!(latest[&(Stage::Train, "k".to_string())].0, "9");
    }
}
