//! `tokendesk-server bench`: P5 (one device pushes a long offline backlog) and S1 (many devices push at
//! once), over real HTTP against a server started in this process, in a scratch database made on the
//! given server and dropped afterwards. The server keeps its durable settings: the figures include every
//! commit's flush.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use chrono::Utc;
use rust_decimal::Decimal;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokendesk_sync_proto::admin::EntryKind;
use tokendesk_sync_proto::device::{
    ConfigSnapshot, ItemBody, ItemStatus, MAX_BATCH_ITEMS, PushAnswer, PushItem, PushRequest, Usage,
};
use tokendesk_sync_proto::money::{Price, Pricing};
use uuid::Uuid;

use crate::auth::{self, DEVICE_PREFIX};
use crate::entries::{self, NewEntry};
use crate::state::AppState;
use crate::{config, orgs, pricing};

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// S1: devices pushing at once.
    #[arg(long, default_value_t = 200)]
    pub devices: usize,
    /// P5: entries one device pushes.
    #[arg(long, default_value_t = 100_000)]
    pub entries: usize,
    /// S1: how long the devices push.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// S1: entries in each push.
    #[arg(long, default_value_t = 60)]
    pub batch: usize,
    /// S1: each device pushes once per this many milliseconds (or as soon as its last push is answered,
    /// when that takes longer).
    #[arg(long, default_value_t = 1000)]
    pub interval_ms: u64,
    #[arg(long)]
    pub json: bool,
}

const PROMPT_TOKENS: u64 = 1033;
const COMPLETION_TOKENS: u64 = 135;

struct Device {
    token: String,
    next_seq: i64,
}

/// What every generated charge shares.
struct Template {
    usage: Usage,
    amount_micros: i64,
    config_version: i64,
}

impl Template {
    /// The next `size` charges of `device`, serialised before the clock starts.
    fn batch(&self, device: &mut Device, size: usize) -> anyhow::Result<Vec<u8>> {
        let items = (0..size)
            .map(|_| {
                let seq = device.next_seq;
                device.next_seq += 1;
                let id = Uuid::now_v7();
                let mut usage = self.usage.clone();
                usage.message_id = id.to_string();
                PushItem {
                    id,
                    device_seq: seq,
                    occurred_at: Utc::now(),
                    config_version: self.config_version,
                    body: ItemBody::Charge {
                        amount_micros: self.amount_micros,
                        usage,
                    },
                }
            })
            .collect();
        Ok(serde_json::to_vec(&PushRequest {
            device_clock: Utc::now(),
            items,
        })?)
    }
}

pub async fn run(database_url: &str, options: &Options) -> anyhow::Result<()> {
    let server: PgConnectOptions = database_url.parse()?;
    let scratch = Scratch::create(&server).await?;
    let outcome = async {
        let pool = crate::connect_with(server.clone().database(&scratch.name)).await?;
        crate::migrate(&pool).await?;
        let version: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&pool)
            .await?;
        let org_id = orgs::ensure_org(&pool, "bench")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let report = measure(&pool, org_id, options).await;
        pool.close().await;
        report.map(|report| (report, version))
    }
    .await;
    let database = scratch.name.clone();
    scratch.drop_now().await?;
    let (mut report, version) = outcome?;
    let where_ = match server.get_socket() {
        Some(socket) => format!("{}:{}", socket.display(), server.get_port()),
        None => format!("{}:{}", server.get_host(), server.get_port()),
    };
    report["database_server"] = format!("PostgreSQL {version} at {where_}").into();
    report["database"] = database.clone().into();
    if options.json {
        println!("{report}");
    } else {
        println!(
            "database: {where_} (PostgreSQL {version}), scratch database {database} (dropped)"
        );
        println!(
            "P5: {} entries from one device in {:.2} s (goal ≤ 3 s)",
            report["p5_entries"], report["p5_seconds"]
        );
        println!(
            "S1: {} devices, {} entries each per {} ms, {} entries in {:.1} s: {:.0} entries/s (goal ≥ 10000), push p50 {:.1} ms, p99 {:.1} ms (goal ≤ 250 ms)",
            report["s1_devices"],
            report["s1_batch"],
            report["s1_interval_ms"],
            report["s1_entries"],
            report["s1_seconds"],
            report["s1_entries_per_s"],
            report["s1_p50_ms"],
            report["s1_p99_ms"]
        );
    }
    Ok(())
}

/// The benchmark's own database on the server it was pointed at, so no real data is touched and the
/// ledger needs no way to delete. Dropped when the run ends; the guard drops it on a panic too.
struct Scratch {
    server: PgConnectOptions,
    name: String,
    dropped: bool,
}

