//! Side calls: the model calls Dify makes beside a reply (naming a conversation, suggesting questions),
//! priced as the policy says and shown in the history as entries of their own.

mod common;

use common::*;
use tokendesk_ledger::guards::{SideCall, SideCallPricing};
use tokendesk_ledger::outbox::ReportKind;
use tokendesk_ledger::stats::HistoryQuery;
use tokendesk_ledger::{ChargeResult, EntryKind, Outcome};

fn side_call(call_id: &str, kind: &str, context: &str, output: &str) -> String {
    serde_json::json!({
        "call_id": call_id, "side_call": kind, "conversation_id": "conv-1", "message_id": "msg-1",
        "context": context, "output": output,
    })
    .to_string()
}

fn record(t: &mut TestLedger, page: &str, payload: &str) -> ChargeResult {
    t.ledger
        .record_report(ReportKind::SideCall, page, payload)
        .unwrap()
}

fn price_side_calls(t: &mut TestLedger, pricing: SideCallPricing, fixed_micros: i64) {
    let mut policy = t.ledger.policy().unwrap();
    policy.side_calls = pricing;
    policy.side_call_fixed_micros = fixed_micros;
    t.ledger.set_policy(&policy, "admin").unwrap();
}

#[test]
fn by_default_a_side_call_is_estimated_from_difys_instructions_and_what_the_page_saw_at_the_apps_model()
 {
    let mut t = ledger();
    let start = t.balance();
    assert_eq!(
        t.ledger.policy().unwrap().side_calls,
        SideCallPricing::Estimate
    );

    // Nothing seen: Dify's instructions and the answer's format alone (200 + 40 for a title).
    let naming = record(&mut t, PAGE, &side_call("n-1", "conversation_name", "", ""));
    assert_eq!(naming.outcome, Outcome::Charged);
    assert!(naming.estimated);
    assert_eq!(naming.amount_micros, expected_micros(200, 40));
    let usage = t.usage_of(&naming);
    assert_eq!(usage.side_call, Some(SideCall::ConversationName));
    assert_eq!(usage.model.as_deref(), Some("test-model"));
    assert_eq!(usage.message_id, "conversation_name:n-1");
    assert_eq!(usage.conversation_id.as_deref(), Some("conv-1"));

    // 80 + 10 for suggestions; what the page saw adds to both sides.
    let bare = record(
        &mut t,
        PAGE,
        &side_call("s-1", "suggested_questions", "", ""),
    );
    assert_eq!(bare.amount_micros, expected_micros(80, 10));
    let seen = record(
        &mut t,
        PAGE,
        &side_call(
            "s-2",
            "suggested_questions",
            "How do I file expenses?\nOpen the portal and pick a report.",
            r#"["Which portal?","What receipts?","Who approves?"]"#,
        ),
    );
    let usage = t.usage_of(&seen);
    assert!(usage.prompt_tokens > 80 && usage.completion_tokens > 10);
    assert_eq!(
        seen.amount_micros,
        expected_micros(usage.prompt_tokens, usage.completion_tokens)
    );
    assert_eq!(
        t.balance(),
        start - naming.amount_micros - bare.amount_micros - seen.amount_micros
    );
}

#[test]
fn a_long_first_query_counts_as_dify_cuts_it_and_suggestion_context_stops_at_difys_memory() {
    let mut t = ledger();
    let long_query = "word ".repeat(2_000);
    let naming = record(
        &mut t,
        PAGE,
        &side_call("n-long", "conversation_name", &long_query, ""),
    );
    // Dify keeps 300 characters of each end: far fewer tokens than the 2,000 words.
    let prompt = t.usage_of(&naming).prompt_tokens;
    assert!((200..400).contains(&prompt), "prompt tokens {prompt}");

    let history = "token ".repeat(10_000);
    let suggestion = record(
        &mut t,
        PAGE,
        &side_call("s-long", "suggested_questions", &history, ""),
    );
    assert_eq!(t.usage_of(&suggestion).prompt_tokens, 80 + 3_000);
}

