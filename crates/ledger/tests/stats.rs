//! Dashboard figures in the reporting time zone, paged history, CSV export, price imports.

mod common;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use common::*;
use tokendesk_ledger::stats::HistoryQuery;

#[test]
fn today_and_month_follow_the_ledgers_time_zone_until_an_admin_moves_it() {
    let shanghai: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
    let mut t = ledger_in_zone(shanghai);
    // 2026-11-30 23:30 in Shanghai is 15:30 UTC: still November, locally.
    t.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 30, 15, 30, 0).unwrap());
    t.ledger.record_frame(PAGE, &frame("nov", 1000, 0)).unwrap();
    // Forty minutes later it is December 1st in Shanghai, though still November 30th in UTC.
    t.clock.advance(Duration::minutes(40));
    t.ledger.record_frame(PAGE, &frame("dec", 2000, 0)).unwrap();
    let dashboard = t.ledger.dashboard(30).unwrap();
    assert_eq!(dashboard.today.credits_micros, expected_micros(2000, 0));
    assert_eq!(dashboard.month.credits_micros, expected_micros(2000, 0));
    assert_eq!(dashboard.month.messages, 1);
    let series = &dashboard.series;
    assert_eq!(series.len(), 30);
    assert_eq!(
        series[29].date,
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    );
    assert_eq!(series[29].spend.credits_micros, expected_micros(2000, 0));
    assert_eq!(series[28].spend.credits_micros, expected_micros(1000, 0));
    assert_eq!(dashboard.month_by_model[0].key, "test-model");
    assert_eq!(dashboard.time_zone, "Asia/Shanghai");

    // A second process in UTC (a CLI run, a laptop that travelled) counts the file's own days, and leaves
    // them as they are for the desktop that has the file open.
    let mut utc = tokendesk_ledger::Ledger::open_with(
        &t.dir.path().join("ledger.sqlite3"),
        tokendesk_ledger::LedgerOptions {
            clock: t.clock.clone(),
            time_zone: chrono_tz::Tz::UTC,
        },
    )
    .unwrap();
    assert_eq!(utc.time_zone(), shanghai);
    assert_eq!(utc.dashboard(30).unwrap().today, dashboard.today);
    assert_eq!(t.ledger.dashboard(30).unwrap().today, dashboard.today);

    // An admin's explicit move rebuilds the rollup in UTC: both charges fall on November 30th.
    utc.set_time_zone(chrono_tz::Tz::UTC).unwrap();
    let moved = utc.dashboard(30).unwrap();
    assert_eq!(moved.today.credits_micros, expected_micros(3000, 0));
    assert_eq!(moved.today.messages, 2);
    assert!(utc.verify().unwrap().ok);
    assert_eq!(t.reopen().time_zone(), chrono_tz::Tz::UTC);
    // The desktop that had the file open all along follows the move: its next charge lands on the UTC
    // day, and the rollup stays the entries' own.
    assert_eq!(t.ledger.time_zone(), chrono_tz::Tz::UTC);
    t.ledger
        .record_frame(PAGE, &frame("after", 500, 0))
        .unwrap();
    let after = t.ledger.dashboard(30).unwrap();
    assert_eq!(after.today.messages, 3);
    assert_eq!(after.time_zone, "UTC");
    assert!(t.ledger.verify().unwrap().ok);
}

#[test]
fn the_dashboard_converts_the_balance_and_warns_when_low() {
    let mut t = ledger();
    let dashboard = t.ledger.dashboard(7).unwrap();
    assert_eq!(
        (
            dashboard.balance.to_string(),
            dashboard.balance_usd.to_string()
        ),
        ("10000".into(), "1".into())
    );
    assert!(!dashboard.low_balance);
    // Spend down to 900 credits, under the 1000-credit threshold.
    t.ledger
        .record_frame(PAGE, &frame("m1", 910_000, 0))
        .unwrap();
    let dashboard = t.ledger.dashboard(7).unwrap();
    assert_eq!(dashboard.balance.to_string(), "900");
    assert!(dashboard.low_balance);
    assert_eq!(dashboard.series.len(), 7);
}

