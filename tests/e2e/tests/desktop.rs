//! The real app, end to end: Dify page → relay → Rust → ledger → dashboard.
//! One WebDriver session at a time: run with `--test-threads 1`.

use dify_sim::{AppKind, SimConfig};
use serde_json::json;
use tokendesk_e2e::{DesktopApp, Outcome, Setup, eventually, quick_sim};
use tokendesk_ledger::apps::AppBinding;
use tokendesk_ledger::guards::{SideCall, SideCallPricing};
use tokendesk_ledger::money::{MICROS_PER_CREDIT, Price, micros_to_credits, parse_price};

/// 1200 prompt + 300 completion tokens on gpt-4o-mini (0.00015 / 0.0006 USD per 1K) at 10000 credits/USD.
const REPLY_MICROS: i64 = 3_600_000;

/// A script for the chat page: sends `query` as Dify's own client does, and once the answer's headers are
/// in (`response`), runs `then`, which calls back with `done(…)`.
fn send_from_page(query: &str, then: &str) -> String {
    let body = json!({"inputs": {}, "query": query, "conversation_id": "", "response_mode": "streaming", "files": []});
    format!(
        r#"
        const done = arguments[arguments.length - 1];
        (async () => {{
            const response = await fetch('/api/chat-messages', {{
                method: 'POST',
                headers: {{ 'Content-Type': 'application/json' }},
                body: JSON.stringify({body}),
            }});
            {then}
        }})().catch((error) => done(String(error)));
        "#
    )
}

