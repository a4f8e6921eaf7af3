//! The `segsweep` binary: parses the command line, dispatches to one handler per command, and
//! turns errors into one message and an exit code (0 ok, 1 check failed, 2 error). The binary is
//! where segsweep talks to the user, so it may print.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Before any thread starts: freed tensor buffers stay in the heap for the next step.
    segsweep::device::keep_freed_buffers();
    let cli = cli::Cli::parse();
    // A backend failure inside a stage (libtorch's out-of-memory) becomes that stage's error.
    segsweep::device::install_panic_hook();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        cli::Command::Config(cli::ConfigCommand::Show(args)) => commands::config::show(&args),
        cli::Command::Config(cli::ConfigCommand::Check(args)) => commands::config::check(&args),
        cli::Command::Synth(args) => commands::synth::run(&args),
        cli::Command::Train(args) => commands::train::run(&args),
        cli::Command::Model(args) => commands::model::run(&args),
        cli::Command::Run(args) => commands::run::run(&args),
        cli::Command::Evaluate(args) => commands::evaluate::run(&args),
        cli::Command::Export(args) => commands::convert::run(&args, segsweep::train::interop::Direction::Export),
        cli::Command::Import(args) => commands::convert::run(&args, segsweep::train::interop::Direction::Import),
        cli::Command::Sweep(args) => commands::sweep::run(&args),
        cli::Command::Report(args) => commands::sweep::report(&args),
        cli::Command::Status(args) => commands::slurm::status(&args),
        cli::Command::Stage(args) => commands::slurm::stage(&args),
        cli::Command::Check(args) => commands::sweep::check(&args),
        cli::Command::Bench(args) => commands::bench::run(&args),
        cli::Command::Gc(args) => {
            segsweep::sweep::gc::collect(&args.dir, args.dry_run, &mut std::io::stdout())?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        cli::Command::Why(args) => {
            segsweep::sweep::why::why(&args.manifest, &args.run, args.device, &mut std::io::stdout())?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}
