//! Held and quarantined events, and an admin's decision on each: an approval charges the server's price.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use sqlx::{PgConnection, Row};
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{Decision, EntryKind, HeldInfo, HeldStatus};
use tokendesk_sync_proto::device::{ConfigSnapshot, HoldReason, SideCall, Usage};
use tokendesk_sync_proto::money::{Pricing, usd_for_tokens};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{check_note, clamp_limit, decoded, parse_id};
use crate::auth::AdminSession;
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::state::AppState;
use crate::{config, entries, pricing};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_held))
        .routes(routes!(approve))
        .routes(routes!(reject))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct HeldQuery {
    /// Decided events too; pending ones only when left out.
    all: Option<bool>,
    /// 1 to 1000; 100 when left out.
    limit: Option<i64>,
}

fn status_name(status: HeldStatus) -> &'static str {
    match status {
        HeldStatus::Pending => "pending",
        HeldStatus::Approved => "approved",
        HeldStatus::Rejected => "rejected",
    }
}

fn parse_status(text: &str) -> Option<HeldStatus> {
    [
        HeldStatus::Pending,
        HeldStatus::Approved,
        HeldStatus::Rejected,
    ]
    .into_iter()
    .find(|status| status_name(*status) == text)
}

/// `entry_id` is the approval's charge once approved, else the quarantined device entry (if any).
const HELD_COLUMNS: &str = "SELECT h.id, h.reason, h.detail, u.name AS user_name, h.device_id, h.app_id, h.message_id,
        h.device_amount_micros, h.server_amount_micros, h.status, h.received_at, h.decided_by, h.decided_at,
        h.note, COALESCE(h.settled_entry_id, h.entry_id) AS entry_id
   FROM held_events h JOIN users u ON u.org_id = h.org_id AND u.id = h.user_id
  WHERE h.org_id = $1";

fn held_info(row: &sqlx::postgres::PgRow) -> Result<HeldInfo, sqlx::Error> {
    let reason: String = row.try_get("reason")?;
    let status: String = row.try_get("status")?;
    Ok(HeldInfo {
        id: row.try_get("id")?,
        reason: decoded(HoldReason::parse(&reason), "hold reason", &reason)?,
        detail: row.try_get("detail")?,
        user: row.try_get("user_name")?,
        device_id: row.try_get("device_id")?,
        app_id: row.try_get("app_id")?,
        message_id: row.try_get("message_id")?,
        device_amount_micros: row.try_get("device_amount_micros")?,
        server_amount_micros: row.try_get("server_amount_micros")?,
        status: decoded(parse_status(&status), "held status", &status)?,
        received_at: row.try_get("received_at")?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        note: row.try_get("note")?,
        entry_id: row.try_get("entry_id")?,
    })
}

async fn held(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> ApiResult<HeldInfo> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{HELD_COLUMNS} AND h.id = $2")))
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found("held event", id))?;
    Ok(held_info(&row)?)
}

/// What an approval prices and charges, read from a held event that is still pending.
struct Pending {
    user_id: Uuid,
    config_version: i64,
    app_id: Uuid,
    message_id: String,
    prompt_tokens: u64,
    completion_tokens: u64,
    estimated: bool,
    dify_total_price: Option<Decimal>,
    dify_currency: Option<String>,
    received_at: DateTime<Utc>,
    side_call: Option<SideCall>,
}

/// Locks the held event for the decision; 409 `already_decided` unless it is pending.
async fn lock_pending(tx: &mut PgConnection, org_id: Uuid, id: Uuid) -> ApiResult<Pending> {
    let row = sqlx::query(
        "SELECT status, user_id, config_version, app_id, message_id, prompt_tokens, completion_tokens, estimated,
                dify_total_price, dify_currency, received_at, side_call
           FROM held_events WHERE org_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("held event", id))?;
    let status: String = row.try_get("status")?;
    if status != status_name(HeldStatus::Pending) {
        return Err(ApiError::conflict(
            "already_decided",
            format!("held event {id} is {status} already"),
        ));
    }
    let tokens = |column: &str| -> ApiResult<u64> {
        let count: i64 = row.try_get(column)?;
        u64::try_from(count)
            .map_err(|_| ApiError::internal(format!("held event {id} has {count} {column}")))
    };
    Ok(Pending {
        user_id: row.try_get("user_id")?,
        config_version: row.try_get("config_version")?,
        app_id: row.try_get("app_id")?,
        message_id: row.try_get("message_id")?,
        prompt_tokens: tokens("prompt_tokens")?,
        completion_tokens: tokens("completion_tokens")?,
        estimated: row.try_get("estimated")?,
        dify_total_price: row.try_get("dify_total_price")?,
        dify_currency: row.try_get("dify_currency")?,
        received_at: row.try_get("received_at")?,
        side_call: row
            .try_get::<Option<String>, _>("side_call")?
            .map(|kind| decoded(SideCall::parse(&kind), "side call", &kind))
            .transpose()?,
    })
}

