//! Redemption codes: an admin makes a batch of single-use codes worth a fixed amount and hands them out;
//! a staff member redeems one from their desktop (`POST /v1/redeem`), which posts a `redemption` entry.

use axum::extract::State;
use chrono::{Duration, Utc};
use serde_json::json;
use sqlx::Row;
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{
    NewRedemptionCode, NewRedemptionCodes, RedemptionBatch, RedemptionCodeInfo,
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Limit, check_reason, parse_credits};
use crate::auth::{self, AdminSession};
use crate::config;
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::state::AppState;

/// The most codes one batch makes.
const MAX_BATCH: u32 = 1000;
/// The longest a code may wait to be redeemed, when it expires at all.
const MAX_VALID_DAYS: u32 = 3660;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_codes, add_codes))
}

/// Makes `count` codes worth `amount` credits each. The codes are in this answer only: the server keeps
/// their hashes.
#[utoipa::path(
    post,
    path = "/v1/admin/redemption-codes",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewRedemptionCodes,
    responses(
        (status = 200, description = "The batch, its codes shown once", body = RedemptionBatch),
        (status = 400, description = "`bad_count`, `bad_amount`, `bad_days` or `reason_required`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn add_codes(
    session: AdminSession,
    State(state): State<AppState>,
    Json(new): Json<NewRedemptionCodes>,
) -> ApiResult<Json<RedemptionBatch>> {
    if !(1..=MAX_BATCH).contains(&new.count) {
        return Err(ApiError::bad(
            "bad_count",
            format!("a batch has 1 to {MAX_BATCH} codes"),
        ));
    }
    let amount_micros = parse_credits("amount", &new.amount)?;
    if amount_micros <= 0 {
        return Err(ApiError::bad(
            "bad_amount",
            "a code is worth more than 0 credits",
        ));
    }
    let reason = check_reason(&new.reason)?;
    let expires_at = match new.valid_days {
        None => None,
        Some(days) if (1..=MAX_VALID_DAYS).contains(&days) => {
            Some(Utc::now() + Duration::days(i64::from(days)))
        }
        Some(_) => {
            return Err(ApiError::bad(
                "bad_days",
                format!("codes are valid for 1 to {MAX_VALID_DAYS} days, or until redeemed"),
            ));
        }
    };
    let batch_id = Uuid::now_v7();
    let codes: Vec<NewRedemptionCode> = (0..new.count)
        .map(|_| NewRedemptionCode {
            id: Uuid::now_v7(),
            code: auth::new_redemption_code(),
        })
        .collect();
    let ids: Vec<Uuid> = codes.iter().map(|code| code.id).collect();
    let hashes: Vec<String> = codes
        .iter()
        .map(|code| auth::hash_typed_code(&code.code))
        .collect();
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "INSERT INTO redemption_codes (org_id, id, batch_id, code_hash, amount_micros, reason, created_by, \
             expires_at) \
         SELECT $1, id, $3, hash, $5, $6, $7, $8 FROM UNNEST($2::uuid[], $4::text[]) AS x(id, hash)",
    )
    .bind(session.org_id)
    .bind(&ids)
    .bind(batch_id)
    .bind(&hashes)
    .bind(amount_micros)
    .bind(&reason)
    .bind(&session.name)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "redemption_codes.create",
        json!({ "batch_id": batch_id, "count": new.count, "amount_micros": amount_micros,
                "reason": reason, "expires_at": expires_at }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(RedemptionBatch {
        batch_id,
        amount_micros,
        expires_at,
        codes,
    }))
}

/// The org's codes, newest first, with who redeemed them (never the codes themselves).
#[utoipa::path(
    get,
    path = "/v1/admin/redemption-codes",
    tag = "admin",
    security(("bearer" = [])),
    params(Limit),
    responses(
        (status = 200, description = "The codes, newest first", body = Vec<RedemptionCodeInfo>),
        (status = 400, description = "`bad_query`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_codes(
    session: AdminSession,
    State(state): State<AppState>,
    Query(limit): Query<Limit>,
) -> ApiResult<Json<Vec<RedemptionCodeInfo>>> {
    let rows = sqlx::query(
        "SELECT c.id, c.batch_id, c.amount_micros, c.reason, c.created_by, c.created_at, c.expires_at, \
                u.name AS redeemed_by, c.redeemed_at, c.entry_id \
         FROM redemption_codes c LEFT JOIN users u ON u.org_id = c.org_id AND u.id = c.redeemed_by \
         WHERE c.org_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT $2",
    )
    .bind(session.org_id)
    .bind(limit.get())
    .fetch_all(&state.pool)
    .await?;
    let codes = rows
        .iter()
        .map(|row| {
            Ok(RedemptionCodeInfo {
                id: row.try_get("id")?,
                batch_id: row.try_get("batch_id")?,
                amount_micros: row.try_get("amount_micros")?,
                reason: row.try_get("reason")?,
                created_by: row.try_get("created_by")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                redeemed_by: row.try_get("redeemed_by")?,
                redeemed_at: row.try_get("redeemed_at")?,
                entry_id: row.try_get("entry_id")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(Json(codes))
}
