//! `tokendesk bench`: the ledger's performance figures on a scratch database in a directory of the caller's
//! choosing, so they are taken on the filesystem the data lives on.
//! - P1: the durable charge path against a bare fsync'd one-row commit, at the seeded size, with the WAL
//!   pages each commit writes.
//! - P2: the dashboard against the straightforward design (indexed queries over the entries, no rollup),
//!   after checking both give the same answers.
//! - P3: one filtered history page.
//! - Price import: a LiteLLM-shaped price map, first import and again with nothing changed.
//!
//! Every figure is the median of at least [`MIN_SAMPLES`] runs, with its min and max.

use chrono::Duration;
use rusqlite::hooks::Wal;
use rusqlite::params;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use crate::apps::AppBinding;
use crate::entries::{EntryKind, ROLLUP_ADD, rollup_share};
use crate::error::{LedgerError, Result};
use crate::money::micros_to_credits;
use crate::pricing::current_rate;
use crate::stats::{Breakdown, Dashboard, DayPoint, HistoryQuery, spend_from};
use crate::{Ledger, LedgerOptions, Outcome, time};

/// The fewest runs any figure is the median of.
pub const MIN_SAMPLES: usize = 15;
const P1_SAMPLES: usize = 300;
const P2_SAMPLES: usize = 50;
const P3_SAMPLES: usize = 100;
const DASHBOARD_DAYS: u16 = 30;
/// LiteLLM's own map held 4,878 entries when this was written.
pub const PRICE_MAP_ENTRIES: usize = 4_878;
const BENCH_MODELS: &[&str] = &[
    "gpt-4o",
    "gpt-4o-mini",
    "claude-sonnet-4",
    "deepseek-chat",
    "qwen-plus",
    "gemini-2.0-flash",
];

/// An odd 128-bit constant (the golden ratio's bits): multiplying by it permutes the row numbers.
const SPREAD: u128 = 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835;

/// What to measure: how many entries to seed, how many runs of the slow figures, and which price map.
pub struct BenchOptions {
    pub rows: usize,
    /// Runs of the straightforward dashboard and of each import; at least [`MIN_SAMPLES`].
    pub samples: usize,
    /// A LiteLLM price map to import; a generated one of LiteLLM's shape and size when `None`.
    pub price_map: Option<String>,
}

/// A figure's median, min and max over its runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Figure {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Figure {
    /// The figure of at least one sample.
    pub fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        Self {
            median: samples[samples.len() / 2],
            min: samples[0],
            max: samples[samples.len() - 1],
            runs: samples.len(),
        }
    }

    fn scaled(self, by: f64) -> Self {
        Self {
            median: self.median * by,
            min: self.min * by,
            max: self.max * by,
            runs: self.runs,
        }
    }
}

/// The filesystem a directory lives on, and whether fsync there reaches a disk.
#[derive(Debug, Clone, Serialize)]
pub struct Filesystem {
    pub mount_point: String,
    pub kind: String,
    /// tmpfs and ramfs keep files in memory: fsync costs nothing there, so P1 would not measure durability.
    pub in_memory: bool,
}

/// What a commit wrote to the write-ahead log: its pages (frames), and their bytes with frame headers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WalWrites {
    pub pages: Figure,
    pub bytes: Figure,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub rows: usize,
    pub filesystem: Filesystem,
    pub seed_seconds: f64,
    pub p1_charge_us: Figure,
    pub p1_insert_us: Figure,
    /// Each charge's time over the bare commit's timed beside it.
    pub p1_ratio: Figure,
    pub p1_charge_wal: WalWrites,
    pub p1_insert_wal: WalWrites,
    pub p2_ms: Figure,
    pub p2_baseline_ms: Figure,
    /// The straightforward dashboard's median over the dashboard's.
    pub p2_ratio: f64,
    pub p3_ms: Figure,
    pub import_entries: usize,
    pub import_bytes: usize,
    pub import_created: usize,
    pub import_skipped: usize,
    pub import_errors: usize,
    pub import_s: Figure,
    pub import_again_s: Figure,
}

fn timed<T>(work: impl FnOnce() -> Result<T>) -> Result<(f64, T)> {
    let start = Instant::now();
    let value = work()?;
    Ok((start.elapsed().as_secs_f64() * 1e6, value))
}

