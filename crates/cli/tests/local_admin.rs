//! The island admin's actions from the command line, each the one the admin window runs: balances,
//! guards, apps, models and rejected events.

mod common;

use common::DataDir;
use serde_json::{Value, json};

const PAGE: &str = "http://127.0.0.1:8765/chat/cli-admin";

fn frame(message_id: &str, prompt: u64, completion: u64) -> String {
    format!(
        r#"{{"event":"message_end","conversation_id":"c","message_id":"{message_id}","id":"{message_id}","created_at":1,"task_id":"t","metadata":{{"usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{},"total_price":"0.001","currency":"USD"}}}},"files":null}}"#,
        prompt + completion
    )
}

/// A data dir with a model priced at 0.001 / 0.002 USD per 1K tokens and an app bound to it.
fn priced() -> (DataDir, i64) {
    let dir = DataDir::new();
    dir.json(
        &[
            "models", "set", "m", "--input", "0.001", "--output", "0.002",
        ],
        "",
    );
    let app = dir.json(&["apps", "add", "Chat", PAGE, "--model", "m"], "");
    (dir, app["id"].as_i64().unwrap())
}

/// Runs a command that must fail, and returns the error's code from its JSON line on stderr.
fn error_code(dir: &DataDir, args: &[&str]) -> String {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let output = dir.run(&full, "");
    assert!(!output.status.success(), "{args:?} succeeded");
    let error: Value = serde_json::from_slice(&output.stderr).unwrap();
    error["error"]["code"].as_str().unwrap().to_owned()
}

#[test]
fn top_up_adjust_and_reverse_move_the_balance_once_and_record_the_actor() {
    let dir = DataDir::new();
    let topup = dir.json(
        &[
            "--actor", "alice", "topup", "staff", "100", "--reason", "monthly",
        ],
        "",
    );
    assert_eq!(topup["balance"], json!("10100"));
    assert_eq!(topup["entry"]["kind"], "topup");
    assert_eq!(topup["entry"]["actor"], "alice");
    let adjusted = dir.json(&["adjust", "staff", "-0.5", "--reason", "rounding"], "");
    assert_eq!(adjusted["balance"], json!("10099.5"));
    assert_eq!(adjusted["entry"]["kind"], "adjustment");

    let entry_id = topup["entry"]["id"].as_str().unwrap();
    let reversal = dir.json(&["reverse", entry_id, "--reason", "sent twice"], "");
    assert_eq!(reversal["kind"], "reversal");
    assert_eq!(reversal["amount"], json!("-100"));
    assert_eq!(dir.json(&["status"], "")["balance"], json!("9999.5"));
    assert_eq!(
        error_code(&dir, &["reverse", entry_id, "--reason", "again"]),
        "already_reversed"
    );
    assert_eq!(
        error_code(&dir, &["topup", "staff", "0.0000001", "--reason", "x"]),
        "invalid"
    );
    assert!(dir.run(&["verify"], "").status.success());
}

#[test]
fn every_guard_is_shown_and_set_and_the_cap_holds_a_charge() {
    let (dir, _) = priced();
    let settings = [
        ("min_balance", "1", json!("1")),
        ("event_cap", "2.5", json!("2.5")),
        ("flood_max_per_minute", "7", json!(7)),
        ("low_balance", "50", json!("50")),
        ("max_tokens_per_event", "5000000", json!(5_000_000)),
        ("daily_budget", "100", json!("100")),
        ("monthly_budget", "1000", json!("1000")),
        ("when_unchecked", "block", json!("block")),
        ("side_calls", "fixed", json!("fixed")),
        ("side_call_fixed", "0.000123", json!("0.000123")),
        ("integration_enabled", "false", json!(false)),
    ];
    for (key, value, expected) in &settings {
        let policy = dir.json(&["policy", "set", key, value], "");
        assert_eq!(&policy[key], expected, "{key}");
    }
    let shown = dir.json(&["policy", "show"], "");
    for (key, _, expected) in &settings {
        assert_eq!(&shown[key], expected, "{key}");
    }
    assert_eq!(
        dir.json(&["status"], "")["integration_enabled"],
        json!(false)
    );

    dir.json(&["policy", "set", "integration_enabled", "on"], "");
    // 1033 + 135 tokens cost 13.03 credits, above the cap of 2.5.
    let held = dir.json(&["record", "--app", PAGE], &frame("m1", 1033, 135));
    assert_eq!(held["outcome"], "held");
    assert_eq!(dir.json(&["held", "list"], "")[0]["reason"], "cap");

    assert_eq!(error_code(&dir, &["policy", "set", "cap", "5"]), "invalid");
    assert_eq!(
        error_code(&dir, &["policy", "set", "event_cap", "-1"]),
        "invalid"
    );
    assert_eq!(
        error_code(&dir, &["policy", "set", "flood_max_per_minute", "1.5"]),
        "invalid"
    );
    assert_eq!(
        error_code(&dir, &["policy", "set", "side_calls", "sometimes"]),
        "invalid"
    );
    assert_eq!(
        error_code(&dir, &["policy", "set", "side_call_fixed", "-1"]),
        "invalid"
    );
    assert_eq!(dir.json(&["policy", "show"], "")["event_cap"], json!("2.5"));
}

