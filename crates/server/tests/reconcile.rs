//! Reconciliation against the Dify simulator's console and a real PostgreSQL: replies metered exactly,
//! by estimate, stopped, never seen by a device, seen by two devices, and charges Dify has no record of;
//! a second run adds nothing, a run killed midway and run again gives the same result, and the console's
//! sign-in flows (base64 or plain password, refresh, admin API key, wrong credentials).

mod common;

use chrono::{DateTime, Days, TimeDelta, Utc};
use common::{Device, Server, charge, cost};
use dify_sim::{AppKind, ConsoleAccount, DifySim, LOGIN_MAX_ERROR_LIMITS, SimConfig};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokendesk_server::dify::console::{Console, Credentials};
use tokendesk_server::dify::{ReconcileSettings, run_due};
use tokendesk_server::state::AppState;
use tokendesk_sync_proto::device::{AppConfig, ConfigSnapshot, ItemBody, PushItem};
use tokendesk_sync_proto::reconcile::{
    ConnectionRun, DifyConnectionInfo, DifyTest, FindingKind, ReconcileReport, Reconciliation,
};
use tokendesk_test_support::{browser_reply, browser_workflow_run};
use uuid::Uuid;

const APP_CODE: &str = "chatAppCode01";

/// Settles at once and flags a charge without a record at once, so a test need not wait.
fn eager() -> ReconcileSettings {
    ReconcileSettings {
        settle_after: TimeDelta::zero(),
        charge_without_record_after: TimeDelta::zero(),
        ..ReconcileSettings::default()
    }
}

/// A simulator without delays whose replies use exactly these tokens.
async fn sim(prompt: u64, completion: u64) -> DifySim {
    DifySim::start("127.0.0.1:0".parse().unwrap(), tokens(prompt, completion))
        .await
        .unwrap()
}

fn tokens(prompt: u64, completion: u64) -> SimConfig {
    SimConfig {
        first_byte_delay_ms: 0,
        frame_delay_ms: 0,
        prompt_tokens: Some(prompt),
        completion_tokens: Some(completion),
        ..SimConfig::default()
    }
}

/// The org with the world's model, an app whose share URL is the simulator's, and a staff member with a
/// device.
struct Org {
    server: Server,
    app: AppConfig,
    device: Device,
    snapshot: ConfigSnapshot,
    alice_id: String,
}

async fn org(sim: &DifySim) -> Org {
    let server = Server::start_reconciling(eager()).await;
    server.set_model("gpt-test", "0.001", "0.002").await;
    let app: AppConfig = server
        .admin_send(
            Method::POST,
            "/v1/admin/apps",
            json!({"name": "Chat", "share_url": sim.share_url(AppKind::Chat, APP_CODE),
                   "pricing": "model", "model": "gpt-test"}),
        )
        .await
        .ok();
    let alice = server.add_staff("alice").await;
    server.grant("alice", "1000").await;
    let device = server.enroll("alice", "laptop").await;
    let snapshot = server.snapshot(&device).await;
    Org {
        server,
        app,
        device,
        snapshot,
        alice_id: alice.id.to_string(),
    }
}

async fn reply(sim: &DifySim, user_id: Option<&str>) -> String {
    browser_reply(&sim.base_url(), APP_CODE, user_id).await
}

/// A charge the device makes of a reply; `estimated` when the stream carried no usage.
fn device_charge(
    snapshot: &ConfigSnapshot,
    app: &AppConfig,
    seq: i64,
    message_id: &str,
    prompt: u64,
    completion: u64,
    estimated: bool,
) -> PushItem {
    let mut item = charge(snapshot, app, seq, message_id, prompt, completion);
    if let ItemBody::Charge { usage, .. } = &mut item.body {
        usage.estimated = estimated;
        usage.conversation_id = None;
    }
    item
}

