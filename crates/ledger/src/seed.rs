//! What a new ledger starts with.

use rusqlite::OptionalExtension;

use crate::entries::{EntryKind, NewEntry, post};
use crate::error::Result;
use crate::money::MICROS_PER_CREDIT;
use crate::{Ledger, Tx};

pub const DEFAULT_CREDITS_PER_USD: &str = "10000";
pub const STAFF_ACCOUNT: &str = "staff";
pub const ADMIN_ACCOUNT: &str = "admin";
/// The demo's replies are charged here, to demo credits of its own, never to a real balance.
pub const DEMO_ACCOUNT: &str = "demo";
const DEMO_CREDITS: i64 = 1_000;
const SYSTEM_ACTOR: &str = "system";
const INITIAL_ALLOWANCE_CREDITS: i64 = 10_000;

/// Public list prices (USD per 1K input / output tokens) of common models when this list was written.
/// They are marked for review: an admin confirms each one before relying on it.
const DEFAULT_MODELS: &[(&str, &str, &str)] = &[
    ("gpt-4o", "0.0025", "0.01"),
    ("gpt-4o-mini", "0.00015", "0.0006"),
    ("gpt-4.1", "0.002", "0.008"),
    ("gpt-4.1-mini", "0.0004", "0.0016"),
    ("o3-mini", "0.0011", "0.0044"),
    ("claude-sonnet-4", "0.003", "0.015"),
    ("claude-3-5-haiku", "0.0008", "0.004"),
    ("gemini-2.0-flash", "0.0001", "0.0004"),
    ("deepseek-chat", "0.00027", "0.0011"),
    ("deepseek-reasoner", "0.00055", "0.00219"),
    ("qwen-max", "0.0016", "0.0064"),
    ("qwen-plus", "0.0004", "0.0012"),
];

/// Fills a new ledger and returns this device's id (made once, kept forever).
pub(crate) fn seed_if_new(ledger: &mut Ledger) -> Result<String> {
    ledger.write(|tx| {
        let existing: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'device_id'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(device_id) = existing {
            return Ok(device_id);
        }
        seed(tx)
    })
}

fn seed(tx: &Tx) -> Result<String> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('device_id', ?1)",
        [&tx.env.device_id],
    )?;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('reporting_time_zone', ?1)",
        [tx.env.time_zone.name()],
    )?;
    let now = tx.env.now_micros();
    tx.execute(
        "INSERT INTO accounts (name, display_name, role, created_at) VALUES (?1, 'Staff', 'staff', ?3),
                                                                       (?2, 'Administrator', 'admin', ?3)",
        (STAFF_ACCOUNT, ADMIN_ACCOUNT, now),
    )?;
    let staff_id: i64 = tx.query_row(
        "SELECT id FROM accounts WHERE name = ?1",
        [STAFF_ACCOUNT],
        |row| row.get(0),
    )?;
    tx.execute(
        "INSERT INTO exchange_rate (id, credits_per_usd, updated_by, updated_at) VALUES (1, ?1, ?2, ?3)",
        (DEFAULT_CREDITS_PER_USD, SYSTEM_ACTOR, now),
    )?;
    tx.execute(
        "INSERT INTO exchange_rate_history (old_rate, new_rate, changed_by, reason, changed_at)
         VALUES (NULL, ?1, ?2, 'initial rate', ?3)",
        (DEFAULT_CREDITS_PER_USD, SYSTEM_ACTOR, now),
    )?;
    for (name, input, output) in DEFAULT_MODELS {
        tx.execute(
            "INSERT INTO models (name, input_usd_per_1k, output_usd_per_1k, needs_review, created_by,
                 created_at, updated_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5)",
            (name, input, output, SYSTEM_ACTOR, now),
        )?;
        tx.execute(
            "INSERT INTO model_price_history (model_id, new_input, new_output, changed_by, reason, changed_at)
             VALUES (last_insert_rowid(), ?1, ?2, ?3, 'public list price; review before use', ?4)",
            (input, output, SYSTEM_ACTOR, now),
        )?;
    }
    tx.execute(
        "INSERT INTO policy (id, integration_enabled, min_balance_micros, event_cap_micros, flood_max_per_minute,
             low_balance_micros, max_tokens_per_event, daily_budget_micros, monthly_budget_micros,
             active_account_id, updated_by, updated_at)
         VALUES (1, 1, 0, ?1, 30, ?2, 2000000, 0, 0, ?3, ?4, ?5)",
        (5_000 * MICROS_PER_CREDIT, 1_000 * MICROS_PER_CREDIT, staff_id, SYSTEM_ACTOR, now),
    )?;
    system_grant(tx, staff_id, INITIAL_ALLOWANCE_CREDITS, "initial allowance")?;
    Ok(tx.env.device_id.clone())
}

/// The demo account's id, made with its demo credits the first time the demo needs it.
pub(crate) fn demo_account_id(tx: &Tx) -> Result<i64> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM accounts WHERE name = ?1",
            [DEMO_ACCOUNT],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO accounts (name, display_name, role, created_at) VALUES (?1, 'Demo', 'staff', ?2)",
        (DEMO_ACCOUNT, tx.env.now_micros()),
    )?;
    let id = tx.last_insert_rowid();
    system_grant(
        tx,
        id,
        DEMO_CREDITS,
        "demo credits: the demo's replies are charged here, never to a real balance",
    )?;
    Ok(id)
}

fn system_grant(tx: &Tx, account_id: i64, credits: i64, reason: &str) -> Result<()> {
    post(
        tx,
        &NewEntry {
            account_id,
            amount_micros: credits * MICROS_PER_CREDIT,
            kind: EntryKind::Grant,
            actor: SYSTEM_ACTOR,
            reason: Some(reason),
            reverses_id: None,
            held_id: None,
            usage: None,
        },
    )?;
    Ok(())
}
