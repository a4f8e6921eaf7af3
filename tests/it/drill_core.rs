//! The kill-and-resume drill (issue 8), shared by the `drill` integration test (10 kills) and
//! `cargo xtask drill` (50 and more): std only, so the xtask includes this file as it is and
//! still never compiles burn.
//!
//! A drill runs a manifest once uninterrupted (the reference), then in rounds: each round starts
//! from an empty folder and runs `segsweep sweep`, SIGKILLing it after a random delay (seeded, so
//! a failing drill can be replayed) until one run finishes. After every kill the cache must hold
//! no entry without `record.json`; after every round the results must equal the reference (every
//! file of the sweep's tree, bytes for images and checkpoints, text with timings and absolute
//! paths taken out), no temporary file or unfinished entry may be left, and the cache's
//! completion log must show each stage finished exactly once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a drill did.
#[derive(Debug, Default)]
pub struct DrillReport {
    pub kills: usize,
    pub rounds: usize,
    /// Sweep processes started (killed or not), reference excluded.
    pub starts: usize,
    /// Kills by what the sweep was doing, judged from the cache right after the kill.
    pub kills_by_phase: BTreeMap<&'static str, usize>,
    /// Seconds of the uninterrupted reference sweep.
    pub reference_seconds: f64,
}

/// A small seeded generator (SplitMix64): reproducible kill moments without a dependency.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Runs a drill of at least `kills` SIGKILLs of `binary sweep` on `manifest` (YAML text whose
/// `result_dir` is `../results`, `name` is `name`) under `work`; `say` receives progress lines.
pub fn run_drill(
    binary: &Path,
    work: &Path,
    manifest: &str,
    name: &str,
    kills: usize,
    seed: u64,
    say: &mut dyn FnMut(&str),
) -> Result<DrillReport, String> {
    let mut report = DrillReport::default();
    let reference_root = work.join("reference");
    let started = Instant::now();
    run_to_end(binary, &reference_root, manifest)?;
    report.reference_seconds = started.elapsed().as_secs_f64();
    let expected = snapshot(&reference_root, name)?;
    say(&format!("reference sweep: {:.2} s, {} result files", report.reference_seconds, expected.len()));
    let window_ms = ((report.reference_seconds * 1200.0) as u64).max(50);
    let mut rng = SplitMix(seed);
    while report.kills < kills {
        let root = work.join(format!("round-{}", report.rounds));
        let manifest_path = write_manifest(&root, manifest)?;
        loop {
            let delay = Duration::from_millis(rng.below(window_ms));
            report.starts += 1;
            match run_until(binary, &manifest_path, &root, Some(delay))? {
                Ended::Finished => break,
                Ended::Killed => {
                    report.kills += 1;
                    *report.kills_by_phase.entry(phase(&root, name)).or_default() += 1;
                    check_no_unfinished_entry(&root)?;
                }
            }
            if report.starts > 50 * kills.max(1) {
                return Err(format!("no sweep finished after {} starts", report.starts));
            }
        }
        check_round(&root, name, &expected).map_err(|e| format!("round {} (seed {seed}): {e}", report.rounds))?;
        report.rounds += 1;
        say(&format!("round {}: {} kills so far, results equal the reference", report.rounds, report.kills));
        std::fs::remove_dir_all(&root).map_err(|e| format!("cannot remove `{}`: {e}", root.display()))?;
    }
    Ok(report)
}

/// How a started sweep ended.
enum Ended {
    Finished,
    Killed,
}

/// Writes the manifest as `root/exp/drill.yaml`.
pub fn write_manifest(root: &Path, manifest: &str) -> Result<PathBuf, String> {
    let path = root.join("exp/drill.yaml");
    std::fs::create_dir_all(root.join("exp")).map_err(|e| format!("cannot create `{}`: {e}", root.display()))?;
    std::fs::write(&path, manifest).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok(path)
}

/// Runs one uninterrupted sweep in a fresh `root`.
fn run_to_end(binary: &Path, root: &Path, manifest: &str) -> Result<(), String> {
    let path = write_manifest(root, manifest)?;
    match run_until(binary, &path, root, None)? {
        Ended::Finished => Ok(()),
        Ended::Killed => Err("the reference sweep was killed".into()),
    }
}

