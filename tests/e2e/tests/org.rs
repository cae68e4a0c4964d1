//! The org, tried as a new user would: the real app's first window joins a real server (PostgreSQL) with
//! an enrollment code, the org's first Dify app reaches the chat window, a reply is charged and reaches the
//! server by itself, a price the admin changes reaches the next charge, a reply charged offline is pushed
//! once the network is back, a top-up reaches the dashboard, and a revoked device says so. An admin runs
//! the org from the same desktop's admin window: adds a user, enrolls a second device, prices a model for
//! it, and reads the org's report and its CSV. Prints the sync delays it saw.

use chrono::Datelike;
use fantoccini::Locator;
use reqwest::Method;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;
use tokendesk_e2e::{DesktopApp, MODEL, Outcome, Setup, eventually};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::money::{MICROS_PER_CREDIT, micros_to_credits};
use tokendesk_sync_client::admin::OrgAdmin;
use tokendesk_sync_client::device;
use tokendesk_sync_proto::Pricing;
use tokendesk_sync_proto::admin::{
    BalanceInfo, DeviceInfo, EnrollmentCode, EntryInfo, EntryKind, ModelInfo, NewApp, NewEntry,
    NewRedemptionCodes, NewUser, Role, SetModel, SetPolicy, UserSummary,
};
use tokendesk_sync_proto::device::JoinLink;
use tokendesk_test_support::{Cluster, CuttingProxy, message_end};

const PASSWORD: &str = "correct horse battery";
const GRANT_CREDITS: i64 = 5000;

async fn set_price(admin: &OrgAdmin, input: &str, output: &str) -> Outcome {
    let body = SetModel {
        input_usd_per_1k: input.into(),
        output_usd_per_1k: output.into(),
        reason: Some("e2e".into()),
        aliases: None,
        active: None,
    };
    let _: serde_json::Value = admin
        .send(
            Method::PUT,
            &format!("/v1/admin/models/{MODEL}"),
            Some(&body),
        )
        .await?;
    Ok(())
}

async fn set_policy(admin: &OrgAdmin, key: &str, value: &str) -> Outcome {
    let body = SetPolicy {
        key: key.into(),
        value: value.into(),
    };
    let _: serde_json::Value = admin
        .send(Method::PUT, "/v1/admin/policy", Some(&body))
        .await?;
    Ok(())
}

async fn server_balance(admin: &OrgAdmin) -> Outcome<i64> {
    let balance: BalanceInfo = admin.get("/v1/admin/users/alice/balance").await?;
    Ok(balance.balance_micros)
}

/// One reply of the simulator (1200 prompt + 300 completion tokens) at these USD prices per 1K tokens and
/// the server's default 10000 credits per USD.
fn reply_micros(input_per_1k: i64, output_per_1k: i64) -> i64 {
    // Prices in millionths of a USD per 1K tokens: the cost in credits is exact here.
    (1200 * input_per_1k + 300 * output_per_1k) * 10_000 / 1_000 / 1_000_000 * MICROS_PER_CREDIT
}

/// A real server over a throw-away database, with its first admin signed in, the staff member alice with a
/// grant, and the model priced at 0.001 / 0.002 USD per 1K tokens.
struct Org {
    server: String,
    admin: OrgAdmin,
    _admin_dir: tempfile::TempDir,
}

impl Org {
    async fn start() -> Outcome<Self> {
        let database = Cluster::shared().database();
        let pool = tokendesk_server::connect(&database).await?;
        tokendesk_server::migrate(&pool).await?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let server = format!("http://{}", listener.local_addr()?);
        tokio::spawn(tokendesk_server::serve(
            listener,
            tokendesk_server::AppState::new(pool.clone()),
        ));
        tokendesk_server::admin::create_admin(&pool, "acme", "root", PASSWORD, "setup")
            .await
            .map_err(|error| error.to_string())?;
        let admin_dir = tempfile::tempdir()?;
        OrgAdmin::login(admin_dir.path(), &server, "root", PASSWORD).await?;
        let admin = OrgAdmin::load(admin_dir.path())?;
        let alice = NewUser {
            name: "alice".into(),
            display_name: Some("Alice".into()),
            role: Role::Staff,
            password: None,
        };
        let _: serde_json::Value = admin
            .send(Method::POST, "/v1/admin/users", Some(&alice))
            .await?;
        let grant = NewEntry {
            kind: EntryKind::Grant,
            amount: GRANT_CREDITS.to_string(),
            reason: "welcome".into(),
        };
        let _: serde_json::Value = admin
            .send(Method::POST, "/v1/admin/users/alice/entries", Some(&grant))
            .await?;
        set_price(&admin, "0.001", "0.002").await?;
        Ok(Self {
            server,
            admin,
            _admin_dir: admin_dir,
        })
    }