async fn connect(server: &Server, sim: &DifySim, credentials: Value) -> DifyConnectionInfo {
    server
        .admin_send(
            Method::POST,
            "/v1/admin/dify",
            json!({"name": "Workspace", "console_url": sim.base_url(), "credentials": credentials}),
        )
        .await
        .ok()
}

fn password() -> Value {
    let account = ConsoleAccount::default();
    json!({"kind": "password", "email": account.email, "password": account.password})
}

async fn test_connection(server: &Server, id: Uuid) -> DifyTest {
    server
        .admin_send(
            Method::POST,
            &format!("/v1/admin/dify/{id}/test"),
            json!({}),
        )
        .await
        .ok()
}

async fn delete_connection(server: &Server, id: Uuid) {
    let deleted = server
        .call(
            Method::DELETE,
            &format!("/v1/admin/dify/{id}"),
            Some(&server.admin),
            None,
        )
        .await;
    assert!(deleted.status < 300, "{deleted:?}");
}

/// Sets when the scheduler runs every workspace next.
async fn schedule_next_run(server: &Server, at: DateTime<Utc>) {
    sqlx::query("UPDATE dify_connections SET next_run_at = $2 WHERE org_id = $1")
        .bind(server.org_id)
        .bind(at)
        .execute(&server.pool)
        .await
        .unwrap();
}

async fn reconcile(server: &Server) -> ConnectionRun {
    let report: ReconcileReport = server
        .admin_send(Method::POST, "/v1/admin/reconcile", json!({}))
        .await
        .ok();
    assert_eq!(report.connections.len(), 1, "{report:?}");
    report.connections.into_iter().next().unwrap()
}

/// Everything reconciliation may write, as one comparable value.
async fn ledger_state(server: &Server) -> Value {
    type Entry = (String, String, i64, Option<i64>, Option<i64>);
    let entries: Vec<Entry> = sqlx::query_as(
        "SELECT u.name, e.kind, e.amount_micros, e.prompt_tokens, e.completion_tokens FROM entries e \
         JOIN users u ON u.org_id = e.org_id AND u.id = e.user_id \
         WHERE e.org_id = $1 AND e.counted ORDER BY u.name, e.kind, e.amount_micros",
    )
    .bind(server.org_id)
    .fetch_all(&server.pool)
    .await
    .unwrap();
    let findings: Vec<(String, String, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT kind, record_id, ledger_micros, dify_micros FROM reconcile_findings WHERE org_id = $1 \
         ORDER BY kind, record_id",
    )
    .bind(server.org_id)
    .fetch_all(&server.pool)
    .await
    .unwrap();
    let balances: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, balance_micros FROM users WHERE org_id = $1 ORDER BY name")
            .bind(server.org_id)
            .fetch_all(&server.pool)
            .await
            .unwrap();
    json!({"entries": entries, "findings": findings, "balances": balances})
}