fn message_end(message_id: &str, prompt: u64, completion: u64) -> String {
    serde_json::json!({
        "event": "message_end", "conversation_id": "bench", "message_id": message_id, "id": message_id,
        "created_at": 0, "task_id": "bench",
        "metadata": {"usage": {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion, "total_price": "0.0013030", "currency": "USD"}},
    })
    .to_string()
}

/// Runs every figure on a new ledger in `dir`.
pub fn run(dir: &Path, options: &BenchOptions) -> Result<BenchReport> {
    let samples = options.samples.max(MIN_SAMPLES);
    let filesystem = filesystem_of(dir);
    let mut ledger = Ledger::open_with(&dir.join("bench.sqlite3"), LedgerOptions::default())?;
    let mut policy = ledger.policy()?;
    // The guards still run on every charge; these limits only keep them from holding bench traffic.
    policy.event_cap_micros = 0;
    policy.flood_max_per_minute = i64::MAX;
    ledger.set_policy(&policy, "bench")?;
    let page = "http://127.0.0.1:1/chat/bench";
    ledger.add_app("bench", page, &AppBinding::Model("gpt-4o".into()), false)?;
    ledger.conn.execute_batch(
        "CREATE TABLE bench_probe (id INTEGER PRIMARY KEY, value TEXT NOT NULL) STRICT",
    )?;

    let seed_start = Instant::now();
    seed_usage(&mut ledger, options.rows)?;
    let seed_seconds = seed_start.elapsed().as_secs_f64();

    let (p1_charge_us, p1_insert_us, p1_ratio, p1_charge_wal, p1_insert_wal) =
        charge_path(&mut ledger, page)?;

    let shown = ledger.dashboard(DASHBOARD_DAYS)?;
    let straightforward = straightforward_dashboard(&ledger, DASHBOARD_DAYS)?;
    if comparable(shown) != comparable(straightforward) {
        return Err(LedgerError::invalid(
            "the dashboard and the straightforward design disagree: the bench stops rather than time different answers",
        ));
    }
    let p2_ms = repeat(P2_SAMPLES, || ledger.dashboard(DASHBOARD_DAYS))?.scaled(1e-3);
    let p2_baseline_ms = repeat(samples, || {
        straightforward_dashboard(&ledger, DASHBOARD_DAYS)
    })?
    .scaled(1e-3);

    let query = HistoryQuery {
        model: Some("claude-sonnet-4".into()),
        from: Some(ledger.now() - Duration::days(90)),
        limit: 50,
        ..HistoryQuery::default()
    };
    ledger.history(&query)?;
    let p3_ms = repeat(P3_SAMPLES, || ledger.history(&query))?.scaled(1e-3);
    drop(ledger);

    let generated;
    let price_map = match &options.price_map {
        Some(text) => text,
        None => {
            generated = litellm_shaped_map(PRICE_MAP_ENTRIES);
            &generated
        }
    };
    let import = price_import(dir, price_map, samples)?;

    Ok(BenchReport {
        rows: options.rows,
        filesystem,
        seed_seconds,
        p1_charge_us,
        p1_insert_us,
        p1_ratio,
        p1_charge_wal,
        p1_insert_wal,
        p2_ratio: p2_baseline_ms.median / p2_ms.median,
        p2_ms,
        p2_baseline_ms,
        p3_ms,
        import_entries: import.entries,
        import_bytes: price_map.len(),
        import_created: import.created,
        import_skipped: import.skipped,
        import_errors: import.errors,
        import_s: import.first,
        import_again_s: import.again,
    })
}

fn repeat<T>(runs: usize, mut work: impl FnMut() -> Result<T>) -> Result<Figure> {
    let samples = (0..runs)
        .map(|_| timed(&mut work).map(|(micros, _)| micros))
        .collect::<Result<_>>()?;
    Ok(Figure::of(samples))
}

/// Frames in the write-ahead log after the last commit, and how many that commit wrote.
static WAL_FRAMES: AtomicI64 = AtomicI64::new(0);
static COMMIT_FRAMES: AtomicI64 = AtomicI64::new(0);
/// SQLite's automatic checkpoint threshold, which the counting hook takes over.
const AUTOCHECKPOINT_FRAMES: i32 = 1000;

fn count_wal_frames(wal: &Wal, frames: i32) -> rusqlite::Result<()> {
    let frames = i64::from(frames);
    let before = WAL_FRAMES.swap(frames, Ordering::Relaxed);
    // After a checkpoint the log starts again from its first frame.
    let written = if frames > before {
        frames - before
    } else {
        frames
    };
    COMMIT_FRAMES.store(written, Ordering::Relaxed);
    if frames >= i64::from(AUTOCHECKPOINT_FRAMES) {
        wal.checkpoint()?;
    }
    Ok(())
}