/// Starts `binary sweep manifest` and SIGKILLs it after `delay` if it still runs; a run that
/// ends by itself must succeed.
fn run_until(binary: &Path, manifest: &Path, root: &Path, delay: Option<Duration>) -> Result<Ended, String> {
    let log_path = root.join("sweep.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("cannot create `{}`: {e}", log_path.display()))?;
    let mut child = Command::new(binary)
        .arg("sweep")
        .arg(manifest)
        .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", binary.display()))?;
    let deadline = delay.map(|d| Instant::now() + d);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if status.success() {
                return Ok(Ended::Finished);
            }
            let output = std::fs::read_to_string(&log_path).unwrap_or_default();
            return Err(format!("the sweep ended with {status}:\n{output}"));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            child.kill().map_err(|e| format!("cannot kill the sweep: {e}"))?;
            child.wait().map_err(|e| e.to_string())?;
            return Ok(Ended::Killed);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The cache's finished entries per stage (`stage/key`) and every other name in its folders.
fn cache_entries(root: &Path) -> (BTreeSet<String>, Vec<String>) {
    let mut finished = BTreeSet::new();
    let mut others = Vec::new();
    for stage in ["train", "infer", "evaluate"] {
        let Ok(entries) = std::fs::read_dir(root.join("results/.cache").join(stage)) else { continue };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".lock") || name.ends_with(".claim") {
                continue;
            }
            let is_key = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if is_key && entry.path().is_dir() {
                finished.insert(format!("{stage}/{name}"));
            } else {
                others.push(format!("{stage}/{name}"));
            }
        }
    }
    (finished, others)
}

/// Every entry folder named by a bare key has its `record.json`.
fn check_no_unfinished_entry(root: &Path) -> Result<(), String> {
    let (entries, _) = cache_entries(root);
    let cache = root.join("results/.cache");
    match entries.iter().find(|e| !cache.join(e).join("record.json").exists()) {
        Some(entry) => Err(format!("cache entry `{entry}` has no record.json")),
        None => Ok(()),
    }
}

/// What the killed sweep was doing, judged from what it left.
fn phase(root: &Path, name: &str) -> &'static str {
    let (entries, others) = cache_entries(root);
    let count = |stage: &str| entries.iter().filter(|e| e.starts_with(stage)).count();
    let partial = |stage: &str| others.iter().any(|o| o.starts_with(stage) && o.ends_with(".partial"));
    if partial("train") {
        "training"
    } else if partial("infer") {
        "predicting"
    } else if partial("evaluate") {
        "evaluating"
    } else if count("evaluate") == 0 && count("train") == 0 {
        "starting (data)"
    } else if root.join("results").join(name).join("sweep/report.md").exists() {
        "materialising or reports (second pass)"
    } else {
        "materialising or reports"
    }
}

/// The end-of-round checks.
fn check_round(root: &Path, name: &str, expected: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    check_no_unfinished_entry(root)?;
    let (entries, others) = cache_entries(root);
    if let Some(other) = others.iter().find(|o| o.ends_with(".partial") || o.contains(".stale-")) {
        return Err(format!("`{other}` is left in the cache after a finished sweep"));
    }
    if let Some(tmp) = temporaries(&root.join("results")).first() {
        return Err(format!("temporary file `{}` is left after a finished sweep", tmp.display()));
    }
    check_completions(root, &entries)?;
    let got = snapshot(root, name)?;
    compare(expected, &got)
}

/// The completion log names each finished entry exactly once. (Its line is written right after
/// the entry's rename, with the log already open; a kill inside that one write would leave an
/// entry without a line and fail this check, a window of microseconds against kills spread over
/// a second.)
pub fn check_completions(root: &Path, entries: &BTreeSet<String>) -> Result<(), String> {
    let log = root.join("results/.cache/completions.log");
    let text = std::fs::read_to_string(&log).map_err(|e| format!("cannot read `{}`: {e}", log.display()))?;
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(stage), Some(key)) = (fields.next(), fields.next()) else {
            return Err(format!("bad completion log line `{line}`"));
        };
        let entry = format!("{stage}/{key}");
        if !seen.insert(entry.clone()) {
            return Err(format!("stage `{entry}` ran to completion twice"));
        }
    }
    if &seen != entries {
        return Err(format!("completion log {seen:?} does not match the cache's entries {entries:?}"));
    }
    Ok(())
}

