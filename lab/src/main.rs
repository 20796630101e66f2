use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// AcornLab: run declarative workloads across acorn variants and peer stores.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run workload files across the variants they name.
    Run {
        /// Workload TOML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { files } => {
            eprintln!("{} (asked for {})", acorn_lab::NOT_YET, files.len());
            ExitCode::from(2)
        }
    }
}
