//! `segsweep config show|check`.

use std::process::ExitCode;

use anyhow::Context;
use segsweep::config::{self, Loaded};
use segsweep::data::dataset;
use segsweep::model::{ModelError, ModelSpec};

use crate::cli::{ConfigArgs, ConfigCheckArgs};

/// Prints the resolved canonical config as YAML on stdout.
pub fn show(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let loaded = config::load_for_check(args.path(), &args.set)?;
    print!("{}", config::to_yaml(&loaded.config)?);
    Ok(ExitCode::SUCCESS)
}

/// Validates the config (and, with `--data`, its data folders); reports what was translated or
/// ignored on stderr.
pub fn check(args: &ConfigCheckArgs) -> anyhow::Result<ExitCode> {
    let path = args.config.path();
    let loaded = config::load_for_check(path, &args.config.set)?;
    report_notes(&loaded);
    // What the network builders refuse (e.g. `resunet`'s fixed two convolutions per block) is an
    // error of the config too, named by its key; an architecture not built yet is a note above.
    match ModelSpec::from_config(&loaded.config) {
        Ok(_) | Err(ModelError::UnsupportedArchitecture(_)) => {}
        Err(err) => return Err(err).with_context(|| format!("`{}`", path.display())),
    }
    if args.data {
        let summary = dataset::check_config_data(&loaded.config)
            .with_context(|| format!("data named by `{}`", path.display()))?;
        for line in summary {
            eprintln!("{line}");
        }
    }
    if loaded.unsupported.is_empty() {
        println!("`{}`: ok", path.display());
    } else {
        println!(
            "`{}`: a valid BiaPy config, but segsweep cannot run it yet ({} unsupported settings)",
            path.display(),
            loaded.unsupported.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn report_notes(loaded: &Loaded) {
    if loaded.config.problem.print_old_key_changes {
        for note in &loaded.notes {
            eprintln!("note: legacy key translated: {note}");
        }
    }
    for ignored in &loaded.ignored {
        eprintln!("note: `{}` ignored: it is for {}", ignored.key, ignored.reason);
    }
    for problem in &loaded.unsupported {
        eprintln!("note: will not run: {problem}");
    }
}