type ChargePath = (Figure, Figure, Figure, WalWrites, WalWrites);

/// P1: charges and bare one-row commits, interleaved so the machine's noise falls on both alike.
fn charge_path(ledger: &mut Ledger, page: &str) -> Result<ChargePath> {
    let frame_bytes = ledger
        .conn
        .query_row("PRAGMA page_size", [], |row| row.get::<_, i64>(0))?
        + 24;
    // An empty log to start from, so the first commit counts only its own frames.
    ledger
        .conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    WAL_FRAMES.store(0, Ordering::Relaxed);
    ledger.conn.wal_hook(Some(count_wal_frames));
    let mut charge = Vec::new();
    let mut insert = Vec::new();
    let (mut charge_frames, mut insert_frames) = (Vec::new(), Vec::new());
    for sample in 0..P1_SAMPLES {
        let frame = message_end(&format!("p1-{sample}"), 1033, 135);
        let (micros, result) = timed(|| ledger.record_frame(page, &frame))?;
        if result.outcome != Outcome::Charged {
            ledger.conn.wal_hook(None);
            return Err(LedgerError::invalid(format!(
                "a bench charge was not charged: {result:?}"
            )));
        }
        charge.push(micros);
        charge_frames.push(COMMIT_FRAMES.load(Ordering::Relaxed) as f64);
        let (micros, _) = timed(|| {
            Ok(ledger
                .conn
                .execute("INSERT INTO bench_probe (value) VALUES (?1)", [&frame])?)
        })?;
        insert.push(micros);
        insert_frames.push(COMMIT_FRAMES.load(Ordering::Relaxed) as f64);
    }
    ledger.conn.wal_hook(None);
    ledger
        .conn
        .pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_FRAMES)?;
    let ratios = charge.iter().zip(&insert).map(|(c, i)| c / i).collect();
    let writes = |frames: Vec<f64>| {
        let pages = Figure::of(frames);
        WalWrites {
            pages,
            bytes: pages.scaled(frame_bytes as f64),
        }
    };
    Ok((
        Figure::of(charge),
        Figure::of(insert),
        Figure::of(ratios),
        writes(charge_frames),
        writes(insert_frames),
    ))
}

/// Writes `rows` charge entries spread over the last year, with their idempotency keys, rollup and cached
/// balance, in one transaction: the rows the charge path would write, without a year of waiting.
fn seed_usage(ledger: &mut Ledger, rows: usize) -> Result<()> {
    let account = ledger.active_account()?;
    let app = ledger
        .apps()?
        .into_iter()
        .next()
        .map(|app| app.id)
        .unwrap_or_default();
    let zone = ledger.env.time_zone;
    let now = ledger.env.now_micros();
    let year = 365 * 86_400_000_000_i64;
    let device = ledger.env.device_id.clone();
    ledger.write(|tx| {
        let mut insert = tx.prepare(
            "INSERT INTO entries (id, account_id, amount_micros, kind, device_id, created_at, actor, pricing, app_id,
                 app_name, model, message_id, prompt_tokens, completion_tokens, input_usd_per_1k, output_usd_per_1k,
                 credits_per_usd, usd_cost)
             VALUES (?1, ?2, ?3, 'charge', ?4, ?5, 'bench', 'model', ?6, 'bench', ?7, ?8, ?9, ?10, '0.0025', '0.01',
                 '10000', '0.001')",
        )?;
        let mut claim = tx.prepare(
            "INSERT INTO event_keys (app_id, message_id, content_hash, outcome, amount_micros, entry_id, created_at)
             VALUES (?1, ?2, 'seed', 'charged', ?3, ?4, ?5)",
        )?;
        let mut rollup: HashMap<(i32, &str), (i64, i64, i64, i64)> = HashMap::new();
        let mut total = 0_i64;
        for row in 0..rows {
            // A deterministic spread: older rows first, models and sizes cycling.
            let at = now - year + (row as i64 * (year / rows.max(1) as i64));
            let model = BENCH_MODELS[row % BENCH_MODELS.len()];
            let (prompt, completion) = (200 + (row % 1800) as i64, 50 + (row % 700) as i64);
            let micros = 1_000 + (row % 50_000) as i64;
            let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                (at / 1_000_000) as u64,
                0,
            ))
            .to_string();
            // Dify's message ids are random UUIDs, so their keys land all over the index: an odd multiplier
            // spreads the row numbers the same way, and the same on every run.
            let message_id =
                uuid::Uuid::from_u128((row as u128).wrapping_mul(SPREAD)).to_string();
            insert.execute(params![
                id,
                account.id,
                -micros,
                device,
                at,
                app,
                model,
                message_id,
                prompt,
                completion
            ])?;
            claim.execute(params![app, message_id, micros, id, at])?;
            let day = rollup
                .entry((time::local_day(zone, at), model))
                .or_default();
            *day = (day.0 + micros, day.1 + prompt, day.2 + completion, day.3 + 1);
            total += micros;
        }
        let mut upsert = tx.prepare(ROLLUP_ADD)?;
        for ((day, model), (credits, prompt, completion, messages)) in rollup {
            upsert.execute(params![
                account.id, day, app, model, credits, prompt, completion, messages
            ])?;
        }
        tx.execute(
            "UPDATE accounts SET balance_micros = balance_micros - ?2 WHERE id = ?1",
            (account.id, total),
        )?;
        Ok(())
    })?;
    ledger.conn.execute_batch("ANALYZE")?;
    Ok(())
}

