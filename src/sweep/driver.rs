//! `segsweep sweep`: load and validate a manifest, expand the grid, make the data (the built-in
//! synthetic set is generated once, deterministically), and run every cell's stages through the
//! cache — or, with `--dry-run`, say per run and stage whether it is cached or to run. A failed
//! run is recorded with its error and the sweep goes on; the outcome counts the failures.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use anyhow::Context;

use super::cache::{Cache, PerStage, Stage};
use super::exec::{DataHashes, SweepRunOutcome, cached_stages, execute, materialise, stage_keys};
use super::grid::{RunSpec, expand, override_arg};
use super::manifest::{Base, DataSpec, Manifest, load_manifest, validate};
use crate::config::raw::{RawLayer, flatten, parse_overrides, read_yaml_file};
use crate::config::{Config, Origin, resolve::resolve};
use crate::data::hash::sha256_hex;
use crate::data::synth_io::{SynthFormat, write_synthetic};
use crate::device::{DeviceKind, RunDevice};

/// How to run a sweep.
pub struct SweepOptions {
    /// Runs executed at the same time (each with its share of the cores).
    pub jobs: usize,
    pub dry_run: bool,
    pub force: Option<Stage>,
    /// The device runs execute on. `None` for the commands that only read the cache (`report`,
    /// `check`): they need the kind for the keys, not a device, and a stage that is not cached
    /// is a failed run.
    pub device: Option<RunDevice>,
    pub device_kind: DeviceKind,
}

/// One run of the grid and how it ended.
pub struct SweepRun {
    pub spec: RunSpec,
    pub result: Result<SweepRunOutcome, String>,
}

/// Everything a sweep did, for the reports.
pub struct SweepOutcome {
    pub manifest: Manifest,
    pub runs: Vec<SweepRun>,
    /// Trainings actually run (not taken from the cache).
    pub n_trained: usize,
}

impl SweepOutcome {
    pub fn n_failed(&self) -> usize {
        self.runs.iter().filter(|r| r.result.is_err()).count()
    }
}

/// The sweep's output folder, `<result_dir>/<name>/`.
pub fn sweep_dir(manifest: &Manifest) -> PathBuf {
    manifest.result_dir.join(&manifest.name)
}