impl Scratch {
    async fn create(server: &PgConnectOptions) -> anyhow::Result<Self> {
        let name = format!("tokendesk_bench_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect_with(server)
            .await
            .context("connecting to the database server")?;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .context("creating the benchmark's database")?;
        conn.close().await?;
        Ok(Self {
            server: server.clone(),
            name,
            dropped: false,
        })
    }

    async fn drop_now(mut self) -> anyhow::Result<()> {
        self.dropped = true;
        drop_database(&self.server, &self.name)
            .await
            .with_context(|| format!("dropping the benchmark's database {}", self.name))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // Drop cannot await: a thread with its own runtime does it, whatever runtime this is.
        let (server, name) = (self.server.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(anyhow::Error::from)
                .and_then(|runtime| runtime.block_on(drop_database(&server, &name)))
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop the benchmark's database {}", self.name);
        }
    }
}

async fn drop_database(server: &PgConnectOptions, name: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect_with(server).await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await?;
    conn.close().await?;
    Ok(())
}

async fn measure(
    pool: &PgPool,
    org_id: Uuid,
    options: &Options,
) -> anyhow::Result<serde_json::Value> {
    let (template, devices) = setup(pool, org_id, options.devices + 1).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(crate::serve(listener, AppState::new(pool.clone())));
    // Stopped on every way out, so it lets go of the pool before the database is dropped.
    let report = drive(&base, template, devices, options).await;
    server.abort();
    report
}

async fn drive(
    base: &str,
    template: Template,
    mut devices: Vec<Device>,
    options: &Options,
) -> anyhow::Result<serde_json::Value> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(options.devices + 1)
        .build()?;
    let template = Arc::new(template);

    // P5: one device, batches as large as the protocol allows, each waiting for the last to commit.
    let mut first = devices.remove(0);
    let started = Instant::now();
    let mut left = options.entries;
    while left > 0 {
        let size = left.min(MAX_BATCH_ITEMS);
        let body = template.batch(&mut first, size)?;
        let answer = push(&client, base, &first.token, body).await?;
        ensure!(
            answer.acked_through_seq == first.next_seq - 1,
            "P5: the server acknowledged {}",
            answer.acked_through_seq
        );
        ensure!(
            answer
                .results
                .iter()
                .all(|r| r.status == ItemStatus::Accepted),
            "P5: a charge was not accepted"
        );
        left -= size;
    }
    let p5_seconds = started.elapsed().as_secs_f64();

    // S1: every other device pushes a batch on its own timer, as a desktop syncs, until the time is up.
    // Back to back instead, 200 devices would measure only the queue: latency = devices / pushes per second.
    let (batch, interval) = (
        options.batch,
        Duration::from_millis(options.interval_ms.max(1)),
    );
    let count = devices.len().max(1);
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let tasks: Vec<_> = devices
        .into_iter()
        .enumerate()
        .map(|(n, mut device)| {
            let (client, base, template) = (client.clone(), base.to_string(), template.clone());
            // Spread over one interval, so the devices do not all push in the same instant.
            let start = tokio::time::Instant::now() + interval * n as u32 / count as u32;
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval_at(start, interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut latencies_us = Vec::new();
                let mut acked = 0_usize;
                loop {
                    ticks.tick().await;
                    if Instant::now() >= deadline {
                        break;
                    }
                    let body = template.batch(&mut device, batch)?;
                    let sent = Instant::now();
                    let answer = push(&client, &base, &device.token, body).await?;
                    latencies_us.push(sent.elapsed().as_micros() as u64);
                    ensure!(
                        answer.acked_through_seq == device.next_seq - 1,
                        "S1: a push was not acknowledged"
                    );
                    acked += answer.results.len();
                }
                Ok::<_, anyhow::Error>((latencies_us, acked))
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    let mut s1_entries = 0;
    for task in tasks {
        let (latencies, acked) = task.await??;
        latencies_us.extend(latencies);
        s1_entries += acked;
    }
    let s1_seconds = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    let percentile_ms = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p * latencies_us.len() as f64).ceil() as usize).clamp(1, latencies_us.len());
        latencies_us[rank - 1] as f64 / 1000.0
    };
    Ok(serde_json::json!({
        "p5_seconds": round2(p5_seconds),
        "p5_entries": options.entries,
        "s1_devices": options.devices,
        "s1_batch": options.batch,
        "s1_interval_ms": options.interval_ms,
        "s1_offered_per_s": round2((count * batch) as f64 / interval.as_secs_f64()),
        "s1_seconds": round2(s1_seconds),
        "s1_entries": s1_entries,
        "s1_pushes": latencies_us.len(),
        "s1_entries_per_s": round2(s1_entries as f64 / s1_seconds),
        "s1_p50_ms": round2(percentile_ms(0.50)),
        "s1_p99_ms": round2(percentile_ms(0.99)),
    }))
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

async fn push(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: Vec<u8>,
) -> anyhow::Result<PushAnswer> {
    let response = client
        .post(format!("{base}/v1/sync/push"))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    if !status.is_success() {
        bail!(
            "push refused with {status}: {}",
            response.text().await.unwrap_or_default()
        );
    }
    Ok(response.json().await?)
}

/// One model and app, then one user with a grant and one device per simulated desktop, straight in
/// the database (the benchmark measures the push, not the admin API).
async fn setup(
    pool: &PgPool,
    org_id: Uuid,
    count: usize,
) -> anyhow::Result<(Template, Vec<Device>)> {
    let fail = |e: crate::error::ApiError| anyhow::anyhow!("{e}");
    let price = Price {
        input_per_1k: Decimal::new(1, 3),
        output_per_1k: Decimal::new(2, 3),
    };
    let app_id = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO models (org_id, name, input_usd_per_1k, output_usd_per_1k) VALUES ($1, 'bench-model', $2, $3)")
        .bind(org_id)
        .bind(price.input_per_1k)
        .bind(price.output_per_1k)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO dify_apps (org_id, id, name, share_url, pricing, model) \
         VALUES ($1, $2, 'Bench', 'https://dify.invalid/chat/bench', 'model', 'bench-model')",
    )
    .bind(org_id)
    .bind(app_id)
    .execute(&mut *tx)
    .await?;
    let config_version = config::bump(&mut tx, org_id).await.map_err(fail)?;