#[tokio::test]
async fn every_reply_dify_served_is_billed_once() {
    let sim = sim(100, 50).await;
    let org = org(&sim).await;
    let server = &org.server;
    let alice = Some(org.alice_id.as_str());
    // Metered exactly.
    let exact = reply(&sim, alice).await;
    // Metered by estimate: the stream carried no usage.
    let estimated = reply(&sim, alice).await;
    // Stopped: no message_end reached the device, which estimated; Dify kept the usage.
    sim.set_config(SimConfig {
        omit_message_end: true,
        ..tokens(100, 50)
    });
    let stopped = reply(&sim, alice).await;
    sim.set_config(tokens(100, 50));
    // A plain browser with alice's link, and one with no user at all.
    let browser = reply(&sim, alice).await;
    let stranger = reply(&sim, None).await;
    // Seen by two devices of bob's.
    let bob = server.add_staff("bob").await;
    server.grant("bob", "1000").await;
    let bob_phone = server.enroll("bob", "phone").await;
    let bob_laptop = server.enroll("bob", "laptop").await;
    let twice = reply(&sim, Some(&bob.id.to_string())).await;
    // Charged, but Dify never served it.
    let ghost = "00000000-0000-4000-8000-00000000dead";
    // The exact reply's charge is stamped just after midnight, as a reply that ended past it is: the
    // daily control counts it on the day Dify counts the message.
    let mut past_midnight = device_charge(&org.snapshot, &org.app, 1, &exact, 100, 50, false);
    past_midnight.occurred_at = (Utc::now().date_naive() + Days::new(1))
        .and_hms_opt(0, 0, 1)
        .unwrap()
        .and_utc();
    let pushed = server
        .push(
            &org.device,
            &[
                past_midnight,
                device_charge(&org.snapshot, &org.app, 2, &estimated, 80, 30, true),
                device_charge(&org.snapshot, &org.app, 3, &stopped, 60, 20, true),
                device_charge(&org.snapshot, &org.app, 4, ghost, 10, 10, false),
            ],
        )
        .await;
    assert_eq!(pushed.status, 200, "{pushed:?}");
    for device in [&bob_phone, &bob_laptop] {
        let item = device_charge(&org.snapshot, &org.app, 1, &twice, 100, 50, false);
        assert_eq!(server.push(device, &[item]).await.status, 200);
    }
    let full = cost(&org.snapshot, &org.app, 100, 50);
    let balance_before = server.balance("alice").await;

    connect(server, &sim, password()).await;
    let run = reconcile(server).await;
    assert_eq!(run.error, None, "{run:?}");
    assert!(run.missing_endpoints.is_empty(), "{run:?}");
    assert_eq!(run.records_read, 6, "{run:?}");
    assert_eq!(run.settled, 6, "{run:?}");
    assert_eq!(
        (
            run.true_ups,
            run.reported_by_dify,
            run.unattributed,
            run.charges_without_record
        ),
        (2, 1, 1, 1),
        "{run:?}"
    );

    // The two estimates are trued up to Dify's tokens, the browser's reply is charged to alice.
    let estimate_cost = cost(&org.snapshot, &org.app, 80, 30);
    let stopped_cost = cost(&org.snapshot, &org.app, 60, 20);
    let made_up = (full - estimate_cost) + (full - stopped_cost) + full;
    assert_eq!(server.balance("alice").await, balance_before - made_up);
    // Bob paid once.
    assert_eq!(server.balance("bob").await, 1000 * 1_000_000 - full);
    let true_ups: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT amount_micros, prompt_tokens, completion_tokens FROM entries \
         WHERE org_id = $1 AND kind = 'true_up' ORDER BY amount_micros",
    )
    .bind(server.org_id)
    .fetch_all(&server.pool)
    .await
    .unwrap();
    let mut expected = vec![
        (-(full - estimate_cost), 20, 20),
        (-(full - stopped_cost), 40, 30),
    ];
    expected.sort();
    assert_eq!(true_ups, expected);
    // The device that should have seen the browser's reply is flagged.
    let devices: Vec<Value> = server.admin_get("/v1/admin/devices").await.ok();
    let laptop = devices
        .iter()
        .find(|device| device["id"] == org.device.id.to_string())
        .unwrap();
    assert_eq!(laptop["unreported_replies"], 1);

    // The report explains each difference with Dify's record.
    let report: Reconciliation = server.admin_get("/v1/admin/reconciliation").await.ok();
    let finding = |kind: FindingKind| {
        report
            .findings
            .iter()
            .filter(|finding| finding.kind == kind)
            .map(|finding| finding.record_id.as_str())
            .collect::<Vec<_>>()
    };
    let mut trued = finding(FindingKind::TrueUp);
    trued.sort();
    let mut expected_trued = vec![estimated.as_str(), stopped.as_str()];
    expected_trued.sort();
    assert_eq!(trued, expected_trued);
    assert_eq!(finding(FindingKind::ReportedByDify), [browser.as_str()]);
    assert_eq!(finding(FindingKind::Unattributed), [stranger.as_str()]);
    assert_eq!(finding(FindingKind::ChargeWithoutRecord), [ghost]);
    let reported = report
        .findings
        .iter()
        .find(|finding| finding.kind == FindingKind::ReportedByDify)
        .unwrap();
    assert_eq!(reported.user.as_deref(), Some("alice"));
    assert_eq!(reported.device_id, Some(org.device.id));
    let record = reported.record.as_ref().unwrap();
    assert_eq!(record.session_id.as_deref(), alice);
    assert_eq!((record.prompt_tokens, record.completion_tokens), (100, 50));
    // The daily control: Dify's tokens against the ledger's; the gap is the stranger's reply less the
    // ghost charge.
    assert_eq!(report.days.len(), 1, "{:?}", report.days);
    let day = &report.days[0];
    assert_eq!(day.dify_tokens, Some(6 * 150));
    assert_eq!(day.ledger_tokens, 5 * 150 + 20);
    assert_eq!(day.token_gap, Some(150 - 20));

    // A second run adds nothing.
    let state = ledger_state(server).await;
    let again = reconcile(server).await;
    assert_eq!(
        (
            again.records_read,
            again.settled,
            again.true_ups,
            again.reported_by_dify
        ),
        (0, 0, 0, 0),
        "{again:?}"
    );
    assert_eq!((again.unattributed, again.charges_without_record), (0, 0));
    assert_eq!(ledger_state(server).await, state);

    // A device that reports the browser's reply late is kept as a duplicate, not billed again.
    let late = device_charge(&org.snapshot, &org.app, 5, &browser, 100, 50, false);
    assert_eq!(server.push(&org.device, &[late]).await.status, 200);
    assert_eq!(
        server.balance("alice").await,
        balance_before - made_up,
        "the late charge is not counted"
    );
}