/// Runs (or, dry, describes) the sweep of `manifest_path`: `options.jobs` runs at a time, each
/// with its share of the cores; lines are printed as runs finish, results kept in grid order.
pub fn run_sweep(manifest_path: &Path, options: &SweepOptions, out: &mut dyn Write) -> anyhow::Result<SweepOutcome> {
    let manifest = load_manifest(manifest_path)?;
    validate(&manifest)?;
    let specs = expand(&manifest)?;
    let data_overrides = data_overrides(&manifest)?;
    let cache = Cache::new(&manifest.result_dir);
    let hashes = DataHashes::default();
    if options.dry_run {
        dry_run(&manifest, &specs, &data_overrides, &cache, &hashes, options.device_kind, out)?;
        return Ok(SweepOutcome { manifest, runs: Vec::new(), n_trained: 0 });
    }
    let n = specs.len();
    let jobs = options.jobs.clamp(1, n.max(1));
    let threads = (rayon::current_num_threads() / jobs).max(1);
    let mut bar = super::progress::sweep_bar(n, true);
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<anyhow::Result<SweepRunOutcome>>> = (0..n).map(|_| None).collect();
    let (sender, receiver) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (specs, next, cache, data_overrides, manifest, hashes) =
                (&specs, &next, &cache, &data_overrides, &manifest, &hashes);
            scope.spawn(move || {
                let pool =
                    (jobs > 1).then(|| rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok()).flatten();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(spec) = specs.get(i) else { break };
                    let label = format!("[{}/{n}] {} run_id {}", i + 1, spec.cell_name, spec.run_id);
                    let work = || run_one(manifest, spec, data_overrides, cache, hashes, options, &label);
                    let result = match &pool {
                        Some(pool) => pool.install(work),
                        None => work(),
                    };
                    if sender.send((i, label, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        for (i, label, result) in receiver {
            let line = match &result {
                Ok((line, _)) => line.clone(),
                Err(error) => format!("{label}: failed: {error:#}"),
            };
            bar.suspend(|| writeln!(out, "{line}").ok());
            bar.record(result.as_ref().ok().map(|(_, o)| o.stages.cached), result.is_err());
            results[i] = Some(result.map(|(_, outcome)| outcome));
        }
    });
    bar.finish();
    let mut runs = Vec::new();
    let mut n_trained = 0;
    for (spec, result) in specs.into_iter().zip(results) {
        match result.unwrap_or_else(|| Err(anyhow::anyhow!("the run was not executed"))) {
            Ok(outcome) => {
                n_trained += usize::from(!outcome.stages.cached.train);
                runs.push(SweepRun { spec, result: Ok(outcome) });
            }
            Err(error) => runs.push(SweepRun { spec, result: Err(format!("{error:#}")) }),
        }
    }
    Ok(SweepOutcome { manifest, runs, n_trained })
}

/// `--dry-run`: per run and stage, whether it is cached, runs, or is shared with an earlier run
/// of the grid (cells that differ only in inference share their training), then the totals.
fn dry_run(
    manifest: &Manifest,
    specs: &[RunSpec],
    data: &[String],
    cache: &Cache,
    hashes: &DataHashes,
    device_kind: DeviceKind,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let n = specs.len();
    let mut first_user: PerStage<std::collections::HashMap<String, usize>> = PerStage::default();
    let mut to_run = PerStage::<usize>::default();
    let all_keys = run_keys(manifest, specs, data, device_kind, hashes)?;
    for (i, (spec, keys)) in specs.iter().zip(&all_keys).enumerate() {
        let words: Vec<String> = Stage::ALL
            .into_iter()
            .map(|stage| {
                let state = if cache.is_finished(stage, &keys[stage]) {
                    "cached".to_string()
                } else if let Some(&first) = first_user[stage].get(&keys[stage]) {
                    format!("shared with [{}/{n}]", first + 1)
                } else {
                    first_user[stage].insert(keys[stage].clone(), i);
                    to_run[stage] += 1;
                    "to run".to_string()
                };
                format!("{stage} {state}")
            })
            .collect();
        writeln!(out, "[{}/{n}] {} run_id {}: {}", i + 1, spec.cell_name, spec.run_id, words.join(", "))?;
    }
    let plural = |count: usize, one: &str, many: &str| format!("{count} {}", if count == 1 { one } else { many });
    writeln!(
        out,
        "{n} runs: {}, {}, {} to run",
        plural(to_run.train, "training", "trainings"),
        plural(to_run.infer, "inference", "inferences"),
        plural(to_run.evaluate, "evaluation", "evaluations"),
    )?;
    Ok(())
}

/// One run: its printed line and its outcome.
fn run_one(
    manifest: &Manifest,
    spec: &RunSpec,
    data: &[String],
    cache: &Cache,
    hashes: &DataHashes,
    options: &SweepOptions,
    label: &str,
) -> anyhow::Result<(String, SweepRunOutcome)> {
    let config = run_config(manifest, spec, data)?;
    let (seed, keys) = stage_keys(&config, spec.run_id, options.device_kind, hashes)?;
    if options.device.is_none() {
        // Cache only: refuse before `execute` would lock and prepare an entry to compute.
        let cached = cached_stages(cache, &keys);
        if let Some(stage) = Stage::ALL.into_iter().find(|&s| !cached[s]) {
            return Err(super::exec::not_cached(stage));
        }
    }
    // The stages' own progress lines stay out of the sweep's output; their warnings (a corrupt
    // cache record, a skipped batch) are kept and printed after the run's line.
    let mut log = Vec::new();
    let outcome = execute(cache, &config, spec.run_id, (seed, keys), options.device.as_ref(), options.force, &mut log)?;
    let warnings: String = String::from_utf8_lossy(&log)
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(|l| format!("\n  {l}"))
        .collect();
    let job_dir = sweep_dir(manifest).join(&spec.cell_name);
    materialise(cache, &outcome.stages.keys, &config, &job_dir, &format!("{}_{}", spec.cell_name, spec.run_id))?;
    let word = |c: bool| if c { "cached" } else { "ran" };
    let cached = outcome.stages.cached;
    let iou = outcome.test.summary.written_masks();
    let line = format!(
        "{label}: train {}, infer {}, evaluate {}; {} {}",
        word(cached.train),
        word(cached.infer),
        word(cached.evaluate),
        super::reports::HEADLINE,
        iou.map_or("-".into(), |v| format!("{v:.4}"))
    );
    Ok((line + &warnings, outcome))
}

/// The three stage keys of every run of `specs` (`data`: the data overrides), each cell's config
/// resolved once for all its run_ids and the data hashed once per `hashes`.
pub fn run_keys(
    manifest: &Manifest,
    specs: &[RunSpec],
    data: &[String],
    device_kind: DeviceKind,
    hashes: &DataHashes,
) -> anyhow::Result<Vec<PerStage<String>>> {
    let mut configs = std::collections::HashMap::new();
    specs
        .iter()
        .map(|spec| {
            let config = match configs.entry(spec.cell_name.clone()) {
                std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => slot.insert(run_config(manifest, spec, data)?),
            };
            let (_, keys) = stage_keys(config, spec.run_id, device_kind, hashes)?;
            Ok(keys.map(|_, inputs| inputs.key.clone()))
        })
        .collect()
}

/// The resolved config of one run: base ← data paths ← `set` ← the cell's values.
pub fn run_config(manifest: &Manifest, spec: &RunSpec, data: &[String]) -> anyhow::Result<Config> {
    let base = match &manifest.base {
        Base::File(path) => read_yaml_file(path)?,
        Base::Inline(value) => {
            let mut layer = RawLayer::new(Origin::File(manifest.path.clone()));
            flatten("", value.clone(), &mut layer.values);
            layer
        }
    };
    let mut args: Vec<String> = data.to_vec();
    args.extend(manifest.set.iter().map(|(k, v)| override_arg(k, v)));
    args.extend(spec.overrides.iter().cloned());
    let set = parse_overrides(&args)?;
    Ok(resolve(vec![base, set])?.config)
}

/// Generates the synthetic set at `dir` under the claim `<dir>.claim`, unless another sweep did
/// while we waited; a killed generation's partial folders (`.<name>.partial-<pid>`) go first.
fn make_synthetic(dir: &Path, params: &crate::data::SynthParams) -> anyhow::Result<()> {
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let claim_path = parent.join(format!("{name}.claim"));
    let claim = super::claim::Claim::acquire(&claim_path, &Default::default())
        .with_context(|| format!("cannot claim `{}`", claim_path.display()))?;
    if !dir.join("synth.json").exists() {
        let prefix = format!(".{name}.partial-");
        for entry in std::fs::read_dir(parent).into_iter().flatten().filter_map(Result::ok) {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let pid = file_name.strip_prefix(&prefix).and_then(|p| p.parse().ok());
            if pid.is_some_and(|pid| !crate::atomic::process_alive(pid)) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        if dir.exists() && std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
            std::fs::remove_dir(dir).with_context(|| format!("cannot remove `{}`", dir.display()))?;
        }
        write_synthetic(dir, params, SynthFormat::Tif)?;
    }
    drop(claim);
    Ok(())
}

/// The data overrides of the manifest; the synthetic set is generated (once) under
/// `<result_dir>/.data/synth-<hash of its parameters>/` (also by a dry run: the stage keys hash
/// the data, and generating it is cheap and deterministic).
pub fn data_overrides(manifest: &Manifest) -> anyhow::Result<Vec<String>> {
    let pair = |prefix: &str, (x, y): &(PathBuf, PathBuf)| {
        vec![format!("DATA.{prefix}.PATH={}", x.display()), format!("DATA.{prefix}.GT_PATH={}", y.display())]
    };
    match &manifest.data {
        None => Ok(Vec::new()),
        Some(DataSpec::Folders { train, val, test }) => {
            let mut args = pair("TRAIN", train);
            if let Some(val) = val {
                args.extend(pair("VAL", val));
                args.push("DATA.VAL.FROM_TRAIN=False".into());
            }
            if let Some(test) = test {
                args.extend(pair("TEST", test));
            }
            Ok(args)
        }
        Some(DataSpec::Synthetic(synth)) => {
            let params = serde_json::to_string(&synth.params)?;
            let dir = manifest.result_dir.join(".data").join(format!("synth-{}", &sha256_hex(params.as_bytes())[..12]));
            if !dir.join("synth.json").exists() {
                make_synthetic(&dir, &synth.params)?;
            }
            let split = |s: &str| (dir.join(s).join("x"), dir.join(s).join("y"));
            let mut args = pair("TRAIN", &split("train"));
            args.extend(pair("TEST", &split("test")));
            Ok(args)
        }
    }
}
