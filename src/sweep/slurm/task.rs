//! `segsweep stage TASKS_FILE`: what one Slurm array task runs — exactly one stage of one run,
//! rebuilt from the manifest the task file names and checked against the key recorded at
//! submission, computed under the key's claim and committed as the local executor does.
//!
//! Under Slurm it takes the CPUs Slurm gave it (`SLURM_CPUS_PER_TASK`) and the GPUs it was given
//! (CUDA numbers the devices in `CUDA_VISIBLE_DEVICES` from 0, so `tch:cuda` is the task's GPU).
//! On the preemption warning (`--signal=B:USR2@90`, asked by `resources.*.requeue`) it requeues
//! itself: the training's last finished epoch is already on disk in the key's partial folder,
//! and the requeued task takes the claim over at once (same job and task, a higher
//! `SLURM_RESTART_COUNT`) and resumes there.
//!
//! When its stage fails, it cancels the waiting tasks of the later stages that needed its entry
//! (from the submission records), so only its own dependents are stopped.
//!
//! Must not: submit anything or write outside the cache entry it computes.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow};

use super::TaskFile;
use crate::sweep::cache::Cache;
use crate::sweep::driver::{data_overrides, run_config};
use crate::sweep::exec::{DataHashes, execute_stage, stage_keys};
use crate::sweep::grid::expand;
use crate::sweep::manifest::{load_manifest, validate};

/// Runs task `task` (default: `SLURM_ARRAY_TASK_ID`) of the array described by `tasks_file`;
/// returns whether its stage was already in the cache.
pub fn run_task(tasks_file: &Path, task: Option<usize>, out: &mut dyn Write) -> anyhow::Result<bool> {
    let text =
        std::fs::read_to_string(tasks_file).with_context(|| format!("cannot read `{}`", tasks_file.display()))?;
    let file: TaskFile = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a segsweep task file", tasks_file.display()))?;
    let index = match task {
        Some(index) => index,
        None => std::env::var("SLURM_ARRAY_TASK_ID").ok().and_then(|v| v.parse().ok()).ok_or_else(|| {
            anyhow!("no task given: pass `--task N` or run as a Slurm array task (SLURM_ARRAY_TASK_ID)")
        })?,
    };
    let task = file.tasks.get(index).ok_or_else(|| {
        anyhow!("`{}` has {} tasks; there is no task {index}", tasks_file.display(), file.tasks.len())
    })?;
    watch_for_preemption();
    use_slurm_cpus();
    let manifest = load_manifest(&file.manifest)?;
    validate(&manifest)?;
    let specs = expand(&manifest)?;
    let spec = specs.get(task.run).ok_or_else(|| {
        anyhow!(
            "manifest `{}` now has {} runs, not run {}: it changed since submission",
            file.manifest.display(),
            specs.len(),
            task.run + 1
        )
    })?;
    let config = run_config(&manifest, spec, &data_overrides(&manifest)?)?;
    let device = crate::device::parse(&file.device)?;
    let (seed, keys) = stage_keys(&config, spec.run_id, device.kind, &DataHashes::default())?;
    if keys[file.stage].key != task.key {
        anyhow::bail!(
            "the {} key of {} run_id {} is {} now, not {} as submitted: the manifest or its data changed; submit again",
            file.stage,
            spec.cell_name,
            spec.run_id,
            &keys[file.stage].key[..12],
            &task.key[..task.key.len().min(12)]
        );
    }
    let gpus = std::env::var("CUDA_VISIBLE_DEVICES").map(|g| format!(", CUDA_VISIBLE_DEVICES={g}")).unwrap_or_default();
    let restarts = crate::sweep::claim::slurm_restarts();
    let gpus = if restarts > 0 { format!("{gpus}, requeued {restarts}×") } else { gpus };
    writeln!(
        out,
        "{} of {} run_id {} (key {}) on {}, {} threads{gpus}",
        file.stage,
        spec.cell_name,
        spec.run_id,
        &task.key[..12],
        file.device,
        rayon::current_num_threads()
    )?;
    let cache = Cache::new(&manifest.result_dir);
    let ran = injected_fault(file.stage, spec.run_id)
        .map_err(anyhow::Error::from)
        .and_then(|()| execute_stage(&cache, &config, spec.run_id, (seed, keys), &device, file.stage, out));
    match ran {
        Ok(cached) => {
            writeln!(out, "{} {}", file.stage, if cached { "was already cached" } else { "finished and committed" })?;
            Ok(cached)
        }
        Err(error) => {
            cancel_dependents(&file, &task.key, device.kind, out);
            Err(error)
        }
    }
}