    async fn add_app(&self, share_url: &str) -> Outcome {
        let org_app = NewApp {
            name: "Org chat".into(),
            share_url: share_url.into(),
            pricing: Pricing::Model,
            model: Some(MODEL.into()),
        };
        let _: serde_json::Value = self
            .admin
            .send(Method::POST, "/v1/admin/apps", Some(&org_app))
            .await?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_user_joins_the_org_and_every_charge_reaches_the_server() -> Outcome {
    let org = Org::start().await?;
    let (server, admin) = (&org.server, &org.admin);

    // The desktop reaches the server through a proxy that can take the network down.
    let network = CuttingProxy::start(server.trim_start_matches("http://").parse()?);
    let app = DesktopApp::launch(Setup {
        first_run: true,
        server_url: Some(network.url()),
        ..Setup::default()
    })
    .await?;
    let code: EnrollmentCode = admin
        .send(
            Method::POST,
            "/v1/admin/users/alice/enrollment-codes",
            Some(&serde_json::json!({})),
        )
        .await?;

    // The first window offers the ways in, with the managed install's server filled in.
    app.switch_to("tauri://localhost", "[data-testid=welcome]")
        .await?;
    let prefilled = app.element("join-server").await?.prop("value").await?;
    assert_eq!(prefilled.as_deref(), Some(network.url().as_str()));
    app.fill("join-code", &code.code).await?;
    app.click("join-submit").await?;
    app.to_dashboard().await?;
    eventually("the dashboard to show the org's balance", || async {
        Ok(
            (app.text_of("[data-testid=balance]").await? == GRANT_CREDITS.to_string())
                .then_some(()),
        )
    })
    .await?;
    assert!(app.text_of("[data-testid=mode]").await?.contains("acme"));

    // The org has no Dify app yet: the chat window says so. The admin adds one, and the window follows.
    app.open_window("chat").await?;
    app.switch_to(
        "tauri://localhost",
        "[data-testid=integration-off][data-reason=noApp]",
    )
    .await?;
    org.add_app(&app.share_url).await?;
    app.to_chat().await?;

    // A reply is charged here and reaches the server with no sync command.
    app.send("What is our travel policy?").await?;
    app.replies_done(1).await?;
    let charges = app.charged(1).await?;
    let charged_at = Instant::now();
    let first = reply_micros(1_000, 2_000);
    assert_eq!(charges[0].amount_micros, -first);
    // The chat named alice to Dify (the share URL's sys.user_id): Dify's record of the conversation has her
    // org id as its end user's session id.
    let alice = app.ledger()?.enrolled_user_id()?.ok_or("not enrolled")?;
    let conversation = charges[0]
        .usage
        .as_ref()
        .and_then(|usage| usage.conversation_id.clone())
        .ok_or("a charge without its conversation")?;
    assert_eq!(app.sim.conversation_user(&conversation), Some(alice));
    // Dify named the new conversation: a side call the org estimates, which the server re-prices alike.
    let naming = eventually("the auto-naming's charge", || async {
        Ok(app.side_call_charges()?.pop())
    })
    .await?;
    assert!(naming.amount_micros < 0);
    let expected = GRANT_CREDITS * MICROS_PER_CREDIT - first + naming.amount_micros;
    eventually(
        "the server to take the charge and its side call",
        || async { Ok((server_balance(admin).await? == expected).then_some(())) },
    )
    .await?;
    let push_delay = charged_at.elapsed();

    // A price the admin changes reaches this desktop without a charge, and the next charge uses it.
    let changed_at = Instant::now();
    set_price(admin, "0.002", "0.002").await?;
    eventually("the new price to reach the desktop", || async {
        let model = app.ledger()?.model(MODEL)?;
        Ok((model.input_usd_per_1k.normalize().to_string() == "0.002").then_some(()))
    })
    .await?;
    let config_delay = changed_at.elapsed();
    app.send("And for conferences?").await?;
    app.replies_done(2).await?;
    let charges = app.charged(2).await?;
    let second = reply_micros(2_000, 2_000);
    assert_eq!(charges[0].amount_micros, -second, "the newest first");
    let expected = expected - second;
    eventually("the server to take the second charge", || async {
        Ok((server_balance(admin).await? == expected).then_some(()))
    })
    .await?;
    app.to_dashboard().await?;
    let shown = tokendesk_ledger::money::micros_to_credits(expected).to_string();
    eventually("the dashboard to show the server's balance", || async {
        Ok((app.text_of("[data-testid=balance]").await? == shown).then_some(()))
    })
    .await?;
    eventually(
        "the monitor to show nothing waiting to be pushed",
        || async {
            let pending = app
                .element("org-pending")
                .await?
                .attr("data-pending")
                .await?;
            Ok((pending.as_deref() == Some("0")).then_some(()))
        },
    )
    .await?;

    // The org lets each device spend one reply's worth offline; the desktop takes the new lease.
    set_policy(
        admin,
        "offline_allowance",
        &micros_to_credits(second).to_string(),
    )
    .await?;
    eventually("the desktop to hold a lease of one reply", || async {
        let left = app.ledger()?.sync_status()?.lease_left_micros;
        Ok((left == second).then_some(()))
    })
    .await?;

    // Offline, a reply is charged against the offline allowance and waits; past the allowance the next send
    // is refused before Dify. Back online, the charge is pushed with no new charge and no command.
    network.set_offline(true);
    app.to_chat().await?;
    app.send("Offline question").await?;
    app.replies_done(3).await?;
    app.charged(3).await?;
    app.send_is_refused("Past the allowance?").await?;
    app.to_dashboard().await?;
    eventually(
        "the monitor to show the device offline, one charge waiting",
        || async {
            let sync = app.element("org-sync").await?;
            let pending = app
                .element("org-pending")
                .await?
                .attr("data-pending")
                .await?;
            Ok(
                (sync.attr("data-state").await?.as_deref() == Some("offline")
                    && pending.as_deref() == Some("1"))
                .then_some(()),
            )
        },
    )
    .await?;
    assert_eq!(
        server_balance(admin).await?,
        expected,
        "nothing reached the server"
    );
    network.set_offline(false);
    let expected = expected - second;
    eventually("the server to take the offline charge", || async {
        Ok((server_balance(admin).await? == expected).then_some(()))
    })
    .await?;
    eventually("the monitor to show the device online again", || async {
        let state = app.element("org-sync").await?.attr("data-state").await?;
        Ok((state.as_deref() == Some("online")).then_some(()))
    })
    .await?;

    // A daily budget the admin sets for alice below what she spent today stops her sends on this device.
    let budget = serde_json::json!({ "daily": "1", "monthly": null });
    let _: serde_json::Value = admin
        .send(Method::PUT, "/v1/admin/users/alice/budget", Some(&budget))
        .await?;
    eventually("the desktop to hear of alice's budget", || async {
        let status = app.ledger()?.sync_status()?;
        Ok(status
            .budget
            .filter(|budget| budget.daily_limit_micros == MICROS_PER_CREDIT))
    })
    .await?;
    app.to_chat().await?;
    app.send_is_refused("Over budget?").await?;
    let lifted = serde_json::json!({ "daily": null, "monthly": null });
    let _: serde_json::Value = admin
        .send(Method::PUT, "/v1/admin/users/alice/budget", Some(&lifted))
        .await?;
    eventually("the budget to be lifted on the desktop", || async {
        Ok(app.ledger()?.sync_status()?.budget.is_none().then_some(()))
    })
    .await?;
    app.to_dashboard().await?;

    // A top-up on the server reaches the dashboard at the next sync, with no charge here.
    let topup = NewEntry {
        kind: EntryKind::Topup,
        amount: "100".into(),
        reason: "e2e".into(),
    };
    let _: serde_json::Value = admin
        .send(Method::POST, "/v1/admin/users/alice/entries", Some(&topup))
        .await?;
    app.click("sync-now").await?;
    let shown =
        tokendesk_ledger::money::micros_to_credits(expected + 100 * MICROS_PER_CREDIT).to_string();
    eventually("the dashboard to show the top-up", || async {
        Ok((app.text_of("[data-testid=balance]").await? == shown).then_some(()))
    })
    .await?;

    // A redemption code from the admin, redeemed on the dashboard, credits alice on the server at once.
    let batch = admin
        .redemption_codes(&NewRedemptionCodes {
            count: 1,
            amount: "50".into(),
            reason: "e2e".into(),
            valid_days: Some(7),
        })
        .await?;
    app.click("redeem-open").await?;
    app.fill("redeem-code", &batch.codes[0].code).await?;
    app.click("redeem-submit").await?;
    let redeemed = expected + 150 * MICROS_PER_CREDIT;
    let shown = tokendesk_ledger::money::micros_to_credits(redeemed).to_string();
    eventually("the dashboard to show the redeemed credits", || async {
        Ok((app.text_of("[data-testid=balance]").await? == shown).then_some(()))
    })
    .await?;
    assert_eq!(server_balance(admin).await?, redeemed);
    let close = app.client.find(Locator::Css(".ant-modal-close")).await?;
    app.click_element(&close, "the redeem dialog's close button")
        .await?;

    // Revoked: the device says so at its next sync, and keeps what it recorded.
    let devices: Vec<DeviceInfo> = admin.get("/v1/admin/devices").await?;
    let _: serde_json::Value = admin
        .send(
            Method::POST,
            &format!("/v1/admin/devices/{}/revoke", devices[0].id),
            Some(&serde_json::json!({})),
        )
        .await?;
    app.click("sync-now").await?;
    eventually("the dashboard to say the device was revoked", || async {
        let state = app.element("org-sync").await?.attr("data-state").await?;
        Ok((state.as_deref() == Some("revoked")).then_some(()))
    })
    .await?;
    assert_eq!(app.charges()?.len(), 3, "nothing recorded is lost");
    app.to_chat().await?;
    app.send_is_refused("Still there?").await?;

    eprintln!(
        "sync delay: a charge reached the server {} ms after it was recorded; a price change reached the desktop after {} ms",
        push_delay.as_millis(),
        config_delay.as_millis()
    );
    app.finish().await
}

/// The file in the app's Downloads folder whose name starts with `prefix`, once there is one.
fn downloaded(app: &DesktopApp, prefix: &str) -> Outcome<Option<std::path::PathBuf>> {
    Ok(std::fs::read_dir(app.downloads())?
        .filter_map(Result::ok)
        .find(|file| file.file_name().to_string_lossy().starts_with(prefix))
        .map(|file| file.path()))
}

/// Each user's spend as the server's entries add up: counted charges net of their reversals.
async fn spend_per_user(admin: &OrgAdmin, users: &[&str]) -> Outcome<BTreeMap<String, i64>> {
    let mut spend = BTreeMap::new();
    for user in users {
        let entries: Vec<EntryInfo> = admin
            .get(&format!("/v1/admin/users/{user}/entries?limit=1000"))
            .await?;
        let spent: i64 = entries
            .iter()
            .filter(|entry| {
                entry.counted && matches!(entry.kind, EntryKind::Charge | EntryKind::Reversal)
            })
            .map(|entry| -entry.amount_micros)
            .sum();
        if spent != 0 {
            spend.insert(user.to_string(), spent);
        }
    }
    Ok(spend)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_runs_the_org_from_the_desktop_admin_window() -> Outcome {
    let org = Org::start().await?;
    let app = DesktopApp::launch(Setup {
        first_run: true,
        server_url: Some(org.server.clone()),
        ..Setup::default()
    })
    .await?;
    org.add_app(&app.share_url).await?;
    let (code, _) = org.admin.enrollment_code("alice").await?;
    app.switch_to("tauri://localhost", "[data-testid=welcome]")
        .await?;
    app.fill("join-code", &code.code).await?;
    app.click("join-submit").await?;
    app.to_chat().await?;
    app.send("What is our travel policy?").await?;
    app.replies_done(1).await?;
    app.charged(1).await?;

    // The admin window signs in to the server, not with a local password.
    app.open_window("admin").await?;
    app.switch_to("tauri://localhost", "[data-testid=org-admin-name]")
        .await?;
    app.fill("org-admin-name", "root").await?;
    app.fill("org-admin-password", PASSWORD).await?;
    app.click("org-admin-submit").await?;

    // A new staff member, credits for them, and their enrollment code, shown once.
    app.fill("new-user-name", "bob").await?;
    app.fill("new-user-display", "Bob").await?;
    app.click("new-user-submit").await?;
    app.element("enroll-code-bob").await?;
    app.fill("grant-user", "bob").await?;
    app.fill("grant-amount", "1000").await?;
    app.fill("grant-reason", "welcome").await?;
    app.click("grant-submit").await?;
    eventually("the server to take the grant", || async {
        let balance: BalanceInfo = org.admin.get("/v1/admin/users/bob/balance").await?;
        Ok((balance.balance_micros == 1000 * MICROS_PER_CREDIT).then_some(()))
    })
    .await?;
    app.click("enroll-code-bob").await?;
    let bobs_code = app.text_shown("enrollment-code").await?;
    let link = app.text_shown("enrollment-link").await?;
    let link = JoinLink::parse(link.trim()).ok_or("the join link does not parse")?;
    assert_eq!(
        (link.server.as_str(), link.code.as_str()),
        (org.server.as_str(), bobs_code.trim())
    );
    app.click("enrollment-code-done").await?;

    // A second device, enrolled from the command line with that code.
    let bobs_dir = tempfile::tempdir()?;
    let bob = Mutex::new(Ledger::open_dir(bobs_dir.path())?);
    device::enroll(&bob, &org.server, bobs_code.trim(), "bob-cli").await?;

    // A price the admin changes in the desktop's admin window prices the second device's next charge.
    app.click("org-tab-models").await?;
    app.click(&format!("org-model-edit-{MODEL}")).await?;
    app.fill("model-input-price", "0.003").await?;
    app.fill("model-output-price", "0.004").await?;
    app.fill("model-reason", "new list price").await?;
    app.click("model-save").await?;
    eventually("the server to take the new price", || async {
        let models: Vec<ModelInfo> = org.admin.get("/v1/admin/models").await?;
        Ok(models
            .iter()
            .any(|model| model.name == MODEL && model.price.input_per_1k.to_string() == "0.003")
            .then_some(()))
    })
    .await?;
    device::sync_once(&bob).await?;
    let charged = bob
        .lock()
        .map_err(|_| "the ledger lock")?
        .record_frame(&app.share_url, &message_end("bob-1", 1200, 300))?;
    assert_eq!(
        (charged.outcome, charged.amount_micros),
        (
            tokendesk_ledger::Outcome::Charged,
            reply_micros(3_000, 4_000)
        ),
        "{charged:?}"
    );
    device::sync_once(&bob).await?;

    // Redemption codes made in the window are shown once and saved as CSV; bob's device redeems one.
    app.click("org-tab-codes").await?;
    app.fill("codes-count", "2").await?;
    app.fill("codes-amount", "25").await?;
    app.fill("codes-reason", "hackathon").await?;
    app.click("codes-submit").await?;
    let shown_codes = app.text_shown("new-codes").await?;
    let codes: Vec<&str> = shown_codes.split_whitespace().collect();
    assert_eq!(codes.len(), 2, "{shown_codes}");
    let saved = eventually("the codes' CSV in Downloads", || async {
        downloaded(&app, "tokendesk-redemption-codes-")
    })
    .await?;
    let saved = std::fs::read_to_string(saved)?;
    assert!(codes.iter().all(|code| saved.contains(code)), "{saved}");
    app.click("codes-done").await?;
    let before = org
        .admin
        .get::<BalanceInfo>("/v1/admin/users/bob/balance")
        .await?;
    let redeemed = device::redeem(&bob, codes[0]).await?;
    assert_eq!(redeemed.amount_micros, 25 * MICROS_PER_CREDIT);
    let after = org
        .admin
        .get::<BalanceInfo>("/v1/admin/users/bob/balance")
        .await?;
    assert_eq!(
        after.balance_micros,
        before.balance_micros + 25 * MICROS_PER_CREDIT
    );

    // bob's own daily budget, set in the window below what he spent today, stops his device's sends.
    app.click("org-tab-people").await?;
    app.click("budget-edit-bob").await?;
    let own = eventually("the budget dialog's own-amount choice", || async {
        let choice = "//*[@data-testid='budget-daily-mode']//input[@value='own']/ancestor::label";
        Ok(app.client.find(Locator::XPath(choice)).await.ok())
    })
    .await?;
    app.click_element(&own, "the daily budget's own amount")
        .await?;
    app.fill("budget-daily", "5").await?;
    app.click("budget-save").await?;
    eventually("the server to take bob's budget", || async {
        let users: Vec<UserSummary> = org.admin.get("/v1/admin/users").await?;
        Ok(users
            .iter()
            .any(|user| {
                user.user.name == "bob" && user.daily_budget_micros == Some(5 * MICROS_PER_CREDIT)
            })
            .then_some(()))
    })
    .await?;
    device::sync_once(&bob).await?;
    let gate = bob
        .lock()
        .map_err(|_| "the ledger lock")?
        .may_send(&app.share_url)?;
    assert_eq!(
        (gate.allowed, gate.code),
        (false, Some("daily_budget_spent"))
    );

    // The org report shows what the server's entries add up to, and its CSV holds exactly those rows.
    let expected = spend_per_user(&org.admin, &["alice", "bob"]).await?;
    assert_eq!(expected.len(), 2, "both users spent: {expected:?}");
    app.click("org-tab-report").await?;
    eventually("the report to show every user's spend", || async {
        app.click("report-refresh").await?;
        let mut shown = BTreeMap::new();
        for row in app
            .client
            .find_all(Locator::Css("[data-testid=report-row]"))
            .await?
        {
            let key = row.attr("data-key").await?.unwrap_or_default();
            let micros: i64 = row.attr("data-micros").await?.unwrap_or_default().parse()?;
            shown.insert(key, micros);
        }
        Ok((shown == expected).then_some(()))
    })
    .await?;
    app.click("export-csv").await?;
    app.text_shown("export-result").await?;
    let exported = eventually("the report's CSV in Downloads", || async {
        downloaded(&app, "tokendesk-org-report-")
    })
    .await?;
    let mut csv_rows = BTreeMap::new();
    for record in csv::Reader::from_path(&exported)?.records() {
        let record = record?;
        let credits = rust_decimal::Decimal::from_str_exact(&record[1])?;
        csv_rows.insert(record[0].to_owned(), credits);
    }
    let expected_credits: BTreeMap<String, rust_decimal::Decimal> = expected
        .iter()
        .map(|(user, micros)| (user.clone(), micros_to_credits(*micros)))
        .collect();
    assert_eq!(csv_rows, expected_credits);
    let today = chrono::Local::now().date_naive();
    let first = today.with_day(1).ok_or("the first of the month")?;
    let servers_csv = org
        .admin
        .get_text(&format!(
            "/v1/admin/report?by=user&from={first}&to={today}&format=csv"
        ))
        .await?;
    assert_eq!(
        std::fs::read_to_string(&exported)?,
        servers_csv,
        "the same query"
    );
    app.finish().await
}
