//! Configuration errors: where a value came from ([`Origin`]), one [`Problem`] per bad key, and
//! [`ConfigError`], which lists every problem at once so `config check` can report them all.

use std::fmt;
use std::path::PathBuf;

/// Where a configuration value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// segsweep's built-in default (BiaPy 3.7.1's).
    Default,
    /// A YAML file.
    File(PathBuf),
    /// A `--set KEY=VALUE` on the command line.
    Override,
    /// A value filled in from other keys while resolving (spec §1.7).
    Derived,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "defaults"),
            Origin::File(path) => write!(f, "`{}`", path.display()),
            Origin::Override => write!(f, "--set"),
            Origin::Derived => write!(f, "resolved config"),
        }
    }
}

/// One thing wrong with one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The canonical (or, for unknown keys, the given) dotted key.
    pub key: String,
    /// Where the offending value was set.
    pub origin: Origin,
    /// What was wrong and what was expected.
    pub message: String,
    /// A valid BiaPy setting that segsweep does not implement (as opposed to an invalid one):
    /// `config check` reports these as notes, every command that runs refuses them.
    pub unsupported: bool,
}

impl Problem {
    /// A problem with `key` set in `origin`.
    pub fn new(key: impl Into<String>, origin: &Origin, message: impl Into<String>) -> Self {
        Self { key: key.into(), origin: origin.clone(), message: message.into(), unsupported: false }
    }

    /// A valid BiaPy setting that segsweep does not implement.
    pub fn unsupported(key: impl Into<String>, origin: &Origin, message: impl Into<String>) -> Self {
        Self { unsupported: true, ..Self::new(key, origin, message) }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Default | Origin::Derived => write!(f, "`{}`: {}", self.key, self.message),
            origin => write!(f, "`{}` (in {}): {}", self.key, origin, self.message),
        }
    }
}

/// Everything that can go wrong while loading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config `{}` is not valid YAML: {message}", path.display())]
    Yaml { path: PathBuf, message: String },
    #[error("`--set {arg}`: {message}")]
    BadOverride { arg: String, message: String },
    #[error("{}", list_problems(.0))]
    Invalid(Vec<Problem>),
    /// The resolved config could not be written as YAML (a bug: every resolved config can be).
    #[error("cannot write the resolved config as YAML")]
    Serialise(#[source] serde_yaml::Error),
}

impl ConfigError {
    /// The individual problems (empty for read and parse errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

fn list_problems(problems: &[Problem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let mut text = format!("{} problems in the configuration:", many.len());
            for problem in many {
                text.push_str("\n  - ");
                text.push_str(&problem.to_string());
            }
            text
        }
    }
}
