//! Who may call what: the authorization table, sign-in and its rate limit, enrollment codes, orgs kept
//! apart, and the first admin made with the command line.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{ADMIN, Answer, PASSWORD, Server, World, create_admin, held, push_json};
use reqwest::Method;
use serde_json::{Value, json};
use tokendesk_server::auth::hash_token;
use tokendesk_sync_proto::admin::{EnrollmentCode, HeldInfo, Session};
use tokendesk_sync_proto::device::{EnrollAnswer, HoldReason};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    Public,
    Admin,
    Device,
}

struct Endpoint {
    method: Method,
    path: String,
    access: Access,
    /// One body per credential, in the order of `Credentials::all`.
    bodies: Vec<Option<Value>>,
    /// The admin session to use instead of the usual one (logout ends it).
    admin_token: Option<String>,
}

fn endpoint(
    method: Method,
    path: impl Into<String>,
    access: Access,
    body: Option<Value>,
) -> Endpoint {
    Endpoint {
        method,
        path: path.into(),
        access,
        bodies: vec![body; CREDENTIALS],
        admin_token: None,
    }
}

const CREDENTIALS: usize = 7;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Credential {
    None,
    Device,
    RevokedDevice,
    UnknownDevice,
    ExpiredSession,
    UnknownSession,
    AdminSession,
}

impl Credential {
    /// The admin session comes last, so that writes refused first cannot hide behind a change it made.
    const ALL: [Credential; CREDENTIALS] = [
        Credential::None,
        Credential::Device,
        Credential::RevokedDevice,
        Credential::UnknownDevice,
        Credential::ExpiredSession,
        Credential::UnknownSession,
        Credential::AdminSession,
    ];

    /// The designed answer: `None` for allowed (any 2xx), else status and code.
    fn expected(self, access: Access) -> Option<(u16, &'static str)> {
        match (access, self) {
            (Access::Public, _) => None,
            (Access::Admin, Credential::AdminSession) => None,
            (Access::Admin, _) => Some((401, "unauthorized")),
            (Access::Device, Credential::Device) => None,
            (Access::Device, Credential::RevokedDevice) => Some((403, "device_revoked")),
            (Access::Device, _) => Some((401, "unauthorized")),
        }
    }
}