#[tokio::test]
async fn a_run_killed_midway_and_run_again_gives_the_same_result() {
    let sim = sim(40, 10).await;
    let org = org(&sim).await;
    let server = &org.server;
    let replies = 40;
    for _ in 0..replies {
        reply(&sim, Some(&org.alice_id)).await;
    }
    connect(server, &sim, password()).await;
    // The doomed run has connections of its own, closed when it is killed, as a crashed server's are.
    let doomed_pool = tokendesk_server::connect(&server.database_url)
        .await
        .unwrap();
    let state = AppState::with_reconcile(doomed_pool.clone(), eager());
    let org_id = server.org_id;
    let run = tokio::spawn(async move {
        tokendesk_server::dify::run_org(&state, org_id, &Default::default(), "test").await
    });
    // Killed once the first replies are settled: every transaction in flight is lost with it.
    loop {
        if server
            .count(&format!(
                "SELECT COUNT(*) FROM reconcile_findings WHERE org_id = '{org_id}'"
            ))
            .await
            > 0
            || run.is_finished()
        {
            break;
        }
        tokio::task::yield_now().await;
    }
    run.abort();
    let _ = run.await;
    doomed_pool.close().await;
    let settled_when_killed = server
        .count(&format!(
            "SELECT COUNT(*) FROM dify_records WHERE org_id = '{org_id}' AND settled_at IS NOT NULL"
        ))
        .await;
    eprintln!("killed with {settled_when_killed} of {replies} replies settled");
    let after = reconcile(server).await;
    assert_eq!(after.error, None);
    assert_eq!(
        after.reported_by_dify as i64 + settled_when_killed,
        replies,
        "{after:?}"
    );
    let each = cost(&org.snapshot, &org.app, 40, 10);
    assert_eq!(
        server.balance("alice").await,
        1000 * 1_000_000 - replies * each
    );
    assert_eq!(
        server
            .count(&format!(
                "SELECT COUNT(*) FROM entries WHERE org_id = '{org_id}' AND kind = 'reported_by_dify'"
            ))
            .await,
        replies
    );
    let again = reconcile(server).await;
    assert_eq!((again.settled, again.reported_by_dify), (0, 0));
}

