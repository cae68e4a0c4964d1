//! Balances, a user's entries, and the entries an admin makes: grants, top-ups, adjustments, reversals.
//! Each write locks the user's row, so the cached balance and the ledger move together.

use axum::extract::{Path, State};
use chrono::Utc;
use serde_json::json;
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{BalanceInfo, EntryInfo, EntryKind, NewEntry, Reason};
use tokendesk_sync_proto::money::micros_to_credits;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{Limit, check_reason, is_unique_violation, parse_credits, parse_id, user_by_name};
use crate::auth::AdminSession;
use crate::config;
use crate::entries;
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(balance))
        .routes(routes!(list_entries, add_entry))
        .routes(routes!(reverse_entry))
}

/// The signed amount an admin entry of `kind` may carry, or why not.
fn check_admin_entry(kind: EntryKind, amount_micros: i64) -> ApiResult<()> {
    match kind {
        EntryKind::Grant | EntryKind::Topup if amount_micros <= 0 => Err(ApiError::bad(
            "bad_amount",
            format!(
                "a {} is above 0; use an adjustment to take credits away",
                kind.as_str()
            ),
        )),
        EntryKind::Adjustment if amount_micros == 0 => Err(ApiError::bad(
            "bad_amount",
            "an adjustment of 0 changes nothing",
        )),
        EntryKind::Charge
        | EntryKind::Reversal
        | EntryKind::Redemption
        | EntryKind::TrueUp
        | EntryKind::ReportedByDify => Err(ApiError::bad(
            "bad_kind",
            "charges come from devices and reconciliation, redemptions from redemption codes, and a \
             reversal is made with POST /v1/admin/entries/{id}/reverse",
        )),
        EntryKind::Grant | EntryKind::Topup | EntryKind::Adjustment => Ok(()),
    }
}

/// The user's balance after `amount_micros`, refused rather than wrapped.
fn new_balance(balance: i64, amount_micros: i64) -> ApiResult<i64> {
    balance
        .checked_add(amount_micros)
        .ok_or_else(|| ApiError::bad("bad_amount", "the balance would be out of range"))
}

/// Refuses a second reversal, whether the check or the unique index (a racing one) caught it.
fn already_reversed(id: Uuid) -> ApiError {
    ApiError::conflict(
        "already_reversed",
        format!("entry {id} is reversed already"),
    )
}

/// A user's balance, and how much of it devices hold in open offline leases.
#[utoipa::path(
    get,
    path = "/v1/admin/users/{name}/balance",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name")),
    responses(
        (status = 200, description = "The balance", body = BalanceInfo),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
async fn balance(
    session: AdminSession,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<BalanceInfo>> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT u.balance_micros,
                COALESCE((SELECT sum(l.amount_micros) FROM leases l
                           WHERE l.org_id = u.org_id AND l.user_id = u.id AND l.expires_at > now()), 0)::BIGINT
           FROM users u WHERE u.org_id = $1 AND u.name = $2",
    )
    .bind(session.org_id)
    .bind(&name)
    .fetch_optional(&state.pool)
    .await?;
    let (balance_micros, open_leases_micros) =
        row.ok_or_else(|| ApiError::not_found("user", &name))?;
    Ok(Json(BalanceInfo {
        user: name,
        balance_micros,
        open_leases_micros,
    }))
}