/// The dashboard as a competent first design computes it: the balance summed from the entries, and the
/// period's usage entries read through the (account, time) index and bucketed by local day in the
/// reporting zone, with the same sign and message rules as the rollup.
fn straightforward_dashboard(ledger: &Ledger, days: u16) -> Result<Dashboard> {
    let account = ledger.shown_account()?;
    let policy = ledger.policy()?;
    let rate = current_rate(&ledger.conn)?;
    let zone = ledger.time_zone();
    let today = time::local_day(zone, ledger.env.now_micros());
    let month_start = time::first_day_of_month(today);
    let series_start = today - i32::from(days.max(1)) + 1;
    let first_day = month_start.min(series_start);
    let from = time::to_micros(time::start_of_local_day(zone, time::day_to_date(first_day)));
    let balance_micros: i64 = ledger.conn.query_row(
        "SELECT COALESCE(SUM(amount_micros), 0) FROM entries WHERE account_id = ?1",
        [account.id],
        |row| row.get(0),
    )?;
    let mut by_day: BTreeMap<i32, [i64; 4]> = BTreeMap::new();
    let mut by_model: HashMap<String, [i64; 4]> = HashMap::new();
    let mut by_app: HashMap<String, [i64; 4]> = HashMap::new();
    let mut statement = ledger.conn.prepare_cached(
        "SELECT created_at, kind, amount_micros, app_id, model, prompt_tokens, completion_tokens,
             side_call IS NOT NULL
         FROM entries WHERE account_id = ?1 AND created_at >= ?2 AND pricing IS NOT NULL",
    )?;
    let mut rows = statement.query((account.id, from))?;
    while let Some(row) = rows.next()? {
        let day = time::local_day(zone, row.get(0)?);
        let model: Option<String> = row.get(4)?;
        let (app_id, model, credits, prompt, completion, messages) = rollup_share(
            EntryKind::parse(&row.get::<_, String>(1)?)?,
            row.get(2)?,
            row.get::<_, Option<i64>>(3)?.unwrap_or(0),
            model.as_deref(),
            (row.get::<_, i64>(5)? as u64, row.get::<_, i64>(6)? as u64),
            row.get(7)?,
        );
        let share = [credits, prompt, completion, messages];
        let add = |sums: &mut [i64; 4]| {
            for (sum, part) in sums.iter_mut().zip(share) {
                *sum += part;
            }
        };
        add(by_day.entry(day).or_default());
        if day >= month_start {
            add(by_model.entry(model.to_owned()).or_default());
            add(by_app.entry(app_id.to_string()).or_default());
        }
    }
    let spend = |[credits, prompt, completion, messages]: [i64; 4]| {
        spend_from(credits, prompt, completion, messages)
    };
    let total = |from: i32| {
        let mut sums = [0_i64; 4];
        for day_sums in by_day.range(from..=today).map(|(_, sums)| sums) {
            for (sum, part) in sums.iter_mut().zip(day_sums) {
                *sum += part;
            }
        }
        spend(sums)
    };
    let breakdown = |sums: HashMap<String, [i64; 4]>| {
        let mut rows: Vec<Breakdown> = sums
            .into_iter()
            .map(|(key, sums)| Breakdown {
                key,
                spend: spend(sums),
            })
            .collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.spend.credits_micros));
        rows
    };
    let balance = micros_to_credits(balance_micros);
    Ok(Dashboard {
        balance_micros,
        balance,
        credits_per_usd: rate,
        balance_usd: (balance / rate).round_dp(2),
        low_balance: balance_micros < policy.low_balance_micros,
        today: total(today),
        month: total(month_start),
        series: (series_start..=today)
            .map(|day| DayPoint {
                date: time::day_to_date(day),
                spend: by_day.get(&day).copied().map(spend).unwrap_or_default(),
            })
            .collect(),
        month_by_model: breakdown(by_model),
        month_by_app: breakdown(by_app),
        account: account.name,
        time_zone: zone.name().into(),
    })
}

