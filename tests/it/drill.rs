//! Robustness drills on the real binary (issue 8), on the CI manifest (seconds per sweep):
//!
//! - kill and resume: ten seeded random SIGKILLs of `segsweep sweep` (the drill lives in
//!   `drill_core.rs`, shared with `cargo xtask drill`), the results equal an uninterrupted
//!   sweep's and no stage finishes twice;
//! - concurrency: two sweeps of overlapping manifests on one cache, started at once: every stage
//!   runs once (the other sweep waits on the key's lock and re-uses the entry) and both end with
//!   the reports each would have written alone.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::drill_core::{check_completions, compare, run_drill, snapshot, temporaries, write_manifest};
use crate::util::{TestDir, repo_root};

/// The CI manifest under another sweep name.
fn manifest_named(name: &str) -> String {
    std::fs::read_to_string(repo_root().join("experiments/ci.yaml"))
        .unwrap()
        .replace("name: ci\n", &format!("name: {name}\n"))
}

#[test]
fn ten_random_sigkills_lose_nothing() {
    let dir = TestDir::new();
    let binary = Path::new(env!("CARGO_BIN_EXE_segsweep"));
    let mut lines = Vec::new();
    let report =
        run_drill(binary, &dir.join(""), &manifest_named("drill"), "drill", 10, 8, &mut |l| lines.push(l.to_string()))
            .unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));
    assert!(report.kills >= 10, "{report:?}");
    assert!(report.rounds >= 1 && report.starts > report.kills, "{report:?}");
}

/// Starts `segsweep sweep` on each manifest at once and waits for all; returns their stdout.
fn sweep_at_once(manifests: &[&Path]) -> Vec<String> {
    let children: Vec<_> = manifests
        .iter()
        .map(|m| {
            Command::new(env!("CARGO_BIN_EXE_segsweep"))
                .arg("sweep")
                .arg(m)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{stdout}\n{stderr}");
            stdout.into_owned()
        })
        .collect()
}

#[test]
fn two_sweeps_on_one_cache_run_every_stage_once() {
    // `a` crosses overlaps 0 and 0.5, `b` overlaps 0.5 and 0.25: both train the same two models
    // and share the overlap-0.5 inference and evaluation.
    let a = manifest_named("a");
    let b = manifest_named("b").replace("[[0, 0], [0.5, 0.5]]", "[[0.5, 0.5], [0.25, 0.25]]");
    assert_ne!(a.replace("name: a", ""), b.replace("name: b", ""));
    let alone = TestDir::new();
    for (name, text) in [("a", &a), ("b", &b)] {
        let root = alone.join(name);
        sweep_at_once(&[&write_manifest(&root, text).unwrap()]);
    }
    for round in 0..2 {
        let shared = TestDir::new();
        let root = shared.join("s");
        let manifest_a = write_manifest(&root, &a).unwrap();
        let manifest_b = manifest_a.with_file_name("b.yaml");
        std::fs::write(&manifest_b, &b).unwrap();
        let outs = sweep_at_once(&[&manifest_a, &manifest_b]);
        let ran: usize = outs.iter().map(|o| o.matches(" ran").count()).sum();
        // 2 trainings + 3 overlaps × 2 run_ids × (infer + evaluate).
        assert_eq!(ran, 14, "round {round}: every stage ran once in all:\n{}\n{}", outs[0], outs[1]);
        let entries: BTreeSet<String> = ["train", "infer", "evaluate"]
            .iter()
            .flat_map(|stage| {
                std::fs::read_dir(root.join("results/.cache").join(stage))
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.contains('.'))
                    .map(move |n| format!("{stage}/{n}"))
            })
            .collect();
        assert_eq!(entries.len(), 14);
        check_completions(&root, &entries).unwrap();
        assert_eq!(temporaries(&root.join("results")), Vec::<std::path::PathBuf>::new());
        for name in ["a", "b"] {
            compare(&snapshot(&alone.join(name), name).unwrap(), &snapshot(&root, name).unwrap())
                .unwrap_or_else(|e| panic!("round {round}, sweep {name}: {e}"));
        }
    }
}
