//! Test-only fault injection for file output: simulates a full disk or a read-only folder at the
//! moment a file is committed ([`crate::atomic::commit`], which every writer of checkpoints, TIFFs,
//! logs, charts, reports and cache records goes through). Compiled only with the cargo feature
//! `fault-injection`, which the package's own dev-dependency on itself turns on for `cargo test`
//! (so the binary the integration tests run has it, and no other build does). Nothing happens
//! unless one of these environment variables is set; they exist for the robustness tests:
//!
//! - `SEGSWEEP_FAULT_WRITE_AFTER_BYTES=N`: the process may commit N bytes in all; the commit that
//!   would go past them fails with the operating system's "no space left on device" error.
//! - `SEGSWEEP_FAULT_READ_ONLY=DIR`: every commit of a file under DIR fails with "read-only file
//!   system".
//! - `SEGSWEEP_FAULT_FAIL_STAGE=STAGE:RUN_ID`: `segsweep stage` (a Slurm array task) fails that
//!   stage of every run with that `run_id` before computing anything (the Slurm tests' failing
//!   task; the variable reaches the tasks because `sbatch` exports the submitter's environment).
//!
//! The temporary file is removed on failure, so the file under its final name keeps its previous
//! content, as after a real write error.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The faults asked for by the environment, read once.
struct Faults {
    write_after_bytes: Option<u64>,
    read_only: Option<PathBuf>,
}

fn faults() -> &'static Faults {
    static FAULTS: OnceLock<Faults> = OnceLock::new();
    FAULTS.get_or_init(|| Faults {
        write_after_bytes: std::env::var("SEGSWEEP_FAULT_WRITE_AFTER_BYTES").ok().and_then(|v| v.trim().parse().ok()),
        read_only: std::env::var_os("SEGSWEEP_FAULT_READ_ONLY").filter(|v| !v.is_empty()).map(PathBuf::from),
    })
}

/// The injected failure of a Slurm task running `stage` of a run with `run_id`, if asked.
pub fn check_stage(stage: &str, run_id: u64) -> io::Result<()> {
    match std::env::var("SEGSWEEP_FAULT_FAIL_STAGE") {
        Ok(value) if value == format!("{stage}:{run_id}") => Err(io::Error::other(format!(
            "injected failure of the {stage} stage of run_id {run_id} (SEGSWEEP_FAULT_FAIL_STAGE)"
        ))),
        _ => Ok(()),
    }
}

/// Bytes committed so far by this process.
static COMMITTED: AtomicU64 = AtomicU64::new(0);

/// Checks whether committing `n_bytes` to `path` may go ahead under the injected faults, and
/// counts them.
pub fn check_write(path: &Path, n_bytes: u64) -> io::Result<()> {
    let faults = faults();
    if let Some(dir) = &faults.read_only
        && absolute(path).starts_with(absolute(dir))
    {
        return Err(os_error(30, io::ErrorKind::ReadOnlyFilesystem));
    }
    if let Some(limit) = faults.write_after_bytes {
        let before = COMMITTED.fetch_add(n_bytes, Ordering::SeqCst);
        if before.saturating_add(n_bytes) > limit {
            return Err(os_error(28, io::ErrorKind::StorageFull));
        }
    }
    Ok(())
}

/// The operating system's own error (so messages read as they would on a real full disk), or a
/// plain one of the same kind off Unix.
fn os_error(errno: i32, kind: io::ErrorKind) -> io::Error {
    if cfg!(unix) { io::Error::from_raw_os_error(errno) } else { io::Error::from(kind) }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
