//! What every local window may read, and the few actions that change nothing in the ledger.

use chrono::Utc;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use tauri::{AppHandle, Emitter, Runtime, State};
use tokendesk_api::{HistoryArgs, PolicyView, Rate};
use tokendesk_ledger::accounts::Account;
use tokendesk_ledger::apps::DifyApp;
use tokendesk_ledger::held::{HeldEvent, RejectedEvent};
use tokendesk_ledger::pricing::{ModelConfig, PriceChange};
use tokendesk_ledger::stats::{Dashboard, HistoryPage};

use crate::error::ShellResult;
use crate::language::Language;
use crate::state::{AdminStatus, MonitorStatus, Shell};
use crate::windows;

#[tauri::command]
pub async fn dashboard(shell: State<'_, Shell>) -> ShellResult<Dashboard> {
    shell.api(|api| api.dashboard(30))
}

#[tauri::command]
pub async fn history(shell: State<'_, Shell>, query: HistoryArgs) -> ShellResult<HistoryPage> {
    shell.api(|api| api.history(query))
}

/// A file written into the Downloads folder, and how many rows it holds.
#[derive(Debug, Serialize, ts_rs::TS)]
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
    let path = export_path(&shell, "history")?;
    let file = std::fs::File::create(&path).map_err(tokendesk_ledger::LedgerError::from)?;
    let rows = shell.read_apart(|api| api.export_history_csv(query, file))?;
    Ok(Export { path, rows })
}

#[tauri::command]
pub async fn monitor_status(shell: State<'_, Shell>) -> ShellResult<MonitorStatus> {
    shell.monitor()
}

#[tauri::command]
pub async fn apps(shell: State<'_, Shell>) -> ShellResult<Vec<DifyApp>> {
    shell.api(|api| api.apps())
}

#[tauri::command]
pub async fn models(shell: State<'_, Shell>) -> ShellResult<Vec<ModelConfig>> {
    shell.api(|api| api.models())
}

#[tauri::command]
pub async fn model_history(shell: State<'_, Shell>, name: String) -> ShellResult<Vec<PriceChange>> {
    shell.api(|api| api.model_history(&name))
}

#[tauri::command]
pub async fn rate(shell: State<'_, Shell>) -> ShellResult<Rate> {
    shell.api(|api| api.rate())
}

#[tauri::command]
pub async fn accounts(shell: State<'_, Shell>) -> ShellResult<Vec<Account>> {
    shell.api(|api| api.accounts())
}

#[tauri::command]
pub async fn policy(shell: State<'_, Shell>) -> ShellResult<PolicyView> {
    shell.api(|api| api.policy())
}

#[tauri::command]
pub async fn held_events(shell: State<'_, Shell>, all: bool) -> ShellResult<Vec<HeldEvent>> {
    shell.api(|api| api.held_events(all))
}

#[tauri::command]
pub async fn rejected_events(
    shell: State<'_, Shell>,
    limit: Option<usize>,
) -> ShellResult<Vec<RejectedEvent>> {
    shell.api(|api| api.rejected_events(limit.unwrap_or(200)))
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

/// The dashboard's first paint of the balance, the end of a cold start: logged once with the time since
/// the app started, so a start is measured from the app's own output, without a test driver in it.
#[tauri::command]
pub async fn dashboard_painted() -> ShellResult<()> {
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if !LOGGED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "tokendesk-desktop: the dashboard showed the balance {} ms after start",
            crate::STARTED.elapsed().as_millis()
        );
    }
    Ok(())
}

#[tauri::command]
pub async fn admin_status(shell: State<'_, Shell>) -> ShellResult<AdminStatus> {
    shell.admin_status()
}
