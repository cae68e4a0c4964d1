//! The org's Dify workspaces, reconcile runs and the reconciliation report. A connection's password or
//! admin API key is taken here and never answered back.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde_json::json;
use sqlx::Row;
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::budget::parse_time_zone;
use tokendesk_sync_proto::reconcile::{
    DifyConnectionInfo, DifyCredentials, DifyTest, LinkedApp, NewDifyConnection, ReconcileReport,
    ReconcileRequest, Reconciliation, ReconciliationQuery,
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{check_name, is_unique_violation, parse_id};
use crate::auth::AdminSession;
use crate::config;
use crate::dify::console::{ConsoleError, check_console_url};
use crate::dify::reconcile::{self, RunError, local_midnight};
use crate::dify::report;
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::state::AppState;

/// How far back a new connection reconciles when no day is given.
const DEFAULT_REACH_DAYS: u64 = 7;
/// The longest email, password, key or workspace id taken.
const MAX_SECRET_CHARS: usize = 1000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_connections, add_connection))
        .routes(routes!(remove_connection))
        .routes(routes!(test_connection))
        .routes(routes!(run_reconcile))
        .routes(routes!(get_reconciliation))
}

/// The org's Dify workspaces, without their secrets.
#[utoipa::path(
    get,
    path = "/v1/admin/dify",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The connections, by name", body = Vec<DifyConnectionInfo>),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_connections(
    session: AdminSession,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<DifyConnectionInfo>>> {
    Ok(Json(connection_infos(&state, session.org_id, None).await?))
}

/// Connects a Dify workspace. The credentials are kept on the server only.
#[utoipa::path(
    post,
    path = "/v1/admin/dify",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewDifyConnection,
    responses(
        (status = 200, description = "The connection", body = DifyConnectionInfo),
        (status = 400, description = "`bad_name`, `bad_console_url`, `bad_credentials`, `bad_time_zone`, `bad_since`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 409, description = "`name_taken`", body = ErrorBody),
    )
)]
async fn add_connection(
    session: AdminSession,
    State(state): State<AppState>,
    Json(new): Json<NewDifyConnection>,
) -> ApiResult<Json<DifyConnectionInfo>> {
    let name = check_name("name", &new.name)?;
    let console_url =
        check_console_url(&new.console_url).map_err(|why| ApiError::bad("bad_console_url", why))?;
    let time_zone = new.time_zone.as_deref().map(str::trim).unwrap_or("UTC");
    let zone = parse_time_zone(time_zone).ok_or_else(|| {
        ApiError::bad(
            "bad_time_zone",
            format!("{time_zone:?} is not an IANA time zone such as Asia/Shanghai"),
        )
    })?;
    let today = Utc::now().with_timezone(&zone).date_naive();
    let since = new
        .since
        .unwrap_or_else(|| today - chrono::Days::new(DEFAULT_REACH_DAYS));
    if since > today {
        return Err(ApiError::bad(
            "bad_since",
            format!("{since} is in the future"),
        ));
    }
    let reconcile_from = local_midnight(zone, since)
        .ok_or_else(|| ApiError::bad("bad_since", format!("{since} has no midnight in {zone}")))?;
    let (auth, email, password, key, workspace) = match &new.credentials {
        DifyCredentials::Password { email, password } => (
            "password",
            Some(check_secret("email", email)?),
            Some(check_secret("password", password)?),
            None,
            None,
        ),
        DifyCredentials::AdminApiKey { key, workspace_id } => (
            "admin_api_key",
            None,
            None,
            Some(check_secret("key", key)?),
            Some(check_secret("workspace_id", workspace_id)?),
        ),
    };
    let id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO dify_connections (org_id, id, name, console_url, auth, email, password, admin_api_key, \
             workspace_id, time_zone, reconcile_from, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(session.org_id)
    .bind(id)
    .bind(&name)
    .bind(&console_url)
    .bind(auth)
    .bind(&email)
    .bind(&password)
    .bind(&key)
    .bind(&workspace)
    .bind(zone.name())
    .bind(reconcile_from)
    .bind(&session.name)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(error) if is_unique_violation(&error) => {
            return Err(ApiError::conflict(
                "name_taken",
                format!("a Dify connection is already called {name:?}"),
            ));
        }
        other => other?,
    };
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "dify.add",
        json!({"id": id, "name": name, "console_url": console_url, "auth": auth, "email": email,
               "workspace_id": workspace, "time_zone": zone.name(), "since": since}),
    )
    .await?;
    tx.commit().await?;
    let mut infos = connection_infos(&state, session.org_id, Some(id)).await?;
    infos
        .pop()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Dify connection", id))
}

