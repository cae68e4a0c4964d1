//! Money arithmetic. Amounts are integer micro-credits; prices and rates are exact decimals.
//! Every charge is rounded exactly once, with [`CHARGE_ROUNDING`].

use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

use crate::error::{LedgerError, Result};

/// Micro-credits: 1 credit = 1,000,000 micro-credits.
pub type Micros = i64;

pub const MICROS_PER_CREDIT: i64 = 1_000_000;

/// A charge is rounded away from zero to whole micro-credits: a started micro-credit is owed, and the
/// user is never charged less than the tokens cost.
pub const CHARGE_ROUNDING: RoundingStrategy = RoundingStrategy::AwayFromZero;

/// Prices above this (USD per 1K tokens) are taken for typing errors.
const MAX_PRICE_PER_1K: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);
/// Rates above this (credits per USD) are taken for typing errors.
const MAX_RATE: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A model's price in USD per 1,000 tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Price {
    pub input_per_1k: Decimal,
    pub output_per_1k: Decimal,
}

/// How a charge was computed, kept on its ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    pub usd: Decimal,
    pub micros: Micros,
}

/// USD for a reply: `in/1000·p_in + out/1000·p_out`, exact.
pub fn usd_for_tokens(
    prompt_tokens: u64,
    completion_tokens: u64,
    price: &Price,
) -> Option<Decimal> {
    let thousand = Decimal::ONE_THOUSAND;
    let input = Decimal::from(prompt_tokens)
        .checked_mul(price.input_per_1k)?
        .checked_div(thousand)?;
    let output = Decimal::from(completion_tokens)
        .checked_mul(price.output_per_1k)?
        .checked_div(thousand)?;
    input.checked_add(output)
}

/// Micro-credits for a USD amount at `credits_per_usd`, rounded once with [`CHARGE_ROUNDING`].
pub fn usd_to_micros(usd: Decimal, credits_per_usd: Decimal) -> Option<Micros> {
    let micros = usd
        .checked_mul(credits_per_usd)?
        .checked_mul(Decimal::from(MICROS_PER_CREDIT))?
        .round_dp_with_strategy(0, CHARGE_ROUNDING);
    i64::try_from(micros).ok()
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

/// Micro-credits as a decimal number of credits, e.g. `-12.5`.
pub fn micros_to_credits(micros: Micros) -> Decimal {
    Decimal::new(micros, 6).normalize()
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
    fn cost_follows_the_formula_exactly() {
        // 1033 in, 135 out at 0.001/0.002 per 1K = 0.001033 + 0.00027 = 0.001303 USD; × 10000 = 13.03 credits.
        let usd = usd_for_tokens(1033, 135, &price("0.001", "0.002")).unwrap();
        assert_eq!(usd, Decimal::from_str("0.001303").unwrap());
        assert_eq!(usd_to_micros(usd, Decimal::from(10_000)), Some(13_030_000));
    }

    #[test]
    fn rounding_happens_once_and_away_from_zero() {
        // 1 token at 0.0000001 USD/1K = 1e-10 USD; × 10000 credits = 1e-6 credits = exactly 1 micro.
        let usd = usd_for_tokens(1, 0, &price("0.0000001", "0")).unwrap();
        assert_eq!(usd_to_micros(usd, Decimal::from(10_000)), Some(1));
        // Half a micro-credit is owed as a whole one, and so is a hundredth of one.
        let usd = usd_for_tokens(1, 0, &price("0.00000005", "0")).unwrap();
        assert_eq!(usd_to_micros(usd, Decimal::from(10_000)), Some(1));
        let usd = usd_for_tokens(1, 0, &price("0.000000001", "0")).unwrap();
        assert_eq!(usd_to_micros(usd, Decimal::from(10_000)), Some(1));
        // Zero stays zero.
        assert_eq!(usd_to_micros(Decimal::ZERO, Decimal::from(10_000)), Some(0));
    }

    #[test]
    fn summing_rounded_parts_would_differ_from_rounding_once() {
        // Each side alone is 0.4 micro; rounded separately that would be 2 micros, once it is 1.
        let usd = usd_for_tokens(1, 1, &price("0.00000004", "0.00000004")).unwrap();
        assert_eq!(usd_to_micros(usd, Decimal::from(10_000)), Some(1));
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
