//! Per-user budgets: each user's own daily and monthly limit, or else the org's, and their spend across
//! every device in the org's budget day and month. Each push answers where the user stands, and every
//! device's pre-send gate enforces it.

use std::collections::HashMap;

use chrono::Utc;
use chrono_tz::Tz;
use sqlx::PgConnection;
use tokendesk_sync_proto::budget::{BudgetPeriods, BudgetStatus, parse_time_zone};
use uuid::Uuid;

use crate::error::ApiResult;

/// What a user spent in the current budget day and month, in micro-credits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spend {
    pub today: i64,
    pub month: i64,
}

/// The budget day and month now, in the zone the org's policy names.
pub fn periods_now(time_zone: &str) -> BudgetPeriods {
    BudgetPeriods::around(Utc::now(), parse_time_zone(time_zone).unwrap_or(Tz::UTC))
}

/// The org's budget periods now.
pub async fn org_periods(conn: &mut PgConnection, org_id: Uuid) -> ApiResult<BudgetPeriods> {
    let zone: Option<String> = sqlx::query_scalar("SELECT time_zone FROM policy WHERE org_id = $1")
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(periods_now(zone.as_deref().unwrap_or_default()))
}

/// Spend per user (every user of the org, or just `user_id`) in the periods: counted charges net of the
/// reversals of charges (a reversed grant carries no app and is not spend). Entries are found by the time
/// they were received, which follows the time they occurred; a day's slack covers a fast device clock.
pub async fn spend(
    conn: &mut PgConnection,
    org_id: Uuid,
    user_id: Option<Uuid>,
    periods: &BudgetPeriods,
) -> ApiResult<HashMap<Uuid, Spend>> {
    let sql = format!(
        "SELECT user_id, COALESCE(-SUM(amount_micros) FILTER (WHERE occurred_at >= $3), 0)::int8, \
                COALESCE(-SUM(amount_micros), 0)::int8 \
         FROM entries \
         WHERE org_id = $1 AND ($4::uuid IS NULL OR user_id = $4) AND counted \
           AND (kind IN ({spend_kinds}) OR (kind = 'reversal' AND app_id IS NOT NULL)) \
           AND occurred_at >= $2 AND received_at >= $2 - interval '1 day' \
         GROUP BY user_id",
        spend_kinds = crate::entries::SPEND_KINDS,
    );
    let rows: Vec<(Uuid, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(periods.month_start)
        .bind(periods.day_start)
        .bind(user_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(user, today, month)| (user, Spend { today, month }))
        .collect())
}

/// Where the user stands against their budgets; `None` when neither they nor the org set one, so a push
/// without budgets reads no entries.
pub async fn status(
    conn: &mut PgConnection,
    org_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Option<BudgetStatus>> {
    let (zone, daily, monthly): (String, i64, i64) = sqlx::query_as(
        "SELECT p.time_zone, COALESCE(u.daily_budget_micros, p.daily_budget_micros), \
                COALESCE(u.monthly_budget_micros, p.monthly_budget_micros) \
         FROM users u JOIN policy p ON p.org_id = u.org_id WHERE u.org_id = $1 AND u.id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    if daily == 0 && monthly == 0 {
        return Ok(None);
    }
    let periods = periods_now(&zone);
    let spent = spend(conn, org_id, Some(user_id), &periods)
        .await?
        .remove(&user_id)
        .unwrap_or_default();
    Ok(Some(BudgetStatus {
        daily_limit_micros: daily,
        monthly_limit_micros: monthly,
        spent_today_micros: spent.today,
        spent_month_micros: spent.month,
        periods,
    }))
}
