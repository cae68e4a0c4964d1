//! The desktop as a device of its org server. A background task pushes each charge as soon as it is
//! recorded, long-polls the config, and retries on a timer with backoff; it takes the ledger for each local
//! step only, so neither the windows nor a page load ever wait on the network. What the server sends is
//! live at once: prices and guards are the ledger's own (the next charge uses them), and apps reach the
//! menus, the chat window's navigation and the relay's capability here.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tokendesk_ledger::sync::SyncStatus;
use tokendesk_sync_client::device::{self, SyncReport};

use crate::commands::{apps_changed, balance_changed, notify, update_monitor};
use crate::error::ShellResult;
use crate::language::Language;
use crate::state::Shell;
use crate::windows;

/// How long sync may fail before the user is told.
const FAILING_NOTICE: Duration = Duration::from_secs(10 * 60);

/// Starts the background sync, once; on an island it ends at once.
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    if app
        .state::<Shell>()
        .org
        .started
        .swap(true, Ordering::SeqCst)
    {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        let mut seen = match shell.ledger(|ledger| ledger.sync_status()) {
            Ok(status) => Seen::new(&status),
            Err(error) => return eprintln!("tokendesk-desktop: sync: {error}"),
        };
        let stopped = device::watch(
            shell.inner(),
            &shell.org.wake,
            |outcome| {
                if let Err(error) = seen.synced(&app, outcome) {
                    eprintln!("tokendesk-desktop: sync: {error}");
                }
            },
            std::future::pending(),
        )
        .await;
        // Only a revoked device stops here: the ledger has recorded it, and the gate blocks from now on.
        if let Err(error) = stopped {
            eprintln!("tokendesk-desktop: sync stopped: {error}");
        }
    });
}

/// What the last syncs showed, so each notice is given once per change.
struct Seen {
    config_version: i64,
    /// The balance after the last sync: a grant or top-up on the server changes it with no charge here.
    balance_micros: Option<i64>,
    failing_since: Option<Instant>,
    told_failing: bool,
    allowance_out: bool,
    revoked: bool,
}

impl Seen {
    fn new(status: &SyncStatus) -> Self {
        Self {
            config_version: status.config_version,
            balance_micros: None,
            failing_since: None,
            told_failing: false,
            allowance_out: allowance_out(status),
            revoked: status.revoked,
        }
    }

    /// After each sync: new config goes live, the windows and the tray show where the device stands, and
    /// the user is told when the allowance runs out, the device is revoked, or sync has failed 10 minutes.
    fn synced<R: Runtime>(
        &mut self,
        app: &AppHandle<R>,
        outcome: &tokendesk_sync_client::Result<SyncReport>,
    ) -> ShellResult<()> {
        let shell = app.state::<Shell>();
        let (status, balance_micros) = shell.ledger(|ledger| {
            Ok((
                ledger.sync_status()?,
                ledger.active_account()?.balance_micros,
            ))
        })?;
        update_monitor(app, |monitor| monitor.sync = Some(status.clone()))?;
        let mut changed = self.balance_micros.replace(balance_micros) != Some(balance_micros);
        if status.config_version != self.config_version {
            self.config_version = status.config_version;
            let shown = shell.current_app_id();
            apps_changed(app, &shell)?;
            // The org added the first app, or took away the one shown: the chat window follows.
            if shell.current_app_id() != shown {
                windows::reload_chat_if_open(app)?;
            }
            changed = true;
        }
        if changed {
            app.emit("ledger-changed", ())?;
        }
        balance_changed(app, &shell)?;

        let language = shell.language();
        match outcome {
            Ok(_) => {
                self.failing_since = None;
                self.told_failing = false;
            }
            Err(error) => {
                let since = *self.failing_since.get_or_insert_with(Instant::now);
                if !self.told_failing && since.elapsed() >= FAILING_NOTICE {
                    self.told_failing = true;
                    let (title, body) = failing_notice(language, &error.to_string());
                    notify(app, title, &body);
                }
            }
        }
        let out = allowance_out(&status);
        if out && !self.allowance_out {
            notify(
                app,
                language.pick(
                    "TokenDesk：离线额度已用完",
                    "TokenDesk: offline allowance used up",
                ),
                language.pick(
                    "连上组织服务器之前，新的对话会被拦下。",
                    "New messages are blocked until this computer reaches the org server again.",
                ),
            );
        }
        self.allowance_out = out;
        if status.revoked && !self.revoked {
            notify(
                app,
                language.pick("TokenDesk：本设备已被停用", "TokenDesk: this device was revoked"),
                language.pick(
                    "组织管理员停用了本设备，不再计费发送。已有记录都保留着。",
                    "The org's admin revoked this device: it no longer sends. Nothing recorded is lost.",
                ),
            );
        }
        self.revoked = status.revoked;
        Ok(())
    }
}

/// Whether, offline, the gate refuses for lack of a lease, so sends stay blocked until the server is reached
/// (a revoked device is told so on its own).
fn allowance_out(status: &SyncStatus) -> bool {
    !status.revoked && status.last_error.is_some() && status.lease_refusal.is_some()
}

fn failing_notice(language: Language, error: &str) -> (&'static str, String) {
    (
        language.pick("TokenDesk：同步失败", "TokenDesk: sync failing"),
        language.pick(
            format!("已有 10 分钟连不上组织服务器：{error}"),
            format!("The org server has not been reachable for 10 minutes: {error}"),
        ),
    )
}
