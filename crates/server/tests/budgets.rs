//! Per-user budgets counted across devices, and redemption codes, against a real PostgreSQL.

mod common;

use chrono::Utc;
use common::{World, charge};
use reqwest::Method;
use serde_json::{Value, json};
use tokendesk_sync_proto::admin::{
    EntryInfo, EntryKind, RedemptionBatch, RedemptionCodeInfo, UserSummary,
};
use tokendesk_sync_proto::device::{PushAnswer, RedeemAnswer, WhenUnchecked};

async fn user(world: &World, name: &str) -> UserSummary {
    let users: Vec<UserSummary> = world.server.admin_get("/v1/admin/users").await.ok();
    users
        .into_iter()
        .find(|summary| summary.user.name == name)
        .expect("the user")
}

async fn set_budget(world: &World, name: &str, daily: Value, monthly: Value) -> common::Answer {
    world
        .server
        .admin_send(
            Method::PUT,
            &format!("/v1/admin/users/{name}/budget"),
            json!({ "daily": daily, "monthly": monthly }),
        )
        .await
}

#[tokio::test]
async fn a_budget_counts_every_device_of_the_user_and_only_their_spend() {
    let world = World::new().await;
    let server = &world.server;
    // No budget anywhere: a push answers none and reads no entries for it.
    let first: PushAnswer = server
        .push(
            &world.device,
            &[charge(&world.snapshot, &world.app, 1, "m1", 1000, 500)],
        )
        .await
        .ok();
    assert_eq!(first.budget, None);

    server.set_policy("daily_budget", "50").await;
    let second = server.enroll("alice", "desktop").await;
    let bob = server.add_staff("bob").await;
    server.grant(&bob.name, "100").await;
    let bobs = server.enroll("bob", "phone").await;
    let snapshot = server.snapshot(&second).await;
    let one = common::cost(&snapshot, &world.app, 1000, 500);
    let answer: PushAnswer = server
        .push(
            &second,
            &[charge(&snapshot, &world.app, 1, "m2", 1000, 500)],
        )
        .await
        .ok();
    let budget = answer.budget.expect("the org's daily budget applies");
    assert_eq!(budget.daily_limit_micros, 50_000_000);
    assert_eq!(budget.monthly_limit_micros, 0);
    // Both of alice's devices count; bob's spend and alice's grant do not.
    assert_eq!(budget.spent_today_micros, 2 * one);
    assert_eq!(budget.spent_month_micros, 2 * one);
    assert!(budget.periods.day_start <= Utc::now() && Utc::now() < budget.periods.day_end);
    let _: PushAnswer = server
        .push(&bobs, &[charge(&snapshot, &world.app, 1, "m3", 1000, 500)])
        .await
        .ok();

    // Alice's own budgets replace the org's; the config version moves so devices hear at once.
    let version = server.snapshot(&second).await.version;
    let summary: UserSummary = set_budget(&world, "alice", json!("1.5"), json!("0"))
        .await
        .ok();
    assert_eq!(summary.daily_budget_micros, Some(1_500_000));
    assert_eq!(summary.monthly_budget_micros, Some(0));
    assert_eq!(summary.spent_today_micros, 2 * one);
    assert!(server.snapshot(&second).await.version > version);
    let renewed: PushAnswer = server.push(&world.device, &[]).await.ok();
    let budget = renewed.budget.expect("alice's own budget");
    assert_eq!(budget.daily_limit_micros, 1_500_000);
    assert_eq!(budget.monthly_limit_micros, 0);
    assert_eq!(budget.spent_today_micros, 2 * one);

    // The listing shows each user's spend against their budget; bob follows the org.
    let bob_summary = user(&world, "bob").await;
    assert_eq!(bob_summary.daily_budget_micros, None);
    assert_eq!(bob_summary.spent_today_micros, one);

    // Back to the org's policy, and a reversed charge is no longer spend.
    let summary: UserSummary = set_budget(&world, "alice", Value::Null, Value::Null)
        .await
        .ok();
    assert_eq!(summary.daily_budget_micros, None);
    let entries: Vec<EntryInfo> = server.admin_get("/v1/admin/users/alice/entries").await.ok();
    let charged = entries
        .iter()
        .find(|entry| entry.kind == EntryKind::Charge)
        .expect("a charge");
    let _: EntryInfo = server
        .admin_send(
            Method::POST,
            &format!("/v1/admin/entries/{}/reverse", charged.id),
            json!({ "reason": "refund" }),
        )
        .await
        .ok();
    assert_eq!(user(&world, "alice").await.spent_today_micros, one);
}