#[test]
fn apps_are_edited_switched_off_and_on_and_tested() {
    let (dir, id) = priced();
    let id = id.to_string();
    let edited = dir.json(
        &["apps", "edit", &id, "--name", "Renamed", "--dify-price"],
        "",
    );
    assert_eq!(
        (&edited["name"], &edited["pricing"], &edited["share_url"]),
        (&json!("Renamed"), &json!("dify_price"), &json!(PAGE))
    );
    assert!(edited["model"].is_null());
    let rebound = dir.json(&["apps", "edit", &id, "--model", "m"], "");
    assert_eq!(
        (&rebound["name"], &rebound["model"]),
        (&json!("Renamed"), &json!("m"))
    );

    let disabled = dir.json(&["apps", "disable", &id], "");
    assert_eq!(disabled["enabled"], json!(false));
    let refused = dir.run(
        &["--json", "record", "--app", PAGE],
        &frame("m1", 1000, 1000),
    );
    assert!(!refused.status.success());
    let refused: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(refused["code"], "app_disabled");

    assert_eq!(
        dir.json(&["apps", "enable", &id], "")["enabled"],
        json!(true)
    );
    let charged = dir.json(&["record", "--app", PAGE], &frame("m1", 1000, 1000));
    assert_eq!(charged["outcome"], "charged");

    // Nothing listens on port 1: the test reports the failure and exits non-zero.
    let unreachable = dir.json(
        &[
            "apps",
            "add",
            "Gone",
            "http://127.0.0.1:1/chat/x",
            "--dify-price",
        ],
        "",
    )["id"]
        .to_string();
    let tested = dir.run(&["--json", "apps", "test", &unreachable], "");
    assert!(!tested.status.success());
    let tested: Value = serde_json::from_slice(&tested.stdout).unwrap();
    assert_eq!(
        (&tested["ok"], &tested["status"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(error_code(&dir, &["apps", "enable", "999"]), "not_found");
}

#[test]
fn models_are_switched_aliased_and_previewed_before_an_import() {
    let (dir, _) = priced();
    let aliased = dir.json(&["models", "aliases", "m", "m-latest", "m-2026"], "");
    assert_eq!(aliased["aliases"], json!(["m-2026", "m-latest"]));
    assert_eq!(
        dir.json(&["models", "disable", "m"], "")["active"],
        json!(false)
    );
    let listed = dir.json(&["models", "list"], "");
    let model = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|model| model["name"] == "m")
        .unwrap();
    assert_eq!(
        (
            &model["active"],
            &model["aliases"].as_array().unwrap().len()
        ),
        (&json!(false), &2)
    );
    assert_eq!(
        dir.json(&["models", "enable", "m"], "")["active"],
        json!(true)
    );
    assert_eq!(
        dir.json(&["models", "aliases", "m"], "")["aliases"],
        json!([])
    );

    let file = dir.0.path().join("prices.csv");
    std::fs::write(
        &file,
        "name,input_usd_per_1k,output_usd_per_1k\nfresh,0.001,0.002\nm,0.003,0.004\n",
    )
    .unwrap();
    let preview = dir.json(
        &["models", "import", file.to_str().unwrap(), "--preview"],
        "",
    );
    let changes: Vec<(&str, &str)> = preview["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["name"].as_str().unwrap(),
                row["change"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(changes, [("fresh", "create"), ("m", "update")]);
    let names: Vec<String> = dir
        .json(&["models", "list"], "")
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !names.contains(&"fresh".to_owned()),
        "the preview wrote {names:?}"
    );
}

#[test]
fn rejected_events_are_listed_with_their_codes() {
    let (dir, _) = priced();
    let rejected = dir.run(&["record", "--app", PAGE], "{not json");
    assert!(!rejected.status.success());
    let listed = dir.json(&["held", "rejected", "--limit", "5"], "");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["code"], "malformed_json");
}
