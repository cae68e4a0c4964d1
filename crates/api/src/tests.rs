use tokendesk_ledger::Ledger;

use crate::{Api, ApiError, BalanceKind, Caller, PolicyKey};

fn ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open_dir(dir.path()).unwrap();
    (dir, ledger)
}

#[test]
fn staff_may_read_but_every_change_needs_an_admin() {
    let (_dir, mut ledger) = ledger();
    let staff = Caller::staff();
    let mut api = Api::new(&mut ledger, &staff);
    assert!(api.dashboard(1).is_ok());
    let rate_changes = api.rate().unwrap().history.len();
    let refusals = [
        api.change_balance("staff", BalanceKind::Grant, "5", "x")
            .err(),
        api.set_rate("12000", "x").err(),
        api.set_model("m", "0.001", "0.002", "x").err(),
        api.add_app("A", "http://127.0.0.1:1/chat/t", None).err(),
        api.set_policy_value(PolicyKey::EventCap, "5").err(),
    ];
    for refusal in refusals {
        let refusal = refusal.expect("a staff caller changed the ledger");
        assert!(matches!(refusal, ApiError::AdminRequired), "{refusal}");
        assert_eq!(refusal.code(), "admin_session_required");
    }
    assert_eq!(api.rate().unwrap().history.len(), rate_changes);
}

#[test]
fn an_admin_change_records_the_admin_and_parses_typed_amounts_exactly() {
    let (_dir, mut ledger) = ledger();
    let admin = Caller::admin("alice");
    let mut api = Api::new(&mut ledger, &admin);
    let entry = api
        .change_balance("staff", BalanceKind::Topup, "12.5", "bonus")
        .unwrap();
    assert_eq!(
        (entry.amount_micros, entry.actor.as_str()),
        (12_500_000, "alice")
    );
    let refused = api
        .change_balance("staff", BalanceKind::Grant, "0.0000001", "x")
        .unwrap_err();
    assert_eq!(refused.code(), "invalid");
    let reversed = api.reverse(&entry.id, "typo").unwrap();
    assert_eq!(reversed.amount_micros, -12_500_000);
}

#[test]
fn one_guard_is_set_from_text_and_the_others_are_kept() {
    let (_dir, mut ledger) = ledger();
    let admin = Caller::admin("admin");
    let mut api = Api::new(&mut ledger, &admin);
    let before = api.policy().unwrap();
    let after = api.set_policy_value(PolicyKey::EventCap, "2.5").unwrap();
    assert_eq!(after.event_cap.to_string(), "2.5");
    assert_eq!(after.min_balance, before.min_balance);
    let off = api
        .set_policy_value("integration_enabled".parse().unwrap(), "off")
        .unwrap();
    assert!(!off.integration_enabled);
    assert!("no_such_guard".parse::<PolicyKey>().is_err());
    let bad = api.set_policy_value(PolicyKey::FloodMaxPerMinute, "1.5");
    assert_eq!(bad.unwrap_err().code(), "invalid");
}

#[test]
fn errors_serialize_to_code_and_message() {
    let json = serde_json::to_value(ApiError::AdminRequired).unwrap();
    assert_eq!(json["code"], "admin_session_required");
    assert!(json["message"].as_str().unwrap().contains("admin"));
}
