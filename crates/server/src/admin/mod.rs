//! The admin API: every handler takes an [`AdminSession`](crate::auth::AdminSession) first, and every
//! write runs in one transaction that ends with its audit row (and one config bump when devices mirror it).

mod apps;
mod audit;
mod balances;
mod devices;
mod dify;
mod held;
mod models;
mod policy;
mod rate;
mod redemption;
mod reports;
pub mod users;

use rust_decimal::Decimal;
use serde::Deserialize;
use tokendesk_sync_proto::money::MICROS_PER_CREDIT;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub(crate) use apps::all_apps;
pub(crate) use models::model_infos;
pub use users::{create_admin, create_user, user_by_name};

/// All admin endpoints except login and logout (those live with the sessions in `auth`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(devices::routes())
        .merge(dify::routes())
        .merge(balances::routes())
        .merge(models::routes())
        .merge(rate::routes())
        .merge(apps::routes())
        .merge(policy::routes())
        .merge(held::routes())
        .merge(redemption::routes())
        .merge(reports::routes())
        .merge(audit::routes())
}

/// The longest name (user, display name, model, alias, app) an admin may give.
const MAX_NAME_CHARS: usize = 100;
/// The longest reason or note kept with an entry, price change or decision.
const MAX_REASON_CHARS: usize = 1000;
/// Prices are USD per 1K tokens, at most this.
const MAX_PRICE_USD_PER_1K: i64 = 100_000;
/// Exchange rates are credits per USD, at most this.
const MAX_RATE: i64 = 1_000_000_000;
/// Amounts and rates carry at most micro precision.
const MAX_SCALE: u32 = 6;

/// `?limit=`: how many rows a listing returns, newest first.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Limit {
    /// 1 to 1000; 100 when left out.
    limit: Option<i64>,
}

impl Limit {
    fn get(&self) -> i64 {
        clamp_limit(self.limit)
    }
}

fn clamp_limit(limit: Option<i64>) -> i64 {
    limit.unwrap_or(100).clamp(1, 1000)
}