#[test]
fn history_pages_and_filters_without_gaps_or_repeats() {
    let mut t = ledger();
    for n in 0..25 {
        t.clock.advance(Duration::minutes(1));
        let page = if n % 5 == 0 { DIFY_PRICE_PAGE } else { PAGE };
        t.ledger
            .record_frame(page, &frame(&format!("m{n}"), 100 + n, 10))
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut query = HistoryQuery {
        limit: 7,
        ..HistoryQuery::default()
    };
    loop {
        let page = t.ledger.history(&query).unwrap();
        assert!(page.entries.len() <= 7);
        seen.extend(page.entries.iter().map(|entry| entry.id.clone()));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen.len(), 26, "25 charges and the initial grant");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 26);

    let by_model = t
        .ledger
        .history(&HistoryQuery {
            model: Some("test-model".into()),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_model.entries.len(), 20);
    let app = t.ledger.app_for_url(DIFY_PRICE_PAGE).unwrap().unwrap();
    let by_app = t
        .ledger
        .history(&HistoryQuery {
            app_id: Some(app.id),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_app.entries.len(), 5);
    let start = t.ledger.now() - Duration::seconds(570);
    let recent = t
        .ledger
        .history(&HistoryQuery {
            from: Some(start),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(recent.entries.len(), 10);
    assert!(
        recent
            .entries
            .windows(2)
            .all(|pair| pair[0].created_at >= pair[1].created_at),
        "newest first"
    );
    assert!(
        t.ledger
            .history(&HistoryQuery {
                cursor: Some("garbage".into()),
                limit: 5,
                ..Default::default()
            })
            .is_err()
    );
}

#[test]
fn an_unreadable_time_zone_is_replaced_and_the_rollup_rebuilt() {
    let mut t = ledger();
    t.ledger.record_frame(PAGE, &frame("m1", 1000, 0)).unwrap();
    t.raw()
        .execute(
            "UPDATE meta SET value = 'Mars/Olympus' WHERE key = 'reporting_time_zone'",
            [],
        )
        .unwrap();
    let mut reopened = t.reopen();
    assert_eq!(reopened.time_zone(), chrono_tz::Tz::UTC);
    assert!(reopened.verify().unwrap().ok);
    assert_eq!(
        t.count("SELECT count(*) FROM meta WHERE key = 'reporting_time_zone' AND value = 'UTC'"),
        1
    );
}

#[test]
fn csv_export_matches_the_ledger() {
    let mut t = ledger();
    for n in 0..600 {
        t.ledger
            .record_frame(PAGE, &frame(&format!("m{n}"), 100 + n, 7))
            .unwrap();
    }
    let mut out = Vec::new();
    let written = t
        .ledger
        .export_csv(&HistoryQuery::default(), &mut out)
        .unwrap();
    assert_eq!(written, 601);
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 601);
    let total: rust_decimal::Decimal = rows
        .iter()
        .map(|row| {
            row[column("credits")]
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, t.ledger.active_account().unwrap().balance);
    for row in rows.iter().filter(|row| &row[column("kind")] == "charge") {
        let entry = t.ledger.entry(&row[column("entry_id")]).unwrap();
        let usage = entry.usage.unwrap();
        assert_eq!(
            row[column("prompt_tokens")].parse::<u64>().unwrap(),
            usage.prompt_tokens
        );
        assert_eq!(row[column("credits")], entry.amount.to_string());
        assert_eq!(&row[column("model")], "test-model");
    }
}

#[test]
fn csv_export_writes_no_formula_from_a_page_or_an_admin() {
    let mut t = ledger();
    t.ledger
        .record_frame(PAGE, &frame("=HYPERLINK(\"http://x\")", 100, 7))
        .unwrap();
    let account = t.ledger.active_account().unwrap().name;
    t.ledger
        .adjust(&account, -2_500_000, "admin", "@once -2.5 back")
        .unwrap();
    let mut out = Vec::new();
    t.ledger
        .export_csv(&HistoryQuery::default(), &mut out)
        .unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let charge = rows
        .iter()
        .find(|row| &row[column("kind")] == "charge")
        .unwrap();
    assert_eq!(&charge[column("message_id")], "'=HYPERLINK(\"http://x\")");
    let adjustment = rows
        .iter()
        .find(|row| &row[column("kind")] == "adjustment")
        .unwrap();
    assert_eq!(&adjustment[column("reason")], "'@once -2.5 back");
    // Amounts stay numbers: a negative one is not a formula.
    assert_eq!(&adjustment[column("credits")], "-2.5");
}

#[test]
fn csv_price_import_keeps_good_rows_and_reports_bad_lines() {
    let mut t = ledger();
    let file = "name,input_usd_per_1k,output_usd_per_1k,aliases\n\
                house-llm,0.0005,0.0015,house|house-v2\n\
                broken-model,cheap,0.001\n\
                test-model,0.002,0.004\n\
                ,0.001,0.001\n\
                gpt-4o,0.0025,0.01\n";
    let preview = t.ledger.preview_import(file).unwrap();
    let changes: Vec<(&str, &str)> = preview
        .rows
        .iter()
        .map(|row| (row.name.as_str(), row.change))
        .collect();
    assert_eq!(
        changes,
        [
            ("house-llm", "create"),
            ("test-model", "update"),
            ("gpt-4o", "unchanged")
        ],
        "{preview:?}"
    );
    let preview_lines: Vec<u64> = preview.errors.iter().map(|error| error.line).collect();
    assert_eq!(preview_lines, [3, 5], "{preview:?}");
    assert!(
        t.ledger.model("house-llm").is_err(),
        "a preview writes nothing"
    );
    let mut progress = Vec::new();
    let report = t
        .ledger
        .import_models(file, "admin", "quarterly price list", |step| {
            progress.push((step.done, step.total))
        })
        .unwrap();
    // Four rows parse (line 3's price does not), one batch; the nameless one on line 5 fails as it is
    // written.
    assert_eq!(progress, [(4, 4)]);
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (1, 1, 1),
        "{report:?}"
    );
    let lines: Vec<u64> = report.errors.iter().map(|error| error.line).collect();
    assert_eq!(lines, [3, 5], "{report:?}");
    assert!(report.errors[0].message.contains("cheap"));
    let house = t.ledger.model("house-v2").unwrap();
    assert_eq!(house.name, "house-llm");
    assert_eq!(
        t.ledger.model("test-model").unwrap().price(),
        price("0.002", "0.004")
    );
    assert!(
        !t.ledger.model("gpt-4o").unwrap().needs_review,
        "an identical import confirms a seeded price"
    );
    assert_eq!(
        t.ledger.model_price_history("test-model").unwrap()[0].reason,
        "quarterly price list"
    );
    assert!(
        t.ledger.model("house").is_ok() && t.ledger.model("hous").is_err(),
        "aliases are exact"
    );
}

#[test]
fn litellm_price_maps_import_per_token_prices_as_per_1k() {
    let mut t = ledger();
    let file = r#"{
    "sample_spec": {"input_cost_per_token": 0, "output_cost_per_token": 0},
    "vendor/model-a": {
        "input_cost_per_token": 3e-06,
        "output_cost_per_token": 1.5e-05,
        "litellm_provider": "vendor"
    },
    "vendor/model-b": {
        "input_cost_per_token": "oops",
        "output_cost_per_token": 1e-06
    },
    "vendor/embedder": {
        "input_cost_per_token": 1e-07,
        "mode": "embedding"
    },
    "vendor/painter": {"output_cost_per_image": 0.04, "mode": "image_generation"},
    "vendor/free-chat": {"input_cost_per_token": 0, "output_cost_per_token": 0.0}
}"#;
    let report = t
        .ledger
        .import_models(file, "admin", "LiteLLM map", |_| ())
        .unwrap();
    assert_eq!(report.created, 2, "{report:?}");
    assert_eq!(
        t.ledger.model("vendor/model-a").unwrap().price(),
        price("0.003", "0.015")
    );
    // A zero price goes in only as a model the report names free.
    assert_eq!(report.free, ["vendor/free-chat"], "{report:?}");
    assert_eq!(
        t.ledger.model("vendor/free-chat").unwrap().price(),
        price("0", "0")
    );
    let lines: Vec<u64> = report.errors.iter().map(|error| error.line).collect();
    assert_eq!(lines, [8], "{report:?}");
    // Entries that are not priced per token are skipped with their reason, not reported as errors.
    let skipped: Vec<(u64, &str)> = report
        .skipped
        .iter()
        .map(|skip| (skip.line, skip.name.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (2, "sample_spec"),
            (12, "vendor/embedder"),
            (16, "vendor/painter")
        ],
        "{report:?}"
    );
    assert!(
        report.skipped[1]
            .reason
            .contains("only input_cost_per_token")
    );
    assert!(report.skipped[2].reason.contains("output_cost_per_image"));
    assert!(t.ledger.model("vendor/painter").is_err() && t.ledger.model("sample_spec").is_err());
    let preview = t.ledger.preview_import(file).unwrap();
    let free: Vec<&str> = preview
        .rows
        .iter()
        .filter(|row| row.free)
        .map(|row| row.name.as_str())
        .collect();
    assert_eq!(free, ["vendor/free-chat"]);
    assert_eq!(preview.skipped, report.skipped);
}
