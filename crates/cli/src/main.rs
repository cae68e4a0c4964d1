//! `tokendesk`: the command line over TokenDesk's ledger, for admins and scripts.

mod commands;
mod org;
mod reconcile;

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

use commands::{Cli, CliError};
use tokendesk_api::error_body;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match commands::run(cli) {
        Ok(code) => code,
        Err(CliError::BrokenPipe) => ExitCode::SUCCESS,
        Err(error) => {
            let line = if json {
                serde_json::json!({"error": error_body(error.code(), &error)}).to_string()
            } else {
                format!("error: {error}")
            };
            let _ = writeln!(std::io::stderr(), "{line}");
            ExitCode::FAILURE
        }
    }
}
