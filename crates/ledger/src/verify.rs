//! `verify()`: the ledger's invariants, checked against the file as it is.

use serde::Serialize;

use std::collections::BTreeSet;

use crate::Ledger;
use crate::error::Result;
use crate::stats::RollupRows;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub accounts: usize,
    pub entries: i64,
    pub problems: Vec<String>,
}

impl Ledger {
    /// Checks: SQLite integrity, no orphans, every cached balance = Σ its entries, every reversal mirrors its
    /// original, at most one live charge per (app, message), idempotency keys point at what they claim,
    /// and the daily rollup equals a recomputation from the ledger.
    pub fn verify(&mut self) -> Result<VerifyReport> {
        let mut problems = Vec::new();
        let integrity: Vec<String> = self
            .conn
            .prepare("PRAGMA integrity_check")?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if integrity != ["ok"] {
            problems.extend(
                integrity
                    .into_iter()
                    .map(|line| format!("integrity: {line}")),
            );
        }
        let orphans: Vec<String> = self
            .conn
            .prepare("PRAGMA foreign_key_check")?
            .query_map([], |row| {
                Ok(format!(
                    "orphan row {} in {} (missing {})",
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(2)?
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        problems.extend(orphans);
        let checks: &[(&str, &str)] = &[
            (
                "balance differs from the sum of entries",
                "SELECT a.name || ': cached ' || a.balance_micros || ', entries ' || COALESCE(SUM(e.amount_micros), 0)
                 FROM accounts a LEFT JOIN entries e ON e.account_id = a.id
                 GROUP BY a.id HAVING a.balance_micros <> COALESCE(SUM(e.amount_micros), 0)",
            ),
            (
                "reversal does not mirror its original",
                "SELECT r.id FROM entries r JOIN entries o ON o.id = r.reverses_id
                 WHERE r.amount_micros <> -o.amount_micros OR r.account_id <> o.account_id",
            ),
            (
                "message charged more than once",
                "SELECT app_id || '/' || message_id FROM entries
                 WHERE pricing IS NOT NULL AND kind IN ('charge', 'reversal')
                 GROUP BY app_id, message_id
                 HAVING SUM(CASE kind WHEN 'charge' THEN 1 ELSE -1 END) > 1",
            ),
            (
                "idempotency key points at another message",
                "SELECT k.app_id || '/' || k.message_id FROM event_keys k
                 LEFT JOIN entries e ON e.id = k.entry_id
                 LEFT JOIN held_events h ON h.id = k.held_id
                 WHERE (k.outcome = 'charged' AND (e.message_id IS NOT k.message_id OR e.app_id IS NOT k.app_id
                            OR -e.amount_micros IS NOT k.amount_micros))
                    OR (k.outcome = 'held' AND (h.message_id IS NOT k.message_id OR h.app_id IS NOT k.app_id))",
            ),
            (
                "approved held event without its charge",
                "SELECT h.id FROM held_events h LEFT JOIN entries e ON e.id = h.entry_id
                 WHERE (h.status = 'approved') <> (e.id IS NOT NULL)",
            ),
        ];
        for (problem, sql) in checks {
            let rows: Vec<String> = self
                .conn
                .prepare(sql)?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            problems.extend(rows.into_iter().map(|row| format!("{problem}: {row}")));
        }
        problems.extend(self.rollup_differences()?);
        let accounts = self.accounts()?.len();
        let entries = self
            .conn
            .query_row("SELECT COUNT(*) FROM entries", [], |row| row.get(0))?;
        Ok(VerifyReport {
            ok: problems.is_empty(),
            accounts,
            entries,
            problems,
        })
    }

    /// Recomputes the rollup on a read snapshot (charges commit beside it) and compares it with the
    /// stored one, read in the same snapshot.
    fn rollup_differences(&mut self) -> Result<Vec<String>> {
        let snapshot = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
        let zone = crate::stats::stored_time_zone(&snapshot)?.unwrap_or(self.env.time_zone);
        let mut expected = RollupRows::new();
        crate::stats::recompute_rollup(&snapshot, zone, 0, &mut expected)?;
        let stored = crate::stats::stored_rollup(&snapshot)?;
        snapshot.commit()?;
        let keys: BTreeSet<_> = expected.keys().chain(stored.keys()).collect();
        Ok(keys
            .into_iter()
            .filter(|key| expected.get(*key) != stored.get(*key))
            .map(|(account, day, app, model)| {
                format!(
                    "daily rollup differs from the ledger: account {account} day {day} app {app} model {model:?}"
                )
            })
            .collect())
    }
}