/// Files named like a temporary sibling (`.name.tmp-<pid>…`) under `dir`.
pub fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk(dir, &mut |path| {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') && name.contains(".tmp-") {
            found.push(path.to_path_buf());
        }
    });
    found
}

/// Calls `visit` with every file under `dir`, recursively.
pub fn walk_files(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    walk(dir, visit)
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&path, visit);
        } else {
            visit(&path);
        }
    }
}

/// Every file of the sweep's tree `root/results/<name>/` by relative path, with what may differ
/// between equal runs taken out: TensorBoard event files (wall times), the `seconds` and
/// `model_seconds` of `metrics.json`, timing and cache-hit columns of CSV files, and the root folder's path.
pub fn snapshot(root: &Path, name: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let tree = root.join("results").join(name);
    let root_text = root.to_string_lossy().into_owned();
    let mut files = BTreeMap::new();
    let mut error = None;
    walk(&tree, &mut |path| {
        let rel = path.strip_prefix(&tree).unwrap_or(path).to_string_lossy().into_owned();
        if rel.contains("/tensorboard/") {
            return;
        }
        match std::fs::read(path) {
            Ok(bytes) => {
                files.insert(rel.clone(), normalise(&rel, bytes, &root_text));
            }
            Err(e) => error = Some(format!("cannot read `{}`: {e}", path.display())),
        }
    });
    match error {
        Some(e) => Err(e),
        None if files.is_empty() => Err(format!("`{}` holds no file", tree.display())),
        None => Ok(files),
    }
}

fn normalise(rel: &str, bytes: Vec<u8>, root: &str) -> Vec<u8> {
    let is_text = [".csv", ".json", ".md", ".yaml", ".html"].iter().any(|ext| rel.ends_with(ext));
    let Ok(text) = String::from_utf8(bytes.clone()) else { return bytes };
    if !is_text {
        return bytes;
    }
    let text = text.replace(root, "{root}");
    let text = if rel.ends_with(".csv") {
        drop_columns(&text, |header| header.ends_with("seconds") || header.ends_with("_cached"))
    } else if rel.ends_with(".json") {
        text.lines().filter(|l| !l.contains("seconds\":")).collect::<Vec<_>>().join("\n")
    } else {
        text
    };
    text.into_bytes()
}

/// CSV text without the columns whose header `drop` selects (quoted fields kept whole).
fn drop_columns(text: &str, drop: impl Fn(&str) -> bool) -> String {
    let rows: Vec<Vec<String>> = text.lines().map(split_csv).collect();
    let Some(header) = rows.first() else { return String::new() };
    let keep: Vec<bool> = header.iter().map(|h| !drop(h)).collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .filter(|(i, _)| keep.get(*i).copied().unwrap_or(true))
                .map(|(_, f)| f.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == ',' && !quoted {
            fields.push(String::new());
        } else if let Some(field) = fields.last_mut() {
            field.push(c);
        }
    }
    fields
}

/// Equal trees, or the first difference.
pub fn compare(expected: &BTreeMap<String, Vec<u8>>, got: &BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let (want, have): (BTreeSet<_>, BTreeSet<_>) = (expected.keys().collect(), got.keys().collect());
    if want != have {
        let missing: Vec<_> = want.difference(&have).collect();
        let extra: Vec<_> = have.difference(&want).collect();
        return Err(format!("the results differ in their files: missing {missing:?}, extra {extra:?}"));
    }
    for (rel, bytes) in expected {
        if got[rel] != *bytes {
            let at = bytes.iter().zip(&got[rel]).position(|(a, b)| a != b).unwrap_or(0).saturating_sub(200);
            let show = |b: &[u8]| String::from_utf8_lossy(&b[at.min(b.len())..b.len().min(at + 600)]).into_owned();
            return Err(format!(
                "`{rel}` differs from the uninterrupted sweep's\n--- expected\n{}\n--- got\n{}",
                show(bytes),
                show(&got[rel])
            ));
        }
    }
    Ok(())
}
