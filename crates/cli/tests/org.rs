//! The org as a new user runs it: a server, an admin, two enrolled data dirs that charge while the server is
//! down, and one correct balance everywhere after they sync. The `tokendesk` binary does everything a person
//! would type; the server runs in-process on a real PostgreSQL and is stopped and started again.

mod common;

use common::DataDir;
use serde_json::Value;
use std::net::SocketAddr;
use tokendesk_test_support::Cluster;

const PAGE: &str = "http://127.0.0.1:8765/chat/org-test";
const PASSWORD: &str = "correct horse battery";

/// The server in a runtime of its own, so that stopping it ends every connection it holds.
struct Server {
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    database_url: String,
}

impl Server {
    fn start(database_url: &str, addr: Option<SocketAddr>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = runtime.block_on(async {
            let pool = tokendesk_server::connect(database_url).await.unwrap();
            tokendesk_server::migrate(&pool).await.unwrap();
            let listener =
                tokio::net::TcpListener::bind(addr.unwrap_or(([127, 0, 0, 1], 0).into()))
                    .await
                    .unwrap();
            let addr = listener.local_addr().unwrap();
            // Dify's records settle as soon as they are final, so a test need not wait.
            let reconcile = tokendesk_server::dify::ReconcileSettings {
                settle_after: chrono::TimeDelta::zero(),
                ..Default::default()
            };
            let state = tokendesk_server::AppState::with_reconcile(pool, reconcile);
            tokio::spawn(tokendesk_server::serve(listener, state));
            addr
        });
        Server {
            runtime: Some(runtime),
            addr,
            database_url: database_url.into(),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn stop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }

    fn restart(&mut self) {
        self.stop();
        *self = Server::start(&self.database_url, Some(self.addr));
    }

    /// The first admin, made on the server's machine as `tokendesk-server admin create` does.
    fn create_admin(&self, name: &str) {
        self.runtime.as_ref().unwrap().block_on(async {
            let pool = tokendesk_server::connect(&self.database_url).await.unwrap();
            tokendesk_server::admin::create_admin(&pool, "default", name, PASSWORD, "setup")
                .await
                .unwrap();
        });
    }
}

/// Records a reply's `message_end` as the relay would.
fn charge(dir: &DataDir, message_id: &str, prompt: u64, completion: u64) -> Value {
    let frame = serde_json::json!({
        "event": "message_end", "message_id": message_id, "id": message_id, "conversation_id": "c1",
        "metadata": {"usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                               "total_price": "0", "currency": "USD"}},
    });
    dir.json(&["record", "--app", PAGE], &frame.to_string())
}

/// The balance `status` shows.
fn balance(dir: &DataDir) -> String {
    decimal(&dir.json(&["status"], "")["balance"])
}

/// Credits as every JSON answer gives them: an exact decimal in a string.
fn decimal(value: &Value) -> String {
    value
        .as_str()
        .expect("credits as a decimal string")
        .to_owned()
}

/// The org's first admin, made on the server's machine and signed in from a data dir of their own.
fn first_admin(server: &Server) -> DataDir {
    server.create_admin("root");
    let admin = DataDir::new();
    admin.json(
        &["org", "login", &server.url(), "root", "--password-stdin"],
        PASSWORD,
    );
    admin
}

/// The org's model at 0.001 / 0.002 USD per 1K tokens, the chat app bound to it, and `credits` for `user`.
fn price_the_chat_and_grant(admin: &DataDir, user: &str, credits: &str) {
    price_the_model(admin);
    admin.json(
        &["org", "apps", "add", "Chat", PAGE, "--model", "org-model"],
        "",
    );
    admin.json(&["org", "grant", user, credits, "--reason", "welcome"], "");
}

/// The org's model at 0.001 / 0.002 USD per 1K tokens.
fn price_the_model(admin: &DataDir) {
    admin.json(
        &[
            "org",
            "models",
            "set",
            "org-model",
            "--input",
            "0.001",
            "--output",
            "0.002",
        ],
        "",
    );
}

#[test]
fn two_devices_charge_while_the_server_is_down_and_agree_after_syncing() {
    let cluster = Cluster::shared();
    let mut server = Server::start(&cluster.database(), None);
    let url = server.url();
    let admin = first_admin(&server);
    admin.json(
        &["org", "users", "add", "alice", "--display-name", "Alice"],
        "",
    );
    price_the_chat_and_grant(&admin, "alice", "1000");
    // Each device may spend 100 credits between syncs; the rest of the balance stays unreserved.
    admin.json(&["org", "policy", "set", "offline_allowance", "100"], "");

    let (laptop, desktop) = (DataDir::new(), DataDir::new());
    for (dir, name) in [(&laptop, "laptop"), (&desktop, "desktop")] {
        let made = admin.json(&["org", "enroll-code", "alice"], "");
        let code = made["code"].as_str().unwrap().to_owned();
        // The laptop types the URL and the code; the desktop pastes the join link that holds both.
        let enrolled = if name == "laptop" {
            dir.json(&["enroll", &url, &code, "--name", name], "")
        } else {
            let link = made["join_link"].as_str().unwrap();
            assert!(link.starts_with("tokendesk://join?server=http%3A%2F%2F127.0.0.1"));
            dir.json(&["enroll", link, "--name", name], "")
        };
        assert!(enrolled["device_id"].is_string());
        // A code works once.
        assert!(
            !DataDir::new()
                .run(&["enroll", &url, &code], "")
                .status
                .success()
        );
    }
    assert_eq!(balance(&laptop), "1000");
    let status = laptop.json(&["status"], "");
    assert_eq!(status["sync"]["enrolled"], true);
    assert_eq!(status["sync"]["pending"], 0);

    // Enrolled, the local admin commands are refused with the server's name.
    let refused = laptop.run(
        &["grant", "alice@default", "100", "--reason", "free tokens"],
        "",
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&url),
        "{refused:?}"
    );

    server.stop();
    // 1000 prompt + 100 completion tokens at 0.001/0.002 per 1K = 0.0012 USD = 12 credits.
    assert_eq!(charge(&laptop, "m1", 1000, 100)["outcome"], "charged");
    assert_eq!(charge(&desktop, "m2", 2000, 0)["outcome"], "charged");
    // The same reply reported by both devices is charged once in the end.
    assert_eq!(charge(&desktop, "m1", 1000, 100)["outcome"], "charged");
    assert_eq!(laptop.json(&["status"], "")["sync"]["pending"], 1);
    let offline = laptop.run(&["sync"], "");
    assert!(
        !offline.status.success(),
        "sync must fail while the server is down"
    );
    assert_eq!(
        laptop.json(&["status"], "")["sync"]["pending"],
        1,
        "nothing is lost by a failed sync"
    );

    server.restart();
    let first = laptop.json(&["sync"], "");
    assert_eq!(
        (first["pending"].clone(), decimal(&first["balance"])),
        (Value::from(0), "988".into())
    );
    desktop.json(&["sync"], "");
    laptop.json(&["sync"], "");
    // 1000 − 12 (m1, once) − 20 (m2).
    for dir in [&laptop, &desktop] {
        assert_eq!(balance(dir), "968");
    }
    assert_eq!(
        decimal(&admin.json(&["org", "balance", "alice"], "")["balance"]),
        "968"
    );
    let devices = admin.json(&["org", "devices", "list"], "");
    assert_eq!(devices.as_array().unwrap().len(), 2);
    for dir in [&laptop, &desktop] {
        assert_eq!(dir.json(&["verify"], "")["ok"], true);
    }
    let report = admin.json(&["org", "report", "--by", "user"], "");
    assert_eq!(report["rows"][0]["key"], "alice");
    assert_eq!(report["rows"][0]["messages"], 2);
}

#[test]
fn a_users_budget_counts_all_their_devices_and_a_redemption_code_credits_once() {
    let cluster = Cluster::shared();
    let server = Server::start(&cluster.database(), None);
    let admin = first_admin(&server);
    admin.json(&["org", "users", "add", "bea"], "");
    price_the_chat_and_grant(&admin, "bea", "100");
    // Each device reserves 40 of the 100 credits for offline use, so both can charge.
    admin.json(&["org", "policy", "set", "offline_allowance", "40"], "");
    let set = admin.json(&["org", "budget", "bea", "--daily", "30"], "");
    assert_eq!(set["daily_budget_micros"], 30_000_000);
    assert_eq!(set["monthly_budget_micros"], Value::Null);

    let (laptop, desktop) = (DataDir::new(), DataDir::new());
    for dir in [&laptop, &desktop] {
        let made = admin.json(&["org", "enroll-code", "bea"], "");
        dir.json(&["enroll", made["join_link"].as_str().unwrap()], "");
    }
    // 12 credits on each device: the budget counts both, on both.
    assert_eq!(charge(&laptop, "b1", 1000, 100)["outcome"], "charged");
    laptop.json(&["sync"], "");
    assert_eq!(charge(&desktop, "b2", 1000, 100)["outcome"], "charged");
    desktop.json(&["sync"], "");
    laptop.json(&["sync"], "");
    for dir in [&laptop, &desktop] {
        let budget = dir.json(&["status"], "")["sync"]["budget"].clone();
        assert_eq!(budget["daily_limit_micros"], 30_000_000, "{budget}");
        assert_eq!(budget["spent_today_micros"], 24_000_000, "{budget}");
    }
    let users = admin.json(&["org", "users", "list"], "");
    let bea = users
        .as_array()
        .unwrap()
        .iter()
        .find(|summary| summary["user"]["name"] == "bea")
        .unwrap();
    assert_eq!(bea["spent_today_micros"], 24_000_000);

    let csv = admin.0.path().join("codes.csv");
    let made = admin.json(
        &[
            "org",
            "codes",
            "create",
            "--count",
            "2",
            "--amount",
            "50",
            "--reason",
            "contest",
            "--out",
            csv.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(made["codes"].as_array().unwrap().len(), 2);
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "code,credits,expires_at,code_id,batch_id");
    assert_eq!(lines.len(), 3);
    let code = lines[1].split(',').next().unwrap();
    assert_eq!(code, made["codes"][0]["code"]);
    assert!(lines[1].contains(",50,"), "{}", lines[1]);

    let redeemed = laptop.json(&["redeem", code], "");
    assert_eq!(redeemed["amount_micros"], 50_000_000);
    // 100 − 12 − 12 + 50, on the laptop at once.
    assert_eq!(balance(&laptop), "126");
    let again = laptop.run(&["redeem", code], "");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("redemption_used"),
        "{again:?}"
    );
    let listed = admin.json(&["org", "codes", "list"], "");
    let redeemed_by: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|code| &code["redeemed_by"])
        .collect();
    assert_eq!(redeemed_by.iter().filter(|by| **by == "bea").count(), 1);
    assert_eq!(redeemed_by.iter().filter(|by| by.is_null()).count(), 1);
}

