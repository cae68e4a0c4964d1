//! Held events (cap, flood, conflict, unpriced) waiting for an admin, and the audit of rejected events.

use rusqlite::{OptionalExtension, Row};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::apps::{DifyApp, price_as};
use crate::charging::{parse_incomplete, parse_message_end, parse_side_call, post_charge, price};
use crate::entries;
use crate::error::{LedgerError, Result};
use crate::guards::read_policy;
use crate::money::{Micros, micros_to_credits};
use crate::{Entry, Ledger, time};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct HeldEvent {
    pub id: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// Why it is held: a hold reason, stored as its text.
    #[ts(as = "crate::charging::HoldReason")]
    pub reason: String,
    pub detail: String,
    pub account_id: i64,
    pub app_id: i64,
    pub app_name: String,
    pub message_id: String,
    pub estimated: bool,
    /// The model it was priced as instead of the app's binding (a diagnostics simulation); approving
    /// it charges that model's price.
    pub priced_as: Option<String>,
    /// The amount priced when it was held; `None` when it could not be priced.
    pub amount_micros: Option<Micros>,
    #[ts(type = "string | null")]
    pub amount: Option<Decimal>,
    pub payload: String,
    /// Stored as text; the windows branch on these three.
    #[ts(type = r#""pending" | "approved" | "rejected""#)]
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    pub decision_note: Option<String>,
    pub entry_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RejectedEvent {
    pub id: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub code: String,
    pub message: String,
    pub source: String,
    pub payload: String,
    pub payload_bytes: i64,
}

const HELD_COLUMNS: &str = "h.id, h.received_at, h.reason, h.detail, h.account_id, h.app_id, a.name, h.message_id,
    h.estimated, h.amount_micros, h.payload, h.status, h.decided_by, h.decided_at, h.decision_note, h.entry_id,
    m.name";
/// Held events with their app's name and the model they were priced as, if any.
const HELD_FROM: &str = "held_events h JOIN dify_apps a ON a.id = h.app_id LEFT JOIN models m ON m.id = h.priced_as_model_id";

fn held_from_row(row: &Row) -> rusqlite::Result<HeldEvent> {
    let amount_micros: Option<Micros> = row.get(9)?;
    Ok(HeldEvent {
        id: row.get(0)?,
        received_at: time::from_micros(row.get(1)?),
        reason: row.get(2)?,
        detail: row.get(3)?,
        account_id: row.get(4)?,
        app_id: row.get(5)?,
        app_name: row.get(6)?,
        message_id: row.get(7)?,
        estimated: row.get(8)?,
        amount_micros,
        amount: amount_micros.map(micros_to_credits),
        payload: row.get(10)?,
        status: row.get(11)?,
        decided_by: row.get(12)?,
        decided_at: row.get::<_, Option<i64>>(13)?.map(time::from_micros),
        decision_note: row.get(14)?,
        entry_id: row.get(15)?,
        priced_as: row.get(16)?,
    })
}

impl Ledger {
    /// Held events, newest first; only the pending ones unless `all`.
    pub fn held_events(&self, all: bool) -> Result<Vec<HeldEvent>> {
        let filter = if all {
            ""
        } else {
            "WHERE h.status = 'pending'"
        };
        let mut statement = self.conn.prepare(&format!(
            "SELECT {HELD_COLUMNS} FROM {HELD_FROM} {filter}
             ORDER BY h.received_at DESC, h.rowid DESC"
        ))?;
        Ok(statement
            .query_map([], held_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn held_event(&self, id: &str) -> Result<HeldEvent> {
        self.conn
            .query_row(
                &format!("SELECT {HELD_COLUMNS} FROM {HELD_FROM} WHERE h.id = ?1"),
                [id],
                held_from_row,
            )
            .optional()?
            .ok_or_else(|| LedgerError::NotFound {
                what: "held event",
                name: id.into(),
            })
    }

    /// Charges a held event at the current prices (of the model it was priced as, if any), past the cap
    /// and flood guards. Any live charge of the same message is reversed first, so a message is never
    /// charged twice whatever is approved.
    /// Charges a held event at today's price, but only the amount the admin was shown (`shown_micros`,
    /// `None` when it could not be priced): when the price moved since, nothing is charged, the event keeps
    /// the new amount to show, and the refusal names it.
    pub fn approve_held(
        &mut self,
        id: &str,
        admin: &str,
        note: &str,
        shown_micros: Option<Micros>,
    ) -> Result<Entry> {
        let held = self.pending(id)?;
        let mut app = self.app(held.app_id)?;
        let approved = self.admin_write(|tx| {
            if let Some(model) = &held.priced_as {
                price_as(tx, &mut app, model)?;
            }
            let policy = read_policy(tx)?;
            let side_call: bool = tx.query_row(
                "SELECT side_call IS NOT NULL FROM held_events WHERE id = ?1",
                [id],
                |row| row.get(0),
            )?;
            let parse = match (side_call, held.estimated) {
                (true, _) => parse_side_call,
                (false, true) => parse_incomplete,
                (false, false) => parse_message_end,
            };
            let event = parse(&held.payload, &policy)
                .map_err(|err| LedgerError::invalid(err.to_string()))?;
            let priced = price(tx, &app, &event)?
                .map_err(|detail| LedgerError::invalid(format!("cannot approve yet: {detail}")))?;
            if Some(priced.micros) != shown_micros {
                let updated = tx.execute(
                    "UPDATE held_events SET amount_micros = ?2 WHERE id = ?1 AND status = 'pending'",
                    (id, priced.micros),
                )?;
                if updated == 0 {
                    // Another process decided it since it was read.
                    return Err(LedgerError::AlreadyDecided(id.into()));
                }
                return Ok(Err(priced.micros));
            }
            reverse_live_charges(tx, &app, &held.message_id, admin, id)?;
            let entry_id = post_charge(tx, held.account_id, &priced, Some(id), admin)?;
            decide(tx, id, "approved", admin, note, Some(&entry_id))?;
            Ok(Ok(entry_id))
        })?;
        match approved {
            Ok(entry_id) => self.entry(&entry_id),
            Err(now_micros) => Err(LedgerError::AmountChanged {
                id: id.to_owned(),
                shown: shown_micros.map(micros_to_credits),
                now: micros_to_credits(now_micros),
            }),
        }
    }

    /// Closes a held event without charging it.
    pub fn reject_held(&mut self, id: &str, admin: &str, note: &str) -> Result<HeldEvent> {
        self.pending(id)?;
        self.admin_write(|tx| decide(tx, id, "rejected", admin, note, None))?;
        self.held_event(id)
    }

    fn pending(&self, id: &str) -> Result<HeldEvent> {
        let held = self.held_event(id)?;
        if held.status != "pending" {
            return Err(LedgerError::AlreadyDecided(id.into()));
        }
        Ok(held)
    }

    /// Rejected events, newest first.
    pub fn rejected_events(&self, limit: usize) -> Result<Vec<RejectedEvent>> {
        let mut statement = self.conn.prepare(
            "SELECT id, received_at, code, message, source, payload, payload_bytes FROM rejected_events
             ORDER BY received_at DESC, rowid DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit as i64], |row| {
            Ok(RejectedEvent {
                id: row.get(0)?,
                received_at: time::from_micros(row.get(1)?),
                code: row.get(2)?,
                message: row.get(3)?,
                source: row.get(4)?,
                payload: row.get(5)?,
                payload_bytes: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn reverse_live_charges(
    tx: &crate::Tx,
    app: &DifyApp,
    message_id: &str,
    admin: &str,
    held_id: &str,
) -> Result<()> {
    let live: Vec<String> = tx
        .prepare(
            "SELECT c.id FROM entries c
             WHERE c.kind = 'charge' AND c.app_id = ?1 AND c.message_id = ?2
               AND NOT EXISTS (SELECT 1 FROM entries r WHERE r.reverses_id = c.id)",
        )?
        .query_map((app.id, message_id), |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for charge_id in live {
        let original = entries::get(tx, &charge_id)?.ok_or_else(|| LedgerError::NotFound {
            what: "entry",
            name: charge_id.clone(),
        })?;
        let reason = format!("replaced by approved held event {held_id}");
        entries::post_reversal(tx, &original, admin, &reason, Some(held_id))?;
    }
    Ok(())
}

fn decide(
    tx: &crate::Tx,
    id: &str,
    status: &str,
    admin: &str,
    note: &str,
    entry_id: Option<&str>,
) -> Result<()> {
    let changed = tx.execute(
        "UPDATE held_events SET status = ?2, decided_by = ?3, decided_at = ?4, decision_note = ?5, entry_id = ?6
         WHERE id = ?1 AND status = 'pending'",
        rusqlite::params![id, status, admin, tx.env.now_micros(), note.trim(), entry_id],
    )?;
    if changed != 1 {
        return Err(LedgerError::AlreadyDecided(id.into()));
    }
    Ok(())
}
