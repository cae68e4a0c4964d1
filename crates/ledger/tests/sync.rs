//! The ledger as a device of an org server, without the network: enrollment, the config mirror, numbering,
//! the balance as the server's plus what is pending, the offline lease, and the refusal of local admin writes.

mod common;

use chrono::{Duration, Utc};
use common::*;
use rust_decimal::Decimal;
use tokendesk_ledger::outbox::ReportKind;
use tokendesk_ledger::{Clock, LedgerError, Outcome};
use tokendesk_sync_proto::admin::{OrgInfo, Role, UserInfo};
use tokendesk_sync_proto::budget::{BudgetPeriods, BudgetStatus};
use tokendesk_sync_proto::device::{
    AppConfig, ConfigSnapshot, EnrollAnswer, HoldReason, ItemBody, ItemResult, ItemStatus, Lease,
    ModelPrice, Policy, PushAnswer, SideCall, SideCallPricing, WhenUnchecked,
};
use tokendesk_sync_proto::{Price as WirePrice, Pricing};
use uuid::Uuid;

const SERVER: &str = "http://127.0.0.1:8780";
const APP_ID: Uuid = Uuid::from_u128(0xA11);

fn snapshot(version: i64, input: &str, allowance: i64) -> ConfigSnapshot {
    ConfigSnapshot {
        version,
        org: OrgInfo {
            id: Uuid::from_u128(1),
            name: "acme".into(),
        },
        credits_per_usd: Decimal::from(10_000),
        models: vec![ModelPrice {
            name: "org-model".into(),
            price: WirePrice {
                input_per_1k: input.parse().unwrap(),
                output_per_1k: "0.002".parse().unwrap(),
            },
            aliases: vec!["org-alias".into()],
            active: true,
        }],
        apps: vec![AppConfig {
            id: APP_ID,
            name: "Org chat".into(),
            share_url: PAGE.into(),
            pricing: Pricing::Model,
            model: Some("org-model".into()),
            enabled: true,
        }],
        policy: Policy {
            integration_enabled: true,
            min_balance_micros: 0,
            event_cap_micros: 0,
            flood_max_per_minute: 0,
            low_balance_micros: 0,
            max_tokens_per_event: 2_000_000,
            daily_budget_micros: 0,
            monthly_budget_micros: 0,
            offline_allowance_micros: allowance,
            lease_seconds: 3600,
            time_zone: "UTC".into(),
            when_unchecked: WhenUnchecked::Block,
            side_calls: SideCallPricing::Estimate,
            side_call_fixed_micros: 0,
        },
        navigation_hosts: vec!["https://sso.example.com".into()],
    }
}

fn enrolled() -> TestLedger {
    let mut t = ledger();
    let answer = EnrollAnswer {
        device_id: Uuid::from_u128(0xD1),
        device_token: "tdd_secret".into(),
        org: OrgInfo {
            id: Uuid::from_u128(1),
            name: "acme".into(),
        },
        user: UserInfo {
            id: Uuid::from_u128(0x5),
            name: "alice".into(),
            display_name: "Alice".into(),
            role: Role::Staff,
        },
    };
    t.ledger
        .enroll(SERVER, &answer, &snapshot(2, "0.001", credits(100)))
        .unwrap();
    t
}

fn answer(
    acked: i64,
    balance: i64,
    lease: i64,
    base_seq: i64,
    results: Vec<ItemResult>,
) -> PushAnswer {
    PushAnswer {
        acked_through_seq: acked,
        results,
        balance_micros: balance,
        lease: Lease {
            amount_micros: lease,
            base_seq,
            expires_at: Utc::now() + Duration::hours(1),
        },
        config_version: 2,
        budget: None,
    }
}

