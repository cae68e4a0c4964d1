//! Config versions and the long poll, reports (JSON and CSV), and the OpenAPI document.

mod common;

use chrono::{DateTime, Utc};
use common::{Device, Server, World, charge, charge_at, cost, price};
use reqwest::Method;
use serde_json::{Value, json};
use tokendesk_sync_proto::admin::{Report, ReportRow};
use tokendesk_sync_proto::device::{
    AppConfig, ConfigAnswer, ConfigSnapshot, ItemStatus, PushAnswer,
};

async fn config(server: &Server, device: &Device, query: &str) -> ConfigAnswer {
    server
        .get(&format!("/v1/config?{query}"), &device.token)
        .await
        .ok()
}

fn changed(answer: ConfigAnswer) -> ConfigSnapshot {
    match answer {
        ConfigAnswer::Changed { snapshot } => *snapshot,
        other => panic!("expected a new snapshot, got {other:?}"),
    }
}

fn price_of(snapshot: &ConfigSnapshot, model: &str) -> (String, String) {
    let model = snapshot.model(model).expect("the model");
    (
        model.price.input_per_1k.to_string(),
        model.price.output_per_1k.to_string(),
    )
}

#[tokio::test]
async fn a_price_change_is_a_new_config_version_that_devices_pull() {
    let World {
        server,
        app,
        device,
        snapshot: old,
    } = World::new().await;
    assert_eq!(price_of(&old, "gpt-test"), (s("0.001"), "0.002".into()));
    server.set_model("gpt-test", "0.002", "0.004").await;
    let new = changed(config(&server, &device, &format!("since={}", old.version)).await);
    assert_eq!(new.version, old.version + 1, "one admin write, one version");
    assert_eq!(price_of(&new, "gpt-test"), (s("0.002"), "0.004".into()));
    let history: Vec<Value> = server
        .admin_get("/v1/admin/models/gpt-test/history")
        .await
        .ok();
    let last = history
        .iter()
        .max_by_key(|c| c["config_version"].as_i64())
        .expect("a history row");
    assert_eq!(last["config_version"], new.version);
    let stored = server
        .count(&format!(
            "SELECT count(*) FROM config_snapshots WHERE version = {}",
            new.version
        ))
        .await;
    assert_eq!(stored, 1);

    // Balances are not config: a grant leaves the version alone.
    server.grant("alice", "1").await;
    let unchanged = config(&server, &device, &format!("since={}&wait=0", new.version)).await;
    assert_eq!(
        unchanged,
        ConfigAnswer::Unchanged {
            version: new.version
        }
    );
    // One import, one version, however many models.
    let import = json!({ "models": [
        { "name": "m-one", "price": { "input_per_1k": "0.1", "output_per_1k": "0.2" } },
        { "name": "m-two", "price": { "input_per_1k": "0.3", "output_per_1k": "0.4" } } ] });
    let report: Value = server
        .admin_send(Method::POST, "/v1/admin/models/import", import)
        .await
        .ok();
    assert_eq!(
        (
            report["created"].as_i64(),
            report["config_version"].as_i64()
        ),
        (Some(2), Some(new.version + 1))
    );

    // A charge is re-priced at the version it names: the old price at the old version is right, the
    // old price at the new version is not.
    let at_old = charge(&old, &app, 1, "m1", 1000, 500);
    let mut stale = charge(&old, &app, 2, "m2", 1000, 500);
    stale.config_version = new.version;
    let answer: PushAnswer = server.push(&device, &[at_old, stale]).await.ok();
    let statuses: Vec<ItemStatus> = answer.results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [ItemStatus::Accepted, ItemStatus::Quarantined]);
    let server_amount = server
        .count("SELECT server_amount_micros FROM held_events")
        .await;
    assert_eq!(server_amount.abs(), cost(&new, &app, 1000, 500));
}

