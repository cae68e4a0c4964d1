//! Dify's own record of each chat message, as the web app's `GET /api/messages` lists it: the row
//! exists from the start of a reply with 0 tokens and is filled in when the reply ends, with the usage
//! Dify stored whether or not the stream carried it (a stopped reply's included). Items have the
//! fields of Dify 1.9–1.14's `WebMessageListItem`: the older ones keep the usage in `metadata.usage`,
//! the newer ones add `message_tokens`, `answer_tokens`, `total_price` and `currency`.

use std::time::Instant;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::server::EndUser;
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
        (usage.total_tokens, price)
    }

    /// Whether the reply has ended by `now`, so Dify has its usage stored.
    fn is_filled(&self, now: Instant) -> bool {
        now >= self.filled_at
    }
}

/// Dify's record of one workflow run: a workflow app's run, or the run behind a chatflow reply (which
/// names its message).
#[derive(Debug, Clone)]
pub(crate) struct RunRecord {
    pub id: String,
    pub message_id: Option<String>,
    pub conversation_id: Option<String>,
    pub total_tokens: u64,
    pub created_at: u64,
}

/// A run, the end user who started it, and when it ends.
#[derive(Debug, Clone)]
pub(crate) struct StoredRun {
    pub run: RunRecord,
    pub user: Option<EndUser>,
    pub filled_at: Instant,
}

impl StoredRun {
    /// Its status and tokens at `now`: `running` with none until the run ends.
    fn state(&self, now: Instant) -> (&'static str, u64) {
        if now >= self.filled_at {
            ("succeeded", self.run.total_tokens)
        } else {
            ("running", 0)
        }
    }

    /// The run as a workflow app's log lists it (`workflow_app_log_partial_fields`).
    pub fn log_item(&self, now: Instant) -> Value {
        let (status, tokens) = self.state(now);
        let run = &self.run;
        json!({
            "id": format!("log-{}", run.id),
            "workflow_run": {
                "id": run.id, "version": "draft", "status": status, "error": null,
                "elapsed_time": 0.1, "total_tokens": tokens, "total_steps": 3,
                "created_at": run.created_at, "finished_at": run.created_at, "exceptions_count": 0,
            },
            "created_from": "web-app",
            "created_by_role": "end_user",
            "created_by_account": null,
            "created_by_end_user": self.user.as_ref().map(|user| json!({
                "id": user.id, "type": "browser", "is_anonymous": false, "session_id": user.session_id,
            })),
            "created_at": run.created_at,
        })
    }

    /// The run as a chatflow's run list has it (`advanced_chat_workflow_run_for_list_fields`).
    pub fn chatflow_item(&self, now: Instant) -> Value {
        let (status, tokens) = self.state(now);
        let run = &self.run;
        json!({
            "id": run.id, "version": "draft", "conversation_id": run.conversation_id,
            "message_id": run.message_id, "status": status, "created_by_role": "end_user",
            "created_by_account": null, "total_tokens": tokens, "created_at": run.created_at,
            "finished_at": run.created_at, "elapsed_time": 0.1, "exceptions_count": 0,
        })
    }
}
