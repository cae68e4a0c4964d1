//! Bad input: each refusal is a clear `{code, message}` with the right status, and changes nothing.

mod common;

use common::{Answer, World, charge, charge_at, price, push_json};
use reqwest::Method;
use serde_json::{Value, json};
use tokendesk_sync_proto::device::{ItemBody, ItemStatus, MAX_BATCH_ITEMS, PushAnswer, PushItem};
use uuid::Uuid;

/// Sends `body` as a push of the world's device and asserts the refusal left every table as it was.
async fn refused_push(
    world: &World,
    body: Option<(Vec<u8>, &str)>,
    status: u16,
    code: &str,
) -> String {
    let before = world.server.fingerprint().await;
    let answer = world
        .server
        .call_raw(
            Method::POST,
            "/v1/sync/push",
            Some(&world.device.token),
            body,
        )
        .await;
    let message = answer.refused(status, code);
    assert_eq!(
        world.server.fingerprint().await,
        before,
        "{code} changed nothing"
    );
    message
}

fn push_body(items: &[PushItem]) -> Option<(Vec<u8>, &'static str)> {
    Some((
        serde_json::to_vec(&push_json(items)).unwrap(),
        "application/json",
    ))
}

fn raw(text: &str) -> Option<(Vec<u8>, &'static str)> {
    Some((text.as_bytes().to_vec(), "application/json"))
}

