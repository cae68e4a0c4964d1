//! The admin window on the real app: what an admin changes there reaches the ledger, and the next
//! charge made through the Dify page uses it. One WebDriver session at a time: `--test-threads 1`.

use fantoccini::Locator;
use std::collections::BTreeSet;
use tokendesk_e2e::{DesktopApp, MODEL, Outcome, Setup, eventually};
use tokendesk_ledger::EntryKind;
use tokendesk_ledger::stats::HistoryQuery;

const PASSWORD: &str = "correct horse battery";

/// Starts the app with the admin password set, opens the admin window and logs in.
async fn admin_app() -> Outcome<DesktopApp> {
    let app = DesktopApp::launch(Setup {
        prepare: Box::new(|ledger, _| ledger.set_admin_password("admin", PASSWORD)),
        ..Setup::default()
    })
    .await?;
    app.login_admin(PASSWORD).await?;
    app.text_shown("admin-session").await?;
    Ok(app)
}

/// Sends one question in the Dify page and returns the micro-credits its reply was charged.
async fn charge_one_reply(app: &DesktopApp, replies_before: usize) -> Outcome<i64> {
    app.to_chat().await?;
    app.send("How much does this cost?").await?;
    app.replies_done(replies_before + 1).await?;
    let charges = app.charged(replies_before + 1).await?;
    // History is newest first.
    Ok(-charges[0].amount_micros)
}

