//! The manifest's `resources:` block: what each stage asks of a Slurm cluster (harness.md,
//! "Beyond one machine"), parsed and checked like the rest of the manifest.
//!
//! Owns: the block's keys, their formats and messages, and how `all` combines with a stage.
//! Must not: build `sbatch` arguments (that is `crate::sweep::slurm`).

use std::collections::BTreeMap;

use serde_yaml::Value as Yaml;

use super::parse::{Parser, did_you_mean, yaml_kind};
use crate::sweep::cache::{PerStage, Stage};

/// What one stage (or `all`) asks for; unset fields take the cluster's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StageResources {
    /// `--cpus-per-task`.
    pub cpus: Option<u32>,
    /// `--mem`, Slurm's format (`16G`, `500M`, `4000`).
    pub mem: Option<String>,
    /// `--time`, Slurm's format (`30`, `04:00:00`, `1-12:00:00`).
    pub time: Option<String>,
    /// `--gres=gpu:N`.
    pub gpus: Option<u32>,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// `--requeue --signal=B:USR2@90`: for preemptible partitions; a training stops at the
    /// signal and its requeued task resumes from the last finished epoch.
    pub requeue: Option<bool>,
    /// Raw `sbatch` arguments, each starting with `--`.
    pub extra: Vec<String>,
    /// Shell lines run before the stage (`module load cuda`, `source venv/bin/activate`).
    pub setup: Vec<String>,
}

impl StageResources {
    /// `self` over `all`: a stage's own scalars win; `extra` and `setup` lines are `all`'s first.
    pub fn over(&self, all: &StageResources) -> StageResources {
        let pick = |own: &Option<String>, all: &Option<String>| own.clone().or_else(|| all.clone());
        StageResources {
            cpus: self.cpus.or(all.cpus),
            mem: pick(&self.mem, &all.mem),
            time: pick(&self.time, &all.time),
            gpus: self.gpus.or(all.gpus),
            partition: pick(&self.partition, &all.partition),
            account: pick(&self.account, &all.account),
            qos: pick(&self.qos, &all.qos),
            requeue: self.requeue.or(all.requeue),
            extra: all.extra.iter().chain(&self.extra).cloned().collect(),
            setup: all.setup.iter().chain(&self.setup).cloned().collect(),
        }
    }
}

/// The whole block: `all` and each stage's own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub all: StageResources,
    pub stages: PerStage<StageResources>,
}

impl Resources {
    /// What `stage` asks for, `all` included.
    pub fn of(&self, stage: Stage) -> StageResources {
        self.stages[stage].over(&self.all)
    }
}

const SECTIONS: &[&str] = &["train", "infer", "evaluate", "all"];
const KEYS: &[&str] = &["cpus", "mem", "time", "gpus", "partition", "account", "qos", "requeue", "extra", "setup"];

impl Parser {
    /// `resources: {train: {…}, infer: {…}, evaluate: {…}, all: {…}}`.
    pub(super) fn resources(&mut self, value: Yaml) -> Resources {
        let mut resources = Resources::default();
        let Yaml::Mapping(map) = value else {
            self.fail(
                "resources",
                format!("expected a mapping of `train`, `infer`, `evaluate`, `all`, found {}", yaml_kind(&value)),
            );
            return resources;
        };
        for (key, value) in map {
            let name = key.as_str().map_or_else(|| format!("{key:?}"), str::to_string);
            let section = match name.as_str() {
                "all" => &mut resources.all,
                stage => match Stage::parse(stage) {
                    Some(stage) => &mut resources.stages[stage],
                    None => {
                        self.fail(
                            &format!("resources.{name}"),
                            format!(
                                "unknown stage{}; expected one of train, infer, evaluate, all",
                                did_you_mean(&name, SECTIONS)
                            ),
                        );
                        continue;
                    }
                },
            };
            *section = self.stage_resources(&format!("resources.{name}"), value);
        }
        resources
    }

