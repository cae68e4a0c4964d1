//! Users and their enrollment codes.

use axum::extract::{Path, State};
use chrono::{Duration, Utc};
use serde_json::json;
use sqlx::{PgConnection, Row};
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{
    EnrollmentCode, NewUser, Role, SetBudget, UserInfo, UserSummary,
};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{check_name, decoded, lock_config, parse_credits};
use crate::auth::{self, AdminSession};
use crate::error::{ApiError, ApiResult, Json};
use crate::state::AppState;
use crate::{budgets, config};

/// Admins sign in with a password at least this long.
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 1024;
/// How long an enrollment code may be used.
const ENROLLMENT_CODE_MINUTES: i64 = 10;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, add_user))
        .routes(routes!(add_enrollment_code))
        .routes(routes!(set_budget))
}

fn user_info(row: &sqlx::postgres::PgRow) -> Result<UserInfo, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(UserInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        role: decoded(Role::parse(&role), "role", &role)?,
    })
}

/// The user called `name` in the org, or 404.
pub async fn user_by_name(
    conn: &mut PgConnection,
    org_id: Uuid,
    name: &str,
) -> ApiResult<UserInfo> {
    let row = sqlx::query(
        "SELECT id, name, display_name, role FROM users WHERE org_id = $1 AND name = $2",
    )
    .bind(org_id)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("user", name))?;
    Ok(user_info(&row)?)
}

/// The first admin of an org (made if need be), as `tokendesk-server admin create` does on the server's
/// machine: there is no default password and no admin API call before one exists.
pub async fn create_admin(
    pool: &sqlx::PgPool,
    org: &str,
    name: &str,
    password: &str,
    actor: &str,
) -> ApiResult<UserInfo> {
    let org_id = crate::orgs::ensure_org(pool, org).await?;
    let mut tx = pool.begin().await?;
    let new = NewUser {
        name: name.to_owned(),
        display_name: None,
        role: Role::Admin,
        password: Some(password.to_owned()),
    };
    let user = create_user(&mut tx, org_id, actor, &new).await?;
    tx.commit().await?;
    Ok(user)
}

/// Adds a user inside the caller's transaction, with its audit row. Admins need a password of at least
/// 8 characters (hashed with argon2id off the async threads); staff never sign in, so they have none.
pub async fn create_user(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    new: &NewUser,
) -> ApiResult<UserInfo> {
    let name = check_name("name", &new.name)?;
    let display_name = match &new.display_name {
        Some(display_name) => check_name("display_name", display_name)?,
        None => name.clone(),
    };
    let password_hash = match (new.role, &new.password) {
        (Role::Admin, Some(password)) => {
            let chars = password.chars().count();
            if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
                return Err(ApiError::bad(
                    "weak_password",
                    format!(
                        "an admin's password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
                    ),
                ));
            }
            let password = password.clone();
            let hashed = tokio::task::spawn_blocking(move || auth::hash_password(&password))
                .await
                .map_err(|error| {
                    ApiError::internal(format!("password hashing stopped: {error}"))
                })??;
            Some(hashed)
        }
        (Role::Admin, None) => {
            return Err(ApiError::bad(
                "password_required",
                "an admin needs a password",
            ));
        }
        (Role::Staff, Some(_)) => {
            return Err(ApiError::bad(
                "password_not_allowed",
                "staff users never sign in: leave the password out",
            ));
        }
        (Role::Staff, None) => None,
    };
    let id = Uuid::now_v7();
    let inserted = sqlx::query(
        "INSERT INTO users (org_id, id, name, display_name, role, password_hash)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, name) DO NOTHING",
    )
    .bind(org_id)
    .bind(id)
    .bind(&name)
    .bind(&display_name)
    .bind(new.role.as_str())
    .bind(password_hash)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::conflict(
            "exists",
            format!("a user named {name:?} exists"),
        ));
    }
    config::audit(
        conn,
        org_id,
        actor,
        "user.add",
        json!({ "id": id, "name": name, "display_name": display_name, "role": new.role.as_str() }),
    )
    .await?;
    Ok(UserInfo {
        id,
        name,
        display_name,
        role: new.role,
    })
}

/// Every user with their balance and how many devices they have (revoked ones left out).
#[utoipa::path(
    get,
    path = "/v1/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every user, by name", body = Vec<UserSummary>),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_users(
    session: AdminSession,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<UserSummary>>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(user_summaries(&mut conn, session.org_id, None).await?))
}

