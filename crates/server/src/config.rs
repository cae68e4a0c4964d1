//! The config devices mirror: one immutable snapshot per version, written by the admin transaction
//! that made the version, and the audit trail of admin actions.

use std::sync::Arc;

use rust_decimal::Decimal;
use sqlx::PgConnection;
use tokendesk_sync_proto::admin::OrgInfo;
use tokendesk_sync_proto::device::{
    ConfigSnapshot, ModelPrice, Policy, SideCallPricing, WhenUnchecked,
};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, CONFIG_CHANNEL};

/// Makes the next config version of `org_id` from the tables as this transaction sees them, stores its
/// snapshot and notifies long polls (PostgreSQL delivers the notification on commit). Call it once per
/// admin transaction, after its changes.
pub async fn bump(tx: &mut PgConnection, org_id: Uuid) -> ApiResult<i64> {
    let version: i64 =
        sqlx::query_scalar("UPDATE orgs SET config_version = config_version + 1 WHERE id = $1 RETURNING config_version")
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| ApiError::not_found("org", org_id))?;
    store_snapshot(tx, org_id, version).await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CONFIG_CHANNEL)
        .bind(org_id.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(version)
}

/// Writes the snapshot of `version` as the tables stand in this transaction.
pub(crate) async fn store_snapshot(
    tx: &mut PgConnection,
    org_id: Uuid,
    version: i64,
) -> ApiResult<()> {
    let snapshot = build_snapshot(tx, org_id, version).await?;
    let json = serde_json::to_value(&snapshot).map_err(|e| ApiError::internal(e.to_string()))?;
    sqlx::query("INSERT INTO config_snapshots (org_id, version, snapshot) VALUES ($1, $2, $3)")
        .bind(org_id)
        .bind(version)
        .bind(json)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn build_snapshot(
    conn: &mut PgConnection,
    org_id: Uuid,
    version: i64,
) -> ApiResult<ConfigSnapshot> {
    let (name, credits_per_usd): (String, Decimal) = sqlx::query_as(
        "SELECT o.name, r.credits_per_usd FROM orgs o JOIN exchange_rate r ON r.org_id = o.id WHERE o.id = $1",
    )
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("org", org_id))?;

    let models = crate::admin::model_infos(conn, org_id, None)
        .await?
        .into_iter()
        .map(|model| ModelPrice {
            name: model.name,
            price: model.price,
            aliases: model.aliases,
            active: model.active,
        })
        .collect();

    let apps = crate::admin::all_apps(conn, org_id).await?;

    let policy = policy(conn, org_id).await?;
    let navigation_hosts: Vec<String> =
        sqlx::query_scalar("SELECT origin FROM navigation_hosts WHERE org_id = $1 ORDER BY origin")
            .bind(org_id)
            .fetch_all(&mut *conn)
            .await?;

    Ok(ConfigSnapshot {
        version,
        org: OrgInfo { id: org_id, name },
        credits_per_usd,
        models,
        apps,
        policy,
        navigation_hosts,
    })
}

/// The org's policy row as the wire type.
pub async fn policy(conn: &mut PgConnection, org_id: Uuid) -> ApiResult<Policy> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT integration_enabled, min_balance_micros, event_cap_micros, flood_max_per_minute, \
                low_balance_micros, max_tokens_per_event, daily_budget_micros, monthly_budget_micros, \
                offline_allowance_micros, lease_seconds, time_zone, when_unchecked, side_calls, \
                side_call_fixed_micros \
         FROM policy WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("policy of org", org_id))?;
    Ok(Policy {
        integration_enabled: row.try_get("integration_enabled")?,
        min_balance_micros: row.try_get("min_balance_micros")?,
        event_cap_micros: row.try_get("event_cap_micros")?,
        flood_max_per_minute: row.try_get("flood_max_per_minute")?,
        low_balance_micros: row.try_get("low_balance_micros")?,
        max_tokens_per_event: row.try_get("max_tokens_per_event")?,
        daily_budget_micros: row.try_get("daily_budget_micros")?,
        monthly_budget_micros: row.try_get("monthly_budget_micros")?,
        offline_allowance_micros: row.try_get("offline_allowance_micros")?,
        lease_seconds: row.try_get("lease_seconds")?,
        time_zone: row.try_get("time_zone")?,
        when_unchecked: WhenUnchecked::parse(row.try_get("when_unchecked")?)
            .unwrap_or_else(WhenUnchecked::org_default),
        side_calls: SideCallPricing::parse(row.try_get("side_calls")?)
            .unwrap_or_else(SideCallPricing::org_default),
        side_call_fixed_micros: row.try_get("side_call_fixed_micros")?,
    })
}

/// The snapshot of `version`; `bad_version` when the org never had it.
pub async fn snapshot(
    state: &AppState,
    org_id: Uuid,
    version: i64,
) -> ApiResult<Arc<ConfigSnapshot>> {
    if let Some(hit) = state.cached_snapshot(org_id, version) {
        return Ok(hit);
    }
    let json: serde_json::Value = sqlx::query_scalar(
        "SELECT snapshot FROM config_snapshots WHERE org_id = $1 AND version = $2",
    )
    .bind(org_id)
    .bind(version)
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| {
        ApiError::bad(
            "bad_version",
            format!("config version {version} does not exist"),
        )
    })?;
    let snapshot: ConfigSnapshot = serde_json::from_value(json)
        .map_err(|e| ApiError::internal(format!("stored snapshot {version}: {e}")))?;
    let snapshot = Arc::new(snapshot);
    state.cache_snapshot(org_id, snapshot.clone());
    Ok(snapshot)
}

pub async fn current_version(conn: &mut PgConnection, org_id: Uuid) -> ApiResult<i64> {
    sqlx::query_scalar("SELECT config_version FROM orgs WHERE id = $1")
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found("org", org_id))
}

/// Records an admin action in the same transaction as the action.
pub async fn audit(
    tx: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    action: &str,
    detail: serde_json::Value,
) -> ApiResult<()> {
    sqlx::query("INSERT INTO audit (org_id, actor, action, detail) VALUES ($1, $2, $3, $4)")
        .bind(org_id)
        .bind(actor)
        .bind(action)
        .bind(detail)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