    let mut devices = Vec::with_capacity(count);
    let mut grants = Vec::with_capacity(count);
    for n in 0..count {
        let user_id = Uuid::now_v7();
        let token = auth::new_token(DEVICE_PREFIX);
        sqlx::query("INSERT INTO users (org_id, id, name, display_name, role) VALUES ($1, $2, $3, $3, 'staff')")
            .bind(org_id)
            .bind(user_id)
            .bind(format!("bench-{n}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO devices (org_id, id, user_id, name, token_hash) VALUES ($1, $2, $3, 'bench', $4)")
            .bind(org_id)
            .bind(Uuid::now_v7())
            .bind(user_id)
            .bind(auth::hash_token(&token))
            .execute(&mut *tx)
            .await?;
        grants.push(user_id);
        devices.push(Device { token, next_seq: 1 });
    }
    let grant_entries: Vec<NewEntry> = grants
        .iter()
        .map(|user_id| NewEntry {
            org_id,
            user_id: *user_id,
            kind: EntryKind::Grant,
            amount_micros: 1_000_000 * 1_000_000,
            counted: true,
            device: None,
            config_version: None,
            occurred_at: Utc::now(),
            actor: "bench",
            reason: Some("benchmark"),
            reverses_id: None,
            held_id: None,
            usage: None,
            tokens: None,
            redemption_code_id: None,
            id: Uuid::now_v7(),
        })
        .collect();
    entries::post_many(&mut tx, &grant_entries)
        .await
        .map_err(fail)?;
    tx.commit().await?;

    let state = AppState::new(pool.clone());
    let snapshot: Arc<ConfigSnapshot> = config::snapshot(&state, org_id, config_version)
        .await
        .map_err(fail)?;
    let amount = pricing::price_event(
        &snapshot,
        app_id,
        None,
        PROMPT_TOKENS,
        COMPLETION_TOKENS,
        None,
        None,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let usage = Usage {
        app_id,
        app_name: "Bench".into(),
        message_id: String::new(),
        conversation_id: None,
        pricing: Pricing::Model,
        model: Some("bench-model".into()),
        prompt_tokens: PROMPT_TOKENS,
        completion_tokens: COMPLETION_TOKENS,
        price: Some(price),
        credits_per_usd: snapshot.credits_per_usd,
        usd_cost: tokendesk_sync_proto::money::usd_for_tokens(
            PROMPT_TOKENS,
            COMPLETION_TOKENS,
            &price,
        )
        .context("pricing the benchmark's reply")?,
        dify_total_price: None,
        dify_currency: None,
        estimated: false,
        side_call: None,
    };
    Ok((
        Template {
            usage,
            amount_micros: -amount,
            config_version,
        },
        devices,
    ))
}
