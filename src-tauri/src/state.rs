//! What the shell keeps while it runs: the ledger, the admin session, the monitor's status, and the link
//! to the org server.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, RwLock};
use tokendesk_api::{Api, ApiResult, Caller};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::apps::DifyApp;
use tokendesk_ledger::sync::SyncStatus;
use tokendesk_sync_client::device::LedgerAccess;

use crate::error::{ShellError, ShellResult};
use crate::language::{Language, LanguageChoice};
use crate::managed::ManagedInstall;

/// How long an admin login lasts.
const ADMIN_SESSION: Duration = Duration::minutes(15);

pub struct Shell {
    ledger: Mutex<Ledger>,
    admin_session_until: Mutex<Option<DateTime<Utc>>>,
    monitor: Mutex<MonitorStatus>,
    /// The Dify app the chat window shows.
    pub current_app: Mutex<Option<DifyApp>>,
    /// Origins the chat window may show: the enabled apps' and the admin's extra hosts. Kept here, not
    /// read from the ledger, because navigation is decided on the main thread, which must never wait
    /// for the ledger's lock.
    navigable_origins: RwLock<Vec<String>>,
    /// Origins of every app, enabled or not: the only pages the relay's commands answer. Tauri cannot
    /// take back a capability granted at runtime, so the origin of an app that was removed keeps its
    /// capability; the commands refuse its pages instead.
    app_origins: RwLock<Vec<String>>,
    /// `TOKENDESK_ENABLE_DIFY=false` overrides the ledger's setting.
    pub integration_forced_off: bool,
    /// Where the ledger lives; exports fall back to it.
    pub data_dir: std::path::PathBuf,
    /// The language the windows, menus and notices speak, and where a hand-picked one is kept.
    language: Mutex<Language>,
    language_choice: LanguageChoice,
    /// Whether the balance was below the low-balance threshold when last seen, to notify once per crossing.
    was_low: Mutex<Option<bool>>,
    /// Held, never read: dropping the handle would stop the demo simulator.
    _demo_simulator: Option<dify_sim::DifySim>,
    pub org: OrgLink,
}

/// The background sync's handles: see `crate::sync`.
pub struct OrgLink {
    /// Woken after each charge, so it is pushed at once rather than after the config's long poll.
    pub wake: tokio::sync::Notify,
    /// Whether the background sync runs (it starts once: at launch when enrolled, or on joining).
    pub started: AtomicBool,
    /// The join form's server (`--server`, else the managed install's) and the ways in offered.
    pub managed: ManagedInstall,
}

#[derive(Debug, Clone, Default, Serialize, ts_rs::TS)]
pub struct MonitorStatus {
    pub chat_open: bool,
    pub chat_url: Option<String>,
    /// When the relay in the page now shown in the chat window reported in: `None` until it has, so
    /// a page without it (not Dify, or still loading) shows as not connected.
    pub relay_seen_at: Option<DateTime<Utc>>,
    /// Whether that page's replies are charged: its app is configured and enabled, and metering is on.
    pub relay_metered: bool,
    /// The pre-send gate's last answer.
    pub last_send: Option<SendCheck>,
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub integration_enabled: bool,
    pub demo: bool,
    /// Where this device stands with its org server; `None` on an island.
    pub sync: Option<SyncStatus>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct SendCheck {
    pub endpoint: String,
    pub at: DateTime<Utc>,
    pub allowed: bool,
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AdminStatus {
    pub password_set: bool,
    pub session_expires_at: Option<DateTime<Utc>>,
}

impl Shell {
    pub fn new(
        ledger: Ledger,
        data_dir: std::path::PathBuf,
        integration_forced_off: bool,
        demo: Option<dify_sim::DifySim>,
        managed: ManagedInstall,
    ) -> ShellResult<Self> {
        let language_choice = LanguageChoice::in_dir(&data_dir);
        let navigable_origins = RwLock::new(navigable_origins(&ledger)?);
        let app_origins = RwLock::new(app_origins(&ledger.apps()?));
        let integration_enabled = integration_on(integration_forced_off, &ledger)?;
        let sync = org_status(&ledger)?;
        Ok(Self {
            navigable_origins,
            app_origins,
            language: Mutex::new(language_choice.current()),
            language_choice,
            data_dir,
            was_low: Mutex::new(None),
            ledger: Mutex::new(ledger),
            admin_session_until: Mutex::new(None),
            monitor: Mutex::new(MonitorStatus {
                demo: demo.is_some(),
                integration_enabled,
                sync,
                ..MonitorStatus::default()
            }),
            current_app: Mutex::new(None),
            integration_forced_off,
            _demo_simulator: demo,
            org: OrgLink {
                wake: tokio::sync::Notify::new(),
                started: AtomicBool::new(false),
                managed,
            },
        })
    }

    /// Runs `work` on the ledger.
    pub fn ledger<T>(
        &self,
        work: impl FnOnce(&mut Ledger) -> tokendesk_ledger::Result<T>,
    ) -> ShellResult<T> {
        Ok(self.ledger.with_ledger(work)?)
    }

    pub fn may_navigate_to(&self, origin: &str) -> bool {
        self.navigable_origins
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|allowed| allowed == origin)
    }

    /// Whether an app, enabled or not, lives on `origin`.
    pub fn is_app_origin(&self, origin: &str) -> bool {
        self.app_origins
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|known| known == origin)
    }