#[test]
fn an_enrolled_ledger_mirrors_the_server_and_refuses_local_admin_writes() {
    // An island lets a send it cannot check through and records it; the org's device takes the org's
    // choice.
    assert_eq!(
        ledger().ledger.policy().unwrap().when_unchecked,
        WhenUnchecked::Allow
    );
    let mut t = enrolled();
    assert_eq!(
        t.ledger.policy().unwrap().when_unchecked,
        WhenUnchecked::Block
    );
    let status = t.ledger.sync_status().unwrap();
    assert!(status.enrolled);
    assert_eq!((status.config_version, status.pending), (2, 0));
    assert_eq!(
        t.ledger.navigation_hosts().unwrap(),
        vec!["https://sso.example.com".to_owned()]
    );
    let models = t.ledger.models().unwrap();
    assert!(
        models
            .iter()
            .filter(|model| model.active)
            .all(|model| model.name == "org-model")
    );
    assert_eq!(t.ledger.model("org-alias").unwrap().name, "org-model");
    // The island's other app is switched off; the share page the server names is the server's app now.
    let apps = t.ledger.apps().unwrap();
    assert_eq!(apps.iter().filter(|app| app.enabled).count(), 1);
    assert_eq!(
        t.ledger.app_for_url(PAGE).unwrap().unwrap().name,
        "Org chat"
    );

    for refused in [
        t.ledger
            .grant("staff", credits(1), "admin", "free tokens")
            .map(|_| ()),
        t.ledger
            .set_model("org-model", price("0", "0"), "admin", "cheaper")
            .map(|_| ()),
        t.ledger
            .set_exchange_rate(Decimal::ONE, "admin", "cheaper")
            .map(|_| ()),
        t.ledger.set_app_enabled(1, true).map(|_| ()),
    ] {
        match refused {
            Err(LedgerError::ManagedByServer(server)) => assert_eq!(server, SERVER),
            other => panic!("expected a refusal naming the server, got {other:?}"),
        }
    }
    // An older snapshot is ignored; a newer one is applied.
    assert!(
        !t.ledger
            .apply_config(&snapshot(2, "0.5", credits(100)))
            .unwrap()
    );
    assert!(
        t.ledger
            .apply_config(&snapshot(3, "0.003", credits(100)))
            .unwrap()
    );
    assert_eq!(
        t.ledger.model("org-model").unwrap().input_usd_per_1k,
        "0.003".parse::<Decimal>().unwrap()
    );
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn charges_are_numbered_and_the_balance_is_the_servers_plus_what_is_pending() {
    let mut t = enrolled();
    t.ledger
        .apply_push_answer(&answer(0, credits(500), credits(100), 0, vec![]))
        .unwrap();
    assert_eq!(t.balance(), credits(500));

    let first = t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    let second = t.ledger.record_frame(PAGE, &frame("m2", 2000, 0)).unwrap();
    assert_eq!(
        (first.outcome, second.outcome),
        (Outcome::Charged, Outcome::Charged)
    );
    // 1000 tokens at 0.001 USD/1K × 10000 = 10 credits.
    assert_eq!(
        second.balance_micros,
        credits(500) - credits(10) - credits(20)
    );

    let items = t.ledger.pending_push(1000).unwrap();
    assert_eq!(
        items.iter().map(|item| item.device_seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(items.iter().all(|item| item.config_version == 2));
    let ItemBody::Charge {
        amount_micros,
        usage,
    } = &items[0].body
    else {
        panic!("a charge")
    };
    assert_eq!(
        (*amount_micros, usage.app_id, usage.model.as_deref()),
        (-credits(10), APP_ID, Some("org-model"))
    );
    assert_eq!(items[0].id.to_string(), first.entry_id.unwrap());

    // The server took the first only; the second stays pending and counted locally.
    t.ledger
        .apply_push_answer(&answer(1, credits(490), credits(100), 1, vec![]))
        .unwrap();
    assert_eq!(t.ledger.sync_status().unwrap().pending, 1);
    assert_eq!(t.balance(), credits(490) - credits(20));
    assert_eq!(t.ledger.pending_push(1000).unwrap().len(), 1);
    // A grant on the server reaches the balance with the next answer.
    t.ledger
        .apply_push_answer(&answer(2, credits(1470), credits(100), 2, vec![]))
        .unwrap();
    assert_eq!(t.balance(), credits(1470));
    assert!(t.ledger.pending_push(1000).unwrap().is_empty());
    // An answer for more than this device recorded is refused, and changes nothing.
    assert!(
        t.ledger
            .apply_push_answer(&answer(9, 0, 0, 9, vec![]))
            .is_err()
    );
    assert_eq!(t.balance(), credits(1470));
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn past_the_lease_events_are_held_and_pushed_not_dropped() {
    let mut t = enrolled();
    t.ledger
        .apply_push_answer(&answer(0, credits(500), credits(25), 0, vec![]))
        .unwrap();
    assert!(t.ledger.may_send(PAGE).unwrap().allowed);
    assert_eq!(t.ledger.sync_status().unwrap().lease_refusal, None);
    // 10 + 20 credits: the second crosses the 25-credit lease and is still charged (the tokens were spent).
    assert_eq!(
        t.ledger
            .record_frame(PAGE, &frame("m1", 1000, 0))
            .unwrap()
            .outcome,
        Outcome::Charged
    );
    assert_eq!(
        t.ledger
            .record_frame(PAGE, &frame("m2", 2000, 0))
            .unwrap()
            .outcome,
        Outcome::Charged
    );
    let gate = t.ledger.may_send(PAGE).unwrap();
    assert_eq!(
        (gate.allowed, gate.code),
        (false, Some("offline_allowance"))
    );
    let held = t.ledger.record_frame(PAGE, &frame("m3", 1000, 0)).unwrap();
    assert_eq!(
        (held.outcome, held.code.as_deref()),
        (Outcome::Held, Some("offline_allowance"))
    );
    let status = t.ledger.sync_status().unwrap();
    assert_eq!(status.lease_left_micros, 0);
    // The status names the gate's own refusal.
    assert!(
        status
            .lease_refusal
            .is_some_and(|why| why.contains("offline allowance of 25 credits is spent")),
    );

    let items = t.ledger.pending_push(1000).unwrap();
    assert_eq!(items.len(), 3);
    let ItemBody::Held(item) = &items[2].body else {
        panic!("a held event")
    };
    assert_eq!(
        (items[2].device_seq, item.reason, item.prompt_tokens),
        (3, HoldReason::OfflineAllowance, 1000)
    );
    assert_eq!(item.amount_micros, Some(credits(10)));

    // A renewed lease lets sends through again; an expired one does not.
    t.ledger
        .apply_push_answer(&answer(3, credits(470), credits(25), 3, vec![]))
        .unwrap();
    assert!(t.ledger.may_send(PAGE).unwrap().allowed);
    assert_eq!(t.ledger.sync_status().unwrap().lease_refusal, None);
    t.clock.advance(Duration::days(3650));
    assert_eq!(
        t.ledger.may_send(PAGE).unwrap().code,
        Some("offline_allowance")
    );
    assert!(
        t.ledger
            .sync_status()
            .unwrap()
            .lease_refusal
            .is_some_and(|why| why.contains("expired"))
    );
}

#[test]
fn a_side_call_is_pushed_as_one_charge_or_hold_that_names_its_kind() {
    let mut t = enrolled();
    t.ledger
        .apply_push_answer(&answer(0, credits(500), credits(25), 0, vec![]))
        .unwrap();
    let call = |id: &str| {
        serde_json::json!({"call_id": id, "side_call": "suggested_questions", "context": "hi", "output": "[]"})
            .to_string()
    };
    let charged = t
        .ledger
        .record_report(ReportKind::SideCall, PAGE, &call("s-1"))
        .unwrap();
    assert_eq!(charged.outcome, Outcome::Charged);
    // Past the lease a side call is held like a reply, and keeps its kind.
    t.ledger
        .record_frame(PAGE, &frame("m1", 30_000, 0))
        .unwrap();
    let held = t
        .ledger
        .record_report(ReportKind::SideCall, PAGE, &call("s-2"))
        .unwrap();
    assert_eq!(held.outcome, Outcome::Held);

    let items = t.ledger.pending_push(1000).unwrap();
    let ItemBody::Charge { usage, .. } = &items[0].body else {
        panic!("a charge")
    };
    assert_eq!(
        (usage.side_call, usage.message_id.as_str()),
        (
            Some(SideCall::SuggestedQuestions),
            "suggested_questions:s-1"
        )
    );
    let ItemBody::Held(item) = &items[2].body else {
        panic!("a held event")
    };
    assert_eq!(
        (item.side_call, item.reason),
        (
            Some(SideCall::SuggestedQuestions),
            HoldReason::OfflineAllowance
        )
    );
}

#[test]
fn the_users_budgets_count_every_device_and_start_again_with_the_day() {
    let mut t = enrolled();
    let periods = BudgetPeriods::around(t.clock.now(), chrono_tz::Tz::UTC);
    let budget = |spent: i64| BudgetStatus {
        daily_limit_micros: credits(40),
        monthly_limit_micros: credits(1000),
        spent_today_micros: spent,
        spent_month_micros: spent,
        periods,
    };
    // The user's other devices spent 25 of today's 40 credits.
    let mut first = answer(0, credits(500), credits(100), 0, vec![]);
    first.budget = Some(budget(credits(25)));
    t.ledger.apply_push_answer(&first).unwrap();
    let spent_today = |t: &TestLedger| {
        t.ledger
            .sync_status()
            .unwrap()
            .budget
            .unwrap()
            .spent_today_micros
    };
    assert!(t.ledger.may_send(PAGE).unwrap().allowed);
    assert_eq!(spent_today(&t), credits(25));
    // This device's own charges count before the server has them: 25 + 10, then 25 + 20.
    t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    assert!(t.ledger.may_send(PAGE).unwrap().allowed);
    assert_eq!(spent_today(&t), credits(35));
    t.ledger.record_frame(PAGE, &frame("m2", 1000, 0)).unwrap();
    let gate = t.ledger.may_send(PAGE).unwrap();
    assert_eq!(
        (gate.allowed, gate.code),
        (false, Some("daily_budget_spent"))
    );
    // Once the server has them they are counted there, not twice.
    let mut second = answer(2, credits(480), credits(100), 2, vec![]);
    second.budget = Some(budget(credits(45)));
    t.ledger.apply_push_answer(&second).unwrap();
    assert_eq!(spent_today(&t), credits(45));
    assert!(!t.ledger.may_send(PAGE).unwrap().allowed);
    // The next day starts again, before any sync, from this device's own charges.
    t.clock.set(periods.day_end + Duration::minutes(1));
    assert!(t.ledger.may_send(PAGE).unwrap().allowed);
    assert_eq!(spent_today(&t), 0);
    t.ledger.record_frame(PAGE, &frame("m3", 1000, 0)).unwrap();
    assert_eq!(spent_today(&t), credits(10));
    let status = t.ledger.sync_status().unwrap().budget.unwrap();
    assert_eq!(status.spent_month_micros, credits(55));
    // The org lifts the budget: the next answer carries none, and nothing is refused for it.
    let mut third = answer(3, credits(470), credits(100), 3, vec![]);
    third.budget = None;
    t.ledger.apply_push_answer(&third).unwrap();
    assert_eq!(t.ledger.sync_status().unwrap().budget, None);
    assert!(t.ledger.may_send(PAGE).unwrap().allowed);
}

#[test]
fn a_revoked_device_stops_charging_and_keeps_its_records() {
    let mut t = enrolled();
    t.ledger
        .apply_push_answer(&answer(0, credits(500), credits(100), 0, vec![]))
        .unwrap();
    t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    t.ledger
        .record_sync_failure("device revoked", true)
        .unwrap();
    assert!(t.ledger.sync_status().unwrap().revoked);
    assert_eq!(
        t.ledger.may_send(PAGE).unwrap().code,
        Some("offline_allowance")
    );
    assert_eq!(
        t.ledger
            .record_frame(PAGE, &frame("m2", 1000, 0))
            .unwrap()
            .outcome,
        Outcome::Held
    );
    assert_eq!(t.ledger.pending_push(1000).unwrap().len(), 2);
}

#[test]
fn enrolled_the_real_usage_after_an_estimate_is_left_to_the_server() {
    let mut t = enrolled();
    t.ledger
        .apply_push_answer(&answer(0, credits(500), credits(100), 0, vec![]))
        .unwrap();
    let report = serde_json::json!({
        "message_id": "m-dropped",
        "query": "What is our travel policy?",
        "answer": "Book economy and keep receipts.",
        "reason": "no_message_end",
    });
    let estimate = t
        .ledger
        .record_incomplete(PAGE, &report.to_string())
        .unwrap();
    assert_eq!(estimate.outcome, Outcome::Charged);
    // The device's charges are the server's to settle: no local reversal, the real usage is held.
    let real = t
        .ledger
        .record_frame(PAGE, &frame("m-dropped", 40, 30))
        .unwrap();
    assert_eq!(real.outcome, Outcome::Conflict);
    assert_eq!(
        t.count("SELECT count(*) FROM entries WHERE kind = 'reversal'"),
        0
    );
}

#[test]
fn a_charge_another_device_made_first_is_reversed_locally_only() {
    let mut t = enrolled();
    t.ledger
        .apply_push_answer(&answer(0, credits(500), credits(100), 0, vec![]))
        .unwrap();
    let charged = t
        .ledger
        .record_frame(PAGE, &frame("shared", 1000, 0))
        .unwrap();
    let item = &t.ledger.pending_push(10).unwrap()[0];
    let duplicate = ItemResult {
        id: item.id,
        device_seq: 1,
        status: ItemStatus::Duplicate,
        detail: None,
    };
    // The server did not count it: its balance is unchanged.
    t.ledger
        .apply_push_answer(&answer(
            1,
            credits(500),
            credits(100),
            1,
            vec![duplicate.clone()],
        ))
        .unwrap();
    assert_eq!(t.balance(), credits(500));
    assert_eq!(
        t.ledger.sync_status().unwrap().pending,
        0,
        "the reversal is not pushed"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM entries WHERE kind = 'reversal'"),
        1
    );
    assert_eq!(
        t.ledger.dashboard(1).unwrap().today.messages,
        0,
        "the history nets out"
    );
    // The same answer again reverses nothing more.
    t.ledger
        .apply_push_answer(&answer(1, credits(500), credits(100), 1, vec![duplicate]))
        .unwrap();
    assert_eq!(
        t.count("SELECT COUNT(*) FROM entries WHERE kind = 'reversal'"),
        1
    );
    assert!(charged.entry_id.is_some());
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn enrollment_happens_once() {
    let mut t = enrolled();
    let answer = EnrollAnswer {
        device_id: Uuid::from_u128(0xD2),
        device_token: "tdd_other".into(),
        org: OrgInfo {
            id: Uuid::from_u128(2),
            name: "other".into(),
        },
        user: UserInfo {
            id: Uuid::from_u128(0x6),
            name: "bob".into(),
            display_name: "Bob".into(),
            role: Role::Staff,
        },
    };
    assert!(
        t.ledger
            .enroll("http://elsewhere", &answer, &snapshot(1, "0", 0))
            .is_err()
    );
    assert_eq!(
        t.ledger.sync_credentials().unwrap().unwrap().device_token,
        "tdd_secret"
    );
}

#[test]
fn the_first_run_choice_is_kept_until_an_org_is_joined() {
    use tokendesk_ledger::Ledger;
    use tokendesk_ledger::sync::Mode;
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = Ledger::open_dir(dir.path()).unwrap();
    assert_eq!(fresh.mode().unwrap(), Mode::Unchosen);
    fresh.choose_mode(Mode::Demo).unwrap();
    assert_eq!(fresh.mode().unwrap(), Mode::Demo);
    fresh.choose_mode(Mode::Island).unwrap();
    drop(fresh);
    let mut reopened = Ledger::open_dir(dir.path()).unwrap();
    assert_eq!(reopened.mode().unwrap(), Mode::Island, "kept in the file");
    assert!(reopened.choose_mode(Mode::Org).is_err());

    // A ledger from before the choice, with apps of its own, is an island.
    assert_eq!(ledger().ledger.mode().unwrap(), Mode::Island);

    let mut org = enrolled();
    assert_eq!(org.ledger.mode().unwrap(), Mode::Org);
    assert!(matches!(
        org.ledger.choose_mode(Mode::Island),
        Err(LedgerError::ManagedByServer(_))
    ));
    assert_eq!(org.ledger.mode().unwrap(), Mode::Org);
}
