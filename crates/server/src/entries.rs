//! The append-only ledger: every balance change is an entry, and `users.balance_micros` is their sum
//! over counted entries, kept in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tokendesk_sync_proto::admin::{EntryInfo, EntryKind};
use tokendesk_sync_proto::device::Usage;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The kinds that spend (SQL list): charges, and what reconciliation made of Dify's records.
macro_rules! spend_kinds {
    () => {
        "'charge', 'true_up', 'reported_by_dify'"
    };
}

pub const SPEND_KINDS: &str = spend_kinds!();

/// The counted spend of a query over entries `e` left-joined to the entry `r` that a reversal reverses:
/// spending entries, and reversals of them.
pub const SPEND_FILTER: &str = concat!(
    "e.counted AND (e.kind IN (",
    spend_kinds!(),
    ") OR (e.kind = 'reversal' AND r.kind IN (",
    spend_kinds!(),
    ")))"
);

pub struct NewEntry<'a> {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub kind: EntryKind,
    pub amount_micros: i64,
    pub counted: bool,
    /// (device id, device_seq, content hash) of a device-authored entry.
    pub device: Option<(Uuid, i64, &'a str)>,
    pub config_version: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub actor: &'a str,
    pub reason: Option<&'a str>,
    pub reverses_id: Option<Uuid>,
    pub held_id: Option<Uuid>,
    pub usage: Option<&'a Usage>,
    /// The tokens the entry adds to the totals, when not its usage's: a true-up adds the difference.
    pub tokens: Option<(i64, i64)>,
    /// The code a `redemption` redeemed.
    pub redemption_code_id: Option<Uuid>,
    pub id: Uuid,
}

/// Inserts one entry and, when counted, adds it to the user's balance.
pub async fn post(tx: &mut PgConnection, entry: &NewEntry<'_>) -> ApiResult<()> {
    post_many(tx, std::slice::from_ref(entry)).await
}

/// [`post`] for a batch, in one INSERT and one balance update per user.
pub async fn post_many(tx: &mut PgConnection, entries: &[NewEntry<'_>]) -> ApiResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let n = entries.len();
    let mut org_ids = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut user_ids = Vec::with_capacity(n);
    let mut kinds = Vec::with_capacity(n);
    let mut amounts = Vec::with_capacity(n);
    let mut counted = Vec::with_capacity(n);
    let mut device_ids = Vec::with_capacity(n);
    let mut device_seqs = Vec::with_capacity(n);
    let mut hashes = Vec::with_capacity(n);
    let mut versions = Vec::with_capacity(n);
    let mut occurred = Vec::with_capacity(n);
    let mut actors = Vec::with_capacity(n);
    let mut reasons = Vec::with_capacity(n);
    let mut reverses = Vec::with_capacity(n);
    let mut held = Vec::with_capacity(n);
    let mut app_ids = Vec::with_capacity(n);
    let mut message_ids = Vec::with_capacity(n);
    let mut models = Vec::with_capacity(n);
    let mut prompts = Vec::with_capacity(n);
    let mut completions = Vec::with_capacity(n);
    let mut usages = Vec::with_capacity(n);
    let mut codes = Vec::with_capacity(n);
    let mut deltas: HashMap<(Uuid, Uuid), i64> = HashMap::new();
    for e in entries {
        org_ids.push(e.org_id);
        ids.push(e.id);
        user_ids.push(e.user_id);
        kinds.push(e.kind.as_str());
        amounts.push(e.amount_micros);
        counted.push(e.counted);
        device_ids.push(e.device.map(|d| d.0));
        device_seqs.push(e.device.map(|d| d.1));
        hashes.push(e.device.map(|d| d.2));
        versions.push(e.config_version);
        occurred.push(e.occurred_at);
        actors.push(e.actor);
        reasons.push(e.reason);
        reverses.push(e.reverses_id);
        held.push(e.held_id);
        app_ids.push(e.usage.map(|u| u.app_id));
        message_ids.push(e.usage.map(|u| u.message_id.as_str()));
        models.push(e.usage.and_then(|u| u.model.as_deref()));
        let tokens = e.tokens.or_else(|| {
            e.usage.map(|u| {
                (
                    i64::try_from(u.prompt_tokens).unwrap_or(i64::MAX),
                    i64::try_from(u.completion_tokens).unwrap_or(i64::MAX),
                )
            })
        });
        prompts.push(tokens.map(|t| t.0));
        completions.push(tokens.map(|t| t.1));
        usages.push(
            e.usage
                .map(serde_json::to_string)
                .transpose()
                .map_err(|err| ApiError::internal(format!("usage of entry {}: {err}", e.id)))?,
        );
        codes.push(e.redemption_code_id);
        if e.counted {
            let delta = deltas.entry((e.org_id, e.user_id)).or_default();
            *delta = delta
                .checked_add(e.amount_micros)
                .ok_or_else(|| ApiError::bad("overflow", "the amounts overflow a balance"))?;
        }
    }
    sqlx::query(
        "INSERT INTO entries (org_id, id, user_id, kind, amount_micros, counted, device_id, device_seq, \
             content_hash, config_version, occurred_at, actor, reason, reverses_id, held_id, app_id, message_id, \
             model, prompt_tokens, completion_tokens, usage, redemption_code_id) \
         SELECT o, i, u, k, a, c, d, s, h, v, t, ac, r, rv, hd, ap, m, md, p, cp, us::json, rc \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int8[], $6::bool[], $7::uuid[], \
             $8::int8[], $9::text[], $10::int8[], $11::timestamptz[], $12::text[], $13::text[], $14::uuid[], \
             $15::uuid[], $16::uuid[], $17::text[], $18::text[], $19::int8[], $20::int8[], $21::text[], \
             $22::uuid[]) AS x(o, i, u, k, a, c, d, s, h, v, t, ac, r, rv, hd, ap, m, md, p, cp, us, rc)",
    )
    .bind(org_ids)
    .bind(ids)
    .bind(user_ids)
    .bind(kinds)
    .bind(amounts)
    .bind(counted)
    .bind(device_ids)
    .bind(device_seqs)
    .bind(hashes)
    .bind(versions)
    .bind(occurred)
    .bind(actors)
    .bind(reasons)
    .bind(reverses)
    .bind(held)
    .bind(app_ids)
    .bind(message_ids)
    .bind(models)
    .bind(prompts)
    .bind(completions)
    .bind(usages)
    .bind(codes)
    .execute(&mut *tx)
    .await?;
    for ((org_id, user_id), delta) in deltas {
        if delta == 0 {
            continue;
        }
        let updated = sqlx::query(
            "UPDATE users SET balance_micros = balance_micros + $3 WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(delta)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(ApiError::not_found("user", user_id));
        }
    }
    Ok(())
}

/// Locks the user's row for the rest of the transaction and returns the balance.
/// Gives a message's charge key to `entry_id`; `false` when a counted charge of the message holds it.
pub async fn key_charge(
    tx: &mut PgConnection,
    org_id: Uuid,
    app_id: Uuid,
    message_id: &str,
    entry_id: Uuid,
) -> ApiResult<bool> {
    let keyed = sqlx::query(
        "INSERT INTO charge_keys (org_id, app_id, message_id, entry_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT DO NOTHING",
    )
    .bind(org_id)
    .bind(app_id)
    .bind(message_id)
    .bind(entry_id)
    .execute(&mut *tx)
    .await?;
    Ok(keyed.rows_affected() == 1)
}

pub async fn lock_user(tx: &mut PgConnection, org_id: Uuid, user_id: Uuid) -> ApiResult<i64> {
    sqlx::query_scalar("SELECT balance_micros FROM users WHERE org_id = $1 AND id = $2 FOR UPDATE")
        .bind(org_id)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("user", user_id))
}

