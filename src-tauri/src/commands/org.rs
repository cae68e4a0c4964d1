//! The ways in, and the org server: the first run's choice of joining an org, the island or the demo,
//! and a device's sync. Any user may run these: joining hands the config and the balances to the server.

use serde::Serialize;
use tauri::{AppHandle, Runtime, State};
use tokendesk_ledger::sync::{Mode, SyncStatus};
use tokendesk_sync_client::device;
use tokendesk_sync_proto::device::JoinLink;

use super::{apps_changed, ledger_changed, update_monitor};
use crate::error::ShellResult;
use crate::state::Shell;
use crate::{sync, windows};

#[derive(Debug, Serialize)]
pub struct WayIn {
    mode: Mode,
    /// The join form's server, from `--server` or `TOKENDESK_SERVER_URL`.
    suggested_server: Option<String>,
}

#[tauri::command]
pub async fn way_in(shell: State<'_, Shell>) -> ShellResult<WayIn> {
    Ok(WayIn {
        mode: shell.ledger(|ledger| ledger.mode())?,
        suggested_server: shell.org.suggested_server.clone(),
    })
}

/// Keeps the choice of the island or the demo, and opens the chat that waited for it.
#[tauri::command]
pub async fn choose_mode<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    mode: Mode,
) -> ShellResult<()> {
    shell.ledger(|ledger| ledger.choose_mode(mode))?;
    ledger_changed(&app, &shell)?;
    windows::show(&app, windows::CHAT)
}

/// Joins the org with a single-use enrollment code (or a join link holding the server and the code), then
/// keeps in step in the background.
#[tauri::command]
pub async fn join_org<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    server: String,
    code: String,
) -> ShellResult<SyncStatus> {
    let (server, code) = match JoinLink::parse(&code) {
        Some(link) => (link.server, link.code),
        None => (server, code),
    };
    device::enroll(
        shell.inner(),
        &server,
        &code,
        &device::default_device_name(),
    )
    .await?;
    // Enrolled now, whatever follows: the background sync starts first.
    sync::start(&app);
    update_monitor(&app, |monitor| monitor.demo = false)?;
    apps_changed(&app, &shell)?;
    ledger_changed(&app, &shell)?;
    // The org's app (or the page saying there is none yet) replaces the island's.
    windows::show_chat_afresh(&app)?;
    shell.ledger(|ledger| ledger.sync_status())
}

/// Asks the background sync to run now (the dashboard's "sync now").
#[tauri::command]
pub async fn sync_now(shell: State<'_, Shell>) -> ShellResult<()> {
    shell.org.wake.notify_one();
    Ok(())
}
