//! The IPC ACL, checked with Tauri's mock runtime: the Dify origin may call the relay's commands and
//! nothing else, other origins may call nothing, and TokenDesk's own windows may call admin commands.
//! Also what the shell itself does after admin commands, such as rebuilding the app menu.

use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::apps::AppBinding;
use tokendesk_ledger::sync::Mode;

use crate::commands::{admin, staff};
use crate::language::{Language, LanguageChoice};
use crate::managed::ManagedInstall;
use crate::state::Shell;
use crate::{relay, windows, with_commands};

const DIFY: &str = "http://127.0.0.1:8765";
const SHARE_URL: &str = "http://127.0.0.1:8765/chat/acl";

struct Fixture {
    app: App<MockRuntime>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    managed_fixture(ManagedInstall::default())
}

/// The fixture on a computer whose administrator decided `managed`.
fn managed_fixture(managed: ManagedInstall) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open_dir(dir.path()).unwrap();
    ledger
        .add_app(
            "ACL",
            SHARE_URL,
            &AppBinding::Model("gpt-4o-mini".into()),
            false,
        )
        .unwrap();
    // English whatever the machine speaks: the tests read the menus' texts.
    LanguageChoice::in_dir(dir.path())
        .save(Language::En)
        .unwrap();
    let app = with_commands(mock_builder())
        .manage(Shell::new(ledger, dir.path().to_owned(), false, None, managed).unwrap())
        .build(tauri::generate_context!())
        .unwrap();
    relay::allow_origins(app.handle(), "dify", &[DIFY.to_owned()]).unwrap();
    Fixture { app, _dir: dir }
}

fn window(app: &App<MockRuntime>, label: &str, url: WebviewUrl) -> WebviewWindow<MockRuntime> {
    WebviewWindowBuilder::new(app, label, url).build().unwrap()
}

fn invoke(
    window: &WebviewWindow<MockRuntime>,
    from: &str,
    cmd: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, String> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: from.parse().unwrap(),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<serde_json::Value>().unwrap())
    .map_err(|error| error.to_string())
}

/// An admin's policy under which the gate refuses every send.
fn raise_the_minimum_above_the_balance(shell: &Shell) {
    shell
        .ledger(|ledger| {
            let mut policy = ledger.policy()?;
            policy.min_balance_micros = 1_000_000 * tokendesk_ledger::money::MICROS_PER_CREDIT;
            ledger.set_policy(&policy, "admin").map(drop)
        })
        .unwrap();
}

