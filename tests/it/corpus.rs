//! The bad-input corpus: every `tests/corpus/bad/NN-name/case.txt` names a command line (with
//! `{case}` for the case folder and `{tmp}` for a fresh temporary folder), the expected exit code
//! and a substring of stderr. Each case must fail cleanly: right code, right message, no panic,
//! and (for `run`) no test metrics written.

use std::path::{Path, PathBuf};

use crate::util::{TestDir, repo_root, segsweep};

/// One parsed `case.txt`.
struct Case {
    name: String,
    args: String,
    code: i32,
    needle: String,
}

fn read_case(dir: &Path) -> Result<Case, String> {
    let path = dir.join("case.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let [args, code, needle] = lines.as_slice() else {
        return Err(format!("`{}`: expected 3 lines, found {}", path.display(), lines.len()));
    };
    let code = code.trim().parse().map_err(|e| format!("`{}`: bad exit code `{code}`: {e}", path.display()))?;
    Ok(Case {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        args: args.to_string(),
        code,
        needle: needle.to_string(),
    })
}

/// Every file named `name` under `dir`, recursively.
fn find_files(dir: &Path, name: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            find_files(&path, name, found);
        } else if path.file_name().is_some_and(|n| n == name) {
            found.push(path);
        }
    }
}

/// Runs one case; returns a description of what went wrong, if anything.
fn check(dir: &Path, case: &Case) -> Option<String> {
    let tmp = TestDir::new();
    let tmp_root = tmp.join("");
    let (case_dir, tmp_dir) = (dir.to_str().unwrap(), tmp_root.to_str().unwrap().trim_end_matches('/'));
    let args: Vec<String> =
        case.args.split_whitespace().map(|a| a.replace("{case}", case_dir).replace("{tmp}", tmp_dir)).collect();
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = segsweep(&arg_refs);
    let mut problems = Vec::new();
    if out.code != case.code {
        problems.push(format!("exit code {} (expected {})", out.code, case.code));
    }
    if !out.stderr.contains(&case.needle) {
        problems.push(format!("stderr lacks `{}`", case.needle));
    }
    if out.stderr.contains("panicked") {
        problems.push("panicked".to_string());
    }
    if args.first().is_some_and(|a| a == "run") {
        let mut metrics = Vec::new();
        find_files(&tmp_root, "test_results_metrics.csv", &mut metrics);
        if !metrics.is_empty() {
            problems.push(format!("wrote {}", metrics[0].display()));
        }
    }
    match problems.is_empty() {
        true => None,
        false => Some(format!(
            "{}: {}\n  command: segsweep {}\n  stderr:\n{}",
            case.name,
            problems.join("; "),
            args.join(" "),
            out.stderr
        )),
    }
}

#[test]
fn corpus_bad_inputs_fail_cleanly() {
    let root = repo_root().join("tests/corpus/bad");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("tests/corpus/bad")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("case.txt").is_file())
        .collect();
    dirs.sort();
    let mut failures = Vec::new();
    let mut ran = 0;
    for dir in &dirs {
        match read_case(dir) {
            Ok(case) => {
                ran += 1;
                failures.extend(check(dir, &case));
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
    assert!(ran >= 30, "only {ran} corpus cases ran (expected at least 30)");
}