/// After this stage failed: cancels the waiting tasks of the later stages that need its entry
/// (the runs sharing this key), so they never start; the rest of the sweep runs on. Best
/// effort: a dependent that already ended, or a `scancel` that fails, is left to its own
/// upstream check (it fails at once without computing).
fn cancel_dependents(file: &TaskFile, key: &str, kind: crate::device::DeviceKind, out: &mut dyn Write) {
    let Ok(sweep) = super::plan::key_sweep(&file.manifest, kind) else { return };
    let dir = super::SlurmDir::of(&sweep.manifest);
    let Ok(records) = dir.read_submissions() else { return };
    let later: std::collections::HashSet<(crate::sweep::cache::Stage, String)> = sweep
        .keys
        .iter()
        .filter(|keys| keys[file.stage] == key)
        .flat_map(|keys| keys.iter().filter(|(stage, _)| *stage > file.stage).map(|(stage, k)| (stage, k.clone())))
        .collect();
    let mut tasks: Vec<String> = super::status::latest_tasks(&records)
        .into_iter()
        .filter(|(stage_key, _)| later.contains(stage_key))
        .map(|(_, (job, i))| format!("{job}_{i}"))
        .collect();
    tasks.sort();
    if !tasks.is_empty() && super::queue::scancel(&tasks).is_ok() {
        writeln!(out, "cancelled the tasks that needed this entry: {}", tasks.join(" ")).ok();
    }
}

/// The Slurm tests' failing task (feature `fault-injection`).
#[cfg(feature = "fault-injection")]
fn injected_fault(stage: crate::sweep::cache::Stage, run_id: u64) -> std::io::Result<()> {
    crate::fault::check_stage(stage.name(), run_id)
}

/// Builds without the feature have no fault to inject.
#[cfg(not(feature = "fault-injection"))]
fn injected_fault(_stage: crate::sweep::cache::Stage, _run_id: u64) -> std::io::Result<()> {
    Ok(())
}

/// Rayon's threads follow `SLURM_CPUS_PER_TASK` when Slurm set it.
fn use_slurm_cpus() {
    if let Some(cpus) = std::env::var("SLURM_CPUS_PER_TASK").ok().and_then(|v| v.parse::<usize>().ok()) {
        // Fails only when the pool was already built (then it keeps its size).
        let _ = rayon::ThreadPoolBuilder::new().num_threads(cpus.max(1)).build_global();
    }
}

static PREEMPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_preemption_signal(_: libc::c_int) {
    PREEMPTED.store(true, Ordering::SeqCst);
}

/// Under Slurm, on SIGUSR2: print why, requeue this task and wait to be stopped by Slurm.
fn watch_for_preemption() {
    let Some(job) = crate::sweep::claim::slurm_task() else { return };
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGUSR2, on_preemption_signal as *const () as libc::sighandler_t);
    }
    let _ = std::thread::Builder::new().name("preemption".into()).spawn(move || {
        while !PREEMPTED.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        #[allow(clippy::print_stderr)]
        {
            eprintln!("segsweep: preemption signal: requeueing {job}; it resumes from the last finished epoch");
            if let Err(error) = super::queue::requeue(&job) {
                eprintln!("segsweep: cannot requeue {job}: {error}");
                std::process::exit(75);
            }
        }
        // Slurm stops this process now; the claim is taken over by the requeued task.
        std::thread::sleep(std::time::Duration::from_secs(60));
        std::process::exit(75);
    });
}
