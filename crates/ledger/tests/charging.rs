//! The charge path end to end on a real ledger file: outcomes, guards, held events, estimates, the gate.

mod common;

use chrono::Duration;
use common::*;
use tokendesk_ledger::{EntryKind, IncompleteReport, Outcome};

#[test]
fn a_reply_is_charged_exactly_and_snapshotted() {
    let mut t = ledger();
    let before = t.balance();
    let result = t
        .ledger
        .record_frame(PAGE, &frame("m1", 1033, 135))
        .unwrap();
    assert_eq!(result.outcome, Outcome::Charged);
    assert_eq!(result.amount_micros, expected_micros(1033, 135));
    assert_eq!(t.balance(), before - expected_micros(1033, 135));
    assert_eq!(result.balance_micros, t.balance());

    let entry = t.ledger.entry(result.entry_id.as_deref().unwrap()).unwrap();
    assert_eq!(entry.kind, EntryKind::Charge);
    assert_eq!(entry.amount_micros, -expected_micros(1033, 135));
    assert_eq!(entry.device_id, t.ledger.device_id());
    let usage = entry.usage.unwrap();
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (1033, 135));
    assert_eq!(usage.model.as_deref(), Some("test-model"));
    assert_eq!(usage.app_name, "Demo");
    assert_eq!(usage.message_id, "m1");
    assert_eq!(usage.conversation_id.as_deref(), Some("conv-1"));
    assert_eq!(usage.credits_per_usd.to_string(), "10000");
    assert_eq!(usage.price, Some(price("0.001", "0.002")));
    assert_eq!(
        usage.dify_total_price.map(|p| p.to_string()).as_deref(),
        Some("0.001303")
    );
    assert_eq!(usage.usd_cost.to_string(), "0.001303");
    assert!(!usage.estimated);
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn replays_are_charged_once_and_return_the_original_result() {
    let mut t = ledger();
    let first = t.ledger.record_frame(PAGE, &frame("m1", 100, 50)).unwrap();
    // The same frame in the older, spaced JSON style is the same event.
    let spaced = frame("m1", 100, 50)
        .replace("\":", "\": ")
        .replace(",\"", ", \"");
    for payload in [frame("m1", 100, 50), spaced] {
        let replay = t.ledger.record_frame(PAGE, &payload).unwrap();
        assert_eq!(replay.outcome, Outcome::Duplicate);
        assert_eq!(replay.amount_micros, first.amount_micros);
        assert_eq!(replay.entry_id, first.entry_id);
    }
    assert_eq!(
        t.count("SELECT COUNT(*) FROM entries WHERE kind = 'charge'"),
        1
    );
    // The same message id in another app is another message.
    let other = t
        .ledger
        .record_frame(DIFY_PRICE_PAGE, &frame("m1", 100, 50))
        .unwrap();
    assert_eq!(other.outcome, Outcome::Charged);
}

#[test]
fn a_replay_with_other_usage_is_a_conflict_recorded_once_and_never_charged() {
    let mut t = ledger();
    t.ledger.record_frame(PAGE, &frame("m1", 100, 50)).unwrap();
    let balance = t.balance();
    let conflict = t.ledger.record_frame(PAGE, &frame("m1", 999, 50)).unwrap();
    assert_eq!(conflict.outcome, Outcome::Conflict);
    assert_eq!(t.balance(), balance);
    let again = t.ledger.record_frame(PAGE, &frame("m1", 999, 50)).unwrap();
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert_eq!(again.held_id, conflict.held_id);
    let held = t.ledger.held_events(false).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].reason, "conflict");
    assert_eq!(held[0].payload, frame("m1", 999, 50));
}