/// A dashboard with its breakdowns in one order: rows of equal spend may come in either order.
fn comparable(mut dashboard: Dashboard) -> Dashboard {
    for rows in [&mut dashboard.month_by_model, &mut dashboard.month_by_app] {
        rows.sort_by(|a, b| {
            (b.spend.credits_micros, &a.key).cmp(&(a.spend.credits_micros, &b.key))
        });
    }
    dashboard
}

struct ImportFigures {
    entries: usize,
    created: usize,
    skipped: usize,
    errors: usize,
    first: Figure,
    again: Figure,
}

/// Imports `price_map` into a new ledger `runs` times, and again into each with nothing changed.
fn price_import(dir: &Path, price_map: &str, runs: usize) -> Result<ImportFigures> {
    let (mut first, mut again) = (Vec::new(), Vec::new());
    let mut report = None;
    for run in 0..runs {
        let path = dir.join(format!("import-{run}.sqlite3"));
        let mut ledger = Ledger::open_with(&path, LedgerOptions::default())?;
        let (micros, imported) =
            timed(|| ledger.import_models(price_map, "bench", "bench", |_| ()))?;
        first.push(micros / 1e6);
        let (micros, repeated) =
            timed(|| ledger.import_models(price_map, "bench", "bench", |_| ()))?;
        again.push(micros / 1e6);
        if repeated.created + repeated.updated > 0 {
            return Err(LedgerError::invalid(
                "importing the same price map again changed models",
            ));
        }
        drop(ledger);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("import-{run}.sqlite3{suffix}")));
        }
        report = Some(imported);
    }
    let report = report.unwrap_or_default();
    Ok(ImportFigures {
        entries: report.created
            + report.updated
            + report.unchanged
            + report.skipped.len()
            + report.errors.len(),
        created: report.created,
        skipped: report.skipped.len(),
        errors: report.errors.len(),
        first: Figure::of(first),
        again: Figure::of(again),
    })
}

/// A price map of LiteLLM's shape (`model_prices_and_context_window.json`) with `entries` entries: mostly
/// chat models priced per token, and the kinds it also lists — images, audio and rerankers priced otherwise,
/// free models, and its `sample_spec` documentation entry — in about LiteLLM's proportions.
pub fn litellm_shaped_map(entries: usize) -> String {
    let mut map = serde_json::Map::new();
    map.insert(
        "sample_spec".into(),
        serde_json::json!({"max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0, "litellm_provider": "one of https://docs.litellm.ai/docs/providers",
            "mode": "one of: chat, embedding, completion, image_generation, audio_transcription, audio_speech"}),
    );
    for index in 1..entries {
        let provider = [
            "openai",
            "anthropic",
            "bedrock",
            "vertex_ai",
            "azure",
            "deepseek",
        ][index % 6];
        let name = format!("{provider}/model-{index:05}");
        let spec = match index % 5 {
            0 => match index % 3 {
                0 => {
                    serde_json::json!({"output_cost_per_image": 0.04, "litellm_provider": provider,
                    "mode": "image_generation"})
                }
                1 => {
                    serde_json::json!({"input_cost_per_second": 0.0001, "litellm_provider": provider,
                    "mode": "audio_transcription"})
                }
                _ => {
                    serde_json::json!({"input_cost_per_query": 0.002, "litellm_provider": provider,
                    "mode": "rerank"})
                }
            },
            _ => {
                let free = index % 33 == 0;
                let input = if free {
                    0.0
                } else {
                    (index % 97 + 1) as f64 * 1e-7
                };
                serde_json::json!({
                    "max_tokens": 8192, "max_input_tokens": 128_000, "max_output_tokens": 8192,
                    "input_cost_per_token": input, "output_cost_per_token": input * 4.0,
                    "cache_read_input_token_cost": input / 10.0, "litellm_provider": provider,
                    "mode": "chat", "supports_function_calling": true, "supports_vision": index % 2 == 0,
                    "supports_prompt_caching": true, "supports_response_schema": true,
                    "supports_system_messages": true, "supports_tool_choice": true,
                    "source": format!("https://example.invalid/{provider}/pricing"),
                })
            }
        };
        map.insert(name, spec);
    }
    serde_json::to_string_pretty(&map).unwrap_or_default()
}

