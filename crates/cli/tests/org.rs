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
            let state = tokendesk_server::AppState::new(pool);
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

fn balance(dir: &DataDir) -> Value {
    dir.json(&["status"], "")["balance"].clone()
}

fn number(value: &Value) -> String {
    value.to_string()
}

#[test]
fn two_devices_charge_while_the_server_is_down_and_agree_after_syncing() {
    let cluster = Cluster::shared();
    let mut server = Server::start(&cluster.database(), None);
    server.create_admin("root");
    let url = server.url();

    let admin = DataDir::new();
    admin.json(
        &["org", "login", &url, "root", "--password-stdin"],
        PASSWORD,
    );
    admin.json(
        &["org", "users", "add", "alice", "--display-name", "Alice"],
        "",
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
        &["org", "apps", "add", "Chat", PAGE, "--model", "org-model"],
        "",
    );
    admin.json(
        &["org", "grant", "alice", "1000", "--reason", "welcome"],
        "",
    );
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
    assert_eq!(number(&balance(&laptop)), "1000");
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
        (first["pending"].clone(), number(&first["balance"])),
        (Value::from(0), "988".into())
    );
    desktop.json(&["sync"], "");
    laptop.json(&["sync"], "");
    // 1000 − 12 (m1, once) − 20 (m2).
    for dir in [&laptop, &desktop] {
        assert_eq!(number(&balance(dir)), "968");
    }
    assert_eq!(
        number(&admin.json(&["org", "balance", "alice"], "")["balance"]),
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