#[tokio::test]
async fn every_endpoint_admits_exactly_the_designed_callers() {
    let World {
        server,
        app,
        device,
        snapshot,
    } = World::new().await;
    let spare = server.enroll("alice", "spare").await;
    let revoked = server.enroll("alice", "old").await;
    let answer = server
        .call(
            Method::POST,
            &format!("/v1/admin/devices/{}/revoke", revoked.id),
            Some(&server.admin),
            None,
        )
        .await;
    assert!(
        answer.ok::<Value>()["revoked"].as_bool().unwrap_or(false),
        "{answer:?}"
    );

    let expired: Session = server.login(None, ADMIN, PASSWORD).await.ok();
    let changed = sqlx::query(
        "UPDATE admin_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
    )
    .bind(hash_token(&expired.token))
    .execute(&server.pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(
        changed, 1,
        "the session is stored by the SHA-256 of its token"
    );
    let departing: Session = server.login(None, ADMIN, PASSWORD).await.ok();

    // Two held events to approve and reject, a grant to reverse.
    let pushed = server
        .push(
            &device,
            &[
                held(&snapshot, &app, 1, "held-1", HoldReason::Cap),
                held(&snapshot, &app, 2, "held-2", HoldReason::Flood),
            ],
        )
        .await;
    assert_eq!(pushed.status, 200, "{pushed:?}");
    let holds: Vec<HeldInfo> = server.admin_get("/v1/admin/held").await.ok();
    assert_eq!(holds.len(), 2, "{holds:?}");
    let grant = server.grant("alice", "5").await;
    let grant_id = grant["id"].as_str().unwrap().to_owned();

    let zeros = "0".repeat(64);
    let token = |credential: Credential, endpoint: &Endpoint| -> Option<String> {
        match credential {
            Credential::None => None,
            Credential::Device => Some(device.token.clone()),
            Credential::RevokedDevice => Some(revoked.token.clone()),
            Credential::UnknownDevice => Some(format!("tdd_{zeros}")),
            Credential::ExpiredSession => Some(expired.token.clone()),
            Credential::UnknownSession => Some(format!("tds_{zeros}")),
            Credential::AdminSession => Some(
                endpoint
                    .admin_token
                    .clone()
                    .unwrap_or_else(|| server.admin.clone()),
            ),
        }
    };

    let mut codes = Vec::new();
    for _ in 0..CREDENTIALS {
        let code = server.enrollment_code("alice").await;
        codes.push(Some(
            json!({ "code": code, "device_name": "table", "device_clock": chrono::Utc::now() }),
        ));
    }
    let login = json!({ "name": ADMIN, "password": PASSWORD });
    let push = push_json(&[]);
    let app_body = json!({
        "name": "Other", "share_url": "https://dify.example/chat/other", "pricing": "model", "model": "gpt-test",
    });
    let model =
        json!({ "input_usd_per_1k": "0.003", "output_usd_per_1k": "0.004", "reason": "table" });
    let import = json!({
        "models": [{ "name": "imported", "price": { "input_per_1k": "0.1", "output_per_1k": "0.2" } }],
        "reason": "table",
    });
    use Access::*;
    let mut table = vec![
        endpoint(Method::GET, "/v1/health", Public, None),
        endpoint(Method::GET, "/v1/openapi.json", Public, None),
        endpoint(Method::POST, "/v1/admin/login", Public, Some(login)),
        Endpoint {
            admin_token: Some(departing.token.clone()),
            ..endpoint(Method::POST, "/v1/admin/logout", Admin, None)
        },
        endpoint(Method::GET, "/v1/admin/users", Admin, None),
        endpoint(
            Method::POST,
            "/v1/admin/users",
            Admin,
            Some(json!({ "name": "bob", "role": "staff" })),
        ),
        endpoint(
            Method::POST,
            "/v1/admin/users/alice/enrollment-codes",
            Admin,
            None,
        ),
        endpoint(Method::GET, "/v1/admin/devices", Admin, None),
        endpoint(
            Method::POST,
            format!("/v1/admin/devices/{}/revoke", spare.id),
            Admin,
            None,
        ),
        endpoint(Method::GET, "/v1/admin/users/alice/balance", Admin, None),
        endpoint(
            Method::GET,
            "/v1/admin/users/alice/entries?limit=10",
            Admin,
            None,
        ),
        endpoint(
            Method::POST,
            "/v1/admin/users/alice/entries",
            Admin,
            Some(json!({ "kind": "topup", "amount": "7", "reason": "table" })),
        ),
        endpoint(
            Method::POST,
            format!("/v1/admin/entries/{grant_id}/reverse"),
            Admin,
            Some(json!({ "reason": "table" })),
        ),
        endpoint(Method::GET, "/v1/admin/models", Admin, None),
        endpoint(
            Method::PUT,
            "/v1/admin/models/gpt-other",
            Admin,
            Some(model),
        ),
        endpoint(
            Method::GET,
            "/v1/admin/models/gpt-test/history",
            Admin,
            None,
        ),
        endpoint(Method::POST, "/v1/admin/models/import", Admin, Some(import)),
        endpoint(Method::GET, "/v1/admin/rate", Admin, None),
        endpoint(
            Method::PUT,
            "/v1/admin/rate",
            Admin,
            Some(json!({ "credits_per_usd": "12000", "reason": "table" })),
        ),
        endpoint(Method::GET, "/v1/admin/apps", Admin, None),
        endpoint(Method::POST, "/v1/admin/apps", Admin, Some(app_body)),
        endpoint(
            Method::PATCH,
            format!("/v1/admin/apps/{}", app.id),
            Admin,
            Some(json!({ "name": "Chat renamed" })),
        ),
        endpoint(Method::GET, "/v1/admin/policy", Admin, None),
        endpoint(
            Method::PUT,
            "/v1/admin/policy",
            Admin,
            Some(json!({ "key": "offline_allowance", "value": "50" })),
        ),
        endpoint(Method::GET, "/v1/admin/navigation-hosts", Admin, None),
        endpoint(
            Method::POST,
            "/v1/admin/navigation-hosts",
            Admin,
            Some(json!({ "origin": "https://dify.example" })),
        ),
        endpoint(Method::GET, "/v1/admin/held?all=true", Admin, None),
        endpoint(
            Method::POST,
            format!("/v1/admin/held/{}/approve", holds[0].id),
            Admin,
            Some(json!({})),
        ),
        endpoint(
            Method::POST,
            format!("/v1/admin/held/{}/reject", holds[1].id),
            Admin,
            Some(json!({ "note": "table" })),
        ),
        endpoint(Method::GET, "/v1/admin/report?by=user", Admin, None),
        endpoint(
            Method::GET,
            "/v1/admin/report?by=day&format=csv",
            Admin,
            None,
        ),
        endpoint(
            Method::PUT,
            "/v1/admin/users/alice/budget",
            Admin,
            Some(json!({ "daily": "5", "monthly": null })),
        ),
        endpoint(Method::GET, "/v1/admin/redemption-codes", Admin, None),
        endpoint(
            Method::POST,
            "/v1/admin/redemption-codes",
            Admin,
            Some(json!({ "count": 1, "amount": "5", "reason": "table", "valid_days": null })),
        ),
        endpoint(Method::GET, "/v1/admin/audit?limit=5", Admin, None),
        Endpoint {
            bodies: codes,
            ..endpoint(Method::POST, "/v1/enroll", Public, None)
        },
        endpoint(Method::GET, "/v1/config?since=1", Device, None),
        endpoint(Method::POST, "/v1/sync/push", Device, Some(push.clone())),
        endpoint(Method::POST, "/v1/sync/lease", Device, Some(push)),
    ];

    let mut failures = Vec::new();
    for endpoint in &mut table {
        for (index, credential) in Credential::ALL.into_iter().enumerate() {
            let before = server.fingerprint().await;
            let token = token(credential, &*endpoint);
            let body = endpoint.bodies[index].take();
            let answer = server
                .call(
                    endpoint.method.clone(),
                    &endpoint.path,
                    token.as_deref(),
                    body.as_ref(),
                )
                .await;
            let line = format!("{} {} as {credential:?}", endpoint.method, endpoint.path);
            match credential.expected(endpoint.access) {
                None if !(200..300).contains(&answer.status) => {
                    failures.push(format!("{line}: refused: {answer:?}"))
                }
                None => {}
                Some((status, code)) => {
                    let body: Value = serde_json::from_str(&answer.text).unwrap_or(Value::Null);
                    let is_error_body = body.as_object().is_some_and(|o| o.len() == 2)
                        && body["message"].as_str().is_some_and(|m| !m.is_empty());
                    if answer.status != status || body["code"] != code || !is_error_body {
                        failures.push(format!("{line}: expected {status} {code}, got {answer:?}"));
                    }
                    if server.fingerprint().await != before {
                        failures.push(format!("{line}: refused, but changed the data"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // What the allowed calls did, they did once.
    assert_eq!(
        server
            .count("SELECT count(*) FROM users WHERE name = 'bob'")
            .await,
        1
    );
    assert_eq!(
        server
            .count("SELECT count(*) FROM devices WHERE name = 'table'")
            .await,
        CREDENTIALS as i64
    );
    assert_eq!(
        server
            .count("SELECT count(*) FROM entries WHERE kind = 'topup'")
            .await,
        1
    );
    assert_eq!(
        server
            .count("SELECT count(*) FROM held_events WHERE status = 'pending'")
            .await,
        0
    );
    let after_logout = server.get("/v1/admin/users", &departing.token).await;
    after_logout.refused(401, "unauthorized");
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_and_twenty_lock_the_address() {
    let server = Server::start().await;
    for _ in 0..5 {
        server
            .login(None, ADMIN, "wrong password")
            .await
            .refused(401, "unauthorized");
    }
    server
        .login(None, ADMIN, PASSWORD)
        .await
        .refused(429, "rate_limited");
    assert!(
        server
            .count("SELECT count(*) FROM login_failures WHERE name = 'root'")
            .await
            >= 5
    );
    assert_eq!(
        server.count("SELECT count(*) FROM admin_sessions").await,
        1,
        "only the session of Server::start"
    );

    // Another account from the same address is not locked by the first one's failures.
    create_admin(&server.pool, server.org_id, "second", PASSWORD).await;
    create_admin(&server.pool, server.org_id, "third", PASSWORD).await;
    let _: Session = server.login(None, "second", PASSWORD).await.ok();
    // Staff never sign in, whatever the password.
    server.add_staff("alice").await;
    server
        .login(None, "alice", "")
        .await
        .refused(401, "unauthorized");
    // 5 + 1 failures so far; 14 more from this address, on names that do not exist.
    for n in 0..14 {
        server
            .login(None, &format!("ghost{n}"), "x")
            .await
            .refused(401, "unauthorized");
    }
    server
        .login(None, "third", PASSWORD)
        .await
        .refused(429, "rate_limited");
}

#[tokio::test]
async fn an_enrollment_code_works_once_and_never_when_expired_or_unknown() {
    let server = Server::start().await;
    server.add_staff("alice").await;
    let code = server.enrollment_code("alice").await;
    let first: EnrollAnswer = server.enroll_with(&code, "laptop").await.ok();
    assert_eq!(
        (first.user.name.as_str(), first.org.name.as_str()),
        ("alice", "acme")
    );
    assert!(first.device_token.starts_with("tdd_"), "{first:?}");
    let stored: (bool, Option<uuid::Uuid>) =
        sqlx::query_as("SELECT used_at IS NOT NULL, device_id FROM enrollment_codes")
            .fetch_one(&server.pool)
            .await
            .unwrap();
    assert_eq!(stored, (true, Some(first.device_id)));
    let token_stored = server
        .count(&format!(
            "SELECT count(*) FROM devices WHERE token_hash = '{}'",
            hash_token(&first.device_token)
        ))
        .await;
    assert_eq!(token_stored, 1, "the device's token is kept as its SHA-256");
    let plain_stored = server
        .count(&format!(
            "SELECT count(*) FROM enrollment_codes WHERE code_hash = '{code}'"
        ))
        .await;
    assert_eq!(plain_stored, 0, "the code itself is never stored");

    let before = server.fingerprint().await;
    let again = server
        .enroll_with(&code, "second laptop")
        .await
        .refused(403, "code_invalid");

    let late = server.enrollment_code("alice").await;
    sqlx::query("UPDATE enrollment_codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL")
        .execute(&server.pool)
        .await
        .unwrap();
    let expired = server
        .enroll_with(&late, "tablet")
        .await
        .refused(403, "code_invalid");
    let unknown = server
        .enroll_with("AAAA-BBBB-CCCC", "tablet")
        .await
        .refused(403, "code_invalid");
    assert_eq!(server.fingerprint().await, before);
    assert_eq!(server.count("SELECT count(*) FROM devices").await, 1);
    assert!(
        again == expired && expired == unknown,
        "the refusal does not say why: {again:?} {expired:?} {unknown:?}"
    );

    // A code is for a user of this org: none for a name the org lacks.
    let missing = server
        .request_enrollment_code(&server.admin, "nobody")
        .await;
    missing.refused(404, "not_found");
}

#[tokio::test]
async fn orgs_are_kept_apart() {
    let server = Server::start().await;
    server.add_staff("alice").await;
    let acme_device = server.enroll("alice", "laptop").await;
    let globex = tokendesk_server::orgs::ensure_org(&server.pool, "globex")
        .await
        .unwrap();
    assert_ne!(globex, server.org_id);
    create_admin(&server.pool, globex, "gadmin", PASSWORD).await;

    // With two orgs a sign-in must name one.
    server
        .login(None, ADMIN, PASSWORD)
        .await
        .refused(400, "org_required");
    server
        .login(Some("acme"), "gadmin", PASSWORD)
        .await
        .refused(401, "unauthorized");
    let session: Session = server.login(Some("globex"), "gadmin", PASSWORD).await.ok();
    assert_eq!(session.org.name, "globex");
    let gadmin = session.token;

    let staff = json!({ "name": "gina", "role": "staff" });
    let _: Value = server
        .call(Method::POST, "/v1/admin/users", Some(&gadmin), Some(&staff))
        .await
        .ok();
    // acme's admin cannot make a code for globex's user, nor see or revoke globex's devices.
    let cross = server.request_enrollment_code(&server.admin, "gina").await;
    cross.refused(404, "not_found");
    let code: EnrollmentCode = server.request_enrollment_code(&gadmin, "gina").await.ok();
    let enrolled: EnrollAnswer = server.enroll_with(&code.code, "globex laptop").await.ok();
    assert_eq!(
        (enrolled.org.name.as_str(), enrolled.user.name.as_str()),
        ("globex", "gina")
    );

    let acme_devices: Vec<Value> = server.admin_get("/v1/admin/devices").await.ok();
    let acme_ids: Vec<&str> = acme_devices
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    assert_eq!(acme_ids, [acme_device.id.to_string()]);
    let before = server.fingerprint().await;
    let revoke = format!("/v1/admin/devices/{}/revoke", enrolled.device_id);
    server
        .call(Method::POST, &revoke, Some(&server.admin), None)
        .await
        .refused(404, "not_found");
    server
        .call(
            Method::GET,
            "/v1/admin/users/alice/balance",
            Some(&gadmin),
            None,
        )
        .await
        .refused(404, "not_found");
    assert_eq!(server.fingerprint().await, before);
    let globex_users: Vec<Value> = server
        .call(Method::GET, "/v1/admin/users", Some(&gadmin), None)
        .await
        .ok();
    let names: Vec<&str> = globex_users
        .iter()
        .filter_map(|u| u["user"]["name"].as_str())
        .collect();
    assert_eq!(names, ["gadmin", "gina"]);
}

fn cli(database_url: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tokendesk-server"))
        .arg("--database-url")
        .arg(database_url)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tokendesk-server");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn the_first_admin_is_made_on_the_command_line() {
    let url = tokendesk_test_support::Cluster::shared().database();
    let migrated = cli(&url, &["migrate"], "");
    assert!(migrated.status.success(), "{migrated:?}");
    let made = cli(
        &url,
        &[
            "admin",
            "create",
            "boss",
            "--password-stdin",
            "--org",
            "acme",
        ],
        "a long password\n",
    );
    assert!(made.status.success(), "{made:?}");
    let twice = cli(
        &url,
        &[
            "admin",
            "create",
            "boss",
            "--password-stdin",
            "--org",
            "acme",
        ],
        "a long password\n",
    );
    assert!(
        !twice.status.success(),
        "a second admin of that name: {twice:?}"
    );
    let short = cli(
        &url,
        &[
            "admin",
            "create",
            "weak",
            "--password-stdin",
            "--org",
            "acme",
        ],
        "short\n",
    );
    assert!(
        !short.status.success(),
        "a password under 8 characters: {short:?}"
    );

    let pool = tokendesk_server::connect(&url).await.unwrap();
    let server = Server::start_on(url, pool).await;
    let session: Answer = server.login(Some("acme"), "boss", "a long password").await;
    assert_eq!(session.ok::<Session>().user.name, "boss");
    assert_eq!(
        server
            .count("SELECT count(*) FROM users WHERE name = 'weak'")
            .await,
        0
    );
    let audit = server
        .count("SELECT count(*) FROM audit WHERE action = 'user.add' AND detail->>'name' = 'boss'")
        .await;
    assert_eq!(audit, 1, "the CLI's admin is audited");
}
