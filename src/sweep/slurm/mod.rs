//! `--executor slurm` (harness.md, "Beyond one machine"): a sweep's stage graph handed to Slurm,
//! never a scheduler of our own. [`submit`] submits the stages whose key is not finished, one job
//! array per stage; [`task`] is what each array task runs (`segsweep stage`); [`status`] tells,
//! per run and stage, cached / queued / running / failed / missing; [`queue`] is the only code
//! that runs Slurm's commands and reads their output; [`plan`] decides which keys go in which
//! array.
//!
//! Files, under `<result_dir>/.slurm/<name>/`: `submissions.jsonl` (one line per submitted array:
//! job id, stage, its tasks' runs and keys; appended only once every array of a submission was
//! accepted), `tasks/<stamp>-<stage>.json` (what an array's tasks run) and the tasks' logs
//! `<stage>-<job>_<task>.log`. The cache stays the source of truth: Slurm's queue only says what
//! is waiting or running and why something failed.
//!
//! Must not: run stages itself (that is [`crate::sweep::exec`]), or decide whether an entry is
//! finished (that is [`crate::sweep::cache`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cache::Stage;
use super::manifest::Manifest;

pub mod plan;
pub mod queue;
pub mod status;
pub mod submit;
pub mod task;

/// One task of an array: the run (its place in the expanded grid) and the stage key it makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub run: usize,
    pub key: String,
}

/// What an array's tasks run (`tasks/<stamp>-<stage>.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskFile {
    pub manifest: PathBuf,
    pub stage: Stage,
    /// The device as the user gave it (`flex`, `tch:cuda`, …).
    pub device: String,
    pub tasks: Vec<Task>,
}

/// One accepted array (a line of `submissions.jsonl`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub job: String,
    pub stage: Stage,
    pub tasks_file: PathBuf,
    pub tasks: Vec<Task>,
    /// Unix seconds.
    pub submitted: u64,
}

/// The Slurm folder of one sweep.
#[derive(Clone, Debug)]
pub struct SlurmDir {
    pub root: PathBuf,
    /// The manifest's name: job names are `segsweep.<name>.<stage>`.
    pub name: String,
}

impl SlurmDir {
    pub fn of(manifest: &Manifest) -> Self {
        // Canonical where it exists, so paths shown by `status` have no `..` in them.
        let results = std::fs::canonicalize(&manifest.result_dir).unwrap_or_else(|_| manifest.result_dir.clone());
        Self { root: results.join(".slurm").join(&manifest.name), name: manifest.name.clone() }
    }

    pub fn submissions(&self) -> PathBuf {
        self.root.join("submissions.jsonl")
    }

    pub fn tasks_dir(&self) -> PathBuf {
        self.root.join("tasks")
    }

    /// The job name of a stage's arrays.
    pub fn job_name(&self, stage: Stage) -> String {
        format!("segsweep.{}.{stage}", self.name)
    }

    /// `--output` of a stage's arrays (Slurm fills in `%A` job and `%a` task).
    pub fn log_pattern(&self, stage: Stage) -> PathBuf {
        self.root.join(format!("{stage}-%A_%a.log"))
    }

    /// The log of task `task` of array `job`.
    pub fn log(&self, stage: Stage, job: &str, task: usize) -> PathBuf {
        self.root.join(format!("{stage}-{job}_{task}.log"))
    }

    /// Every accepted array, oldest first (none when nothing was submitted).
    pub fn read_submissions(&self) -> anyhow::Result<Vec<Submission>> {
        read_submissions(&self.submissions())
    }
}

fn read_submissions(path: &Path) -> anyhow::Result<Vec<Submission>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow::anyhow!("cannot read `{}`: {e}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| anyhow::anyhow!("`{}` line {}: {e}", path.display(), i + 1))
        })
        .collect()
}
