//! Dify's own record of each chat message, as the web app's `GET /api/messages` lists it: the row
//! exists from the start of a reply with 0 tokens and is filled in when the reply ends, with the usage
//! Dify stored whether or not the stream carried it (a stopped reply's included). Items have the
//! fields of Dify 1.9–1.14's `WebMessageListItem`: the older ones keep the usage in `metadata.usage`,
//! the newer ones add `message_tokens`, `answer_tokens`, `total_price` and `currency`.

use std::time::Instant;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::usage::Usage;

#[derive(Debug, Clone)]
pub(crate) struct MessageRecord {
    pub id: String,
    pub conversation_id: String,
    pub query: String,
    pub answer: String,
    pub usage: Usage,
    pub created_at: u64,
}

/// A record and when its reply ends (the stream's last byte is sent).
#[derive(Debug, Clone)]
pub(crate) struct StoredRecord {
    pub record: MessageRecord,
    pub filled_at: Instant,
}

impl StoredRecord {
    /// The list item as Dify answers it at `now`.
    pub fn item(&self, now: Instant) -> Value {
        let record = &self.record;
        let filled = self.is_filled(now);
        let (message_tokens, answer_tokens) = if filled {
            (record.usage.prompt_tokens, record.usage.completion_tokens)
        } else {
            (0, 0)
        };
        json!({
            "id": record.id,
            "conversation_id": record.conversation_id,
            "parent_message_id": null,
            "inputs": {},
            "query": record.query,
            "answer": record.answer,
            "feedback": null,
            "retriever_resources": [],
            "created_at": record.created_at,
            "agent_thoughts": [],
            "message_files": [],
            "message_tokens": message_tokens,
            "answer_tokens": answer_tokens,
            "total_tokens": message_tokens + answer_tokens,
            "provider_response_latency": if filled { record.usage.latency } else { 0.0 },
            "total_price": if filled { record.usage.total_price.as_str() } else { "0" },
            "currency": record.usage.currency,
            "status": "normal",
            "error": null,
            "extra_contents": [],
            "metadata": if filled { json!({ "usage": record.usage }) } else { json!({}) },
        })
    }

    /// The message as the console's `chat-messages` lists it (`MessageDetail`): no price at the top level,
    /// the usage (prices as strings) under `metadata.usage` once the reply has ended.
    pub fn console_item(&self, now: Instant, end_user_id: &str) -> Value {
        let mut item = self.item(now);
        if let Value::Object(fields) = &mut item {
            for web_only in [
                "feedback",
                "retriever_resources",
                "total_tokens",
                "total_price",
                "currency",
                "extra_contents",
            ] {
                fields.remove(web_only);
            }
            for (name, value) in [
                ("message", json!([])),
                ("from_source", json!("api")),
                ("from_end_user_id", json!(end_user_id)),
                ("from_account_id", Value::Null),
                ("feedbacks", json!([])),
                ("workflow_run_id", Value::Null),
                ("annotation", Value::Null),
                ("annotation_hit_history", Value::Null),
            ] {
                fields.insert(name.into(), value);
            }
        }
        item
    }

    /// Tokens and price as Dify has them stored at `now`: nothing until the reply has ended.
    pub fn filled_usage(&self, now: Instant) -> (u64, Decimal) {
        if !self.is_filled(now) {
            return (0, Decimal::ZERO);
        }
        let usage = &self.record.usage;
        let price = usage.total_price.parse().unwrap_or(Decimal::ZERO);
        (usage.prompt_tokens + usage.completion_tokens, price)
    }

    /// Whether the reply has ended by `now`, so Dify has its usage stored.
    fn is_filled(&self, now: Instant) -> bool {
        now >= self.filled_at
    }
}