#[test]
fn a_side_call_reported_again_is_charged_once_and_another_call_again() {
    let mut t = ledger();
    let start = t.balance();
    let payload = side_call("s-1", "suggested_questions", "hi", r#"["a?"]"#);
    let first = record(&mut t, PAGE, &payload);
    let again = record(&mut t, PAGE, &payload);
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert_eq!(again.entry_id, first.entry_id);
    let other = record(
        &mut t,
        PAGE,
        &side_call("s-2", "suggested_questions", "hi", r#"["a?"]"#),
    );
    assert_eq!(other.outcome, Outcome::Charged);
    assert_eq!(t.balance(), start - 2 * first.amount_micros);
}

#[test]
fn free_side_calls_are_shown_in_the_history_at_no_cost_and_fixed_ones_at_the_fixed_amount() {
    let mut t = ledger();
    let start = t.balance();
    price_side_calls(&mut t, SideCallPricing::Free, 0);
    let free = record(
        &mut t,
        PAGE,
        &side_call("n-1", "conversation_name", "hi", "Hi"),
    );
    assert_eq!((free.outcome, free.amount_micros), (Outcome::Charged, 0));
    assert_eq!(t.balance(), start);

    price_side_calls(&mut t, SideCallPricing::Fixed, 250_000);
    let fixed = record(
        &mut t,
        PAGE,
        &side_call("s-1", "suggested_questions", "hi", "[]"),
    );
    assert_eq!(fixed.amount_micros, 250_000);
    // Fixed does not depend on the app's pricing: a Dify-priced app's call costs the same.
    let dify_priced = record(
        &mut t,
        DIFY_PRICE_PAGE,
        &side_call("s-2", "suggested_questions", "hi", "[]"),
    );
    assert_eq!(dify_priced.amount_micros, 250_000);
    assert_eq!(t.usage_of(&fixed).model, None);

    let history = t
        .ledger
        .history(&HistoryQuery {
            kind: Some(EntryKind::Charge),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    let shown: Vec<(Option<SideCall>, i64)> = history
        .entries
        .iter()
        .map(|entry| {
            (
                entry.usage.as_ref().and_then(|usage| usage.side_call),
                entry.amount_micros,
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            (Some(SideCall::SuggestedQuestions), -250_000),
            (Some(SideCall::SuggestedQuestions), -250_000),
            (Some(SideCall::ConversationName), 0),
        ]
    );
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn an_estimate_for_a_dify_priced_app_is_held_and_approved_at_the_amount_shown() {
    let mut t = ledger();
    let held = record(
        &mut t,
        DIFY_PRICE_PAGE,
        &side_call("s-1", "suggested_questions", "hi", "[]"),
    );
    assert_eq!(held.outcome, Outcome::Held);
    let held_id = held.held_id.unwrap();
    assert_eq!(t.shown(&held_id), None);

    // The admin prices side calls fixed; the held call now costs that, shown before it is charged.
    price_side_calls(&mut t, SideCallPricing::Fixed, 100_000);
    let changed = t.ledger.approve_held(&held_id, "admin", "ok", None);
    assert_eq!(changed.unwrap_err().code(), "amount_changed");
    let entry = t
        .ledger
        .approve_held(&held_id, "admin", "ok", t.shown(&held_id))
        .unwrap();
    assert_eq!(entry.amount_micros, -100_000);
    assert_eq!(
        entry.usage.unwrap().side_call,
        Some(SideCall::SuggestedQuestions)
    );
}

#[test]
fn side_calls_count_credits_and_tokens_but_are_no_messages_and_never_trip_the_flood_guard() {
    let mut t = ledger();
    let mut policy = t.ledger.policy().unwrap();
    policy.flood_max_per_minute = 1;
    t.ledger.set_policy(&policy, "admin").unwrap();
    let reply = t.ledger.record_frame(PAGE, &frame("m-1", 100, 50)).unwrap();
    assert_eq!(reply.outcome, Outcome::Charged);
    let naming = record(&mut t, PAGE, &side_call("n-1", "conversation_name", "", ""));
    let suggestion = record(
        &mut t,
        PAGE,
        &side_call("s-1", "suggested_questions", "", ""),
    );
    assert_eq!(
        (naming.outcome, suggestion.outcome),
        (Outcome::Charged, Outcome::Charged)
    );

    let today = t.ledger.dashboard(7).unwrap().today;
    assert_eq!(today.messages, 1);
    assert_eq!(today.prompt_tokens, 100 + 200 + 80);
    assert_eq!(today.completion_tokens, 50 + 40 + 10);
    assert_eq!(
        today.credits_micros,
        reply.amount_micros + naming.amount_micros + suggestion.amount_micros
    );
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn a_malformed_side_call_is_rejected_with_an_audit_record_and_charges_nothing() {
    let mut t = ledger();
    for payload in [
        side_call("bad id!", "suggested_questions", "", ""),
        side_call("", "conversation_name", "", ""),
        side_call("s-1", "translate_everything", "", ""),
        "{\"call_id\": 7}".to_string(),
        "not json".to_string(),
    ] {
        let result = record(&mut t, PAGE, &payload);
        assert_eq!(result.outcome, Outcome::Rejected, "{payload}");
        assert_eq!(result.code.as_deref(), Some("malformed_json"), "{payload}");
        assert!(result.audit_id.is_some());
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM rejected_events"), 5);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM entries WHERE kind = 'charge'"),
        0
    );
}
