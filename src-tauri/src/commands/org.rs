//! The ways in, and the org server: the first run's choice of joining an org, the island or the demo,
//! and a device's sync. Any user may run these: joining hands the config and the balances to the server.

use serde::Serialize;
use tauri::{AppHandle, Runtime, State};
use tokendesk_ledger::sync::{Mode, SyncStatus};
use tokendesk_sync_client::device;
use tokendesk_sync_proto::device::{JoinLink, RedeemAnswer};

use super::{apps_changed, ledger_changed, update_monitor};
use crate::error::{ShellError, ShellResult};
use crate::state::Shell;
use crate::{sync, windows};

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct WayIn {
    mode: Mode,
    /// The join form's server, from `--server` or `TOKENDESK_SERVER_URL`, else the managed install's.
    suggested_server: Option<String>,
    /// Whether the first run offers the island and the demo (a managed install may withhold them).
    offer_island: bool,
    offer_demo: bool,
}

#[tauri::command]
pub async fn way_in(shell: State<'_, Shell>) -> ShellResult<WayIn> {
    let managed = &shell.org.managed;
    Ok(WayIn {
        mode: shell.ledger(|ledger| ledger.mode())?,
        suggested_server: managed.server_url.clone(),
        offer_island: managed.offer_island,
        offer_demo: managed.offer_demo,
    })
}

/// Keeps the choice of the island or the demo, and opens the chat that waited for it.
#[tauri::command]
pub async fn choose_mode<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    mode: Mode,
) -> ShellResult<()> {
    if !shell.org.managed.offers(mode) {
        return Err(ShellError::NotOffered(mode));
    }
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
    let link = JoinLink::from_input(&server, Some(&code))
        .map_err(|why| tokendesk_sync_client::ClientError::Usage(why.into()))?;
    device::enroll(
        shell.inner(),
        &link.server,
        &link.code,
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

/// Redeems a redemption code an admin handed out: the server credits the user, and the dashboard shows the
/// new balance once the sync that follows has taken it in.
#[tauri::command]
pub async fn redeem_code<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    code: String,
) -> ShellResult<RedeemAnswer> {
    let answer = device::redeem(shell.inner(), &code).await?;
    ledger_changed(&app, &shell)?;
    Ok(answer)
}
