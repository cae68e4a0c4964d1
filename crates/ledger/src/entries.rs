//! Posting to the append-only ledger. Every balance change goes through [`post`], which writes the
//! entry, the cached balance and the daily rollup in the caller's transaction.

use rusqlite::{Connection, OptionalExtension, Row, named_params};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::error::{LedgerError, Result};
use crate::guards::SideCall;
use crate::money::{Micros, Price, micros_to_credits};
use crate::{Tx, sync, time};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Grant,
    Topup,
    Charge,
    Adjustment,
    Reversal,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Topup => "topup",
            Self::Charge => "charge",
            Self::Adjustment => "adjustment",
            Self::Reversal => "reversal",
        }
    }

    pub(crate) fn parse(text: &str) -> rusqlite::Result<Self> {
        Ok(match text {
            "grant" => Self::Grant,
            "topup" => Self::Topup,
            "charge" => Self::Charge,
            "adjustment" => Self::Adjustment,
            "reversal" => Self::Reversal,
            other => {
                return Err(rusqlite::Error::InvalidColumnType(
                    0,
                    other.into(),
                    rusqlite::types::Type::Text,
                ));
            }
        })
    }
}

pub use tokendesk_sync_proto::Pricing;

/// A pricing as stored.
pub(crate) fn parse_pricing(text: &str) -> rusqlite::Result<Pricing> {
    Pricing::parse(text).ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(0, text.into(), rusqlite::types::Type::Text)
    })
}

/// Everything a charge was computed from, snapshotted on its entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct UsageSnapshot {
    pub pricing: Pricing,
    pub app_id: i64,
    pub app_name: String,
    pub model: Option<String>,
    pub conversation_id: Option<String>,
    pub message_id: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub price: Option<Price>,
    #[ts(type = "string")]
    pub credits_per_usd: Decimal,
    #[ts(type = "string")]
    pub usd_cost: Decimal,
    #[ts(type = "string | null")]
    pub dify_total_price: Option<Decimal>,
    pub dify_currency: Option<String>,
    pub estimated: bool,
    /// Set on a side call's charge: Dify's own call beside a reply, priced by the policy's `side_calls`.
    pub side_call: Option<SideCall>,
}

/// One ledger entry as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Entry {
    pub id: String,
    pub account_id: i64,
    pub amount_micros: Micros,
    /// `amount_micros` in credits, for display.
    #[ts(type = "string")]
    pub amount: Decimal,
    pub kind: EntryKind,
    pub device_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub reason: Option<String>,
    pub reverses_id: Option<String>,
    pub held_id: Option<String>,
    pub usage: Option<UsageSnapshot>,
}

pub(crate) struct NewEntry<'a> {
    pub account_id: i64,
    pub amount_micros: Micros,
    pub kind: EntryKind,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
    pub reverses_id: Option<&'a str>,
    pub held_id: Option<&'a str>,
    pub usage: Option<&'a UsageSnapshot>,
}

/// How far behind the newest entry the clock may be before the step back is recorded: within it, entries
/// of one instant (a coarse clock) just follow each other.
const CLOCK_STEP_RECORDED_MICROS: i64 = 1_000_000;

/// A new entry's time: the clock's, but never at or before the newest entry's, so history, days and ids
/// keep their order when the wall clock is set back. A real step back is recorded.
fn entry_time(tx: &Tx) -> Result<i64> {
    let now = tx.env.now_micros();
    let Some(newest) = newest_entry_at(tx)?.filter(|&newest| newest >= now) else {
        return Ok(now);
    };
    if newest - now > CLOCK_STEP_RECORDED_MICROS {
        tx.prepare_cached(
            "INSERT INTO clock_steps_back (clock_at, newest_entry_at) VALUES (?1, ?2)",
        )?
        .execute((now, newest))?;
    }
    Ok(newest + 1)
}

/// The newest entry's time. The newest entry is the last inserted: every entry is stamped by
/// [`entry_time`].
fn newest_entry_at(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT created_at FROM entries ORDER BY rowid DESC LIMIT 1")?
        .query_row([], |row| row.get(0))
        .optional()?)
}

/// The ledger's now: the clock's, but never before the newest entry, so a wall clock set back does not
/// reopen a spent budget.
pub(crate) fn ledger_now(conn: &Connection, clock: i64) -> Result<i64> {
    Ok(newest_entry_at(conn)?.map_or(clock, |newest| newest.max(clock)))
}

