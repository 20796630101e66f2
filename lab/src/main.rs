//! `lab`: parses arguments, dispatches to [`acorn_lab::commands`], and turns the outcome
//! into the exit code (the table is in `acorn_lab::error` and `lab --help`).

use std::process::ExitCode;

use acorn_lab::cli::{Cli, Command};
use acorn_lab::commands;
use acorn_lab::error::Exit;
use acorn_lab::measure::alloc::CountingAlloc;
use clap::Parser;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            let code = if e.use_stderr() {
                Exit::BadInput
            } else {
                Exit::Success // --help, --version
            };
            return ExitCode::from(code.code());
        }
    };
    let outcome = match &cli.command {
        Command::Run(args) => commands::run(args),
        Command::Compare {
            base,
            new,
            threshold,
        } => commands::compare(base, new, threshold),
        Command::Report {
            results,
            out,
            baseline,
        } => commands::report(results, out.as_deref(), baseline.as_deref()),
        Command::Merge { files, output } => commands::merge(files, output),
        Command::Validate { files } => commands::validate(files),
        Command::List => commands::list(),
        Command::Sample { file, ops, seed } => commands::sample(file, *ops, *seed),
    };
    match outcome {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
