//! Executing one run of a grid as three cached stages — train, infer, evaluate — each skipped
//! when its key's entry is finished, each run under its key's claim in the key's partial folder
//! (a killed training resumes there), and the run's BiaPy results tree materialised from the
//! entries with hard links.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cache::{Cache, PerStage, Stage, link_file, link_tree, link_tree_renamed};
use super::key::{StageInputs, evaluate_inputs, infer_inputs, train_inputs};
use crate::config::Config;
use crate::data::dataset::{DataError, config_splits, split_hash};
use crate::data::hash::sha256_hex;
use crate::device::{DeviceKind, RunDevice};
use crate::infer::{TestOutcome, evaluate_stage, infer_stage};
use crate::layout::RunLayout;
use crate::train::checkpoint::{Checkpoints, load_best};
use crate::train::log::EpochRow;
use crate::train::seed::run_seed;
use crate::train::train_job;

/// The job id used inside cache entries (they are shared by every cell with the same key).
const ENTRY_JOB: &str = "run";

/// What the train stage records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainRecord {
    pub seed: u64,
    pub rows: Vec<EpochRow>,
    pub best_epoch: usize,
    pub best_val_loss: f64,
    pub best_val_iou: f64,
    pub seconds: f64,
}

/// The three keys of a run and whether each stage came from the cache.
#[derive(Clone, Debug, PartialEq)]
pub struct RunStages {
    pub seed: u64,
    pub keys: PerStage<StageInputs>,
    pub cached: PerStage<bool>,
}

/// The outcome of a finished run of a sweep.
#[derive(Clone, Debug)]
pub struct SweepRunOutcome {
    pub stages: RunStages,
    pub train: TrainRecord,
    pub test: TestOutcome,
}

/// A split's image, mask and histogram-reference folders (`DATA.PREPROCESS.MATCH_HISTOGRAM`),
/// and the `resolution.json` it reads (`DATA.RESOLUTION_NORM`).
type SplitFolders = (String, String, String, String);

/// Content hashes of data splits, computed once per process and folder set: every run of a
/// sweep reads the same folders, and hashing multi-gigabyte stacks once per run would dominate
/// a sweep of cached stages.
#[derive(Debug, Default)]
pub struct DataHashes {
    known: std::sync::Mutex<std::collections::HashMap<Vec<SplitFolders>, String>>,
}

impl DataHashes {
    /// The hash of the training (train and validation) or the test splits of `config`.
    fn of(&self, config: &Config, training: bool) -> Result<String, DataError> {
        let splits: Vec<_> = config_splits(config).into_iter().filter(|s| s.role.is_training() == training).collect();
        let folders: Vec<SplitFolders> = splits
            .iter()
            .map(|s| {
                (
                    s.image_dir.display().to_string(),
                    s.mask_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
                    s.preprocess
                        .as_ref()
                        .and_then(|p| p.reference_dir())
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
                    s.resolution_json.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                )
            })
            .collect();
        let mut known = self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hash) = known.get(&folders) {
            return Ok(hash.clone());
        }
        let parts: Vec<String> = splits.iter().map(split_hash).collect::<Result<_, _>>()?;
        let hash = sha256_hex(parts.join("\n").as_bytes());
        known.insert(folders, hash.clone());
        Ok(hash)
    }
}

/// The effective seed and the three stage keys of a run (reads the data to hash it, once per
/// `hashes`).
pub fn stage_keys(
    config: &Config,
    run_id: u64,
    device_kind: DeviceKind,
    hashes: &DataHashes,
) -> Result<(u64, PerStage<StageInputs>), DataError> {
    let seed = run_seed(config.system.seed, run_id);
    let train = train_inputs(config, &hashes.of(config, true)?, seed, device_kind);
    let infer = infer_inputs(config, &train.key, &hashes.of(config, false)?);
    let evaluate = evaluate_inputs(config, &infer.key);
    Ok((seed, PerStage { train, infer, evaluate }))
}

/// Whether each stage of the keys is already in the cache.
pub fn cached_stages(cache: &Cache, keys: &PerStage<StageInputs>) -> PerStage<bool> {
    keys.map(|stage, inputs| cache.is_finished(stage, &inputs.key))
}

