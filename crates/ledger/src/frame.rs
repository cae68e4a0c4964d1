//! Dify's `message_end` frame, parsed exactly as Dify sends it (DESIGN §2): compact or spaced JSON,
//! prices as strings, unknown fields ignored. Every malformed value is a typed [`EventError`].

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::error::EventError;
use crate::money::parse_decimal;

/// The largest frame or report the ledger reads. A real message_end is well under 4 KiB.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
const MAX_ID_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEnd {
    pub message_id: String,
    pub conversation_id: Option<String>,
    pub usage: Usage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Dify's own price for the reply, kept for reconciliation; `"0"` when the model has no price in Dify.
    pub total_price: Option<Decimal>,
    pub currency: Option<String>,
}

/// The JSON object inside a frame, after the size check.
pub(crate) fn parse_object(payload: &str) -> Result<Map<String, Value>, EventError> {
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(EventError::PayloadTooLarge {
            bytes: payload.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    match serde_json::from_str::<Value>(payload) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(EventError::MalformedJson(format!(
            "expected an object, got {}",
            kind_of(&other)
        ))),
        Err(err) => Err(EventError::MalformedJson(err.to_string())),
    }
}

/// Parses one `message_end` frame's JSON (the text after `data: `).
pub fn parse_message_end(payload: &str, max_tokens: u64) -> Result<MessageEnd, EventError> {
    let frame = parse_object(payload)?;
    match frame.get("event").and_then(Value::as_str) {
        Some("message_end") => {}
        Some(other) => return Err(EventError::NotMessageEnd(other.to_owned())),
        None => return Err(EventError::NotMessageEnd(String::new())),
    }
    let message_id = message_id(&frame).ok_or(EventError::MissingMessageId)?;
    let usage = frame
        .get("metadata")
        .and_then(|metadata| metadata.get("usage"))
        .and_then(Value::as_object)
        .ok_or(EventError::MissingUsage)?;
    let prompt_tokens = tokens(usage, "prompt_tokens", max_tokens)?;
    let completion_tokens = tokens(usage, "completion_tokens", max_tokens)?;
    if usage.contains_key("total_tokens") {
        let total = tokens(usage, "total_tokens", max_tokens.saturating_mul(2))?;
        if Some(total) != prompt_tokens.checked_add(completion_tokens) {
            return Err(EventError::InvalidTokens {
                field: "total_tokens",
                value: format!("{total} ≠ {prompt_tokens} + {completion_tokens}"),
            });
        }
    }
    for field in [
        "prompt_unit_price",
        "prompt_price_unit",
        "prompt_price",
        "completion_unit_price",
        "completion_price_unit",
        "completion_price",
    ] {
        price(usage, field)?;
    }
    Ok(MessageEnd {
        message_id,
        conversation_id: optional_id(&frame, "conversation_id"),
        usage: Usage {
            prompt_tokens,
            completion_tokens,
            total_price: price(usage, "total_price")?,
            currency: usage
                .get("currency")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
    })
}

/// `message_id`, or `id` as message_end also carries it.
pub(crate) fn message_id(frame: &Map<String, Value>) -> Option<String> {
    optional_id(frame, "message_id").or_else(|| optional_id(frame, "id"))
}

pub(crate) fn optional_id(frame: &Map<String, Value>, field: &str) -> Option<String> {
    frame
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_ID_CHARS)
        .map(str::to_owned)
}

fn tokens(
    usage: &Map<String, Value>,
    field: &'static str,
    max_tokens: u64,
) -> Result<u64, EventError> {
    let value = usage.get(field).ok_or(EventError::InvalidTokens {
        field,
        value: "missing".into(),
    })?;
    let count = value.as_u64().ok_or_else(|| EventError::InvalidTokens {
        field,
        value: value.to_string(),
    })?;
    if count > max_tokens {
        return Err(EventError::AbsurdTokens {
            field,
            value: count,
            limit: max_tokens,
        });
    }
    Ok(count)
}

/// A price field: a decimal string (Dify's form) or a number; absent and null mean unknown.
fn price(usage: &Map<String, Value>, field: &'static str) -> Result<Option<Decimal>, EventError> {
    let text = match usage.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(other) => {
            return Err(EventError::InvalidPrice {
                field,
                value: other.to_string(),
            });
        }
    };
    match parse_decimal(&text) {
        Some(value) if !value.is_sign_negative() => Ok(Some(value.normalize())),
        _ => Err(EventError::InvalidPrice { field, value: text }),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    const COMPACT: &str = r#"{"event":"message_end","conversation_id":"4570","message_id":"5e52","created_at":1705398420,"task_id":"900b","id":"5e52","metadata":{"annotation_reply":null,"retriever_resources":[],"usage":{"prompt_tokens":1033,"prompt_unit_price":"0.001","prompt_price_unit":"0.001","prompt_price":"0.0010330","completion_tokens":135,"completion_unit_price":"0.002","completion_price_unit":"0.001","completion_price":"0.0002700","total_tokens":1168,"total_price":"0.0013030","currency":"USD","latency":1.38}},"files":null}"#;
    const SPACED: &str = r#"{"event": "message_end", "conversation_id": "4570", "message_id": "5e52", "created_at": 1705398420, "task_id": "900b", "id": "5e52", "metadata": {"annotation_reply": null, "retriever_resources": [{"content": "\u4f60\u597d"}], "usage": {"prompt_tokens": 1033, "prompt_unit_price": "0.001", "prompt_price_unit": "0.001", "prompt_price": "0.0010330", "completion_tokens": 135, "completion_unit_price": "0.002", "completion_price_unit": "0.001", "completion_price": "0.0002700", "total_tokens": 1168, "total_price": "0.0013030", "currency": "USD", "latency": 1.38}}, "files": null}"#;

    #[test]
    fn both_json_styles_parse_to_the_same_frame() {
        let compact = parse_message_end(COMPACT, 2_000_000).unwrap();
        assert_eq!(compact, parse_message_end(SPACED, 2_000_000).unwrap());
        assert_eq!(compact.message_id, "5e52");
        assert_eq!(compact.conversation_id.as_deref(), Some("4570"));
        assert_eq!(compact.usage.prompt_tokens, 1033);
        assert_eq!(compact.usage.completion_tokens, 135);
        assert_eq!(
            compact.usage.total_price,
            Some(Decimal::from_str("0.001303").unwrap())
        );
        assert_eq!(compact.usage.currency.as_deref(), Some("USD"));
    }

    fn with_usage(field: &str, value: &str) -> String {
        let mut frame: Value = serde_json::from_str(COMPACT).unwrap();
        frame["metadata"]["usage"][field] = serde_json::from_str(value).unwrap();
        frame.to_string()
    }

    #[test]
    fn bad_values_are_typed_errors() {
        let parse = |payload: &str| parse_message_end(payload, 2_000_000).unwrap_err().code();
        assert_eq!(parse("{not json"), "malformed_json");
        assert_eq!(parse("[1,2]"), "malformed_json");
        assert_eq!(
            parse(r#"{"event":"message","message_id":"x"}"#),
            "not_message_end"
        );
        assert_eq!(
            parse(r#"{"event":"message_end","metadata":{"usage":{}}}"#),
            "missing_message_id"
        );
        assert_eq!(
            parse(r#"{"event":"message_end","id":"  ","metadata":{}}"#),
            "missing_message_id"
        );
        assert_eq!(
            parse(r#"{"event":"message_end","id":"m","metadata":{}}"#),
            "missing_usage"
        );
        assert_eq!(parse(&with_usage("prompt_tokens", "-5")), "invalid_tokens");
        assert_eq!(
            parse(&with_usage("prompt_tokens", "10.5")),
            "invalid_tokens"
        );
        assert_eq!(
            parse(&with_usage("completion_tokens", "\"135\"")),
            "invalid_tokens"
        );
        assert_eq!(
            parse(&with_usage("completion_tokens", "99999999999")),
            "absurd_tokens"
        );
        assert_eq!(parse(&with_usage("total_tokens", "7")), "invalid_tokens");
        assert_eq!(
            parse(&with_usage("total_price", "\"free\"")),
            "invalid_price"
        );
        assert_eq!(
            parse(&with_usage("prompt_price", "\"-0.1\"")),
            "invalid_price"
        );
        assert_eq!(parse(&with_usage("total_price", "[]")), "invalid_price");
        let huge = format!(
            "{{\"event\":\"message_end\",\"pad\":\"{}\"}}",
            "x".repeat(MAX_PAYLOAD_BYTES)
        );
        assert_eq!(parse(&huge), "payload_too_large");
    }

    #[test]
    fn a_zero_or_numeric_dify_price_is_read() {
        let frame = parse_message_end(&with_usage("total_price", "\"0\""), 2_000_000).unwrap();
        assert_eq!(frame.usage.total_price, Some(Decimal::ZERO));
        let frame = parse_message_end(&with_usage("total_price", "0.5"), 2_000_000).unwrap();
        assert_eq!(
            frame.usage.total_price,
            Some(Decimal::from_str("0.5").unwrap())
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_message_end(&String::from_utf8_lossy(&bytes), 2_000_000);
        }

        #[test]
        fn mutated_frames_never_panic(cut in 0..COMPACT.len(), insert in ".{0,16}") {
            let mut text = COMPACT.to_owned();
            if text.is_char_boundary(cut) {
                text.insert_str(cut, &insert);
            }
            let _ = parse_message_end(&text, 2_000_000);
        }
    }
}