/// Disconnects a workspace: its app links go; the records read and the findings stay.
#[utoipa::path(
    delete,
    path = "/v1/admin/dify/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
async fn remove_connection(
    session: AdminSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id("Dify connection", &id)?;
    let mut tx = state.pool.begin().await?;
    let name: String = sqlx::query_scalar(
        "DELETE FROM dify_connections WHERE org_id = $1 AND id = $2 RETURNING name",
    )
    .bind(session.org_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::not_found("Dify connection", id))?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "dify.remove",
        json!({"id": id, "name": name}),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs in to the workspace and matches its apps to the metered ones by share code.
#[utoipa::path(
    post,
    path = "/v1/admin/dify/{id}/test",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The connection's id")),
    responses(
        (status = 200, description = "What the test found; a refusal is in `error`", body = DifyTest),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
async fn test_connection(
    session: AdminSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DifyTest>> {
    let id = parse_id("Dify connection", &id)?;
    let connection = reconcile::connections(&state, session.org_id, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("Dify connection", id))?;
    let mut test = DifyTest::default();
    let (mut console, _) = match connection.console() {
        Ok(client) => client,
        Err(error) => {
            test.error = Some(error.to_string());
            return Ok(Json(test));
        }
    };
    let signed_in = console.sign_in().await;
    let refused = matches!(signed_in, Err(ConsoleError::SignIn(_)));
    reconcile::record_sign_in(&state, session.org_id, id, refused).await?;
    if let Err(error) = signed_in {
        test.error = Some(error.to_string());
        return Ok(Json(test));
    }
    test.signed_in = true;
    match reconcile::link_apps(&state, session.org_id, id, &mut console).await {
        Ok(matching) => {
            test.workspace_apps = matching.workspace_apps;
            test.unmatched = matching.unmatched;
        }
        Err(RunError::Console(ConsoleError::Missing(endpoint))) => {
            test.missing_endpoints.push(endpoint.to_owned());
        }
        Err(RunError::Console(error)) => {
            // An admin key is only checked by the first call.
            test.signed_in = !matches!(error, ConsoleError::Refused { status: 401, .. });
            test.error = Some(error.to_string());
        }
        Err(RunError::Api(error)) => return Err(error),
    }
    test.linked = linked_apps(&state, session.org_id, id).await?;
    Ok(Json(test))
}

/// Reconciles now, every workspace (or the one app), whatever the scheduler's backoff.
#[utoipa::path(
    post,
    path = "/v1/admin/reconcile",
    tag = "admin",
    security(("bearer" = [])),
    request_body = ReconcileRequest,
    responses(
        (status = 200, description = "What each workspace's run did", body = ReconcileReport),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "`not_found`: no such app", body = ErrorBody),
    )
)]
async fn run_reconcile(
    session: AdminSession,
    State(state): State<AppState>,
    Json(request): Json<ReconcileRequest>,
) -> ApiResult<Json<ReconcileReport>> {
    if let Some(app_id) = request.app_id {
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM dify_apps WHERE org_id = $1 AND id = $2)",
        )
        .bind(session.org_id)
        .bind(app_id)
        .fetch_one(&state.pool)
        .await?;
        if !known {
            return Err(ApiError::not_found("app", app_id));
        }
    }
    if request
        .since
        .is_some_and(|day| day > Utc::now().date_naive() + chrono::Days::new(1))
    {
        return Err(ApiError::bad("bad_since", "since is in the future"));
    }
    // The run is its own task: a dropped request (a closed tab, a client's timeout) does not cancel it
    // midway, in the middle of a settlement's transaction.
    let run = tokio::spawn(async move {
        let report = reconcile::run_org(&state, session.org_id, &request, &session.name).await?;
        let mut conn = state.pool.acquire().await?;
        config::audit(
            &mut conn,
            session.org_id,
            &session.name,
            "reconcile.run",
            json!({"app_id": request.app_id, "since": request.since, "report": report}),
        )
        .await?;
        Ok(Json(report))
    });
    run.await
        .map_err(|error| ApiError::internal(format!("the reconcile run failed: {error}")))?
}