    fn stage_resources(&mut self, at: &str, value: Yaml) -> StageResources {
        let mut out = StageResources::default();
        let Yaml::Mapping(map) = value else {
            self.fail(
                at,
                format!(
                    "expected a mapping such as `{{cpus: 4, mem: 16G, time: \"01:00:00\"}}`, found {}",
                    yaml_kind(&value)
                ),
            );
            return out;
        };
        let fields: BTreeMap<String, Yaml> =
            map.into_iter().map(|(k, v)| (k.as_str().map_or_else(|| format!("{k:?}"), str::to_string), v)).collect();
        for (key, value) in fields {
            let here = format!("{at}.{key}");
            match key.as_str() {
                "cpus" => out.cpus = self.count(&here, value, 1),
                "gpus" => out.gpus = self.count(&here, value, 0),
                "mem" => {
                    out.mem =
                        self.checked(&here, value, is_memory, "a memory size such as `16G`, `500M` or `4000` (MB)")
                }
                "time" => {
                    out.time = self.checked(
                        &here,
                        value,
                        is_time,
                        "a Slurm time such as `30` (minutes), `04:00:00` or `1-12:00:00`",
                    )
                }
                "partition" | "account" | "qos" => {
                    let word = self.checked(&here, value, is_word, "a name without spaces");
                    match key.as_str() {
                        "partition" => out.partition = word,
                        "account" => out.account = word,
                        _ => out.qos = word,
                    }
                }
                "requeue" => match value {
                    Yaml::Bool(b) => out.requeue = Some(b),
                    other => self.fail(&here, format!("expected true or false, found {}", yaml_kind(&other))),
                },
                "extra" => {
                    out.extra = self.lines(
                        &here,
                        value,
                        |s| s.starts_with("--") && !s.contains('\n'),
                        "sbatch options such as `--constraint=a100`",
                    )
                }
                "setup" => {
                    out.setup = self.lines(
                        &here,
                        value,
                        |s| !s.trim().is_empty() && !s.contains('\n'),
                        "shell lines such as `module load cuda`",
                    )
                }
                other => self.fail(
                    &here,
                    format!("unknown resource{}; expected one of {}", did_you_mean(other, KEYS), KEYS.join(", ")),
                ),
            }
        }
        out
    }

    fn count(&mut self, at: &str, value: Yaml, least: u64) -> Option<u32> {
        match value.as_u64().filter(|&n| n >= least).and_then(|n| u32::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                self.fail(at, format!("expected a whole number ≥ {least}, found {}", yaml_text(&value)));
                None
            }
        }
    }

    fn checked(&mut self, at: &str, value: Yaml, ok: fn(&str) -> bool, expected: &str) -> Option<String> {
        let text = match &value {
            Yaml::String(s) => s.clone(),
            Yaml::Number(n) => n.to_string(),
            _ => String::new(),
        };
        if ok(&text) {
            Some(text)
        } else {
            self.fail(at, format!("expected {expected}, found {}", yaml_text(&value)));
            None
        }
    }

    fn lines(&mut self, at: &str, value: Yaml, ok: fn(&str) -> bool, expected: &str) -> Vec<String> {
        let items = match value {
            Yaml::Sequence(items) => items,
            Yaml::String(s) => vec![Yaml::String(s)],
            other => {
                self.fail(at, format!("expected a list of {expected}, found {}", yaml_kind(&other)));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            match item {
                Yaml::String(s) if ok(&s) => out.push(s),
                other => self.fail(at, format!("expected {expected}, found {}", yaml_text(&other))),
            }
        }
        out
    }
}

fn yaml_text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => format!("`{s}`"),
        Yaml::Number(n) => format!("`{n}`"),
        other => yaml_kind(other).to_string(),
    }
}

/// `4000`, `16G`, `500M`, `2T`, `1024K`.
fn is_memory(s: &str) -> bool {
    let digits = s.trim_end_matches(['K', 'M', 'G', 'T']);
    s.len() - digits.len() <= 1 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Slurm's time formats: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
fn is_time(s: &str) -> bool {
    let number = |p: &str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
    let (days, rest) = match s.split_once('-') {
        Some((d, rest)) => (Some(d), rest),
        None => (None, s),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    days.is_none_or(number) && (1..=3).contains(&parts.len()) && parts.iter().all(|p| number(p))
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_formats() {
        for ok in ["30", "04:00:00", "1-12:00:00", "2-0", "10:30", "1-4:30"] {
            assert!(is_time(ok), "{ok}");
        }
        for bad in ["", "1h", "4:00:00:00", "-1", "1-", "a:b"] {
            assert!(!is_time(bad), "{bad}");
        }
        for ok in ["4000", "16G", "500M", "2T"] {
            assert!(is_memory(ok), "{ok}");
        }
        for bad in ["", "G", "16GB", "1.5G", "-4"] {
            assert!(!is_memory(bad), "{bad}");
        }
    }

    #[test]
    fn a_stage_overrides_all_and_adds_its_lines() {
        let all = StageResources {
            cpus: Some(2),
            account: Some("lab".into()),
            extra: vec!["--constraint=a100".into()],
            setup: vec!["module load cuda".into()],
            ..Default::default()
        };
        let train =
            StageResources { cpus: Some(8), gpus: Some(1), setup: vec!["echo hi".into()], ..Default::default() };
        let resources = Resources { all, stages: PerStage { train, ..Default::default() } };
        let merged = resources.of(Stage::Train);
        assert_eq!((merged.cpus, merged.gpus, merged.account.as_deref()), (Some(8), Some(1), Some("lab")));
        assert_eq!(merged.setup, ["module load cuda", "echo hi"]);
        assert_eq!(resources.of(Stage::Evaluate).cpus, Some(2));
    }
}
