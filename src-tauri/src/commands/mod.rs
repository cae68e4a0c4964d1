//! Commands of TokenDesk's own windows. `staff` reads; `org` joins an org or chooses the island or the
//! demo; `admin` changes the island's ledger and needs a live admin session; `org_admin` runs the org on
//! its server, for the admin window of an enrolled device.

pub mod admin;
pub mod org;
pub mod org_admin;
pub mod staff;

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokendesk_ledger::ChargeResult;

use crate::error::{ShellError, ShellResult};
use crate::relay;
use crate::state::{MonitorStatus, Shell};
use crate::windows;

/// Tells every window about a processed event, updates the monitor and the tray, and notifies once
/// when the balance crosses below the low-balance threshold.
pub fn announce<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Shell,
    result: &ChargeResult,
) -> ShellResult<()> {
    let outcome = serde_json::to_value(result.outcome)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned));
    app.emit("charge", result)?;
    // Enrolled, the background sync pushes it now; on an island nothing waits for this.
    shell.org.wake.notify_one();
    update_monitor(app, |monitor| {
        monitor.last_event_at = Some(chrono::Utc::now());
        monitor.last_outcome = outcome;
    })?;
    balance_changed(app, shell)
}

/// Changes the monitor's status and tells every window. Before the shell's state exists, does nothing.
pub fn update_monitor<R: Runtime>(
    app: &AppHandle<R>,
    change: impl FnOnce(&mut MonitorStatus),
) -> ShellResult<()> {
    if let Some(shell) = app.try_state::<Shell>() {
        app.emit("monitor", shell.update_monitor(change))?;
    }
    Ok(())
}

/// Refreshes what shows the balance outside the windows: the tray, the low-balance notification, and
/// the gate state the chat page's relay holds.
pub fn balance_changed<R: Runtime>(app: &AppHandle<R>, shell: &Shell) -> ShellResult<()> {
    relay_state_changed(app, shell);
    let (balance, low) = shell.balance()?;
    windows::show_balance(app, &balance.to_string(), shell.offline());
    if shell.crossed_low_balance(low) {
        let language = shell.language();
        notify(
            app,
            language.pick("TokenDesk：积分不足", "TokenDesk: low balance"),
            &language.pick(
                format!("余额 {balance} 积分，已低于提醒线。请联系管理员充值。"),
                format!(
                    "{balance} credits left, below the warning threshold. Ask your admin for a top-up."
                ),
            ),
        );
    }
    Ok(())
}

/// Pushes the chat page's relay its new state. A failure is only logged: what changed is committed, and
/// the relay asks the gate itself once its state is stale.
pub fn relay_state_changed<R: Runtime>(app: &AppHandle<R>, shell: &Shell) {
    if let Err(error) = relay::push_relay_state(app, shell) {
        eprintln!("tokendesk-desktop: relay state: {error}");
    }
}

/// A desktop notification. A desktop without a notification service still works: the dashboard shows
/// the same state.
pub fn notify<R: Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    use tauri_plugin_notification::NotificationExt;
    if app
        .try_state::<tauri_plugin_notification::Notification<R>>()
        .is_some()
    {
        let _ = app.notification().builder().title(title).body(body).show();
    }
}

/// After the apps changed (an admin's edit, or the org's config): their origins may report from now on
/// (in the chat window only), the menus list them, and the chat page's relay learns what its gate says
/// now. Tauri's capabilities only add up: an origin an app left keeps its capability until the next
/// start, and the relay's commands refuse its pages instead.
pub fn apps_changed<R: Runtime>(app: &AppHandle<R>, shell: &Shell) -> ShellResult<()> {
    let origins = shell.reload_apps()?;
    relay::allow_origins(app, "dify-apps", &origins)?;
    relay_state_changed(app, shell);
    windows::refresh_menus(app)
}

/// Tells every window that admin data changed, so they refetch; the monitor too, as the integration
/// switch may have moved.
pub fn ledger_changed<R: Runtime>(app: &AppHandle<R>, shell: &Shell) -> ShellResult<()> {
    app.emit("ledger-changed", ())?;
    app.emit("monitor", shell.monitor()?)?;
    balance_changed(app, shell)
}

/// Fails with `UnknownWindow` unless `name` is one of the app's windows.
pub fn window_name(name: &str) -> ShellResult<&'static str> {
    windows::WINDOWS
        .iter()
        .find(|window| **window == name)
        .copied()
        .ok_or_else(|| ShellError::UnknownWindow(name.to_owned()))
}