/// Runs (or re-uses) the three stages of one run with its [`stage_keys`]; `force` re-runs that
/// stage and the later ones. Without a device (`report`, `check`) only cached stages can be had:
/// the caller checks they all are, and a stage that would still run is an error.
pub fn execute(
    cache: &Cache,
    config: &Config,
    run_id: u64,
    (seed, keys): (u64, PerStage<StageInputs>),
    device: Option<&RunDevice>,
    force: Option<Stage>,
    out: &mut dyn Write,
) -> anyhow::Result<SweepRunOutcome> {
    let forced = |stage: Stage| force.is_some_and(|f| f <= stage);
    let run = StageRun { cache, config, run_id, seed, keys: &keys, device };
    let mut cached = PerStage::default();
    let (train, was_cached) = run.train(forced(Stage::Train), out)?;
    cached.train = was_cached;
    let (infer, was_cached) = run.infer(forced(Stage::Infer), out)?;
    cached.infer = was_cached;
    let (test, was_cached) = run.evaluate(&infer, forced(Stage::Evaluate), out)?;
    cached.evaluate = was_cached;
    Ok(SweepRunOutcome { stages: RunStages { seed, keys, cached }, train, test })
}

/// Runs exactly one stage of a run (a Slurm task, `segsweep stage`) and commits it; the stages
/// before it must be finished in the cache (the task's dependency waited for them; if they
/// failed, this says so and computes nothing). Returns whether the stage was already cached.
pub fn execute_stage(
    cache: &Cache,
    config: &Config,
    run_id: u64,
    (seed, keys): (u64, PerStage<StageInputs>),
    device: &RunDevice,
    stage: Stage,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    if let Some(before) =
        Stage::ALL.into_iter().take_while(|&s| s < stage).find(|&s| !cache.is_finished(s, &keys[s].key))
    {
        anyhow::bail!(
            "its {before} stage (key {}) has not finished: its task failed or was cancelled (`segsweep status` says why); nothing was computed",
            &keys[before].key[..12]
        );
    }
    let run = StageRun { cache, config, run_id, seed, keys: &keys, device: Some(device) };
    Ok(match stage {
        Stage::Train => run.train(false, out)?.1,
        Stage::Infer => run.infer(false, out)?.1,
        Stage::Evaluate => {
            let (infer, _) = run.infer(false, out)?;
            run.evaluate(&infer, false, out)?.1
        }
    })
}

/// One run's stages, each from the cache or computed and committed.
struct StageRun<'a> {
    cache: &'a Cache,
    config: &'a Config,
    run_id: u64,
    seed: u64,
    keys: &'a PerStage<StageInputs>,
    device: Option<&'a RunDevice>,
}

impl StageRun<'_> {
    fn device(&self, stage: Stage) -> anyhow::Result<&RunDevice> {
        self.device.ok_or_else(|| not_cached(stage))
    }

    fn train(&self, force: bool, out: &mut dyn Write) -> anyhow::Result<(TrainRecord, bool)> {
        cached_or_run(self.cache, Stage::Train, &self.keys.train, force, out, |partial, out| {
            let outcome = train_job(self.config, &entry_layout(partial), self.run_id, self.device(Stage::Train)?, out)?;
            Ok(TrainRecord {
                seed: self.seed,
                best_epoch: outcome.best_epoch,
                best_val_loss: outcome.best_val_loss,
                best_val_iou: outcome.best_val_iou,
                seconds: outcome.seconds,
                rows: outcome.rows,
            })
        })
    }

    fn infer(&self, force: bool, out: &mut dyn Write) -> anyhow::Result<(crate::infer::InferRecord, bool)> {
        let train_entry = entry_layout(&self.cache.entry(Stage::Train, &self.keys.train.key));
        cached_or_run(self.cache, Stage::Infer, &self.keys.infer, force, out, |partial, out| {
            let device = self.device(Stage::Infer)?;
            let model = load_best(self.config, &train_entry, &device.device)?;
            Ok(infer_stage(self.config, &entry_layout(partial), &model, device, out)?)
        })
    }

    fn evaluate(
        &self,
        infer: &crate::infer::InferRecord,
        force: bool,
        out: &mut dyn Write,
    ) -> anyhow::Result<(TestOutcome, bool)> {
        let infer_entry = entry_layout(&self.cache.entry(Stage::Infer, &self.keys.infer.key));
        cached_or_run(self.cache, Stage::Evaluate, &self.keys.evaluate, force, out, |partial, _out| {
            let layout = entry_layout(partial);
            link_tree(&infer_entry.results(), &layout.results())?;
            Ok(evaluate_stage(self.config, &layout, infer)?)
        })
    }
}

