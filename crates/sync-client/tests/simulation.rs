//! The sync protocol under a seeded storm: 20 devices of 5 users charge on their own ledgers, go offline at
//! random, push in random batch sizes through a proxy that cuts connections mid-request and mid-response,
//! replay stale batches out of order, and report some replies on two devices. Afterwards every record is on
//! the server exactly once, every device shows its user's server balance, the server's balances equal an
//! independent model, and no account is overdrawn by more than one maximum event per device.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use tokendesk_ledger::{Ledger, Outcome};
use tokendesk_sync_client::admin::OrgAdmin;
use tokendesk_sync_client::device;
use tokendesk_sync_proto::Pricing;
use tokendesk_sync_proto::admin::{
    BalanceInfo, DeviceInfo, EnrollmentCode, EntryInfo, EntryKind, HeldInfo, NewApp, NewEntry,
    NewUser, Role, SetModel, SetPolicy,
};
use tokendesk_sync_proto::device::{PushAnswer, PushRequest};
use tokendesk_test_support::{Cluster, CuttingProxy, message_end};

const PAGE: &str = "http://127.0.0.1:8765/chat/simulated";
const PASSWORD: &str = "simulation password";
const USERS: usize = 5;
const DEVICES_PER_USER: usize = 4;
const ROUNDS: usize = 30;
const GRANT_CREDITS: i64 = 600;
const MICROS: i64 = 1_000_000;
/// 3000 prompt and 1000 completion tokens at 0.001 / 0.002 USD per 1K and 10000 credits per USD.
const MAX_EVENT_MICROS: i64 = (3000 + 2 * 1000) * 10_000;

/// The cost in micro-credits, computed apart from the ledger: (p·0.001 + c·0.002)/1000 USD × 10000 × 10⁶.
fn cost(prompt: u64, completion: u64) -> i64 {
    ((prompt + 2 * completion) * 10_000) as i64
}

