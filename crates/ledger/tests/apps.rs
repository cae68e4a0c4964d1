//! Configured Dify apps on a real ledger file: editing one, and pricing an event as another model.

mod common;

use common::*;
use tokendesk_ledger::apps::AppBinding;
use tokendesk_ledger::{LedgerError, Outcome, Pricing};

const MOVED: &str = "https://dify.example.com/chatbot/moved-token";

fn demo_app_id(t: &TestLedger) -> i64 {
    t.ledger.app_for_url(PAGE).unwrap().unwrap().id
}

#[test]
fn an_edited_app_is_found_at_its_new_url_and_priced_by_its_new_binding() {
    let mut t = ledger();
    t.ledger
        .set_model("other-model", price("0.01", "0.02"), "admin", "test")
        .unwrap();
    let id = demo_app_id(&t);
    let before = t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    assert_eq!(before.amount_micros, expected_micros(1000, 0));

    let edited = t
        .ledger
        .update_app(
            id,
            "  Helpdesk ",
            MOVED,
            &AppBinding::Model("other-model".into()),
        )
        .unwrap();
    assert_eq!(
        (
            edited.name.as_str(),
            edited.share_url.as_str(),
            edited.origin.as_str(),
            edited.share_token.as_str(),
            edited.model.as_deref(),
        ),
        (
            "Helpdesk",
            MOVED,
            "https://dify.example.com",
            "moved-token",
            Some("other-model")
        )
    );

    // The old page is no app any more: its events are rejected, and audited.
    let stale = t.ledger.record_frame(PAGE, &frame("m2", 1000, 0)).unwrap();
    assert_eq!(
        (stale.outcome, stale.code.as_deref()),
        (Outcome::Rejected, Some("unknown_app"))
    );
    // The new page is charged at the new model's price, ten times the old one.
    let moved = t.ledger.record_frame(MOVED, &frame("m3", 1000, 0)).unwrap();
    assert_eq!(moved.outcome, Outcome::Charged);
    assert_eq!(moved.amount_micros, 10 * expected_micros(1000, 0));
    assert_eq!(moved.app_name.as_deref(), Some("Helpdesk"));

    // The first charge keeps the name and price it was made with.
    let usage = t.usage_of(&before);
    assert_eq!(
        (usage.app_name.as_str(), usage.model.as_deref()),
        ("Demo", Some("test-model"))
    );

    let to_dify = t
        .ledger
        .update_app(id, "Helpdesk", MOVED, &AppBinding::DifyPrice)
        .unwrap();
    assert_eq!(
        (to_dify.pricing, to_dify.model_id),
        (Pricing::DifyPrice, None)
    );
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn a_page_is_an_apps_only_where_its_path_starts_with_the_apps_share_path() {
    let t = ledger();
    let id = demo_app_id(&t);
    for page in [
        PAGE.to_owned(),
        format!("{PAGE}/"),
        format!("{PAGE}?conversation_id=c1#end"),
        format!("{PAGE}/extra/segments"),
    ] {
        assert_eq!(
            t.ledger.app_for_url(&page).unwrap().map(|app| app.id),
            Some(id),
            "{page}"
        );
    }
    let (origin, path) = PAGE.split_at(PAGE.find("/chat").unwrap());
    for page in [
        format!("{origin}/other{path}"),
        format!("{origin}/chat/other/chat{}", &path["/chat".len()..]),
        format!("{origin}/chatbot{}", &path["/chat".len()..]),
        format!("{}{path}", origin.replace(":8765", ":8766")),
        format!("file://{path}"),
    ] {
        assert!(t.ledger.app_for_url(&page).unwrap().is_none(), "{page}");
    }
}

#[test]
fn an_edit_that_would_clash_or_is_unusable_changes_nothing() {
    let mut t = ledger();
    let id = demo_app_id(&t);
    let original = t.ledger.app(id).unwrap();
    let model = AppBinding::Model("test-model".into());
    let refusals = [
        t.ledger.update_app(id, "Demo", DIFY_PRICE_PAGE, &model),
        t.ledger.update_app(id, "   ", PAGE, &model),
        t.ledger
            .update_app(id, "Demo", "https://dify.example.com/", &model),
        t.ledger
            .update_app(id, "Demo", PAGE, &AppBinding::Model("no-such-model".into())),
        t.ledger.update_app(9999, "Ghost", MOVED, &model),
    ];
    let codes: Vec<&str> = refusals
        .iter()
        .map(|refusal| refusal.as_ref().unwrap_err().code())
        .collect();
    assert_eq!(
        codes,
        [
            "already_exists",
            "invalid",
            "invalid",
            "not_found",
            "not_found"
        ]
    );
    assert_eq!(t.ledger.app(id).unwrap(), original);
    // Keeping its own URL is no clash.
    assert!(t.ledger.update_app(id, "Demo again", PAGE, &model).is_ok());
}

#[test]
fn an_event_priced_as_another_model_is_charged_and_snapshotted_by_it() {
    let mut t = ledger();
    t.ledger
        .set_model("other-model", price("0.01", "0.02"), "admin", "test")
        .unwrap();
    let result = t
        .ledger
        .record_frame_priced_as(PAGE, &frame("sim-1", 1000, 500), "other-model")
        .unwrap();
    assert_eq!(result.outcome, Outcome::Charged);
    assert_eq!(result.amount_micros, 10 * expected_micros(1000, 500));
    let usage = t.usage_of(&result);
    assert_eq!(usage.model.as_deref(), Some("other-model"));
    assert_eq!(usage.price, Some(price("0.01", "0.02")));

    // The app itself stays bound as it was, and the same message is still charged once.
    assert_eq!(
        t.ledger
            .app_for_url(PAGE)
            .unwrap()
            .unwrap()
            .model
            .as_deref(),
        Some("test-model")
    );
    let replay = t
        .ledger
        .record_frame(PAGE, &frame("sim-1", 1000, 500))
        .unwrap();
    assert_eq!(replay.outcome, Outcome::Duplicate);

    let unknown = t
        .ledger
        .record_frame_priced_as(PAGE, &frame("sim-2", 1, 1), "no-such-model");
    assert!(matches!(unknown, Err(LedgerError::NotFound { .. })));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM event_keys WHERE message_id = 'sim-2'"),
        0,
        "nothing recorded"
    );
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn a_held_event_priced_as_another_model_is_approved_at_that_models_price() {
    let mut t = ledger();
    t.ledger
        .set_model("other-model", price("0.01", "0.02"), "admin", "test")
        .unwrap();
    let mut policy = t.ledger.policy().unwrap();
    policy.event_cap_micros = credits(1);
    t.ledger.set_policy(&policy, "admin").unwrap();

    let held = t
        .ledger
        .record_frame_priced_as(PAGE, &frame("sim-held", 1000, 500), "other-model")
        .unwrap();
    assert_eq!(held.outcome, Outcome::Held);
    let expected = 10 * expected_micros(1000, 500);
    assert_eq!(held.amount_micros, expected);
    let held_id = held.held_id.as_deref().unwrap();
    assert_eq!(
        t.ledger.held_event(held_id).unwrap().priced_as.as_deref(),
        Some("other-model")
    );
    // An event of the app's own binding keeps none.
    let own = t
        .ledger
        .record_frame(PAGE, &frame("own-held", 100_000, 0))
        .unwrap();
    assert_eq!(own.outcome, Outcome::Held);
    assert_eq!(
        t.ledger
            .held_event(own.held_id.as_deref().unwrap())
            .unwrap()
            .priced_as,
        None
    );

    let charge = t
        .ledger
        .approve_held(held_id, "admin", "ok", t.shown(held_id))
        .unwrap();
    assert_eq!(charge.amount_micros, -expected);
    assert_eq!(charge.usage.unwrap().model.as_deref(), Some("other-model"));
    assert!(t.ledger.verify().unwrap().ok);
}