/// A name as stored: trimmed, 1 to 100 characters, no control characters.
fn check_name(field: &str, text: &str) -> ApiResult<String> {
    let name = text.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(ApiError::bad(
            "bad_name",
            format!("{field} must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "bad_name",
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// A required reason: trimmed, 1 to 1000 characters.
fn check_reason(text: &str) -> ApiResult<String> {
    let reason = text.trim();
    if reason.is_empty() {
        return Err(ApiError::bad("reason_required", "give a reason"));
    }
    check_note(reason)
}

/// An optional note or reason: at most 1000 characters.
fn check_note(text: &str) -> ApiResult<String> {
    let note = text.trim();
    if note.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad(
            "too_long",
            format!("a reason or note is at most {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(note.to_owned())
}

/// An exact decimal, plain (`0.0025`) or scientific (`3e-06`); never through a float.
fn parse_decimal(code: &'static str, field: &str, text: &str) -> ApiResult<Decimal> {
    let text = text.trim();
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    parsed.map(|value| value.normalize()).map_err(|_| {
        ApiError::bad(
            code,
            format!("{field} must be a decimal number, got {text:?}"),
        )
    })
}

/// A USD-per-1K-tokens price between 0 and 100000.
fn check_price(field: &str, price: Decimal) -> ApiResult<Decimal> {
    if price.is_sign_negative() && !price.is_zero() || price > Decimal::from(MAX_PRICE_USD_PER_1K) {
        return Err(ApiError::bad(
            "bad_price",
            format!("{field} must be between 0 and {MAX_PRICE_USD_PER_1K} USD per 1K tokens"),
        ));
    }
    // `-0` would be stored as is; keep the plain zero.
    Ok(if price.is_zero() {
        Decimal::ZERO
    } else {
        price
    })
}

fn parse_price(field: &str, text: &str) -> ApiResult<Decimal> {
    check_price(field, parse_decimal("bad_price", field, text)?)
}

/// Credits per USD: above 0, at most 1e9, at most 6 decimals.
fn parse_rate(text: &str) -> ApiResult<Decimal> {
    let rate = parse_decimal("bad_rate", "credits_per_usd", text)?;
    if rate <= Decimal::ZERO || rate > Decimal::from(MAX_RATE) || rate.scale() > MAX_SCALE {
        return Err(ApiError::bad(
            "bad_rate",
            format!(
                "credits_per_usd must be above 0 and at most {MAX_RATE}, with at most {MAX_SCALE} decimals"
            ),
        ));
    }
    Ok(rate)
}

/// Credits (decimal text, at most 6 decimals) as micro-credits, exactly.
fn parse_credits(field: &str, text: &str) -> ApiResult<i64> {
    let credits = parse_decimal("bad_amount", field, text)?;
    if credits.scale() > MAX_SCALE {
        return Err(ApiError::bad(
            "bad_amount",
            format!("{field} has at most {MAX_SCALE} decimals"),
        ));
    }
    credits
        .checked_mul(Decimal::from(MICROS_PER_CREDIT))
        .map(|micros| micros.normalize())
        .filter(|micros| micros.scale() == 0)
        .and_then(|micros| i64::try_from(micros).ok())
        .ok_or_else(|| ApiError::bad("bad_amount", format!("{field} is too large")))
}

/// An id from the path: a UUID, or a 400 naming what was expected.
fn parse_id(what: &str, text: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(text.trim())
        .map_err(|_| ApiError::bad("bad_id", format!("a {what} id is a UUID, not {text:?}")))
}

/// A value the schema's CHECK constraints rule out, read back anyway: a database error, not a panic.
fn decoded<T>(value: Option<T>, column: &str, text: &str) -> Result<T, sqlx::Error> {
    value.ok_or_else(|| sqlx::Error::Decode(format!("unexpected {column} {text:?}").into()))
}

/// Takes the org row's lock (the one `config::bump` takes) first, so two config writers of an org run
/// one after the other and each validates against what the other committed.
async fn lock_config(tx: &mut sqlx::PgConnection, org_id: Uuid) -> ApiResult<()> {
    sqlx::query("SELECT 1 FROM orgs WHERE id = $1 FOR NO KEY UPDATE")
        .bind(org_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::not_found("org", org_id))?;
    Ok(())
}

/// Whether a database error is the violation of a unique constraint (a racing writer got there first).
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: ApiResult<impl std::fmt::Debug>) -> String {
        match result {
            Ok(value) => panic!("accepted: {value:?}"),
            Err(error) => format!("{error:?}"),
        }
    }

    #[test]
    fn credits_become_micros_exactly() {
        assert_eq!(parse_credits("amount", "500").unwrap(), 500_000_000);
        assert_eq!(parse_credits("amount", "-12.5").unwrap(), -12_500_000);
        assert_eq!(parse_credits("amount", "0.000001").unwrap(), 1);
        assert_eq!(parse_credits("amount", "1.100000").unwrap(), 1_100_000);
        assert_eq!(parse_credits("amount", "1e-6").unwrap(), 1);
        assert_eq!(parse_credits("amount", " 7 ").unwrap(), 7_000_000);
        assert!(code(parse_credits("amount", "0.0000001")).contains("bad_amount"));
        assert!(code(parse_credits("amount", "1e30")).contains("bad_amount"));
        assert!(code(parse_credits("amount", "9223372036854.775808")).contains("bad_amount"));
        assert_eq!(
            parse_credits("amount", "9223372036854.775807").unwrap(),
            i64::MAX
        );
        for bad in ["", "abc", "1,5", "NaN", "inf", "0x10", "1.2.3"] {
            assert!(
                code(parse_credits("amount", bad)).contains("bad_amount"),
                "{bad}"
            );
        }
    }

    #[test]
    fn prices_are_bounded_and_accept_scientific_notation() {
        assert_eq!(
            parse_price("input", "3e-06").unwrap().to_string(),
            "0.000003"
        );
        assert_eq!(
            parse_price("input", "0.0025").unwrap().to_string(),
            "0.0025"
        );
        assert_eq!(parse_price("input", "0").unwrap(), Decimal::ZERO);
        assert_eq!(parse_price("input", "-0").unwrap().to_string(), "0");
        assert_eq!(
            parse_price("input", "100000").unwrap(),
            Decimal::from(100_000)
        );
        assert!(code(parse_price("input", "100000.0001")).contains("bad_price"));
        assert!(code(parse_price("input", "-0.001")).contains("bad_price"));
        assert!(code(parse_price("input", "cheap")).contains("bad_price"));
    }

    #[test]
    fn rates_are_positive_bounded_and_micro_precise() {
        assert_eq!(parse_rate("10000").unwrap(), Decimal::from(10_000));
        assert_eq!(parse_rate("0.000001").unwrap().to_string(), "0.000001");
        assert_eq!(parse_rate("1e9").unwrap(), Decimal::from(MAX_RATE));
        for bad in ["0", "-1", "1000000000.5", "0.0000001", "x"] {
            assert!(code(parse_rate(bad)).contains("bad_rate"), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(check_name("name", "  ana ").unwrap(), "ana");
        assert_eq!(
            check_name("name", &"é".repeat(100))
                .unwrap()
                .chars()
                .count(),
            100
        );
        assert!(code(check_name("name", &"é".repeat(101))).contains("bad_name"));
        assert!(code(check_name("name", "   ")).contains("bad_name"));
        assert!(code(check_name("name", "a\nb")).contains("bad_name"));
    }

    #[test]
    fn reasons_are_required_where_asked() {
        assert_eq!(check_reason(" monthly ").unwrap(), "monthly");
        assert!(code(check_reason("  ")).contains("reason_required"));
        assert!(code(check_note(&"x".repeat(1001))).contains("too_long"));
        assert_eq!(check_note("").unwrap(), "");
    }

    #[test]
    fn ids_are_uuids() {
        assert!(parse_id("device", "0191f0a6-54c2-7d3e-8000-000000000001").is_ok());
        assert!(code(parse_id("device", "42")).contains("bad_id"));
    }
}
