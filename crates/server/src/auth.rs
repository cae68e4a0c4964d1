//! Tokens, passwords, the two bearer extractors, and admin sign-in.

use std::net::SocketAddr;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use chrono::{Duration, Utc};
use sha2::{Digest, Sha256};
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{LoginRequest, OrgInfo, Role, Session, UserInfo};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, Json};
use crate::orgs;
use crate::state::AppState;

pub const SESSION_PREFIX: &str = "tds_";
pub const DEVICE_PREFIX: &str = "tdd_";
pub const SESSION_HOURS: i64 = 12;
/// Failed sign-ins within this window count toward the limits below.
const FAILURE_WINDOW_MINUTES: i32 = 15;
const MAX_ACCOUNT_FAILURES: i64 = 5;
const MAX_ADDRESS_FAILURES: i64 = 20;

/// 32 random bytes as hex after `prefix`.
pub fn new_token(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{prefix}{}", hex::encode(bytes))
}

/// SHA-256 hex: what the database keeps of every token and code.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// RFC 4648 base32 letters: no 0, 1, 8 or 9 to mistake for O, I, B or g.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A human-typeable enrollment code, `XXXX-XXXX-XXXX` (60 random bits): it lives 10 minutes.
pub fn new_enrollment_code() -> String {
    typeable_code(12)
}

/// A redemption code, `XXXX-XXXX-XXXX-XXXX` (80 random bits): it may wait for its user for months.
pub fn new_redemption_code() -> String {
    typeable_code(16)
}

/// `chars` random letters of [`CODE_ALPHABET`] in groups of four.
fn typeable_code(chars: usize) -> String {
    let chars: Vec<char> = (0..chars)
        .map(|_| CODE_ALPHABET[usize::from(rand::random::<u8>() % 32)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The stored form of an enrollment or redemption code: case, spaces and dashes do not matter when typed.
pub fn hash_typed_code(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    hash_token(&normal)
}

/// argon2id with a fresh salt.
pub fn hash_password(pw: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::internal(format!("cannot hash the password: {e}")))
}

pub fn verify_password(hash: &str, pw: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(pw.as_bytes(), &parsed)
            .is_ok()
    })
}

fn bearer<'a>(parts: &'a Parts, prefix: &str) -> Option<&'a str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    token.starts_with(prefix).then_some(token)
}

/// A signed-in admin: a valid, unexpired `tds_` session of a user whose role is admin.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub name: String,
}

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(parts, SESSION_PREFIX)
            .ok_or_else(|| ApiError::unauthorized("an admin session token is required"))?;
        let row: Option<(Uuid, Uuid, String, String)> = sqlx::query_as(
            "SELECT s.org_id, s.user_id, u.name, u.role FROM admin_sessions s \
             JOIN users u ON u.org_id = s.org_id AND u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > now()",
        )
        .bind(hash_token(token))
        .fetch_optional(&state.pool)
        .await?;
        match row {
            Some((org_id, user_id, name, role)) if role == Role::Admin.as_str() => {
                Ok(AdminSession {
                    org_id,
                    user_id,
                    name,
                })
            }
            _ => Err(ApiError::unauthorized(
                "the session is unknown or expired; sign in again",
            )),
        }
    }
}

/// An enrolled, unrevoked device, by its `tdd_` token.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub org_id: Uuid,
    pub device_id: Uuid,
    pub user_id: Uuid,
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = bearer(parts, DEVICE_PREFIX)
            .ok_or_else(|| ApiError::unauthorized("a device token is required"))?;
        let row: Option<(Uuid, Uuid, Uuid, bool)> = sqlx::query_as(
            "SELECT org_id, id, user_id, revoked FROM devices WHERE token_hash = $1",
        )
        .bind(hash_token(token))
        .fetch_optional(&state.pool)
        .await?;
        match row {
            Some((_, _, _, true)) => Err(ApiError::forbidden(
                "device_revoked",
                "this device was revoked by an admin",
            )),
            Some((org_id, device_id, user_id, false)) => Ok(DeviceAuth {
                org_id,
                device_id,
                user_id,
            }),
            None => Err(ApiError::unauthorized("the device token is unknown")),
        }
    }
}

/// The peer address, when the server runs with connect info (tests driving the router directly have none).
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip().to_string());
        Ok(ClientAddr(addr.unwrap_or_else(|| "unknown".into())))
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
}

/// Verifying against a real hash when the account is unknown keeps the answer's timing the same.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password of anyone").unwrap_or_default())
}

/// Sign in as an admin.
#[utoipa::path(post, path = "/v1/admin/login", tag = "admin", request_body = LoginRequest,
    responses((status = 200, body = Session), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<Session>> {
    let mut conn = state.pool.acquire().await?;
    let org_id = match &req.org {
        Some(name) => orgs::org_by_name(&mut conn, name).await.ok(),
        None => Some(orgs::only_org(&mut conn).await?),
    };
    let (account_failures, address_failures): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE name = $1 AND org_id IS NOT DISTINCT FROM $2), \
                count(*) FILTER (WHERE address = $3) \
         FROM login_failures WHERE failed_at > now() - make_interval(mins => $4) \
           AND ((name = $1 AND org_id IS NOT DISTINCT FROM $2) OR address = $3)",
    )
    .bind(&req.name)
    .bind(org_id)
    .bind(&address)
    .bind(FAILURE_WINDOW_MINUTES)
    .fetch_one(&mut *conn)
    .await?;
    if account_failures >= MAX_ACCOUNT_FAILURES || address_failures >= MAX_ADDRESS_FAILURES {
        return Err(ApiError::too_many(
            "too many failed sign-ins; wait 15 minutes",
        ));
    }
    let user: Option<(Uuid, String, String, Option<String>, String)> = match org_id {
        Some(org_id) => {
            sqlx::query_as(
                "SELECT u.id, u.display_name, u.role, u.password_hash, o.name FROM users u \
                 JOIN orgs o ON o.id = u.org_id WHERE u.org_id = $1 AND u.name = $2",
            )
            .bind(org_id)
            .bind(&req.name)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => None,
    };
    let admin = user.filter(|u| u.2 == Role::Admin.as_str());
    let hash = admin
        .as_ref()
        .and_then(|u| u.3.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let password = req.password.clone();
    let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .map_err(|e| ApiError::internal(format!("password check failed: {e}")))?;
    let (Some(org_id), Some((user_id, display_name, _, Some(_), org_name)), true) =
        (org_id, admin, matches)
    else {
        sqlx::query("INSERT INTO login_failures (org_id, name, address) VALUES ($1, $2, $3)")
            .bind(org_id)
            .bind(&req.name)
            .bind(&address)
            .execute(&mut *conn)
            .await?;
        return Err(ApiError::unauthorized("wrong name or password"));
    };
    let token = new_token(SESSION_PREFIX);
    let expires_at = Utc::now() + Duration::hours(SESSION_HOURS);
    sqlx::query("INSERT INTO admin_sessions (token_hash, org_id, user_id, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash_token(&token))
        .bind(org_id)
        .bind(user_id)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(Json(Session {
        token,
        expires_at,
        user: UserInfo {
            id: user_id,
            name: req.name,
            display_name,
            role: Role::Admin,
        },
        org: OrgInfo {
            id: org_id,
            name: org_name,
        },
    }))
}

/// End this session.
#[utoipa::path(post, path = "/v1/admin/logout", tag = "admin",
    responses((status = 204), (status = 401, body = ErrorBody)), security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    _session: AdminSession,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::http::StatusCode> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim()))
        .unwrap_or_default();
    sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
        .bind(hash_token(token))
        .execute(&state.pool)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
