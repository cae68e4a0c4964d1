//! The `tokendesk` binary as scripts use it: JSON shapes, exit codes, one-line errors.

mod common;

use common::DataDir;
use serde_json::Value;
use std::process::Output;

const PAGE: &str = "http://127.0.0.1:8765/chat/cli-test";

fn frame(message_id: &str, prompt: u64, completion: u64) -> String {
    format!(
        r#"{{"event":"message_end","conversation_id":"c","message_id":"{message_id}","id":"{message_id}","created_at":1,"task_id":"t","metadata":{{"usage":{{"prompt_tokens":{prompt},"completion_tokens":{completion},"total_tokens":{},"total_price":"0.001","currency":"USD"}}}},"files":null}}"#,
        prompt + completion
    )
}

fn assert_one_line_error(output: &Output) {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn status_on_a_fresh_data_dir_reports_the_balance_as_an_exact_decimal() {
    let dir = DataDir::new();
    let status = dir.json(&["status"], "");
    assert_eq!(status["balance"], serde_json::json!("10000"));
    assert_eq!(status["credits_per_usd"], serde_json::json!("10000"));
    assert_eq!(status["integration_enabled"], Value::Bool(true));
    assert!(dir.0.path().join("ledger.sqlite3").exists());
    let human = dir.run(&["status"], "");
    assert!(String::from_utf8_lossy(&human.stdout).contains("10000 credits"));
}

#[test]
fn record_charges_once_and_reports_outcomes() {
    let dir = DataDir::new();
    dir.json(
        &[
            "models",
            "set",
            "cli-model",
            "--input",
            "0.001",
            "--output",
            "0.002",
        ],
        "",
    );
    dir.json(&["apps", "add", "CLI", PAGE, "--model", "cli-model"], "");
    let charged = dir.json(&["record", "--app", PAGE], &frame("m1", 1033, 135));
    assert_eq!(charged["outcome"], "charged");
    assert_eq!(charged["amount"], serde_json::json!("13.03"));
    assert!(charged["reason"].is_null());
    let duplicate = dir.json(&["record", "--app", PAGE], &frame("m1", 1033, 135));
    assert_eq!(duplicate["outcome"], "duplicate");
    assert!(
        duplicate["reason"]
            .as_str()
            .unwrap()
            .contains("already charged")
    );
    let conflict = dir.json(&["record", "--app", PAGE], &frame("m1", 1, 1));
    assert_eq!(conflict["outcome"], "conflict");
    assert_eq!(
        dir.json(&["status"], "")["balance"],
        serde_json::json!("9986.97")
    );

    let rejected = dir.run(&["--json", "record", "--app", PAGE], "{not json");
    assert!(!rejected.status.success());
    let rejected: Value = serde_json::from_slice(&rejected.stdout).unwrap();
    assert_eq!(
        (rejected["outcome"].as_str(), rejected["amount"].as_str()),
        (Some("rejected"), Some("0"))
    );
    let held = dir.json(&["held", "list"], "");
    assert_eq!(held.as_array().unwrap().len(), 1);
    let id = held[0]["id"].as_str().unwrap();
    dir.json(&["held", "reject", id, "--note", "stale"], "");
    assert_eq!(dir.json(&["held", "list"], "").as_array().unwrap().len(), 0);
}

#[test]
fn users_rate_grant_and_verify() {
    let dir = DataDir::new();
    let users = dir.json(&["users", "list"], "");
    let names: Vec<(&str, &str)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|user| {
            (
                user["name"].as_str().unwrap(),
                user["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("staff", "staff"), ("admin", "admin")]);
    dir.json(&["rate", "set", "12000", "--reason", "new quarter"], "");
    let rate = dir.json(&["rate", "show"], "");
    assert_eq!(rate["credits_per_usd"], serde_json::json!("12000"));
    assert_eq!(rate["history"][0]["reason"], "new quarter");
    let granted = dir.json(&["grant", "staff", "250.5", "--reason", "bonus"], "");
    assert_eq!(granted["balance"], serde_json::json!("10250.5"));
    assert!(dir.run(&["verify"], "").status.success());
    assert_one_line_error(&dir.run(&["grant", "staff", "abc", "--reason", "x"], ""));
    assert_one_line_error(&dir.run(&["rate", "set", "-3", "--reason", "x"], ""));
    assert_one_line_error(&dir.run(&["grant", "nobody", "5", "--reason", "x"], ""));
}

#[test]
fn the_time_zone_is_kept_until_it_is_moved() {
    let dir = DataDir::new();
    let zone_in = |tz: &str| {
        let output = dir.run_with_env(&["--json", "time-zone"], "", &[("TZ", tz)]);
        serde_json::from_slice::<Value>(&output.stdout).unwrap()["time_zone"].clone()
    };
    // The file takes the zone it is made in; a run in another zone reads the file's own.
    assert_eq!(zone_in("Europe/Berlin"), "Europe/Berlin");
    assert_eq!(zone_in("America/Denver"), "Europe/Berlin");
    let moved = dir.json(&["time-zone", "Asia/Shanghai"], "");
    assert_eq!(moved["time_zone"], "Asia/Shanghai");
    assert_eq!(dir.json(&["time-zone"], "")["time_zone"], "Asia/Shanghai");
    assert_one_line_error(&dir.run(&["time-zone", "Mars/Olympus"], ""));
    assert!(dir.run(&["verify"], "").status.success());
}

#[test]
fn verify_fails_on_a_broken_invariant() {
    let dir = DataDir::new();
    dir.json(&["status"], "");
    // Break the cached balance behind the ledger's back.
    let raw = rusqlite::Connection::open(dir.0.path().join("ledger.sqlite3")).unwrap();
    raw.execute(
        "UPDATE accounts SET balance_micros = balance_micros + 5 WHERE name = 'staff'",
        [],
    )
    .unwrap();
    let output = dir.run(&["verify"], "");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("balance differs"));
}

#[test]
fn a_corrupt_ledger_file_is_one_clear_error() {
    let dir = DataDir::new();
    std::fs::write(dir.0.path().join("ledger.sqlite3"), vec![0x42; 8192]).unwrap();
    let output = dir.run(&["status"], "");
    assert_one_line_error(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a TokenDesk ledger"));
}

#[test]
fn model_import_reports_bad_lines_and_usage_exports_csv() {
    let dir = DataDir::new();
    let file = dir.0.path().join("prices.csv");
    std::fs::write(
        &file,
        "name,input_usd_per_1k,output_usd_per_1k\ngood,0.001,0.002\nbad,x,0.002\n",
    )
    .unwrap();
    let report = dir.json(&["models", "import", file.to_str().unwrap()], "");
    assert_eq!(report["created"], serde_json::json!(1));
    assert_eq!(report["errors"][0]["line"], serde_json::json!(3));
    dir.json(&["apps", "add", "CLI", PAGE, "--model", "good"], "");
    dir.json(&["record", "--app", PAGE], &frame("m1", 1000, 1000));
    let out = dir.0.path().join("usage.csv");
    dir.json(
        &["usage", "export", "--csv", "--out", out.to_str().unwrap()],
        "",
    );
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains(",charge,-30,CLI,good,1000,1000,"),
        "{csv}"
    );
    let usage = dir.json(&["usage", "--limit", "1"], "");
    assert_eq!(usage["entries"].as_array().unwrap().len(), 1);
    assert!(usage["next_cursor"].is_string());
}

#[test]
fn bench_prints_every_named_figure() {
    let dir = DataDir::new();
    let bench = dir.json(&["bench", "--rows", "3000"], "");
    for key in ["p1_ratio", "p2_ms", "p2_baseline_ms", "p3_ms", "import_s"] {
        let figure = &bench[key];
        let [min, median, max] = ["min", "median", "max"].map(|at| figure[at].as_f64());
        assert!(
            min <= median && median <= max && min.is_some_and(|min| min > 0.0),
            "{key}: {bench}"
        );
        assert!(figure["runs"].as_u64() >= Some(15), "{key}: {bench}");
    }
    assert!(bench["p2_ratio"].as_f64().is_some_and(f64::is_finite));
    assert_eq!(bench["rows"], serde_json::json!(3000));
    assert_eq!(bench["import_entries"], serde_json::json!(4878));
}