/// Per app and day, Dify's tokens and price against the ledger's, and the findings of those days.
#[utoipa::path(
    get,
    path = "/v1/admin/reconciliation",
    tag = "admin",
    security(("bearer" = [])),
    params(ReconciliationQuery),
    responses(
        (status = 200, description = "The daily control and the findings", body = Reconciliation),
        (status = 400, description = "`bad_range`, `bad_query`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn get_reconciliation(
    session: AdminSession,
    State(state): State<AppState>,
    Query(query): Query<ReconciliationQuery>,
) -> ApiResult<Json<Reconciliation>> {
    Ok(Json(
        report::reconciliation(&state, session.org_id, &query).await?,
    ))
}

fn check_secret(field: &str, value: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_SECRET_CHARS {
        return Err(ApiError::bad(
            "bad_credentials",
            format!("{field} must be 1 to {MAX_SECRET_CHARS} characters"),
        ));
    }
    Ok(value.to_owned())
}

async fn linked_apps(
    state: &AppState,
    org_id: Uuid,
    connection_id: Uuid,
) -> ApiResult<Vec<LinkedApp>> {
    let rows: Vec<(Uuid, String, String, String)> = sqlx::query_as(
        "SELECT l.app_id, a.name, l.console_app_id, l.mode FROM dify_app_links l \
         JOIN dify_apps a ON a.org_id = l.org_id AND a.id = l.app_id \
         WHERE l.org_id = $1 AND l.connection_id = $2 ORDER BY a.name",
    )
    .bind(org_id)
    .bind(connection_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(app_id, app_name, console_app_id, mode)| LinkedApp {
            app_id,
            app_name,
            console_app_id,
            mode,
        })
        .collect())
}

async fn connection_infos(
    state: &AppState,
    org_id: Uuid,
    id: Option<Uuid>,
) -> ApiResult<Vec<DifyConnectionInfo>> {
    let rows = sqlx::query(
        "SELECT id, name, console_url, auth, email, workspace_id, time_zone, reconcile_from, created_by, \
                created_at, last_run_at, next_run_at, failures, last_error, missing_endpoints, \
                sign_in_refused_at \
         FROM dify_connections WHERE org_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY name",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    let mut infos = Vec::with_capacity(rows.len());
    for row in rows {
        let id: Uuid = row.try_get("id")?;
        infos.push(DifyConnectionInfo {
            id,
            name: row.try_get("name")?,
            console_url: row.try_get("console_url")?,
            auth: row.try_get("auth")?,
            email: row.try_get("email")?,
            workspace_id: row.try_get("workspace_id")?,
            time_zone: row.try_get("time_zone")?,
            reconcile_from: row.try_get("reconcile_from")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            apps: linked_apps(state, org_id, id).await?,
            last_run_at: row.try_get("last_run_at")?,
            next_run_at: row.try_get("next_run_at")?,
            failures: row.try_get("failures")?,
            last_error: row.try_get("last_error")?,
            missing_endpoints: row.try_get("missing_endpoints")?,
            sign_in_refused_at: row.try_get("sign_in_refused_at")?,
        });
    }
    Ok(infos)
}
