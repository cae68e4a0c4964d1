//! Settling Dify's final records against the ledger. Each record is settled in one transaction that
//! makes its entry, its finding and its `settled_at` together, so a run killed at any instant leaves a
//! record either wholly settled or not at all; a finding is unique per (record, kind), so nothing is made
//! twice. Entries are only ever added, never edited:
//! - a counted charge that matches Dify's record: nothing;
//! - one whose tokens or price differ, or that was an estimate: a `true_up` entry of the difference;
//! - no charge, and the session id names a staff member: a `reported_by_dify` charge, and their device is
//!   flagged;
//! - no charge and nobody known: an `unattributed` finding;
//! - a counted charge Dify has no record of, a day on: a `charge_without_record` finding.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, Row};
use tokendesk_sync_proto::admin::EntryKind;
use tokendesk_sync_proto::reconcile::{ConnectionRun, FindingKind};
use uuid::Uuid;

use crate::config;
use crate::entries::{self, NewEntry};
use crate::error::ApiResult;
use crate::pricing::{RecordedReply, price_recorded};
use crate::state::AppState;

/// The statuses after which Dify no longer changes a message (`normal`, `error`) or a workflow run.
const FINAL_STATUSES: [&str; 6] = [
    "normal",
    "error",
    "succeeded",
    "failed",
    "stopped",
    "partial-succeeded",
];
/// Where a studio debugging message comes from (Dify's `from_source`): an editor trying the app, not staff
/// use. Debugging runs of workflows never reach `workflow-app-logs`.
const STUDIO_SOURCE: &str = "console";
/// Records settled per query of the unsettled ones.
const BATCH: i64 = 200;

/// Counts a finding the run added.
fn count(run: &mut ConnectionRun, kind: FindingKind) {
    match kind {
        FindingKind::TrueUp => run.true_ups += 1,
        FindingKind::ReportedByDify => run.reported_by_dify += 1,
        FindingKind::Unattributed => run.unattributed += 1,
        FindingKind::ChargeWithoutRecord => run.charges_without_record += 1,
    }
}

/// One stored record, as settling reads it.
struct StoredRecord {
    app_id: Uuid,
    record_id: String,
    kind: String,
    conversation_id: Option<String>,
    from_source: Option<String>,
    session_id: Option<String>,
    prompt_tokens: i64,
    completion_tokens: i64,
    total_price: Option<Decimal>,
    currency: Option<String>,
    created_at: DateTime<Utc>,
    settled: bool,
}

/// A counted entry of the record's message.
struct MessageEntry {
    id: Uuid,
    user_id: Uuid,
    kind: String,
    amount_micros: i64,
    config_version: Option<i64>,
    occurred_at: DateTime<Utc>,
    prompt_tokens: i64,
    completion_tokens: i64,
    estimated: bool,
}

enum Outcome {
    Settled(Option<FindingKind>),
    /// A held event of the message waits for the admin.
    Held,
    /// A device's charge landed meanwhile: settled by a later run.
    Raced,
}

/// Settles every final record of the connection's apps (or of `app_id`) older than `settle_after`, and
/// counts what it did into `run`.
pub async fn settle(
    state: &AppState,
    org_id: Uuid,
    connection_id: Uuid,
    app_id: Option<Uuid>,
    actor: &str,
    run: &mut ConnectionRun,
) -> ApiResult<()> {
    let settings = &state.reconcile;
    let ripe_before = Utc::now() - settings.settle_after;
    // The last record of the previous batch: held records stay unsettled, so batches move past them.
    let mut after: Option<(DateTime<Utc>, String)> = None;
    loop {
        let batch: Vec<(Uuid, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT r.app_id, r.record_id, r.created_at FROM dify_records r \
             JOIN dify_app_links l ON l.org_id = r.org_id AND l.app_id = r.app_id \
             WHERE r.org_id = $1 AND l.connection_id = $2 AND ($3::uuid IS NULL OR r.app_id = $3) \
               AND r.settled_at IS NULL AND r.created_at < $4 AND r.status = ANY($5) \
               AND ($6::timestamptz IS NULL OR (r.created_at, r.record_id) > ($6, $7)) \
             ORDER BY r.created_at, r.record_id LIMIT $8",
        )
        .bind(org_id)
        .bind(connection_id)
        .bind(app_id)
        .bind(ripe_before)
        .bind(&FINAL_STATUSES[..])
        .bind(after.as_ref().map(|last| last.0))
        .bind(after.as_ref().map(|last| last.1.as_str()))
        .bind(BATCH)
        .fetch_all(&state.pool)
        .await?;
        let Some(last) = batch.last() else { break };
        after = Some((last.2, last.1.clone()));
        for (record_app, record_id, _) in &batch {
            let mut tx = state.pool.begin().await?;
            match settle_record(state, &mut tx, org_id, *record_app, record_id, actor).await? {
                Outcome::Settled(finding) => {
                    tx.commit().await?;
                    run.settled += 1;
                    if let Some(kind) = finding {
                        count(run, kind);
                    }
                }
                Outcome::Held => run.held += 1,
                Outcome::Raced => {}
            }
        }
    }
    run.waiting = sqlx::query_scalar(
        "SELECT COUNT(*) FROM dify_records r \
         JOIN dify_app_links l ON l.org_id = r.org_id AND l.app_id = r.app_id \
         WHERE r.org_id = $1 AND l.connection_id = $2 AND ($3::uuid IS NULL OR r.app_id = $3) \
           AND r.settled_at IS NULL AND (r.created_at >= $4 OR NOT r.status = ANY($5))",
    )
    .bind(org_id)
    .bind(connection_id)
    .bind(app_id)
    .bind(ripe_before)
    .bind(&FINAL_STATUSES[..])
    .fetch_one(&state.pool)
    .await
    .map(|count: i64| count.max(0) as u64)?;
    run.charges_without_record +=
        flag_charges_without_record(state, org_id, connection_id, app_id).await?;
    Ok(())
}

