//! The wire between TokenDesk desktops (and the `tokendesk` CLI) and the org server.
//! Serde types only, plus the one pricing formula both ends compute: no SQLite, no HTTP.
//!
//! Money on the wire is integer micro-credits (`*_micros`); prices, rates and credit amounts typed by an
//! admin are exact decimal strings. Every refusal is an [`ErrorBody`].

pub mod admin;
pub mod budget;
pub mod device;
pub mod dify;
pub mod money;
pub mod reconcile;

use serde::{Deserialize, Serialize};

pub use money::{Micros, Price, Pricing};

/// A text cell of a CSV export as a spreadsheet may open it: a cell that would run as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`. Numbers are written as they
/// are, so only cells of text (names, ids, reasons from a page or an admin) go through here.
pub fn csv_text(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The API's path prefix.
pub const API_PREFIX: &str = "/v1";

/// Every refusal: a stable machine code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Decimal fields as exact strings, whatever serde features the rest of a build turns on.
pub(crate) mod decimal_str {
    pub use rust_decimal::serde::str::{deserialize, serialize};

    pub mod option {
        use rust_decimal::Decimal;
        pub use rust_decimal::serde::str_option::serialize;
        use serde::{Deserialize, Deserializer};

        /// `null` or a decimal string. Read through `Option` itself: inside an internally tagged enum
        /// (a push item's body) serde buffers `null` as a unit, which `str_option` refuses.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Decimal>, D::Error> {
            #[derive(Deserialize)]
            struct Text(#[serde(with = "rust_decimal::serde::str")] Decimal);
            Ok(Option::<Text>::deserialize(deserializer)?.map(|Text(value)| value))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::device::{ItemBody, PushItem};

    #[test]
    fn an_absent_decimal_reads_back_inside_a_tagged_body() {
        let text = r#"{"id":"00000000-0000-0000-0000-000000000007","device_seq":1,
            "occurred_at":"2026-01-01T00:00:00Z","config_version":1,"body":{"type":"held","reason":"cap",
            "detail":"","app_id":"00000000-0000-0000-0000-000000000001","message_id":"m","prompt_tokens":1,
            "completion_tokens":1,"estimated":false,"dify_total_price":null,"dify_currency":null,
            "amount_micros":null,"payload":""}}"#;
        let item: PushItem = serde_json::from_str(text).unwrap();
        let ItemBody::Held(held) = &item.body else {
            panic!("{item:?}")
        };
        assert_eq!(held.dify_total_price, None);
        let again: PushItem = serde_json::from_str(&serde_json::to_string(&item).unwrap()).unwrap();
        assert_eq!(again, item);
        let priced = text.replace(
            r#""dify_total_price":null"#,
            r#""dify_total_price":"0.0013030""#,
        );
        let item: PushItem = serde_json::from_str(&priced).unwrap();
        let ItemBody::Held(held) = &item.body else {
            panic!("{item:?}")
        };
        assert_eq!(
            held.dify_total_price.map(|d| d.to_string()).as_deref(),
            Some("0.0013030")
        );
    }
}
