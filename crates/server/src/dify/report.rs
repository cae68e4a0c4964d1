//! The reconciliation report: per app and day (each workspace's zone), Dify's own totals against the
//! ledger's, and the findings of those days with Dify's record of each.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::Row;
use tokendesk_sync_proto::reconcile::{
    DailyControl, DifyRecordInfo, FindingInfo, FindingKind, Reconciliation, ReconciliationQuery,
};
use uuid::Uuid;

use crate::entries::SPEND_FILTER;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Days shown when the query names none.
const DEFAULT_DAYS: i64 = 7;
/// The longest range one report covers.
const MAX_DAYS: i64 = 366;
/// The most findings one report lists, newest first.
const MAX_FINDINGS: i64 = 5000;

pub async fn reconciliation(
    state: &AppState,
    org_id: Uuid,
    query: &ReconciliationQuery,
) -> ApiResult<Reconciliation> {
    let to = query.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = query
        .from
        .unwrap_or_else(|| to - chrono::Days::new(DEFAULT_DAYS as u64 - 1));
    if from > to || (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::bad(
            "bad_range",
            format!(
                "from ({from}) must not be after to ({to}), and at most {MAX_DAYS} days before it"
            ),
        ));
    }
    Ok(Reconciliation {
        days: days(state, org_id, query.app_id, from, to).await?,
        findings: findings(state, org_id, query.app_id, from, to).await?,
    })
}

type DayKey = (String, Uuid, NaiveDate);

