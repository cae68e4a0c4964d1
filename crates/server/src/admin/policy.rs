//! The guards every device enforces, the offline allowance, and the hosts devices may navigate to.

use axum::extract::State;
use serde_json::json;
use sqlx::PgConnection;
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{NavigationHost, SetPolicy};
use tokendesk_sync_proto::budget::parse_time_zone;
use tokendesk_sync_proto::device::{Policy, SideCallPricing, WhenUnchecked};
use url::Url;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{lock_config, parse_credits};
use crate::auth::AdminSession;
use crate::config;
use crate::error::{ApiError, ApiResult, Json};
use crate::state::AppState;

/// The longest lease: a year, so `now + lease` never overflows a timestamp.
const MAX_LEASE_SECONDS: i64 = 366 * 24 * 3600;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(show_policy, set_policy))
        .routes(routes!(list_navigation_hosts, add_navigation_host))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Flag,
    /// Credits typed as a decimal, stored in micros; `signed` allows negative values.
    Credits {
        signed: bool,
    },
    /// A whole number from `min` to `max`.
    Count {
        min: i64,
        max: i64,
    },
    /// An IANA time zone name.
    TimeZone,
    /// What a device does with a send it could not check: `allow` (and record) or `block`.
    WhenUnchecked,
    /// How side calls are priced: `free`, `fixed` or `estimate`.
    SideCalls,
}

/// The keys `org policy show` prints, with their columns.
const KEYS: [(&str, &str, Kind); 14] = [
    ("integration_enabled", "integration_enabled", Kind::Flag),
    (
        "min_balance",
        "min_balance_micros",
        Kind::Credits { signed: true },
    ),
    (
        "event_cap",
        "event_cap_micros",
        Kind::Credits { signed: false },
    ),
    (
        "low_balance",
        "low_balance_micros",
        Kind::Credits { signed: true },
    ),
    (
        "daily_budget",
        "daily_budget_micros",
        Kind::Credits { signed: false },
    ),
    (
        "monthly_budget",
        "monthly_budget_micros",
        Kind::Credits { signed: false },
    ),
    (
        "offline_allowance",
        "offline_allowance_micros",
        Kind::Credits { signed: false },
    ),
    (
        "flood_max_per_minute",
        "flood_max_per_minute",
        Kind::Count {
            min: 0,
            max: i64::MAX,
        },
    ),
    (
        "max_tokens_per_event",
        "max_tokens_per_event",
        Kind::Count {
            min: 1,
            max: i64::MAX,
        },
    ),
    (
        "lease_seconds",
        "lease_seconds",
        Kind::Count {
            min: 1,
            max: MAX_LEASE_SECONDS,
        },
    ),
    ("time_zone", "time_zone", Kind::TimeZone),
    ("when_unchecked", "when_unchecked", Kind::WhenUnchecked),
    ("side_calls", "side_calls", Kind::SideCalls),
    (
        "side_call_fixed",
        "side_call_fixed_micros",
        Kind::Credits { signed: false },
    ),
];

#[derive(Debug, Clone, PartialEq)]
enum Setting {
    Flag(bool),
    Number(i64),
    Text(String),
}

/// The column a key sets and the value to store, or why not.
fn parse_setting(key: &str, value: &str) -> ApiResult<(&'static str, Setting)> {
    let (key, column, kind) = KEYS
        .iter()
        .find(|(name, ..)| *name == key.trim())
        .copied()
        .ok_or_else(|| {
            let keys: Vec<&str> = KEYS.iter().map(|(name, ..)| *name).collect();
            ApiError::bad(
                "unknown_key",
                format!(
                    "unknown policy key {key:?}; the keys are {}",
                    keys.join(", ")
                ),
            )
        })?;
    let value = value.trim();
    let setting = match kind {
        Kind::Flag => match value.to_ascii_lowercase().as_str() {
            "true" => Setting::Flag(true),
            "false" => Setting::Flag(false),
            _ => {
                return Err(ApiError::bad(
                    "bad_value",
                    format!("{key} is true or false"),
                ));
            }
        },
        Kind::Credits { signed } => {
            let micros = parse_credits(key, value).map_err(|_| {
                ApiError::bad(
                    "bad_value",
                    format!("{key} is credits, a decimal with at most 6 decimals"),
                )
            })?;
            if !signed && micros < 0 {
                return Err(ApiError::bad(
                    "bad_value",
                    format!("{key} is 0 or more credits"),
                ));
            }
            Setting::Number(micros)
        }
        Kind::TimeZone => match parse_time_zone(value) {
            Some(zone) => Setting::Text(zone.name().to_owned()),
            None => {
                return Err(ApiError::bad(
                    "bad_value",
                    format!("{key} is an IANA time zone such as Asia/Shanghai or UTC"),
                ));
            }
        },
        Kind::WhenUnchecked => choice(
            key,
            WhenUnchecked::parse(value).map(WhenUnchecked::as_str),
            "allow (and record each send) or block",
        )?,
        Kind::SideCalls => choice(
            key,
            SideCallPricing::parse(value).map(SideCallPricing::as_str),
            "free, fixed (side_call_fixed each) or estimate",
        )?,
        Kind::Count { min, max } => match value.parse::<i64>() {
            Ok(number) if (min..=max).contains(&number) => Setting::Number(number),
            _ => {
                return Err(ApiError::bad(
                    "bad_value",
                    format!("{key} is a whole number from {min} to {max}"),
                ));
            }
        },
    };
    Ok((column, setting))
}

