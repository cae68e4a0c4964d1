//! TokenDesk's ledger: pricing, charging, guards, accounts, apps and stats over one SQLite file.
//! It knows nothing of Tauri; the desktop shell and the `tokendesk` CLI are thin layers over it.
//!
//! Invariants, each checked by [`Ledger::verify`] and by the tests:
//! 1. An account's balance is the sum of its entries; the cached balance equals that sum.
//! 2. Entries are never updated or deleted (triggers refuse it); corrections are new entries.
//! 3. A (Dify app, message id) is charged at most once: its idempotency key commits with the charge.
//! 4. Every event that is not charged is kept, held for review or audited as rejected, with its payload.
//! 5. Money is integer micro-credits, priced with exact decimals and rounded once per charge.

pub mod accounts;
pub mod apps;
pub mod bench;
pub mod charging;
mod db;
mod entries;
pub mod error;
pub mod frame;
pub mod guards;
pub mod held;
pub mod money;
pub mod outbox;
pub mod pricing;
mod seed;
pub mod stats;
pub mod sync;
pub mod time;
pub mod verify;

use chrono_tz::Tz;
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use uuid::{ContextV7, Timestamp, Uuid};

pub use charging::{ChargeResult, IncompleteReport, Outcome, SideCallReport};
pub use entries::{Entry, EntryKind, Pricing, UsageSnapshot};
pub use error::{EventError, LedgerError, Result};
pub use money::Micros;
pub use time::{Clock, ManualClock, SystemClock};

/// The ledger file's name inside a data directory.
pub const LEDGER_FILE: &str = "ledger.sqlite3";

/// How a ledger is opened: the clock it reads, and the time zone a new file's days and months follow (an
/// existing file keeps its own until [`Ledger::set_time_zone`]).
pub struct LedgerOptions {
    pub clock: Arc<dyn Clock>,
    pub time_zone: Tz,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            time_zone: time::system_time_zone(),
        }
    }
}

/// One open ledger file. Several may be open on the same file, from threads or processes.
pub struct Ledger {
    conn: Connection,
    env: Env,
}

/// What every operation needs besides the connection.
pub(crate) struct Env {
    clock: Arc<dyn Clock>,
    time_zone: Tz,
    device_id: String,
    /// Keeps ids made within one millisecond in order.
    ids: ContextV7,
}

impl Env {
    pub(crate) fn now_micros(&self) -> i64 {
        time::to_micros(self.clock.now())
    }

    /// A UUIDv7 stamped with the ledger's clock.
    pub(crate) fn new_id(&self) -> String {
        self.id_at(self.now_micros())
    }

    /// A UUIDv7 stamped with `micros`, so an entry's id sorts with its time.
    pub(crate) fn id_at(&self, micros: i64) -> String {
        let at = time::from_micros(micros);
        let seconds = u64::try_from(at.timestamp()).unwrap_or_default();
        Uuid::new_v7(Timestamp::from_unix(
            &self.ids,
            seconds,
            at.timestamp_subsec_nanos(),
        ))
        .to_string()
    }
}

/// A write transaction (`BEGIN IMMEDIATE`) with the ledger's environment.
pub(crate) struct Tx<'a> {
    sql: &'a rusqlite::Transaction<'a>,
    pub(crate) env: &'a Env,
}

impl<'a> std::ops::Deref for Tx<'a> {
    type Target = rusqlite::Transaction<'a>;

    fn deref(&self) -> &Self::Target {
        self.sql
    }
}

impl Ledger {
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, LedgerOptions::default())
    }

    /// Opens `ledger.sqlite3` inside a data directory, creating both if needed.
    pub fn open_dir(dir: &Path) -> Result<Self> {
        Self::open(&dir.join(LEDGER_FILE))
    }

    pub fn open_with(path: &Path, options: LedgerOptions) -> Result<Self> {
        let conn = db::open(path)?;
        // A new file takes this id; an existing one keeps the id it was given.
        let device_id = Uuid::now_v7().to_string();
        let env = Env {
            clock: options.clock,
            time_zone: options.time_zone,
            device_id,
            ids: ContextV7::new(),
        };
        let mut ledger = Self { conn, env };
        ledger.env.device_id = seed::seed_if_new(&mut ledger)?;
        ledger.load_time_zone()?;
        Ok(ledger)
    }

    pub fn device_id(&self) -> &str {
        &self.env.device_id
    }

    /// The file's reporting zone as it is now, which another process (`tokendesk time-zone`) may have moved
    /// since this one opened it.
    pub fn time_zone(&self) -> Tz {
        stats::stored_time_zone(&self.conn)
            .ok()
            .flatten()
            .unwrap_or(self.env.time_zone)
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.env.clock.now()
    }

    fn write<T>(&mut self, work: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let env = &mut self.env;
        db::write(&mut self.conn, |sql| {
            // Another process may have moved the file's zone (`tokendesk time-zone`): every write, the
            // rollup's days among them, follows the file's zone as it is now.
            if let Some(zone) = stats::stored_time_zone(sql)? {
                env.time_zone = zone;
            }
            work(&Tx { sql, env })
        })
    }

    /// A write only an admin of this ledger may make: refused once the ledger is enrolled with an org
    /// server, which owns prices, the rate, apps, guards and balances from then on.
    fn admin_write<T>(&mut self, work: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        self.write(|tx| {
            sync::refuse_if_enrolled(tx)?;
            work(tx)
        })
    }
}