/// The usage snapshot of an approval's charge: what the server priced, at the event's config version.
fn approval_usage(snapshot: &ConfigSnapshot, held: &Pending) -> ApiResult<Usage> {
    let app = snapshot.app(held.app_id).ok_or_else(|| {
        ApiError::internal(format!("app {} vanished from its snapshot", held.app_id))
    })?;
    // A side call priced free or fixed went by no model, as the device records it.
    let by_tokens = snapshot.policy.prices_by_tokens(held.side_call);
    let model = match app.pricing {
        Pricing::Model if by_tokens => app.model.as_deref().and_then(|name| snapshot.model(name)),
        Pricing::Model | Pricing::DifyPrice => None,
    };
    let usd_cost = match model {
        Some(model) => usd_for_tokens(held.prompt_tokens, held.completion_tokens, &model.price),
        None if by_tokens => held.dify_total_price,
        None => None,
    };
    Ok(Usage {
        app_id: app.id,
        app_name: app.name.clone(),
        message_id: held.message_id.clone(),
        conversation_id: None,
        pricing: app.pricing,
        model: model.map(|model| model.name.clone()),
        prompt_tokens: held.prompt_tokens,
        completion_tokens: held.completion_tokens,
        price: model.map(|model| model.price),
        credits_per_usd: snapshot.credits_per_usd,
        usd_cost: usd_cost.unwrap_or_default(),
        dify_total_price: held.dify_total_price,
        dify_currency: held.dify_currency.clone(),
        estimated: held.estimated,
        side_call: held.side_call,
    })
}

/// An optional note: blank means none.
fn decision_note(decision: &Decision) -> ApiResult<Option<String>> {
    let note = check_note(decision.note.as_deref().unwrap_or_default())?;
    Ok((!note.is_empty()).then_some(note))
}

