//! The subcommands. Each prints a human table, or JSON with `--json`.

use clap::{Args, Parser, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tokendesk_api::{Api, ApiError, BalanceKind, Caller, HistoryArgs, PolicyKey, test_connection};
use tokendesk_ledger::pricing::{ImportError, ImportSkip, ModelConfig};
use tokendesk_ledger::{Ledger, LedgerError, Outcome, bench};

use crate::org::{self, Amount, OrgCommand};

/// The directory the desktop app keeps its data in (its Tauri identifier), shared with this CLI.
const APP_IDENTIFIER: &str = "com.tokendesk.desktop";

#[derive(Parser)]
#[command(
    name = "tokendesk",
    version,
    about = "TokenDesk's ledger from the command line"
)]
pub struct Cli {
    /// The data directory holding ledger.sqlite3 (default: the desktop app's data directory).
    #[arg(long, global = true, env = "TOKENDESK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The admin name recorded on changes. On a computer that is not enrolled, whoever runs this is its
    /// admin; an enrolled data directory refuses local admin changes.
    #[arg(long, global = true, env = "TOKENDESK_ACTOR", default_value = "admin")]
    actor: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Balance of the active staff user, today, this month, the rate and the integration switch.
    Status,
    /// Charges one Dify frame (JSON on stdin) through the charge path, as the relay would.
    Record {
        /// The Dify page URL the frame came from.
        #[arg(long)]
        app: String,
        /// The input is an incomplete-reply report (query and answer text) to charge as an estimate.
        #[arg(long)]
        incomplete: bool,
    },
    /// Ledger history, newest first.
    Usage(UsageArgs),
    /// Model prices.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// The exchange rate in credits per USD.
    #[command(subcommand)]
    Rate(RateCommand),
    /// Dify apps.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// Accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Grants credits to a user.
    Grant(Amount),
    /// Tops a user up.
    Topup(Amount),
    /// Adjusts a user's balance (may be negative).
    Adjust(Amount),
    /// Reverses an entry, once.
    Reverse {
        entry_id: String,
        #[arg(long)]
        reason: String,
    },
    /// The guards: the integration switch, minimum balance, caps, the flood rate and budgets.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Events held for review.
    #[command(subcommand)]
    Held(HeldCommand),
    /// Sends the chat window let through without the gate's answer (`when_unchecked = allow`), newest first.
    Unchecked {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Checks every ledger invariant; exits non-zero if any is broken.
    Verify,
    /// Shows the ledger's reporting time zone, or moves it to ZONE (an IANA name such as Asia/Shanghai):
    /// days, months and local budgets follow it. A ledger keeps its zone wherever it is opened.
    TimeZone { zone: Option<String> },
    /// Makes this data directory a device of an org server, with a single-use code from its admin: the
    /// server's URL and the code, or the join link (`tokendesk://join?server=…&code=…`) that holds both.
    Enroll {
        /// The server's URL, or a join link.
        url: String,
        /// The enrollment code (not with a join link).
        code: Option<String>,
        /// The name the org's admin sees for this device (default: the host name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Pushes what this device recorded, pulls the org's config, and renews the offline allowance.
    Sync {
        /// Keep syncing until interrupted: long-poll the config, retry failures with backoff.
        #[arg(long)]
        watch: bool,
    },
    /// Redeems a redemption code from the org's admin for this device's user.
    Redeem { code: String },
    /// Runs the org server's admin commands (sign in first with `org login`).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Measures the ledger's performance on a scratch database.
    Bench(BenchArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// Usage entries to seed before anything is timed.
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Where the scratch database goes: a new folder inside it, removed afterwards (default: the system's
    /// temporary folder). Put it on the filesystem the ledger lives on.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Runs of the slower figures (the straightforward dashboard, the imports); at least 15.
    #[arg(long, default_value_t = bench::MIN_SAMPLES)]
    samples: usize,
    /// A LiteLLM price map to time the import on (default: a generated one of LiteLLM's shape and size).
    #[arg(long)]
    price_file: Option<PathBuf>,
    /// Run even on a filesystem in memory (tmpfs), where fsync costs nothing and P1 means little.
    #[arg(long)]
    allow_tmpfs: bool,
}

#[derive(Args)]
struct UsageArgs {
    #[command(subcommand)]
    export: Option<UsageCommand>,
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Only this model.
    #[arg(long)]
    model: Option<String>,
    /// Only this app id.
    #[arg(long)]
    app: Option<i64>,
}

#[derive(Subcommand)]
enum UsageCommand {
    /// Exports the whole history as CSV.
    Export {
        #[arg(long, required = true)]
        csv: bool,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    List,
    /// Creates the model or changes its price.
    Set {
        name: String,
        /// USD per 1K input tokens.
        #[arg(long)]
        input: String,
        /// USD per 1K output tokens.
        #[arg(long)]
        output: String,
        #[arg(long, default_value = "set from the command line")]
        reason: String,
    },
    /// Imports prices from a CSV file or LiteLLM's price-map JSON.
    Import {
        file: PathBuf,
        #[arg(long)]
        reason: Option<String>,
        /// Show what the import would do, row by row, and write nothing.
        #[arg(long)]
        preview: bool,
    },
    /// A model's price history.
    History {
        name: String,
    },
    /// Lets apps be priced by the model again.
    Enable {
        name: String,
    },
    /// Stops pricing by the model: replies of apps bound to it are held as unpriced.
    Disable {
        name: String,
    },
    /// Replaces the model's aliases (none clears them).
    Aliases {
        name: String,
        aliases: Vec<String>,
    },
}

#[derive(Subcommand)]
enum RateCommand {
    Show,
    Set {
        #[arg(allow_negative_numbers = true)]
        credits_per_usd: String,
        #[arg(long)]
        reason: String,
    },
}

/// What `apps edit` changes, on the island and in the org: only the fields given.
#[derive(Args)]
pub(crate) struct AppChange {
    #[arg(long)]
    pub(crate) name: Option<String>,
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// Price replies with this model.
    #[arg(long, conflicts_with = "dify_price")]
    pub(crate) model: Option<String>,
    /// Price replies with Dify's reported total_price.
    #[arg(long)]
    pub(crate) dify_price: bool,
}

#[derive(Subcommand)]
enum AppsCommand {
    List,
    Add {
        name: String,
        /// The app's share URL, e.g. https://dify.example.com/chat/TOKEN.
        url: String,
        /// Price replies with this model.
        #[arg(
            long,
            conflicts_with = "dify_price",
            required_unless_present = "dify_price"
        )]
        model: Option<String>,
        /// Price replies with Dify's reported total_price.
        #[arg(long)]
        dify_price: bool,
    },
    /// Renames an app, moves it to another share URL, or rebinds it; what is not given is kept.
    Edit {
        id: i64,
        #[command(flatten)]
        change: AppChange,
    },
    /// Meters the app's replies again.
    Enable {
        id: i64,
    },
    /// Stops metering the app: its events are refused.
    Disable {
        id: i64,
    },
    /// Loads the app's share page once; exits non-zero unless it answers with success.
    Test {
        id: i64,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    Show,
    /// Sets one guard: integration_enabled (true/false), min_balance, event_cap, low_balance,
    /// daily_budget, monthly_budget (credits), flood_max_per_minute, max_tokens_per_event, when_unchecked
    /// (allow or block: a send the chat window could not check), side_calls (free, fixed or estimate: how
    /// Dify's auto-naming and suggested questions are priced), side_call_fixed (credits per side call).
    Set {
        key: String,
        #[arg(allow_negative_numbers = true)]
        value: String,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    List,
}

#[derive(Subcommand)]
enum HeldCommand {
    List {
        /// Include decided events.
        #[arg(long)]
        all: bool,
    },
    Approve {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    Reject {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The latest events refused as malformed, with their codes.
    Rejected {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// The operations' errors, and the command line's own.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("output closed")]
    BrokenPipe,
}

impl CliError {
    pub fn code(&self) -> &str {
        match self {
            Self::Api(error) => error.code(),
            Self::Input(_) => "input",
            Self::Io(_) => "io",
            Self::BrokenPipe => "broken_pipe",
        }
    }
}

impl From<LedgerError> for CliError {
    fn from(error: LedgerError) -> Self {
        Self::Api(error.into())
    }
}

pub(crate) type CliResult<T = ()> = Result<T, CliError>;

/// Prints JSON or a human rendering.
pub(crate) struct Printer {
    json: bool,
}

impl Printer {
    pub(crate) fn print<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> CliResult {
        let text = if self.json {
            serde_json::to_string_pretty(value).map_err(|err| CliError::Input(err.to_string()))?
        } else {
            human()
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{text}").map_err(|err| match err.kind() {
            std::io::ErrorKind::BrokenPipe => CliError::BrokenPipe,
            _ => CliError::Io(err),
        })
    }
}

/// One change of the exchange rate, as the local and the org's `rate show` print it.
pub(crate) struct RateRow<'a> {
    pub at: String,
    pub old: Option<rust_decimal::Decimal>,
    pub new: rust_decimal::Decimal,
    pub by: &'a str,
    pub reason: &'a str,
}

pub(crate) fn rate_history<'a>(changes: impl IntoIterator<Item = RateRow<'a>>) -> String {
    table(
        &["time", "old", "new", "by", "reason"],
        changes.into_iter().map(|change| {
            vec![
                change.at,
                change.old.map(|rate| rate.to_string()).unwrap_or_default(),
                change.new.to_string(),
                change.by.to_owned(),
                change.reason.to_owned(),
            ]
        }),
    )
}

pub(crate) fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    for row in rows {
        table.add_row(row);
    }
    table.to_string()
}

fn default_data_dir() -> CliResult<PathBuf> {
    dirs::data_dir()
        .map(|dir| dir.join(APP_IDENTIFIER))
        .ok_or_else(|| {
            CliError::Input("no data directory is known for this OS; pass --data-dir".into())
        })
}

fn time(at: chrono::DateTime<chrono::Utc>, ledger: &Ledger) -> String {
    at.with_timezone(&ledger.time_zone())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The local ledger and the caller the command line runs as: its admin, as on a computer that is not
/// enrolled its user is (an enrolled ledger refuses the admin's changes itself).
struct Local {
    ledger: Ledger,
    caller: Caller,
}

impl Local {
    fn api(&mut self) -> Api<'_> {
        Api::new(&mut self.ledger, &self.caller)
    }

    fn time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        time(at, &self.ledger)
    }
}

pub fn run(cli: Cli) -> CliResult<ExitCode> {
    let printer = Printer { json: cli.json };
    let caller = Caller::admin(cli.actor.trim());
    let data_dir = cli.data_dir;
    let dir = || -> CliResult<PathBuf> {
        match &data_dir {
            Some(dir) => Ok(dir.clone()),
            None => default_data_dir(),
        }
    };
    let open = || -> CliResult<Ledger> { Ok(Ledger::open_dir(&dir()?)?) };
    let local = || -> CliResult<Local> {
        Ok(Local {
            ledger: open()?,
            caller: caller.clone(),
        })
    };
    match cli.command {
        Command::Status => status(&printer, &open()?)?,
        Command::Record { app, incomplete } => {
            return record(&printer, &mut open()?, &app, incomplete);
        }
        Command::Usage(args) => usage(&printer, &mut local()?, args)?,
        Command::Models(command) => models(&printer, &mut local()?, command)?,
        Command::Rate(command) => rate(&printer, &mut local()?, command)?,
        Command::Apps(command) => return apps(&printer, &mut local()?, command),
        Command::Users(UsersCommand::List) => users(&printer, &mut local()?)?,
        Command::Grant(amount) => balance(&printer, &mut local()?, BalanceKind::Grant, amount)?,
        Command::Topup(amount) => balance(&printer, &mut local()?, BalanceKind::Topup, amount)?,
        Command::Adjust(amount) => balance(&printer, &mut local()?, BalanceKind::Adjust, amount)?,
        Command::Reverse { entry_id, reason } => {
            let entry = local()?.api().reverse(&entry_id, &reason)?;
            printer.print(&entry, || {
                format!(
                    "reversed {}: {} credits (entry {})",
                    entry_id, entry.amount, entry.id
                )
            })?;
        }
        Command::Policy(command) => policy(&printer, &mut local()?, command)?,
        Command::Held(command) => held(&printer, &mut local()?, command)?,
        Command::TimeZone { zone } => {
            let mut local = local()?;
            let zone = match zone {
                Some(zone) => local.api().set_time_zone(&zone)?,
                None => local.ledger.time_zone().name().to_owned(),
            };
            printer.print(&serde_json::json!({ "time_zone": zone }), || zone.clone())?;
        }
        Command::Unchecked { limit } => {
            let ledger = open()?;
            let sends = ledger.unchecked_sends(limit)?;
            printer.print(&sends, || {
                table(
                    &["received", "app", "endpoint", "reason", "page"],
                    sends.iter().map(|send| {
                        vec![
                            time(send.received_at, &ledger),
                            send.app_name.clone().unwrap_or_default(),
                            send.endpoint.clone(),
                            send.reason.clone(),
                            send.page_url.clone(),
                        ]
                    }),
                )
            })?;
        }
        Command::Verify => {
            let report = open()?.verify()?;
            printer.print(&report, || {
                let mut text = format!(
                    "{}: {} accounts, {} entries checked",
                    if report.ok { "ok" } else { "BROKEN" },
                    report.accounts,
                    report.entries
                );
                for problem in &report.problems {
                    text.push_str(&format!("\n  - {problem}"));
                }
                text
            })?;
            if !report.ok {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Bench(args) => return run_bench(&printer, args),
        Command::Enroll { url, code, name } => {
            org::enroll(&printer, &mut open()?, &url, code, name)?
        }
        Command::Sync { watch } => org::sync(&printer, &mut open()?, watch)?,
        Command::Redeem { code } => org::redeem(&printer, &mut open()?, &code)?,
        Command::Org(command) => org::run(&printer, &dir()?, command)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn status(printer: &Printer, ledger: &Ledger) -> CliResult {
    let dashboard = ledger.dashboard(1)?;
    let policy = ledger.policy()?;
    let sync = ledger.sync_status()?;
    let value = serde_json::json!({
        "account": dashboard.account,
        "balance": dashboard.balance,
        "balance_micros": dashboard.balance_micros,
        "balance_usd": dashboard.balance_usd,
        "low_balance": dashboard.low_balance,
        "today": dashboard.today,
        "month": dashboard.month,
        "credits_per_usd": dashboard.credits_per_usd,
        "integration_enabled": policy.integration_enabled,
        "time_zone": dashboard.time_zone,
        "device_id": ledger.device_id(),
        "sync": sync,
    });
    let mode = match (&sync.server, &sync.org) {
        (Some(server), Some(org)) => format!(
            "enrolled in {org} at {server}; {} pending, last sync {}, offline allowance left {} credits{}",
            sync.pending,
            sync.last_sync
                .map(|at| time(at, ledger))
                .unwrap_or_else(|| "never".into()),
            sync.lease_left,
            if sync.revoked { "; REVOKED" } else { "" }
        ),
        _ => "this computer only: its user is its own admin".into(),
    };
    printer.print(&value, || {
        table(
            &["", ""],
            [
                vec!["mode".into(), mode],
                vec!["account".into(), dashboard.account.clone()],
                vec![
                    "balance".into(),
                    format!(
                        "{} credits (≈ {} USD)",
                        dashboard.balance, dashboard.balance_usd
                    ),
                ],
                vec![
                    "today".into(),
                    format!(
                        "{} credits, {} messages",
                        dashboard.today.credits, dashboard.today.messages
                    ),
                ],
                vec![
                    "this month".into(),
                    format!(
                        "{} credits, {} messages",
                        dashboard.month.credits, dashboard.month.messages
                    ),
                ],
                vec![
                    "rate".into(),
                    format!("{} credits per USD", dashboard.credits_per_usd),
                ],
                vec![
                    "integration".into(),
                    if policy.integration_enabled {
                        "on"
                    } else {
                        "off"
                    }
                    .into(),
                ],
            ],
        )
    })
}

fn record(
    printer: &Printer,
    ledger: &mut Ledger,
    page_url: &str,
    incomplete: bool,
) -> CliResult<ExitCode> {
    let mut payload = Vec::new();
    std::io::stdin().read_to_end(&mut payload)?;
    // Invalid UTF-8 is kept (lossily) and judged by the charge path like any other bad frame.
    let payload = String::from_utf8_lossy(&payload);
    let payload = payload.trim();
    let result = if incomplete {
        ledger.record_incomplete(page_url, payload)?
    } else {
        ledger.record_frame(page_url, payload)?
    };
    printer.print(&result, || {
        let outcome = serde_json::to_value(result.outcome)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned));
        let mut text = format!("{} {} credits", outcome.unwrap_or_default(), result.amount);
        if let Some(reason) = &result.reason {
            text.push_str(&format!(" ({reason})"));
        }
        text.push_str(&format!("; balance {}", result.balance));
        text
    })?;
    Ok(if result.outcome == Outcome::Rejected {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn usage(printer: &Printer, local: &mut Local, args: UsageArgs) -> CliResult {
    let filter = || HistoryArgs {
        model: args.model.clone(),
        app_id: args.app,
        limit: Some(args.limit),
        ..HistoryArgs::default()
    };
    if let Some(UsageCommand::Export { out, .. }) = &args.export {
        let api = local.api();
        let written = match out {
            Some(path) => api.export_history_csv(filter(), std::fs::File::create(path)?)?,
            None => api.export_history_csv(filter(), std::io::stdout().lock())?,
        };
        if let Some(path) = out {
            let summary = serde_json::json!({"rows": written, "file": path});
            printer.print(&summary, || {
                format!("wrote {written} rows to {}", path.display())
            })?;
        }
        return Ok(());
    }
    let page = local.api().history(filter())?;
    printer.print(&page, || {
        table(
            &[
                "time", "kind", "credits", "app", "model", "in", "out", "est.", "reason",
            ],
            page.entries.iter().map(|entry| {
                let usage = entry.usage.as_ref();
                vec![
                    local.time(entry.created_at),
                    entry.kind.as_str().into(),
                    entry.amount.to_string(),
                    usage
                        .map(|usage| usage.app_name.clone())
                        .unwrap_or_default(),
                    usage
                        .and_then(|usage| usage.model.clone())
                        .unwrap_or_default(),
                    usage
                        .map(|usage| usage.prompt_tokens.to_string())
                        .unwrap_or_default(),
                    usage
                        .map(|usage| usage.completion_tokens.to_string())
                        .unwrap_or_default(),
                    if usage.is_some_and(|usage| usage.estimated) {
                        "yes"
                    } else {
                        ""
                    }
                    .into(),
                    entry.reason.clone().unwrap_or_default(),
                ]
            }),
        )
    })
}

fn models(printer: &Printer, local: &mut Local, command: ModelsCommand) -> CliResult {
    let mut api = local.api();
    match command {
        ModelsCommand::List => {
            let models = api.models()?;
            printer.print(&models, || {
                table(
                    &[
                        "model",
                        "input USD/1K",
                        "output USD/1K",
                        "active",
                        "review",
                        "aliases",
                    ],
                    models.iter().map(|model| {
                        vec![
                            model.name.clone(),
                            model.input_usd_per_1k.to_string(),
                            model.output_usd_per_1k.to_string(),
                            if model.active { "yes" } else { "no" }.into(),
                            if model.needs_review {
                                "review before use"
                            } else {
                                ""
                            }
                            .into(),
                            model.aliases.join(", "),
                        ]
                    }),
                )
            })
        }
        ModelsCommand::Set {
            name,
            input,
            output,
            reason,
        } => {
            let model = api.set_model(&name, &input, &output, &reason)?;
            print_model(printer, &model)
        }
        ModelsCommand::Enable { name } => print_model(printer, &api.set_model_active(&name, true)?),
        ModelsCommand::Disable { name } => {
            print_model(printer, &api.set_model_active(&name, false)?)
        }
        ModelsCommand::Aliases { name, aliases } => {
            print_model(printer, &api.set_model_aliases(&name, &aliases)?)
        }
        ModelsCommand::Import {
            file,
            reason,
            preview,
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|err| CliError::Input(format!("cannot read {}: {err}", file.display())))?;
            if preview {
                let preview = api.preview_import(&text)?;
                return printer.print(&preview, || {
                    let mut text = table(
                        &["line", "model", "input USD/1K", "output USD/1K", "change"],
                        preview.rows.iter().map(|row| {
                            vec![
                                row.line.to_string(),
                                row.name.clone(),
                                row.input_usd_per_1k.to_string(),
                                row.output_usd_per_1k.to_string(),
                                if row.free {
                                    format!("{} (free)", row.change)
                                } else {
                                    row.change.into()
                                },
                            ]
                        }),
                    );
                    text.push_str(&import_notes(&preview.skipped, &preview.errors));
                    text
                });
            }
            let reason = reason.unwrap_or_else(|| format!("imported from {}", file_name(&file)));
            let report = api.import_models(&text, &reason, |_| ())?;
            printer.print(&report, || {
                let mut text = format!(
                    "{} created, {} updated, {} unchanged, {} skipped, {} errors",
                    report.created,
                    report.updated,
                    report.unchanged,
                    report.skipped.len(),
                    report.errors.len()
                );
                text.push_str(&free_note(&report.free));
                text.push_str(&import_notes(&report.skipped, &report.errors));
                text
            })
        }
        ModelsCommand::History { name } => {
            let history = api.model_history(&name)?;
            printer.print(&history, || {
                table(
                    &["time", "old in/out", "new in/out", "by", "reason"],
                    history.iter().map(|change| {
                        vec![
                            local.time(change.changed_at),
                            change
                                .old
                                .map(|old| format!("{} / {}", old.input_per_1k, old.output_per_1k))
                                .unwrap_or_default(),
                            format!("{} / {}", change.new.input_per_1k, change.new.output_per_1k),
                            change.changed_by.clone(),
                            change.reason.clone(),
                        ]
                    }),
                )
            })
        }
    }
}

fn print_model(printer: &Printer, model: &ModelConfig) -> CliResult {
    printer.print(model, || {
        let mut text = format!(
            "{}: {} / {} USD per 1K tokens",
            model.name, model.input_usd_per_1k, model.output_usd_per_1k
        );
        if !model.active {
            text.push_str(" (disabled)");
        }
        if !model.aliases.is_empty() {
            text.push_str(&format!("; aliases {}", model.aliases.join(", ")));
        }
        text
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn rate(printer: &Printer, local: &mut Local, command: RateCommand) -> CliResult {
    match command {
        RateCommand::Show => {
            let rate = local.api().rate()?;
            printer.print(&rate, || {
                let history = rate_history(rate.history.iter().map(|change| RateRow {
                    at: local.time(change.changed_at),
                    old: change.old_rate,
                    new: change.new_rate,
                    by: &change.changed_by,
                    reason: &change.reason,
                }));
                format!("1 USD = {} credits\n{history}", rate.credits_per_usd)
            })
        }
        RateCommand::Set {
            credits_per_usd,
            reason,
        } => {
            let change = local.api().set_rate(&credits_per_usd, &reason)?;
            printer.print(&change, || {
                format!(
                    "1 USD = {} credits (was {})",
                    change.new_rate,
                    change
                        .old_rate
                        .map(|rate| rate.to_string())
                        .unwrap_or_default()
                )
            })
        }
    }
}

fn apps(printer: &Printer, local: &mut Local, command: AppsCommand) -> CliResult<ExitCode> {
    let mut api = local.api();
    let changed = match command {
        AppsCommand::List => {
            let apps = api.apps()?;
            printer.print(&apps, || {
                table(
                    &["id", "name", "share URL", "priced by", "enabled"],
                    apps.iter().map(|app| {
                        vec![
                            app.id.to_string(),
                            app.name.clone(),
                            app.share_url.clone(),
                            app.model
                                .clone()
                                .unwrap_or_else(|| "Dify's reported price".into()),
                            if app.enabled { "yes" } else { "no" }.into(),
                        ]
                    }),
                )
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        AppsCommand::Test { id } => {
            let share_url = api.app_to_test(id)?;
            let test = org::runtime()?.block_on(test_connection(&share_url))?;
            printer.print(&test, || format!("{share_url}: {}", test.message))?;
            return Ok(if test.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        // clap makes --model and --dify-price exclusive, and one of them required.
        AppsCommand::Add {
            name, url, model, ..
        } => api.add_app(&name, &url, model)?,
        AppsCommand::Edit { id, change } => {
            let current = api.app(id)?;
            let model = match (change.model, change.dify_price) {
                (None, false) => current.model,
                (model, _) => model,
            };
            api.update_app(
                id,
                change.name.as_deref().unwrap_or(&current.name),
                change.url.as_deref().unwrap_or(&current.share_url),
                model,
            )?
        }
        AppsCommand::Enable { id } => api.set_app_enabled(id, true)?,
        AppsCommand::Disable { id } => api.set_app_enabled(id, false)?,
    };
    printer.print(&changed, || {
        format!(
            "app {} ({}) is id {}, priced by {}, {}",
            changed.name,
            changed.share_url,
            changed.id,
            changed.model.as_deref().unwrap_or("Dify's reported price"),
            if changed.enabled {
                "enabled"
            } else {
                "disabled"
            }
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

fn users(printer: &Printer, local: &mut Local) -> CliResult {
    let accounts = local.api().accounts()?;
    printer.print(&accounts, || {
        table(
            &["name", "display name", "role", "balance"],
            accounts.iter().map(|account| {
                vec![
                    account.name.clone(),
                    account.display_name.clone(),
                    serde_json::to_value(account.role)
                        .ok()
                        .and_then(|role| role.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    account.balance.to_string(),
                ]
            }),
        )
    })
}

/// `grant`, `topup` and `adjust`: one entry, then the user's balance.
fn balance(printer: &Printer, local: &mut Local, kind: BalanceKind, args: Amount) -> CliResult {
    let Amount {
        user,
        amount,
        reason,
    } = args;
    let mut api = local.api();
    let entry = api.change_balance(&user, kind, &amount, &reason)?;
    let balance = api.account(&user)?.balance;
    printer.print(
        &serde_json::json!({"entry": entry, "balance": balance}),
        || {
            format!(
                "{} {} credits for {user}; balance {balance}",
                entry.kind.as_str(),
                entry.amount
            )
        },
    )
}

fn policy(printer: &Printer, local: &mut Local, command: PolicyCommand) -> CliResult {
    let mut api = local.api();
    let policy = match command {
        PolicyCommand::Show => api.policy()?,
        PolicyCommand::Set { key, value } => {
            api.set_policy_value(key.parse::<PolicyKey>()?, &value)?
        }
    };
    printer.print(&policy, || {
        let value = serde_json::to_value(&policy).unwrap_or_default();
        table(
            &["guard", "value"],
            PolicyKey::ALL
                .iter()
                .map(|(name, _)| vec![(*name).into(), value[name].to_string()]),
        )
    })
}

fn held(printer: &Printer, local: &mut Local, command: HeldCommand) -> CliResult {
    match command {
        HeldCommand::List { all } => {
            let held = local.api().held_events(all)?;
            printer.print(&held, || {
                table(
                    &[
                        "id", "received", "reason", "app", "message", "credits", "status", "detail",
                    ],
                    held.iter().map(|event| {
                        vec![
                            event.id.clone(),
                            local.time(event.received_at),
                            event.reason.clone(),
                            event.app_name.clone(),
                            event.message_id.clone(),
                            event
                                .amount
                                .map(|amount| amount.to_string())
                                .unwrap_or_else(|| "unpriced".into()),
                            event.status.clone(),
                            event.detail.clone(),
                        ]
                    }),
                )
            })
        }
        HeldCommand::Approve { id, note } => {
            // The amount `held list` shows: if the price moved since, nothing is charged and the list
            // shows the new amount.
            let shown = local.ledger.held_event(&id)?.amount_micros;
            let entry = local.api().approve_held(&id, &note, shown)?;
            printer.print(&entry, || {
                format!(
                    "approved: charged {} credits (entry {})",
                    -entry.amount, entry.id
                )
            })
        }
        HeldCommand::Reject { id, note } => {
            let event = local.api().reject_held(&id, &note)?;
            printer.print(&event, || format!("rejected held event {}", event.id))
        }
        HeldCommand::Rejected { limit } => {
            let rejected = local.api().rejected_events(limit)?;
            printer.print(&rejected, || {
                table(
                    &["id", "received", "code", "source", "message"],
                    rejected.iter().map(|event| {
                        vec![
                            event.id.clone(),
                            local.time(event.received_at),
                            event.code.clone(),
                            event.source.clone(),
                            event.message.clone(),
                        ]
                    }),
                )
            })
        }
    }
}

/// The models a price import made free (priced at 0), named so no 0 goes in unseen.
pub(crate) fn free_note(free: &[String]) -> String {
    if free.is_empty() {
        return String::new();
    }
    format!("\n{} free (priced at 0): {}", free.len(), free.join(", "))
}

/// The lines a price import left out, and why: skipped entries, then errors.
pub(crate) fn import_notes(skipped: &[ImportSkip], errors: &[ImportError]) -> String {
    let skipped = skipped.iter().map(|skip| {
        format!(
            "\n  line {}: skipped {}: {}",
            skip.line, skip.name, skip.reason
        )
    });
    let errors = errors
        .iter()
        .map(|error| format!("\n  line {}: {}", error.line, error.message));
    skipped.chain(errors).collect()
}

fn run_bench(printer: &Printer, args: BenchArgs) -> CliResult<ExitCode> {
    if args.rows == 0 {
        return Err(CliError::Input("--rows must be at least 1".into()));
    }
    let scratch = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let filesystem = bench::filesystem_of(scratch.path());
    if filesystem.in_memory && !args.allow_tmpfs {
        return Err(CliError::Input(format!(
            "{} is on {} (in memory): fsync costs nothing there, so the charge path's figure would not measure \
             durability. Pass --dir on the disk the ledger lives on, or --allow-tmpfs.",
            scratch.path().display(),
            filesystem.kind
        )));
    }
    let price_map = match &args.price_file {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .map_err(|err| CliError::Input(format!("cannot read {}: {err}", file.display())))?,
        ),
        None => None,
    };
    let options = bench::BenchOptions {
        rows: args.rows,
        samples: args.samples,
        price_map,
    };
    let report = bench::run(scratch.path(), &options)?;
    printer.print(&report, || bench_table(&report, args.price_file.as_deref()))?;
    Ok(ExitCode::SUCCESS)
}

fn bench_table(report: &bench::BenchReport, price_file: Option<&Path>) -> String {
    let goal = |met: bool, goal: &str| format!("{goal}: {}", if met { "met" } else { "MISSED" });
    let spread = |figure: bench::Figure, unit: &str, digits: usize| {
        format!(
            "{:.digits$} {unit} (min {:.digits$}, max {:.digits$}; {} runs)",
            figure.median, figure.min, figure.max, figure.runs
        )
    };
    let wal = |writes: bench::WalWrites| {
        format!(
            "{:.0} pages, {:.1} KiB (min {:.0}, max {:.0} pages)",
            writes.pages.median,
            writes.bytes.median / 1024.0,
            writes.pages.min,
            writes.pages.max
        )
    };
    let fs = &report.filesystem;
    let mut text = format!(
        "{} entries seeded in {:.1} s, on {} ({}){}\n",
        report.rows,
        report.seed_seconds,
        fs.mount_point,
        fs.kind,
        if fs.in_memory {
            ": IN MEMORY, fsync is free and P1 does not measure durability"
        } else {
            ""
        }
    );
    let source = price_file.map_or_else(
        || "a generated map of LiteLLM's shape".to_owned(),
        |file| file.display().to_string(),
    );
    text.push_str(&table(
        &["figure", "measured (median)", "goal"],
        [
            vec![
                "P1 durable charge".into(),
                spread(report.p1_charge_us, "µs", 1),
                String::new(),
            ],
            vec![
                "P1 bare fsync'd one-row commit".into(),
                spread(report.p1_insert_us, "µs", 1),
                String::new(),
            ],
            vec![
                "P1 ratio, each charge over the commit beside it".into(),
                spread(report.p1_ratio, "×", 2),
                goal(report.p1_ratio.median <= 1.2, "≤ 1.2"),
            ],
            vec![
                "P1 WAL per charge".into(),
                wal(report.p1_charge_wal),
                String::new(),
            ],
            vec![
                "P1 WAL per one-row commit".into(),
                wal(report.p1_insert_wal),
                String::new(),
            ],
            vec![
                "P2 dashboard".into(),
                spread(report.p2_ms, "ms", 3),
                goal(report.p2_ms.median <= 5.0, "≤ 5 ms"),
            ],
            vec![
                "P2 straightforward design (same answers, checked)".into(),
                spread(report.p2_baseline_ms, "ms", 1),
                String::new(),
            ],
            vec![
                "P2 ratio (straightforward / dashboard)".into(),
                format!("{:.0}×", report.p2_ratio),
                goal(report.p2_ratio >= 50.0, "≥ 50×"),
            ],
            vec![
                "P3 filtered history page of 50".into(),
                spread(report.p3_ms, "ms", 3),
                goal(report.p3_ms.median <= 2.0, "≤ 2 ms"),
            ],
            vec![
                format!(
                    "price import: {} entries, {:.1} MB",
                    report.import_entries,
                    report.import_bytes as f64 / 1e6
                ),
                spread(report.import_s, "s", 3),
                goal(report.import_s.median <= 0.5, "≤ 0.5 s"),
            ],
            vec![
                "price import again, nothing changed".into(),
                spread(report.import_again_s, "s", 3),
                String::new(),
            ],
        ],
    ));
    text.push_str(&format!(
        "\nprice map: {source}: {} created, {} skipped (not priced per token), {} errors",
        report.import_created, report.import_skipped, report.import_errors
    ));
    text
}
