//! Token counts and prices, as Dify reports them in `metadata.usage`.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use crate::config::{ConfigError, Prices, SimConfig};

/// Tokens a prompt template adds around the user's query.
const PROMPT_OVERHEAD: u64 = 24;
/// Dify quantizes prices to 7 decimals, rounding half up.
const PRICE_SCALE: u32 = 7;

/// A rough, deterministic tokenizer: four ASCII characters or one other
/// character per token, so tests can predict the defaults.
pub(crate) fn estimate_tokens(text: &str) -> u64 {
    let (ascii, other) = text.chars().fold((0u64, 0u64), |(a, o), c| {
        if c.is_ascii() { (a + 1, o) } else { (a, o + 1) }
    });
    ascii.div_ceil(4) + other
}

pub(crate) fn prompt_tokens(config: &SimConfig, query: &str) -> u64 {
    config
        .prompt_tokens
        .unwrap_or_else(|| PROMPT_OVERHEAD + estimate_tokens(query))
}

pub(crate) fn completion_tokens(config: &SimConfig, answer: &str) -> u64 {
    config
        .completion_tokens
        .unwrap_or_else(|| estimate_tokens(answer).max(1))
}

/// `metadata.usage` of a `message_end` frame, fields in Dify's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Usage {
    pub prompt_tokens: u64,
    pub prompt_unit_price: String,
    pub prompt_price_unit: String,
    pub prompt_price: String,
    pub completion_tokens: u64,
    pub completion_unit_price: String,
    pub completion_price_unit: String,
    pub completion_price: String,
    pub total_tokens: u64,
    pub total_price: String,
    pub currency: &'static str,
    pub latency: f64,
}

impl Usage {
    /// Prices the tokens exactly; `prices: None` reports every price as "0".
    pub fn new(
        prompt_tokens: u64,
        completion_tokens: u64,
        prices: Option<Prices>,
        latency: f64,
    ) -> Result<Usage, ConfigError> {
        let total_tokens = prompt_tokens
            .checked_add(completion_tokens)
            .ok_or(ConfigError::PriceOverflow)?;
        let [
            prompt_unit_price,
            prompt_price_unit,
            prompt_price,
            completion_unit_price,
            completion_price_unit,
            completion_price,
            total_price,
        ] = match prices {
            None => std::array::from_fn(|_| "0".to_owned()),
            Some(p) => {
                let prompt_price = price(prompt_tokens, p.prompt_unit, p.unit)?;
                let completion_price = price(completion_tokens, p.completion_unit, p.unit)?;
                let mut total = prompt_price
                    .checked_add(completion_price)
                    .ok_or(ConfigError::PriceOverflow)?;
                total.rescale(PRICE_SCALE);
                [
                    p.prompt_unit,
                    p.unit,
                    prompt_price,
                    p.completion_unit,
                    p.unit,
                    completion_price,
                    total,
                ]
                .map(|d| d.to_string())
            }
        };
        Ok(Usage {
            prompt_tokens,
            prompt_unit_price,
            prompt_price_unit,
            prompt_price,
            completion_tokens,
            completion_unit_price,
            completion_price_unit,
            completion_price,
            total_tokens,
            total_price,
            currency: "USD",
            latency,
        })
    }
}

/// `tokens × unit_price × price_unit`, quantized like Dify (half up, 7 places).
fn price(tokens: u64, unit_price: Decimal, price_unit: Decimal) -> Result<Decimal, ConfigError> {
    let mut amount = Decimal::from(tokens)
        .checked_mul(unit_price)
        .and_then(|d| d.checked_mul(price_unit))
        .ok_or(ConfigError::PriceOverflow)?
        .round_dp_with_strategy(PRICE_SCALE, RoundingStrategy::MidpointAwayFromZero);
    amount.rescale(PRICE_SCALE);
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn prices(prompt: &str, completion: &str, unit: &str) -> Option<Prices> {
        Some(Prices {
            prompt_unit: Decimal::from_str(prompt).unwrap(),
            completion_unit: Decimal::from_str(completion).unwrap(),
            unit: Decimal::from_str(unit).unwrap(),
        })
    }

    #[test]
    fn matches_the_design_example() {
        let usage = Usage::new(1033, 135, prices("0.001", "0.002", "0.001"), 1.38).unwrap();
        assert_eq!(usage.prompt_price, "0.0010330");
        assert_eq!(usage.completion_price, "0.0002700");
        assert_eq!(usage.total_price, "0.0013030");
        assert_eq!(usage.prompt_unit_price, "0.001");
        assert_eq!(usage.completion_price_unit, "0.001");
        assert_eq!(usage.total_tokens, 1168);
    }

    #[test]
    fn rounds_half_up_at_seven_places() {
        // 0.00000025 → 0.0000003, where banker's rounding would give 0.0000002.
        let usage = Usage::new(1, 5, prices("0.00000025", "0.00000015", "1"), 0.0).unwrap();
        assert_eq!(usage.prompt_price, "0.0000003");
        assert_eq!(usage.completion_price, "0.0000008");
        assert_eq!(usage.total_price, "0.0000011");
    }

    #[test]
    fn unpriced_reports_zero_strings() {
        let usage = Usage::new(10, 20, None, 0.5).unwrap();
        assert_eq!(usage.prompt_price, "0");
        assert_eq!(usage.completion_unit_price, "0");
        assert_eq!(usage.total_price, "0");
        assert_eq!(usage.total_tokens, 30);
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert_eq!(
            Usage::new(u64::MAX, 1, None, 0.0),
            Err(ConfigError::PriceOverflow)
        );
        assert_eq!(
            Usage::new(
                u64::MAX - 1,
                1,
                prices("100000000000000000000", "1", "1000000"),
                0.0
            ),
            Err(ConfigError::PriceOverflow)
        );
    }

    #[test]
    fn estimates_are_deterministic() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("你好ab"), 3);
    }
}