/// Every user of the org (or only `one`) with their balance, devices, budgets and spend.
async fn user_summaries(
    conn: &mut PgConnection,
    org_id: Uuid,
    one: Option<&UserInfo>,
) -> ApiResult<Vec<UserSummary>> {
    let periods = budgets::org_periods(conn, org_id).await?;
    let spend = budgets::spend(conn, org_id, one.map(|user| user.id), &periods).await?;
    let rows = sqlx::query(
        "SELECT u.id, u.name, u.display_name, u.role, u.balance_micros, u.created_at,
                u.daily_budget_micros, u.monthly_budget_micros,
                (SELECT count(*) FROM devices d
                  WHERE d.org_id = u.org_id AND d.user_id = u.id AND NOT d.revoked) AS devices
           FROM users u WHERE u.org_id = $1 AND ($2::text IS NULL OR u.name = $2) ORDER BY u.name",
    )
    .bind(org_id)
    .bind(one.map(|user| user.name.as_str()))
    .fetch_all(&mut *conn)
    .await?;
    let users = rows
        .iter()
        .map(|row| {
            let user = user_info(row)?;
            let spent = spend.get(&user.id).copied().unwrap_or_default();
            Ok(UserSummary {
                user,
                balance_micros: row.try_get("balance_micros")?,
                devices: row.try_get("devices")?,
                created_at: row.try_get("created_at")?,
                daily_budget_micros: row.try_get("daily_budget_micros")?,
                monthly_budget_micros: row.try_get("monthly_budget_micros")?,
                spent_today_micros: spent.today,
                spent_month_micros: spent.month,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(users)
}

/// A budget as typed: `None` follows the org's policy; otherwise 0 or more credits (0: no budget).
fn parse_budget(field: &str, text: Option<&str>) -> ApiResult<Option<i64>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let micros = parse_credits(field, text)?;
    if micros < 0 {
        return Err(ApiError::bad(
            "bad_amount",
            format!("{field} is 0 or more credits"),
        ));
    }
    Ok(Some(micros))
}

/// Sets the user's own daily and monthly budgets, which every device's gate enforces across all the
/// user's devices. Devices hear of it at once: the config version moves, which wakes their long polls.
#[utoipa::path(
    put,
    path = "/v1/admin/users/{name}/budget",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name")),
    request_body = SetBudget,
    responses(
        (status = 200, description = "The user with the budgets now in force", body = UserSummary),
        (status = 400, description = "`bad_amount`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn set_budget(
    session: AdminSession,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(set): Json<SetBudget>,
) -> ApiResult<Json<UserSummary>> {
    let daily = parse_budget("daily", set.daily.as_deref())?;
    let monthly = parse_budget("monthly", set.monthly.as_deref())?;
    let mut tx = state.pool.begin().await?;
    lock_config(&mut tx, session.org_id).await?;
    let user = user_by_name(&mut tx, session.org_id, &name).await?;
    sqlx::query(
        "UPDATE users SET daily_budget_micros = $3, monthly_budget_micros = $4 WHERE org_id = $1 AND id = $2",
    )
    .bind(session.org_id)
    .bind(user.id)
    .bind(daily)
    .bind(monthly)
    .execute(&mut *tx)
    .await?;
    let version = config::bump(&mut tx, session.org_id).await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "user.budget",
        json!({ "user": user.name, "daily_budget_micros": daily, "monthly_budget_micros": monthly,
                "config_version": version }),
    )
    .await?;
    let summary = user_summaries(&mut tx, session.org_id, Some(&user))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("user", &user.name))?;
    tx.commit().await?;
    Ok(Json(summary))
}

/// Adds a user: staff (who enroll devices) or an admin (who signs in with a password).
#[utoipa::path(
    post,
    path = "/v1/admin/users",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 200, description = "The new user", body = UserInfo),
        (status = 400, description = "A bad name, or a missing, short or unwanted password", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 409, description = "`exists`: the name is taken", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn add_user(
    session: AdminSession,
    State(state): State<AppState>,
    Json(new): Json<NewUser>,
) -> ApiResult<Json<UserInfo>> {
    let mut tx = state.pool.begin().await?;
    let user = create_user(&mut tx, session.org_id, &session.name, &new).await?;
    tx.commit().await?;
    Ok(Json(user))
}

/// A single-use code that enrolls one device for the user, valid for 10 minutes. Shown once.
#[utoipa::path(
    post,
    path = "/v1/admin/users/{name}/enrollment-codes",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name")),
    responses(
        (status = 200, description = "The code, shown once", body = EnrollmentCode),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
async fn add_enrollment_code(
    session: AdminSession,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<EnrollmentCode>> {
    let mut tx = state.pool.begin().await?;
    let user = user_by_name(&mut tx, session.org_id, &name).await?;
    let code = auth::new_enrollment_code();
    let expires_at = Utc::now() + Duration::minutes(ENROLLMENT_CODE_MINUTES);
    sqlx::query(
        "INSERT INTO enrollment_codes (code_hash, org_id, user_id, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(auth::hash_typed_code(&code))
    .bind(session.org_id)
    .bind(user.id)
    .bind(&session.name)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "enrollment_code.create",
        json!({ "user": user.name, "expires_at": expires_at }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(EnrollmentCode {
        code,
        user: user.name,
        expires_at,
    }))
}
