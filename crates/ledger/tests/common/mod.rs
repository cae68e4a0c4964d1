//! Shared set-up for the ledger's integration tests: a real ledger file, a manual clock, a fixed zone.
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use std::sync::Arc;
use tempfile::TempDir;
use tokendesk_ledger::apps::AppBinding;
use tokendesk_ledger::money::{MICROS_PER_CREDIT, Price, parse_price};
use tokendesk_ledger::{ChargeResult, Ledger, LedgerOptions, ManualClock, UsageSnapshot};

pub const PAGE: &str = "http://127.0.0.1:8765/chat/demo-token";
pub const DIFY_PRICE_PAGE: &str = "http://127.0.0.1:8765/chatbot/dify-priced";

pub struct TestLedger {
    pub ledger: Ledger,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
}

pub fn price(input: &str, output: &str) -> Price {
    Price {
        input_per_1k: parse_price(input).unwrap(),
        output_per_1k: parse_price(output).unwrap(),
    }
}

pub fn credits(whole: i64) -> i64 {
    whole * MICROS_PER_CREDIT
}

/// A ledger with the test model "test-model" at 0.001 / 0.002 USD per 1K, a Dify app bound to it,
/// another app priced by Dify, and the guards off unless a test turns them on.
pub fn ledger() -> TestLedger {
    ledger_in_zone(chrono_tz::Tz::UTC)
}

pub fn ledger_in_zone(time_zone: chrono_tz::Tz) -> TestLedger {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap());
    let mut ledger = Ledger::open_with(
        &dir.path().join("ledger.sqlite3"),
        LedgerOptions {
            clock: clock.clone(),
            time_zone,
        },
    )
    .unwrap();
    ledger
        .set_model("test-model", price("0.001", "0.002"), "admin", "test price")
        .unwrap();
    ledger
        .add_app("Demo", PAGE, &AppBinding::Model("test-model".into()), false)
        .unwrap();
    ledger
        .add_app(
            "Dify priced",
            DIFY_PRICE_PAGE,
            &AppBinding::DifyPrice,
            false,
        )
        .unwrap();
    let mut policy = ledger.policy().unwrap();
    policy.event_cap_micros = 0;
    policy.flood_max_per_minute = 0;
    ledger.set_policy(&policy, "admin").unwrap();
    TestLedger { ledger, clock, dir }
}

impl TestLedger {
    pub fn reopen(&self) -> Ledger {
        Ledger::open_with(
            &self.dir.path().join("ledger.sqlite3"),
            LedgerOptions {
                clock: self.clock.clone(),
                time_zone: self.ledger.time_zone(),
            },
        )
        .unwrap()
    }

    pub fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("ledger.sqlite3")).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.raw().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    /// The amount a held event shows, which approving it must name.
    pub fn shown(&self, held_id: &str) -> Option<i64> {
        self.ledger.held_event(held_id).unwrap().amount_micros
    }

    pub fn balance(&self) -> i64 {
        self.ledger.active_account().unwrap().balance_micros
    }

    /// The usage snapshot of the charge an event was recorded as.
    pub fn usage_of(&self, result: &ChargeResult) -> UsageSnapshot {
        let entry_id = result.entry_id.as_deref().expect("a charge");
        self.ledger.entry(entry_id).unwrap().usage.expect("usage")
    }
}

/// A message_end frame as Dify ≥ 1.8 sends it (compact JSON, prices as strings).
pub fn frame(message_id: &str, prompt: u64, completion: u64) -> String {
    frame_with_price(message_id, prompt, completion, "0.0013030")
}

pub fn frame_with_price(
    message_id: &str,
    prompt: u64,
    completion: u64,
    total_price: &str,
) -> String {
    serde_json::json!({
        "event": "message_end", "conversation_id": "conv-1", "message_id": message_id,
        "created_at": 1705398420, "task_id": "task-1", "id": message_id,
        "metadata": {"annotation_reply": null, "retriever_resources": [], "usage": {
            "prompt_tokens": prompt, "prompt_unit_price": "0.001", "prompt_price_unit": "0.001",
            "prompt_price": "0.0010330", "completion_tokens": completion, "completion_unit_price": "0.002",
            "completion_price_unit": "0.001", "completion_price": "0.0002700",
            "total_tokens": prompt + completion, "total_price": total_price, "currency": "USD", "latency": 1.38}},
        "files": null,
    })
    .to_string()
}

/// The cost in micro-credits of a reply on "test-model" at 10000 credits per USD, computed independently:
/// USD = (p·0.001 + c·0.002) / 1000, so micro-credits = USD · 10000 · 10⁶ = (p + 2c) · 10⁴.
pub fn expected_micros(prompt: u64, completion: u64) -> i64 {
    ((prompt + 2 * completion) * 10_000) as i64
}