fn with_sim(sim: SimConfig) -> Setup {
    Setup {
        sim,
        ..Setup::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_is_charged_once_and_the_dashboard_follows() -> Outcome {
    let app = DesktopApp::launch(Setup::default()).await?;
    app.to_dashboard().await?;
    let before = app.text_of("[data-testid=balance]").await?;
    assert_eq!(before, "10000");

    app.to_chat().await?;
    app.send("What is our travel policy?").await?;
    app.replies_done(1).await?;
    let charges = app.charged(1).await?;
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount_micros, -REPLY_MICROS);
    let usage = charges[0].usage.as_ref().unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.estimated
        ),
        (1200, 300, false)
    );
    assert_eq!(usage.app_name, "E2E");
    // Dify named the new conversation beside the reply: a side call, charged as an estimate of its own.
    let naming = eventually("the auto-naming's charge", || async {
        Ok(app.side_call_charges()?.pop())
    })
    .await?;
    let naming_usage = naming.usage.as_ref().unwrap();
    assert_eq!(
        (naming_usage.side_call, naming_usage.estimated),
        (Some(SideCall::ConversationName), true)
    );
    assert!(naming.amount_micros < 0);
    let balance =
        micros_to_credits(10_000_000_000 - REPLY_MICROS + naming.amount_micros).to_string();
    app.to_dashboard().await?;
    eventually(
        "the dashboard balance to drop by the reply and its side call",
        || async { Ok((app.text_of("[data-testid=balance]").await? == balance).then_some(())) },
    )
    .await?;
    // The monitor saw the relay in the Dify page report in, and the send it let through.
    let chat = app
        .client
        .find(fantoccini::Locator::Css("[data-testid=monitor-chat]"))
        .await?;
    assert_eq!(chat.attr("data-state").await?.as_deref(), Some("connected"));
    assert!(
        app.text_of("[data-testid=monitor-last-send]")
            .await?
            .contains("allowed")
    );
    assert_eq!(app.charges()?.len(), 1, "exactly one charge");
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_message_end_is_still_one_charge() -> Outcome {
    let app = DesktopApp::launch(with_sim(SimConfig {
        duplicate_message_end: true,
        ..quick_sim()
    }))
    .await?;
    app.to_chat().await?;
    app.send("Say it twice").await?;
    app.replies_done(1).await?;
    app.charged(1).await?;
    // The replayed frame follows the first within the same stream; give it time to reach Rust.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(app.charges()?.len(), 1);
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replies_sent_back_to_back_are_two_charges() -> Outcome {
    let app = DesktopApp::launch(Setup::default()).await?;
    app.to_chat().await?;
    // The second send does not wait for the first reply: both streams run at once.
    app.send("first").await?;
    app.send("second").await?;
    app.replies_done(2).await?;
    let charges = app.charged(2).await?;
    assert_eq!(charges.len(), 2);
    let messages: std::collections::BTreeSet<_> = charges
        .iter()
        .map(|charge| charge.usage.as_ref().map(|usage| usage.message_id.clone()))
        .collect();
    assert_eq!(messages.len(), 2, "one charge per message: {messages:?}");
    assert!(
        charges
            .iter()
            .all(|charge| charge.amount_micros == -REPLY_MICROS)
    );
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_is_billed_to_the_app_it_was_sent_from_though_the_page_moved_on() -> Outcome {
    let app = DesktopApp::launch(Setup {
        // Frames a little apart, so the page moves while the reply still streams.
        sim: SimConfig {
            frame_delay_ms: 40,
            ..quick_sim()
        },
        prepare: Box::new(|ledger, sim| {
            let price = Price {
                input_per_1k: parse_price("0.000001")?,
                output_per_1k: parse_price("0.000001")?,
            };
            ledger.set_model("cheap-model", price, "admin", "a cheaper app")?;
            let cheap = sim.share_url(AppKind::Chat, "cheap");
            ledger.add_app(
                "Cheap",
                &cheap,
                &AppBinding::Model("cheap-model".into()),
                false,
            )?;
            Ok(())
        }),
        ..Setup::default()
    })
    .await?;
    app.to_chat().await?;
    // The page sends, then moves itself to the cheaper app's path before the reply ends.
    let script = send_from_page(
        "moving on",
        "history.pushState({}, '', '/chat/cheap'); await response.text(); done(location.pathname);",
    );
    let moved_to = app.client.execute_async(&script, vec![]).await?;
    assert_eq!(moved_to, json!("/chat/cheap"));
    let charges = app.charged(1).await?;
    let usage = charges[0].usage.as_ref().expect("a charge's usage");
    assert_eq!(
        usage.app_name, "E2E",
        "billed to the app the send was let through from"
    );
    assert_eq!(charges[0].amount_micros, -REPLY_MICROS);
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_whose_page_went_away_mid_reply_still_leaves_a_charge() -> Outcome {
    let app = DesktopApp::launch(Setup {
        env: vec![("TOKENDESK_UNREPORTED_AFTER_SECONDS", "2".into())],
        // Frames a little apart, so the page is gone while the reply still streams.
        sim: SimConfig {
            frame_delay_ms: 40,
            ..quick_sim()
        },
        ..Setup::default()
    })
    .await?;
    app.to_chat().await?;
    // The send passes the gate and its reply begins; then the page is reloaded before the reply ends, its
    // relay with it. Whatever the old page could not hand over, the new page's relay binds from the
    // page's storage (as it does after a window closed mid-reply: see the relay's tests).
    let script = send_from_page(
        "Tell me everything about our travel policy.",
        "await response.clone().body.getReader().read(); done('sent'); location.reload();",
    );
    assert_eq!(
        app.client.execute_async(&script, vec![]).await?,
        json!("sent")
    );
    let charges = app.charged(1).await?;
    let usage = charges[0].usage.as_ref().expect("a charge's usage");
    // Charged as an estimate: from what the old page streamed, if it could still report as it went, else
    // from the send's query once no report named it.
    assert!(usage.estimated, "charged as an estimate: {usage:?}");
    assert!(usage.prompt_tokens > 0, "{usage:?}");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(app.charges()?.len(), 1, "one charge for the one send");
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn below_the_minimum_the_send_is_blocked_before_dify() -> Outcome {
    let app = DesktopApp::launch(Setup::default()).await?;
    // An admin raises the minimum above the balance while the app runs.
    let mut ledger = app.ledger()?;
    let mut policy = ledger.policy()?;
    policy.min_balance_micros = 20_000 * MICROS_PER_CREDIT;
    ledger.set_policy(&policy, "admin")?;
    app.to_chat().await?;
    app.send_is_refused("Will this go through?").await?;
    assert!(app.charges()?.is_empty());
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dify_page_cannot_call_admin_commands_and_other_origins_cannot_report() -> Outcome {
    let other = dify_sim::DifySim::start(([127, 0, 0, 1], 0).into(), quick_sim()).await?;
    let other_url = other.share_url(dify_sim::AppKind::Chat, "elsewhere");
    let allowed = other_url.clone();
    let setup = Setup {
        prepare: Box::new(move |ledger, _| ledger.add_navigation_host(&allowed, "admin").map(drop)),
        ..Setup::default()
    };
    let app = DesktopApp::launch(setup).await?;
    app.to_chat().await?;
    let refused = app
        .invoke_from_page("admin_set_rate", json!({"rate": "1", "reason": "page"}))
        .await?;
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not allowed"),
        "{refused}"
    );
    let allowed = app
        .invoke_from_page("check_send", json!({"endpoint": "chat-messages"}))
        .await?;
    assert_eq!(allowed["ok"]["allowed"], json!(true), "{allowed}");

    // An extra host (e.g. an SSO page) may be shown, but gets no IPC.
    app.client.goto(&other_url).await?;
    app.switch_to(&other.base_url(), "textarea#query").await?;
    let frame = json!({"event": "message_end", "message_id": "forged", "metadata": {"usage": {"prompt_tokens": 1, "completion_tokens": 1}}});
    let refused = app
        .invoke_from_page("report_usage", json!({"frame": frame.to_string()}))
        .await?;
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not allowed"),
        "{refused}"
    );
    assert!(app.charges()?.is_empty());
    app.finish().await?;
    other.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_whose_stream_carried_no_usage_are_charged_at_difys_own_record() -> Outcome {
    let app = DesktopApp::launch(with_sim(SimConfig {
        omit_usage: true,
        ..quick_sim()
    }))
    .await?;
    app.to_chat().await?;
    app.send("A message_end without usage").await?;
    app.replies_done(1).await?;
    app.charged(1).await?;
    app.sim.set_config(SimConfig {
        omit_message_end: true,
        ..quick_sim()
    });
    app.send("A reply stopped before its message_end").await?;
    app.replies_done(2).await?;
    let charges = app.charged(2).await?;
    for charge in &charges {
        let usage = charge.usage.as_ref().unwrap();
        assert_eq!(
            (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.estimated
            ),
            (1200, 300, false),
            "the record's usage, not an estimate: {usage:?}"
        );
        assert_eq!(charge.amount_micros, -REPLY_MICROS);
    }
    assert!(app.sim.request_count("messages") >= 2);
    assert_eq!(app.charges()?.len(), 2);
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn under_a_strict_csp_the_relay_still_meters_and_shows_its_badge() -> Outcome {
    let app = DesktopApp::launch(Setup {
        // Free side calls: the badge's figures are the reply's alone.
        prepare: Box::new(|ledger, _| {
            let mut policy = ledger.policy()?;
            policy.side_calls = SideCallPricing::Free;
            ledger.set_policy(&policy, "admin").map(drop)
        }),
        ..with_sim(SimConfig {
            strict_csp: true,
            ..quick_sim()
        })
    })
    .await?;
    app.to_chat().await?;
    app.send("Metered under a strict CSP?").await?;
    app.replies_done(1).await?;
    let charges = app.charged(1).await?;
    assert_eq!(charges[0].amount_micros, -REPLY_MICROS);
    // The badge lives in a shadow root styled by an adopted sheet, which the page's CSP does not reach.
    eventually("the badge to show the balance after the charge", || async {
        let shown = app
            .client
            .execute(
                "const host = document.getElementById('tokendesk-badge');
                 return host && [host.getAttribute('data-balance'), host.shadowRoot.textContent,
                                 getComputedStyle(host.shadowRoot.firstElementChild).position];",
                vec![],
            )
            .await?;
        Ok((shown
            == json!([
                "9996.4",
                "9,996.4 credits · Monitoring · last reply 3.6 · this chat 3.6",
                "fixed"
            ]))
        .then_some(()))
    })
    .await?;
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_users_click_on_a_web_link_opens_it_in_the_system_and_never_a_file() -> Outcome {
    // The system's opener, as the app finds it on the PATH: it writes down what it was asked to open.
    let opener = tempfile::tempdir()?;
    let opened = opener.path().join("opened");
    let script = opener.path().join("xdg-open");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", opened.display()),
    )?;
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let path = format!(
        "{}:{}",
        opener.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let app = DesktopApp::launch(Setup {
        env: vec![("PATH", path)],
        ..Setup::default()
    })
    .await?;
    app.to_chat().await?;
    app.client
        .execute(
            "const links = [['web', 'https://docs.example.com/guide'], ['file', 'file:///etc/hostname'],
                            ['scripted', 'https://docs.example.com/scripted']];
             links.forEach(([id, href], row) => {
               const link = document.createElement('a');
               link.id = id; link.href = href; link.textContent = id;
               link.style.cssText = `position:fixed;top:${10 + 50 * row}px;left:10px;padding:10px;z-index:2147483646;background:#fff`;
               document.body.appendChild(link);
             });
             // A page script's own click is no user's: nothing may open.
             document.getElementById('scripted').click();",
            vec![],
        )
        .await?;
    // A user's click on a file link: the window refuses it, and nothing opens either.
    let file = app.client.find(fantoccini::Locator::Css("#file")).await?;
    app.click_element(&file, "#file").await?;
    // Back to the page (a refused navigation leaves it), then a user's click on the web link.
    app.to_chat().await?;
    let web = app.client.find(fantoccini::Locator::Css("#web")).await?;
    app.click_element(&web, "#web").await?;
    // Read once a whole line is there: the opener's shell creates the file before it writes to it.
    let log = eventually("the web link to be opened in the system", || async {
        Ok(std::fs::read_to_string(&opened)
            .ok()
            .filter(|log| log.ends_with('\n')))
    })
    .await?;
    // Only the user's click on the web link opened anything: the script's click (which came first) and the
    // file link did not.
    assert_eq!(log, "https://docs.example.com/guide\n");
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_integration_off_the_chat_window_is_a_friendly_page_and_nothing_is_charged()
-> Outcome {
    let setup = Setup {
        prepare: Box::new(|ledger, _| {
            let mut policy = ledger.policy()?;
            policy.integration_enabled = false;
            ledger.set_policy(&policy, "admin").map(drop)
        }),
        ..Setup::default()
    };
    let app = DesktopApp::launch(setup).await?;
    app.switch_to("tauri://localhost", "[data-testid=integration-off]")
        .await?;
    let text = app.text_of("[data-testid=integration-off]").await?;
    assert!(!text.is_empty());
    assert_eq!(app.sim.request_count("chat-messages"), 0);
    assert!(app.charges()?.is_empty());
    app.finish().await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_windows_speak_the_os_language() -> Outcome {
    for (lang, html_lang, export_label) in [
        ("zh_CN.UTF-8", "zh-CN", "导出 CSV"),
        ("en_US.UTF-8", "en", "Export CSV"),
    ] {
        let app = DesktopApp::launch(Setup {
            lang: Some(lang.into()),
            ..Setup::default()
        })
        .await?;
        app.to_dashboard().await?;
        let shown = app
            .client
            .execute("return document.documentElement.lang", vec![])
            .await?;
        assert_eq!(shown, json!(html_lang), "{lang}");
        assert_eq!(app.text_shown("export-csv").await?, export_label, "{lang}");
        app.finish().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_language_picked_by_hand_reaches_windows_opened_later_and_is_kept() -> Outcome {
    let app = DesktopApp::launch(Setup {
        lang: Some("en_US.UTF-8".into()),
        ..Setup::default()
    })
    .await?;
    app.to_dashboard().await?;
    assert_eq!(app.text_shown("export-csv").await?, "Export CSV");
    let chinese = app
        .client
        .find(fantoccini::Locator::XPath(
            "//*[@data-testid='language-switch']//*[text()='中文']",
        ))
        .await?;
    app.click_element(&chinese, "the 中文 switch").await?;
    eventually("the dashboard in Chinese", || async {
        Ok((app.text_of("[data-testid=export-csv]").await? == "导出 CSV").then_some(()))
    })
    .await?;

    // A window opened now starts in Chinese too, although the OS speaks English.
    app.open_window("admin").await?;
    app.switch_to("tauri://localhost", "[data-testid=admin-password]")
        .await?;
    eventually("the admin window in Chinese", || async {
        let html_lang = app
            .client
            .execute("return document.documentElement.lang", vec![])
            .await?;
        Ok((html_lang == json!("zh-CN")).then_some(()))
    })
    .await?;
    let kept = std::fs::read_to_string(app.data_dir.path().join("language.json"))?;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&kept)?,
        json!({"language": "zh"})
    );
    app.finish().await
}