/// Rows of a table in the current window, found by their `data-testid`.
async fn rows(app: &DesktopApp, test_id: &str) -> Outcome<usize> {
    Ok(app
        .client
        .find_all(Locator::Css(&format!("[data-testid={test_id}]")))
        .await?
        .len())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_price_change_is_kept_in_the_history_and_prices_the_next_charge() -> Outcome {
    let app = admin_app().await?;
    let history_before = app.ledger()?.model_price_history(MODEL)?.len();

    app.click(&format!("model-edit-{MODEL}")).await?;
    app.fill("model-input-price", "0.0003").await?;
    app.fill("model-output-price", "0.0012").await?;
    app.fill("model-reason", "Vendor raised prices").await?;
    app.click("model-save").await?;

    let history = eventually("the price change in the ledger", || async {
        let history = app.ledger()?.model_price_history(MODEL)?;
        Ok((history.len() > history_before).then_some(history))
    })
    .await?;
    assert_eq!(history.len(), history_before + 1);
    let change = history
        .iter()
        .max_by_key(|change| change.changed_at)
        .unwrap();
    assert_eq!(change.reason, "Vendor raised prices");
    assert_eq!(change.new.input_per_1k.to_string(), "0.0003");
    assert_eq!(change.new.output_per_1k.to_string(), "0.0012");

    // The drawer shows the same history, the new row included.
    app.click(&format!("model-history-{MODEL}")).await?;
    eventually("the history drawer's rows", || async {
        Ok((rows(&app, "price-history-row").await? == history.len()).then_some(()))
    })
    .await?;

    // 1200 × 0.0003/1K + 300 × 0.0012/1K = 0.00072 USD, at 10000 credits/USD = 7.2 credits.
    assert_eq!(charge_one_reply(&app, 0).await?, 7_200_000);
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_change_is_kept_in_the_history_and_prices_the_next_charge() -> Outcome {
    let app = admin_app().await?;
    let history_before = app.ledger()?.exchange_rate_history()?.len();
    app.admin_tab("rate").await?;
    app.fill("rate-input", "12500").await?;
    app.fill("rate-reason", "New budget year").await?;
    app.click("rate-submit").await?;

    eventually("the rate history's new row", || async {
        Ok((rows(&app, "rate-history-row").await? == history_before + 1).then_some(()))
    })
    .await?;
    let history = app.ledger()?.exchange_rate_history()?;
    let change = history
        .iter()
        .max_by_key(|change| change.changed_at)
        .unwrap();
    assert_eq!(
        (change.new_rate.to_string(), change.reason.as_str()),
        ("12500".into(), "New budget year")
    );
    assert!(
        app.text_of("[data-testid=current-rate]")
            .await?
            .contains("12,500")
    );

    // 0.00036 USD at 12500 credits/USD = 4.5 credits.
    assert_eq!(charge_one_reply(&app, 0).await?, 4_500_000);
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_top_up_raises_the_balance() -> Outcome {
    let app = admin_app().await?;
    app.admin_tab("users").await?;
    let top_up_choice = app
        .client
        .find(Locator::XPath(
            "//*[@data-testid='balance-kind']//label[.//input[@value='topup']]",
        ))
        .await?;
    app.click_element(&top_up_choice, "the top-up choice")
        .await?;
    app.fill("grant-amount", "250.5").await?;
    app.fill("grant-reason", "Quarterly top-up").await?;
    app.click("grant-submit").await?;

    let top_up = eventually("the top-up entry", || async {
        let query = HistoryQuery {
            kind: Some(EntryKind::Topup),
            ..Default::default()
        };
        Ok(app.ledger()?.history(&query)?.entries.into_iter().next())
    })
    .await?;
    assert_eq!(top_up.amount_micros, 250_500_000);
    assert_eq!(top_up.reason.as_deref(), Some("Quarterly top-up"));

    app.to_dashboard().await?;
    eventually("the dashboard balance to rise", || async {
        Ok((app.text_of("[data-testid=balance]").await? == "10250.5").then_some(()))
    })
    .await?;
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_price_file_with_one_bad_row_imports_the_good_rows_and_reports_the_bad_line() -> Outcome {
    let app = admin_app().await?;
    let file = app.data_dir.path().join("prices.csv");
    std::fs::write(
        &file,
        "name,input_usd_per_1k,output_usd_per_1k\n\
         e2e-new-model,0.001,0.002\n\
         e2e-broken-model,not-a-price,0.002\n\
         gpt-4o-mini,0.0002,0.0008\n",
    )?;
    app.click("model-import").await?;
    let chooser = eventually("the file chooser", || async {
        Ok(app
            .client
            .find(Locator::Css("[data-testid=import-file]"))
            .await
            .ok())
    })
    .await?;
    chooser.send_keys(&file.display().to_string()).await?;
    app.text_shown("import-summary").await?;
    app.fill("import-reason", "Price list of the month").await?;
    app.click("import-submit").await?;
    app.text_shown("import-report").await?;

    let bad_lines: Vec<String> = {
        let mut lines = Vec::new();
        for error in app
            .client
            .find_all(Locator::Css(
                "[data-testid=import-report] [data-testid=import-error]",
            ))
            .await?
        {
            lines.push(error.attr("data-line").await?.unwrap_or_default());
        }
        lines
    };
    assert_eq!(bad_lines, ["3"], "the bad row is reported with its line");

    let ledger = app.ledger()?;
    let new_model = ledger.model("e2e-new-model")?;
    assert_eq!(new_model.price().input_per_1k.to_string(), "0.001");
    assert!(ledger.model("e2e-broken-model").is_err());
    let updated = ledger.model(MODEL)?.price();
    assert_eq!(
        (
            updated.input_per_1k.to_string(),
            updated.output_per_1k.to_string()
        ),
        ("0.0002".into(), "0.0008".into())
    );
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_csv_export_matches_the_ledger() -> Outcome {
    let app = DesktopApp::launch(Setup {
        prepare: Box::new(|ledger, _| {
            let staff = ledger.active_account()?.name;
            ledger
                .grant(&staff, 12_500_000, "admin", "Welcome")
                .map(drop)
        }),
        ..Setup::default()
    })
    .await?;
    app.to_chat().await?;
    app.send("one").await?;
    app.replies_done(1).await?;
    app.send("two").await?;
    app.replies_done(2).await?;
    app.charged(2).await?;
    // Dify named the new conversation after its first reply: a side call, charged as an estimate.
    eventually("the auto-naming's charge", || async {
        Ok((app.side_call_charges()?.len() == 1).then_some(()))
    })
    .await?;

    app.to_dashboard().await?;
    app.click("export-csv").await?;
    let said = app.text_shown("export-result").await?;
    let exported = std::fs::read_dir(app.downloads())?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "csv"))
        .ok_or("no CSV in the Downloads folder")?;
    assert!(said.contains(&exported.display().to_string()), "{said}");

    let mut reader = csv::Reader::from_path(&exported)?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, kind, credits) = (column("entry_id"), column("kind"), column("credits"));
    let side_call = column("side_call");
    let mut csv_rows = Vec::new();
    let mut side_calls = Vec::new();
    for record in reader.records() {
        let record = record?;
        csv_rows.push((
            record[id].to_string(),
            record[kind].to_string(),
            record[credits].to_string(),
        ));
        side_calls.push(record[side_call].to_string());
    }
    let ledger_rows: Vec<_> = app
        .ledger()?
        .history(&HistoryQuery {
            limit: 500,
            ..Default::default()
        })?
        .entries
        .into_iter()
        .map(|entry| {
            (
                entry.id.clone(),
                entry.kind.as_str().to_string(),
                entry.amount.to_string(),
            )
        })
        .collect();
    // The seed grant, the welcome grant, two replies and the conversation's auto-naming.
    assert_eq!(ledger_rows.len(), 5, "{ledger_rows:?}");
    assert_eq!(csv_rows, ledger_rows);
    assert_eq!(
        side_calls
            .iter()
            .filter(|kind| *kind == "conversation_name")
            .count(),
        1,
        "{side_calls:?}"
    );
    let kinds: BTreeSet<_> = csv_rows.iter().map(|row| row.1.as_str()).collect();
    assert!(
        kinds.contains("charge") && kinds.contains("grant"),
        "{kinds:?}"
    );
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_window_refuses_a_wrong_password() -> Outcome {
    let app = DesktopApp::launch(Setup {
        prepare: Box::new(|ledger, _| ledger.set_admin_password("admin", PASSWORD)),
        ..Setup::default()
    })
    .await?;
    app.login_admin("not the password").await?;
    let error = app.text_shown("admin-error").await?;
    assert!(!error.is_empty());
    assert!(
        app.client
            .find(Locator::Css("[data-testid=admin-session]"))
            .await
            .is_err(),
        "no admin session"
    );
    let status = app
        .invoke_from_page("admin_status", serde_json::json!({}))
        .await?;
    assert_eq!(
        status["ok"]["session_expires_at"],
        serde_json::Value::Null,
        "{status}"
    );

    // The right one still works after a wrong one.
    app.fill("admin-password", PASSWORD).await?;
    app.click("admin-submit").await?;
    app.text_shown("admin-session").await?;
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_added_and_then_edited_in_the_admin_window_is_stored_as_entered() -> Outcome {
    let app = admin_app().await?;
    app.admin_tab("apps").await?;
    let share_url = app.sim.share_url(dify_sim::AppKind::Chatbot, "sales");
    app.fill("app-name", "Sales").await?;
    app.fill("app-url", &share_url).await?;
    app.click("app-submit").await?;
    let added = eventually("the new app in the ledger", || async {
        Ok(app.ledger()?.app_for_url(&share_url)?)
    })
    .await?;
    assert_eq!(
        (added.name.as_str(), added.pricing.as_str(), added.enabled),
        ("Sales", "dify_price", true)
    );

    // Renamed and bound to a model, through the edit form of its row.
    app.click(&format!("app-edit-{}", added.id)).await?;
    app.fill("app-edit-name", "Sales desk").await?;
    // As a keyboard user picks it: type into the select's search, Enter takes the match.
    let search = app
        .client
        .find(Locator::Css("[data-testid=app-edit-model] input"))
        .await?;
    search.send_keys(&format!("{MODEL}\u{E007}")).await?;
    app.click("app-edit-save").await?;
    let edited = eventually("the edited app in the ledger", || async {
        let stored = app.ledger()?.app(added.id)?;
        Ok((stored.name == "Sales desk").then_some(stored))
    })
    .await?;
    assert_eq!(
        (edited.model.as_deref(), edited.share_url.as_str()),
        (Some(MODEL), share_url.as_str())
    );
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_added_at_runtime_on_a_new_origin_is_metered_at_once() -> Outcome {
    let other =
        dify_sim::DifySim::start(([127, 0, 0, 1], 0).into(), tokendesk_e2e::quick_sim()).await?;
    let app = admin_app().await?;
    app.admin_tab("apps").await?;
    let share_url = other.share_url(dify_sim::AppKind::Chat, "sales");
    app.fill("app-name", "Sales").await?;
    app.fill("app-url", &share_url).await?;
    app.click("app-submit").await?;
    eventually("the new app in the ledger", || async {
        Ok(app.ledger()?.app_for_url(&share_url)?)
    })
    .await?;

    // No restart: the chat window goes to the new origin, whose relay may report at once.
    app.to_chat().await?;
    app.client.goto(&share_url).await?;
    app.switch_to(&other.base_url(), "textarea#query").await?;
    app.send("Is the new app metered?").await?;
    app.replies_done(1).await?;
    let charges = app.charged(1).await?;
    assert_eq!(charges.len(), 1);
    assert_eq!(
        charges[0]
            .usage
            .as_ref()
            .map(|usage| usage.app_name.as_str()),
        Some("Sales")
    );
    assert_eq!(other.request_count("chat-messages"), 1);
    app.finish().await?;
    other.shutdown().await;
    Ok(())
}
