//! The push rules: exactly once (also when the connection is cut), one charge per message across
//! devices, the server's price over the device's, and leases that never reserve more than the balance.

mod common;

use common::{
    Answer, Device, Server, World, charge, charge_at, cost, held, price, push_json, send,
};
use reqwest::Method;
use serde_json::{Value, json};
use tokendesk_sync_proto::admin::{HeldInfo, HeldStatus, Report};
use tokendesk_sync_proto::device::{
    HoldReason, ItemBody, ItemStatus, PushAnswer, PushItem, SideCall, SideCallPricing,
};
use tokendesk_test_support::{Cut, CuttingProxy};

fn statuses(answer: &PushAnswer) -> Vec<ItemStatus> {
    answer.results.iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn a_batch_pushed_twice_is_answered_the_same_and_applied_once() {
    let World {
        server,
        app,
        device,
        snapshot,
    } = World::new().await;
    let one = cost(&snapshot, &app, 1000, 500);
    assert_eq!(
        one, 20_000_000,
        "1000 in, 500 out at 0.001/0.002 USD per 1K and 10000 credits per USD"
    );
    let items = vec![
        charge(&snapshot, &app, 1, "m1", 1000, 500),
        charge(&snapshot, &app, 2, "m2", 1000, 500),
        held(&snapshot, &app, 3, "m3", HoldReason::Cap),
        charge(&snapshot, &app, 4, "m4", 1000, 500),
    ];
    let first: PushAnswer = server.push(&device, &items).await.ok();
    use ItemStatus::*;
    assert_eq!(statuses(&first), [Accepted, Accepted, Held, Accepted]);
    assert_eq!(first.acked_through_seq, 4);
    assert_eq!(first.balance_micros, 1_000_000_000 - 3 * one);
    let ids: Vec<_> = first.results.iter().map(|r| (r.id, r.device_seq)).collect();
    assert_eq!(
        ids,
        items
            .iter()
            .map(|i| (i.id, i.device_seq))
            .collect::<Vec<_>>()
    );

    let again: PushAnswer = server.push(&device, &items).await.ok();
    assert_eq!(again.results, first.results);
    assert_eq!(
        (again.acked_through_seq, again.balance_micros),
        (4, first.balance_micros)
    );
    assert_eq!(
        server
            .count("SELECT count(*) FROM entries WHERE device_id IS NOT NULL")
            .await,
        3
    );
    assert_eq!(server.count("SELECT count(*) FROM held_events").await, 1);
    assert_eq!(server.balance("alice").await, 1_000_000_000 - 3 * one);

    // A replayed prefix with new items after it: the old answered as before, the new applied.
    let mut longer = items[2..].to_vec();
    longer.push(charge(&snapshot, &app, 5, "m5", 1000, 500));
    let third: PushAnswer = server.push(&device, &longer).await.ok();
    assert_eq!(statuses(&third), [Held, Accepted, Accepted]);
    assert_eq!(third.results[..2], first.results[2..]);
    assert_eq!(third.acked_through_seq, 5);
    assert_eq!(server.balance("alice").await, 1_000_000_000 - 4 * one);
    let stored: (i64, i64) = sqlx::query_as("SELECT last_seq, count(*) OVER () FROM devices")
        .fetch_one(&server.pool)
        .await
        .unwrap();
    assert_eq!(stored, (5, 1));
    let sum: i64 = server
        .count("SELECT sum(amount_micros)::BIGINT FROM entries WHERE counted")
        .await;
    assert_eq!(
        sum,
        server.balance("alice").await,
        "the cached balance is the sum of counted entries"
    );
}

/// One push of the encoded `body` through `url`: the answer, or why none arrived.
async fn send_push(
    http: &reqwest::Client,
    url: &str,
    device: &Device,
    body: Vec<u8>,
) -> reqwest::Result<Answer> {
    let url = format!("{url}/v1/sync/push");
    send(
        http,
        Method::POST,
        &url,
        Some(&device.token),
        Some((body, "application/json")),
    )
    .await
}

/// Pushes through `url` until an answer arrives, at most `tries` times; the number of failed tries.
async fn push_until_answered(
    http: &reqwest::Client,
    url: &str,
    device: &Device,
    items: &[PushItem],
    tries: u32,
) -> (PushAnswer, u32) {
    // Every retry resends the same bytes, as a device does.
    let body = serde_json::to_vec(&push_json(items)).unwrap();
    for failed in 0..tries {
        if let Ok(answer) = send_push(http, url, device, body.clone()).await {
            return (answer.ok(), failed);
        }
    }
    panic!("no answer in {tries} tries");
}

#[tokio::test]
async fn a_push_cut_after_the_commit_is_applied_once_when_retried() {
    let World {
        server,
        app,
        device,
        snapshot,
    } = World::new().await;
    let proxy = CuttingProxy::start(server.addr);
    // A fresh connection per request, so the proxy's per-connection cuts hit requests.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let one = cost(&snapshot, &app, 1000, 500);

    proxy.cut_next(Cut::MidResponse);
    let first = [charge(&snapshot, &app, 1, "m1", 1000, 500)];
    let body = serde_json::to_vec(&push_json(&first)).unwrap();
    let cut = send_push(&http, &proxy.url(), &device, body).await;
    assert!(cut.is_err(), "the client never hears the answer: {cut:?}");
    assert_eq!(proxy.cuts_mid_response(), 1);
    assert_eq!(
        server.count("SELECT last_seq FROM devices").await,
        1,
        "but the server committed it"
    );
    let (answer, failed) = push_until_answered(&http, &proxy.url(), &device, &first, 1).await;
    assert_eq!((failed, statuses(&answer)), (0, vec![ItemStatus::Accepted]));
    assert_eq!(answer.balance_micros, 1_000_000_000 - one, "charged once");

    proxy.cut_next(Cut::MidRequest);
    let second = [charge(&snapshot, &app, 2, "m2", 1000, 500)];
    let (answer, failed) = push_until_answered(&http, &proxy.url(), &device, &second, 2).await;
    assert_eq!((failed, statuses(&answer)), (1, vec![ItemStatus::Accepted]));
    assert_eq!(proxy.cuts_mid_request(), 1);

    // Many batches, a third of the connections cut one way or the other, each batch retried until
    // answered: every item is on the server exactly once.
    proxy.set_random(0x5eed, 170);
    let mut seq = 2;
    let mut failures = 0;
    for batch in 0..40 {
        let items: Vec<PushItem> = (0..1 + batch % 4)
            .map(|_| {
                seq += 1;
                charge(&snapshot, &app, seq, &format!("m{seq}"), 1000, 500)
            })
            .collect();
        let (answer, failed) = push_until_answered(&http, &proxy.url(), &device, &items, 50).await;
        failures += failed;
        assert_eq!(answer.acked_through_seq, seq);
        assert!(
            answer
                .results
                .iter()
                .all(|r| r.status == ItemStatus::Accepted),
            "{answer:?}"
        );
    }
    assert!(
        proxy.cuts() >= 10 && proxy.cuts_mid_response() >= 3,
        "cut {} times",
        proxy.cuts()
    );
    assert_eq!(u64::from(failures) + 2, proxy.cuts());
    assert_eq!(
        server
            .count("SELECT count(*) FROM entries WHERE device_id IS NOT NULL")
            .await,
        seq
    );
    assert_eq!(
        server
            .count("SELECT count(DISTINCT device_seq) FROM entries WHERE counted")
            .await,
        seq
    );
    assert_eq!(server.balance("alice").await, 1_000_000_000 - seq * one);
}

#[tokio::test]
async fn the_same_message_charged_by_two_devices_counts_once() {
    let World {
        server,
        app,
        device,
        snapshot,
    } = World::new().await;
    let phone = server.enroll("alice", "phone").await;
    server.add_staff("bob").await;
    server.grant("bob", "100").await;
    let bobs = server.enroll("bob", "desktop").await;
    let one = cost(&snapshot, &app, 1000, 500);

    let first: PushAnswer = server
        .push(&device, &[charge(&snapshot, &app, 1, "shared", 1000, 500)])
        .await
        .ok();
    assert_eq!(statuses(&first), [ItemStatus::Accepted]);
    let copy: PushAnswer = server
        .push(&phone, &[charge(&snapshot, &app, 1, "shared", 1000, 500)])
        .await
        .ok();
    assert_eq!(statuses(&copy), [ItemStatus::Duplicate]);
    assert_eq!(
        copy.acked_through_seq, 1,
        "a duplicate is still acknowledged"
    );
    let other_user: PushAnswer = server
        .push(&bobs, &[charge(&snapshot, &app, 1, "shared", 1000, 500)])
        .await
        .ok();
    assert_eq!(statuses(&other_user), [ItemStatus::Duplicate]);

    assert_eq!(server.balance("alice").await, 1_000_000_000 - one);
    assert_eq!(copy.balance_micros, 1_000_000_000 - one);
    assert_eq!(server.balance("bob").await, 100_000_000);
    assert_eq!(
        server
            .count("SELECT count(*) FROM entries WHERE kind = 'charge'")
            .await,
        3
    );
    assert_eq!(
        server
            .count("SELECT count(*) FROM entries WHERE kind = 'charge' AND counted")
            .await,
        1
    );
    assert_eq!(server.count("SELECT count(*) FROM charge_keys").await, 1);
    // Answered the same when pushed again.
    let replay: PushAnswer = server
        .push(&phone, &[charge(&snapshot, &app, 2, "other", 1000, 500)])
        .await
        .ok();
    assert_eq!(
        statuses(&replay),
        [ItemStatus::Accepted],
        "the phone goes on normally"
    );
}

#[tokio::test]
async fn a_tampered_price_is_quarantined_and_approval_charges_the_servers_amount() {
    let World {
        server,
        app,
        device,
        snapshot,
    } = World::new().await;
    let honest = cost(&snapshot, &app, 1000, 500);
    let cheap = charge_at(
        &snapshot,
        &app,
        price("0.0001", "0.0002"),
        1,
        "m1",
        1000,
        500,
        chrono::Utc::now(),
    );
    let mut refund = charge(&snapshot, &app, 2, "m2", 1000, 500);
    if let ItemBody::Charge { amount_micros, .. } = &mut refund.body {
        *amount_micros = honest; // a "charge" that would credit the user
    }
    let dear = charge_at(
        &snapshot,
        &app,
        price("0.01", "0.02"),
        3,
        "m3",
        1000,
        500,
        chrono::Utc::now(),
    );
    let answer: PushAnswer = server
        .push(&device, &[cheap.clone(), refund, dear])
        .await
        .ok();
    use ItemStatus::*;
    assert_eq!(statuses(&answer), [Quarantined, Quarantined, Quarantined]);
    assert_eq!(answer.balance_micros, 1_000_000_000, "none is counted");
    assert_eq!(server.balance("alice").await, 1_000_000_000);
    assert_eq!(server.count("SELECT count(*) FROM charge_keys").await, 0);

    let holds: Vec<HeldInfo> = server.admin_get("/v1/admin/held").await.ok();
    assert_eq!(holds.len(), 3, "{holds:?}");
    let hold = holds
        .iter()
        .find(|h| h.message_id == "m1")
        .expect("the cheap charge's hold");
    assert_eq!(hold.reason, HoldReason::Quarantined);
    assert_eq!(hold.status, HeldStatus::Pending);
    assert_eq!(
        hold.server_amount_micros.map(i64::abs),
        Some(honest),
        "{hold:?}"
    );
    assert_eq!(
        hold.device_amount_micros.map(i64::abs),
        Some(honest / 10),
        "{hold:?}"
    );
    assert_eq!(hold.device_id, Some(device.id));
    let quarantined_entry = hold.entry_id.expect("the hold names the uncounted entry");
    let counted: bool = sqlx::query_scalar("SELECT counted FROM entries WHERE id = $1")
        .bind(quarantined_entry)
        .fetch_one(&server.pool)
        .await
        .unwrap();
    assert!(!counted);

    // Pushed again it is answered the same, and nothing more is held.
    let again: PushAnswer = server.push(&device, &[cheap]).await.ok();
    assert_eq!(statuses(&again), [Quarantined]);
    assert_eq!(server.count("SELECT count(*) FROM held_events").await, 3);

    let approve = format!("/v1/admin/held/{}/approve", hold.id);
    let approved: HeldInfo = server
        .admin_send(Method::POST, &approve, json!({ "note": "checked" }))
        .await
        .ok();
    assert_eq!(approved.status, HeldStatus::Approved);
    assert_eq!(approved.decided_by.as_deref(), Some(common::ADMIN));
    assert_eq!(
        server.balance("alice").await,
        1_000_000_000 - honest,
        "the server's amount, not the device's"
    );
    let settled: (i64, bool, Option<uuid::Uuid>) = sqlx::query_as(
        "SELECT amount_micros, counted, held_id FROM entries WHERE held_id IS NOT NULL",
    )
    .fetch_one(&server.pool)
    .await
    .unwrap();
    assert_eq!(settled, (-honest, true, Some(hold.id)));
    assert_eq!(server.count("SELECT count(*) FROM charge_keys").await, 1);
    let twice = server.admin_send(Method::POST, &approve, json!({})).await;
    assert!(
        (400..500).contains(&twice.status),
        "a decided hold is not approved again: {twice:?}"
    );
    assert_eq!(server.balance("alice").await, 1_000_000_000 - honest);

    // The message is charged now: another device's honest copy is a duplicate.
    let phone = server.enroll("alice", "phone").await;
    let copy: PushAnswer = server
        .push(&phone, &[charge(&snapshot, &app, 1, "m1", 1000, 500)])
        .await
        .ok();
    assert_eq!(statuses(&copy), [Duplicate]);
    assert_eq!(server.balance("alice").await, 1_000_000_000 - honest);

    let reject = format!(
        "/v1/admin/held/{}/reject",
        holds.iter().find(|h| h.message_id == "m2").unwrap().id
    );
    let rejected: HeldInfo = server
        .admin_send(Method::POST, &reject, json!({ "note": "no" }))
        .await
        .ok();
    assert_eq!(rejected.status, HeldStatus::Rejected);
    assert_eq!(
        server.balance("alice").await,
        1_000_000_000 - honest,
        "a rejection charges nothing"
    );
    let pending: Vec<HeldInfo> = server.admin_get("/v1/admin/held").await.ok();
    assert_eq!(pending.len(), 1, "pending only");
    let all: Vec<HeldInfo> = server.admin_get("/v1/admin/held?all=true").await.ok();
    assert_eq!(all.len(), 3);
}

async fn lease(server: &Server, device: &Device) -> PushAnswer {
    server
        .call(
            Method::POST,
            "/v1/sync/lease",
            Some(&device.token),
            Some(&push_json(&[])),
        )
        .await
        .ok()
}

/// Σ of open leases of every user never exceeds that user's balance.
async fn assert_leases_covered(server: &Server) {
    let over = server
        .count(
            "SELECT count(*) FROM users u WHERE u.balance_micros <
               (SELECT COALESCE(sum(amount_micros), 0) FROM leases l WHERE l.user_id = u.id AND l.expires_at > now())",
        )
        .await;
    assert_eq!(over, 0, "some user's leases exceed the balance");
}

#[tokio::test]
async fn leases_never_reserve_more_than_the_balance() {
    let World {
        server,
        app,
        device,
        ..
    } = World::new().await;
    server.set_policy("offline_allowance", "400").await;
    server.set_policy("lease_seconds", "3600").await;
    let phone = server.enroll("alice", "phone").await;
    let tablet = server.enroll("alice", "tablet").await;
    let credits = 1_000_000;

    let a = lease(&server, &device).await;
    assert_eq!(a.lease.amount_micros, 400 * credits);
    assert_eq!(a.lease.base_seq, 0);
    let left = a.lease.expires_at - chrono::Utc::now();
    assert!(
        left > chrono::Duration::minutes(50) && left <= chrono::Duration::minutes(60),
        "{left:?}"
    );
    assert_eq!(
        lease(&server, &phone).await.lease.amount_micros,
        400 * credits
    );
    assert_eq!(
        lease(&server, &tablet).await.lease.amount_micros,
        200 * credits,
        "what is left of 1000"
    );
    assert_leases_covered(&server).await;
    // Renewing replaces the device's own lease rather than adding to it.
    assert_eq!(
        lease(&server, &device).await.lease.amount_micros,
        400 * credits
    );
    assert_eq!(server.count("SELECT count(*) FROM leases").await, 3);
    let info: Value = server.admin_get("/v1/admin/users/alice/balance").await.ok();
    assert_eq!(info["open_leases_micros"], 1000 * credits);

    // A charge lowers the balance; the pushing device's new lease fits in what the others leave.
    let snapshot = server.snapshot(&phone).await;
    let one = cost(&snapshot, &app, 1000, 500);
    let pushed: PushAnswer = server
        .push(&phone, &[charge(&snapshot, &app, 1, "m1", 1000, 500)])
        .await
        .ok();
    assert_eq!(pushed.balance_micros, 1000 * credits - one);
    assert_eq!(
        pushed.lease.amount_micros,
        1000 * credits - one - 600 * credits
    );
    assert_eq!(pushed.lease.base_seq, 1);
    assert_leases_covered(&server).await;

    // The three devices charging and renewing at once: the user's row lock keeps the sum covered.
    let busy = |device: Device, first_seq: i64| {
        let (server, app, snapshot) = (&server, &app, &snapshot);
        async move {
            for seq in first_seq..first_seq + 5 {
                let message = format!("{}-{seq}", device.id);
                let answer: PushAnswer = server
                    .push(&device, &[charge(snapshot, app, seq, &message, 1000, 500)])
                    .await
                    .ok();
                assert_eq!(answer.results[0].status, ItemStatus::Accepted);
                lease(server, &device).await;
            }
        }
    };
    tokio::join!(
        busy(device.clone(), 1),
        busy(phone.clone(), 2),
        busy(tablet.clone(), 1)
    );
    assert_eq!(server.balance("alice").await, 1000 * credits - 16 * one);
    assert_leases_covered(&server).await;
    let reserved = server
        .count("SELECT sum(amount_micros)::BIGINT FROM leases")
        .await;
    assert!(
        reserved >= 1000 * credits - 16 * one - 400 * credits,
        "the last to renew took what was left: {reserved}"
    );

    // Taken away by an admin, the balance leaves nothing to lease: clamped at 0, never negative.
    let body = json!({ "kind": "adjustment", "amount": "-900", "reason": "test" });
    let _: Value = server
        .admin_send(Method::POST, "/v1/admin/users/alice/entries", body)
        .await
        .ok();
    assert_eq!(lease(&server, &device).await.lease.amount_micros, 0);

    // Revoking a device voids its lease in the same step.
    let revoke = format!("/v1/admin/devices/{}/revoke", tablet.id);
    let _: Value = server
        .call(Method::POST, &revoke, Some(&server.admin), None)
        .await
        .ok();
    let tablets = server
        .count(&format!(
            "SELECT count(*) FROM leases WHERE device_id = '{}'",
            tablet.id
        ))
        .await;
    assert_eq!(tablets, 0);
}

/// A side call's charge as a device pushes it: `side_call` set, the amount the device's policy gave it.
fn side_call(
    snapshot: &tokendesk_sync_proto::device::ConfigSnapshot,
    app: &tokendesk_sync_proto::device::AppConfig,
    seq: i64,
    call: &str,
    amount_micros: i64,
) -> PushItem {
    let mut item = charge(snapshot, app, seq, call, 280, 50);
    let ItemBody::Charge {
        amount_micros: amount,
        usage,
    } = &mut item.body
    else {
        unreachable!("charge() makes a charge")
    };
    *amount = amount_micros;
    usage.side_call = Some(SideCall::SuggestedQuestions);
    usage.estimated = true;
    item
}

#[tokio::test]
async fn a_side_call_is_repriced_by_the_orgs_side_call_policy() {
    let World {
        server,
        app,
        device,
        snapshot,
    } = World::new().await;
    assert_eq!(snapshot.policy.side_calls, SideCallPricing::Estimate);
    let estimate = cost(&snapshot, &app, 280, 50);
    let answer: PushAnswer = server
        .push(
            &device,
            &[
                side_call(&snapshot, &app, 1, "suggested_questions:a", -estimate),
                // Charged as if free while the org estimates: the server's amount wins.
                side_call(&snapshot, &app, 2, "suggested_questions:b", 0),
            ],
        )
        .await
        .ok();
    use ItemStatus::*;
    assert_eq!(statuses(&answer), [Accepted, Quarantined]);

    server.set_policy("side_calls", "fixed").await;
    server.set_policy("side_call_fixed", "0.5").await;
    let fixed = server.snapshot(&device).await;
    assert_eq!(fixed.policy.side_call_fixed_micros, 500_000);
    let answer: PushAnswer = server
        .push(
            &device,
            &[
                side_call(&fixed, &app, 3, "suggested_questions:c", -500_000),
                side_call(&fixed, &app, 4, "suggested_questions:d", -estimate),
            ],
        )
        .await
        .ok();
    assert_eq!(statuses(&answer), [Accepted, Quarantined]);

    server.set_policy("side_calls", "free").await;
    let free = server.snapshot(&device).await;
    let answer: PushAnswer = server
        .push(
            &device,
            &[side_call(&free, &app, 5, "suggested_questions:e", 0)],
        )
        .await
        .ok();
    assert_eq!(statuses(&answer), [Accepted]);
    assert_eq!(
        server.balance("alice").await,
        1_000_000_000 - estimate - 500_000
    );

    // An approval charges what the side-call policy gave at the hold's config version: the token
    // estimate for the first, the fixed amount for the second.
    let holds: Vec<HeldInfo> = server.admin_get("/v1/admin/held").await.ok();
    for (message, amount) in [
        ("suggested_questions:b", estimate),
        ("suggested_questions:d", 500_000),
    ] {
        let hold = holds.iter().find(|h| h.message_id == message).unwrap();
        assert_eq!(hold.server_amount_micros, Some(amount), "{message}");
        let approve = format!("/v1/admin/held/{}/approve", hold.id);
        let approved: HeldInfo = server
            .admin_send(Method::POST, &approve, json!({}))
            .await
            .ok();
        assert_eq!(approved.status, HeldStatus::Approved);
    }
    assert_eq!(
        server.balance("alice").await,
        1_000_000_000 - 2 * estimate - 2 * 500_000
    );
    // A reply's own id tagged as a side call is no side call: disputed, not taken at the side call's price.
    let answer: PushAnswer = server
        .push(&device, &[side_call(&free, &app, 6, "m-reply", 0)])
        .await
        .ok();
    assert_eq!(statuses(&answer), [Quarantined]);
    // Side calls spend, but are no messages.
    let report: Report = server.admin_get("/v1/admin/report?by=user").await.ok();
    let alice = report.rows.iter().find(|row| row.key == "alice").unwrap();
    assert_eq!(
        (alice.credits_micros, alice.messages),
        (2 * estimate + 2 * 500_000, 0)
    );
    // The wire keeps which side call a charge was.
    let stored: Value = sqlx::query_scalar(
        "SELECT usage::jsonb FROM entries WHERE message_id = 'suggested_questions:e'",
    )
    .fetch_one(&server.pool)
    .await
    .unwrap();
    assert_eq!(stored["side_call"], "suggested_questions");
}
