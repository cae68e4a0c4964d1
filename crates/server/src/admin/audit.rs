//! The audit trail: every admin action with the values it set.

use axum::extract::State;
use chrono::{DateTime, Utc};
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::AuditRecord;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::Limit;
use crate::auth::AdminSession;
use crate::error::{ApiResult, Json, Query};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// The latest admin actions, newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/audit",
    tag = "admin",
    security(("bearer" = [])),
    params(Limit),
    responses(
        (status = 200, description = "The actions, newest first", body = Vec<AuditRecord>),
        (status = 400, description = "`bad_query`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_audit(
    session: AdminSession,
    State(state): State<AppState>,
    Query(limit): Query<Limit>,
) -> ApiResult<Json<Vec<AuditRecord>>> {
    let rows: Vec<(i64, String, String, serde_json::Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, actor, action, detail, at FROM audit WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(session.org_id)
    .bind(limit.get())
    .fetch_all(&state.pool)
    .await?;
    let records = rows
        .into_iter()
        .map(|(id, actor, action, detail, at)| AuditRecord {
            id,
            actor,
            action,
            detail,
            at,
        })
        .collect();
    Ok(Json(records))
}