/// Posts one entry and returns its id.
pub(crate) fn post(tx: &Tx, entry: &NewEntry) -> Result<String> {
    let created_at = entry_time(tx)?;
    let id = tx.env.id_at(created_at);
    let usage = entry.usage;
    let price = usage.and_then(|usage| usage.price);
    // Enrolled, what this device authors is numbered for the push; admin entries never are.
    let stamp = match entry.kind {
        EntryKind::Charge => sync::stamp(tx)?,
        _ => None,
    };
    tx.prepare_cached(
        "INSERT INTO entries (id, account_id, amount_micros, kind, device_id, created_at, actor, reason,
             reverses_id, held_id, pricing, app_id, app_name, model, conversation_id, message_id,
             prompt_tokens, completion_tokens, input_usd_per_1k, output_usd_per_1k, credits_per_usd,
             usd_cost, dify_total_price, dify_currency, estimated, device_seq, config_version, side_call)
         VALUES (:id, :account_id, :amount, :kind, :device_id, :created_at, :actor, :reason,
             :reverses_id, :held_id, :pricing, :app_id, :app_name, :model, :conversation_id, :message_id,
             :prompt_tokens, :completion_tokens, :input_price, :output_price, :rate,
             :usd_cost, :dify_total_price, :dify_currency, :estimated, :device_seq, :config_version,
             :side_call)",
    )?
    .execute(named_params! {
            ":id": id,
            ":account_id": entry.account_id,
            ":amount": entry.amount_micros,
            ":kind": entry.kind.as_str(),
            ":device_id": tx.env.device_id,
            ":created_at": created_at,
            ":actor": entry.actor,
            ":reason": entry.reason,
            ":reverses_id": entry.reverses_id,
            ":held_id": entry.held_id,
            ":pricing": usage.map(|usage| usage.pricing.as_str()),
            ":app_id": usage.map(|usage| usage.app_id),
            ":app_name": usage.map(|usage| usage.app_name.as_str()),
            ":model": usage.and_then(|usage| usage.model.as_deref()),
            ":conversation_id": usage.and_then(|usage| usage.conversation_id.as_deref()),
            ":message_id": usage.map(|usage| usage.message_id.as_str()),
            ":prompt_tokens": usage.map(|usage| usage.prompt_tokens as i64),
            ":completion_tokens": usage.map(|usage| usage.completion_tokens as i64),
            ":input_price": price.map(|price| price.input_per_1k.to_string()),
            ":output_price": price.map(|price| price.output_per_1k.to_string()),
            ":rate": usage.map(|usage| usage.credits_per_usd.to_string()),
            ":usd_cost": usage.map(|usage| usage.usd_cost.to_string()),
            ":dify_total_price": usage.and_then(|usage| usage.dify_total_price.map(|price| price.to_string())),
            ":dify_currency": usage.and_then(|usage| usage.dify_currency.as_deref()),
            ":estimated": usage.is_some_and(|usage| usage.estimated),
            ":device_seq": stamp.map(|(seq, _)| seq),
            ":config_version": stamp.map(|(_, version)| version),
            ":side_call": usage.and_then(|usage| usage.side_call.map(SideCall::as_str)),
    })?;
    let updated = tx
        .prepare_cached("UPDATE accounts SET balance_micros = balance_micros + ?1 WHERE id = ?2")?
        .execute((entry.amount_micros, entry.account_id))?;
    if updated != 1 {
        return Err(LedgerError::NotFound {
            what: "account",
            name: entry.account_id.to_string(),
        });
    }
    if let Some(usage) = usage {
        let day = time::local_day(tx.env.time_zone, created_at);
        add_to_rollup(
            tx,
            entry.account_id,
            day,
            entry.kind,
            entry.amount_micros,
            usage,
        )?;
    }
    Ok(id)
}

/// Posts the mirror image of an entry, keeping its usage snapshot so spend statistics net out.
pub(crate) fn post_reversal(
    tx: &Tx,
    original: &Entry,
    actor: &str,
    reason: &str,
    held_id: Option<&str>,
) -> Result<String> {
    post(
        tx,
        &NewEntry {
            account_id: original.account_id,
            amount_micros: -original.amount_micros,
            kind: EntryKind::Reversal,
            actor,
            reason: Some(reason),
            reverses_id: Some(&original.id),
            held_id,
            usage: original.usage.as_ref(),
        },
    )
}

/// Adds (account, day, app, model, credits, prompt tokens, completion tokens, messages) to the daily rollup.
pub(crate) const ROLLUP_ADD: &str =
    "INSERT INTO daily_usage (account_id, day, app_id, model, credits_micros,
        prompt_tokens, completion_tokens, messages)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
    ON CONFLICT (account_id, day, app_id, model) DO UPDATE SET
        credits_micros = credits_micros + excluded.credits_micros,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        messages = messages + excluded.messages";