/// A setting that is one of a few words, or why not: `words` says which.
fn choice(key: &str, chosen: Option<&'static str>, words: &str) -> ApiResult<Setting> {
    chosen
        .map(|word| Setting::Text(word.to_owned()))
        .ok_or_else(|| ApiError::bad("bad_value", format!("{key} is {words}")))
}

/// The guards devices enforce (money in micro-credits).
#[utoipa::path(
    get,
    path = "/v1/admin/policy",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The policy", body = Policy),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn show_policy(
    session: AdminSession,
    State(state): State<AppState>,
) -> ApiResult<Json<Policy>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(config::policy(&mut conn, session.org_id).await?))
}

/// Sets one guard by its key: `integration_enabled` (true/false); `min_balance`, `event_cap`,
/// `low_balance`, `daily_budget`, `monthly_budget`, `offline_allowance` (credits as decimal strings);
/// `flood_max_per_minute`, `max_tokens_per_event`, `lease_seconds` (whole numbers); `time_zone` (IANA,
/// where budget days and months begin); `when_unchecked` (`allow` or `block`: a send a device could not
/// check); `side_calls` (`free`, `fixed` or `estimate`: how auto-naming and suggested questions are
/// priced) with `side_call_fixed` (credits per call when fixed). A new config version.
#[utoipa::path(
    put,
    path = "/v1/admin/policy",
    tag = "admin",
    security(("bearer" = [])),
    request_body = SetPolicy,
    responses(
        (status = 200, description = "The policy as it now is", body = Policy),
        (status = 400, description = "`unknown_key` or `bad_value`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn set_policy(
    session: AdminSession,
    State(state): State<AppState>,
    Json(set): Json<SetPolicy>,
) -> ApiResult<Json<Policy>> {
    let (column, setting) = parse_setting(&set.key, &set.value)?;
    let mut tx = state.pool.begin().await?;
    lock_config(&mut tx, session.org_id).await?;
    // `column` comes from KEYS, never from the request.
    let sql = sqlx::AssertSqlSafe(format!("UPDATE policy SET {column} = $2 WHERE org_id = $1"));
    let query = sqlx::query(sql).bind(session.org_id);
    let query = match &setting {
        Setting::Flag(flag) => query.bind(*flag),
        Setting::Number(number) => query.bind(*number),
        Setting::Text(text) => query.bind(text.clone()),
    };
    if query.execute(&mut *tx).await?.rows_affected() == 0 {
        return Err(ApiError::not_found("policy of org", session.org_id));
    }
    let version = config::bump(&mut tx, session.org_id).await?;
    let value = match setting {
        Setting::Flag(flag) => json!(flag),
        Setting::Number(number) => json!(number),
        Setting::Text(text) => json!(text),
    };
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "policy.set",
        json!({ "key": set.key.trim(), "value": set.value.trim(), column: value, "config_version": version }),
    )
    .await?;
    let policy = config::policy(&mut tx, session.org_id).await?;
    tx.commit().await?;
    Ok(Json(policy))
}

/// An origin as stored: `scheme://host[:port]`, http(s), nothing else.
fn check_origin(text: &str) -> ApiResult<String> {
    let text = text.trim();
    let bad = || {
        ApiError::bad(
            "bad_origin",
            format!("{text:?} is not an origin; expected e.g. https://dify.example.com"),
        )
    };
    let url = Url::parse(text).map_err(|_| bad())?;
    let bare = url.username().is_empty()
        && url.password().is_none()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none();
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || !bare {
        return Err(bad());
    }
    Ok(url.origin().ascii_serialization())
}

async fn navigation_hosts(conn: &mut PgConnection, org_id: Uuid) -> ApiResult<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT origin FROM navigation_hosts WHERE org_id = $1 ORDER BY origin")
            .bind(org_id)
            .fetch_all(&mut *conn)
            .await?,
    )
}

