//! Commands of TokenDesk's own windows (dashboard, admin, diagnostics). Admin ones need a live session.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Emitter, Runtime, State};
use tokendesk_ledger::apps::DifyApp;
use tokendesk_ledger::money::{parse_credits, parse_rate};
use tokendesk_ledger::pricing::RateChange;
use tokendesk_ledger::stats::{Dashboard, HistoryPage, HistoryQuery};
use tokendesk_ledger::{ChargeResult, Entry};

use crate::error::{ShellError, ShellResult};
use crate::state::{ADMIN, AdminStatus, MonitorStatus, Shell};
use crate::windows;

/// What a charge event carries to the windows: the ledger's result and the app it came from.
#[derive(Debug, Clone, Serialize)]
pub struct ChargeEvent {
    #[serde(flatten)]
    pub result: ChargeResult,
    pub app_name: Option<String>,
}

/// Tells every window about a processed event, and updates the monitor.
pub fn announce<R: Runtime>(app: &AppHandle<R>, shell: &Shell, result: &ChargeResult, app_name: Option<String>) -> ShellResult<()> {
    let outcome = serde_json::to_value(result.outcome).ok().and_then(|value| value.as_str().map(str::to_owned));
    let monitor = shell.update_monitor(|monitor| {
        monitor.last_event_at = Some(chrono::Utc::now());
        monitor.last_outcome = outcome;
    })?;
    app.emit("charge", ChargeEvent { result: result.clone(), app_name })?;
    app.emit("monitor", monitor)?;
    Ok(())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HistoryArgs {
    limit: Option<usize>,
    cursor: Option<String>,
    app_id: Option<i64>,
    model: Option<String>,
}

#[tauri::command]
pub async fn dashboard(shell: State<'_, Shell>) -> ShellResult<Dashboard> {
    shell.ledger(|ledger| ledger.dashboard(30))
}

#[tauri::command]
pub async fn history(shell: State<'_, Shell>, query: HistoryArgs) -> ShellResult<HistoryPage> {
    let query = HistoryQuery {
        limit: query.limit.unwrap_or(20),
        cursor: query.cursor,
        app_id: query.app_id,
        model: query.model,
        ..HistoryQuery::default()
    };
    shell.ledger(|ledger| ledger.history(&query))
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
pub async fn open_window<R: Runtime>(app: AppHandle<R>, name: String) -> ShellResult<()> {
    windows::show(&app, &name)
}

#[tauri::command]
pub async fn admin_status(shell: State<'_, Shell>) -> ShellResult<AdminStatus> {
    shell.admin_status()
}

#[tauri::command]
pub async fn admin_set_password(shell: State<'_, Shell>, password: String) -> ShellResult<AdminStatus> {
    shell.ledger(|ledger| ledger.set_admin_password(ADMIN, &password))?;
    shell.open_admin_session()
}

#[tauri::command]
pub async fn admin_login(shell: State<'_, Shell>, password: String) -> ShellResult<AdminStatus> {
    shell.ledger(|ledger| ledger.check_admin_password(ADMIN, &password))?;
    shell.open_admin_session()
}

#[tauri::command]
pub async fn admin_logout(shell: State<'_, Shell>) -> ShellResult<()> {
    shell.close_admin_session();
    Ok(())
}

#[tauri::command]
pub async fn admin_set_rate(shell: State<'_, Shell>, rate: String, reason: String) -> ShellResult<RateChange> {
    let admin = shell.require_admin()?;
    let rate = parse_rate(&rate)?;
    shell.ledger(|ledger| ledger.set_exchange_rate(rate, admin, &reason))
}

#[tauri::command]
pub async fn admin_grant(shell: State<'_, Shell>, user: String, amount: String, reason: String) -> ShellResult<Entry> {
    let admin = shell.require_admin()?;
    let amount = parse_credits(&amount)?;
    shell.ledger(|ledger| ledger.grant(&user, amount, admin, &reason))
}

#[derive(Debug, Deserialize)]
pub struct SimulatedEvent {
    app_id: i64,
    prompt_tokens: u64,
    completion_tokens: u64,
    message_id: Option<String>,
}

/// Runs a synthetic Dify message_end through the real charge path, as if the app's page had sent it.
#[tauri::command]
pub async fn admin_simulate<R: Runtime>(app: AppHandle<R>, shell: State<'_, Shell>, event: SimulatedEvent) -> ShellResult<ChargeResult> {
    shell.require_admin()?;
    let dify_app = shell.ledger(|ledger| ledger.app(event.app_id))?;
    let message_id = event
        .message_id
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(|| format!("diagnostics-{}", chrono::Utc::now().timestamp_micros()));
    let frame = serde_json::json!({
        "event": "message_end", "conversation_id": "diagnostics", "message_id": message_id, "id": message_id,
        "created_at": chrono::Utc::now().timestamp(), "task_id": "diagnostics",
        "metadata": {"usage": {
            "prompt_tokens": event.prompt_tokens, "completion_tokens": event.completion_tokens,
            "total_tokens": event.prompt_tokens.saturating_add(event.completion_tokens),
            "total_price": "0", "currency": "USD"}},
        "files": null,
    });
    let result = shell.ledger(|ledger| ledger.record_frame(&dify_app.share_url, &frame.to_string()))?;
    announce(&app, &shell, &result, Some(dify_app.name))?;
    Ok(result)
}

/// Fails with `UnknownWindow` unless `name` is one of the app's windows.
pub fn window_name(name: &str) -> ShellResult<&'static str> {
    windows::WINDOWS
        .iter()
        .find(|window| **window == name)
        .copied()
        .ok_or_else(|| ShellError::UnknownWindow(name.to_owned()))
}