#[tokio::test]
async fn budgets_and_their_zone_refuse_what_is_not_one() {
    let world = World::new().await;
    for (daily, monthly) in [
        (json!("-1"), Value::Null),
        (json!("lots"), Value::Null),
        (Value::Null, json!("0.0000001")),
    ] {
        set_budget(&world, "alice", daily, monthly)
            .await
            .refused(400, "bad_amount");
    }
    set_budget(&world, "nobody", json!("1"), Value::Null)
        .await
        .refused(404, "not_found");
    world
        .server
        .admin_send(
            Method::PUT,
            "/v1/admin/policy",
            json!({ "key": "time_zone", "value": "Middle/Earth" }),
        )
        .await
        .refused(400, "bad_value");
    world.server.set_policy("time_zone", "Asia/Shanghai").await;
    assert_eq!(
        world.server.snapshot(&world.device).await.policy.time_zone,
        "Asia/Shanghai"
    );
    // A send a device cannot check: blocked unless the admin lets such sends through.
    let policy = world.server.snapshot(&world.device).await.policy;
    assert_eq!(policy.when_unchecked, WhenUnchecked::Block);
    world.server.set_policy("when_unchecked", "allow").await;
    let policy = world.server.snapshot(&world.device).await.policy;
    assert_eq!(policy.when_unchecked, WhenUnchecked::Allow);
    world.server.set_policy("monthly_budget", "10").await;
    let answer: PushAnswer = world.server.push(&world.device, &[]).await.ok();
    let periods = answer.budget.expect("a budget").periods;
    // Shanghai's midnight is 16:00 UTC.
    assert_eq!(periods.day_start.format("%H:%M").to_string(), "16:00");
}

async fn make_codes(world: &World, count: u32, amount: &str, valid_days: Value) -> RedemptionBatch {
    world
        .server
        .admin_send(
            Method::POST,
            "/v1/admin/redemption-codes",
            json!({ "count": count, "amount": amount, "reason": "onboarding", "valid_days": valid_days }),
        )
        .await
        .ok()
}

async fn redeem(world: &World, token: &str, code: &str) -> common::Answer {
    world
        .server
        .call(
            Method::POST,
            "/v1/redeem",
            Some(token),
            Some(&json!({ "code": code })),
        )
        .await
}

