//! Orgs: the tenant every key starts with.

use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::config;
use crate::error::{ApiError, ApiResult};

/// A new org's rate: 10,000 credits per USD, the desktop's default.
const DEFAULT_CREDITS_PER_USD: i64 = 10_000;

/// The org named `name`, created with the default rate, the default policy and config version 1 if missing.
pub async fn ensure_org(pool: &PgPool, name: &str) -> ApiResult<Uuid> {
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::bad(
            "bad_name",
            "an org name has 1 to 100 characters",
        ));
    }
    let mut tx = pool.begin().await?;
    let created: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO orgs (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(org_id) = created else {
        drop(tx);
        return org_by_name(&mut *pool.acquire().await?, name).await;
    };
    let rate = Decimal::from(DEFAULT_CREDITS_PER_USD);
    sqlx::query(
        "INSERT INTO exchange_rate (org_id, credits_per_usd, updated_by) VALUES ($1, $2, 'system')",
    )
    .bind(org_id)
    .bind(rate)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO exchange_rate_history (org_id, old_rate, new_rate, changed_by, reason, config_version) \
         VALUES ($1, NULL, $2, 'system', 'initial rate', 1)",
    )
    .bind(org_id)
    .bind(rate)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO policy (org_id) VALUES ($1)")
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    config::store_snapshot(&mut tx, org_id, 1).await?;
    tx.commit().await?;
    Ok(org_id)
}

/// The org, when the server holds exactly one; otherwise the caller must name it.
pub async fn only_org(conn: &mut PgConnection) -> ApiResult<Uuid> {
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM orgs LIMIT 2")
        .fetch_all(&mut *conn)
        .await?;
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(ApiError::bad(
            "org_required",
            "the server has no org yet; run `tokendesk-server admin create`",
        )),
        _ => Err(ApiError::bad(
            "org_required",
            "the server holds several orgs: name one",
        )),
    }
}

pub async fn org_by_name(conn: &mut PgConnection, name: &str) -> ApiResult<Uuid> {
    sqlx::query_scalar("SELECT id FROM orgs WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found("org", name))
}
