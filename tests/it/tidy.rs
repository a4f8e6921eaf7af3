//! House-style checks run with the tests (as rust-analyzer's tidy test): every Rust source file
//! opens with a `//!` comment, and none keeps `dbg!`, `todo!` or `unimplemented!`.

use crate::util::repo_root;

#[test]
fn sources_are_documented_and_tidy() {
    let mut offenders = Vec::new();
    for dir in ["src", "xtask/src", "tests"] {
        for entry in walkdir::WalkDir::new(repo_root().join(dir)).into_iter().filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(path).unwrap();
            let rel = path.strip_prefix(repo_root()).unwrap().display().to_string();
            if !text.starts_with("//!") {
                offenders.push(format!("{rel}: does not start with a `//!` module comment"));
            }
            for banned in ["dbg!(", "todo!(", "unimplemented!("] {
                if text.lines().any(|l| l.contains(banned) && !l.trim_start().starts_with("//"))
                    && !rel.ends_with("tidy.rs")
                {
                    offenders.push(format!("{rel}: contains `{banned}`"));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}
