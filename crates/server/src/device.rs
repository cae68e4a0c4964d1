//! The device API: enrollment, the config pull (long poll), the entry push and the lease.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::PgConnection;
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{EntryKind, OrgInfo, Role, UserInfo};
use tokendesk_sync_proto::device::{
    ConfigAnswer, ConfigSnapshot, EnrollAnswer, EnrollRequest, HeldItem, HoldReason, ItemBody,
    ItemResult, ItemStatus, Lease, MAX_BATCH_ITEMS, MAX_CONFIG_WAIT_SECONDS, PushAnswer, PushItem,
    PushRequest, RedeemAnswer, RedeemRequest, SideCall, Usage,
};
use tokio::sync::broadcast;
use tokio::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{self, DEVICE_PREFIX, DeviceAuth};
use crate::entries::{self, NewEntry};
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::state::AppState;
use crate::{budgets, config, pricing};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enroll))
        .routes(routes!(pull_config))
        .routes(routes!(push))
        .routes(routes!(lease))
        .routes(routes!(redeem))
}

/// Redeems a redemption code for the device's user: claims the code and posts its `redemption` entry in
/// one transaction, so a code credits once whatever races it.
#[utoipa::path(post, path = "/v1/redeem", tag = "device", request_body = RedeemRequest,
    responses((status = 200, body = RedeemAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn redeem(
    State(state): State<AppState>,
    device: DeviceAuth,
    Json(req): Json<RedeemRequest>,
) -> ApiResult<Json<RedeemAnswer>> {
    let code_hash = auth::hash_typed_code(&req.code);
    let entry_id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    let balance = entries::lock_user(&mut tx, device.org_id, device.user_id).await?;
    let claimed: Option<(Uuid, i64, String)> = sqlx::query_as(
        "UPDATE redemption_codes SET redeemed_by = $3, redeemed_device = $4, redeemed_at = now(), entry_id = $5 \
         WHERE org_id = $1 AND code_hash = $2 AND redeemed_at IS NULL \
           AND (expires_at IS NULL OR expires_at > now()) \
         RETURNING id, amount_micros, reason",
    )
    .bind(device.org_id)
    .bind(&code_hash)
    .bind(device.user_id)
    .bind(device.device_id)
    .bind(entry_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((code_id, amount_micros, reason)) = claimed else {
        let redeemed: Option<bool> = sqlx::query_scalar(
            "SELECT redeemed_at IS NOT NULL FROM redemption_codes WHERE org_id = $1 AND code_hash = $2",
        )
        .bind(device.org_id)
        .bind(&code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        return Err(match redeemed {
            Some(true) => ApiError::conflict("redemption_used", "this code was redeemed already"),
            _ => ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "redemption_invalid",
                "this code is not valid, or it expired: check it with the admin who gave it",
            ),
        });
    };
    let balance = balance
        .checked_add(amount_micros)
        .ok_or_else(|| ApiError::bad("overflow", "the balance would be out of range"))?;
    let actor = format!("device:{}", device.device_id);
    entries::post(
        &mut tx,
        &NewEntry {
            org_id: device.org_id,
            user_id: device.user_id,
            kind: EntryKind::Redemption,
            amount_micros,
            counted: true,
            device: None,
            config_version: None,
            occurred_at: Utc::now(),
            actor: &actor,
            reason: Some(&reason),
            reverses_id: None,
            held_id: None,
            usage: None,
            tokens: None,
            redemption_code_id: Some(code_id),
            id: entry_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Json(RedeemAnswer {
        entry_id,
        code_id,
        amount_micros,
        balance_micros: balance,
    }))
}

/// Trade a single-use enrollment code for a device id and token.
#[utoipa::path(post, path = "/v1/enroll", tag = "device", request_body = EnrollRequest,
    responses((status = 200, body = EnrollAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn enroll(
    State(state): State<AppState>,
    Json(req): Json<EnrollRequest>,
) -> ApiResult<Json<EnrollAnswer>> {
    let name = req.device_name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "bad_name",
            "a device name has 1 to 100 characters and no control characters",
        ));
    }
    let device_id = Uuid::now_v7();
    let token = auth::new_token(DEVICE_PREFIX);
    let mut tx = state.pool.begin().await?;
    // Claiming the code and checking it are one statement, so two devices cannot both use it.
    let claimed: Option<(Uuid, Uuid)> = sqlx::query_as(
        "UPDATE enrollment_codes SET used_at = now(), device_id = $2 \
         WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING org_id, user_id",
    )
    .bind(auth::hash_typed_code(&req.code))
    .bind(device_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((org_id, user_id)) = claimed else {
        return Err(ApiError::forbidden(
            "code_invalid",
            "this enrollment code is not valid; ask an admin for a new one",
        ));
    };
    sqlx::query(
        "INSERT INTO devices (org_id, id, user_id, name, token_hash, last_seen, clock_skew_ms) \
         VALUES ($1, $2, $3, $4, $5, now(), $6)",
    )
    .bind(org_id)
    .bind(device_id)
    .bind(user_id)
    .bind(name)
    .bind(auth::hash_token(&token))
    .bind(skew_ms(req.device_clock))
    .execute(&mut *tx)
    .await?;
    let (org_name, user_name, display_name, role): (String, String, String, String) = sqlx::query_as(
        "SELECT o.name, u.name, u.display_name, u.role FROM users u JOIN orgs o ON o.id = u.org_id \
         WHERE u.org_id = $1 AND u.id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let role = Role::parse(&role)
        .ok_or_else(|| ApiError::internal(format!("user {user_id} has role {role}")))?;
    Ok(Json(EnrollAnswer {
        device_id,
        device_token: token,
        org: OrgInfo {
            id: org_id,
            name: org_name,
        },
        user: UserInfo {
            id: user_id,
            name: user_name,
            display_name,
            role,
        },
    }))
}

fn skew_ms(device_clock: DateTime<Utc>) -> i64 {
    (device_clock - Utc::now()).num_milliseconds()
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigQuery {
    /// The version the device holds; left out, the whole snapshot is sent.
    pub since: Option<i64>,
    /// Seconds to wait for a newer version (at most 60).
    pub wait: Option<u64>,
}

/// Waiters re-read the version at least this often, in case a notification was missed.
const RECHECK: Duration = Duration::from_secs(5);

/// The config snapshot, when newer than `since`; waits up to `wait` seconds for one.
#[utoipa::path(get, path = "/v1/config", tag = "device", params(ConfigQuery),
    responses((status = 200, body = ConfigAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pull_config(
    State(state): State<AppState>,
    device: DeviceAuth,
    Query(query): Query<ConfigQuery>,
) -> ApiResult<Json<ConfigAnswer>> {
    let since = query.since.unwrap_or(0);
    let wait = Duration::from_secs(query.wait.unwrap_or(0).min(MAX_CONFIG_WAIT_SECONDS));
    let deadline = Instant::now() + wait;
    // Subscribed before the first read, so a change committed in between still wakes this request.
    let mut changes = if wait.is_zero() {
        None
    } else {
        Some(state.config_changes().await)
    };
    loop {
        // No connection is held while waiting.
        let current =
            config::current_version(&mut *state.pool.acquire().await?, device.org_id).await?;
        if since > current {
            return Err(ApiError::bad(
                "bad_version",
                format!("config version {since} is newer than the server's {current}"),
            ));
        }
        if since < current {
            let snapshot = config::snapshot(&state, device.org_id, current).await?;
            return Ok(Json(ConfigAnswer::Changed {
                snapshot: Box::new(snapshot.as_ref().clone()),
            }));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Json(ConfigAnswer::Unchanged { version: current }));
        }
        let tick = (deadline - now).min(RECHECK);
        match &mut changes {
            Some(receiver) => {
                let _ = tokio::time::timeout(tick, change_of(receiver, device.org_id)).await;
            }
            None => tokio::time::sleep(tick).await,
        }
    }
}

/// Returns when `org_id` (or, after a lost connection, any org) may have a new version.
async fn change_of(receiver: &mut broadcast::Receiver<Uuid>, org_id: Uuid) {
    loop {
        match receiver.recv().await {
            Ok(id) if id == org_id || id.is_nil() => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

/// Push the device's next entries; answers every item, the balance and a fresh lease.
#[utoipa::path(post, path = "/v1/sync/push", tag = "device", request_body = PushRequest,
    responses((status = 200, body = PushAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn push(
    State(state): State<AppState>,
    device: DeviceAuth,
    Json(req): Json<PushRequest>,
) -> ApiResult<Json<PushAnswer>> {
    sync(&state, &device, &req).await.map(Json)
}

/// Renew the lease: a push without items.
#[utoipa::path(post, path = "/v1/sync/lease", tag = "device", request_body = PushRequest,
    responses((status = 200, body = PushAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn lease(
    State(state): State<AppState>,
    device: DeviceAuth,
    Json(req): Json<PushRequest>,
) -> ApiResult<Json<PushAnswer>> {
    if !req.items.is_empty() {
        return Err(ApiError::bad(
            "items_not_allowed",
            "a lease renewal carries no items: push them to /v1/sync/push",
        ));
    }
    sync(&state, &device, &req).await.map(Json)
}

/// The checks that need no database: size, numbering, and values the columns cannot hold.
fn check_batch(items: &[PushItem]) -> ApiResult<()> {
    if items.len() > MAX_BATCH_ITEMS {
        return Err(ApiError::too_large(format!(
            "a push carries at most {MAX_BATCH_ITEMS} items"
        )));
    }
    let Some(first) = items.first() else {
        return Ok(());
    };
    if first.device_seq < 1 {
        return Err(ApiError::bad("seq_order", "device_seq starts at 1"));
    }
    for (offset, item) in (0_i64..).zip(items) {
        if first.device_seq.checked_add(offset) != Some(item.device_seq) {
            return Err(ApiError::bad(
                "seq_order",
                format!(
                    "items must be in consecutive device_seq order; item {} has {}",
                    offset, item.device_seq
                ),
            ));
        }
        let (prompt, completion) = match &item.body {
            ItemBody::Charge { usage, .. } => (usage.prompt_tokens, usage.completion_tokens),
            ItemBody::Held(held) => {
                if held.reason == HoldReason::Quarantined {
                    return Err(ApiError::bad(
                        "bad_item",
                        format!("item {}: only the server quarantines", item.id),
                    ));
                }
                (held.prompt_tokens, held.completion_tokens)
            }
        };
        if i64::try_from(prompt).is_err() || i64::try_from(completion).is_err() {
            return Err(ApiError::bad(
                "bad_item",
                format!("item {}: the token counts are too large", item.id),
            ));
        }
    }
    Ok(())
}

/// One push, in one transaction with the device's row locked: replayed items are answered from what was
/// stored, new ones are re-priced and stored, and the lease is renewed.
async fn sync(state: &AppState, device: &DeviceAuth, req: &PushRequest) -> ApiResult<PushAnswer> {
    let items = req.items.as_slice();
    check_batch(items)?;
    let hashes: Vec<String> = items.iter().map(PushItem::content_hash).collect();
    // Loaded before the transaction takes a connection, so a full pool cannot wait on itself.
    let mut snapshots: HashMap<i64, Arc<ConfigSnapshot>> = HashMap::new();
    for item in items {
        if let Entry::Vacant(slot) = snapshots.entry(item.config_version) {
            slot.insert(config::snapshot(state, device.org_id, item.config_version).await?);
        }
    }

    let mut tx = state.pool.begin().await?;
    let (last_seq, revoked): (i64, bool) = sqlx::query_as(
        "SELECT last_seq, revoked FROM devices WHERE org_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(device.org_id)
    .bind(device.device_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::unauthorized("the device is unknown"))?;
    if revoked {
        return Err(ApiError::forbidden(
            "device_revoked",
            "this device was revoked by an admin",
        ));
    }
    if let Some(first) = items.first()
        && first.device_seq > last_seq + 1
    {
        return Err(ApiError::conflict(
            "seq_gap",
            format!(
                "expected device_seq {}, got {}",
                last_seq + 1,
                first.device_seq
            ),
        ));
    }
    let split = items
        .iter()
        .position(|item| item.device_seq > last_seq)
        .unwrap_or(items.len());
    let (seen, fresh) = items.split_at(split);
    let (seen_hashes, fresh_hashes) = hashes.split_at(split);

    let (current_version, offline_allowance, lease_seconds): (i64, i64, i64) = sqlx::query_as(
        "SELECT o.config_version, p.offline_allowance_micros, p.lease_seconds \
         FROM orgs o JOIN policy p ON p.org_id = o.id WHERE o.id = $1",
    )
    .bind(device.org_id)
    .fetch_one(&mut *tx)
    .await?;
    let balance = entries::lock_user(&mut tx, device.org_id, device.user_id).await?;

    let mut results = replay(&mut tx, device, seen, seen_hashes).await?;
    let (fresh_results, counted) = apply(&mut tx, device, fresh, fresh_hashes, &snapshots).await?;
    results.extend(fresh_results);
    let balance = balance
        .checked_add(counted)
        .ok_or_else(|| ApiError::bad("overflow", "the amounts overflow the balance"))?;

    let acked = items
        .last()
        .map_or(last_seq, |item| item.device_seq.max(last_seq));
    sqlx::query("UPDATE devices SET last_seq = $3, last_seen = now(), clock_skew_ms = $4 WHERE org_id = $1 AND id = $2")
        .bind(device.org_id)
        .bind(device.device_id)
        .bind(acked)
        .bind(skew_ms(req.device_clock))
        .execute(&mut *tx)
        .await?;
    // balance − Σ open leases ≥ 0: this device's old lease is replaced, the others' are set aside.
    let (amount_micros, base_seq, expires_at): (i64, i64, DateTime<Utc>) = sqlx::query_as(
        "WITH others AS (SELECT COALESCE(SUM(amount_micros), 0)::int8 AS reserved FROM leases \
             WHERE org_id = $1 AND user_id = $3 AND device_id <> $2 AND expires_at > now()) \
         INSERT INTO leases (org_id, device_id, user_id, amount_micros, base_seq, expires_at) \
         SELECT $1, $2, $3, GREATEST(LEAST($4::int8, $5::int8 - reserved), 0), $6, \
                now() + make_interval(secs => $7::float8) FROM others \
         ON CONFLICT (org_id, device_id) DO UPDATE SET user_id = EXCLUDED.user_id, \
             amount_micros = EXCLUDED.amount_micros, base_seq = EXCLUDED.base_seq, expires_at = EXCLUDED.expires_at \
         RETURNING amount_micros, base_seq, expires_at",
    )
    .bind(device.org_id)
    .bind(device.device_id)
    .bind(device.user_id)
    .bind(offline_allowance)
    .bind(balance)
    .bind(acked)
    .bind(lease_seconds as f64)
    .fetch_one(&mut *tx)
    .await?;
    let budget = budgets::status(&mut tx, device.org_id, device.user_id).await?;
    tx.commit().await?;
    Ok(PushAnswer {
        acked_through_seq: acked,
        results,
        balance_micros: balance,
        lease: Lease {
            amount_micros,
            base_seq,
            expires_at,
        },
        config_version: current_version,
        budget,
    })
}

type StoredRow = (
    i64,
    Uuid,
    Option<String>,
    Option<bool>,
    Option<String>,
    Option<String>,
);

/// Items at or below `last_seq`: each must be exactly what was stored, and gets its stored outcome.
async fn replay(
    tx: &mut PgConnection,
    device: &DeviceAuth,
    seen: &[PushItem],
    hashes: &[String],
) -> ApiResult<Vec<ItemResult>> {
    let (Some(first), Some(last)) = (seen.first(), seen.last()) else {
        return Ok(Vec::new());
    };
    let rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT e.device_seq, e.id, e.content_hash, e.counted, e.reason, h.detail FROM entries e \
         LEFT JOIN held_events h ON h.org_id = e.org_id AND h.entry_id = e.id AND h.reason = 'quarantined' \
         WHERE e.org_id = $1 AND e.device_id = $2 AND e.device_seq BETWEEN $3 AND $4 \
         UNION ALL \
         SELECT device_seq, id, content_hash, NULL, NULL, detail FROM held_events \
         WHERE org_id = $1 AND device_id = $2 AND device_seq BETWEEN $3 AND $4",
    )
    .bind(device.org_id)
    .bind(device.device_id)
    .bind(first.device_seq)
    .bind(last.device_seq)
    .fetch_all(&mut *tx)
    .await?;
    let stored: HashMap<i64, StoredRow> = rows.into_iter().map(|row| (row.0, row)).collect();
    seen.iter()
        .zip(hashes)
        .map(|(item, hash)| {
            let Some((_, id, stored_hash, counted, reason, held_detail)) =
                stored.get(&item.device_seq)
            else {
                return Err(seq_conflict(item.device_seq));
            };
            if *id != item.id || stored_hash.as_deref() != Some(hash.as_str()) {
                return Err(seq_conflict(item.device_seq));
            }
            let (status, detail) = match (counted, held_detail) {
                (Some(true), _) => (ItemStatus::Accepted, None),
                (Some(false), Some(detail)) => (ItemStatus::Quarantined, Some(detail.clone())),
                (Some(false), None) => (ItemStatus::Duplicate, reason.clone()),
                (None, detail) => (ItemStatus::Held, detail.clone()),
            };
            Ok(ItemResult {
                id: item.id,
                device_seq: item.device_seq,
                status,
                detail,
            })
        })
        .collect()
}

fn seq_conflict(seq: i64) -> ApiError {
    ApiError::conflict(
        "seq_conflict",
        format!("device_seq {seq} was pushed before with other content"),
    )
}

const DUPLICATE_REASON: &str = "duplicate: another charge of this message is counted";

/// A held event as stored: pushed by the device, or made here when a charge's price is disputed.
struct HeldRow<'a> {
    id: Uuid,
    reason: HoldReason,
    detail: String,
    /// (device_seq, content hash) for a pushed hold; a quarantine's entry carries them instead.
    pushed: Option<(i64, &'a str)>,
    config_version: i64,
    app_id: Uuid,
    message_id: &'a str,
    prompt_tokens: u64,
    completion_tokens: u64,
    estimated: bool,
    dify_total_price: Option<Decimal>,
    dify_currency: Option<&'a str>,
    device_amount_micros: Option<i64>,
    server_amount_micros: Option<i64>,
    payload: String,
    entry_id: Option<Uuid>,
    side_call: Option<SideCall>,
}

/// What a new charge came to before the charge keys were taken.
enum Verdict {
    Priced,
    Disputed {
        detail: String,
        server_amount: Option<i64>,
    },
}

/// Items above `last_seq`: stored, with the counted total they add to the balance.
async fn apply(
    tx: &mut PgConnection,
    device: &DeviceAuth,
    fresh: &[PushItem],
    hashes: &[String],
    snapshots: &HashMap<i64, Arc<ConfigSnapshot>>,
) -> ApiResult<(Vec<ItemResult>, i64)> {
    if fresh.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let ids: Vec<Uuid> = fresh.iter().map(|item| item.id).collect();
    let mut unique = HashSet::with_capacity(ids.len());
    if let Some(id) = ids.iter().find(|id| !unique.insert(**id)) {
        return Err(ApiError::conflict(
            "id_conflict",
            format!("item {id} appears twice in the batch"),
        ));
    }
    // An id already among the entries is caught by their primary key on insert (one probe, not two);
    // only the holds, and held items among the entries, are looked up first.
    let held_ids: Vec<Uuid> = fresh
        .iter()
        .filter(|item| matches!(item.body, ItemBody::Held(_)))
        .map(|item| item.id)
        .collect();
    let taken: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM held_events WHERE org_id = $1 AND id = ANY($2) \
         UNION ALL SELECT id FROM entries WHERE org_id = $1 AND id = ANY($3) LIMIT 1",
    )
    .bind(device.org_id)
    .bind(&ids)
    .bind(&held_ids)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = taken {
        return Err(id_conflict(id));
    }

    // Re-price every charge at the version it names.
    let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(fresh.len());
    for item in fresh {
        verdicts.push(match &item.body {
            ItemBody::Charge {
                amount_micros,
                usage,
            } => {
                let snapshot = snapshots
                    .get(&item.config_version)
                    .ok_or_else(|| ApiError::internal("a snapshot was not loaded"))?;
                Some(match pricing::reprice(snapshot, usage) {
                    Ok(server) if amount_micros.checked_neg() == Some(server) => Verdict::Priced,
                    Ok(server) => Verdict::Disputed {
                        detail: format!(
                            "the device charged {} micro-credits; the server's price is {server}",
                            -i128::from(*amount_micros)
                        ),
                        server_amount: Some(server),
                    },
                    Err(detail) => Verdict::Disputed {
                        detail,
                        server_amount: None,
                    },
                })
            }
            ItemBody::Held(_) => None,
        });
    }

    // One counted charge per (app, message): whoever takes the key first.
    let priced: Vec<&PushItem> = fresh
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| matches!(v, Some(Verdict::Priced)))
        .map(|(item, _)| item)
        .collect();
    let accepted: HashSet<Uuid> = if priced.is_empty() {
        HashSet::new()
    } else {
        let (apps, messages) = charge_keys(&priced);
        let entry_ids: Vec<Uuid> = priced.iter().map(|item| item.id).collect();
        sqlx::query_scalar(
            "INSERT INTO charge_keys (org_id, app_id, message_id, entry_id) \
             SELECT $1, a, m, e FROM UNNEST($2::uuid[], $3::text[], $4::uuid[]) AS x(a, m, e) ORDER BY a, m \
             ON CONFLICT DO NOTHING RETURNING entry_id",
        )
        .bind(device.org_id)
        .bind(apps)
        .bind(messages)
        .bind(entry_ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect()
    };
    // A disputed charge of a message already counted is a duplicate, not a dispute.
    let disputed: Vec<&PushItem> = fresh
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| matches!(v, Some(Verdict::Disputed { .. })))
        .map(|(item, _)| item)
        .collect();
    let already_charged: HashSet<(Uuid, String)> = if disputed.is_empty() {
        HashSet::new()
    } else {
        let (apps, messages) = charge_keys(&disputed);
        sqlx::query_as(
            "SELECT app_id, message_id FROM charge_keys WHERE org_id = $1 \
             AND (app_id, message_id) IN (SELECT * FROM UNNEST($2::uuid[], $3::text[]))",
        )
        .bind(device.org_id)
        .bind(apps)
        .bind(messages)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect()
    };

    let actor = format!("device:{}", device.device_id);
    let mut results = Vec::with_capacity(fresh.len());
    let mut new_entries = Vec::with_capacity(fresh.len());
    let mut held_rows = Vec::new();
    let mut counted_total: i64 = 0;
    for ((item, hash), verdict) in fresh.iter().zip(hashes).zip(verdicts) {
        let (status, detail) = match (&item.body, verdict) {
            (
                ItemBody::Charge {
                    amount_micros,
                    usage,
                },
                Some(verdict),
            ) => {
                let key = (usage.app_id, usage.message_id.clone());
                let (status, detail, reason) = match verdict {
                    Verdict::Priced if accepted.contains(&item.id) => {
                        (ItemStatus::Accepted, None, None)
                    }
                    Verdict::Disputed {
                        detail,
                        server_amount,
                    } if !already_charged.contains(&key) => {
                        held_rows.push(quarantine(
                            item,
                            *amount_micros,
                            usage,
                            detail.clone(),
                            server_amount,
                        )?);
                        (ItemStatus::Quarantined, Some(detail), None)
                    }
                    _ => (
                        ItemStatus::Duplicate,
                        Some(DUPLICATE_REASON.to_string()),
                        Some(DUPLICATE_REASON),
                    ),
                };
                let counted = status == ItemStatus::Accepted;
                if counted {
                    counted_total = counted_total.checked_add(*amount_micros).ok_or_else(|| {
                        ApiError::bad("overflow", "the amounts overflow the balance")
                    })?;
                }
                new_entries.push(NewEntry {
                    org_id: device.org_id,
                    user_id: device.user_id,
                    kind: EntryKind::Charge,
                    amount_micros: *amount_micros,
                    counted,
                    device: Some((device.device_id, item.device_seq, hash.as_str())),
                    config_version: Some(item.config_version),
                    occurred_at: item.occurred_at,
                    actor: &actor,
                    reason,
                    reverses_id: None,
                    held_id: None,
                    usage: Some(usage),
                    tokens: None,
                    redemption_code_id: None,
                    id: item.id,
                });
                (status, detail)
            }
            (ItemBody::Held(held), _) => {
                let snapshot = snapshots.get(&item.config_version);
                held_rows.push(pushed_hold(item, hash, held, snapshot.map(Arc::as_ref))?);
                (ItemStatus::Held, Some(held.detail.clone()))
            }
            (ItemBody::Charge { .. }, None) => {
                return Err(ApiError::internal("a charge was not priced"));
            }
        };
        results.push(ItemResult {
            id: item.id,
            device_seq: item.device_seq,
            status,
            detail,
        });
    }

    entries::post_many(tx, &new_entries)
        .await
        .map_err(|e| match e.constraint() {
            Some("entries_pkey") => id_conflict_unknown(),
            _ => e,
        })?;
    for row in &held_rows {
        insert_held(tx, device, row).await?;
    }
    Ok((results, counted_total))
}

fn charge_keys(items: &[&PushItem]) -> (Vec<Uuid>, Vec<String>) {
    items
        .iter()
        .filter_map(|item| match &item.body {
            ItemBody::Charge { usage, .. } => Some((usage.app_id, usage.message_id.clone())),
            ItemBody::Held(_) => None,
        })
        .unzip()
}

fn id_conflict(id: Uuid) -> ApiError {
    ApiError::conflict(
        "id_conflict",
        format!("item {id} was pushed before under another device_seq or device"),
    )
}

fn id_conflict_unknown() -> ApiError {
    ApiError::conflict(
        "id_conflict",
        "an item of this batch was pushed before under another device_seq or device",
    )
}

fn payload(item: &PushItem) -> ApiResult<String> {
    serde_json::to_string(item).map_err(|e| ApiError::internal(format!("item {}: {e}", item.id)))
}

fn quarantine<'a>(
    item: &'a PushItem,
    amount_micros: i64,
    usage: &'a Usage,
    detail: String,
    server_amount_micros: Option<i64>,
) -> ApiResult<HeldRow<'a>> {
    Ok(HeldRow {
        id: Uuid::now_v7(),
        reason: HoldReason::Quarantined,
        detail,
        pushed: None,
        config_version: item.config_version,
        app_id: usage.app_id,
        message_id: &usage.message_id,
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        estimated: usage.estimated,
        dify_total_price: usage.dify_total_price,
        dify_currency: usage.dify_currency.as_deref(),
        device_amount_micros: amount_micros.checked_neg(),
        server_amount_micros,
        payload: payload(item)?,
        entry_id: Some(item.id),
        side_call: usage.side_call,
    })
}

fn pushed_hold<'a>(
    item: &'a PushItem,
    hash: &'a str,
    held: &'a HeldItem,
    snapshot: Option<&ConfigSnapshot>,
) -> ApiResult<HeldRow<'a>> {
    let server_amount_micros = snapshot.and_then(|snapshot| {
        pricing::price_event(
            snapshot,
            held.app_id,
            held.side_call,
            held.prompt_tokens,
            held.completion_tokens,
            held.dify_total_price,
            held.dify_currency.as_deref(),
        )
        .ok()
    });
    Ok(HeldRow {
        id: item.id,
        reason: held.reason,
        detail: held.detail.clone(),
        pushed: Some((item.device_seq, hash)),
        config_version: item.config_version,
        app_id: held.app_id,
        message_id: &held.message_id,
        prompt_tokens: held.prompt_tokens,
        completion_tokens: held.completion_tokens,
        estimated: held.estimated,
        dify_total_price: held.dify_total_price,
        dify_currency: held.dify_currency.as_deref(),
        device_amount_micros: held.amount_micros,
        server_amount_micros,
        payload: held.payload.clone(),
        entry_id: None,
        side_call: held.side_call,
    })
}

/// Holds are rare next to charges, so one statement each is fine.
async fn insert_held(
    tx: &mut PgConnection,
    device: &DeviceAuth,
    row: &HeldRow<'_>,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO held_events (org_id, id, reason, detail, user_id, device_id, device_seq, content_hash, \
             config_version, app_id, message_id, prompt_tokens, completion_tokens, estimated, dify_total_price, \
             dify_currency, device_amount_micros, server_amount_micros, payload, entry_id, side_call) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
    )
    .bind(device.org_id)
    .bind(row.id)
    .bind(row.reason.as_str())
    .bind(&row.detail)
    .bind(device.user_id)
    .bind(device.device_id)
    .bind(row.pushed.map(|p| p.0))
    .bind(row.pushed.map(|p| p.1))
    .bind(row.config_version)
    .bind(row.app_id)
    .bind(row.message_id)
    // check_batch refused counts beyond i64.
    .bind(i64::try_from(row.prompt_tokens).unwrap_or(i64::MAX))
    .bind(i64::try_from(row.completion_tokens).unwrap_or(i64::MAX))
    .bind(row.estimated)
    .bind(row.dify_total_price)
    .bind(row.dify_currency)
    .bind(row.device_amount_micros)
    .bind(row.server_amount_micros)
    .bind(&row.payload)
    .bind(row.entry_id)
    .bind(row.side_call.map(SideCall::as_str))
    .execute(&mut *tx)
    .await
    .map_err(|e| match ApiError::from(e) {
        e if e.constraint() == Some("held_events_pkey") => id_conflict(row.id),
        e => e,
    })?;
    Ok(())
}
