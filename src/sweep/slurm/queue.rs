//! Slurm's commands (`sbatch`, `squeue`, `sacct`, `scancel`, `scontrol`) and their output: the
//! only place segsweep runs them. One batched `squeue` per look at the queue; `sacct` only where
//! the cluster keeps accounting (it is never required).
//!
//! Owns: the command lines, the parsing of their output and their error messages. Must not:
//! decide what to submit or what a state means for a sweep.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

/// A Slurm command that failed: the command and what it printed.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error(
        "`{command}` was not found on PATH; `--executor slurm` needs Slurm's client commands (sbatch, squeue) on this machine"
    )]
    Missing { command: String },
    #[error("`{command}` failed ({status}): {output}")]
    Failed { command: String, status: String, output: String },
}

/// Runs `program args…` (with `stdin` when given) and returns its standard output.
fn run(program: &str, args: &[String], stdin: Option<&str>) -> Result<String, SlurmError> {
    let shown = std::iter::once(program.to_string()).chain(args.iter().cloned()).collect::<Vec<_>>().join(" ");
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SlurmError::Missing { command: program.to_string() },
            _ => SlurmError::Failed { command: shown.clone(), status: "did not start".into(), output: e.to_string() },
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let _ = pipe.write_all(text.as_bytes());
    }
    let output = child.wait_with_output().map_err(|e| SlurmError::Failed {
        command: shown.clone(),
        status: "lost".into(),
        output: e.to_string(),
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
        let text = if text.is_empty() { String::from_utf8_lossy(&output.stdout).trim().to_string() } else { text };
        Err(SlurmError::Failed { command: shown, status: output.status.to_string(), output: text })
    }
}

/// `sbatch --parsable ARGS` with the batch script on standard input: the new job's id.
pub fn sbatch(args: &[String], script: &str) -> Result<String, SlurmError> {
    let mut all = vec!["--parsable".to_string()];
    all.extend(args.iter().cloned());
    let out = run("sbatch", &all, Some(script))?;
    // `--parsable` prints `<id>` or `<id>;<cluster>`.
    let id = out.trim().split(';').next().unwrap_or_default().to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SlurmError::Failed {
            command: "sbatch --parsable".into(),
            status: "exit 0".into(),
            output: format!("printed `{}` instead of a job id", out.trim()),
        });
    }
    Ok(id)
}

/// `scancel JOB…` (the jobs of a submission that failed half-way).
pub fn scancel(jobs: &[String]) -> Result<(), SlurmError> {
    run("scancel", jobs, None).map(drop)
}

/// `scontrol requeue JOB` (a task that received its preemption signal requeues itself).
pub fn requeue(job: &str) -> Result<(), SlurmError> {
    run("scontrol", &["requeue".to_string(), job.to_string()], None).map(drop)
}

/// One array task (or job) as `squeue` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueRow {
    /// The array's job id (the job's own id when it is not an array).
    pub job: String,
    pub task: Option<usize>,
    pub name: String,
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `TIMEOUT`, `OUT_OF_MEMORY`, …
    pub state: String,
    /// Why it waits or ended (`Dependency`, `Resources`, `NonZeroExitCode`, `None`, …).
    pub reason: String,
}

const SQUEUE_FORMAT: &str = "%F|%K|%j|%T|%r";

/// Every task, in any state Slurm still remembers, of the jobs named `names`: one query,
/// arrays expanded (`-r`).
pub fn squeue(names: &[String]) -> Result<Vec<QueueRow>, SlurmError> {
    let args =
        ["-h", "-r", "--states=all", &format!("--name={}", names.join(",")), "-o", SQUEUE_FORMAT].map(str::to_string);
    Ok(parse_squeue(&run("squeue", &args, None)?))
}

/// Parses `squeue -o '%F|%K|%j|%T|%r'` lines.
pub fn parse_squeue(text: &str) -> Vec<QueueRow> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(5, '|');
            let job = fields.next()?.trim().to_string();
            let task = fields.next()?.trim().parse().ok();
            let name = fields.next()?.trim().to_string();
            let state = fields.next()?.trim().to_string();
            let reason = fields.next().unwrap_or_default().trim().to_string();
            (!job.is_empty()).then_some(QueueRow { job, task, name, state, reason })
        })
        .collect()
}

/// Whether a job in `state` may still run (waiting, running or being requeued).
pub fn is_active(state: &str) -> bool {
    matches!(
        state,
        "PENDING"
            | "RUNNING"
            | "CONFIGURING"
            | "COMPLETING"
            | "REQUEUED"
            | "REQUEUE_HOLD"
            | "REQUEUE_FED"
            | "RESIZING"
            | "SUSPENDED"
            | "SIGNALING"
            | "STAGE_OUT"
            | "STOPPED"
    )
}

/// What accounting says of a finished task: its state and exit code (`1:0`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub state: String,
    pub exit_code: String,
}

/// `sacct` for `jobs` where the cluster keeps accounting; `None` where it does not (or the
/// command is missing): accounting only explains, it is never required.
pub fn sacct(jobs: &[String]) -> Option<HashMap<(String, Option<usize>), AccountRow>> {
    if jobs.is_empty() {
        return Some(HashMap::new());
    }
    let args = ["-n", "-X", "-P", "-j", &jobs.join(","), "-o", "JobID,State,ExitCode"].map(str::to_string);
    run("sacct", &args, None).ok().map(|text| parse_sacct(&text))
}

/// Parses `sacct -P -o JobID,State,ExitCode` lines (`123_4|FAILED|1:0`, `125|CANCELLED by 0|0:0`).
pub fn parse_sacct(text: &str) -> HashMap<(String, Option<usize>), AccountRow> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split('|');
            let id = fields.next()?;
            let state = fields.next()?.split_whitespace().next()?.to_string();
            let exit_code = fields.next().unwrap_or_default().to_string();
            let (job, task) = match id.split_once('_') {
                Some((job, task)) => (job.to_string(), Some(task.parse().ok()?)),
                None => (id.to_string(), None),
            };
            Some(((job, task), AccountRow { state, exit_code }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_with_arrays_plain_jobs_and_garbage() {
        let text = "12|0|segsweep.ci.train|COMPLETED|None\n12|1|segsweep.ci.train|FAILED|NonZeroExitCode\n\
                    13|N/A|segsweep.ci.infer|PENDING|Dependency\nnonsense\n";
        let rows = parse_squeue(text);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].task, Some(1));
        assert_eq!((rows[1].state.as_str(), rows[1].reason.as_str()), ("FAILED", "NonZeroExitCode"));
        assert_eq!(rows[2].task, None);
        assert!(is_active(&rows[2].state) && !is_active(&rows[1].state));
    }

    #[test]
    fn sacct_lines() {
        let rows = parse_sacct("123_4|OUT_OF_MEMORY|0:125\n125|CANCELLED by 0|0:15\n");
        assert_eq!(rows[&("123".to_string(), Some(4))].state, "OUT_OF_MEMORY");
        assert_eq!(
            rows[&("125".to_string(), None)],
            AccountRow { state: "CANCELLED".into(), exit_code: "0:15".into() }
        );
    }

    #[test]
    fn a_missing_command_is_named() {
        let error = run("segsweep-no-such-slurm-command", &[], None).unwrap_err();
        assert!(error.to_string().contains("`segsweep-no-such-slurm-command` was not found on PATH"), "{error}");
    }
}