    /// After the apps changed (an admin's edit, or the org's config): the chat window may go where the
    /// enabled apps now are, and the current app is read again; one that is gone or switched off gives way to
    /// the first enabled app. Returns the enabled apps' origins.
    pub fn reload_apps(&self) -> ShellResult<Vec<String>> {
        let (origins, apps) =
            self.ledger(|ledger| Ok((navigable_origins(ledger)?, ledger.apps()?)))?;
        *self
            .navigable_origins
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = origins;
        *self
            .app_origins
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = app_origins(&apps);
        let mut current = self
            .current_app
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // The demo gives way once a real app exists, as it leaves the menus then.
        let real_apps = apps.iter().any(|app| app.enabled && !app.demo);
        let same = current.as_ref().and_then(|shown| {
            apps.iter()
                .find(|app| app.id == shown.id && app.enabled && !(real_apps && app.demo))
        });
        *current = same
            .or_else(|| apps.iter().find(|app| app.enabled && !app.demo))
            .or_else(|| apps.iter().find(|app| app.enabled))
            .cloned();
        Ok(apps
            .into_iter()
            .filter(|app| app.enabled)
            .map(|app| app.origin)
            .collect())
    }

    /// The app the chat window shows (or would show when opened).
    pub fn current_app_id(&self) -> Option<i64> {
        self.current_app
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .map(|app| app.id)
    }

    /// Whether the org server could not be reached at the last try (never on an island).
    pub fn offline(&self) -> bool {
        self.update_monitor(|_| {})
            .sync
            .is_some_and(|sync| sync.last_error.is_some() || sync.revoked)
    }

    pub fn language(&self) -> Language {
        *self
            .language
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Switches the language by hand.
    pub fn set_language(&self, language: Language) {
        *self
            .language
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = language;
    }

    /// Keeps the language picked by hand for the next start.
    pub fn keep_language(&self) -> ShellResult<()> {
        self.language_choice
            .save(self.language())
            .map_err(ShellError::Preference)
    }

    pub fn integration_enabled(&self) -> ShellResult<bool> {
        self.ledger(|ledger| integration_on(self.integration_forced_off, ledger))
    }

    pub fn admin_status(&self) -> ShellResult<AdminStatus> {
        let password_set = self.ledger(|ledger| ledger.admin_password_set(ADMIN))?;
        let until = *self
            .admin_session_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(AdminStatus {
            password_set,
            session_expires_at: until.filter(|until| *until > Utc::now()),
        })
    }

    pub fn open_admin_session(&self) -> ShellResult<AdminStatus> {
        *self
            .admin_session_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Utc::now() + ADMIN_SESSION);
        self.admin_status()
    }