#[tokio::test]
async fn the_long_poll_answers_unchanged_or_wakes_on_a_change() {
    let World {
        server,
        device,
        snapshot,
        ..
    } = World::new().await;
    let current = snapshot.version;
    let quiet = config(&server, &device, &format!("since={current}&wait=1")).await;
    assert_eq!(quiet, ConfigAnswer::Unchanged { version: current });

    let url = server.url(&format!("/v1/config?since={current}&wait=30"));
    let http = server.http.clone();
    let token = device.token.clone();
    let waiting = tokio::spawn(async move {
        http.get(url)
            .bearer_auth(token)
            .send()
            .await?
            .json::<ConfigAnswer>()
            .await
    });
    // Give the poll a moment to start waiting; the answer is the same if it starts after the change.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    server.set_model("gpt-test", "0.005", "0.006").await;
    let woken = changed(waiting.await.unwrap().unwrap());
    assert_eq!(woken.version, current + 1);
    assert_eq!(price_of(&woken, "gpt-test"), (s("0.005"), "0.006".into()));
}

/// Pushes charges of `(app, day, prompt, completion)` from a device, all at that config; their costs.
async fn charges(
    server: &Server,
    device: &Device,
    snapshot: &ConfigSnapshot,
    items: &[(&AppConfig, &str, u64, u64)],
) -> Vec<i64> {
    let pushed: Vec<_> = items
        .iter()
        .enumerate()
        .map(|(n, (app, at, prompt, completion))| {
            let model = snapshot.model(app.model.as_deref().unwrap()).unwrap().price;
            let at: DateTime<Utc> = at.parse().unwrap();
            let message = format!("{}-{n}", device.id);
            charge_at(
                snapshot,
                app,
                model,
                n as i64 + 1,
                &message,
                *prompt,
                *completion,
                at,
            )
        })
        .collect();
    let answer: PushAnswer = server.push(device, &pushed).await.ok();
    assert!(
        answer
            .results
            .iter()
            .all(|r| r.status == ItemStatus::Accepted),
        "{answer:?}"
    );
    items
        .iter()
        .map(|(app, _, p, c)| cost(snapshot, app, *p, *c))
        .collect()
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn rows(report: &Report) -> Vec<(String, i64, i64, i64, i64)> {
    let mut rows: Vec<_> = report
        .rows
        .iter()
        .map(
            |ReportRow {
                 key,
                 credits_micros,
                 prompt_tokens,
                 completion_tokens,
                 messages,
             }| {
                (
                    key.clone(),
                    credits_micros.abs(),
                    *prompt_tokens,
                    *completion_tokens,
                    *messages,
                )
            },
        )
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn reports_sum_spend_per_user_app_model_and_day() {
    let World {
        server,
        app: chat,
        device: alices,
        snapshot: _,
    } = World::new().await;
    server.set_model("gpt-big", "0.003", "0.006").await;
    // A name a spreadsheet would run as a formula.
    let formula = server.add_app("=SUM(A1)", "gpt-big").await;
    server.add_staff("bob").await;
    server.grant("bob", "1000").await;
    let bobs = server.enroll("bob", "desktop").await;
    let snapshot = server.snapshot(&alices).await;

    let day1 = "2024-03-01T10:00:00Z";
    let day2 = "2024-03-02T23:30:00Z";
    let a = charges(
        &server,
        &alices,
        &snapshot,
        &[
            (&chat, day1, 1000, 500),
            (&chat, day2, 2000, 1000),
            (&formula, day2, 1000, 500),
        ],
    )
    .await;
    let b = charges(
        &server,
        &bobs,
        &snapshot,
        &[
            (&chat, "2024-03-01T00:00:00Z", 500, 0),
            (&formula, day1, 0, 1000),
        ],
    )
    .await;
    assert_eq!(a, [20_000_000, 40_000_000, 60_000_000]);
    assert_eq!(b, [5_000_000, 60_000_000]);
    // Neither a duplicate nor a quarantined charge is spend.
    let dup = charge(&snapshot, &chat, 4, &format!("{}-0", alices.id), 1000, 500);
    let cheap = charge_at(
        &snapshot,
        &chat,
        price("0", "0"),
        5,
        "free",
        1000,
        500,
        Utc::now(),
    );
    let answer: PushAnswer = server.push(&alices, &[dup, cheap]).await.ok();
    let statuses: Vec<ItemStatus> = answer.results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [ItemStatus::Duplicate, ItemStatus::Quarantined]);

    let report = |query: &str| {
        let server = &server;
        let query = query.to_owned();
        async move {
            server
                .admin_get(&format!("/v1/admin/report?{query}"))
                .await
                .ok::<Report>()
        }
    };
    let m = 1_000_000;
    assert_eq!(
        rows(&report("by=user").await),
        [
            (s("alice"), 120 * m, 4000, 2000, 3),
            (s("bob"), 65 * m, 500, 1000, 2)
        ]
    );
    assert_eq!(
        rows(&report("by=app").await),
        [
            (s("=SUM(A1)"), 120 * m, 1000, 1500, 2),
            (s("Chat"), 65 * m, 3500, 1500, 3)
        ]
    );
    assert_eq!(
        rows(&report("by=model").await),
        [
            (s("gpt-big"), 120 * m, 1000, 1500, 2),
            (s("gpt-test"), 65 * m, 3500, 1500, 3)
        ]
    );
    assert_eq!(
        rows(&report("by=day").await),
        [
            (s("2024-03-01"), 85 * m, 1500, 1500, 3),
            (s("2024-03-02"), 100 * m, 3000, 1500, 2)
        ]
    );
    let only_day2 = report("by=user&from=2024-03-02&to=2024-03-02").await;
    assert_eq!(rows(&only_day2), [(s("alice"), 100 * m, 3000, 1500, 2)]);
    assert!(rows(&report("by=user&from=2024-03-03").await).is_empty());
    // Filters by user, app and model narrow any grouping, and the answer says which were asked.
    let alices_models = report("by=model&user=alice").await;
    assert_eq!(alices_models.user.as_deref(), Some("alice"));
    assert_eq!(
        rows(&alices_models),
        [
            (s("gpt-big"), 60 * m, 1000, 500, 1),
            (s("gpt-test"), 60 * m, 3000, 1500, 2)
        ]
    );
    assert_eq!(
        rows(&report("by=user&app=Chat").await),
        [
            (s("alice"), 60 * m, 3000, 1500, 2),
            (s("bob"), 5 * m, 500, 0, 1)
        ]
    );
    assert_eq!(
        rows(&report("by=day&model=gpt-big&from=2024-03-02").await),
        [(s("2024-03-02"), 60 * m, 1000, 500, 1)]
    );
    assert!(rows(&report("by=app&user=nobody").await).is_empty());

    let csv = server.admin_get("/v1/admin/report?by=app&format=csv").await;
    assert_eq!(csv.status, 200, "{csv:?}");
    assert!(csv.content_type.starts_with("text/csv"), "{csv:?}");
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two rows: {lines:?}");
    let header = lines[0].to_ascii_lowercase();
    assert!(
        header.starts_with("key") || header.contains("app"),
        "a header first: {header}"
    );
    assert!(
        !header.chars().any(|c| c.is_ascii_digit()),
        "the header is names: {header}"
    );
    let columns = lines[0].split(',').count();
    assert!(
        lines.iter().all(|l| l.split(',').count() == columns),
        "{lines:?}"
    );
    let formula_line = lines
        .iter()
        .find(|l| l.contains("SUM(A1)"))
        .expect("the formula app's row");
    assert!(
        formula_line.starts_with("'=SUM(A1)") || formula_line.starts_with("\"'=SUM(A1)"),
        "the cell is neutralised: {formula_line}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with('=') || l.contains(",=")),
        "{lines:?}"
    );
    // A reversed charge is no longer spend.
    let entries: Vec<Value> = server
        .admin_get("/v1/admin/users/alice/entries?limit=100")
        .await
        .ok();
    let reversed = entries
        .iter()
        .find(|e| {
            e["kind"] == "charge" && e["amount_micros"] == -40_000_000 && e["counted"] == true
        })
        .expect("alice's day-2 chat charge");
    let path = format!(
        "/v1/admin/entries/{}/reverse",
        reversed["id"].as_str().unwrap()
    );
    let _: Value = server
        .admin_send(Method::POST, &path, json!({ "reason": "refund" }))
        .await
        .ok();
    assert_eq!(server.balance("alice").await, 1000 * m - 80 * m);
    let credits = |rows: Vec<(String, i64, i64, i64, i64)>| {
        rows.into_iter()
            .map(|r| (r.0, r.1, r.4))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        credits(rows(&report("by=user").await)),
        [(s("alice"), 80 * m, 2), (s("bob"), 65 * m, 2)]
    );
    // By day too it nets against the charge's day, not the day it was reversed.
    assert_eq!(
        credits(rows(&report("by=day").await)),
        [(s("2024-03-01"), 85 * m, 3), (s("2024-03-02"), 60 * m, 1)]
    );
    let only_day2 = report("by=user&from=2024-03-02&to=2024-03-02").await;
    assert_eq!(credits(rows(&only_day2)), [(s("alice"), 60 * m, 1)]);
}

#[tokio::test]
async fn the_openapi_document_names_every_path() {
    let server = Server::start().await;
    let answer = server
        .call(Method::GET, "/v1/openapi.json", None, None)
        .await;
    assert!(
        answer.content_type.starts_with("application/json"),
        "{answer:?}"
    );
    let document = answer.json();
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{}",
        document["openapi"]
    );
    let paths = document["paths"].as_object().expect("paths");
    let expected = [
        ("get", "/v1/health"),
        ("post", "/v1/admin/login"),
        ("post", "/v1/admin/logout"),
        ("get", "/v1/admin/users"),
        ("post", "/v1/admin/users"),
        ("post", "/v1/admin/users/{name}/enrollment-codes"),
        ("put", "/v1/admin/users/{name}/budget"),
        ("get", "/v1/admin/redemption-codes"),
        ("post", "/v1/admin/redemption-codes"),
        ("get", "/v1/admin/devices"),
        ("post", "/v1/admin/devices/{id}/revoke"),
        ("get", "/v1/admin/users/{name}/balance"),
        ("get", "/v1/admin/users/{name}/entries"),
        ("post", "/v1/admin/users/{name}/entries"),
        ("post", "/v1/admin/entries/{id}/reverse"),
        ("get", "/v1/admin/models"),
        ("put", "/v1/admin/models/{name}"),
        ("get", "/v1/admin/models/{name}/history"),
        ("post", "/v1/admin/models/import"),
        ("get", "/v1/admin/rate"),
        ("put", "/v1/admin/rate"),
        ("get", "/v1/admin/apps"),
        ("post", "/v1/admin/apps"),
        ("patch", "/v1/admin/apps/{id}"),
        ("get", "/v1/admin/policy"),
        ("put", "/v1/admin/policy"),
        ("get", "/v1/admin/navigation-hosts"),
        ("post", "/v1/admin/navigation-hosts"),
        ("get", "/v1/admin/held"),
        ("post", "/v1/admin/held/{id}/approve"),
        ("post", "/v1/admin/held/{id}/reject"),
        ("get", "/v1/admin/report"),
        ("get", "/v1/admin/audit"),
        ("post", "/v1/enroll"),
        ("get", "/v1/config"),
        ("post", "/v1/sync/push"),
        ("post", "/v1/sync/lease"),
        ("post", "/v1/redeem"),
    ];
    let missing: Vec<String> = expected
        .iter()
        .filter(|(method, path)| paths.get(*path).and_then(|p| p.get(*method)).is_none())
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "missing from the document: {missing:?}; it has {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    // Every operation answers its refusals with the shared error body.
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for name in [
        "ErrorBody",
        "PushRequest",
        "PushAnswer",
        "ConfigAnswer",
        "EnrollRequest",
        "Session",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is described");
    }
}