#[tokio::test]
async fn sign_in_flows_and_refusals() {
    let sim = sim(10, 5).await;
    let org = org(&sim).await;
    let server = &org.server;
    reply(&sim, Some(&org.alice_id)).await;

    // Wrong credentials: a clear error, nothing read, nothing changed, and the next run waits longer.
    let wrong = connect(
        server,
        &sim,
        json!({"kind": "password", "email": "admin@dify-sim.local", "password": "nope"}),
    )
    .await;
    assert!(
        !format!("{wrong:?}").contains("nope"),
        "no secret is answered"
    );
    let test: DifyTest = test_connection(server, wrong.id).await;
    assert!(!test.signed_in);
    assert_eq!(
        test.error.as_deref(),
        Some("Dify refused the sign-in: Invalid email or password.")
    );
    let before = ledger_state(server).await;
    let refused = reconcile(server).await;
    assert_eq!(
        refused.error.as_deref(),
        Some("Dify refused the sign-in: Invalid email or password.")
    );
    assert_eq!((refused.records_read, refused.settled), (0, 0));
    assert_eq!(ledger_state(server).await, before);
    let listed: Vec<DifyConnectionInfo> = server.admin_get("/v1/admin/dify").await.ok();
    assert_eq!(listed[0].failures, 1);
    assert!(listed[0].next_run_at > listed[0].last_run_at.unwrap());
    assert!(listed[0].sign_in_refused_at.is_some());
    let text = server.admin_get("/v1/admin/dify").await.text;
    assert!(
        !text.contains("nope") && !text.contains("\"password\":"),
        "{text}"
    );
    // The scheduler tries no more, however long it waits: each try would count toward Dify's login
    // lockout, and the account (perhaps a person's) would be locked out of Dify.
    let scheduler = AppState::with_reconcile(server.pool.clone(), eager());
    for _ in 0..=LOGIN_MAX_ERROR_LIMITS {
        schedule_next_run(server, Utc::now()).await;
        assert_eq!(run_due(&scheduler).await.unwrap(), []);
    }
    let mut by_hand = Console::new(
        &sim.base_url(),
        Credentials::Password {
            email: ConsoleAccount::default().email,
            password: SecretString::from(ConsoleAccount::default().password),
        },
    )
    .unwrap();
    by_hand.sign_in().await.expect("the account is not locked");
    // Once Dify takes the connection's password, a test lets the scheduler run again at once.
    schedule_next_run(server, Utc::now() + TimeDelta::hours(6)).await;
    sim.set_console(ConsoleAccount {
        password: "nope".into(),
        ..ConsoleAccount::default()
    });
    let test: DifyTest = test_connection(server, wrong.id).await;
    assert!(test.signed_in, "{test:?}");
    let listed: Vec<DifyConnectionInfo> = server.admin_get("/v1/admin/dify").await.ok();
    assert_eq!(listed[0].sign_in_refused_at, None);
    assert!(listed[0].next_run_at <= Utc::now());
    delete_connection(server, wrong.id).await;

    // A Dify before 1.11 takes the password plain.
    sim.set_console(ConsoleAccount {
        base64_password: false,
        ..ConsoleAccount::default()
    });
    let plain = connect(server, &sim, password()).await;
    let test: DifyTest = test_connection(server, plain.id).await;
    assert!(test.signed_in, "{test:?}");
    assert_eq!(test.workspace_apps, 1);
    assert_eq!(test.linked.len(), 1);
    assert_eq!(test.linked[0].console_app_id, APP_CODE);

    // The admin API key, with the workspace id and no session.
    sim.set_console(ConsoleAccount {
        admin_api_key: Some("admin-key-1".into()),
        // Without the endpoint, the daily control is skipped and said so; the records still settle.
        missing_endpoints: vec!["statistics/token-costs".into()],
        ..ConsoleAccount::default()
    });
    delete_connection(server, plain.id).await;
    connect(
        server,
        &sim,
        json!({"kind": "admin_api_key", "key": "admin-key-1",
               "workspace_id": ConsoleAccount::default().workspace_id}),
    )
    .await;
    let run = reconcile(server).await;
    assert_eq!(run.error, None, "{run:?}");
    assert_eq!(run.missing_endpoints, ["apps/{app}/statistics/token-costs"]);
    assert_eq!((run.settled, run.reported_by_dify), (1, 1));
}