type EntryRow = (
    Uuid,
    String,
    String,
    i64,
    bool,
    Option<Uuid>,
    Option<i64>,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<Uuid>,
    Option<serde_json::Value>,
    Option<Uuid>,
);

/// The columns [`entry_info`] reads, for queries that list entries (`e` is `entries`, `u` is `users`).
pub const ENTRY_COLUMNS: &str = "e.id, u.name, e.kind, e.amount_micros, e.counted, e.device_id, e.device_seq, \
     e.occurred_at, e.received_at, e.actor, e.reason, e.reverses_id, e.usage, e.redemption_code_id";

/// One row selected with [`ENTRY_COLUMNS`] as the wire type.
pub fn entry_info(row: &sqlx::postgres::PgRow) -> ApiResult<EntryInfo> {
    use sqlx::FromRow;
    let (
        id,
        user,
        kind,
        amount_micros,
        counted,
        device_id,
        device_seq,
        occurred_at,
        received_at,
        actor,
        reason,
        reverses_id,
        usage,
        redemption_code_id,
    ) = EntryRow::from_row(row)?;
    let kind = EntryKind::parse(&kind)
        .ok_or_else(|| ApiError::internal(format!("entry {id} has kind {kind}")))?;
    let usage = usage
        .map(serde_json::from_value::<Usage>)
        .transpose()
        .map_err(|e| ApiError::internal(format!("usage of entry {id}: {e}")))?;
    Ok(EntryInfo {
        id,
        user,
        kind,
        amount_micros,
        counted,
        device_id,
        device_seq,
        occurred_at,
        received_at,
        actor,
        reason,
        reverses_id,
        usage,
        redemption_code_id,
    })
}

pub async fn entry(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> ApiResult<EntryInfo> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM entries e JOIN users u ON u.org_id = e.org_id AND u.id = e.user_id \
         WHERE e.org_id = $1 AND e.id = $2"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found("entry", id))?;
    entry_info(&row)
}
