//! Running one benchmarked process: its output and its peak memory (Linux
//! `VmHWM`, sampled while it runs, so the last sample is the high-water mark up to its exit);
//! and the few JSON numbers the benchmark reads back (the xtask has no dependencies).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// What one process did.
pub struct Measured {
    pub stdout: String,
    /// Peak resident memory in MiB, where `/proc` tells.
    pub peak_rss_mib: Option<f64>,
}

/// Runs `cmd` to completion; an error carries its stderr.
pub fn run_measured(cmd: &mut Command) -> Result<Measured, String> {
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let mut stdout_pipe = child.stdout.take().ok_or("no stdout")?;
    let mut stderr_pipe = child.stderr.take().ok_or("no stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout_pipe.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak: Option<f64> = None;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_file).ok().as_deref().and_then(|s| field_kib(s, "VmHWM:")) {
            peak = Some(peak.map_or(kib, |p: f64| p.max(kib)));
        }
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{cmd:?} failed with {status}:\n{stderr}"));
    }
    Ok(Measured { stdout, peak_rss_mib: peak.map(|k| k / 1024.0) })
}

fn field_kib(status: &str, key: &str) -> Option<f64> {
    status.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse().ok()
}

/// The number after `"key":` in JSON text (the first occurrence).
pub fn number_after(text: &str, key: &str) -> Option<f64> {
    let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = text[start..].trim_start();
    let end = rest.find(|c: char| !(c.is_ascii_digit() || ".-+eE".contains(c))).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A CSV file as rows of named cells.
pub fn read_csv(path: &Path) -> Result<Vec<Vec<(String, String)>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap_or_default().split(',').map(String::from).collect();
    Ok(lines.map(|l| header.iter().cloned().zip(l.split(',').map(String::from)).collect()).collect())
}

/// The number in column `name` of a CSV row.
pub fn cell(row: &[(String, String)], name: &str) -> Option<f64> {
    row.iter().find(|(k, _)| k == name)?.1.parse().ok()
}

/// `a / b` as `1.23×`, or `–` when either is missing.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

/// A number with `digits` decimals, or `–`.
pub fn num(value: Option<f64>, digits: usize) -> String {
    value.map_or("–".into(), |v| format!("{v:.digits$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_numbers() {
        let text = r#"{"a":1,"train_median_ms":12.5,"x":[1,2],"peak_rss_mib":null}"#;
        assert_eq!(number_after(text, "train_median_ms"), Some(12.5));
        assert_eq!(number_after(text, "peak_rss_mib"), None);
        assert_eq!(number_after(text, "missing"), None);
    }

    #[test]
    fn ratios_and_numbers() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50×");
        assert_eq!(ratio(Some(3.0), None), "–");
        assert_eq!(num(Some(1.234), 1), "1.2");
        assert_eq!(field_kib("VmPeak: 10 kB\nVmHWM:   2048 kB\n", "VmHWM:"), Some(2048.0));
    }

    #[test]
    fn measures_a_process() {
        let m = run_measured(Command::new("sh").args(["-c", "echo hi"])).unwrap();
        assert_eq!(m.stdout.trim(), "hi");
        assert!(run_measured(Command::new("sh").args(["-c", "exit 3"])).is_err());
    }
}