/// The origins devices may navigate to besides the apps' own.
#[utoipa::path(
    get,
    path = "/v1/admin/navigation-hosts",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The origins", body = Vec<String>),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_navigation_hosts(
    session: AdminSession,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<String>>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(navigation_hosts(&mut conn, session.org_id).await?))
}

/// Adds an origin devices may navigate to, in a new config version.
#[utoipa::path(
    post,
    path = "/v1/admin/navigation-hosts",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NavigationHost,
    responses(
        (status = 200, description = "Every origin, the new one included", body = Vec<String>),
        (status = 400, description = "`bad_origin`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 409, description = "`exists`", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn add_navigation_host(
    session: AdminSession,
    State(state): State<AppState>,
    Json(host): Json<NavigationHost>,
) -> ApiResult<Json<Vec<String>>> {
    let origin = check_origin(&host.origin)?;
    let mut tx = state.pool.begin().await?;
    lock_config(&mut tx, session.org_id).await?;
    let added = sqlx::query(
        "INSERT INTO navigation_hosts (org_id, origin) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(session.org_id)
    .bind(&origin)
    .execute(&mut *tx)
    .await?;
    if added.rows_affected() == 0 {
        return Err(ApiError::conflict(
            "exists",
            format!("{origin} is a navigation host already"),
        ));
    }
    let version = config::bump(&mut tx, session.org_id).await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "navigation_host.add",
        json!({ "origin": origin, "config_version": version }),
    )
    .await?;
    let hosts = navigation_hosts(&mut tx, session.org_id).await?;
    tx.commit().await?;
    Ok(Json(hosts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_maps_to_a_column_with_its_own_rules() {
        assert_eq!(
            parse_setting("integration_enabled", "False").unwrap(),
            ("integration_enabled", Setting::Flag(false))
        );
        assert_eq!(
            parse_setting("offline_allowance", "250.5").unwrap(),
            ("offline_allowance_micros", Setting::Number(250_500_000))
        );
        assert_eq!(
            parse_setting("min_balance", "-10").unwrap(),
            ("min_balance_micros", Setting::Number(-10_000_000))
        );
        assert_eq!(
            parse_setting("lease_seconds", "3600").unwrap(),
            ("lease_seconds", Setting::Number(3600))
        );
        assert_eq!(
            parse_setting("flood_max_per_minute", "0").unwrap(),
            ("flood_max_per_minute", Setting::Number(0))
        );
        assert_eq!(
            parse_setting("time_zone", " Asia/Shanghai ").unwrap(),
            ("time_zone", Setting::Text("Asia/Shanghai".into()))
        );
        assert_eq!(
            parse_setting("when_unchecked", " Allow ").unwrap(),
            ("when_unchecked", Setting::Text("allow".into()))
        );
        assert_eq!(
            parse_setting("side_calls", "Fixed").unwrap(),
            ("side_calls", Setting::Text("fixed".into()))
        );
        assert_eq!(
            parse_setting("side_call_fixed", "0.25").unwrap(),
            ("side_call_fixed_micros", Setting::Number(250_000))
        );
        for (key, value, code) in [
            ("side_calls", "sometimes", "bad_value"),
            ("side_call_fixed", "-1", "bad_value"),
            ("when_unchecked", "sometimes", "bad_value"),
            ("time_zone", "Beijing", "bad_value"),
            ("time_zone", "", "bad_value"),
            ("nope", "1", "unknown_key"),
            ("min_balance_micros", "1", "unknown_key"),
            ("integration_enabled", "yes", "bad_value"),
            ("event_cap", "-1", "bad_value"),
            ("daily_budget", "0.0000001", "bad_value"),
            ("offline_allowance", "lots", "bad_value"),
            ("max_tokens_per_event", "0", "bad_value"),
            ("lease_seconds", "0", "bad_value"),
            ("lease_seconds", "1.5", "bad_value"),
            ("lease_seconds", "99999999999", "bad_value"),
            ("flood_max_per_minute", "-1", "bad_value"),
        ] {
            let error = parse_setting(key, value).expect_err(key);
            assert_eq!(error.code(), code, "{key} = {value}");
        }
    }

    #[test]
    fn origins_are_bare_and_normalised() {
        assert_eq!(
            check_origin("https://Dify.Example.com").unwrap(),
            "https://dify.example.com"
        );
        assert_eq!(
            check_origin("http://127.0.0.1:5001/").unwrap(),
            "http://127.0.0.1:5001"
        );
        assert_eq!(
            check_origin("https://x.example:443").unwrap(),
            "https://x.example"
        );
        for bad in [
            "",
            "dify.example.com",
            "ftp://x.example",
            "https://x.example/chat",
            "https://x.example?q",
            "https://u@x.example",
        ] {
            assert_eq!(
                check_origin(bad).expect_err(bad).code(),
                "bad_origin",
                "{bad}"
            );
        }
    }
}