/// The error for a stage that is not in the cache when nothing may be computed.
pub fn not_cached(stage: Stage) -> anyhow::Error {
    anyhow::anyhow!("its {stage} stage is not in the cache; run `segsweep sweep` first")
}

/// The results layout inside a cache entry (or its partial folder): job id [`ENTRY_JOB`].
fn entry_layout(dir: &Path) -> RunLayout {
    RunLayout { job_dir: dir.to_path_buf(), job_id: ENTRY_JOB.into() }
}

/// The stage's record from the cache, or runs `work` in the partial folder under the key's lock
/// and commits it. Returns the record and whether it came from the cache.
fn cached_or_run<R: Serialize + for<'de> Deserialize<'de>>(
    cache: &Cache,
    stage: Stage,
    inputs: &StageInputs,
    force: bool,
    out: &mut dyn Write,
    work: impl FnOnce(&Path, &mut dyn Write) -> anyhow::Result<R>,
) -> anyhow::Result<(R, bool)> {
    if !force && let Some(record) = read_record(cache, stage, &inputs.key, out) {
        return Ok((record, true));
    }
    let claim = cache.claim(stage, &inputs.key)?;
    // Another sweep may have finished this entry while we waited for the claim.
    if !force && let Some(record) = read_record(cache, stage, &inputs.key, out) {
        return Ok((record, true));
    }
    // An entry there now is corrupt or forced away: the commit replaces it. One that appears
    // only while we work was committed by a process that judged our claim dead: it stays.
    let replace = force || cache.entry(stage, &inputs.key).exists();
    let partial = cache.prepare_partial(stage, &inputs.key, &claim)?;
    let record = work(&partial, out)?;
    cache.commit(stage, &inputs.key, (&inputs.inputs, &record), &claim, replace)?;
    Ok((record, false))
}

fn read_record<R: for<'de> Deserialize<'de>>(cache: &Cache, stage: Stage, key: &str, out: &mut dyn Write) -> Option<R> {
    match cache.record(stage, key) {
        Ok(record) => record,
        Err(warning) => {
            writeln!(out, "{warning}").ok();
            None
        }
    }
}

/// Materialises a run's BiaPy tree under `job_dir` (job id `job_id`) from its cache entries,
/// with hard links, and writes its resolved config. Every file arrives under its final name by a
/// rename, so a killed materialisation is simply done again and two sweeps materialising the
/// same run at once do not disturb each other.
pub fn materialise(
    cache: &Cache,
    keys: &PerStage<StageInputs>,
    config: &Config,
    job_dir: &Path,
    job_id: &str,
) -> anyhow::Result<()> {
    if job_dir.exists() {
        crate::atomic::remove_stale_temporaries(job_dir);
    }
    let layout = RunLayout { job_dir: job_dir.to_path_buf(), job_id: job_id.into() };
    crate::train::job::write_config(config, &layout.config_file())?;
    let train = cache.entry(Stage::Train, &keys.train.key);
    std::fs::create_dir_all(layout.checkpoints())?;
    link_file(&Checkpoints::of(&entry_layout(&train), config).best(), &Checkpoints::of(&layout, config).best())?;
    let results = layout.results();
    for entry in [train, cache.entry(Stage::Evaluate, &keys.evaluate.key)] {
        link_tree_renamed(&entry.join("results").join(ENTRY_JOB), &results, |name| entry_name(name, job_id))?;
    }
    Ok(())
}

/// `run_loss.png` → `<job_id>_loss.png`, `model_plot_run.png` → `model_plot_<job_id>.png`, …
fn entry_name(name: &str, job_id: &str) -> String {
    if let Some(rest) = name.strip_prefix(&format!("{ENTRY_JOB}_")) {
        format!("{job_id}_{rest}")
    } else if let Some(stem) = name.strip_suffix(&format!("_{ENTRY_JOB}.png")) {
        format!("{stem}_{job_id}.png")
    } else {
        name.to_string()
    }
}