    pub fn close_admin_session(&self) {
        *self
            .admin_session_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    /// Who the windows act as: the admin while an admin session is live, else staff.
    pub fn caller(&self) -> Caller {
        let until = *self
            .admin_session_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match until {
            Some(until) if until > Utc::now() => Caller::admin(ADMIN),
            _ => Caller::staff(),
        }
    }

    /// Runs an operation on the ledger as the windows' caller: the API checks the role.
    pub fn api<T>(&self, work: impl FnOnce(&mut Api) -> ApiResult<T>) -> ShellResult<T> {
        let caller = self.caller();
        let mut ledger = self
            .ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(work(&mut Api::new(&mut ledger, &caller))?)
    }

    /// Runs a long read (an export) on a connection of its own, so the charge path never waits for it:
    /// in WAL mode its reads and the charges' commits go on side by side.
    pub fn read_apart<T>(&self, work: impl FnOnce(&mut Api) -> ApiResult<T>) -> ShellResult<T> {
        let mut reader = Ledger::open_dir(&self.data_dir)?;
        Ok(work(&mut Api::new(&mut reader, &self.caller()))?)
    }

    /// The monitor's status with the integration switch read afresh from the ledger (which the CLI
    /// may have changed). Not for the main thread: see [`Shell::update_monitor`].
    pub fn monitor(&self) -> ShellResult<MonitorStatus> {
        let (enabled, sync) = self.ledger(|ledger| {
            Ok((
                integration_on(self.integration_forced_off, ledger)?,
                org_status(ledger)?,
            ))
        })?;
        Ok(self.update_monitor(|status| {
            status.integration_enabled = enabled;
            status.sync = sync;
        }))
    }

    /// The active user's balance in credits, and whether it is under the low-balance threshold: two point
    /// reads, cheap enough for every charge (unlike the whole dashboard).
    pub fn balance(&self) -> ShellResult<(rust_decimal::Decimal, bool)> {
        self.ledger(|ledger| {
            let account = ledger.shown_account()?;
            Ok((
                account.balance,
                account.balance_micros < ledger.policy()?.low_balance_micros,
            ))
        })
    }

    /// True exactly when the balance has just gone from at or above the threshold to below it.
    pub fn crossed_low_balance(&self, low_now: bool) -> bool {
        let mut was_low = self
            .was_low
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let crossed = *was_low == Some(false) && low_now;
        *was_low = Some(low_now);
        crossed
    }

    /// Changes the monitor's status and returns it, without the ledger: the main thread calls this on
    /// page loads, and must never wait for the ledger's lock. `commands::update_monitor` also tells
    /// the windows.
    pub fn update_monitor(&self, change: impl FnOnce(&mut MonitorStatus)) -> MonitorStatus {
        let mut status = self
            .monitor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut status);
        status.clone()
    }
}

/// Whether replies are metered: the ledger's switch, unless `TOKENDESK_ENABLE_DIFY=false` forced it off.
pub fn integration_on(forced_off: bool, ledger: &Ledger) -> tokendesk_ledger::Result<bool> {
    Ok(!forced_off && ledger.policy()?.integration_enabled)
}

/// The sync status when enrolled.
pub fn org_status(ledger: &Ledger) -> tokendesk_ledger::Result<Option<SyncStatus>> {
    let status = ledger.sync_status()?;
    Ok(status.enrolled.then_some(status))
}

fn app_origins(apps: &[DifyApp]) -> Vec<String> {
    apps.iter().map(|app| app.origin.clone()).collect()
}

/// The enabled apps' origins and the admin's extra hosts (added with the CLI; read at start).
fn navigable_origins(ledger: &Ledger) -> tokendesk_ledger::Result<Vec<String>> {
    let mut origins = ledger.app_origins()?;
    origins.extend(ledger.navigation_hosts()?);
    Ok(origins)
}

/// The ledger's admin account, the one the admin window logs in as.
pub const ADMIN: &str = "admin";

impl LedgerAccess for Shell {
    fn with_ledger<T>(
        &self,
        work: impl FnOnce(&mut Ledger) -> tokendesk_ledger::Result<T>,
    ) -> tokendesk_ledger::Result<T> {
        self.ledger.with_ledger(work)
    }
}