#[test]
fn approving_a_conflict_replaces_the_original_charge() {
    let mut t = ledger();
    t.ledger.record_frame(PAGE, &frame("m1", 100, 50)).unwrap();
    let start = t.balance() + expected_micros(100, 50);
    let conflict = t.ledger.record_frame(PAGE, &frame("m1", 300, 50)).unwrap();
    let held_id = conflict.held_id.as_deref().unwrap();
    t.ledger
        .approve_held(
            held_id,
            "admin",
            "the later count is right",
            t.shown(held_id),
        )
        .unwrap();
    assert_eq!(t.balance(), start - expected_micros(300, 50));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM entries WHERE kind = 'reversal'"),
        1
    );
    let dashboard = t.ledger.dashboard(30).unwrap();
    assert_eq!(dashboard.today.messages, 1);
    assert_eq!(dashboard.today.prompt_tokens, 300);
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn a_charge_above_the_cap_is_held_then_approved_or_rejected() {
    let mut t = ledger();
    let mut policy = t.ledger.policy().unwrap();
    policy.event_cap_micros = credits(10);
    t.ledger.set_policy(&policy, "admin").unwrap();
    let balance = t.balance();
    // 1M prompt + 0.5M completion tokens cost 20,000 credits, far above the cap.
    let held = t
        .ledger
        .record_frame(PAGE, &frame("big", 1_000_000, 500_000))
        .unwrap();
    assert_eq!(held.outcome, Outcome::Held);
    assert_eq!(held.code.as_deref(), Some("cap"));
    assert_eq!(held.amount_micros, expected_micros(1_000_000, 500_000));
    assert_eq!(t.balance(), balance);
    // A replay of a held event is a duplicate, not a second hold.
    assert_eq!(
        t.ledger
            .record_frame(PAGE, &frame("big", 1_000_000, 500_000))
            .unwrap()
            .outcome,
        Outcome::Duplicate
    );
    assert_eq!(t.ledger.held_events(false).unwrap().len(), 1);

    let entry = t
        .ledger
        .approve_held(
            held.held_id.as_deref().unwrap(),
            "admin",
            "real long document",
            Some(expected_micros(1_000_000, 500_000)),
        )
        .unwrap();
    assert_eq!(entry.amount_micros, -expected_micros(1_000_000, 500_000));
    assert_eq!(entry.held_id, held.held_id);
    assert_eq!(t.balance(), balance - expected_micros(1_000_000, 500_000));
    let decided = t
        .ledger
        .approve_held(held.held_id.as_deref().unwrap(), "admin", "again", None);
    assert_eq!(decided.unwrap_err().code(), "already_decided");

    let other = t
        .ledger
        .record_frame(PAGE, &frame("big-2", 1_000_000, 500_000))
        .unwrap();
    let rejected = t
        .ledger
        .reject_held(other.held_id.as_deref().unwrap(), "admin", "a runaway loop")
        .unwrap();
    assert_eq!(rejected.status, "rejected");
    assert_eq!(t.balance(), balance - expected_micros(1_000_000, 500_000));
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn two_replies_within_a_second_are_charged_and_a_flood_is_held() {
    let mut t = ledger();
    let mut policy = t.ledger.policy().unwrap();
    policy.flood_max_per_minute = 3;
    t.ledger.set_policy(&policy, "admin").unwrap();
    let outcomes: Vec<Outcome> = (0..5)
        .map(|n| {
            t.clock.advance(Duration::milliseconds(200));
            t.ledger
                .record_frame(PAGE, &frame(&format!("m{n}"), 10, 10))
                .unwrap()
                .outcome
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Charged,
            Outcome::Charged,
            Outcome::Charged,
            Outcome::Held,
            Outcome::Held
        ]
    );
    assert_eq!(
        t.ledger
            .held_events(false)
            .unwrap()
            .iter()
            .filter(|held| held.reason == "flood")
            .count(),
        2
    );
    // A minute later the window has passed.
    t.clock.advance(Duration::seconds(61));
    assert_eq!(
        t.ledger
            .record_frame(PAGE, &frame("m9", 10, 10))
            .unwrap()
            .outcome,
        Outcome::Charged
    );
}

#[test]
fn an_inactive_model_is_held_as_unpriced_never_priced_at_zero() {
    let mut t = ledger();
    t.ledger.set_model_active("test-model", false).unwrap();
    let balance = t.balance();
    let result = t.ledger.record_frame(PAGE, &frame("m1", 100, 100)).unwrap();
    assert_eq!(result.outcome, Outcome::Held);
    assert_eq!(result.code.as_deref(), Some("unpriced"));
    assert!(result.reason.unwrap().contains("inactive"));
    assert_eq!(t.balance(), balance);
    let held_id = result.held_id.unwrap();
    assert!(
        t.ledger
            .approve_held(&held_id, "admin", "", None)
            .unwrap_err()
            .to_string()
            .contains("cannot approve yet")
    );
    t.ledger.set_model_active("test-model", true).unwrap();
    // It was shown as not priceable: approving names the amount first, and charges nothing yet.
    let changed = t
        .ledger
        .approve_held(&held_id, "admin", "priced now", None)
        .unwrap_err();
    assert_eq!(changed.code(), "amount_changed");
    assert_eq!(t.balance(), balance);
    assert_eq!(t.shown(&held_id), Some(expected_micros(100, 100)));
    t.ledger
        .approve_held(&held_id, "admin", "priced now", t.shown(&held_id))
        .unwrap();
    assert_eq!(t.balance(), balance - expected_micros(100, 100));
}

#[test]
fn approval_charges_only_the_amount_the_admin_was_shown() {
    let mut t = ledger();
    let mut policy = t.ledger.policy().unwrap();
    policy.event_cap_micros = credits(1);
    t.ledger.set_policy(&policy, "admin").unwrap();
    let held = t
        .ledger
        .record_frame(PAGE, &frame("big", 1_000_000, 0))
        .unwrap();
    let held_id = held.held_id.unwrap();
    let shown = t.shown(&held_id);
    assert_eq!(shown, Some(expected_micros(1_000_000, 0)));
    let balance = t.balance();
    // The price doubles while the admin looks at the event.
    t.ledger
        .set_model("test-model", price("0.002", "0.002"), "admin", "new price")
        .unwrap();
    let refused = t
        .ledger
        .approve_held(&held_id, "admin", "ok", shown)
        .unwrap_err();
    assert_eq!(refused.code(), "amount_changed");
    assert!(
        refused
            .to_string()
            .contains("now costs 20000 credits, not the 10000 shown"),
        "{refused}"
    );
    assert_eq!(t.balance(), balance, "nothing charged");
    assert_eq!(
        t.ledger.held_events(false).unwrap().len(),
        1,
        "still pending"
    );
    let now = t.shown(&held_id);
    assert_eq!(now, Some(2 * expected_micros(1_000_000, 0)));
    let entry = t.ledger.approve_held(&held_id, "admin", "ok", now).unwrap();
    assert_eq!(Some(-entry.amount_micros), now);
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn dify_price_apps_charge_dify_total_price_and_hold_a_zero_price() {
    let mut t = ledger();
    let result = t
        .ledger
        .record_frame(
            DIFY_PRICE_PAGE,
            &frame_with_price("m1", 10, 10, "0.0013030"),
        )
        .unwrap();
    assert_eq!(result.outcome, Outcome::Charged);
    assert_eq!(result.amount_micros, 13_030_000); // 0.001303 USD × 10000 credits
    let zero = t
        .ledger
        .record_frame(DIFY_PRICE_PAGE, &frame_with_price("m2", 10, 10, "0"))
        .unwrap();
    assert_eq!(
        (zero.outcome, zero.code.as_deref()),
        (Outcome::Held, Some("unpriced"))
    );
}

#[test]
fn a_new_rate_and_a_new_price_apply_to_the_next_charge() {
    let mut t = ledger();
    t.ledger
        .set_exchange_rate(20_000.into(), "admin", "new budget year")
        .unwrap();
    let result = t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    assert_eq!(result.amount_micros, 2 * expected_micros(1000, 0));
    t.ledger
        .update_model_price(
            "test-model",
            price("0.003", "0.002"),
            "admin",
            "vendor raised prices",
        )
        .unwrap();
    let result = t.ledger.record_frame(PAGE, &frame("m2", 1000, 0)).unwrap();
    assert_eq!(result.amount_micros, 6 * expected_micros(1000, 0));
    let history = t.ledger.exchange_rate_history().unwrap();
    assert_eq!(
        (
            history[0].old_rate.unwrap().to_string(),
            history[0].reason.as_str()
        ),
        ("10000".into(), "new budget year")
    );
    let prices = t.ledger.model_price_history("test-model").unwrap();
    assert_eq!(prices[0].old, Some(price("0.001", "0.002")));
    assert_eq!(prices[0].reason, "vendor raised prices");
    assert!(
        t.ledger.set_exchange_rate(5.into(), "admin", "  ").is_err(),
        "a reason is required"
    );
}

#[test]
fn an_overdraft_for_spent_tokens_is_recorded_and_then_the_gate_blocks() {
    let mut t = ledger();
    let balance = t.balance();
    assert!(t.ledger.may_send(PAGE).unwrap().allowed);
    // 1,000,000 prompt tokens at 0.001/1K = 1 USD = 10000 credits: exactly the allowance, then more.
    t.ledger
        .record_frame(PAGE, &frame("m1", 1_000_000, 0))
        .unwrap();
    let result = t.ledger.record_frame(PAGE, &frame("m2", 1000, 0)).unwrap();
    assert_eq!(result.outcome, Outcome::Charged);
    assert!(result.balance_micros < 0);
    assert_eq!(t.balance(), balance - expected_micros(1_001_000, 0));
    let gate = t.ledger.may_send(PAGE).unwrap();
    assert!(!gate.allowed);
    assert_eq!(gate.code, Some("insufficient_credits"));
    t.ledger
        .top_up("staff", credits(100), "admin", "paid invoice 42")
        .unwrap();
    assert!(t.ledger.may_send(PAGE).unwrap().allowed);
}

#[test]
fn the_gate_refuses_unknown_apps_a_switched_off_integration_and_spent_budgets() {
    let mut t = ledger();
    assert_eq!(
        t.ledger
            .may_send("http://127.0.0.1:9/chat/other")
            .unwrap()
            .code,
        Some("unknown_app")
    );
    let mut policy = t.ledger.policy().unwrap();
    policy.daily_budget_micros = expected_micros(1000, 0);
    t.ledger.set_policy(&policy, "admin").unwrap();
    t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    assert_eq!(
        t.ledger.may_send(PAGE).unwrap().code,
        Some("daily_budget_spent")
    );
    // A wall clock set back a day does not give the day's budget back.
    t.clock.advance(Duration::days(-1));
    assert_eq!(
        t.ledger.may_send(PAGE).unwrap().code,
        Some("daily_budget_spent")
    );
    t.clock.advance(Duration::days(2));
    assert!(
        t.ledger.may_send(PAGE).unwrap().allowed,
        "the daily budget resets"
    );
    policy.daily_budget_micros = 0;
    policy.integration_enabled = false;
    t.ledger.set_policy(&policy, "admin").unwrap();
    assert_eq!(
        t.ledger.may_send(PAGE).unwrap().code,
        Some("integration_disabled")
    );
}

#[test]
fn a_reply_without_usage_is_charged_as_an_estimate() {
    let mut t = ledger();
    let report = IncompleteReport {
        message_id: Some("m1".into()),
        conversation_id: Some("conv-1".into()),
        query: "Summarize our travel policy in three bullet points.".into(),
        answer: "1. Book economy. 2. Use the company card. 3. 提交发票 within 30 days.".into(),
        reason: Some("no_message_end".into()),
        ..IncompleteReport::default()
    };
    let payload = serde_json::to_string(&report).unwrap();
    let result = t.ledger.record_incomplete(PAGE, &payload).unwrap();
    assert_eq!(result.outcome, Outcome::Charged);
    assert!(result.estimated);
    let usage = t.usage_of(&result);
    assert!(usage.estimated);
    assert!((5..40).contains(&usage.prompt_tokens), "{usage:?}");
    assert!((10..60).contains(&usage.completion_tokens), "{usage:?}");
    assert_eq!(
        result.amount_micros,
        expected_micros(usage.prompt_tokens, usage.completion_tokens)
    );
    // The same report again is a duplicate.
    assert_eq!(
        t.ledger.record_incomplete(PAGE, &payload).unwrap().outcome,
        Outcome::Duplicate
    );
    // The real message_end arrives later (Dify's client reconnected to the dropped stream): the estimate
    // is reversed and the real usage charged, one charge in all.
    let balance = t.balance();
    let real = t.ledger.record_frame(PAGE, &frame("m1", 40, 30)).unwrap();
    assert_eq!(real.outcome, Outcome::Charged);
    assert!(!real.estimated);
    assert_eq!(
        t.balance(),
        balance + result.amount_micros - expected_micros(40, 30)
    );
    assert_eq!(
        t.count("SELECT count(*) FROM entries WHERE kind = 'reversal'"),
        1
    );
    assert_eq!(
        t.ledger.dashboard(1).unwrap().today.credits_micros,
        expected_micros(40, 30)
    );
    // It again is a duplicate; other usage still is a conflict, never a second charge.
    assert_eq!(
        t.ledger
            .record_frame(PAGE, &frame("m1", 40, 30))
            .unwrap()
            .outcome,
        Outcome::Duplicate
    );
    assert_eq!(
        t.ledger
            .record_frame(PAGE, &frame("m1", 41, 30))
            .unwrap()
            .outcome,
        Outcome::Conflict
    );
    assert!(t.ledger.verify().unwrap().ok);
    let empty = serde_json::json!({"message_id": "m2", "query": "", "answer": " "}).to_string();
    assert_eq!(
        t.ledger
            .record_incomplete(PAGE, &empty)
            .unwrap()
            .code
            .as_deref(),
        Some("nothing_to_estimate")
    );
}

#[test]
fn a_workflow_run_is_charged_its_own_total_tokens() {
    let mut t = ledger();
    let report = IncompleteReport {
        task_id: Some("wf-task".into()),
        query: r#"{"topic":"spring"}"#.into(),
        answer: "Spring sleep knows no dawn.".into(),
        reason: Some("no_message_end".into()),
        total_tokens: Some(1234),
        ..IncompleteReport::default()
    };
    let result = t
        .ledger
        .record_incomplete(PAGE, &serde_json::to_string(&report).unwrap())
        .unwrap();
    assert_eq!(result.outcome, Outcome::Charged);
    assert!(
        result.estimated,
        "the split between prompt and answer is estimated"
    );
    let usage = t.usage_of(&result);
    assert_eq!(usage.prompt_tokens + usage.completion_tokens, 1234);
    assert!((3..20).contains(&usage.completion_tokens), "{usage:?}");
    assert_eq!(
        usage.message_id, "task:wf-task",
        "no run id: keyed by the task"
    );
    assert_eq!(
        result.amount_micros,
        expected_micros(usage.prompt_tokens, usage.completion_tokens)
    );
    // A run with no text at all is still charged by its total; an absurd total is refused.
    let silent =
        serde_json::json!({"task_id": "wf-2", "query": "", "answer": "", "total_tokens": 99});
    let silent = t
        .ledger
        .record_incomplete(PAGE, &silent.to_string())
        .unwrap();
    assert_eq!(t.usage_of(&silent).prompt_tokens, 99);
    let absurd =
        serde_json::json!({"task_id": "wf-3", "answer": "x", "total_tokens": 10_000_000_000u64});
    let absurd = t
        .ledger
        .record_incomplete(PAGE, &absurd.to_string())
        .unwrap();
    assert_eq!(absurd.code.as_deref(), Some("absurd_tokens"));
    // A run that named itself is keyed by its run id, the id Dify's records of workflow runs use; the same
    // run reported again is not charged twice.
    let named = serde_json::json!({"task_id": "wf-4", "workflow_run_id": "run-4", "answer": "x",
                                   "total_tokens": 50});
    let named_result = t
        .ledger
        .record_incomplete(PAGE, &named.to_string())
        .unwrap();
    assert_eq!(t.usage_of(&named_result).message_id, "run-4");
    let again = t
        .ledger
        .record_incomplete(PAGE, &named.to_string())
        .unwrap();
    assert_ne!(again.outcome, Outcome::Charged);
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn reversals_mirror_once_and_adjustments_need_reasons() {
    let mut t = ledger();
    let charge = t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    let balance = t.balance();
    let reversal = t
        .ledger
        .reverse(charge.entry_id.as_deref().unwrap(), "admin", "test message")
        .unwrap();
    assert_eq!(reversal.amount_micros, charge.amount_micros);
    assert_eq!(t.balance(), balance + charge.amount_micros);
    assert_eq!(
        t.ledger
            .reverse(charge.entry_id.as_deref().unwrap(), "admin", "twice")
            .unwrap_err()
            .code(),
        "already_reversed"
    );
    assert!(t.ledger.reverse(&reversal.id, "admin", "undo").is_err());
    assert_eq!(t.ledger.dashboard(1).unwrap().today.messages, 0);
    assert!(t.ledger.grant("staff", credits(5), "admin", "").is_err());
    assert!(
        t.ledger
            .grant("staff", -credits(5), "admin", "negative")
            .is_err()
    );
    assert!(
        t.ledger
            .grant("nobody", credits(5), "admin", "bonus")
            .is_err()
    );
    t.ledger
        .adjust("staff", -credits(5), "admin", "correction")
        .unwrap();
    // The most negative amount is refused like any absurd one, not wrapped into a "small" one.
    for absurd in [i64::MIN, i64::MAX, -1_000_000_001 * 1_000_000] {
        assert_eq!(
            t.ledger
                .adjust("staff", absurd, "admin", "absurd")
                .unwrap_err()
                .code(),
            "invalid"
        );
    }
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn a_clock_set_back_keeps_entries_in_order_and_is_recorded() {
    let mut t = ledger();
    let first = t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    let first = t.ledger.entry(first.entry_id.as_deref().unwrap()).unwrap();
    // A second entry in the same instant, as on a coarse clock: after the first, and not a step back.
    let same = t.ledger.record_frame(PAGE, &frame("m2", 1000, 0)).unwrap();
    let same = t.ledger.entry(same.entry_id.as_deref().unwrap()).unwrap();
    assert!(same.created_at > first.created_at && same.id > first.id);
    assert_eq!(t.count("SELECT count(*) FROM clock_steps_back"), 0);
    t.clock.advance(chrono::Duration::hours(-1));
    let later = t.ledger.record_frame(PAGE, &frame("m3", 1000, 0)).unwrap();
    let later = t.ledger.entry(later.entry_id.as_deref().unwrap()).unwrap();
    assert!(later.created_at > same.created_at, "time never goes back");
    assert!(later.id > same.id, "ids sort with their entries");
    assert_eq!(t.count("SELECT count(*) FROM clock_steps_back"), 1);
    let history = t
        .ledger
        .history(&tokendesk_ledger::stats::HistoryQuery {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    let newest_first: Vec<&str> = history
        .entries
        .iter()
        .map(|entry| entry.id.as_str())
        .collect();
    assert_eq!(&newest_first[..3], [&later.id, &same.id, &first.id]);
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn sends_let_through_unchecked_are_recorded_with_their_app() {
    let mut t = ledger();
    t.ledger
        .record_unchecked_send(PAGE, "chat-messages", "no_answer")
        .unwrap();
    t.ledger
        .record_unchecked_send(
            "https://elsewhere.example/chat/x",
            "workflows/run",
            "failed",
        )
        .unwrap();
    for (endpoint, reason) in [("chat-messages", "because"), ("", "failed")] {
        assert_eq!(
            t.ledger
                .record_unchecked_send(PAGE, endpoint, reason)
                .unwrap_err()
                .code(),
            "invalid"
        );
    }
    let sends = t.ledger.unchecked_sends(10).unwrap();
    let seen: Vec<(Option<&str>, &str, &str)> = sends
        .iter()
        .map(|send| {
            (
                send.app_name.as_deref(),
                send.endpoint.as_str(),
                send.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (None, "workflows/run", "failed"),
            (Some("Demo"), "chat-messages", "no_answer")
        ]
    );
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn entries_are_immutable_in_the_file_itself() {
    let mut t = ledger();
    t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    let raw = t.raw();
    assert!(
        raw.execute("UPDATE entries SET amount_micros = 0", [])
            .unwrap_err()
            .to_string()
            .contains("immutable")
    );
    assert!(
        raw.execute("DELETE FROM entries", [])
            .unwrap_err()
            .to_string()
            .contains("permanent")
    );
}

#[test]
fn verify_finds_a_tampered_balance() {
    let mut t = ledger();
    t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    assert!(t.ledger.verify().unwrap().ok);
    t.raw()
        .execute(
            "UPDATE accounts SET balance_micros = balance_micros + 1 WHERE name = 'staff'",
            [],
        )
        .unwrap();
    let report = t.ledger.verify().unwrap();
    assert!(!report.ok);
    assert!(report.problems[0].contains("balance differs"), "{report:?}");
}

#[test]
fn admin_passwords_must_be_set_before_use() {
    let mut t = ledger();
    assert_eq!(
        t.ledger
            .check_admin_password("admin", "")
            .unwrap_err()
            .code(),
        "password_not_set"
    );
    assert_eq!(
        t.ledger
            .check_admin_password("admin", "admin")
            .unwrap_err()
            .code(),
        "password_not_set"
    );
    assert!(t.ledger.set_admin_password("admin", "short").is_err());
    t.ledger
        .set_admin_password("admin", "correct horse battery")
        .unwrap();
    assert_eq!(
        t.ledger
            .set_admin_password("admin", "another password")
            .unwrap_err()
            .code(),
        "password_already_set"
    );
    t.ledger
        .check_admin_password("admin", "correct horse battery")
        .unwrap();
    assert_eq!(
        t.ledger
            .check_admin_password("admin", "wrong password")
            .unwrap_err()
            .code(),
        "wrong_password"
    );
    t.ledger
        .change_admin_password("admin", "correct horse battery", "staple staple")
        .unwrap();
    t.ledger
        .check_admin_password("admin", "staple staple")
        .unwrap();
    assert!(
        t.ledger
            .set_admin_password("staff", "some password")
            .is_err(),
        "staff is not an admin"
    );
}

#[test]
fn wrong_admin_passwords_are_recorded_and_limit_logins() {
    let mut t = ledger();
    t.ledger
        .set_admin_password("admin", "correct horse battery")
        .unwrap();
    // One wrong password was recorded a while ago; four more now make five within the window.
    t.ledger
        .check_admin_password("admin", "guess 0")
        .unwrap_err();
    t.clock.advance(chrono::Duration::minutes(10));
    for n in 1..5 {
        let error = t
            .ledger
            .check_admin_password("admin", &format!("guess {n}"))
            .unwrap_err();
        assert_eq!(error.code(), "wrong_password");
    }
    // Now even the right password is refused, by the record in the file, not the process.
    let mut reopened = t.reopen();
    let refused = reopened
        .check_admin_password("admin", "correct horse battery")
        .unwrap_err();
    assert_eq!(refused.code(), "too_many_logins");
    assert!(refused.to_string().contains("5 minutes"), "{refused}");
    assert_eq!(
        t.count("SELECT count(*) FROM admin_login_failures"),
        5,
        "a refused login is not a wrong password"
    );
    // Once the first failure leaves the fifteen minutes, one more try is allowed.
    t.clock.advance(chrono::Duration::minutes(5));
    reopened
        .check_admin_password("admin", "correct horse battery")
        .unwrap();
}