async fn settle_record(
    state: &AppState,
    tx: &mut PgConnection,
    org_id: Uuid,
    app_id: Uuid,
    record_id: &str,
    actor: &str,
) -> ApiResult<Outcome> {
    let Some(record) = lock_record(tx, org_id, app_id, record_id).await? else {
        return Ok(Outcome::Raced);
    };
    if record.settled {
        return Ok(Outcome::Raced);
    }
    if record.from_source.as_deref() == Some(STUDIO_SOURCE) {
        mark_settled(tx, &record, org_id).await?;
        return Ok(Outcome::Settled(None));
    }
    let holds: Vec<String> = sqlx::query_scalar(
        "SELECT status FROM held_events WHERE org_id = $1 AND app_id = $2 AND message_id = $3",
    )
    .bind(org_id)
    .bind(app_id)
    .bind(record_id)
    .fetch_all(&mut *tx)
    .await?;
    if holds.iter().any(|status| status == "pending") {
        return Ok(Outcome::Held);
    }
    let message_entries = message_entries(tx, org_id, &record).await?;
    let outcome = match message_entries.iter().find(|entry| entry.kind == "charge") {
        Some(charge) => Outcome::Settled(
            true_up(state, tx, org_id, &record, charge, &message_entries, actor).await?,
        ),
        // An admin rejected the held reply: it is not charged again.
        None if holds.iter().any(|status| status == "rejected") => Outcome::Settled(None),
        None if !message_entries.is_empty() => Outcome::Settled(None),
        None => report(state, tx, org_id, &record, actor).await?,
    };
    if let Outcome::Settled(_) = outcome {
        mark_settled(tx, &record, org_id).await?;
    }
    Ok(outcome)
}