/// The filesystem `dir` is on, from the kernel's mount table (the longest mount point above it).
pub fn filesystem_of(dir: &Path) -> Filesystem {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best: Option<(String, String)> = None;
    for line in mounts.lines() {
        // Fields: id parent major:minor root mount-point options [optional…] - type source super-options.
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(separator) = fields.iter().position(|field| *field == "-") else {
            continue;
        };
        let (Some(mount_point), Some(kind)) = (fields.get(4), fields.get(separator + 1)) else {
            continue;
        };
        let mount_point = mount_point.replace("\\040", " ");
        let longer = best
            .as_ref()
            .is_none_or(|(best, _)| mount_point.len() >= best.len());
        if dir.starts_with(&mount_point) && longer {
            best = Some((mount_point, (*kind).to_owned()));
        }
    }
    let (mount_point, kind) = best.unwrap_or_else(|| ("?".into(), "unknown".into()));
    Filesystem {
        in_memory: matches!(kind.as_str(), "tmpfs" | "ramfs"),
        mount_point,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_and_reports_every_figure() {
        let dir = tempfile::tempdir().unwrap();
        let options = BenchOptions {
            rows: 2_000,
            samples: MIN_SAMPLES,
            price_map: Some(litellm_shaped_map(200)),
        };
        let report = run(dir.path(), &options).unwrap();
        assert_eq!(report.rows, 2_000);
        for figure in [
            report.p1_ratio,
            report.p2_ms,
            report.p2_baseline_ms,
            report.p3_ms,
            report.import_s,
        ] {
            assert!(figure.runs >= MIN_SAMPLES, "{report:?}");
            assert!(
                figure.min > 0.0 && figure.min <= figure.median && figure.median <= figure.max,
                "{report:?}"
            );
        }
        // A charge writes more pages than a one-row commit, and both write some.
        assert!(report.p1_insert_wal.pages.median >= 1.0, "{report:?}");
        assert!(
            report.p1_charge_wal.pages.median > report.p1_insert_wal.pages.median,
            "{report:?}"
        );
        assert_eq!(report.import_entries, 200);
        assert!(
            report.import_skipped > 0 && report.import_errors == 0,
            "{report:?}"
        );
        assert!(!report.filesystem.kind.is_empty());
        // The seeded rows are real ledger rows: the invariants hold over them.
        let mut ledger = Ledger::open(&dir.path().join("bench.sqlite3")).unwrap();
        let verified = ledger.verify().unwrap();
        assert!(verified.ok, "{verified:?}");
    }

    #[test]
    fn the_straightforward_dashboard_agrees_with_the_rollup_across_a_time_zone_change() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).unwrap();
        let page = "http://127.0.0.1:1/chat/bench";
        ledger
            .add_app("bench", page, &AppBinding::Model("gpt-4o".into()), false)
            .unwrap();
        seed_usage(&mut ledger, 5_000).unwrap();
        for zone in [chrono_tz::America::New_York, chrono_tz::Asia::Kathmandu] {
            ledger.set_time_zone(zone).unwrap();
            let shown = comparable(ledger.dashboard(DASHBOARD_DAYS).unwrap());
            assert!(shown.series.iter().any(|day| day.spend.messages > 0));
            assert_eq!(
                shown,
                comparable(straightforward_dashboard(&ledger, DASHBOARD_DAYS).unwrap())
            );
        }
    }

    #[test]
    fn the_mount_table_names_the_filesystem_of_a_directory() {
        let root = filesystem_of(Path::new("/"));
        if cfg!(target_os = "linux") {
            assert_eq!(root.mount_point, "/");
            assert_ne!(root.kind, "unknown");
        }
    }
}
