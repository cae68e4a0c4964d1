//! The demo's replies spend demo credits of their own: never the real balance, before or after the
//! island is chosen, and the gate and the windows read the demo's account for the demo.

mod common;

use common::{credits, expected_micros, frame, ledger};
use tokendesk_ledger::apps::AppBinding;
use tokendesk_ledger::stats::HistoryQuery;
use tokendesk_ledger::sync::Mode;
use tokendesk_ledger::{EntryKind, Outcome};

const DEMO_PAGE: &str = "http://127.0.0.1:8765/chat/simulated-demo";

fn of(account: &str) -> HistoryQuery {
    HistoryQuery {
        account: Some(account.into()),
        limit: 100,
        ..Default::default()
    }
}

#[test]
fn demo_replies_spend_the_demo_account_and_never_the_real_balance() {
    let mut t = ledger();
    let real_before = t.balance();
    t.ledger
        .add_app(
            "演示 Demo",
            DEMO_PAGE,
            &AppBinding::Model("test-model".into()),
            true,
        )
        .unwrap();
    let demo = t.ledger.demo_account().unwrap();
    assert_eq!(
        demo.balance_micros,
        credits(1_000),
        "demo credits of its own"
    );

    let charged = t
        .ledger
        .record_frame(DEMO_PAGE, &frame("d1", 1000, 500))
        .unwrap();
    assert_eq!(charged.outcome, Outcome::Charged);
    assert_eq!(charged.amount_micros, expected_micros(1000, 500));
    assert_eq!(
        charged.balance_micros,
        credits(1_000) - expected_micros(1000, 500),
        "the answer is the demo's balance"
    );
    assert_eq!(t.balance(), real_before, "the real balance is untouched");
    let entries = t.ledger.history(&of("demo")).unwrap().entries;
    assert_eq!(
        entries.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EntryKind::Charge, EntryKind::Grant]
    );

    // A real app's reply still charges the real account.
    let real = t
        .ledger
        .record_frame(common::PAGE, &frame("r1", 1000, 500))
        .unwrap();
    assert_eq!(real.outcome, Outcome::Charged);
    assert_eq!(t.balance(), real_before - expected_micros(1000, 500));

    // Asking again, or adding the demo app again elsewhere, makes no second grant.
    t.ledger.demo_account().unwrap();
    assert_eq!(
        t.count("SELECT count(*) FROM accounts WHERE name = 'demo'"),
        1
    );
    assert_eq!(
        t.count("SELECT count(*) FROM entries e JOIN accounts a ON a.id = e.account_id WHERE a.name = 'demo' AND e.kind = 'grant'"),
        1
    );
    assert!(
        t.ledger.verify().unwrap().ok,
        "every balance is the sum of its entries"
    );
}

#[test]
fn the_gate_and_the_windows_read_the_demos_own_account_in_the_demo() {
    let mut t = ledger();
    t.ledger
        .add_app(
            "演示 Demo",
            DEMO_PAGE,
            &AppBinding::Model("test-model".into()),
            true,
        )
        .unwrap();
    let mut policy = t.ledger.policy().unwrap();
    policy.min_balance_micros = credits(999);
    t.ledger.set_policy(&policy, "admin").unwrap();

    assert!(t.ledger.may_send(DEMO_PAGE).unwrap().allowed);
    t.ledger
        .record_frame(DEMO_PAGE, &frame("d1", 10_000, 10_000))
        .unwrap();
    let refused = t.ledger.may_send(DEMO_PAGE).unwrap();
    assert!(!refused.allowed, "the demo credits are below the minimum");
    assert_eq!(
        refused.balance_micros,
        t.ledger.demo_account().unwrap().balance_micros
    );
    assert!(
        t.ledger.may_send(common::PAGE).unwrap().allowed,
        "the real balance is not"
    );

    // The island's windows show the real account; the demo's show the demo's.
    t.ledger.choose_mode(Mode::Island).unwrap();
    assert_eq!(
        t.ledger.shown_account().unwrap().name,
        t.ledger.active_account().unwrap().name
    );
    t.ledger.choose_mode(Mode::Demo).unwrap();
    let shown = t.ledger.shown_account().unwrap();
    assert_eq!(shown.name, "demo");
    assert_eq!(
        t.ledger.dashboard(30).unwrap().balance_micros,
        shown.balance_micros
    );
    let history = t
        .ledger
        .history(&HistoryQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        history.entries.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EntryKind::Charge, EntryKind::Grant],
        "the demo's history: its charge and its grant"
    );
}
