//! The SQLite file: durability pragmas, migrations, and write transactions.

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use rusqlite_migration::{M, Migrations};
use std::path::Path;
use std::time::Duration;

use crate::error::{LedgerError, Result};

const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../../migrations/ledger/0001_ledger.sql")),
    M::up(include_str!(
        "../../../migrations/ledger/0002_hosts_and_model_calls.sql"
    )),
    M::up(include_str!(
        "../../../migrations/ledger/0003_held_priced_as.sql"
    )),
    M::up(include_str!("../../../migrations/ledger/0004_sync.sql")),
    M::up(include_str!("../../../migrations/ledger/0005_budget.sql")),
    M::up(include_str!(
        "../../../migrations/ledger/0006_logins_clock_and_unchecked_sends.sql"
    )),
    M::up(include_str!(
        "../../../migrations/ledger/0007_past_refusal.sql"
    )),
    M::up(include_str!(
        "../../../migrations/ledger/0008_side_calls.sql"
    )),
];

pub(crate) fn open(path: &Path) -> Result<Connection> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // A corrupt or foreign file fails here, with SQLite's own message, before anything is written.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|err| {
            LedgerError::invalid(format!(
                "{} is not a TokenDesk ledger: {err}",
                path.display()
            ))
        })?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LedgerError::invalid(format!(
            "could not switch {} to WAL mode",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
    Ok(conn)
}

/// Every write runs in `BEGIN IMMEDIATE`: the write lock is taken before the first read, so a balance
/// or a guard read inside the transaction cannot be overtaken by another writer.
pub(crate) fn write<T>(
    conn: &mut Connection,
    work: impl FnOnce(&Transaction) -> Result<T>,
) -> Result<T> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let value = work(&tx)?;
    tx.commit()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        Migrations::from_slice(MIGRATIONS).validate().unwrap();
    }

    #[test]
    fn pragmas_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("ledger.sqlite3")).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap();
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1));
    }

    #[test]
    fn a_corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite3");
        std::fs::write(
            &path,
            b"this is not a database, it is a grocery list".repeat(100),
        )
        .unwrap();
        let err = open(&path).unwrap_err();
        assert!(err.to_string().contains("not a TokenDesk ledger"), "{err}");
        // Nothing was overwritten.
        assert!(
            std::fs::read(&path)
                .unwrap()
                .starts_with(b"this is not a database")
        );
    }
}
