//! Money arithmetic. Amounts are integer micro-credits; prices and rates are exact decimals.
//! Every charge is rounded exactly once, with [`CHARGE_ROUNDING`].

use rust_decimal::Decimal;
use std::str::FromStr;

use crate::error::{LedgerError, Result};

pub use tokendesk_sync_proto::money::{
    CHARGE_ROUNDING, MICROS_PER_CREDIT, Micros, micros_to_credits, usd_to_micros,
};

/// Prices above this (USD per 1K tokens) are taken for typing errors.
const MAX_PRICE_PER_1K: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);
/// Rates above this (credits per USD) are taken for typing errors.
const MAX_RATE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A model's price in USD per 1,000 tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct Price {
    #[ts(type = "string")]
    pub input_per_1k: Decimal,
    #[ts(type = "string")]
    pub output_per_1k: Decimal,
}

/// How a charge was computed, kept on its ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    pub usd: Decimal,
    pub micros: Micros,
}

/// USD for a reply: `in/1000·p_in + out/1000·p_out`, exact; the org server computes the same formula.
pub fn usd_for_tokens(
    prompt_tokens: u64,
    completion_tokens: u64,
    price: &Price,
) -> Option<Decimal> {
    tokendesk_sync_proto::money::usd_for_tokens(
        prompt_tokens,
        completion_tokens,
        &tokendesk_sync_proto::Price {
            input_per_1k: price.input_per_1k,
            output_per_1k: price.output_per_1k,
        },
    )
}

pub fn cost(usd: Decimal, credits_per_usd: Decimal) -> Option<Cost> {
    Some(Cost {
        usd: usd.normalize(),
        micros: usd_to_micros(usd, credits_per_usd)?,
    })
}

/// Parses a credit amount such as `500` or `-12.5`; more than six decimals is refused rather than rounded.
pub fn parse_credits(text: &str) -> Result<Micros> {
    let value = Decimal::from_str(text.trim())
        .map_err(|_| LedgerError::invalid(format!("{text:?} is not a credit amount")))?;
    if value.normalize().scale() > 6 {
        return Err(LedgerError::invalid(format!(
            "{text:?} has more than six decimals"
        )));
    }
    value
        .checked_mul(Decimal::from(MICROS_PER_CREDIT))
        .and_then(|micros| i64::try_from(micros).ok())
        .ok_or_else(|| LedgerError::invalid(format!("{text:?} is out of range")))
}

/// Parses a decimal written as text or in scientific notation (LiteLLM writes `3e-06`).
pub fn parse_decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    Decimal::from_str_exact(text)
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
}

/// Validates a price in USD per 1K tokens.
pub fn parse_price(text: &str) -> Result<Decimal> {
    match parse_decimal(text) {
        Some(price) if !price.is_sign_negative() && price <= MAX_PRICE_PER_1K => {
            Ok(price.normalize())
        }
        _ => Err(LedgerError::invalid(format!(
            "{text:?} is not a price in USD per 1K tokens (0 to {MAX_PRICE_PER_1K})"
        ))),
    }
}

/// Validates an exchange rate in credits per USD.
pub fn parse_rate(text: &str) -> Result<Decimal> {
    match parse_decimal(text) {
        Some(rate) if rate > Decimal::ZERO && rate <= MAX_RATE && rate.normalize().scale() <= 6 => {
            Ok(rate.normalize())
        }
        _ => Err(LedgerError::invalid(format!(
            "{text:?} is not a rate in credits per USD (above 0, at most {MAX_RATE}, six decimals at most)"
        ))),
    }
}

/// Reads a decimal stored by the ledger itself.
pub(crate) fn stored_decimal(text: &str) -> rusqlite::Result<Decimal> {
    Decimal::from_str_exact(text).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(err))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(input: &str, output: &str) -> Price {
        Price {
            input_per_1k: parse_price(input).unwrap(),
            output_per_1k: parse_price(output).unwrap(),
        }
    }

    #[test]
    fn credit_amounts_parse_exactly() {
        assert_eq!(parse_credits("500").unwrap(), 500_000_000);
        assert_eq!(parse_credits("-12.5").unwrap(), -12_500_000);
        assert_eq!(parse_credits("0.000001").unwrap(), 1);
        assert!(parse_credits("0.0000001").is_err());
        assert!(parse_credits("abc").is_err());
        assert!(parse_credits("99999999999999999999").is_err());
        assert_eq!(micros_to_credits(-12_500_000).to_string(), "-12.5");
    }

    #[test]
    fn prices_and_rates_are_validated() {
        assert_eq!(
            parse_price("3e-03").unwrap(),
            Decimal::from_str("0.003").unwrap()
        );
        assert!(parse_price("-0.001").is_err());
        assert!(parse_price("NaN").is_err());
        assert!(parse_price("1000000").is_err());
        assert_eq!(parse_rate("10000").unwrap(), Decimal::from(10_000));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-5").is_err());
        assert!(parse_rate("1.0000001").is_err());
    }

    #[test]
    fn absurd_amounts_do_not_overflow() {
        let huge = price("100000", "100000");
        let usd = usd_for_tokens(u64::MAX, u64::MAX, &huge);
        assert!(usd.is_none() || usd_to_micros(usd.unwrap(), MAX_RATE).is_none());
    }
}