async fn days(
    state: &AppState,
    org_id: Uuid,
    app_id: Option<Uuid>,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Vec<DailyControl>> {
    let mut days: BTreeMap<DayKey, DailyControl> = BTreeMap::new();
    // A charge counts on the day Dify counts its message (the message's creation), so a reply that
    // ends after midnight lands on Dify's day; a charge Dify has no record of, on its own day.
    let day =
        "(COALESCE(d.created_at, r.occurred_at, e.occurred_at) AT TIME ZONE c.time_zone)::date";
    let ledger_sql = format!(
        "SELECT a.name, a.id, {day} AS day, \
                SUM(CASE WHEN e.kind = 'reversal' THEN -1 ELSE 1 END \
                    * (COALESCE(e.prompt_tokens, 0) + COALESCE(e.completion_tokens, 0)))::BIGINT AS tokens, \
                (-SUM(e.amount_micros))::BIGINT AS micros \
         FROM entries e \
         LEFT JOIN entries r ON r.org_id = e.org_id AND r.id = e.reverses_id \
         JOIN dify_app_links l ON l.org_id = e.org_id AND l.app_id = e.app_id \
         JOIN dify_connections c ON c.org_id = l.org_id AND c.id = l.connection_id \
         JOIN dify_apps a ON a.org_id = e.org_id AND a.id = e.app_id \
         LEFT JOIN dify_records d ON d.org_id = e.org_id AND d.app_id = e.app_id \
                                 AND d.record_id = COALESCE(e.message_id, r.message_id) \
         WHERE e.org_id = $1 AND {SPEND_FILTER} AND ($2::uuid IS NULL OR e.app_id = $2) \
           AND COALESCE(e.usage, r.usage)->>'side_call' IS NULL \
           AND {day} BETWEEN $3 AND $4 \
         GROUP BY 1, 2, 3"
    );
    let ledger: Vec<(String, Uuid, NaiveDate, i64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(ledger_sql))
            .bind(org_id)
            .bind(app_id)
            .bind(from)
            .bind(to)
            .fetch_all(&state.pool)
            .await?;
    for (name, app, day, tokens, micros) in ledger {
        let control = days
            .entry((name.clone(), app, day))
            .or_insert_with(|| empty_day(name, app, day));
        control.ledger_tokens = tokens;
        control.ledger_micros = micros;
    }
    let dify: Vec<(String, Uuid, NaiveDate, i64, Decimal, String)> = sqlx::query_as(
        "SELECT a.name, a.id, d.day, d.token_count, d.total_price, d.currency FROM dify_daily_costs d \
         JOIN dify_apps a ON a.org_id = d.org_id AND a.id = d.app_id \
         WHERE d.org_id = $1 AND ($2::uuid IS NULL OR d.app_id = $2) AND d.day BETWEEN $3 AND $4",
    )
    .bind(org_id)
    .bind(app_id)
    .bind(from)
    .bind(to)
    .fetch_all(&state.pool)
    .await?;
    for (name, app, day, tokens, price, currency) in dify {
        let control = days
            .entry((name.clone(), app, day))
            .or_insert_with(|| empty_day(name, app, day));
        control.dify_tokens = Some(tokens);
        control.dify_price = Some(price.normalize());
        control.dify_currency = Some(currency);
    }
    Ok(days
        .into_values()
        .map(|mut control| {
            control.token_gap = control
                .dify_tokens
                .map(|tokens| tokens - control.ledger_tokens);
            control
        })
        .collect())
}

fn empty_day(app_name: String, app_id: Uuid, day: NaiveDate) -> DailyControl {
    DailyControl {
        app_id,
        app_name,
        day,
        dify_tokens: None,
        dify_price: None,
        dify_currency: None,
        ledger_tokens: 0,
        ledger_micros: 0,
        token_gap: None,
    }
}

async fn findings(
    state: &AppState,
    org_id: Uuid,
    app_id: Option<Uuid>,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Vec<FindingInfo>> {
    let rows = sqlx::query(
        "SELECT f.id, f.kind, f.app_id, a.name AS app_name, u.name AS user_name, f.device_id, f.entry_id, \
                f.ledger_micros, f.dify_micros, f.detail, f.found_at, f.record_id, \
                r.record_id IS NOT NULL AS has_record, r.kind AS record_kind, r.conversation_id, r.from_source, \
                r.session_id, r.status, r.prompt_tokens, r.completion_tokens, r.total_price, r.currency, \
                r.created_at \
         FROM reconcile_findings f \
         JOIN dify_apps a ON a.org_id = f.org_id AND a.id = f.app_id \
         LEFT JOIN users u ON u.org_id = f.org_id AND u.id = f.user_id \
         LEFT JOIN dify_records r ON r.org_id = f.org_id AND r.app_id = f.app_id AND r.record_id = f.record_id \
         LEFT JOIN entries e ON e.org_id = f.org_id AND e.id = f.entry_id \
         LEFT JOIN dify_app_links l ON l.org_id = f.org_id AND l.app_id = f.app_id \
         LEFT JOIN dify_connections c ON c.org_id = l.org_id AND c.id = l.connection_id \
         WHERE f.org_id = $1 AND ($2::uuid IS NULL OR f.app_id = $2) \
           AND (COALESCE(r.created_at, e.occurred_at, f.found_at) AT TIME ZONE COALESCE(c.time_zone, 'UTC'))::date \
               BETWEEN $3 AND $4 \
         ORDER BY f.found_at DESC, f.id DESC LIMIT $5",
    )
    .bind(org_id)
    .bind(app_id)
    .bind(from)
    .bind(to)
    .bind(MAX_FINDINGS)
    .fetch_all(&state.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let kind = FindingKind::parse(&kind)
                .ok_or_else(|| ApiError::internal(format!("finding kind {kind}")))?;
            let record = if row.try_get("has_record")? {
                Some(DifyRecordInfo {
                    record_id: row.try_get("record_id")?,
                    kind: row.try_get("record_kind")?,
                    conversation_id: row.try_get("conversation_id")?,
                    from_source: row.try_get("from_source")?,
                    session_id: row.try_get("session_id")?,
                    status: row.try_get("status")?,
                    prompt_tokens: row.try_get("prompt_tokens")?,
                    completion_tokens: row.try_get("completion_tokens")?,
                    total_price: row
                        .try_get::<Option<Decimal>, _>("total_price")?
                        .map(|price| price.normalize()),
                    currency: row.try_get("currency")?,
                    created_at: row.try_get("created_at")?,
                })
            } else {
                None
            };
            Ok(FindingInfo {
                id: row.try_get("id")?,
                kind,
                app_id: row.try_get("app_id")?,
                app_name: row.try_get("app_name")?,
                user: row.try_get("user_name")?,
                device_id: row.try_get("device_id")?,
                entry_id: row.try_get("entry_id")?,
                ledger_micros: row.try_get("ledger_micros")?,
                dify_micros: row.try_get("dify_micros")?,
                detail: row.try_get("detail")?,
                found_at: row.try_get("found_at")?,
                record,
                record_id: row.try_get("record_id")?,
            })
        })
        .collect()
}