struct Device {
    user: usize,
    ledger: Ledger,
    _dir: tempfile::TempDir,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_lands_once_and_every_balance_agrees() {
    let seed: u64 = std::env::var("SIMULATION_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(20261202);
    let mut rng = StdRng::seed_from_u64(seed);
    let cluster = Cluster::shared();
    let database_url = cluster.database();
    let pool = tokendesk_server::connect(&database_url).await.unwrap();
    tokendesk_server::migrate(&pool).await.unwrap();
    let org = tokendesk_server::orgs::ensure_org(&pool, "sim")
        .await
        .unwrap();
    {
        let mut tx = pool.begin().await.unwrap();
        let admin = NewUser {
            name: "root".into(),
            display_name: None,
            role: Role::Admin,
            password: Some(PASSWORD.into()),
        };
        tokendesk_server::admin::users::create_user(&mut tx, org, "setup", &admin)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server_addr = listener.local_addr().unwrap();
    tokio::spawn(tokendesk_server::serve(
        listener,
        tokendesk_server::AppState::new(pool),
    ));
    let server_url = format!("http://{server_addr}");
    let proxy = CuttingProxy::start(server_addr);

    let admin_dir = tempfile::tempdir().unwrap();
    OrgAdmin::login(admin_dir.path(), &server_url, "root", PASSWORD)
        .await
        .unwrap();
    let admin = OrgAdmin::load(admin_dir.path()).unwrap();
    let model = SetModel {
        input_usd_per_1k: "0.001".into(),
        output_usd_per_1k: "0.002".into(),
        reason: None,
        aliases: None,
        active: None,
    };
    let _: serde_json::Value = admin
        .send(Method::PUT, "/v1/admin/models/sim-model", Some(&model))
        .await
        .unwrap();
    let app = NewApp {
        name: "Sim".into(),
        share_url: PAGE.into(),
        pricing: Pricing::Model,
        model: Some("sim-model".into()),
    };
    let _: serde_json::Value = admin
        .send(Method::POST, "/v1/admin/apps", Some(&app))
        .await
        .unwrap();
    for (key, value) in [
        ("offline_allowance", "120"),
        ("event_cap", "0"),
        ("flood_max_per_minute", "0"),
    ] {
        let set = SetPolicy {
            key: key.into(),
            value: value.into(),
        };
        let _: serde_json::Value = admin
            .send(Method::PUT, "/v1/admin/policy", Some(&set))
            .await
            .unwrap();
    }

    let mut devices = Vec::new();
    for user in 0..USERS {
        let name = format!("user{user}");
        let new = NewUser {
            name: name.clone(),
            display_name: None,
            role: Role::Staff,
            password: None,
        };
        let _: serde_json::Value = admin
            .send(Method::POST, "/v1/admin/users", Some(&new))
            .await
            .unwrap();
        let grant = NewEntry {
            kind: EntryKind::Grant,
            amount: GRANT_CREDITS.to_string(),
            reason: "start".into(),
        };
        let _: EntryInfo = admin
            .send(
                Method::POST,
                &format!("/v1/admin/users/{name}/entries"),
                Some(&grant),
            )
            .await
            .unwrap();
        for index in 0..DEVICES_PER_USER {
            let code: EnrollmentCode = admin
                .send(
                    Method::POST,
                    &format!("/v1/admin/users/{name}/enrollment-codes"),
                    Some(&serde_json::json!({})),
                )
                .await
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let mut ledger = Ledger::open_dir(dir.path()).unwrap();
            // Devices talk to the server only through the proxy.
            device::enroll(
                &Mutex::new(&mut ledger),
                &proxy.url(),
                &code.code,
                &format!("{name}-{index}"),
            )
            .await
            .unwrap();
            devices.push(Device {
                user,
                ledger,
                _dir: dir,
            });
        }
    }

    // The model: what the server must end up with per user.
    let mut charged: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); USERS];
    let mut shared_next = 0usize;
    let mut replays = 0usize;
    proxy.set_random(seed, 250);
    // At least ROUNDS rounds, and more (bounded) until the proxy has cut 100 connections.
    let mut round = 0;
    while round < ROUNDS || (proxy.cuts() < 100 && round < 4 * ROUNDS) {
        for index in 0..devices.len() {
            let user = devices[index].user;
            for event in 0..rng.random_range(0..3) {
                let (prompt, completion) = (rng.random_range(1..=3000), rng.random_range(0..=1000));
                let message = format!("d{index}-r{round}-e{event}");
                record(
                    &mut devices[index].ledger,
                    &message,
                    prompt,
                    completion,
                    &mut charged[user],
                );
            }
            // Now and then a reply is seen by two devices of one user: it must be charged once.
            if rng.random_bool(0.15) {
                let sibling = user * DEVICES_PER_USER + (index + 1) % DEVICES_PER_USER;
                let message = format!("shared-{shared_next}");
                shared_next += 1;
                for device in [index, sibling] {
                    record(
                        &mut devices[device].ledger,
                        &message,
                        500,
                        100,
                        &mut charged[user],
                    );
                }
            }
        }
        for device in devices.iter_mut() {
            if rng.random_bool(0.4) {
                continue; // offline this round
            }
            let stale = device.ledger.pending_push(rng.random_range(1..=5)).unwrap();
            let _ =
                device::sync_in_batches(&Mutex::new(&mut device.ledger), rng.random_range(1..=20))
                    .await;
            // An old batch arriving late is answered again and never applied twice.
            if !stale.is_empty() && rng.random_bool(0.3) {
                let credentials = device.ledger.sync_credentials().unwrap().unwrap();
                let request = PushRequest {
                    device_clock: chrono::Utc::now(),
                    items: stale,
                };
                let response = reqwest::Client::new()
                    .post(format!("{server_url}/v1/sync/push"))
                    .bearer_auth(&credentials.device_token)
                    .json(&request)
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let acked = device.ledger.sync_status().unwrap().acked_seq;
                if acked >= request.items.last().unwrap().device_seq {
                    assert!(
                        status.is_success(),
                        "a replayed batch was refused: {status}"
                    );
                    let answer: PushAnswer = response.json().await.unwrap();
                    assert_eq!(answer.results.len(), request.items.len());
                    replays += 1;
                }
            }
        }
        round += 1;
    }
    assert!(
        proxy.cuts() >= 100,
        "only {} connections were cut",
        proxy.cuts()
    );
    assert!(proxy.cuts_mid_response() > 0 && proxy.cuts_mid_request() > 0);
    assert!(replays > 0);

    // Back online for good: everything drains, and a second pass carries every device the final balance.
    proxy.set_random(seed, 0);
    for _ in 0..2 {
        for device in devices.iter_mut() {
            device::sync_once(&Mutex::new(&mut device.ledger))
                .await
                .unwrap();
        }
    }

    let server_devices: Vec<DeviceInfo> = admin.get("/v1/admin/devices").await.unwrap();
    let held: Vec<HeldInfo> = admin.get("/v1/admin/held?all=true").await.unwrap();
    assert!(
        held.iter()
            .all(|event| event.reason.as_str() != "quarantined"),
        "nothing was tampered with"
    );
    for (index, device) in devices.iter().enumerate() {
        let status = device.ledger.sync_status().unwrap();
        assert_eq!(
            status.pending, 0,
            "device {index} still has records to push"
        );
        let on_server = server_devices
            .iter()
            .find(|server| Some(server.id.to_string()) == status.device_id)
            .expect("the device is known to the server");
        assert_eq!(
            on_server.last_seq, status.acked_seq,
            "device {index}: every record once, no gap"
        );
    }
    for (user, charged) in charged.iter().enumerate() {
        let name = format!("user{user}");
        let balance: BalanceInfo = admin
            .get(&format!("/v1/admin/users/{name}/balance"))
            .await
            .unwrap();
        let expected = GRANT_CREDITS * MICROS - charged.values().sum::<i64>();
        assert_eq!(
            balance.balance_micros, expected,
            "{name}: the server's balance equals the model"
        );
        assert!(
            balance.balance_micros >= -(DEVICES_PER_USER as i64) * MAX_EVENT_MICROS,
            "{name} is overdrawn by {} micro-credits",
            -balance.balance_micros
        );
        for device in devices.iter().filter(|device| device.user == user) {
            assert_eq!(
                device.ledger.active_account().unwrap().balance_micros,
                balance.balance_micros
            );
        }
        // Counted charges: one per distinct charged message, no more.
        let entries: Vec<EntryInfo> = admin
            .get(&format!("/v1/admin/users/{name}/entries?limit=1000"))
            .await
            .unwrap();
        let counted: BTreeSet<String> = entries
            .iter()
            .filter(|entry| entry.counted && entry.kind == EntryKind::Charge)
            .filter_map(|entry| entry.usage.as_ref().map(|usage| usage.message_id.clone()))
            .collect();
        let counted_charges = entries
            .iter()
            .filter(|entry| entry.counted && entry.kind == EntryKind::Charge)
            .count();
        assert_eq!(
            counted_charges,
            counted.len(),
            "{name}: a message was counted twice"
        );
        assert_eq!(
            counted,
            charged.keys().cloned().collect(),
            "{name}: the counted messages"
        );
    }
    for device in devices.iter_mut() {
        assert!(device.ledger.verify().unwrap().ok);
    }
}

/// Records a reply on a device, and in the model when the device charged it (the first charge of a message
/// is the one the server counts; a held one waits for an admin).
fn record(
    ledger: &mut Ledger,
    message: &str,
    prompt: u64,
    completion: u64,
    charged: &mut BTreeMap<String, i64>,
) {
    let result = ledger
        .record_frame(PAGE, &message_end(message, prompt, completion))
        .unwrap();
    match result.outcome {
        Outcome::Charged => {
            assert_eq!(result.amount_micros, cost(prompt, completion));
            charged.insert(message.to_owned(), result.amount_micros);
        }
        Outcome::Held => assert_eq!(
            result.code.as_deref(),
            Some("offline_allowance"),
            "{result:?}"
        ),
        other => panic!("unexpected outcome {other:?} for {message}: {result:?}"),
    }
}
