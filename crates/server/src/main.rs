//! `tokendesk-server`: migrate the database, create the first admin, serve the API, or measure it.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;

use anyhow::{Context, bail};
use chrono::TimeDelta;
use clap::{Parser, Subcommand};
use tokendesk_server::dify::{ReconcileSettings, scheduler};
use tokendesk_server::{AppState, bench, connect, migrate, serve};

#[derive(Parser)]
#[command(
    name = "tokendesk-server",
    version,
    about = "The org server of TokenDesk"
)]
struct Cli {
    /// PostgreSQL connection string, e.g. postgres://postgres@127.0.0.1:5432/tokendesk
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the embedded migrations.
    Migrate,
    /// Manage admins on the server's own machine.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Serve the API, and reconcile with the org's Dify workspaces in the background.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8780")]
        listen: SocketAddr,
        #[command(flatten)]
        reconcile: ReconcileFlags,
    },
    /// Measure the push path against this database (in a throw-away org).
    Bench(bench::Options),
}

/// How the reconciler works; minutes, so a flag can be tuned without a unit suffix.
#[derive(clap::Args)]
struct ReconcileFlags {
    /// Minutes between two scheduled reconcile runs of a Dify workspace; 0 runs only when an admin asks.
    #[arg(long, env = "TOKENDESK_RECONCILE_EVERY_MINUTES", default_value_t = 5)]
    reconcile_every_minutes: u32,
    /// Minutes after which a Dify record with a final status is settled.
    #[arg(
        long,
        env = "TOKENDESK_RECONCILE_SETTLE_AFTER_MINUTES",
        default_value_t = 10
    )]
    reconcile_settle_after_minutes: u32,
    /// Minutes each pass reads again before the last one (Dify's `updated_at` is not always kept).
    #[arg(
        long,
        env = "TOKENDESK_RECONCILE_OVERLAP_MINUTES",
        default_value_t = 60
    )]
    reconcile_overlap_minutes: u32,
    /// Hours after which a charge Dify has no record of is flagged.
    #[arg(
        long,
        env = "TOKENDESK_RECONCILE_MISSING_RECORD_HOURS",
        default_value_t = 24
    )]
    reconcile_missing_record_hours: u32,
}

impl ReconcileFlags {
    fn settings(&self) -> ReconcileSettings {
        let minutes = |m: u32| TimeDelta::minutes(i64::from(m));
        ReconcileSettings {
            every: minutes(self.reconcile_every_minutes.max(1)),
            settle_after: minutes(self.reconcile_settle_after_minutes),
            overlap: minutes(self.reconcile_overlap_minutes),
            charge_without_record_after: TimeDelta::hours(i64::from(
                self.reconcile_missing_record_hours,
            )),
        }
    }
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin (and the org, if it is missing).
    Create {
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, default_value = "default")]
        org: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate => {
            let pool = connect(&cli.database_url).await?;
            migrate(&pool).await?;
            println!("migrated");
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    name,
                    password_stdin,
                    org,
                },
        } => {
            let password = if password_stdin {
                read_line()?
            } else {
                prompt_password()?
            };
            let pool = connect(&cli.database_url).await?;
            let user = tokendesk_server::admin::create_admin(
                &pool,
                &org,
                &name,
                &password,
                "tokendesk-server admin create",
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created admin {} in org {org}", user.name);
        }
        Command::Serve { listen, reconcile } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .init();
            let pool = connect(&cli.database_url).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "serving");
            let state = AppState::with_reconcile(pool, reconcile.settings());
            if reconcile.reconcile_every_minutes > 0 {
                tokio::spawn(scheduler(state.clone()));
            }
            serve(listener, state).await?;
        }
        Command::Bench(options) => bench::run(&cli.database_url, &options).await?,
    }
    Ok(())
}

fn read_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

/// Asks twice, without echo on a terminal.
fn prompt_password() -> anyhow::Result<String> {
    let tty = std::io::stdin().is_terminal();
    let ask = |label: &str| -> anyhow::Result<String> {
        eprint!("{label}");
        std::io::stderr().flush()?;
        if tty {
            let _ = std::process::Command::new("stty").arg("-echo").status();
        }
        let line = read_line();
        if tty {
            let _ = std::process::Command::new("stty").arg("echo").status();
            eprintln!();
        }
        line
    };
    let first = ask("Password: ")?;
    let second = ask("Again: ")?;
    if first != second {
        bail!("the passwords differ");
    }
    Ok(first)
}
