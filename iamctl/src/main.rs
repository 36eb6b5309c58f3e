//! iamctl: AWS-CLI-shaped administration, self-service and elevation.

mod error;
mod simulate;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "iamctl", version, about = "AWS-style IAM for this Linux host")]
struct Cli {
    /// Another iam.toml (ignored for non-root callers of a setuid iamctl).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Output format, as the AWS CLI's --output.
    #[arg(long, global = true, value_enum, default_value_t = Output::Json)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Output {
    Json,
    Text,
    Table,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate policy documents against actions and resources.
    SimulateCustomPolicy(simulate::CustomArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::SimulateCustomPolicy(args) => simulate::run_custom(args),
    };
    match result {
        Ok(value) => {
            let _ = (cli.config, cli.output);
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