/// The true-up of a charged reply, when Dify's record differs or the charge was an estimate.
async fn true_up(
    state: &AppState,
    tx: &mut PgConnection,
    org_id: Uuid,
    record: &StoredRecord,
    charge: &MessageEntry,
    message_entries: &[MessageEntry],
    actor: &str,
) -> ApiResult<Option<FindingKind>> {
    // A reversed charge was taken back by an admin; Dify's record does not bring it back.
    if message_entries.iter().any(|entry| entry.kind == "reversal") {
        return Ok(None);
    }
    let net: i64 = message_entries
        .iter()
        .map(|entry| entry.amount_micros)
        .sum();
    let version = match charge.config_version {
        Some(version) => version,
        None => config::current_version(tx, org_id).await?,
    };
    let snapshot = config::snapshot(state, org_id, version).await?;
    let (dify_prompt, dify_completion) = record_tokens(record, Some(charge));
    let reply = recorded_reply(record, dify_prompt, dify_completion);
    let (expected, usage) = match price_recorded(&snapshot, &reply) {
        Ok(priced) => priced,
        Err(why) => {
            let detail = format!("Dify's record could not be priced as the charge was: {why}");
            let finding = Finding {
                kind: FindingKind::TrueUp,
                user_id: Some(charge.user_id),
                device_id: None,
                entry_id: Some(charge.id),
                ledger_micros: Some(-net),
                dify_micros: None,
                detail,
            };
            return insert_finding(tx, org_id, record, &finding).await;
        }
    };
    let tokens_differ =
        (charge.prompt_tokens, charge.completion_tokens) != (dify_prompt, dify_completion);
    let delta = -expected - net;
    if delta == 0 && !tokens_differ && !charge.estimated {
        return Ok(None);
    }
    entries::lock_user(tx, org_id, charge.user_id).await?;
    let detail = format!(
        "Dify recorded {dify_prompt} + {dify_completion} tokens{}; the {} charged {} + {}",
        price_note(record),
        if charge.estimated {
            "device's estimate"
        } else {
            "device"
        },
        charge.prompt_tokens,
        charge.completion_tokens,
    );
    let entry_id = Uuid::now_v7();
    entries::post(
        tx,
        &NewEntry {
            org_id,
            id: entry_id,
            user_id: charge.user_id,
            kind: EntryKind::TrueUp,
            amount_micros: delta,
            counted: true,
            device: None,
            config_version: Some(version),
            occurred_at: charge.occurred_at,
            actor,
            reason: Some(&detail),
            reverses_id: None,
            held_id: None,
            usage: Some(&usage),
            tokens: Some((
                dify_prompt - charge.prompt_tokens,
                dify_completion - charge.completion_tokens,
            )),
            redemption_code_id: None,
        },
    )
    .await?;
    let finding = Finding {
        kind: FindingKind::TrueUp,
        user_id: Some(charge.user_id),
        device_id: None,
        entry_id: Some(entry_id),
        ledger_micros: Some(-net),
        dify_micros: Some(expected),
        detail,
    };
    insert_finding(tx, org_id, record, &finding).await
}

/// A reply no device charged: charged to the staff member Dify names, or listed as unattributed.
/// `None` when a device's charge took the message's key meanwhile.
async fn report(
    state: &AppState,
    tx: &mut PgConnection,
    org_id: Uuid,
    record: &StoredRecord,
    actor: &str,
) -> ApiResult<Outcome> {
    let nothing_served = record.prompt_tokens == 0
        && record.completion_tokens == 0
        && record.total_price.is_none_or(|price| price.is_zero());
    if nothing_served {
        return Ok(Outcome::Settled(None));
    }
    let version = config::current_version(tx, org_id).await?;
    let snapshot = config::snapshot(state, org_id, version).await?;
    let (prompt, completion) = record_tokens(record, None);
    let priced = price_recorded(&snapshot, &recorded_reply(record, prompt, completion));
    let user = match record.session_id.as_deref().map(|id| id.parse::<Uuid>()) {
        Some(Ok(user_id)) => {
            sqlx::query_scalar::<_, String>("SELECT name FROM users WHERE org_id = $1 AND id = $2")
                .bind(org_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|name| (user_id, name))
        }
        _ => None,
    };
    let tokens_note = format!("{prompt} + {completion} tokens{}", price_note(record));
    let Some((user_id, user_name)) = user else {
        let detail = match &record.session_id {
            Some(session) => format!(
                "Dify served {tokens_note} to end user session {session:?}, which is no staff member"
            ),
            None => format!("Dify served {tokens_note} to an end user with no session id"),
        };
        let finding = Finding {
            kind: FindingKind::Unattributed,
            user_id: None,
            device_id: None,
            entry_id: None,
            ledger_micros: None,
            dify_micros: priced.ok().map(|(micros, _)| micros),
            detail,
        };
        return Ok(Outcome::Settled(
            insert_finding(tx, org_id, record, &finding).await?,
        ));
    };
    let device_id = flag_device(tx, org_id, user_id, record.created_at).await?;
    let (micros, usage) = match priced {
        Ok(priced) => priced,
        Err(why) => {
            let finding = Finding {
                kind: FindingKind::ReportedByDify,
                user_id: Some(user_id),
                device_id,
                entry_id: None,
                ledger_micros: None,
                dify_micros: None,
                detail: format!(
                    "Dify served {tokens_note} to {user_name}, no device reported it, and it could not be priced: {why}"
                ),
            };
            return Ok(Outcome::Settled(
                insert_finding(tx, org_id, record, &finding).await?,
            ));
        }
    };
    entries::lock_user(tx, org_id, user_id).await?;
    let entry_id = Uuid::now_v7();
    // The message's key: a device's charge of it that arrives later is kept as a duplicate.
    if !entries::key_charge(tx, org_id, record.app_id, &record.record_id, entry_id).await? {
        return Ok(Outcome::Raced);
    }
    let detail = format!("Dify served {tokens_note} to {user_name}; no device reported it");
    entries::post(
        tx,
        &NewEntry {
            org_id,
            id: entry_id,
            user_id,
            kind: EntryKind::ReportedByDify,
            amount_micros: -micros,
            counted: true,
            device: None,
            config_version: Some(version),
            occurred_at: record.created_at,
            actor,
            reason: Some(&detail),
            reverses_id: None,
            held_id: None,
            usage: Some(&usage),
            tokens: None,
            redemption_code_id: None,
        },
    )
    .await?;
    let finding = Finding {
        kind: FindingKind::ReportedByDify,
        user_id: Some(user_id),
        device_id,
        entry_id: Some(entry_id),
        ledger_micros: None,
        dify_micros: Some(micros),
        detail,
    };
    Ok(Outcome::Settled(
        insert_finding(tx, org_id, record, &finding).await?,
    ))
}