#[test]
fn every_org_admin_action_of_the_admin_window_is_a_command_too() {
    let cluster = Cluster::shared();
    let server = Server::start(&cluster.database(), None);
    let admin = first_admin(&server);
    let added = admin.json(
        &[
            "org",
            "users",
            "add",
            "carol",
            "--admin",
            "--password-stdin",
        ],
        "another long password\n",
    );
    assert_eq!(added["role"], "admin");
    // The new admin signs in with that password.
    DataDir::new().json(
        &["org", "login", &server.url(), "carol", "--password-stdin"],
        "another long password",
    );

    admin.json(
        &[
            "org",
            "models",
            "set",
            "org-model",
            "--input",
            "0.001",
            "--output",
            "0.002",
        ],
        "",
    );
    admin.json(
        &[
            "org",
            "models",
            "set",
            "org-model",
            "--input",
            "0.003",
            "--output",
            "0.002",
            "--reason",
            "dearer",
        ],
        "",
    );
    let history = admin.json(&["org", "models", "history", "org-model"], "");
    let reasons: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"dearer"), "{history}");

    let app = admin.json(
        &["org", "apps", "add", "Chat", PAGE, "--model", "org-model"],
        "",
    );
    let id = app["id"].as_str().unwrap();
    let edited = admin.json(
        &[
            "org",
            "apps",
            "edit",
            id,
            "--name",
            "Team chat",
            "--dify-price",
        ],
        "",
    );
    assert_eq!(
        (
            edited["name"].as_str(),
            edited["pricing"].as_str(),
            &edited["model"]
        ),
        (Some("Team chat"), Some("dify_price"), &Value::Null)
    );
    assert_eq!(
        admin.json(&["org", "apps", "disable", id], "")["enabled"],
        false
    );
    assert_eq!(
        admin.json(&["org", "apps", "enable", id], "")["enabled"],
        true
    );

    admin.json(&["org", "rate", "set", "12000", "--reason", "new year"], "");
    let rate = admin.json(&["org", "rate", "show"], "");
    assert_eq!(rate["credits_per_usd"], "12000");
    assert_eq!(rate["history"][0]["reason"], "new year");
    admin.json(&["org", "policy", "set", "time_zone", "Asia/Shanghai"], "");
    assert_eq!(
        admin.json(&["org", "policy", "show"], "")["time_zone"],
        "Asia/Shanghai"
    );
}