#[tokio::test]
async fn a_redemption_code_credits_once_as_an_entry_naming_the_code() {
    let world = World::new().await;
    let server = &world.server;
    let batch = make_codes(&world, 3, "25.5", json!(30)).await;
    assert_eq!(batch.codes.len(), 3);
    assert_eq!(batch.amount_micros, 25_500_000);
    assert!(batch.expires_at.expect("an expiry") > Utc::now() + chrono::Duration::days(29));
    for code in &batch.codes {
        assert_eq!(code.code.len(), 19, "{}", code.code);
    }
    let stored = server.count("SELECT count(*) FROM redemption_codes").await;
    assert_eq!(stored, 3);
    // Only hashes are kept.
    let plain = format!(
        "SELECT count(*) FROM redemption_codes WHERE code_hash = '{}'",
        batch.codes[0].code
    );
    assert_eq!(server.count(&plain).await, 0);

    let before = server.balance("alice").await;
    // Typed in lower case with spaces, as people do.
    let typed = batch.codes[0].code.to_lowercase().replace('-', " ");
    let answer: RedeemAnswer = redeem(&world, &world.device.token, &typed).await.ok();
    assert_eq!(answer.code_id, batch.codes[0].id);
    assert_eq!(answer.amount_micros, 25_500_000);
    assert_eq!(answer.balance_micros, before + 25_500_000);
    assert_eq!(server.balance("alice").await, before + 25_500_000);
    let entries: Vec<EntryInfo> = server.admin_get("/v1/admin/users/alice/entries").await.ok();
    let entry = entries
        .iter()
        .find(|entry| entry.id == answer.entry_id)
        .expect("the redemption entry");
    assert_eq!(entry.kind, EntryKind::Redemption);
    assert_eq!(entry.redemption_code_id, Some(batch.codes[0].id));
    assert_eq!(entry.reason.as_deref(), Some("onboarding"));

    // Once only, from any device.
    let second = server.enroll("alice", "desktop").await;
    redeem(&world, &second.token, &batch.codes[0].code)
        .await
        .refused(409, "redemption_used");
    redeem(&world, &world.device.token, "AAAA-BBBB-CCCC-DDDD")
        .await
        .refused(404, "redemption_invalid");
    // An expired code is not valid.
    sqlx::query(
        "UPDATE redemption_codes SET expires_at = now() - interval '1 second' WHERE id = $1",
    )
    .bind(batch.codes[1].id)
    .execute(&server.pool)
    .await
    .expect("expire");
    redeem(&world, &world.device.token, &batch.codes[1].code)
        .await
        .refused(404, "redemption_invalid");
    assert_eq!(server.balance("alice").await, before + 25_500_000);

    let listed: Vec<RedemptionCodeInfo> = server
        .admin_get("/v1/admin/redemption-codes?limit=10")
        .await
        .ok();
    assert_eq!(listed.len(), 3);
    let redeemed = listed
        .iter()
        .find(|code| code.id == batch.codes[0].id)
        .expect("the redeemed code");
    assert_eq!(redeemed.redeemed_by.as_deref(), Some("alice"));
    assert_eq!(redeemed.entry_id, Some(answer.entry_id));
    assert!(
        listed
            .iter()
            .filter(|code| code.redeemed_at.is_none())
            .count()
            == 2
    );
}

#[tokio::test]
async fn two_devices_racing_for_one_code_credit_it_once() {
    let world = World::new().await;
    let batch = make_codes(&world, 1, "10", Value::Null).await;
    assert_eq!(batch.expires_at, None);
    let second = world.server.enroll("alice", "desktop").await;
    let code = &batch.codes[0].code;
    let (a, b) = tokio::join!(
        redeem(&world, &world.device.token, code),
        redeem(&world, &second.token, code)
    );
    let statuses = [a.status, b.status];
    assert!(
        statuses.contains(&200) && statuses.contains(&409),
        "{a:?} {b:?}"
    );
    assert_eq!(
        world
            .server
            .count("SELECT count(*) FROM entries WHERE kind = 'redemption'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_batch_is_refused_whole_when_any_part_is_wrong() {
    let world = World::new().await;
    for (body, code) in [
        (
            json!({ "count": 0, "amount": "1", "reason": "x", "valid_days": null }),
            "bad_count",
        ),
        (
            json!({ "count": 1001, "amount": "1", "reason": "x", "valid_days": null }),
            "bad_count",
        ),
        (
            json!({ "count": 1, "amount": "0", "reason": "x", "valid_days": null }),
            "bad_amount",
        ),
        (
            json!({ "count": 1, "amount": "-5", "reason": "x", "valid_days": null }),
            "bad_amount",
        ),
        (
            json!({ "count": 1, "amount": "1", "reason": " ", "valid_days": null }),
            "reason_required",
        ),
        (
            json!({ "count": 1, "amount": "1", "reason": "x", "valid_days": 0 }),
            "bad_days",
        ),
    ] {
        world
            .server
            .admin_send(Method::POST, "/v1/admin/redemption-codes", body)
            .await
            .refused(400, code);
    }
    assert_eq!(
        world
            .server
            .count("SELECT count(*) FROM redemption_codes")
            .await,
        0
    );
    // Devices redeem; admins' sessions and strangers cannot.
    let admin = world.server.admin.clone();
    redeem(&world, &admin, "AAAA-BBBB-CCCC-DDDD")
        .await
        .refused(401, "unauthorized");
}