fn frame(message_id: &str) -> serde_json::Value {
    let frame = serde_json::json!({"event": "message_end", "message_id": message_id, "conversation_id": "c",
        "metadata": {"usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}});
    serde_json::json!({"frame": frame.to_string()})
}

#[test]
fn the_dify_origin_may_call_the_relay_and_nothing_else() {
    let fixture = fixture();
    let chat = window(
        &fixture.app,
        windows::CHAT,
        WebviewUrl::External(SHARE_URL.parse().unwrap()),
    );
    let charged = invoke(&chat, SHARE_URL, "report_usage", frame("m1")).unwrap();
    assert_eq!(charged["outcome"], "charged");
    invoke(
        &chat,
        SHARE_URL,
        "report_link_click",
        serde_json::json!({"href": "https://docs.example.com/guide"}),
    )
    .unwrap();
    assert_eq!(
        invoke(
            &chat,
            SHARE_URL,
            "check_send",
            serde_json::json!({"endpoint": "chat-messages"})
        )
        .unwrap()["allowed"],
        true
    );
    assert!(
        invoke(&chat, SHARE_URL, "relay_status", serde_json::json!({})).unwrap()["balance"]
            .is_string(),
        "credits as an exact decimal string"
    );
    for (cmd, body) in [
        (
            "admin_set_rate",
            serde_json::json!({"rate": "1", "reason": "x"}),
        ),
        (
            "admin_adjust_balance",
            serde_json::json!({"user": "staff", "kind": "grant", "amount": "1000", "reason": "x"}),
        ),
        ("dashboard", serde_json::json!({})),
        ("admin_login", serde_json::json!({"password": "x"})),
        ("org_admin", serde_json::json!({"request": {"op": "users"}})),
        ("org_admin_status", serde_json::json!({})),
        (
            "redeem_code",
            serde_json::json!({"code": "ABCD-EFGH-JKLM-NOPQ"}),
        ),
        (
            "org_admin_create_codes",
            serde_json::json!({"count": 1, "amount": "10", "reason": "x", "validDays": null}),
        ),
    ] {
        let refused = invoke(&chat, SHARE_URL, cmd, body).unwrap_err();
        assert!(refused.contains("not allowed"), "{cmd}: {refused}");
    }
}

#[test]
fn an_unconfigured_origin_may_call_nothing() {
    let fixture = fixture();
    let other = "http://127.0.0.1:9999/chat/acl";
    let chat = window(
        &fixture.app,
        windows::CHAT,
        WebviewUrl::External(other.parse().unwrap()),
    );
    for cmd in [
        "report_usage",
        "check_send",
        "relay_status",
        "report_link_click",
        "dashboard",
        "admin_set_rate",
    ] {
        let refused = invoke(&chat, other, cmd, frame("m1")).unwrap_err();
        assert!(refused.contains("not allowed"), "{cmd}: {refused}");
    }
    // Nor may the Dify origin from a window other than the chat window.
    let stray = window(
        &fixture.app,
        "stray",
        WebviewUrl::External(SHARE_URL.parse().unwrap()),
    );
    assert!(
        invoke(&stray, SHARE_URL, "report_usage", frame("m2"))
            .unwrap_err()
            .contains("not allowed")
    );
    let ledger_charges = fixture
        .app
        .state::<Shell>()
        .ledger(|ledger| ledger.history(&Default::default()))
        .unwrap();
    assert!(
        ledger_charges
            .entries
            .iter()
            .all(|entry| entry.usage.is_none()),
        "nothing was charged"
    );
}

#[test]
fn local_windows_may_call_admin_commands_with_a_session() {
    let fixture = fixture();
    let admin = window(
        &fixture.app,
        windows::ADMIN,
        WebviewUrl::App("index.html".into()),
    );
    let local = "tauri://localhost";
    let refused = invoke(
        &admin,
        local,
        "admin_set_rate",
        serde_json::json!({"rate": "12000", "reason": "x"}),
    )
    .unwrap_err();
    assert!(refused.contains("admin_session_required"), "{refused}");
    invoke(
        &admin,
        local,
        "admin_set_password",
        serde_json::json!({"password": "long enough secret"}),
    )
    .unwrap();
    let change = invoke(
        &admin,
        local,
        "admin_set_rate",
        serde_json::json!({"rate": "12000", "reason": "new quarter"}),
    )
    .unwrap();
    assert_eq!(change["new_rate"], "12000");
    invoke(&admin, local, "admin_logout", serde_json::json!({})).unwrap();
    let wrong = invoke(
        &admin,
        local,
        "admin_login",
        serde_json::json!({"password": "wrong"}),
    )
    .unwrap_err();
    assert!(wrong.contains("wrong_password"), "{wrong}");
    let dashboard = window(
        &fixture.app,
        windows::DASHBOARD,
        WebviewUrl::App("index.html".into()),
    );
    assert!(
        invoke(&dashboard, local, "dashboard", serde_json::json!({})).unwrap()["balance"]
            .is_string()
    );
    // An island has no org console: its admin window is the local one.
    let no_org = invoke(&admin, local, "org_admin_status", serde_json::json!({})).unwrap_err();
    assert!(no_org.contains("not enrolled"), "{no_org}");
    // Nor does it have an org to redeem codes with.
    let no_redeem = invoke(
        &dashboard,
        local,
        "redeem_code",
        serde_json::json!({"code": "ABCD-EFGH-JKLM-NOPQ"}),
    )
    .unwrap_err();
    assert!(no_redeem.contains("not enrolled"), "{no_redeem}");
    // The relay's commands are not the local windows' business.
    assert!(
        invoke(&dashboard, local, "report_usage", frame("m3"))
            .unwrap_err()
            .contains("not allowed")
    );
}

/// The id and text of every item in the app menu's submenus.
fn menu_items(app: &App<MockRuntime>) -> Vec<(String, String)> {
    let mut items = Vec::new();
    for item in app.menu().expect("an app menu").items().unwrap() {
        if let Some(submenu) = item.as_submenu() {
            for inner in submenu.items().unwrap() {
                let text = inner
                    .as_menuitem()
                    .map(|item| item.text().unwrap())
                    .unwrap_or_default();
                items.push((inner.id().as_ref().to_owned(), text));
            }
        }
    }
    items
}

fn menu_ids(app: &App<MockRuntime>) -> Vec<String> {
    menu_items(app).into_iter().map(|(id, _)| id).collect()
}

#[test]
fn the_app_menu_follows_the_apps_an_admin_changes_and_shows_the_balance() {
    // No window and no tray: the mock runtime can set the app menu, but not put it on a window or
    // start a tray (both need a real GTK). So the commands are called directly, not through IPC.
    let fixture = fixture();
    let app = fixture.app.handle();
    windows::refresh_menus(app).unwrap();
    let shell = fixture.app.state::<Shell>();
    let first = shell.ledger(|ledger| ledger.apps()).unwrap()[0].id;
    assert!(menu_ids(&fixture.app).contains(&format!("app:{first}")));
    assert!(
        menu_items(&fixture.app).contains(&("balance".into(), "Balance: 10000 credits".into())),
        "{:?}",
        menu_items(&fixture.app)
    );

    shell
        .ledger(|ledger| ledger.set_admin_password(crate::state::ADMIN, "long enough secret"))
        .unwrap();
    shell.open_admin_session().unwrap();
    let added = tauri::async_runtime::block_on(admin::admin_add_app(
        app.clone(),
        fixture.app.state(),
        "HR".into(),
        "http://127.0.0.1:8765/chat/hr".into(),
        None,
    ))
    .unwrap();
    let added = format!("app:{}", added.id);
    assert!(menu_ids(&fixture.app).contains(&added), "{added}");

    tauri::async_runtime::block_on(admin::admin_set_app_enabled(
        app.clone(),
        fixture.app.state(),
        first,
        false,
    ))
    .unwrap();
    let ids = menu_ids(&fixture.app);
    assert!(!ids.contains(&format!("app:{first}")), "{ids:?}");
    assert!(ids.contains(&added), "{ids:?}");

    // The balance line follows each change of the balance.
    let staff = shell.ledger(|ledger| ledger.active_account()).unwrap().name;
    shell
        .ledger(|ledger| ledger.grant(&staff, 2_500_000, "admin", "test").map(drop))
        .unwrap();
    crate::commands::balance_changed(app, &shell).unwrap();
    assert!(
        menu_items(&fixture.app).contains(&("balance".into(), "Balance: 10002.5 credits".into())),
        "{:?}",
        menu_items(&fixture.app)
    );
}

#[test]
fn the_monitor_shows_the_relay_reporting_in_and_the_last_send_check() {
    let fixture = fixture();
    let local = "tauri://localhost";
    let dashboard = window(
        &fixture.app,
        windows::DASHBOARD,
        WebviewUrl::App("index.html".into()),
    );
    let monitor = || invoke(&dashboard, local, "monitor_status", serde_json::json!({})).unwrap();
    assert_eq!(monitor()["relay_seen_at"], serde_json::Value::Null);
    assert_eq!(monitor()["last_send"], serde_json::Value::Null);

    let chat = window(
        &fixture.app,
        windows::CHAT,
        WebviewUrl::External(SHARE_URL.parse().unwrap()),
    );
    let status = invoke(&chat, SHARE_URL, "relay_status", serde_json::json!({})).unwrap();
    assert_eq!(status["monitor"], "monitoring");
    assert!(monitor()["relay_seen_at"].is_string(), "{}", monitor());
    assert_eq!(monitor()["relay_metered"], true);

    let send = |endpoint: &str| {
        invoke(
            &chat,
            SHARE_URL,
            "check_send",
            serde_json::json!({ "endpoint": endpoint }),
        )
        .unwrap()
    };
    // The monitor hears of a send check just after the page has its answer.
    let last_send = |endpoint: &str| {
        for _ in 0..3000 {
            let last = monitor()["last_send"].clone();
            if last["endpoint"] == endpoint {
                return last;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no send check of {endpoint} in {}", monitor());
    };
    assert_eq!(send("chat-messages")["allowed"], true);
    let last = last_send("chat-messages");
    assert_eq!(
        (&last["endpoint"], &last["allowed"], &last["code"]),
        (
            &serde_json::json!("chat-messages"),
            &serde_json::json!(true),
            &serde_json::Value::Null
        )
    );

    let shell = fixture.app.state::<Shell>();
    raise_the_minimum_above_the_balance(&shell);
    assert_eq!(send("workflows/run")["allowed"], false);
    let last = last_send("workflows/run");
    assert_eq!(
        (&last["endpoint"], &last["allowed"], &last["code"]),
        (
            &serde_json::json!("workflows/run"),
            &serde_json::json!(false),
            &serde_json::json!("insufficient_credits")
        )
    );

    let id = shell.ledger(|ledger| ledger.apps()).unwrap()[0].id;
    shell
        .ledger(|ledger| ledger.set_app_enabled(id, false).map(drop))
        .unwrap();
    let status = invoke(&chat, SHARE_URL, "relay_status", serde_json::json!({})).unwrap();
    assert_eq!(status["monitor"], "not_metered");
    assert_eq!(monitor()["relay_metered"], false);
}

#[test]
fn an_origin_no_app_is_on_any_more_gets_no_answer_from_the_relays_commands() {
    let fixture = fixture();
    let chat = window(
        &fixture.app,
        windows::CHAT,
        WebviewUrl::External(SHARE_URL.parse().unwrap()),
    );
    assert!(invoke(&chat, SHARE_URL, "relay_status", serde_json::json!({})).is_ok());

    // The only app on the origin moves away while the app runs; its capability stays with Tauri.
    let shell = fixture.app.state::<Shell>();
    let id = shell.ledger(|ledger| ledger.apps()).unwrap()[0].id;
    shell
        .ledger(|ledger| {
            ledger
                .update_app(
                    id,
                    "Moved",
                    "https://elsewhere.example.com/chat/moved",
                    &AppBinding::DifyPrice,
                )
                .map(drop)
        })
        .unwrap();
    shell.reload_apps().unwrap();
    for (cmd, body) in [
        ("relay_status", serde_json::json!({})),
        (
            "check_send",
            serde_json::json!({ "endpoint": "chat-messages" }),
        ),
        ("report_usage", frame("after-the-move")),
    ] {
        let refused = invoke(&chat, SHARE_URL, cmd, body).unwrap_err();
        assert!(refused.contains("is no Dify app's"), "{cmd}: {refused}");
    }
    assert!(shell.ledger(|ledger| ledger.apps()).unwrap()[0].enabled);
}

#[test]
fn an_export_reads_on_its_own_connection_while_the_shells_is_busy() {
    let fixture = fixture();
    let shell: &Shell = &fixture.app.state::<Shell>();
    let chat = window(
        &fixture.app,
        windows::CHAT,
        WebviewUrl::External(SHARE_URL.parse().unwrap()),
    );
    invoke(&chat, SHARE_URL, "report_usage", frame("exported")).unwrap();
    let (held, is_held) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        // Another command holds the shell's connection, as a charge does, until told to let go.
        scope.spawn(move || {
            shell
                .ledger(|_| {
                    held.send(()).unwrap();
                    let _ = released.recv_timeout(std::time::Duration::from_secs(20));
                    Ok(())
                })
                .unwrap()
        });
        is_held.recv().unwrap();
        let mut csv = Vec::new();
        let rows = shell
            .read_apart(|api| api.export_history_csv(Default::default(), &mut csv))
            .unwrap();
        // Sent while the other command still waits: the export did not wait for its connection.
        assert!(
            release.send(()).is_ok(),
            "the export waited for the shell's connection"
        );
        assert!(rows >= 2, "the grant and the charge: {rows}");
        assert!(String::from_utf8(csv).unwrap().contains("exported"));
    });
}

#[test]
fn the_relay_holds_the_gate_verdict_and_a_send_it_made_past_a_refusal_is_bound_and_recorded() {
    let fixture = fixture();
    let chat = window(
        &fixture.app,
        windows::CHAT,
        WebviewUrl::External(SHARE_URL.parse().unwrap()),
    );
    let status = invoke(&chat, SHARE_URL, "relay_status", serde_json::json!({})).unwrap();
    assert_eq!(status["gate"]["allowed"], true, "{status}");
    assert_eq!(status["page"], SHARE_URL);
    let first_version = status["version"].as_u64().unwrap();

    let shell = fixture.app.state::<Shell>();
    raise_the_minimum_above_the_balance(&shell);
    let status = invoke(&chat, SHARE_URL, "relay_status", serde_json::json!({})).unwrap();
    assert_eq!(status["gate"]["code"], "insufficient_credits", "{status}");
    assert!(status["version"].as_u64().unwrap() > first_version);

    let check = |sent: serde_json::Value| {
        invoke(
            &chat,
            SHARE_URL,
            "check_send",
            serde_json::json!({ "endpoint": "chat-messages", "query": "hi", "sent": sent }),
        )
        .unwrap()
    };
    let refused_here = check(serde_json::json!(false));
    assert_eq!(
        (&refused_here["allowed"], &refused_here["send_id"]),
        (&serde_json::json!(false), &serde_json::Value::Null)
    );
    assert!(
        shell
            .ledger(|ledger| ledger.unchecked_sends(10))
            .unwrap()
            .is_empty()
    );

    let sent_anyway = check(serde_json::json!(true));
    assert_eq!(sent_anyway["allowed"], false);
    assert!(sent_anyway["send_id"].is_string(), "{sent_anyway}");
    let recorded = shell.ledger(|ledger| ledger.unchecked_sends(10)).unwrap();
    assert_eq!(
        recorded
            .iter()
            .map(|send| (send.reason.as_str(), send.endpoint.as_str()))
            .collect::<Vec<_>>(),
        [("past_refusal", "chat-messages")]
    );
}

#[test]
fn a_send_bound_after_the_page_moved_on_is_the_page_its_state_was_for() {
    let fixture = fixture();
    let shell = fixture.app.state::<Shell>();
    let other = "http://127.0.0.1:8765/chat/other";
    shell
        .ledger(|ledger| {
            ledger
                .add_app("Other", other, &AppBinding::DifyPrice, false)
                .map(drop)
        })
        .unwrap();
    shell.reload_apps().unwrap();
    let chat = window(
        &fixture.app,
        windows::CHAT,
        WebviewUrl::External(SHARE_URL.parse().unwrap()),
    );
    let status = invoke(&chat, SHARE_URL, "relay_status", serde_json::json!({})).unwrap();
    let decided_on = status["version"].clone();

    // The page moves to another app's path before its reply begins, and the relay binds the send then.
    chat.navigate(other.parse().unwrap()).unwrap();
    let bind = |version: serde_json::Value| {
        invoke(
            &chat,
            other,
            "check_send",
            serde_json::json!({ "endpoint": "chat-messages", "query": "hi", "sent": true, "version": version }),
        )
        .unwrap()["send_id"]
            .clone()
    };
    let billed_app = |send_id: serde_json::Value, message: &str| {
        let mut report = frame(message);
        report["sendId"] = send_id;
        invoke(&chat, other, "report_usage", report).unwrap()["app_name"].clone()
    };
    assert_eq!(billed_app(bind(decided_on), "m-held"), "ACL");
    // Without a state to name (or one no longer kept), the send is the page's it is on now.
    assert_eq!(billed_app(bind(serde_json::Value::Null), "m-now"), "Other");
    assert_eq!(
        billed_app(bind(serde_json::json!(u64::MAX)), "m-unknown"),
        "Other"
    );
}

#[test]
fn a_simulation_runs_the_real_charge_path_priced_as_the_chosen_model() {
    let fixture = fixture();
    let local = "tauri://localhost";
    let diagnostics = window(
        &fixture.app,
        windows::DIAGNOSTICS,
        WebviewUrl::App("index.html".into()),
    );
    let shell = fixture.app.state::<Shell>();
    let app_id = shell.ledger(|ledger| ledger.apps()).unwrap()[0].id;
    let simulate = |model: serde_json::Value, message_id: &str| {
        invoke(
            &diagnostics,
            local,
            "admin_simulate",
            serde_json::json!({"event": {"app_id": app_id, "model": model, "prompt_tokens": 1000,
                "completion_tokens": 1000, "dify_total_price": "0.0123", "message_id": message_id}}),
        )
    };
    let refused = simulate(serde_json::Value::Null, "s0").unwrap_err();
    assert!(refused.contains("admin_session_required"), "{refused}");
    shell
        .ledger(|ledger| ledger.set_admin_password(crate::state::ADMIN, "long enough secret"))
        .unwrap();
    shell.open_admin_session().unwrap();

    // As bound (gpt-4o-mini), then as gpt-4o: each priced by its own list price.
    let as_bound = simulate(serde_json::Value::Null, "s1").unwrap();
    let as_4o = simulate(serde_json::json!("gpt-4o"), "s2").unwrap();
    assert_eq!(
        (&as_bound["outcome"], &as_4o["outcome"]),
        (&serde_json::json!("charged"), &serde_json::json!("charged"))
    );
    let usage_of = |result: &serde_json::Value| {
        shell
            .ledger(|ledger| ledger.entry(result["entry_id"].as_str().unwrap()))
            .unwrap()
            .usage
            .unwrap()
    };
    let (bound, four_o) = (usage_of(&as_bound), usage_of(&as_4o));
    assert_eq!(
        (bound.model.as_deref(), four_o.model.as_deref()),
        (Some("gpt-4o-mini"), Some("gpt-4o"))
    );
    assert_eq!(
        four_o.dify_total_price.map(|price| price.to_string()),
        Some("0.0123".into())
    );
    assert!(as_4o["amount_micros"].as_i64() > as_bound["amount_micros"].as_i64());
    let unknown = simulate(serde_json::json!("no-such-model"), "s3").unwrap_err();
    assert!(unknown.contains("not_found"), "{unknown}");
}

#[test]
fn a_language_picked_by_hand_names_the_menus_and_is_kept_for_the_next_start() {
    // Called directly, with no window open: see the app-menu test.
    let fixture = fixture();
    let app = fixture.app.handle();
    for (language, chat) in [(Language::Zh, "对话"), (Language::En, "Chat")] {
        tauri::async_runtime::block_on(staff::set_language(
            app.clone(),
            fixture.app.state(),
            language,
        ))
        .unwrap();
        assert!(
            menu_items(&fixture.app).contains(&("open:chat".into(), chat.into())),
            "{language:?}: {:?}",
            menu_items(&fixture.app)
        );
        assert_eq!(fixture.app.state::<Shell>().language(), language);
        assert_eq!(
            LanguageChoice::in_dir(fixture._dir.path()).current(),
            language
        );
    }

    // The Dify page may not pick it.
    let chat = window(
        &fixture.app,
        windows::CHAT,
        WebviewUrl::External(SHARE_URL.parse().unwrap()),
    );
    let refused = invoke(
        &chat,
        SHARE_URL,
        "set_language",
        serde_json::json!({"language": "zh"}),
    )
    .unwrap_err();
    assert!(refused.contains("not allowed"), "{refused}");
    // It hears of the choice when it reports in.
    let status = invoke(&chat, SHARE_URL, "relay_status", serde_json::json!({})).unwrap();
    assert_eq!(status["language"], "en");
}

#[test]
fn the_about_item_shows_the_workspace_version() {
    let fixture = fixture();
    windows::refresh_menus(fixture.app.handle()).unwrap();
    let predefined: Vec<String> = fixture
        .app
        .menu()
        .expect("an app menu")
        .items()
        .unwrap()
        .iter()
        .filter_map(|item| item.as_submenu().map(|submenu| submenu.items().unwrap()))
        .flatten()
        .filter_map(|item| {
            item.as_predefined_menuitem()
                .map(|item| item.text().unwrap())
        })
        .collect();
    assert!(
        predefined.contains(&"About TokenDesk".to_owned()),
        "{predefined:?}"
    );
    // tauri.conf.json names no version of its own: the app's is the one every crate shares.
    let about = windows::about(fixture.app.handle(), Language::En);
    assert_eq!(about.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_managed_install_refuses_the_ways_in_its_administrator_withholds() {
    let fixture = managed_fixture(ManagedInstall {
        offer_demo: false,
        ..ManagedInstall::default()
    });
    let mode = || {
        let shell = fixture.app.state::<Shell>();
        shell.ledger(|ledger| ledger.mode()).unwrap()
    };
    let before = mode();
    let refused = tauri::async_runtime::block_on(crate::commands::org::choose_mode(
        fixture.app.handle().clone(),
        fixture.app.state(),
        Mode::Demo,
    ))
    .unwrap_err();
    assert_eq!(refused.code(), "not_offered", "{refused}");
    assert_eq!(mode(), before);
    assert_ne!(before, Mode::Demo);
}