#[test]
fn an_admin_connects_dify_and_reconciles_a_reply_no_device_reported() {
    let cluster = Cluster::shared();
    let server = Server::start(&cluster.database(), None);
    let runtime = server.runtime.as_ref().unwrap();
    let sim = runtime
        .block_on(dify_sim::DifySim::start(
            "127.0.0.1:0".parse().unwrap(),
            dify_sim::SimConfig {
                first_byte_delay_ms: 0,
                frame_delay_ms: 0,
                prompt_tokens: Some(1000),
                completion_tokens: Some(500),
                ..Default::default()
            },
        ))
        .unwrap();
    let admin = first_admin(&server);
    price_the_model(&admin);
    let page = sim.share_url(dify_sim::AppKind::Chat, "cliChatApp");
    admin.json(
        &["org", "apps", "add", "Chat", &page, "--model", "org-model"],
        "",
    );
    let dave = admin.json(&["org", "users", "add", "dave"], "");
    admin.json(&["org", "grant", "dave", "100", "--reason", "welcome"], "");
    // Dave chats in a plain browser with his link: no device sees it.
    let dave_id = dave["id"].as_str().unwrap().to_owned();
    runtime.block_on(tokendesk_test_support::browser_reply(
        &sim.base_url(),
        "cliChatApp",
        Some(&dave_id),
    ));

    let account = dify_sim::ConsoleAccount::default();
    let connection = admin.json(
        &[
            "org",
            "dify",
            "add",
            "Work",
            &sim.base_url(),
            "--email",
            &account.email,
        ],
        &format!("{}\n", account.password),
    );
    assert!(!connection.to_string().contains(&account.password));
    let id = connection["id"].as_str().unwrap().to_owned();
    let test = admin.json(&["org", "dify", "test", &id], "");
    assert_eq!(test["signed_in"], true, "{test}");
    assert_eq!(test["linked"][0]["app_name"], "Chat");

    let first = admin.json(&["org", "reconcile"], "");
    let run = &first["report"]["connections"][0];
    assert_eq!(run["reported_by_dify"], 1, "{first}");
    let finding = &first["reconciliation"]["findings"][0];
    assert_eq!(finding["kind"], "reported_by_dify");
    assert_eq!(finding["user"], "dave");
    assert_eq!(finding["record"]["session_id"], dave_id.as_str());
    // 1000 + 500 tokens at 0.001 / 0.002 USD per 1K is 0.002 USD: 20 credits at the default rate.
    let balance = admin.json(&["org", "balance", "dave"], "");
    assert_eq!(balance["balance"], "80", "{balance}");
    let again = admin.json(&["org", "reconcile"], "");
    assert_eq!(again["report"]["connections"][0]["settled"], 0, "{again}");
    let listed = admin.json(&["org", "dify", "list"], "");
    assert_eq!(listed[0]["apps"][0]["console_app_id"], "cliChatApp");
    assert_eq!(listed[0]["sign_in_refused_at"], Value::Null);
    // The human output names the finding too.
    let text = admin.run(&["org", "reconcile"], "");
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("reported_by_dify"),
        "{text:?}"
    );
}