#[tokio::test]
async fn malformed_or_mistyped_pushes_are_refused() {
    let world = World::new().await;
    refused_push(&world, raw(r#"{"device_clock": "#), 400, "malformed_json").await;
    refused_push(&world, raw("not json at all"), 400, "malformed_json").await;
    refused_push(
        &world,
        raw(r#"{"device_clock": "2024-01-01T00:00:00Z", "items": 5}"#),
        422,
        "wrong_types",
    )
    .await;
    refused_push(
        &world,
        raw(r#"{"device_clock": "yesterday", "items": []}"#),
        422,
        "wrong_types",
    )
    .await;
    refused_push(&world, raw(r#"{"items": []}"#), 422, "wrong_types").await;
    let mut item =
        serde_json::to_value(charge(&world.snapshot, &world.app, 1, "m1", 1000, 500)).unwrap();
    item["body"]["amount_micros"] = json!("-20000000");
    let text = json!({ "device_clock": chrono::Utc::now(), "items": [item] }).to_string();
    refused_push(&world, raw(&text), 422, "wrong_types").await;
    item["body"]["amount_micros"] = json!(-20_000_000);
    item["body"]["type"] = json!("gift");
    let text = json!({ "device_clock": chrono::Utc::now(), "items": [item] }).to_string();
    refused_push(&world, raw(&text), 422, "wrong_types").await;
    let json_as_text = Some((
        br#"{"device_clock": "2024-01-01T00:00:00Z", "items": []}"#.to_vec(),
        "text/plain",
    ));
    refused_push(&world, json_as_text, 415, "unsupported_media_type").await;
    refused_push(&world, None, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn an_oversized_body_or_batch_is_refused() {
    let world = World::new().await;
    let padding = "x".repeat(tokendesk_server::MAX_BODY_BYTES);
    let body =
        json!({ "device_clock": chrono::Utc::now(), "items": [], "padding": padding }).to_string();
    refused_push(&world, raw(&body), 413, "too_large").await;

    let items: Vec<PushItem> = (1..=MAX_BATCH_ITEMS as i64 + 1)
        .map(|seq| charge(&world.snapshot, &world.app, seq, &format!("m{seq}"), 10, 10))
        .collect();
    refused_push(&world, push_body(&items), 413, "too_large").await;
    // The largest batch allowed is taken whole.
    let answer: PushAnswer = world
        .server
        .push(&world.device, &items[..MAX_BATCH_ITEMS])
        .await
        .ok();
    assert_eq!(answer.acked_through_seq, MAX_BATCH_ITEMS as i64);
    assert_eq!(answer.results.len(), MAX_BATCH_ITEMS);
    assert!(
        answer
            .results
            .iter()
            .all(|r| r.status == ItemStatus::Accepted),
        "{:?}",
        &answer.results[..3]
    );
}

#[tokio::test]
async fn sequence_numbers_must_continue_without_gaps_or_rewrites() {
    let world = World::new().await;
    let (snapshot, app) = (&world.snapshot, &world.app);
    let message = refused_push(
        &world,
        push_body(&[charge(snapshot, app, 2, "m2", 1000, 500)]),
        409,
        "seq_gap",
    )
    .await;
    assert!(
        message.contains('1'),
        "the message names the expected seq 1: {message}"
    );
    let gap_inside = [
        charge(snapshot, app, 1, "m1", 1000, 500),
        charge(snapshot, app, 3, "m3", 1000, 500),
    ];
    refused_push(&world, push_body(&gap_inside), 400, "seq_order").await;
    let backwards = [
        charge(snapshot, app, 2, "m2", 1000, 500),
        charge(snapshot, app, 1, "m1", 1000, 500),
    ];
    refused_push(&world, push_body(&backwards), 400, "seq_order").await;
    let zero = [charge(snapshot, app, 0, "m0", 1000, 500)];
    let answer = world.server.push(&world.device, &zero).await;
    assert!(
        (400..500).contains(&answer.status),
        "seq 0 is refused: {answer:?}"
    );

    let first = charge(snapshot, app, 1, "m1", 1000, 500);
    let stored: PushAnswer = world
        .server
        .push(&world.device, std::slice::from_ref(&first))
        .await
        .ok();
    assert_eq!(stored.results[0].status, ItemStatus::Accepted);

    // The same seq with other content, under the same id or another.
    let mut cheaper = first.clone();
    if let ItemBody::Charge { amount_micros, .. } = &mut cheaper.body {
        *amount_micros += 1;
    }
    refused_push(&world, push_body(&[cheaper]), 409, "seq_conflict").await;
    let other_id = PushItem {
        id: Uuid::now_v7(),
        ..first.clone()
    };
    refused_push(&world, push_body(&[other_id]), 409, "seq_conflict").await;
    // A known id under a new seq; and a batch whose replayed part conflicts applies none of its new part.
    let moved = PushItem {
        device_seq: 2,
        ..first.clone()
    };
    refused_push(&world, push_body(&[moved]), 409, "id_conflict").await;
    let mut rewritten = first.clone();
    rewritten.occurred_at -= chrono::Duration::seconds(1);
    let mixed = [rewritten, charge(snapshot, app, 2, "m2", 1000, 500)];
    refused_push(&world, push_body(&mixed), 409, "seq_conflict").await;
    assert_eq!(world.server.count("SELECT last_seq FROM devices").await, 1);
}

#[tokio::test]
async fn an_unknown_config_version_is_refused_and_an_unknown_app_is_quarantined() {
    let world = World::new().await;
    let (server, snapshot, app) = (&world.server, &world.snapshot, &world.app);
    let mut future = charge(snapshot, app, 1, "m1", 1000, 500);
    future.config_version = snapshot.version + 5;
    refused_push(&world, push_body(&[future.clone()]), 400, "bad_version").await;
    future.config_version = 0;
    refused_push(&world, push_body(&[future]), 400, "bad_version").await;

    let balance = server.balance("alice").await;
    let mut stranger = app.clone();
    stranger.id = Uuid::now_v7();
    let unknown_app = charge_at(
        snapshot,
        &stranger,
        price("0.001", "0.002"),
        1,
        "m1",
        1000,
        500,
        chrono::Utc::now(),
    );
    let mut unknown_model = charge(snapshot, app, 2, "m2", 1000, 500);
    if let ItemBody::Charge { usage, .. } = &mut unknown_model.body {
        usage.model = Some("gpt-nonexistent".into());
    }
    let answer: PushAnswer = server
        .push(&world.device, &[unknown_app, unknown_model])
        .await
        .ok();
    let statuses: Vec<ItemStatus> = answer.results.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [ItemStatus::Quarantined, ItemStatus::Quarantined]);
    assert!(
        answer
            .results
            .iter()
            .all(|r| r.detail.as_deref().is_some_and(|d| !d.is_empty())),
        "{answer:?}"
    );
    assert_eq!(answer.balance_micros, balance);
    assert_eq!(server.balance("alice").await, balance, "neither is counted");
    assert_eq!(
        server
            .count("SELECT count(*) FROM held_events WHERE reason = 'quarantined'")
            .await,
        2
    );
    assert_eq!(
        server
            .count("SELECT count(*) FROM entries WHERE kind = 'charge' AND NOT counted")
            .await,
        2
    );
    assert_eq!(server.count("SELECT count(*) FROM charge_keys").await, 0);
}

/// An admin request refused with `status`/`code` that leaves every table as it was.
async fn refused_admin(
    world: &World,
    method: Method,
    path: &str,
    body: Value,
    status: u16,
    code: &str,
) {
    let before = world.server.fingerprint().await;
    let audit = world.server.count("SELECT count(*) FROM audit").await;
    let answer: Answer = world.server.admin_send(method, path, body).await;
    answer.refused(status, code);
    assert_eq!(
        world.server.fingerprint().await,
        before,
        "{path} {code} changed nothing"
    );
    assert_eq!(
        world.server.count("SELECT count(*) FROM audit").await,
        audit,
        "and audited nothing"
    );
}

#[tokio::test]
async fn bad_admin_input_is_refused_and_changes_nothing() {
    let world = World::new().await;
    let entries = "/v1/admin/users/alice/entries";
    let entry = |kind: &str, amount: &str, reason: &str| json!({ "kind": kind, "amount": amount, "reason": reason });
    let refusals = [
        (
            Method::POST,
            entries,
            entry("charge", "5", "r"),
            400,
            "bad_kind",
        ),
        (
            Method::POST,
            entries,
            entry("reversal", "5", "r"),
            400,
            "bad_kind",
        ),
        (
            Method::POST,
            entries,
            entry("grant", "-5", "r"),
            400,
            "bad_amount",
        ),
        (
            Method::POST,
            entries,
            entry("grant", "five", "r"),
            400,
            "bad_amount",
        ),
        (
            Method::POST,
            entries,
            entry("adjustment", "0", "r"),
            400,
            "bad_amount",
        ),
        (
            Method::POST,
            entries,
            entry("grant", "5", "  "),
            400,
            "reason_required",
        ),
        (
            Method::POST,
            entries,
            json!({ "kind": "gift", "amount": "5", "reason": "r" }),
            422,
            "wrong_types",
        ),
        (
            Method::POST,
            "/v1/admin/users/nobody/entries",
            entry("grant", "5", "r"),
            404,
            "not_found",
        ),
        (
            Method::PUT,
            "/v1/admin/models/gpt-test",
            json!({ "input_usd_per_1k": "cheap", "output_usd_per_1k": "0.002" }),
            400,
            "bad_price",
        ),
        (
            Method::PUT,
            "/v1/admin/models/gpt-test",
            json!({ "input_usd_per_1k": "-0.001", "output_usd_per_1k": "0.002" }),
            400,
            "bad_price",
        ),
        (
            Method::PUT,
            "/v1/admin/rate",
            json!({ "credits_per_usd": "0", "reason": "r" }),
            400,
            "bad_rate",
        ),
    ];
    for (method, path, body, status, code) in refusals {
        refused_admin(&world, method, path, body, status, code).await;
    }
    let unknown_model = json!({ "name": "Ghost", "share_url": "https://dify.example/chat/ghost", "pricing": "model", "model": "nope" });
    refused_admin(
        &world,
        Method::POST,
        "/v1/admin/apps",
        unknown_model,
        404,
        "not_found",
    )
    .await;
    let policy = json!({ "key": "no_such_guard", "value": "1" });
    refused_admin(
        &world,
        Method::PUT,
        "/v1/admin/policy",
        policy,
        400,
        "unknown_key",
    )
    .await;
    let policy = json!({ "key": "offline_allowance", "value": "-3" });
    refused_admin(
        &world,
        Method::PUT,
        "/v1/admin/policy",
        policy,
        400,
        "bad_value",
    )
    .await;
    let policy = json!({ "key": "lease_seconds", "value": "0" });
    refused_admin(
        &world,
        Method::PUT,
        "/v1/admin/policy",
        policy,
        400,
        "bad_value",
    )
    .await;
    let revoke = format!("/v1/admin/devices/{}/revoke", Uuid::now_v7());
    refused_admin(&world, Method::POST, &revoke, json!({}), 404, "not_found").await;
    refused_admin(
        &world,
        Method::POST,
        "/v1/admin/devices/42/revoke",
        json!({}),
        400,
        "bad_id",
    )
    .await;
    let approve = format!("/v1/admin/held/{}/approve", Uuid::now_v7());
    refused_admin(&world, Method::POST, &approve, json!({}), 404, "not_found").await;

    let grant = world.server.grant("alice", "5").await;
    let reverse = format!(
        "/v1/admin/entries/{}/reverse",
        grant["id"].as_str().unwrap()
    );
    let _: Value = world
        .server
        .admin_send(Method::POST, &reverse, json!({ "reason": "typo" }))
        .await
        .ok();
    refused_admin(
        &world,
        Method::POST,
        &reverse,
        json!({ "reason": "again" }),
        409,
        "already_reversed",
    )
    .await;
    let reversal: Vec<Value> = world
        .server
        .admin_get("/v1/admin/users/alice/entries?limit=1")
        .await
        .ok();
    let reverse_reversal = format!(
        "/v1/admin/entries/{}/reverse",
        reversal[0]["id"].as_str().unwrap()
    );
    let answer = world
        .server
        .admin_send(Method::POST, &reverse_reversal, json!({ "reason": "x" }))
        .await;
    assert!(
        (400..500).contains(&answer.status),
        "a reversal is not reversed: {answer:?}"
    );

    let report = world.server.admin_get("/v1/admin/report?by=weather").await;
    report.refused(400, "bad_query");
    let unknown = world.server.admin_get("/v1/admin/no-such-thing").await;
    unknown.refused(404, "not_found");
    // A version above the current one is refused; it must not wait.
    let future = format!("/v1/config?since={}", world.snapshot.version + 1);
    world
        .server
        .get(&future, &world.device.token)
        .await
        .refused(400, "bad_version");
}

/// A reply with no Dify price (Dify left it out, as for model-priced apps it may) is an ordinary charge.
#[tokio::test]
async fn a_charge_without_a_dify_price_is_read() {
    let world = World::new().await;
    let mut item = charge(&world.snapshot, &world.app, 1, "m1", 1000, 500);
    if let ItemBody::Charge { usage, .. } = &mut item.body {
        usage.dify_total_price = None;
        usage.dify_currency = None;
    }
    let answer: PushAnswer = world.server.push(&world.device, &[item]).await.ok();
    assert_eq!(answer.results[0].status, ItemStatus::Accepted);
}
