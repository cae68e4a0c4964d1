//! What the shell keeps while it runs: the ledger, the admin session, and the monitor's status.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::sync::{Mutex, RwLock};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::apps::DifyApp;

use crate::error::{ShellError, ShellResult};
use crate::language::{Language, LanguageChoice};

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
}

#[derive(Debug, Clone, Default, Serialize)]
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
}

#[derive(Debug, Clone, Serialize)]
pub struct SendCheck {
    pub endpoint: String,
    pub at: DateTime<Utc>,
    pub allowed: bool,
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
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
    ) -> ShellResult<Self> {
        let language_choice = LanguageChoice::in_dir(&data_dir);
        let navigable_origins = RwLock::new(navigable_origins(&ledger)?);
        let integration_enabled = integration_on(integration_forced_off, &ledger)?;
        Ok(Self {
            navigable_origins,
            language: Mutex::new(language_choice.current()),
            language_choice,
            data_dir,
            was_low: Mutex::new(None),
            ledger: Mutex::new(ledger),
            admin_session_until: Mutex::new(None),
            monitor: Mutex::new(MonitorStatus {
                demo: demo.is_some(),
                integration_enabled,
                ..MonitorStatus::default()
            }),
            current_app: Mutex::new(None),
            integration_forced_off,
            _demo_simulator: demo,
        })
    }

    /// Runs `work` on the ledger. A poisoned lock only means an earlier command panicked mid-way;
    /// SQLite rolled that transaction back, so the ledger is still consistent.
    pub fn ledger<T>(
        &self,
        work: impl FnOnce(&mut Ledger) -> tokendesk_ledger::Result<T>,
    ) -> ShellResult<T> {
        let mut ledger = self
            .ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(work(&mut ledger)?)
    }

    pub fn may_navigate_to(&self, origin: &str) -> bool {
        self.navigable_origins
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|allowed| allowed == origin)
    }

    /// After an admin added, changed, or switched an app: the chat window may go where the apps now are,
    /// and shows the app as it now is.
    pub fn app_changed(&self, changed: &DifyApp) -> ShellResult<()> {
        let origins = self.ledger(|ledger| navigable_origins(ledger))?;
        *self
            .navigable_origins
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = origins;
        let mut current = self
            .current_app
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.as_ref().is_some_and(|app| app.id == changed.id) {
            *current = Some(changed.clone());
        }
        Ok(())
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

    /// Fails unless an admin session is live.
    pub fn require_admin(&self) -> ShellResult<&'static str> {
        match self.admin_status()?.session_expires_at {
            Some(_) => Ok(ADMIN),
            None => Err(ShellError::AdminSessionRequired),
        }
    }

    /// The monitor's status with the integration switch read afresh from the ledger (which the CLI
    /// may have changed). Not for the main thread: see [`Shell::update_monitor`].
    pub fn monitor(&self) -> ShellResult<MonitorStatus> {
        let enabled = self.integration_enabled()?;
        Ok(self.update_monitor(|status| status.integration_enabled = enabled))
    }

    /// The active user's balance in credits, and whether it is under the low-balance threshold: two point
    /// reads, cheap enough for every charge (unlike the whole dashboard).
    pub fn balance(&self) -> ShellResult<(rust_decimal::Decimal, bool)> {
        self.ledger(|ledger| {
            let account = ledger.active_account()?;
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

/// The enabled apps' origins and the admin's extra hosts (added with the CLI; read at start).
fn navigable_origins(ledger: &Ledger) -> tokendesk_ledger::Result<Vec<String>> {
    let mut origins = ledger.app_origins()?;
    origins.extend(ledger.navigation_hosts()?);
    Ok(origins)
}

/// The ledger's admin account, the one the admin window logs in as.
pub const ADMIN: &str = "admin";
