//! Which stage keys a submission sends to Slurm: every key of the grid that is neither finished
//! in the cache nor waiting or running in an earlier submission, once each (cells that differ
//! only in inference share their training), in grid order.
//!
//! Owns: keying a whole sweep for the Slurm commands and choosing the tasks. Must not: run
//! Slurm's commands or write files (the synthetic data aside, which keying needs).

use std::collections::HashSet;
use std::path::Path;

use super::Task;
use crate::device::DeviceKind;
use crate::sweep::cache::{PerStage, Stage};
use crate::sweep::driver::{data_overrides, run_keys};
use crate::sweep::exec::DataHashes;
use crate::sweep::grid::{RunSpec, expand};
use crate::sweep::manifest::{Manifest, load_manifest, validate};

/// A manifest expanded and keyed: every run's three stage keys.
pub struct KeyedSweep {
    pub manifest: Manifest,
    pub specs: Vec<RunSpec>,
    pub keys: Vec<PerStage<String>>,
}

/// Loads, validates, expands and keys the manifest at `path` for `device_kind` (the data are
/// hashed once, each cell's config resolved once for all its run_ids).
pub fn key_sweep(path: &Path, device_kind: DeviceKind) -> anyhow::Result<KeyedSweep> {
    let manifest = load_manifest(path)?;
    validate(&manifest)?;
    let specs = expand(&manifest)?;
    let data = data_overrides(&manifest)?;
    let keys = run_keys(&manifest, &specs, &data, device_kind, &DataHashes::default())?;
    Ok(KeyedSweep { manifest, specs, keys })
}

/// The tasks of each stage: keys not `finished` and not `in_flight`, each once, in grid order.
pub fn stage_tasks(
    keys: &[PerStage<String>],
    finished: impl Fn(Stage, &str) -> bool,
    in_flight: &HashSet<(Stage, String)>,
) -> PerStage<Vec<Task>> {
    let mut tasks: PerStage<Vec<Task>> = PerStage::default();
    let mut taken: HashSet<(Stage, &str)> = HashSet::new();
    for (run, run_keys) in keys.iter().enumerate() {
        for (stage, key) in run_keys.iter() {
            let waiting = in_flight.contains(&(stage, key.clone()));
            if !waiting && !finished(stage, key) && taken.insert((stage, key)) {
                tasks[stage].push(Task { run, key: key.clone() });
            }
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(train: &str, infer: &str, evaluate: &str) -> PerStage<String> {
        PerStage { train: train.into(), infer: infer.into(), evaluate: evaluate.into() }
    }

    #[test]
    fn shared_trainings_go_once_and_finished_or_queued_keys_not_at_all() {
        // Two run_ids × two overlaps: runs 0, 1 share training a; runs 2, 3 share training b.
        let grid = [keys("a", "a0", "a0e"), keys("a", "a1", "a1e"), keys("b", "b0", "b0e"), keys("b", "b1", "b1e")];
        let finished = |stage: Stage, key: &str| stage == Stage::Train && key == "a";
        let in_flight: HashSet<_> = [(Stage::Infer, "b1".to_string())].into();
        let tasks = stage_tasks(&grid, finished, &in_flight);
        let names = |stage: Stage| tasks[stage].iter().map(|t| (t.run, t.key.as_str())).collect::<Vec<_>>();
        assert_eq!(names(Stage::Train), [(2, "b")]);
        assert_eq!(names(Stage::Infer), [(0, "a0"), (1, "a1"), (2, "b0")]);
        assert_eq!(names(Stage::Evaluate), [(0, "a0e"), (1, "a1e"), (2, "b0e"), (3, "b1e")]);
        let nothing = stage_tasks(&grid, |_, _| true, &HashSet::new());
        assert!(Stage::ALL.into_iter().all(|s| nothing[s].is_empty()));
    }
}
