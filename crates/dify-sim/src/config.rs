//! The simulator's knobs.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The kind of Dify web app a share page imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppKind {
    Chat,
    Chatbot,
    Completion,
    Workflow,
}

impl AppKind {
    pub const ALL: [AppKind; 4] = [
        AppKind::Chat,
        AppKind::Chatbot,
        AppKind::Completion,
        AppKind::Workflow,
    ];

    /// The share-page path segment, as in `/chat/{token}`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppKind::Chat => "chat",
            AppKind::Chatbot => "chatbot",
            AppKind::Completion => "completion",
            AppKind::Workflow => "workflow",
        }
    }
}

impl fmt::Display for AppKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the bytes of a stream are cut into HTTP body chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chunking {
    /// One body chunk per frame.
    #[default]
    Frames,
    /// Chunks of exactly N bytes of the whole stream (the last may be shorter),
    /// cutting through frames, `data:` prefixes and multibyte characters alike.
    SplitEvery(usize),
}

/// How frame JSON is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonStyle {
    /// Dify ≥ 1.8: compact UTF-8, as `serde_json::to_string` writes it.
    #[default]
    Compact,
    /// Older Dify: Python's `json.dumps` defaults, `", "` and `": "` separators
    /// and every non-ASCII character as `\uXXXX`.
    Legacy,
}

/// Every knob of the simulator. The default is a normal, well-behaved chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Reported prompt tokens; `None` derives them from the query.
    pub prompt_tokens: Option<u64>,
    /// Reported completion tokens; `None` derives them from the answer.
    pub completion_tokens: Option<u64>,
    /// USD per `price_unit` tokens, a decimal string.
    pub prompt_unit_price: String,
    pub completion_unit_price: String,
    /// Multiplier of the unit prices, a decimal string ("0.001" = per 1K tokens).
    pub price_unit: String,
    /// Report every price field as "0", like a model Dify has no price for.
    pub unpriced: bool,
    /// The reply text; `None` echoes the query.
    pub answer: Option<String>,
    /// How many `message` frames the answer is spread over.
    pub pieces: usize,
    pub first_byte_delay_ms: u64,
    pub frame_delay_ms: u64,
    pub chunking: Chunking,
    /// Emit `event: ping` after every N data frames.
    pub ping_every: Option<usize>,
    pub json_style: JsonStyle,
    /// `agent_message` frames instead of `message`.
    pub agent_mode: bool,
    /// Chat replies come from an advanced-chat app: workflow frames around the
    /// answer, and the run can be replayed through `/api/workflow/{run_id}/events`.
    pub chatflow: bool,
    /// `message_end` without `metadata.usage` (workflows: no token counts).
    pub omit_usage: bool,
    /// Completion apps report usage; real Dify web apps get none.
    pub completion_usage: bool,
    /// The stream ends right after the answer, like a stopped reply.
    pub omit_message_end: bool,
    /// The closing frame is sent twice, byte for byte.
    pub duplicate_message_end: bool,
    /// Send an `error` frame with this message after the first piece, then end.
    pub error_frame: Option<String>,
    /// Answer streaming requests with this status and message as JSON.
    pub http_error: Option<(u16, String)>,
    pub suggested_questions: bool,
    /// Serve pages with a strict Content-Security-Policy.
    pub strict_csp: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            prompt_tokens: None,
            completion_tokens: None,
            prompt_unit_price: "0.001".into(),
            completion_unit_price: "0.002".into(),
            price_unit: "0.001".into(),
            unpriced: false,
            answer: None,
            pieces: 6,
            first_byte_delay_ms: 150,
            frame_delay_ms: 40,
            chunking: Chunking::Frames,
            ping_every: None,
            json_style: JsonStyle::Compact,
            agent_mode: false,
            chatflow: false,
            omit_usage: false,
            completion_usage: false,
            omit_message_end: false,
            duplicate_message_end: false,
            error_frame: None,
            http_error: None,
            suggested_questions: false,
            strict_csp: false,
        }
    }
}

/// A knob value the simulator cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{field} is not a decimal number: {value:?}")]
    BadPrice { field: &'static str, value: String },
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error("http_error status must be 400-599, got {0}")]
    BadStatus(u16),
    #[error("token counts are too large to price")]
    PriceOverflow,
}

/// Parsed unit prices, ready for [`crate::usage::Usage::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prices {
    pub prompt_unit: Decimal,
    pub completion_unit: Decimal,
    pub unit: Decimal,
}

impl SimConfig {
    /// Checks every knob; the server refuses a config that fails here.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.prices()?;
        if self.pieces == 0 {
            return Err(ConfigError::Zero("pieces"));
        }
        if self.chunking == Chunking::SplitEvery(0) {
            return Err(ConfigError::Zero("chunking.split_every"));
        }
        if self.ping_every == Some(0) {
            return Err(ConfigError::Zero("ping_every"));
        }
        match self.http_error {
            Some((status, _)) if !(400..=599).contains(&status) => {
                Err(ConfigError::BadStatus(status))
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn prices(&self) -> Result<Prices, ConfigError> {
        let parse = |field: &'static str, value: &str| {
            Decimal::from_str(value.trim()).map_err(|_| ConfigError::BadPrice {
                field,
                value: value.to_owned(),
            })
        };
        Ok(Prices {
            prompt_unit: parse("prompt_unit_price", &self.prompt_unit_price)?,
            completion_unit: parse("completion_unit_price", &self.completion_unit_price)?,
            unit: parse("price_unit", &self.price_unit)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_partial_json_fills_defaults() {
        assert_eq!(SimConfig::default().validate(), Ok(()));
        let config: SimConfig =
            serde_json::from_str(r#"{"pieces":2,"chunking":{"split_every":5}}"#).unwrap();
        assert_eq!(config.pieces, 2);
        assert_eq!(config.chunking, Chunking::SplitEvery(5));
        assert_eq!(config.price_unit, "0.001");
    }

    #[test]
    fn unknown_knobs_are_refused() {
        assert!(serde_json::from_str::<SimConfig>(r#"{"piece":2}"#).is_err());
    }

    #[test]
    fn bad_values_are_reported() {
        let bad = |f: fn(&mut SimConfig)| {
            let mut config = SimConfig::default();
            f(&mut config);
            config.validate().unwrap_err()
        };
        assert!(matches!(
            bad(|c| c.prompt_unit_price = "cheap".into()),
            ConfigError::BadPrice {
                field: "prompt_unit_price",
                ..
            }
        ));
        assert_eq!(bad(|c| c.pieces = 0), ConfigError::Zero("pieces"));
        assert_eq!(
            bad(|c| c.chunking = Chunking::SplitEvery(0)),
            ConfigError::Zero("chunking.split_every")
        );
        assert_eq!(
            bad(|c| c.ping_every = Some(0)),
            ConfigError::Zero("ping_every")
        );
        assert_eq!(
            bad(|c| c.http_error = Some((200, "ok".into()))),
            ConfigError::BadStatus(200)
        );
    }
}