/// The user's device that should have seen a reply at `at` (Dify's whole seconds): enrolled by then, not
/// revoked before, the most recently seen. Its count of unreported replies goes up.
async fn flag_device(
    tx: &mut PgConnection,
    org_id: Uuid,
    user_id: Uuid,
    at: DateTime<Utc>,
) -> ApiResult<Option<Uuid>> {
    let device_id: Option<Uuid> = sqlx::query_scalar(
        "UPDATE devices SET unreported_replies = unreported_replies + 1 \
         WHERE org_id = $1 AND id = (SELECT id FROM devices WHERE org_id = $1 AND user_id = $2 \
             AND date_trunc('second', created_at) <= $3 AND (revoked_at IS NULL OR revoked_at > $3) \
             ORDER BY last_seen DESC NULLS LAST, created_at DESC LIMIT 1) \
         RETURNING id",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(at)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(device_id)
}

/// Counted charges a day old (the connection's `charge_without_record_after`) whose message was due to
/// be read but Dify has no record of.
async fn flag_charges_without_record(
    state: &AppState,
    org_id: Uuid,
    connection_id: Uuid,
    app_id: Option<Uuid>,
) -> ApiResult<u64> {
    let before = Utc::now() - state.reconcile.charge_without_record_after;
    let flagged = sqlx::query(
        "INSERT INTO reconcile_findings (org_id, id, kind, app_id, record_id, user_id, device_id, entry_id, \
             ledger_micros, detail) \
         SELECT e.org_id, gen_random_uuid(), 'charge_without_record', e.app_id, e.message_id, e.user_id, \
                e.device_id, e.id, -e.amount_micros, \
                'a device charged this reply, but Dify has no record of its message' \
         FROM entries e \
         JOIN dify_app_links l ON l.org_id = e.org_id AND l.app_id = e.app_id \
         JOIN dify_connections c ON c.org_id = l.org_id AND c.id = l.connection_id \
         WHERE e.org_id = $1 AND l.connection_id = $2 AND ($3::uuid IS NULL OR e.app_id = $3) \
           AND e.kind = 'charge' AND e.counted AND e.usage->>'side_call' IS NULL \
           AND e.occurred_at >= c.reconcile_from AND e.occurred_at < LEAST($4, l.read_until) \
           AND NOT EXISTS (SELECT 1 FROM dify_records r WHERE r.org_id = e.org_id AND r.app_id = e.app_id \
                               AND r.record_id = e.message_id) \
           AND NOT EXISTS (SELECT 1 FROM entries v WHERE v.org_id = e.org_id AND v.reverses_id = e.id) \
         ON CONFLICT (org_id, app_id, record_id, kind) DO NOTHING",
    )
    .bind(org_id)
    .bind(connection_id)
    .bind(app_id)
    .bind(before)
    .execute(&state.pool)
    .await?;
    Ok(flagged.rows_affected())
}

async fn lock_record(
    tx: &mut PgConnection,
    org_id: Uuid,
    app_id: Uuid,
    record_id: &str,
) -> ApiResult<Option<StoredRecord>> {
    let row = sqlx::query(
        "SELECT app_id, record_id, kind, conversation_id, from_source, session_id, prompt_tokens, \
                completion_tokens, total_price, currency, created_at, settled_at IS NOT NULL AS settled \
         FROM dify_records WHERE org_id = $1 AND app_id = $2 AND record_id = $3 FOR UPDATE",
    )
    .bind(org_id)
    .bind(app_id)
    .bind(record_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(StoredRecord {
        app_id: row.try_get("app_id")?,
        record_id: row.try_get("record_id")?,
        kind: row.try_get("kind")?,
        conversation_id: row.try_get("conversation_id")?,
        from_source: row.try_get("from_source")?,
        session_id: row.try_get("session_id")?,
        prompt_tokens: row.try_get("prompt_tokens")?,
        completion_tokens: row.try_get("completion_tokens")?,
        total_price: row.try_get("total_price")?,
        currency: row.try_get("currency")?,
        created_at: row.try_get("created_at")?,
        settled: row.try_get("settled")?,
    }))
}

/// The counted entries of the record's message: its charge, reversals, true-ups and reported charge.
async fn message_entries(
    tx: &mut PgConnection,
    org_id: Uuid,
    record: &StoredRecord,
) -> ApiResult<Vec<MessageEntry>> {
    let rows = sqlx::query(
        "SELECT id, user_id, kind, amount_micros, config_version, occurred_at, \
                COALESCE(prompt_tokens, 0) AS prompt_tokens, COALESCE(completion_tokens, 0) AS completion_tokens, \
                COALESCE((usage->>'estimated')::boolean, false) AS estimated \
         FROM entries WHERE org_id = $1 AND app_id = $2 AND message_id = $3 AND counted \
         ORDER BY occurred_at, id",
    )
    .bind(org_id)
    .bind(record.app_id)
    .bind(&record.record_id)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(MessageEntry {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                kind: row.try_get("kind")?,
                amount_micros: row.try_get("amount_micros")?,
                config_version: row.try_get("config_version")?,
                occurred_at: row.try_get("occurred_at")?,
                prompt_tokens: row.try_get("prompt_tokens")?,
                completion_tokens: row.try_get("completion_tokens")?,
                estimated: row.try_get("estimated")?,
            })
        })
        .collect()
}