#[tokio::test]
async fn the_console_client_renews_an_expired_session() {
    let sim = sim(10, 5).await;
    let account = ConsoleAccount::default();
    let mut console = Console::new(
        &sim.base_url(),
        Credentials::Password {
            email: account.email.clone(),
            password: SecretString::from(account.password.clone()),
        },
    )
    .unwrap();
    let apps: Value = console.get("apps", "apps", &[]).await.unwrap();
    assert_eq!(apps["data"], json!([]));
    sim.expire_console_access();
    let again: Value = console.get("apps", "apps", &[]).await.unwrap();
    assert_eq!(again["total"], 0);
    // A session cookie with a wrong CSRF header is refused by the console, as Dify does on GETs.
    let refused = reqwest::Client::new()
        .get(format!("{}/console/api/apps", sim.base_url()))
        .header("Cookie", "access_token=x; csrf_token=y")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn workflow_runs_are_reconciled_by_their_run_id() {
    let sim = sim(100, 50).await;
    let org = org(&sim).await;
    let server = &org.server;
    let workflow: AppConfig = server
        .admin_send(
            Method::POST,
            "/v1/admin/apps",
            json!({"name": "Poems", "share_url": sim.share_url(AppKind::Workflow, "wfAppCode"),
                   "pricing": "model", "model": "gpt-test"}),
        )
        .await
        .ok();
    let snapshot = server.snapshot(&org.device).await;
    let alice = Some(org.alice_id.as_str());
    // The device saw the run's total but estimated its split; Dify's log has the run's total of 150.
    let seen = browser_workflow_run(&sim.base_url(), "wfAppCode", alice).await;
    let unseen = browser_workflow_run(&sim.base_url(), "wfAppCode", alice).await;
    let item = device_charge(&snapshot, &workflow, 1, &seen, 100, 40, true);
    assert_eq!(server.push(&org.device, &[item]).await.status, 200);
    let before = server.balance("alice").await;

    connect(server, &sim, password()).await;
    let run = reconcile(server).await;
    assert_eq!(run.error, None, "{run:?}");
    assert_eq!(
        (
            run.records_read,
            run.settled,
            run.true_ups,
            run.reported_by_dify
        ),
        (2, 2, 1, 1),
        "{run:?}"
    );
    assert_eq!(
        run.charges_without_record, 0,
        "the charge is keyed by its run"
    );
    let listed: Vec<DifyConnectionInfo> = server.admin_get("/v1/admin/dify").await.ok();
    let linked = listed[0]
        .apps
        .iter()
        .find(|app| app.app_id == workflow.id)
        .unwrap();
    assert_eq!(linked.mode, "workflow");
    // The total is Dify's; the split stays the device's, so the answer gets the 10 tokens missing.
    let trued = cost(&snapshot, &workflow, 100, 50) - cost(&snapshot, &workflow, 100, 40);
    let reported = cost(&snapshot, &workflow, 0, 150);
    assert_eq!(server.balance("alice").await, before - trued - reported);
    let report: Reconciliation = server.admin_get("/v1/admin/reconciliation").await.ok();
    let unseen_finding = report
        .findings
        .iter()
        .find(|finding| finding.record_id == unseen)
        .unwrap();
    assert_eq!(unseen_finding.kind, FindingKind::ReportedByDify);
    let record = unseen_finding.record.as_ref().unwrap();
    assert_eq!(
        (record.kind.as_str(), record.completion_tokens),
        ("workflow_run", 150)
    );
    assert_eq!(record.session_id.as_deref(), alice);
    let again = reconcile(server).await;
    assert_eq!((again.records_read, again.settled), (0, 0), "{again:?}");
}
