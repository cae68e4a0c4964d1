//! The org server from the command line: a device's `enroll` and `sync`, and an admin's `org …` commands,
//! which sign in to the server and run there. Once enrolled, the local admin commands are refused by the ledger.

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokio::sync::Notify;

use tokendesk_api::org::{OrgApi, Verdict};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::money::micros_to_credits;
use tokendesk_ledger::pricing::parse_price_file;
use tokendesk_sync_client::admin::{OrgAdmin, redemption_csv};
use tokendesk_sync_client::{ClientError, device};
use tokendesk_sync_proto::Price;
use tokendesk_sync_proto::Pricing;
use tokendesk_sync_proto::admin::{
    EntryInfo, EntryKind, ImportModel, ImportModels, NewApp, NewEntry, NewRedemptionCodes, NewUser,
    RateInfo, ReportBy, ReportQuery, Role, SetBudget, SetModel, SetPolicy, SetRate, UpdateApp,
};
use tokendesk_sync_proto::device::{JoinLink, Policy};

use crate::commands::{AppChange, CliError, CliResult, Printer, RateRow, rate_history, table};

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Signs in to an org server as an admin; the session is kept in the data directory (mode 0600).
    Login {
        url: String,
        name: String,
        /// Read the password from standard input instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Ends the admin session.
    Logout,
    #[command(subcommand)]
    Users(OrgUsers),
    /// Makes a single-use enrollment code (10 minutes) for one user's new device.
    EnrollCode { user: String },
    #[command(subcommand)]
    Devices(OrgDevices),
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
    /// A user's balance on the server.
    Balance { user: String },
    #[command(subcommand)]
    Models(OrgModels),
    #[command(subcommand)]
    Rate(OrgRate),
    #[command(subcommand)]
    Apps(OrgApps),
    #[command(subcommand)]
    Policy(OrgPolicy),
    /// Held and quarantined events.
    #[command(subcommand)]
    Held(OrgHeld),
    /// Sets a user's own budgets, which every device enforces across all the user's devices. A budget left
    /// out follows the org's policy (`org policy set daily_budget …`); 0 is no budget.
    Budget {
        user: String,
        /// Credits a day.
        #[arg(long)]
        daily: Option<String>,
        /// Credits a month.
        #[arg(long)]
        monthly: Option<String>,
    },
    /// Redemption codes: single-use codes worth a fixed amount that staff redeem on their desktop.
    #[command(subcommand)]
    Codes(OrgCodes),
    /// The org's Dify workspaces, whose own records reconciliation reads.
    #[command(subcommand)]
    Dify(crate::reconcile::OrgDify),
    /// Reconciles with Dify's own records now, then shows the daily control and what was found.
    Reconcile {
        /// Only this app (its id, as `org apps list` shows it).
        #[arg(long)]
        app: Option<uuid::Uuid>,
        /// Read conversations updated since this day (YYYY-MM-DD, the workspace's zone), not since the
        /// last run.
        #[arg(long)]
        since: Option<NaiveDate>,
    },
    /// Spend per user, app, model or day.
    Report {
        #[arg(long, value_enum, default_value = "user")]
        by: By,
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day, YYYY-MM-DD (UTC).
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Only this user's spend.
        #[arg(long)]
        user: Option<String>,
        /// Only this app's spend (its name).
        #[arg(long)]
        app: Option<String>,
        /// Only this model's spend.
        #[arg(long)]
        model: Option<String>,
        /// Print the server's CSV.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Args)]
pub struct Amount {
    pub(crate) user: String,
    /// Credits, e.g. 500 or 12.5.
    #[arg(allow_negative_numbers = true)]
    pub(crate) amount: String,
    #[arg(long)]
    pub(crate) reason: String,
}

#[derive(Subcommand)]
pub enum OrgUsers {
    List,
    /// Adds a staff member, or with `--admin` an admin who signs in with a password.
    Add {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        admin: bool,
        /// Read the new admin's password from standard input instead of the terminal.
        #[arg(long, requires = "admin")]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum OrgDevices {
    List,
    Revoke { device_id: String },
}

#[derive(Subcommand)]
pub enum OrgModels {
    List,
    /// A model's price changes, newest first.
    History {
        name: String,
    },
    Set {
        name: String,
        #[arg(long)]
        input: String,
        #[arg(long)]
        output: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Imports a CSV or LiteLLM price file; bad rows are reported and the good ones imported.
    Import {
        file: PathBuf,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum OrgRate {
    Show,
    Set {
        #[arg(allow_negative_numbers = true)]
        credits_per_usd: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
pub enum OrgApps {
    List,
    /// Changes an app (by its id): only the fields given.
    Edit {
        id: String,
        #[command(flatten)]
        change: AppChange,
    },
    /// Meters the app again on every device.
    Enable {
        id: String,
    },
    /// Stops metering and allowing the app on every device.
    Disable {
        id: String,
    },
    Add {
        name: String,
        url: String,
        #[arg(
            long,
            conflicts_with = "dify_price",
            required_unless_present = "dify_price"
        )]
        model: Option<String>,
        #[arg(long)]
        dify_price: bool,
    },
}

#[derive(Subcommand)]
pub enum OrgPolicy {
    Show,
    /// Sets one guard: integration_enabled, min_balance, event_cap, low_balance, daily_budget, monthly_budget,
    /// offline_allowance (credits), flood_max_per_minute, max_tokens_per_event, lease_seconds, time_zone (IANA,
    /// where budget days and months begin), when_unchecked (allow or block: a send a device could not check),
    /// side_calls (free, fixed or estimate: how Dify's auto-naming and suggested questions are priced),
    /// side_call_fixed (credits per side call when fixed).
    Set {
        key: String,
        value: String,
    },
}

#[derive(Subcommand)]
pub enum OrgCodes {
    /// Makes a batch of codes and prints them as CSV (shown this once: the server keeps only hashes).
    Create {
        #[arg(long)]
        count: u32,
        /// Credits each code is worth.
        #[arg(long)]
        amount: String,
        #[arg(long)]
        reason: String,
        /// Days the codes may be redeemed in (default: until redeemed).
        #[arg(long)]
        valid_days: Option<u32>,
        /// Write the CSV to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The org's codes, newest first, and who redeemed them.
    List,
}

#[derive(Subcommand)]
pub enum OrgHeld {
    List {
        #[arg(long)]
        all: bool,
    },
    Approve {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
    Reject {
        id: String,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum By {
    User,
    App,
    Model,
    Day,
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        CliError::Api(error.into())
    }
}

pub(crate) fn runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Io)
}

/// `tokendesk enroll URL CODE`: this data directory becomes a device of the org.
pub fn enroll(
    printer: &Printer,
    ledger: &mut Ledger,
    url_or_link: &str,
    code: Option<String>,
    name: Option<String>,
) -> CliResult {
    let link = JoinLink::from_input(url_or_link, code.as_deref())
        .map_err(|why| CliError::Input(why.into()))?;
    let (url, code) = (link.server.as_str(), link.code.as_str());
    let name = name.unwrap_or_else(device::default_device_name);
    let answer =
        runtime()?.block_on(device::enroll(&Mutex::new(&mut *ledger), url, code, &name))?;
    let first_sync_error = ledger.sync_status()?.last_error;
    printer.print(
        &json!({"device_id": answer.device_id, "first_sync_error": first_sync_error}),
        || {
            let mut text = format!(
                "enrolled as device {} of {} for {} ({}); balance {} credits",
                answer.device_id,
                answer.org.name,
                answer.user.display_name,
                answer.user.name,
                ledger
                    .active_account()
                    .map(|account| account.balance.to_string())
                    .unwrap_or_default()
            );
            if let Some(error) = &first_sync_error {
                text.push_str(&format!(
                    "\nthe first sync failed ({error}); `tokendesk sync` tries again"
                ));
            }
            text
        },
    )
}

/// `tokendesk redeem CODE`: a redemption code credits this device's user on the server.
pub fn redeem(printer: &Printer, ledger: &mut Ledger, code: &str) -> CliResult {
    let answer = runtime()?.block_on(device::redeem(&Mutex::new(&mut *ledger), code))?;
    let credits = micros_to_credits(answer.amount_micros);
    let balance = micros_to_credits(answer.balance_micros);
    printer.print(&answer, || {
        format!("redeemed {credits} credits; balance {balance} credits")
    })
}

/// Spend against a budget as `spent / budget`: the user's own budget, or the org's (`org`), or none.
fn spend_against(spent: i64, budget: Option<i64>) -> String {
    let spent = micros_to_credits(spent);
    match budget {
        None => format!("{spent} / org"),
        Some(0) => format!("{spent} / none"),
        Some(budget) => format!("{spent} / {}", micros_to_credits(budget)),
    }
}

/// `tokendesk sync [--watch]`.
pub fn sync(printer: &Printer, ledger: &mut Ledger, watch: bool) -> CliResult {
    let runtime = runtime()?;
    if watch {
        let never_woken = Notify::new();
        return Ok(runtime.block_on(device::watch(
            &Mutex::new(ledger),
            &never_woken,
            |_| {},
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        ))?);
    }
    let report = runtime.block_on(device::sync_once(&Mutex::new(ledger)))?;
    let balance = micros_to_credits(report.balance_micros);
    printer.print(
        &json!({
            "acked_through_seq": report.acked_through_seq,
            "pending": report.pending,
            "balance": balance,
            "config_version": report.config_version,
        }),
        || {
            format!(
                "synced through #{}; {} pending; balance {balance} credits; config version {}",
                report.acked_through_seq, report.pending, report.config_version
            )
        },
    )
}

/// The admin's `org …` commands.
pub fn run(printer: &Printer, data_dir: &Path, command: OrgCommand) -> CliResult {
    let runtime = runtime()?;
    match command {
        OrgCommand::Login {
            url,
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let session = runtime.block_on(OrgAdmin::login(data_dir, &url, &name, &password))?;
            printer.print(
                &json!({"user": session.user, "org": session.org, "expires_at": session.expires_at}),
                || format!("signed in to {} as {} until {}", session.org.name, session.user.name, session.expires_at),
            )
        }
        OrgCommand::Logout => {
            runtime.block_on(OrgAdmin::logout(data_dir))?;
            printer.print(&json!({"signed_out": true}), || "signed out".into())
        }
        command => {
            let admin = OrgAdmin::load(data_dir)?;
            runtime.block_on(admin_command(printer, &OrgApi::new(&admin), command))
        }
    }
}

pub(crate) fn read_password(from_stdin: bool) -> CliResult<String> {
    let password = if from_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text
    } else {
        rpassword::prompt_password("password: ")?
    };
    let password = password.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(CliError::Input("the password is empty".into()));
    }
    Ok(password)
}

async fn admin_command(printer: &Printer, admin: &OrgApi<'_>, command: OrgCommand) -> CliResult {
    match command {
        OrgCommand::Login { .. } | OrgCommand::Logout => unreachable!("handled before signing in"),
        OrgCommand::Users(OrgUsers::List) => {
            let users = admin.users().await?;
            printer.print(&users, || {
                table(
                    &[
                        "name",
                        "display name",
                        "role",
                        "balance",
                        "devices",
                        "today / budget",
                        "month / budget",
                    ],
                    users.iter().map(|summary| {
                        vec![
                            summary.user.name.clone(),
                            summary.user.display_name.clone(),
                            summary.user.role.as_str().into(),
                            micros_to_credits(summary.balance_micros).to_string(),
                            summary.devices.to_string(),
                            spend_against(summary.spent_today_micros, summary.daily_budget_micros),
                            spend_against(
                                summary.spent_month_micros,
                                summary.monthly_budget_micros,
                            ),
                        ]
                    }),
                )
            })
        }
        OrgCommand::Users(OrgUsers::Add {
            name,
            display_name,
            admin: as_admin,
            password_stdin,
        }) => {
            let (role, password) = if as_admin {
                (Role::Admin, Some(read_password(password_stdin)?))
            } else {
                (Role::Staff, None)
            };
            let new = NewUser {
                name,
                display_name,
                role,
                password,
            };
            let user = admin.add_user(&new).await?;
            printer.print(&user, || {
                format!("added {} ({})", user.name, user.display_name)
            })
        }
        OrgCommand::Budget {
            user,
            daily,
            monthly,
        } => {
            let summary = admin
                .set_budget(&user, &SetBudget { daily, monthly })
                .await?;
            printer.print(&summary, || {
                format!(
                    "{}: today {}, this month {}",
                    summary.user.name,
                    spend_against(summary.spent_today_micros, summary.daily_budget_micros),
                    spend_against(summary.spent_month_micros, summary.monthly_budget_micros)
                )
            })
        }
        OrgCommand::Codes(OrgCodes::Create {
            count,
            amount,
            reason,
            valid_days,
            out,
        }) => {
            let batch = admin
                .create_codes(&NewRedemptionCodes {
                    count,
                    amount,
                    reason,
                    valid_days,
                })
                .await?;
            let csv = redemption_csv(&batch);
            if let Some(file) = &out {
                std::fs::write(file, &csv)?;
            }
            printer.print(&batch, || match &out {
                Some(file) => format!(
                    "{} codes of {} credits each written to {}",
                    batch.codes.len(),
                    micros_to_credits(batch.amount_micros),
                    file.display()
                ),
                None => csv.trim_end().to_owned(),
            })
        }
        OrgCommand::Codes(OrgCodes::List) => {
            let codes = admin.redemption_codes().await?;
            printer.print(&codes, || {
                table(
                    &[
                        "id",
                        "credits",
                        "reason",
                        "created",
                        "expires",
                        "redeemed by",
                        "redeemed",
                    ],
                    codes.iter().map(|code| {
                        vec![
                            code.id.to_string(),
                            micros_to_credits(code.amount_micros).to_string(),
                            code.reason.clone(),
                            code.created_at.to_string(),
                            code.expires_at.map(|at| at.to_string()).unwrap_or_default(),
                            code.redeemed_by.clone().unwrap_or_default(),
                            code.redeemed_at
                                .map(|at| at.to_string())
                                .unwrap_or_default(),
                        ]
                    }),
                )
            })
        }
        OrgCommand::EnrollCode { user } => {
            let code = admin.enrollment_code(&user).await?;
            printer.print(
                &json!({"code": code.code, "join_link": code.join_link, "expires_at": code.expires_at}),
                || {
                    format!(
                        "enrollment code for {}: {} (single use, until {})\njoin link: {}",
                        code.user, code.code, code.expires_at, code.join_link
                    )
                },
            )
        }
        OrgCommand::Devices(OrgDevices::List) => {
            let devices = admin.devices().await?;
            let listed: Vec<_> = devices
                .iter()
                .map(|device| {
                    json!({"id": device.id, "user": device.user, "name": device.name, "revoked": device.revoked,
                           "last_seen": device.last_seen, "clock_skew_ms": device.clock_skew_ms,
                           "last_seq": device.last_seq})
                })
                .collect();
            printer.print(&listed, || {
                table(
                    &["id", "user", "name", "revoked", "last seen", "clock skew"],
                    devices.iter().map(|device| {
                        vec![
                            device.id.to_string(),
                            device.user.clone(),
                            device.name.clone(),
                            if device.revoked { "yes" } else { "no" }.into(),
                            device
                                .last_seen
                                .map(|at| at.to_string())
                                .unwrap_or_default(),
                            device
                                .clock_skew_ms
                                .map(|ms| format!("{ms} ms"))
                                .unwrap_or_default(),
                        ]
                    }),
                )
            })
        }
        OrgCommand::Devices(OrgDevices::Revoke { device_id }) => {
            let device = admin.revoke_device(&device_id).await?;
            printer.print(&device, || {
                format!(
                    "revoked device {} ({}) of {}",
                    device.id, device.name, device.user
                )
            })
        }
        OrgCommand::Grant(amount) => post_entry(printer, admin, EntryKind::Grant, amount).await,
        OrgCommand::Topup(amount) => post_entry(printer, admin, EntryKind::Topup, amount).await,
        OrgCommand::Adjust(amount) => {
            post_entry(printer, admin, EntryKind::Adjustment, amount).await
        }
        OrgCommand::Reverse { entry_id, reason } => {
            let entry = admin.reverse_entry(&entry_id, &reason).await?;
            print_entry(printer, &entry)
        }
        OrgCommand::Balance { user } => {
            let balance = admin.balance(&user).await?;
            let credits = micros_to_credits(balance.balance_micros);
            let reserved = micros_to_credits(balance.open_leases_micros);
            printer.print(
                &json!({"balance": credits, "open_leases": reserved}),
                || {
                    format!(
                        "{}: {credits} credits ({reserved} reserved for offline devices)",
                        balance.user
                    )
                },
            )
        }
        OrgCommand::Models(OrgModels::List) => {
            let models = admin.models().await?;
            printer.print(&models, || {
                table(
                    &[
                        "model",
                        "input USD/1K",
                        "output USD/1K",
                        "aliases",
                        "active",
                    ],
                    models.iter().map(|model| {
                        vec![
                            model.name.clone(),
                            model.price.input_per_1k.to_string(),
                            model.price.output_per_1k.to_string(),
                            model.aliases.join(", "),
                            if model.active { "yes" } else { "no" }.into(),
                        ]
                    }),
                )
            })
        }
        OrgCommand::Models(OrgModels::Set {
            name,
            input,
            output,
            reason,
        }) => {
            let body = SetModel {
                input_usd_per_1k: input,
                output_usd_per_1k: output,
                reason,
                aliases: None,
                active: None,
            };
            let model = admin.set_model(&name, &body).await?;
            printer.print(&model, || {
                format!(
                    "{}: {} / {} USD per 1K tokens",
                    model.name, model.price.input_per_1k, model.price.output_per_1k
                )
            })
        }
        OrgCommand::Models(OrgModels::Import { file, reason }) => {
            let text = std::fs::read_to_string(&file)?;
            let parsed = parse_price_file(&text)?;
            let free: Vec<String> = parsed
                .rows
                .iter()
                .filter(|row| row.is_free())
                .map(|row| row.name.clone())
                .collect();
            let models = parsed
                .rows
                .into_iter()
                .map(|row| ImportModel {
                    name: row.name,
                    price: Price {
                        input_per_1k: row.price.input_per_1k,
                        output_per_1k: row.price.output_per_1k,
                    },
                    aliases: row.aliases,
                })
                .collect();
            let report = admin
                .import_models(&ImportModels { models, reason })
                .await?;
            let (skipped, errors) = (parsed.skipped, parsed.errors);
            printer.print(
                &json!({"report": report, "free": free, "skipped": skipped, "errors": errors}),
                || {
                    let mut text = format!(
                        "{} created, {} updated, {} unchanged, {} skipped (config version {})",
                        report.created,
                        report.updated,
                        report.unchanged,
                        skipped.len(),
                        report.config_version
                    );
                    text.push_str(&crate::commands::free_note(&free));
                    text.push_str(&crate::commands::import_notes(&skipped, &errors));
                    text
                },
            )
        }
        OrgCommand::Rate(OrgRate::Show) => {
            let rate = admin.rate().await?;
            print_rate(printer, &rate)
        }
        OrgCommand::Rate(OrgRate::Set {
            credits_per_usd,
            reason,
        }) => {
            let rate = admin
                .set_rate(&SetRate {
                    credits_per_usd,
                    reason,
                })
                .await?;
            print_rate(printer, &rate)
        }
        OrgCommand::Apps(OrgApps::List) => {
            let apps = admin.apps().await?;
            printer.print(&apps, || {
                table(
                    &["id", "name", "share URL", "priced by", "enabled"],
                    apps.iter().map(|app| {
                        vec![
                            app.id.to_string(),
                            app.name.clone(),
                            app.share_url.clone(),
                            app.model.clone().unwrap_or_else(|| "Dify's price".into()),
                            if app.enabled { "yes" } else { "no" }.into(),
                        ]
                    }),
                )
            })
        }
        OrgCommand::Apps(OrgApps::Add {
            name,
            url,
            model,
            dify_price,
        }) => {
            let pricing = if dify_price {
                Pricing::DifyPrice
            } else {
                Pricing::Model
            };
            let new = NewApp {
                name,
                share_url: url,
                pricing,
                model: model.filter(|_| !dify_price),
            };
            let app = admin.add_app(&new).await?;
            printer.print(&app, || format!("added app {} ({})", app.name, app.id))
        }
        OrgCommand::Apps(OrgApps::Edit { id, change }) => {
            let pricing = if change.dify_price {
                Some(Pricing::DifyPrice)
            } else {
                change.model.as_ref().map(|_| Pricing::Model)
            };
            let change = UpdateApp {
                name: change.name,
                share_url: change.url,
                pricing,
                model: change.model,
                enabled: None,
            };
            update_app(printer, admin, &id, &change).await
        }
        OrgCommand::Apps(OrgApps::Enable { id }) => switch_app(printer, admin, &id, true).await,
        OrgCommand::Apps(OrgApps::Disable { id }) => switch_app(printer, admin, &id, false).await,
        OrgCommand::Models(OrgModels::History { name }) => {
            let changes = admin.model_history(&name).await?;
            printer.print(&changes, || {
                table(
                    &[
                        "changed",
                        "old input",
                        "old output",
                        "input",
                        "output",
                        "by",
                        "reason",
                    ],
                    changes.iter().map(|change| {
                        let old = change.old.as_ref();
                        vec![
                            change.changed_at.to_string(),
                            old.map(|price| price.input_per_1k.to_string())
                                .unwrap_or_default(),
                            old.map(|price| price.output_per_1k.to_string())
                                .unwrap_or_default(),
                            change.new.input_per_1k.to_string(),
                            change.new.output_per_1k.to_string(),
                            change.changed_by.clone(),
                            change.reason.clone(),
                        ]
                    }),
                )
            })
        }
        OrgCommand::Policy(OrgPolicy::Show) => {
            let policy = admin.policy().await?;
            print_policy(printer, &policy)
        }
        OrgCommand::Policy(OrgPolicy::Set { key, value }) => {
            let policy = admin.set_policy(&SetPolicy { key, value }).await?;
            print_policy(printer, &policy)
        }
        OrgCommand::Held(OrgHeld::List { all }) => {
            let held = admin.held(all).await?;
            printer.print(&held, || {
                table(
                    &[
                        "id",
                        "reason",
                        "user",
                        "message",
                        "device price",
                        "server price",
                        "status",
                    ],
                    held.iter().map(|event| {
                        let credits = |micros: Option<i64>| {
                            micros
                                .map(|m| micros_to_credits(m).to_string())
                                .unwrap_or_default()
                        };
                        vec![
                            event.id.to_string(),
                            event.reason.as_str().into(),
                            event.user.clone(),
                            event.message_id.clone(),
                            credits(event.device_amount_micros),
                            credits(event.server_amount_micros),
                            serde_json::to_value(event.status)
                                .ok()
                                .and_then(|status| status.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                        ]
                    }),
                )
            })
        }
        OrgCommand::Held(OrgHeld::Approve { id, note }) => {
            decide(printer, admin, &id, Verdict::Approve, note).await
        }
        OrgCommand::Held(OrgHeld::Reject { id, note }) => {
            decide(printer, admin, &id, Verdict::Reject, note).await
        }
        OrgCommand::Dify(command) => crate::reconcile::dify(printer, admin, command).await,
        OrgCommand::Reconcile { app, since } => {
            crate::reconcile::reconcile(printer, admin, app, since).await
        }
        OrgCommand::Report {
            by,
            from,
            to,
            user,
            app,
            model,
            csv,
        } => {
            let by = match by {
                By::User => ReportBy::User,
                By::App => ReportBy::App,
                By::Model => ReportBy::Model,
                By::Day => ReportBy::Day,
            };
            let query = ReportQuery {
                by: Some(by),
                from,
                to,
                user,
                app,
                model,
            };
            if csv {
                print!("{}", admin.report_csv(&query).await?);
                return Ok(());
            }
            let report = admin.report(&query).await?;
            let by_name = serde_json::to_value(by)
                .ok()
                .and_then(|by| by.as_str().map(str::to_owned))
                .unwrap_or_default();
            printer.print(&report, || {
                table(
                    &[
                        &by_name,
                        "credits",
                        "prompt tokens",
                        "completion tokens",
                        "messages",
                    ],
                    report.rows.iter().map(|row| {
                        vec![
                            row.key.clone(),
                            micros_to_credits(row.credits_micros).to_string(),
                            row.prompt_tokens.to_string(),
                            row.completion_tokens.to_string(),
                            row.messages.to_string(),
                        ]
                    }),
                )
            })
        }
    }
}

async fn post_entry(
    printer: &Printer,
    admin: &OrgApi<'_>,
    kind: EntryKind,
    amount: Amount,
) -> CliResult {
    let entry = NewEntry {
        kind,
        amount: amount.amount,
        reason: amount.reason,
    };
    let entry = admin.add_entry(&amount.user, &entry).await?;
    print_entry(printer, &entry)
}

fn print_entry(printer: &Printer, entry: &EntryInfo) -> CliResult {
    printer.print(entry, || {
        format!(
            "{} {} credits for {} (entry {})",
            entry.kind.as_str(),
            micros_to_credits(entry.amount_micros),
            entry.user,
            entry.id
        )
    })
}

async fn decide(
    printer: &Printer,
    admin: &OrgApi<'_>,
    id: &str,
    verdict: Verdict,
    note: Option<String>,
) -> CliResult {
    let held = admin.decide_held(id, verdict, note).await?;
    let decided = match verdict {
        Verdict::Approve => "approved",
        Verdict::Reject => "rejected",
    };
    printer.print(&held, || format!("held event {}: {decided}", held.id))
}

/// Changes an app; devices take it with the next config.
async fn update_app(
    printer: &Printer,
    admin: &OrgApi<'_>,
    id: &str,
    change: &UpdateApp,
) -> CliResult {
    let app = admin.update_app(id, change).await?;
    printer.print(&app, || {
        format!(
            "{} ({}): {}, priced by {}, {}",
            app.name,
            app.id,
            app.share_url,
            app.model.clone().unwrap_or_else(|| "Dify's price".into()),
            if app.enabled { "enabled" } else { "disabled" }
        )
    })
}

async fn switch_app(printer: &Printer, admin: &OrgApi<'_>, id: &str, enabled: bool) -> CliResult {
    let change = UpdateApp {
        enabled: Some(enabled),
        ..UpdateApp::default()
    };
    update_app(printer, admin, id, &change).await
}

fn print_rate(printer: &Printer, rate: &RateInfo) -> CliResult {
    printer.print(rate, || {
        let history = rate_history(rate.history.iter().map(|change| RateRow {
            at: change.changed_at.to_string(),
            old: change.old_rate,
            new: change.new_rate,
            by: &change.changed_by,
            reason: &change.reason,
        }));
        format!("{} credits per USD\n{history}", rate.credits_per_usd)
    })
}

fn print_policy(printer: &Printer, policy: &Policy) -> CliResult {
    let credits = |micros: i64| micros_to_credits(micros).to_string();
    printer.print(policy, || {
        table(
            &["key", "value"],
            [
                (
                    "integration_enabled",
                    policy.integration_enabled.to_string(),
                ),
                ("min_balance", credits(policy.min_balance_micros)),
                ("event_cap", credits(policy.event_cap_micros)),
                ("low_balance", credits(policy.low_balance_micros)),
                ("daily_budget", credits(policy.daily_budget_micros)),
                ("monthly_budget", credits(policy.monthly_budget_micros)),
                (
                    "offline_allowance",
                    credits(policy.offline_allowance_micros),
                ),
                (
                    "flood_max_per_minute",
                    policy.flood_max_per_minute.to_string(),
                ),
                (
                    "max_tokens_per_event",
                    policy.max_tokens_per_event.to_string(),
                ),
                ("lease_seconds", policy.lease_seconds.to_string()),
                ("time_zone", policy.time_zone.clone()),
                ("when_unchecked", policy.when_unchecked.as_str().into()),
                ("side_calls", policy.side_calls.as_str().into()),
                ("side_call_fixed", credits(policy.side_call_fixed_micros)),
            ]
            .into_iter()
            .map(|(key, value)| vec![key.into(), value]),
        )
    })
}