/// One usage entry's share of its day's rollup row: (app, model, credits spent, prompt tokens, completion
/// tokens, messages). A reversal counts its tokens and message negatively; a side call counts its tokens
/// and credits but is no message.
pub(crate) type RollupShare<'a> = (i64, &'a str, i64, i64, i64, i64);

pub(crate) fn rollup_share<'a>(
    kind: EntryKind,
    amount_micros: Micros,
    app_id: i64,
    model: Option<&'a str>,
    tokens: (u64, u64),
    side_call: bool,
) -> RollupShare<'a> {
    let sign: i64 = if kind == EntryKind::Reversal { -1 } else { 1 };
    let messages = if side_call { 0 } else { sign };
    (
        app_id,
        model.unwrap_or(""),
        -amount_micros,
        sign * tokens.0 as i64,
        sign * tokens.1 as i64,
        messages,
    )
}

/// Adds a usage entry to the daily rollup.
fn add_to_rollup(
    tx: &rusqlite::Connection,
    account_id: i64,
    day: i32,
    kind: EntryKind,
    amount_micros: Micros,
    usage: &UsageSnapshot,
) -> Result<()> {
    let (app_id, model, credits, prompt, completion, messages) = rollup_share(
        kind,
        amount_micros,
        usage.app_id,
        usage.model.as_deref(),
        (usage.prompt_tokens, usage.completion_tokens),
        usage.side_call.is_some(),
    );
    tx.prepare_cached(ROLLUP_ADD)?.execute((
        account_id, day, app_id, model, credits, prompt, completion, messages,
    ))?;
    Ok(())
}

/// The columns [`from_row`] reads, in order.
pub(crate) const ENTRY_COLUMNS: &str = "id, account_id, amount_micros, kind, device_id, created_at, actor,
    reason, reverses_id, held_id, pricing, app_id, app_name, model, conversation_id, message_id,
    prompt_tokens, completion_tokens, input_usd_per_1k, output_usd_per_1k, credits_per_usd, usd_cost,
    dify_total_price, dify_currency, estimated, side_call";

pub(crate) fn from_row(row: &Row) -> rusqlite::Result<Entry> {
    let decimal = |index: usize| -> rusqlite::Result<Option<Decimal>> {
        row.get::<_, Option<String>>(index)?
            .map(|text| crate::money::stored_decimal(&text))
            .transpose()
    };
    let pricing: Option<String> = row.get(10)?;
    let usage = match pricing {
        None => None,
        Some(pricing) => {
            let price = match (decimal(18)?, decimal(19)?) {
                (Some(input_per_1k), Some(output_per_1k)) => Some(Price {
                    input_per_1k,
                    output_per_1k,
                }),
                _ => None,
            };
            Some(UsageSnapshot {
                pricing: parse_pricing(&pricing)?,
                app_id: row.get(11)?,
                app_name: row.get(12)?,
                model: row.get(13)?,
                conversation_id: row.get(14)?,
                message_id: row.get(15)?,
                prompt_tokens: row.get::<_, i64>(16)? as u64,
                completion_tokens: row.get::<_, i64>(17)? as u64,
                price,
                credits_per_usd: decimal(20)?.unwrap_or_default(),
                usd_cost: decimal(21)?.unwrap_or_default(),
                dify_total_price: decimal(22)?,
                dify_currency: row.get(23)?,
                estimated: row.get(24)?,
                side_call: row
                    .get::<_, Option<String>>(25)?
                    .map(|kind| {
                        SideCall::parse(&kind).ok_or_else(|| {
                            rusqlite::Error::InvalidColumnType(
                                25,
                                kind,
                                rusqlite::types::Type::Text,
                            )
                        })
                    })
                    .transpose()?,
            })
        }
    };
    let amount_micros: Micros = row.get(2)?;
    Ok(Entry {
        id: row.get(0)?,
        account_id: row.get(1)?,
        amount_micros,
        amount: micros_to_credits(amount_micros),
        kind: EntryKind::parse(&row.get::<_, String>(3)?)?,
        device_id: row.get(4)?,
        created_at: time::from_micros(row.get(5)?),
        actor: row.get(6)?,
        reason: row.get(7)?,
        reverses_id: row.get(8)?,
        held_id: row.get(9)?,
        usage,
    })
}

pub(crate) fn get(conn: &rusqlite::Connection, id: &str) -> Result<Option<Entry>> {
    Ok(conn
        .query_row(
            &format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}
