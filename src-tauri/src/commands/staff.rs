//! What every local window may read, and the few actions that change nothing in the ledger.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime, State};
use tokendesk_ledger::accounts::Account;
use tokendesk_ledger::apps::DifyApp;
use tokendesk_ledger::guards::Policy;
use tokendesk_ledger::held::{HeldEvent, RejectedEvent};
use tokendesk_ledger::money::micros_to_credits;
use tokendesk_ledger::pricing::{ModelConfig, PriceChange, RateChange};
use tokendesk_ledger::stats::{Dashboard, HistoryPage, HistoryQuery};

use crate::error::ShellResult;
use crate::language::Language;
use crate::state::{AdminStatus, MonitorStatus, Shell};
use crate::windows;

/// A history filter as the windows send it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HistoryArgs {
    limit: Option<usize>,
    cursor: Option<String>,
    app_id: Option<i64>,
    model: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    account: Option<String>,
}

impl From<HistoryArgs> for HistoryQuery {
    fn from(args: HistoryArgs) -> Self {
        HistoryQuery {
            account: args.account,
            from: args.from,
            to: args.to,
            app_id: args.app_id,
            model: args.model,
            kind: None,
            limit: args.limit.unwrap_or(20),
            cursor: args.cursor,
        }
    }
}

#[tauri::command]
pub async fn dashboard(shell: State<'_, Shell>) -> ShellResult<Dashboard> {
    shell.ledger(|ledger| ledger.dashboard(30))
}

#[tauri::command]
pub async fn history(shell: State<'_, Shell>, query: HistoryArgs) -> ShellResult<HistoryPage> {
    let query = HistoryQuery::from(query);
    shell.ledger(|ledger| ledger.history(&query))
}

#[derive(Debug, Serialize)]
pub struct Export {
    pub(crate) path: std::path::PathBuf,
    pub(crate) rows: usize,
}

/// A new file `tokendesk-{what}-{time}.csv` in the user's Downloads folder (else the data directory).
pub(crate) fn export_path(shell: &Shell, what: &str) -> ShellResult<std::path::PathBuf> {
    let folder = dirs::download_dir().unwrap_or_else(|| shell.data_dir.clone());
    std::fs::create_dir_all(&folder).map_err(tokendesk_ledger::LedgerError::from)?;
    Ok(folder.join(format!(
        "tokendesk-{what}-{}.csv",
        Utc::now().format("%Y%m%d-%H%M%S")
    )))
}

/// Writes the filtered history as CSV into the user's Downloads folder.
#[tauri::command]
pub async fn export_history_csv(
    shell: State<'_, Shell>,
    query: HistoryArgs,
) -> ShellResult<Export> {
    let query = HistoryQuery::from(query);
    let path = export_path(&shell, "history")?;
    let file = std::fs::File::create(&path).map_err(tokendesk_ledger::LedgerError::from)?;
    let rows = shell.ledger(|ledger| ledger.export_csv(&query, file))?;
    Ok(Export { path, rows })
}

#[tauri::command]
pub async fn monitor_status(shell: State<'_, Shell>) -> ShellResult<MonitorStatus> {
    shell.monitor()
}

#[tauri::command]
pub async fn apps(shell: State<'_, Shell>) -> ShellResult<Vec<DifyApp>> {
    shell.ledger(|ledger| ledger.apps())
}

#[tauri::command]
pub async fn models(shell: State<'_, Shell>) -> ShellResult<Vec<ModelConfig>> {
    shell.ledger(|ledger| ledger.models())
}

#[tauri::command]
pub async fn model_history(shell: State<'_, Shell>, name: String) -> ShellResult<Vec<PriceChange>> {
    shell.ledger(|ledger| ledger.model_price_history(&name))
}

#[derive(Debug, Serialize)]
pub struct Rate {
    credits_per_usd: Decimal,
    history: Vec<RateChange>,
}

#[tauri::command]
pub async fn rate(shell: State<'_, Shell>) -> ShellResult<Rate> {
    shell.ledger(|ledger| {
        Ok(Rate {
            credits_per_usd: ledger.exchange_rate()?,
            history: ledger.exchange_rate_history()?,
        })
    })
}

#[tauri::command]
pub async fn accounts(shell: State<'_, Shell>) -> ShellResult<Vec<Account>> {
    shell.ledger(|ledger| ledger.accounts())
}

/// The policy with amounts in credits, as the windows show and edit it.
#[derive(Debug, Serialize)]
pub struct PolicyView {
    integration_enabled: bool,
    min_balance: Decimal,
    event_cap: Decimal,
    flood_max_per_minute: i64,
    low_balance: Decimal,
    max_tokens_per_event: i64,
    daily_budget: Decimal,
    monthly_budget: Decimal,
}

impl From<Policy> for PolicyView {
    fn from(policy: Policy) -> Self {
        Self {
            integration_enabled: policy.integration_enabled,
            min_balance: micros_to_credits(policy.min_balance_micros),
            event_cap: micros_to_credits(policy.event_cap_micros),
            flood_max_per_minute: policy.flood_max_per_minute,
            low_balance: micros_to_credits(policy.low_balance_micros),
            max_tokens_per_event: policy.max_tokens_per_event,
            daily_budget: micros_to_credits(policy.daily_budget_micros),
            monthly_budget: micros_to_credits(policy.monthly_budget_micros),
        }
    }
}

#[tauri::command]
pub async fn policy(shell: State<'_, Shell>) -> ShellResult<PolicyView> {
    Ok(shell.ledger(|ledger| ledger.policy())?.into())
}

#[tauri::command]
pub async fn held_events(shell: State<'_, Shell>, all: bool) -> ShellResult<Vec<HeldEvent>> {
    shell.ledger(|ledger| ledger.held_events(all))
}

#[tauri::command]
pub async fn rejected_events(
    shell: State<'_, Shell>,
    limit: Option<usize>,
) -> ShellResult<Vec<RejectedEvent>> {
    shell.ledger(|ledger| ledger.rejected_events(limit.unwrap_or(200)))
}

#[tauri::command]
pub async fn open_window<R: Runtime>(app: AppHandle<R>, name: String) -> ShellResult<()> {
    windows::show(&app, &name)
}

/// Switches every window, the menus and the tray to `language`, and keeps it for the next start.
#[tauri::command]
pub async fn set_language<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    language: Language,
) -> ShellResult<()> {
    // Switched everywhere first: failing to keep it for the next start leaves this run switched.
    shell.set_language(language);
    windows::language_changed(&app)?;
    super::balance_changed(&app, &shell)?;
    app.emit("language", language)?;
    shell.keep_language()
}

#[tauri::command]
pub async fn admin_status(shell: State<'_, Shell>) -> ShellResult<AdminStatus> {
    shell.admin_status()
}
