//! Every kind of bad input gets its typed error, charges nothing, and leaves an audit row with its payload.

mod common;

use common::*;
use tokendesk_ledger::Outcome;

fn with_usage(field: &str, value: serde_json::Value) -> String {
    let mut frame: serde_json::Value = serde_json::from_str(&frame("m1", 100, 50)).unwrap();
    frame["metadata"]["usage"][field] = value;
    frame.to_string()
}

fn without(field: &str) -> String {
    let mut frame: serde_json::Value = serde_json::from_str(&frame("m1", 100, 50)).unwrap();
    frame.as_object_mut().unwrap().remove(field);
    frame.to_string()
}

#[test]
fn each_bad_input_is_rejected_with_its_code_and_audited() {
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "malformed JSON",
            r#"{"event":"message_end","id":"m1","#.into(),
            PAGE,
            "malformed_json",
        ),
        ("not an object", "[1, 2, 3]".into(), PAGE, "malformed_json"),
        (
            "not UTF-8 JSON",
            "\u{FFFD}\u{FFFD}".into(),
            PAGE,
            "malformed_json",
        ),
        (
            "missing message_id",
            without("message_id").replace(r#""id":"m1","#, ""),
            PAGE,
            "missing_message_id",
        ),
        (
            "negative tokens",
            with_usage("prompt_tokens", serde_json::json!(-5)),
            PAGE,
            "invalid_tokens",
        ),
        (
            "fractional tokens",
            with_usage("completion_tokens", serde_json::json!(12.5)),
            PAGE,
            "invalid_tokens",
        ),
        (
            "absurd tokens",
            with_usage("prompt_tokens", serde_json::json!(9_000_000_000_u64)),
            PAGE,
            "absurd_tokens",
        ),
        (
            "price not a number",
            with_usage("total_price", serde_json::json!("twelve cents")),
            PAGE,
            "invalid_price",
        ),
        (
            "unknown app",
            frame("m1", 100, 50),
            "https://evil.example.com/chat/demo-token",
            "unknown_app",
        ),
        (
            "unknown share token",
            frame("m1", 100, 50),
            "http://127.0.0.1:8765/chat/other",
            "unknown_app",
        ),
        (
            "not a Dify page",
            frame("m1", 100, 50),
            "tauri://localhost/dashboard",
            "unknown_app",
        ),
        (
            "oversized payload",
            format!(
                r#"{{"event":"message_end","pad":"{}"}}"#,
                "x".repeat(70_000)
            ),
            PAGE,
            "payload_too_large",
        ),
        (
            "missing usage",
            frame("m1", 100, 50).replace("\"usage\"", "\"no_usage\""),
            PAGE,
            "missing_usage",
        ),
        (
            "another event",
            frame("m1", 100, 50).replace("message_end", "message"),
            PAGE,
            "not_message_end",
        ),
    ];
    let mut t = ledger();
    for (index, (name, payload, page, code)) in cases.iter().enumerate() {
        let balance = t.balance();
        let entries = t.count("SELECT COUNT(*) FROM entries");
        let result = t.ledger.record_frame(page, payload).unwrap();
        assert_eq!(result.outcome, Outcome::Rejected, "{name}");
        assert_eq!(
            result.code.as_deref(),
            Some(*code),
            "{name}: {:?}",
            result.reason
        );
        assert_eq!(result.amount_micros, 0, "{name}");
        assert_eq!(t.balance(), balance, "{name}: nothing charged");
        assert_eq!(
            t.count("SELECT COUNT(*) FROM entries"),
            entries,
            "{name}: no entry"
        );
        let audit = t.ledger.rejected_events(1).unwrap();
        assert_eq!(audit.len(), 1, "{name}");
        assert_eq!(audit[0].id, result.audit_id.clone().unwrap(), "{name}");
        assert_eq!(audit[0].code, *code, "{name}");
        assert_eq!(audit[0].source, *page, "{name}");
        assert_eq!(audit[0].payload_bytes as usize, payload.len(), "{name}");
        assert!(
            payload.starts_with(&audit[0].payload),
            "{name}: the payload is kept"
        );
        assert_eq!(
            t.count("SELECT COUNT(*) FROM rejected_events"),
            index as i64 + 1
        );
    }
    // Nothing was claimed: the valid frame still charges afterwards.
    assert_eq!(
        t.ledger
            .record_frame(PAGE, &frame("m1", 100, 50))
            .unwrap()
            .outcome,
        Outcome::Charged
    );
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn a_disabled_integration_or_app_rejects_and_audits() {
    let mut t = ledger();
    let mut policy = t.ledger.policy().unwrap();
    policy.integration_enabled = false;
    t.ledger.set_policy(&policy, "admin").unwrap();
    let result = t.ledger.record_frame(PAGE, &frame("m1", 100, 50)).unwrap();
    assert_eq!(
        (result.outcome, result.code.as_deref()),
        (Outcome::Rejected, Some("integration_disabled"))
    );
    policy.integration_enabled = true;
    t.ledger.set_policy(&policy, "admin").unwrap();
    let app = t.ledger.app_for_url(PAGE).unwrap().unwrap();
    t.ledger.set_app_enabled(app.id, false).unwrap();
    let result = t.ledger.record_frame(PAGE, &frame("m1", 100, 50)).unwrap();
    assert_eq!(
        (result.outcome, result.code.as_deref()),
        (Outcome::Rejected, Some("app_disabled"))
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM rejected_events"), 2);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM entries WHERE kind = 'charge'"),
        0
    );
}

#[test]
fn bad_admin_input_is_refused_with_a_clear_error() {
    let mut t = ledger();
    assert!(
        t.ledger
            .set_model("", price("0.001", "0.001"), "admin", "x")
            .is_err()
    );
    assert!(
        t.ledger
            .add_model("test-model", price("0.001", "0.001"), "admin", "x")
            .unwrap_err()
            .code()
            == "already_exists"
    );
    assert!(
        t.ledger
            .add_app(
                "x",
                "not a url",
                &tokendesk_ledger::apps::AppBinding::DifyPrice,
                false
            )
            .is_err()
    );
    assert!(
        t.ledger
            .add_app(
                "x",
                PAGE,
                &tokendesk_ledger::apps::AppBinding::DifyPrice,
                false
            )
            .unwrap_err()
            .code()
            == "already_exists"
    );
    let unknown = tokendesk_ledger::apps::AppBinding::Model("gpt-4".into());
    let err = t
        .ledger
        .add_app("x", "https://dify.example.com/chat/abc", &unknown, false)
        .unwrap_err();
    assert_eq!(
        err.code(),
        "not_found",
        "no prefix matching of model names: {err}"
    );
    let mut policy = t.ledger.policy().unwrap();
    policy.event_cap_micros = -1;
    assert!(t.ledger.set_policy(&policy, "admin").is_err());
}

#[test]
fn a_database_failure_is_an_error_not_a_rejected_event() {
    let mut t = ledger();
    // The apps table goes missing under the open ledger: resolving the page's app now fails in SQLite.
    t.raw()
        .execute_batch("ALTER TABLE dify_apps RENAME TO dify_apps_gone")
        .unwrap();
    let error = t
        .ledger
        .record_frame(PAGE, &frame("m1", 100, 50))
        .unwrap_err();
    assert_eq!(error.code(), "database", "{error}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM rejected_events"),
        0,
        "nothing is blamed on the event"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM entries WHERE kind = 'charge'"),
        0
    );
}
