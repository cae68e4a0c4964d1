//! Accounts, their balances, admin passwords, and the manual entries: grant, top-up, adjust, reverse.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use rusqlite::{Connection, OptionalExtension, Row};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::entries::{self, Entry, EntryKind, NewEntry};
use crate::error::{LedgerError, Result};
use crate::money::{MICROS_PER_CREDIT, Micros, micros_to_credits};
use crate::sync::Mode;
use crate::{Ledger, seed, time};

/// One manual entry moves at most a billion credits: larger is a typing error.
const MAX_MANUAL_MICROS: Micros = 1_000_000_000 * MICROS_PER_CREDIT;
const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Staff,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub role: Role,
    pub balance_micros: Micros,
    #[ts(type = "string")]
    pub balance: Decimal,
    pub password_set: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// An enrolled account's balance is the server's as of the last acknowledged push plus this device's own
/// entries above it; on an island it is the cached sum of the account's entries.
const ACCOUNT_COLUMNS: &str = "id, name, display_name, role,
    COALESCE((SELECT s.server_balance_micros
                     + COALESCE((SELECT SUM(e.amount_micros) FROM entries e WHERE e.device_seq > s.acked_seq), 0)
              FROM sync_state s WHERE s.account_id = accounts.id), balance_micros),
    password_hash IS NOT NULL, created_at";

fn account_from_row(row: &Row) -> rusqlite::Result<Account> {
    let balance_micros: Micros = row.get(4)?;
    Ok(Account {
        id: row.get(0)?,
        name: row.get(1)?,
        display_name: row.get(2)?,
        role: if row.get::<_, String>(3)? == "admin" {
            Role::Admin
        } else {
            Role::Staff
        },
        balance_micros,
        balance: micros_to_credits(balance_micros),
        password_set: row.get(5)?,
        created_at: time::from_micros(row.get(6)?),
    })
}

pub(crate) fn account_by_name(conn: &Connection, name: &str) -> Result<Account> {
    conn.query_row(
        &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE name = ?1"),
        [name.trim()],
        account_from_row,
    )
    .optional()?
    .ok_or_else(|| LedgerError::NotFound {
        what: "account",
        name: name.into(),
    })
}

pub(crate) fn account_by_id(conn: &Connection, id: i64) -> Result<Account> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"
        ))?
        .query_row([id], account_from_row)?)
}

fn required_reason(reason: &str) -> Result<&str> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(LedgerError::invalid("a reason is required"));
    }
    Ok(reason)
}

/// Wrong admin passwords allowed within [`LOGIN_FAILURE_WINDOW_MINUTES`] before logins are refused.
pub const LOGIN_FAILURES_ALLOWED: usize = 5;
pub const LOGIN_FAILURE_WINDOW_MINUTES: i64 = 15;

/// An admin's password hash as stored, read under the ledger's lock and checked outside it.
#[derive(Debug, Clone)]
pub struct StoredPassword {
    account_id: i64,
    hash: String,
}

impl StoredPassword {
    /// Argon2: slow on purpose, so it runs without the ledger.
    /// A wrong password goes to `record` ([`Ledger::record_wrong_password`], under whatever lock the
    /// caller takes for it) before it is refused.
    pub fn check<E: From<LedgerError>>(
        &self,
        password: &str,
        record: impl FnOnce(&Self) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let hash = PasswordHash::new(&self.hash)
            .map_err(|err| LedgerError::PasswordHash(err.to_string()))?;
        if Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_err()
        {
            record(self)?;
            return Err(LedgerError::WrongPassword.into());
        }
        Ok(())
    }
}

fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(LedgerError::invalid(format!(
            "the password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Argon2::default()
        .hash_password(password.as_bytes(), &SaltString::generate(&mut OsRng))
        .map(|hash| hash.to_string())
        .map_err(|err| LedgerError::PasswordHash(err.to_string()))
}

impl Ledger {
    pub fn accounts(&self) -> Result<Vec<Account>> {
        let mut statement = self.conn.prepare(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY id"
        ))?;
        Ok(statement
            .query_map([], account_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn account(&self, name: &str) -> Result<Account> {
        account_by_name(&self.conn, name)
    }

    /// The staff account this device charges.
    pub fn active_account(&self) -> Result<Account> {
        let id: i64 = self.conn.query_row(
            "SELECT active_account_id FROM policy WHERE id = 1",
            [],
            |row| row.get(0),
        )?;
        account_by_id(&self.conn, id)
    }

    /// The account the windows show: the demo's own in the demo, else the active one.
    pub fn shown_account(&self) -> Result<Account> {
        if self.mode()? == Mode::Demo {
            match self.account(seed::DEMO_ACCOUNT) {
                Err(LedgerError::NotFound { .. }) => {}
                demo => return demo,
            }
        }
        self.active_account()
    }

    /// The demo account, made with its demo credits if this ledger has none yet (one from before it).
    pub fn demo_account(&mut self) -> Result<Account> {
        self.write(|tx| seed::demo_account_id(tx).map(drop))?;
        self.account(seed::DEMO_ACCOUNT)
    }

    pub fn add_account(&mut self, name: &str, display_name: &str, role: Role) -> Result<Account> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_whitespace) {
            return Err(LedgerError::invalid(format!(
                "{name:?} is not a usable account name"
            )));
        }
        let display_name = if display_name.trim().is_empty() {
            name
        } else {
            display_name.trim()
        };
        let role_text = match role {
            Role::Staff => "staff",
            Role::Admin => "admin",
        };
        self.admin_write(|tx| {
            let taken: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM accounts WHERE name = ?1)", [name], |row| row.get(0))?;
            if taken {
                return Err(LedgerError::AlreadyExists { what: "account", name: name.into() });
            }
            tx.execute(
                "INSERT INTO accounts (name, display_name, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                (name, display_name, role_text, tx.env.now_micros()),
            )?;
            Ok(())
        })?;
        self.account(name)
    }

    /// Gives credits, e.g. a monthly allowance.
    pub fn grant(
        &mut self,
        account: &str,
        micros: Micros,
        actor: &str,
        reason: &str,
    ) -> Result<Entry> {
        self.manual_entry(account, micros, EntryKind::Grant, actor, reason)
    }

    /// Adds credits that were paid for.
    pub fn top_up(
        &mut self,
        account: &str,
        micros: Micros,
        actor: &str,
        reason: &str,
    ) -> Result<Entry> {
        self.manual_entry(account, micros, EntryKind::Topup, actor, reason)
    }

    /// Corrects a balance up or down.
    pub fn adjust(
        &mut self,
        account: &str,
        micros: Micros,
        actor: &str,
        reason: &str,
    ) -> Result<Entry> {
        self.manual_entry(account, micros, EntryKind::Adjustment, actor, reason)
    }

    fn manual_entry(
        &mut self,
        account: &str,
        micros: Micros,
        kind: EntryKind,
        actor: &str,
        reason: &str,
    ) -> Result<Entry> {
        let reason = required_reason(reason)?;
        let positive_only = kind != EntryKind::Adjustment;
        // `unsigned_abs`: `abs` of `i64::MIN` overflows, and in a release build would pass as negative.
        if micros == 0
            || (positive_only && micros < 0)
            || micros.unsigned_abs() > MAX_MANUAL_MICROS.unsigned_abs()
        {
            return Err(LedgerError::invalid(format!(
                "a {} must be {} and at most {} credits",
                kind.as_str(),
                if positive_only {
                    "positive"
                } else {
                    "non-zero"
                },
                MAX_MANUAL_MICROS / MICROS_PER_CREDIT
            )));
        }
        let account = self.account(account)?;
        let id = self.admin_write(|tx| {
            entries::post(
                tx,
                &NewEntry {
                    account_id: account.id,
                    amount_micros: micros,
                    kind,
                    actor,
                    reason: Some(reason),
                    reverses_id: None,
                    held_id: None,
                    usage: None,
                },
            )
        })?;
        self.entry(&id)
    }

    /// Cancels an entry with an opposite one. Each entry can be reversed once; a reversal cannot be.
    pub fn reverse(&mut self, entry_id: &str, actor: &str, reason: &str) -> Result<Entry> {
        let reason = required_reason(reason)?;
        let id = self.admin_write(|tx| {
            let original = entries::get(tx, entry_id)?.ok_or_else(|| LedgerError::NotFound {
                what: "entry",
                name: entry_id.into(),
            })?;
            if original.kind == EntryKind::Reversal {
                return Err(LedgerError::invalid(
                    "a reversal cannot itself be reversed; post an adjustment",
                ));
            }
            let reversed: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM entries WHERE reverses_id = ?1)",
                [entry_id],
                |row| row.get(0),
            )?;
            if reversed {
                return Err(LedgerError::AlreadyReversed(entry_id.into()));
            }
            entries::post_reversal(tx, &original, actor, reason, None)
        })?;
        self.entry(&id)
    }

    pub fn entry(&self, id: &str) -> Result<Entry> {
        entries::get(&self.conn, id)?.ok_or_else(|| LedgerError::NotFound {
            what: "entry",
            name: id.into(),
        })
    }

    /// Whether the admin's password was set. Until it is, no admin action can be authorized.
    pub fn admin_password_set(&self, admin: &str) -> Result<bool> {
        Ok(self.admin(admin)?.password_set)
    }

    /// Sets the admin password on first use. Once set, only [`Ledger::change_admin_password`] changes it.
    pub fn set_admin_password(&mut self, admin: &str, password: &str) -> Result<()> {
        let account = self.admin(admin)?;
        let hash = hash_password(password)?;
        self.admin_write(|tx| {
            let changed = tx.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE id = ?1 AND password_hash IS NULL",
                (account.id, &hash),
            )?;
            if changed == 0 {
                return Err(LedgerError::PasswordAlreadySet);
            }
            Ok(())
        })
    }

    pub fn change_admin_password(&mut self, admin: &str, current: &str, new: &str) -> Result<()> {
        self.check_admin_password(admin, current)?;
        let account = self.admin(admin)?;
        let hash = hash_password(new)?;
        self.admin_write(|tx| {
            tx.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                (account.id, &hash),
            )?;
            Ok(())
        })
    }

    /// Succeeds only for the right password of an admin whose password is set, and records a wrong one.
    /// A caller that holds the ledger behind a lock should use [`Ledger::stored_admin_password`] and check
    /// outside it: the hash is slow on purpose.
    pub fn check_admin_password(&mut self, admin: &str, password: &str) -> Result<()> {
        let stored = self.stored_admin_password(admin)?;
        stored.check(password, |stored| self.record_wrong_password(stored))
    }

    /// The admin's password hash, to check a password against; refused after too many wrong passwords
    /// lately ([`LOGIN_FAILURES_ALLOWED`] in [`LOGIN_FAILURE_WINDOW_MINUTES`]).
    pub fn stored_admin_password(&self, admin: &str) -> Result<StoredPassword> {
        let account = self.admin(admin)?;
        let stored: Option<String> = self.conn.query_row(
            "SELECT password_hash FROM accounts WHERE id = ?1",
            [account.id],
            |row| row.get(0),
        )?;
        let hash = stored.ok_or(LedgerError::PasswordNotSet)?;
        let since = self.now() - chrono::Duration::minutes(LOGIN_FAILURE_WINDOW_MINUTES);
        let recent: Vec<i64> = self
            .conn
            .prepare(
                "SELECT at FROM admin_login_failures WHERE account_id = ?1 AND at > ?2
                 ORDER BY at DESC LIMIT ?3",
            )?
            .query_map(
                (account.id, time::to_micros(since), LOGIN_FAILURES_ALLOWED),
                |row| row.get(0),
            )?
            .collect::<rusqlite::Result<_>>()?;
        if let Some(&oldest) = recent.get(LOGIN_FAILURES_ALLOWED - 1) {
            let free_at =
                time::from_micros(oldest) + chrono::Duration::minutes(LOGIN_FAILURE_WINDOW_MINUTES);
            let seconds = (free_at - self.now()).num_seconds();
            let minutes = (seconds + 59).div_euclid(60).max(1);
            return Err(LedgerError::TooManyLogins { minutes });
        }
        Ok(StoredPassword {
            account_id: account.id,
            hash,
        })
    }

    /// Records a wrong password for the admin it was checked against.
    pub fn record_wrong_password(&mut self, stored: &StoredPassword) -> Result<()> {
        let at = time::to_micros(self.now());
        self.write(|tx| {
            tx.execute(
                "INSERT INTO admin_login_failures (account_id, at) VALUES (?1, ?2)",
                (stored.account_id, at),
            )?;
            Ok(())
        })
    }

    fn admin(&self, name: &str) -> Result<Account> {
        let account = self.account(name)?;
        if account.role != Role::Admin {
            return Err(LedgerError::invalid(format!(
                "{name:?} is not an admin account"
            )));
        }
        Ok(account)
    }
}
