//! The pricing formula, written once. The desktop's ledger prices a charge with it and the org server
//! re-prices every pushed charge with it, so the two cannot disagree by construction.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Micro-credits: 1 credit = 1,000,000 micro-credits.
pub type Micros = i64;

pub const MICROS_PER_CREDIT: i64 = 1_000_000;

/// A charge is rounded away from zero to whole micro-credits: a started micro-credit is owed, and the
/// user is never charged less than the tokens cost.
pub const CHARGE_ROUNDING: RoundingStrategy = RoundingStrategy::AwayFromZero;

/// A model's price in USD per 1,000 tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Price {
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub input_per_1k: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub output_per_1k: Decimal,
}

/// How a Dify app's replies are priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Pricing {
    /// The app's bound model, at the price list's price.
    Model,
    /// Dify's reported `total_price` (USD).
    DifyPrice,
}

impl Pricing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::DifyPrice => "dify_price",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "model" => Some(Self::Model),
            "dify_price" => Some(Self::DifyPrice),
            _ => None,
        }
    }
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

/// Micro-credits as a decimal number of credits, e.g. `-12.5`.
pub fn micros_to_credits(micros: Micros) -> Decimal {
    Decimal::new(micros, 6).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn price(input: &str, output: &str) -> Price {
        Price {
            input_per_1k: Decimal::from_str(input).unwrap(),
            output_per_1k: Decimal::from_str(output).unwrap(),
        }
    }

    #[test]
    fn cost_follows_the_formula_exactly() {
        // 1033 in, 135 out at 0.001/0.002 per 1K = 0.001303 USD; × 10000 = 13.03 credits.
        let usd = usd_for_tokens(1033, 135, &price("0.001", "0.002")).unwrap();
        assert_eq!(usd, Decimal::from_str("0.001303").unwrap());
        assert_eq!(usd_to_micros(usd, Decimal::from(10_000)), Some(13_030_000));
    }

    #[test]
    fn rounding_happens_once_and_away_from_zero() {
        let usd = usd_for_tokens(1, 0, &price("0.00000005", "0")).unwrap();
        assert_eq!(usd_to_micros(usd, Decimal::from(10_000)), Some(1));
        // Each side alone is 0.4 micro; rounded separately that would be 2 micros, once it is 1.
        let usd = usd_for_tokens(1, 1, &price("0.00000004", "0.00000004")).unwrap();
        assert_eq!(usd_to_micros(usd, Decimal::from(10_000)), Some(1));
        assert_eq!(usd_to_micros(Decimal::ZERO, Decimal::from(10_000)), Some(0));
    }

    #[test]
    fn prices_travel_as_exact_strings() {
        let text = serde_json::to_string(&price("0.0000001234567", "3")).unwrap();
        assert_eq!(
            text,
            r#"{"input_per_1k":"0.0000001234567","output_per_1k":"3"}"#
        );
        let back: Price = serde_json::from_str(&text).unwrap();
        assert_eq!(back, price("0.0000001234567", "3"));
    }
}
