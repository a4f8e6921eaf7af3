//! Configuration: BiaPy-compatible YAML files and `--set KEY=VALUE` overrides, resolved into one
//! typed [`Config`].
//!
//! Data flow: [`raw`] reads layers as written → [`legacy`] translates old keys (D1) →
//! [`resolve`] classifies keys (unknown → "did you mean", D2; other workflows → ignored, D14),
//! checks types, merges defaults ← file ← overrides and fills derived defaults → [`check`] runs
//! BiaPy's consistency rules; [`filter`] types the sample-filter conditions. Stage code only ever sees the resolved [`Config`]; defaults live only
//! in [`schema`].
//!
//! ```
//! let loaded = segsweep::config::load_str("TRAIN: {ENABLE: True, EPOCHS: 3}", &[]).unwrap();
//! assert_eq!(loaded.config.train.epochs, 3);
//! assert_eq!(loaded.config.data.patch_size, vec![256, 256, 1]);
//! ```

pub mod axes;
pub mod check;
pub mod checkpoint;
pub mod error;
pub mod filter;
pub mod keys;
pub mod legacy;
pub mod raw;
pub mod resolve;
pub mod schema;

use std::path::Path;

pub use error::{ConfigError, Origin, Problem};
pub use filter::{Condition, FilterError, FilterRules, Prop, Sign};
pub use resolve::{IgnoredKey, Loaded};
pub use schema::*;

/// Loads `path`, applies `overrides` (`KEY=VALUE`), and resolves and checks the result.
pub fn load(path: &Path, overrides: &[String]) -> Result<Loaded, ConfigError> {
    let file = raw::read_yaml_file(path)?;
    let set = raw::parse_overrides(overrides)?;
    resolve::resolve(vec![file, set])
}

/// Like [`load`], with `extra` applied last (the checkpoint's own config, see [`checkpoint`]).
pub fn load_with(path: &Path, overrides: &[String], extra: raw::RawLayer) -> Result<Loaded, ConfigError> {
    let file = raw::read_yaml_file(path)?;
    let set = raw::parse_overrides(overrides)?;
    resolve::resolve(vec![file, set, extra])
}

/// Like [`load`], but features segsweep does not implement are listed in
/// [`Loaded::unsupported`] instead of refused (`segsweep config check|show`).
pub fn load_for_check(path: &Path, overrides: &[String]) -> Result<Loaded, ConfigError> {
    let file = raw::read_yaml_file(path)?;
    let set = raw::parse_overrides(overrides)?;
    resolve::resolve_allowing_unsupported(vec![file, set])
}

/// Like [`load`], from YAML text (named `<inline>` in messages).
pub fn load_str(yaml: &str, overrides: &[String]) -> Result<Loaded, ConfigError> {
    let file = raw::parse_yaml_text(yaml, Path::new("<inline>"))?;
    let set = raw::parse_overrides(overrides)?;
    resolve::resolve(vec![file, set])
}

/// The resolved config as canonical YAML (what `segsweep config show` prints and what a run
/// writes to `config_files/`). An error, never a comment in place of the config.
pub fn to_yaml(config: &Config) -> Result<String, ConfigError> {
    serde_yaml::to_string(config).map_err(ConfigError::Serialise)
}