/// A user's entries, newest first (by when the server received them).
#[utoipa::path(
    get,
    path = "/v1/admin/users/{name}/entries",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name"), Limit),
    responses(
        (status = 200, description = "The entries, newest first", body = Vec<EntryInfo>),
        (status = 400, description = "`bad_query`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    )
)]
async fn list_entries(
    session: AdminSession,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(limit): Query<Limit>,
) -> ApiResult<Json<Vec<EntryInfo>>> {
    let mut conn = state.pool.acquire().await?;
    let user = user_by_name(&mut conn, session.org_id, &name).await?;
    // Rows of one push share `received_at`: their sequence orders them.
    let sql = format!(
        "SELECT {} FROM entries e JOIN users u ON u.org_id = e.org_id AND u.id = e.user_id
          WHERE e.org_id = $1 AND e.user_id = $2
          ORDER BY e.received_at DESC, e.device_seq DESC NULLS LAST, e.id DESC LIMIT $3",
        entries::ENTRY_COLUMNS
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(session.org_id)
        .bind(user.id)
        .bind(limit.get())
        .fetch_all(&mut *conn)
        .await?;
    let list = rows
        .iter()
        .map(entries::entry_info)
        .collect::<ApiResult<_>>()?;
    Ok(Json(list))
}

/// Grants, tops up or adjusts a user's balance. The reason is kept with the entry.
#[utoipa::path(
    post,
    path = "/v1/admin/users/{name}/entries",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The user's name")),
    request_body = NewEntry,
    responses(
        (status = 200, description = "The entry, counted", body = EntryInfo),
        (status = 400, description = "`bad_amount`, `bad_kind` (charges and reversals) or `reason_required`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn add_entry(
    session: AdminSession,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(new): Json<NewEntry>,
) -> ApiResult<Json<EntryInfo>> {
    let amount_micros = parse_credits("amount", &new.amount)?;
    check_admin_entry(new.kind, amount_micros)?;
    let reason = check_reason(&new.reason)?;
    let mut tx = state.pool.begin().await?;
    let user = user_by_name(&mut tx, session.org_id, &name).await?;
    let balance = entries::lock_user(&mut tx, session.org_id, user.id).await?;
    let balance_after = new_balance(balance, amount_micros)?;
    let id = Uuid::now_v7();
    entries::post(
        &mut tx,
        &entries::NewEntry {
            id,
            org_id: session.org_id,
            user_id: user.id,
            kind: new.kind,
            amount_micros,
            counted: true,
            device: None,
            config_version: None,
            occurred_at: Utc::now(),
            actor: &session.name,
            reason: Some(&reason),
            reverses_id: None,
            held_id: None,
            usage: None,
            tokens: None,
            redemption_code_id: None,
        },
    )
    .await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        &format!("entry.{}", new.kind.as_str()),
        json!({
            "entry": id,
            "user": user.name,
            "amount": micros_to_credits(amount_micros).to_string(),
            "amount_micros": amount_micros,
            "balance_micros": balance_after,
            "reason": reason,
        }),
    )
    .await?;
    let info = entries::entry(&mut tx, session.org_id, id).await?;
    tx.commit().await?;
    Ok(Json(info))
}

/// Reverses a counted entry once, with an entry of the opposite amount (a charge's reversal keeps its
/// usage, so reports net it out).
#[utoipa::path(
    post,
    path = "/v1/admin/entries/{id}/reverse",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The entry to reverse")),
    request_body = Reason,
    responses(
        (status = 200, description = "The reversal", body = EntryInfo),
        (status = 400, description = "`bad_id`, `bad_kind` (a reversal) or `reason_required`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such entry", body = ErrorBody),
        (status = 409, description = "`already_reversed` or `not_counted`", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn reverse_entry(
    session: AdminSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Reason>,
) -> ApiResult<Json<EntryInfo>> {
    let id = parse_id("entry", &id)?;
    let reason = check_reason(&body.reason)?;
    let mut tx = state.pool.begin().await?;
    // The reversal takes back the tokens the entry added (a true-up's are a difference).
    let (user_id, prompt_tokens, completion_tokens): (Uuid, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "SELECT user_id, prompt_tokens, completion_tokens FROM entries WHERE org_id = $1 AND id = $2",
        )
        .bind(session.org_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("entry", id))?;
    // The user's row lock serializes two reversals of the same entry.
    let balance = entries::lock_user(&mut tx, session.org_id, user_id).await?;
    let original = entries::entry(&mut tx, session.org_id, id).await?;
    if original.kind == EntryKind::Reversal {
        return Err(ApiError::bad(
            "bad_kind",
            "a reversal cannot itself be reversed",
        ));
    }
    if !original.counted {
        return Err(ApiError::conflict(
            "not_counted",
            "this entry is not counted in the balance (a duplicate or quarantined charge): there is nothing to reverse",
        ));
    }
    let reversed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM entries WHERE org_id = $1 AND reverses_id = $2)",
    )
    .bind(session.org_id)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if reversed {
        return Err(already_reversed(id));
    }
    let amount_micros = original
        .amount_micros
        .checked_neg()
        .ok_or_else(|| ApiError::bad("bad_amount", "this entry's amount cannot be negated"))?;
    let balance_after = new_balance(balance, amount_micros)?;
    let reversal_id = Uuid::now_v7();
    let posted = entries::post(
        &mut tx,
        &entries::NewEntry {
            id: reversal_id,
            org_id: session.org_id,
            user_id,
            kind: EntryKind::Reversal,
            amount_micros,
            counted: true,
            device: None,
            config_version: None,
            occurred_at: Utc::now(),
            actor: &session.name,
            reason: Some(&reason),
            reverses_id: Some(id),
            held_id: None,
            usage: original.usage.as_ref(),
            tokens: prompt_tokens.zip(completion_tokens),
            redemption_code_id: None,
        },
    )
    .await;
    match posted {
        Err(crate::error::ApiError::Database(error)) if is_unique_violation(&error) => {
            return Err(already_reversed(id));
        }
        other => other?,
    }
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "entry.reverse",
        json!({
            "entry": reversal_id,
            "reverses": id,
            "user": original.user,
            "amount_micros": amount_micros,
            "balance_micros": balance_after,
            "reason": reason,
        }),
    )
    .await?;
    let info = entries::entry(&mut tx, session.org_id, reversal_id).await?;
    tx.commit().await?;
    Ok(Json(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_entries_have_the_sign_their_kind_allows() {
        assert!(check_admin_entry(EntryKind::Grant, 1).is_ok());
        assert!(check_admin_entry(EntryKind::Topup, 5_000_000).is_ok());
        assert!(check_admin_entry(EntryKind::Adjustment, -1).is_ok());
        assert!(check_admin_entry(EntryKind::Adjustment, 1).is_ok());
        for (kind, amount, code) in [
            (EntryKind::Grant, 0, "bad_amount"),
            (EntryKind::Topup, -1, "bad_amount"),
            (EntryKind::Adjustment, 0, "bad_amount"),
            (EntryKind::Charge, -1, "bad_kind"),
            (EntryKind::Reversal, 1, "bad_kind"),
        ] {
            let error = check_admin_entry(kind, amount).expect_err("refused");
            assert_eq!(error.code(), code, "{kind:?} {amount}");
        }
    }

    #[test]
    fn balances_never_wrap() {
        assert_eq!(new_balance(5, -7).unwrap(), -2);
        assert_eq!(
            new_balance(i64::MAX, 1).expect_err("overflow").code(),
            "bad_amount"
        );
    }
}
