//! Replays the committed fuzzing inputs of `tests/corpus/fuzz/<target>/` through what each
//! cargo-fuzz target of `fuzz/` calls (issue 8): every input must be handled without a panic,
//! and the oversized-TIFF inputs (`huge-*`: 100 000 × 100 000 pixels, or 1 000 pages of
//! 10 000 × 10 000) must be refused before any allocation, naming the limit.

use std::path::{Path, PathBuf};
use std::time::Instant;

use segsweep::config::{load_str, to_yaml};
use segsweep::data::tiff_io::{read_tiff, read_tiff_with_limit};
use segsweep::sweep::grid::expand;
use segsweep::sweep::manifest::{parse_manifest, validate};

use crate::util::repo_root;

/// The committed inputs of one target; a missing or empty folder fails the test (a replay
/// of nothing checks nothing).
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = repo_root().join("tests/corpus/fuzz").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus `{}` is missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    assert!(!files.is_empty(), "corpus `{}` is empty", dir.display());
    files
}

fn replay_tiff(path: &Path) {
    if let Ok(image) = read_tiff_with_limit(path, 64 << 20) {
        let _ = image.volume.to_labels();
        let _ = image.volume.to_f32();
    }
}

/// Whether the input loaded (and so was written back and loaded again).
fn replay_config(text: &str) -> bool {
    let (yaml, overrides) = match text.split_once("\n--set\n") {
        Some((yaml, rest)) => (yaml, rest.lines().map(str::to_string).collect::<Vec<_>>()),
        None => (text, Vec::new()),
    };
    if let Ok(loaded) = load_str(yaml, &overrides) {
        let written = to_yaml(&loaded.config).expect("a resolved config is written as YAML");
        assert!(load_str(&written, &[]).is_ok(), "a resolved config does not load back:\n{written}");
        return true;
    }
    false
}

/// Whether the input parsed as a manifest (and so went on to validation and expansion).
fn replay_manifest(text: &str) -> bool {
    if let Ok(manifest) = parse_manifest(text, Path::new("/nonexistent/fuzz/manifest.yaml")) {
        let _ = validate(&manifest);
        let _ = expand(&manifest);
        return true;
    }
    false
}

#[test]
fn committed_fuzz_inputs_are_handled_without_panic() {
    let tiffs = inputs("tiff_reader");
    assert!(tiffs.len() >= 2, "the oversized TIFFs are committed: {tiffs:?}");
    for path in &tiffs {
        replay_tiff(path);
    }
    let text = |path: &PathBuf| String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let configs = inputs("config_loader");
    let loaded = configs.iter().filter(|p| replay_config(&text(p))).count();
    assert!(loaded >= 3 && loaded < configs.len(), "both loading and refused configs: {loaded} of {}", configs.len());
    let manifests = inputs("manifest_parser");
    let parsed = manifests.iter().filter(|p| replay_manifest(&text(p))).count();
    assert!(
        parsed >= 3 && parsed < manifests.len(),
        "both parsing and refused manifests: {parsed} of {}",
        manifests.len()
    );
}

#[test]
fn a_tiff_claiming_a_huge_image_is_refused_before_allocating() {
    let huge: Vec<PathBuf> = inputs("tiff_reader")
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("huge-")))
        .collect();
    assert_eq!(huge.len(), 2);
    for path in huge {
        let started = Instant::now();
        let error = read_tiff(&path).unwrap_err().to_string();
        assert!(error.contains("limit of 4294967296 bytes"), "{}: {error}", path.display());
        assert!(error.contains(&path.display().to_string()), "the error names the file: {error}");
        assert!(started.elapsed().as_secs() < 5, "refused at once, not after decoding");
    }
}
