//! Enrolled devices and their revocation.

use axum::extract::{Path, State};
use serde_json::json;
use sqlx::{PgConnection, Row};
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::DeviceInfo;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::parse_id;
use crate::auth::AdminSession;
use crate::config;
use crate::error::{ApiError, ApiResult, Json};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_devices))
        .routes(routes!(revoke_device))
}

const DEVICE_COLUMNS: &str =
    "SELECT d.id, u.name AS user_name, d.name, d.revoked, d.last_seen, d.clock_skew_ms,
        d.last_seq, d.created_at, d.unreported_replies
   FROM devices d JOIN users u ON u.org_id = d.org_id AND u.id = d.user_id
  WHERE d.org_id = $1";

fn device_info(row: &sqlx::postgres::PgRow) -> Result<DeviceInfo, sqlx::Error> {
    Ok(DeviceInfo {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        name: row.try_get("name")?,
        revoked: row.try_get("revoked")?,
        last_seen: row.try_get("last_seen")?,
        clock_skew_ms: row.try_get("clock_skew_ms")?,
        last_seq: row.try_get("last_seq")?,
        created_at: row.try_get("created_at")?,
        unreported_replies: row.try_get("unreported_replies")?,
    })
}

async fn device(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> ApiResult<DeviceInfo> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{DEVICE_COLUMNS} AND d.id = $2"
    )))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("device", id))?;
    Ok(device_info(&row)?)
}

/// Every device, revoked ones included, by user and name.
#[utoipa::path(
    get,
    path = "/v1/admin/devices",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every device", body = Vec<DeviceInfo>),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_devices(
    session: AdminSession,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<DeviceInfo>>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{DEVICE_COLUMNS} ORDER BY u.name, d.name, d.created_at"
    )))
    .bind(session.org_id)
    .fetch_all(&state.pool)
    .await?;
    let devices = rows.iter().map(device_info).collect::<Result<_, _>>()?;
    Ok(Json(devices))
}

/// Revokes a device: its token is refused from now on and its open lease is voided in the same
/// transaction, so what it may still spend offline is what it had already used. Revoking twice is a no-op.
#[utoipa::path(
    post,
    path = "/v1/admin/devices/{id}/revoke",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The device, revoked", body = DeviceInfo),
        (status = 400, description = "`bad_id`: not a UUID", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
    )
)]
async fn revoke_device(
    session: AdminSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeviceInfo>> {
    let id = parse_id("device", &id)?;
    let mut tx = state.pool.begin().await?;
    let revoked = sqlx::query(
        "UPDATE devices SET revoked = true, revoked_at = COALESCE(revoked_at, now())
          WHERE org_id = $1 AND id = $2",
    )
    .bind(session.org_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if revoked.rows_affected() == 0 {
        return Err(ApiError::not_found("device", id));
    }
    let lease: Option<i64> = sqlx::query_scalar(
        "DELETE FROM leases WHERE org_id = $1 AND device_id = $2 RETURNING amount_micros",
    )
    .bind(session.org_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let info = device(&mut tx, session.org_id, id).await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "device.revoke",
        json!({ "device": id, "user": info.user, "name": info.name, "voided_lease_micros": lease }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(info))
}