/// Dify's tokens as (prompt, completion). A workflow run has only its total: it is split as the device
/// split it, or counted as completion when no device charged it.
fn record_tokens(record: &StoredRecord, charge: Option<&MessageEntry>) -> (i64, i64) {
    if record.kind != "workflow_run" {
        return (record.prompt_tokens, record.completion_tokens);
    }
    let total = record.prompt_tokens + record.completion_tokens;
    let prompt = charge.map_or(0, |charge| charge.prompt_tokens.clamp(0, total));
    (prompt, total - prompt)
}

fn recorded_reply(record: &StoredRecord, prompt: i64, completion: i64) -> RecordedReply<'_> {
    RecordedReply {
        app_id: record.app_id,
        message_id: &record.record_id,
        conversation_id: record.conversation_id.as_deref(),
        prompt_tokens: prompt.max(0) as u64,
        completion_tokens: completion.max(0) as u64,
        dify_total_price: record.total_price,
        dify_currency: record.currency.as_deref(),
    }
}

/// ` (0.0012 USD)` when Dify priced the reply.
fn price_note(record: &StoredRecord) -> String {
    match (&record.total_price, &record.currency) {
        (Some(price), Some(currency)) if !price.is_zero() => format!(" ({price} {currency})"),
        _ => String::new(),
    }
}

struct Finding {
    kind: FindingKind,
    user_id: Option<Uuid>,
    device_id: Option<Uuid>,
    entry_id: Option<Uuid>,
    ledger_micros: Option<i64>,
    dify_micros: Option<i64>,
    detail: String,
}

/// Records a finding once; `None` when the record already has one of this kind.
async fn insert_finding(
    tx: &mut PgConnection,
    org_id: Uuid,
    record: &StoredRecord,
    finding: &Finding,
) -> ApiResult<Option<FindingKind>> {
    let inserted = sqlx::query(
        "INSERT INTO reconcile_findings (org_id, id, kind, app_id, record_id, user_id, device_id, entry_id, \
             ledger_micros, dify_micros, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (org_id, app_id, record_id, kind) DO NOTHING",
    )
    .bind(org_id)
    .bind(Uuid::now_v7())
    .bind(finding.kind.as_str())
    .bind(record.app_id)
    .bind(&record.record_id)
    .bind(finding.user_id)
    .bind(finding.device_id)
    .bind(finding.entry_id)
    .bind(finding.ledger_micros)
    .bind(finding.dify_micros)
    .bind(&finding.detail)
    .execute(&mut *tx)
    .await?;
    Ok((inserted.rows_affected() == 1).then_some(finding.kind))
}

async fn mark_settled(tx: &mut PgConnection, record: &StoredRecord, org_id: Uuid) -> ApiResult<()> {
    sqlx::query(
        "UPDATE dify_records SET settled_at = now() WHERE org_id = $1 AND app_id = $2 AND record_id = $3",
    )
    .bind(org_id)
    .bind(record.app_id)
    .bind(&record.record_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
