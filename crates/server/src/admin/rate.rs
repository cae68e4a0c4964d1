//! The exchange rate (credits per USD) and its history.

use axum::extract::State;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgConnection;
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{RateChange, RateInfo, SetRate};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{check_reason, lock_config, parse_rate};
use crate::auth::AdminSession;
use crate::config;
use crate::error::{ApiError, ApiResult, Json};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_rate, set_rate))
}

type RateRow = (Option<Decimal>, Decimal, String, String, DateTime<Utc>, i64);

async fn rate_info(conn: &mut PgConnection, org_id: Uuid) -> ApiResult<RateInfo> {
    let credits_per_usd: Decimal =
        sqlx::query_scalar("SELECT credits_per_usd FROM exchange_rate WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| ApiError::not_found("exchange rate of org", org_id))?;
    let rows: Vec<RateRow> = sqlx::query_as(
        "SELECT old_rate, new_rate, changed_by, reason, changed_at, config_version
           FROM exchange_rate_history WHERE org_id = $1 ORDER BY id DESC",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let history = rows
        .into_iter()
        .map(
            |(old_rate, new_rate, changed_by, reason, changed_at, config_version)| RateChange {
                old_rate: old_rate.map(|rate| rate.normalize()),
                new_rate: new_rate.normalize(),
                changed_by,
                reason,
                changed_at,
                config_version,
            },
        )
        .collect();
    Ok(RateInfo {
        credits_per_usd: credits_per_usd.normalize(),
        history,
    })
}

/// The rate and its changes, newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/rate",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Credits per USD and the history", body = RateInfo),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn show_rate(
    session: AdminSession,
    State(state): State<AppState>,
) -> ApiResult<Json<RateInfo>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(rate_info(&mut conn, session.org_id).await?))
}

/// Sets the rate (credits per USD: above 0, at most 1e9, at most 6 decimals), with a reason, in a new
/// config version.
#[utoipa::path(
    put,
    path = "/v1/admin/rate",
    tag = "admin",
    security(("bearer" = [])),
    request_body = SetRate,
    responses(
        (status = 200, description = "The rate as it now is", body = RateInfo),
        (status = 400, description = "`bad_rate` or `reason_required`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn set_rate(
    session: AdminSession,
    State(state): State<AppState>,
    Json(set): Json<SetRate>,
) -> ApiResult<Json<RateInfo>> {
    let rate = parse_rate(&set.credits_per_usd)?;
    let reason = check_reason(&set.reason)?;
    let mut tx = state.pool.begin().await?;
    lock_config(&mut tx, session.org_id).await?;
    let old: Option<Decimal> = sqlx::query_scalar(
        "SELECT credits_per_usd FROM exchange_rate WHERE org_id = $1 FOR UPDATE",
    )
    .bind(session.org_id)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO exchange_rate (org_id, credits_per_usd, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (org_id) DO UPDATE SET credits_per_usd = $2, updated_by = $3, updated_at = now()",
    )
    .bind(session.org_id)
    .bind(rate)
    .bind(&session.name)
    .execute(&mut *tx)
    .await?;
    let version = config::bump(&mut tx, session.org_id).await?;
    sqlx::query(
        "INSERT INTO exchange_rate_history (org_id, old_rate, new_rate, changed_by, reason, config_version)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(session.org_id)
    .bind(old)
    .bind(rate)
    .bind(&session.name)
    .bind(&reason)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "rate.set",
        json!({
            "old_rate": old.map(|rate| rate.normalize().to_string()),
            "credits_per_usd": rate.to_string(),
            "reason": reason,
            "config_version": version,
        }),
    )
    .await?;
    let info = rate_info(&mut tx, session.org_id).await?;
    tx.commit().await?;
    Ok(Json(info))
}