/// Held and quarantined events, newest first: pending ones unless `all=true`.
#[utoipa::path(
    get,
    path = "/v1/admin/held",
    tag = "admin",
    security(("bearer" = [])),
    params(HeldQuery),
    responses(
        (status = 200, description = "The events, newest first", body = Vec<HeldInfo>),
        (status = 400, description = "`bad_query`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_held(
    session: AdminSession,
    State(state): State<AppState>,
    Query(query): Query<HeldQuery>,
) -> ApiResult<Json<Vec<HeldInfo>>> {
    let sql = format!(
        "{HELD_COLUMNS} AND ($2 OR h.status = 'pending') ORDER BY h.received_at DESC, h.id DESC LIMIT $3"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(session.org_id)
        .bind(query.all.unwrap_or(false))
        .bind(clamp_limit(query.limit))
        .fetch_all(&state.pool)
        .await?;
    let list = rows.iter().map(held_info).collect::<Result<_, _>>()?;
    Ok(Json(list))
}

/// Approves a pending event: charges the user what the server's prices said at the event's config
/// version (never the device's amount), as a counted charge by this admin, once per (app, message).
#[utoipa::path(
    post,
    path = "/v1/admin/held/{id}/approve",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The held event's id")),
    request_body = Decision,
    responses(
        (status = 200, description = "The event, approved, with the charge's id", body = HeldInfo),
        (status = 400, description = "`bad_id`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such held event", body = ErrorBody),
        (status = 409, description = "`already_decided`, `already_charged` (the message has a counted charge) or `unpriceable`", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn approve(
    session: AdminSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(decision): Json<Decision>,
) -> ApiResult<Json<HeldInfo>> {
    let id = parse_id("held event", &id)?;
    let note = decision_note(&decision)?;
    let mut tx = state.pool.begin().await?;
    let pending = lock_pending(&mut tx, session.org_id, id).await?;
    let snapshot = config::snapshot(&state, session.org_id, pending.config_version).await?;
    let amount_micros = pricing::price_event(
        &snapshot,
        pending.app_id,
        pending.side_call,
        pending.prompt_tokens,
        pending.completion_tokens,
        pending.dify_total_price,
        pending.dify_currency.as_deref(),
    )
    .map_err(|why| {
        ApiError::conflict(
            "unpriceable",
            format!("the server cannot price this event ({why}); reject it and adjust the balance instead"),
        )
    })?;
    let usage = approval_usage(&snapshot, &pending)?;
    let entry_id = Uuid::now_v7();
    let keyed = entries::key_charge(
        &mut tx,
        session.org_id,
        pending.app_id,
        &pending.message_id,
        entry_id,
    )
    .await?;
    if !keyed {
        return Err(ApiError::conflict(
            "already_charged",
            format!(
                "message {} of this app has a counted charge already",
                pending.message_id
            ),
        ));
    }
    let balance = entries::lock_user(&mut tx, session.org_id, pending.user_id).await?;
    let reason = note
        .clone()
        .unwrap_or_else(|| format!("held event {id} approved"));
    entries::post(
        &mut tx,
        &entries::NewEntry {
            id: entry_id,
            org_id: session.org_id,
            user_id: pending.user_id,
            kind: EntryKind::Charge,
            amount_micros: -amount_micros,
            counted: true,
            device: None,
            config_version: Some(pending.config_version),
            // The usage happened when the device held it, not when the admin decided.
            occurred_at: pending.received_at,
            actor: &session.name,
            reason: Some(&reason),
            reverses_id: None,
            held_id: Some(id),
            usage: Some(&usage),
            tokens: None,
            redemption_code_id: None,
        },
    )
    .await?;
    sqlx::query(
        "UPDATE held_events SET status = 'approved', decided_by = $3, decided_at = now(), note = $4,
                settled_entry_id = $5, server_amount_micros = $6
          WHERE org_id = $1 AND id = $2",
    )
    .bind(session.org_id)
    .bind(id)
    .bind(&session.name)
    .bind(&note)
    .bind(entry_id)
    .bind(amount_micros)
    .execute(&mut *tx)
    .await?;
    let info = held(&mut tx, session.org_id, id).await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "held.approve",
        json!({
            "held": id,
            "user": info.user,
            "reason": info.reason.as_str(),
            "amount_micros": -amount_micros,
            "balance_micros": balance.saturating_sub(amount_micros),
            "entry": entry_id,
            "config_version": pending.config_version,
            "note": note,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(info))
}

/// Rejects a pending event: nothing is charged, and the decision is kept.
#[utoipa::path(
    post,
    path = "/v1/admin/held/{id}/reject",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The held event's id")),
    request_body = Decision,
    responses(
        (status = 200, description = "The event, rejected", body = HeldInfo),
        (status = 400, description = "`bad_id`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such held event", body = ErrorBody),
        (status = 409, description = "`already_decided`", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn reject(
    session: AdminSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(decision): Json<Decision>,
) -> ApiResult<Json<HeldInfo>> {
    let id = parse_id("held event", &id)?;
    let note = decision_note(&decision)?;
    let mut tx = state.pool.begin().await?;
    lock_pending(&mut tx, session.org_id, id).await?;
    sqlx::query(
        "UPDATE held_events SET status = 'rejected', decided_by = $3, decided_at = now(), note = $4
          WHERE org_id = $1 AND id = $2",
    )
    .bind(session.org_id)
    .bind(id)
    .bind(&session.name)
    .bind(&note)
    .execute(&mut *tx)
    .await?;
    let info = held(&mut tx, session.org_id, id).await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "held.reject",
        json!({ "held": id, "user": info.user, "reason": info.reason.as_str(), "note": note }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_written() {
        for status in [
            HeldStatus::Pending,
            HeldStatus::Approved,
            HeldStatus::Rejected,
        ] {
            assert_eq!(parse_status(status_name(status)), Some(status));
        }
        assert_eq!(parse_status("Pending"), None);
    }

    #[test]
    fn a_blank_note_is_none() {
        assert_eq!(
            decision_note(&Decision {
                note: Some("  ".into())
            })
            .unwrap(),
            None
        );
        assert_eq!(decision_note(&Decision::default()).unwrap(), None);
        assert_eq!(
            decision_note(&Decision {
                note: Some(" ok ".into())
            })
            .unwrap()
            .as_deref(),
            Some("ok")
        );
    }
}
