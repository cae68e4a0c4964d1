//! `tokendesk bench`: the ledger's performance figures on a scratch database.
//! P1: the durable charge path against a bare fsync'd insert. P2: the dashboard on N usage entries,
//! against a naive full scan. P3: one filtered history page on those entries.

use chrono::{Duration, Offset, TimeZone, Utc};
use rusqlite::params;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use crate::apps::AppBinding;
use crate::entries::ROLLUP_ADD;
use crate::error::Result;
use crate::stats::HistoryQuery;
use crate::{Ledger, LedgerOptions, time};

const P1_SAMPLES: usize = 300;
const P2_SAMPLES: usize = 50;
const NAIVE_SAMPLES: usize = 3;
const P3_SAMPLES: usize = 100;
const BENCH_MODELS: &[&str] = &[
    "gpt-4o",
    "gpt-4o-mini",
    "claude-sonnet-4",
    "deepseek-chat",
    "qwen-plus",
    "gemini-2.0-flash",
];

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub rows: usize,
    pub p1_charge_median_us: f64,
    pub p1_insert_median_us: f64,
    pub p1_ratio: f64,
    pub p2_ms: f64,
    pub p2_naive_ms: f64,
    pub p2_ratio: f64,
    pub p3_ms: f64,
    pub seed_seconds: f64,
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
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

/// Runs every figure on a new ledger in `dir`, with `rows` usage entries for P2 and P3.
pub fn run(dir: &Path, rows: usize) -> Result<BenchReport> {
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

    let (mut charge, mut insert) = (Vec::new(), Vec::new());
    for sample in 0..P1_SAMPLES {
        let frame = message_end(&format!("p1-{sample}"), 1033, 135);
        let (micros, result) = timed(|| ledger.record_frame(page, &frame))?;
        debug_assert_eq!(result.outcome, crate::Outcome::Charged);
        charge.push(micros);
        let (micros, _) = timed(|| {
            Ok(ledger
                .conn
                .execute("INSERT INTO bench_probe (value) VALUES (?1)", [&frame])?)
        })?;
        insert.push(micros);
    }
    let (p1_charge, p1_insert) = (median(charge), median(insert));

    let seed_start = Instant::now();
    seed_usage(&mut ledger, rows)?;
    let seed_seconds = seed_start.elapsed().as_secs_f64();

    ledger.dashboard(30)?;
    let dashboard = (0..P2_SAMPLES)
        .map(|_| timed(|| ledger.dashboard(30)).map(|(micros, _)| micros))
        .collect::<Result<_>>()?;
    let naive = (0..NAIVE_SAMPLES)
        .map(|_| timed(|| naive_dashboard(&ledger)).map(|(micros, _)| micros))
        .collect::<Result<_>>()?;
    let (p2, p2_naive) = (median(dashboard), median(naive));

    let query = HistoryQuery {
        model: Some("claude-sonnet-4".into()),
        from: Some(ledger.now() - Duration::days(90)),
        limit: 50,
        ..HistoryQuery::default()
    };
    ledger.history(&query)?;
    let pages = (0..P3_SAMPLES)
        .map(|_| timed(|| ledger.history(&query)).map(|(micros, _)| micros))
        .collect::<Result<_>>()?;

    Ok(BenchReport {
        rows,
        p1_charge_median_us: p1_charge,
        p1_insert_median_us: p1_insert,
        p1_ratio: p1_charge / p1_insert,
        p2_ms: p2 / 1e3,
        p2_naive_ms: p2_naive / 1e3,
        p2_ratio: p2_naive / p2,
        p3_ms: median(pages) / 1e3,
        seed_seconds,
    })
}

/// Writes `rows` charge entries spread over the last year, with their rollup and cached balance,
/// in one transaction: the same rows the charge path would write, without a year of waiting.
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
        let mut rollup: HashMap<(i32, &str), (i64, i64, i64, i64)> = HashMap::new();
        let mut total = 0_i64;
        for row in 0..rows {
            // A deterministic spread: older rows first, models and sizes cycling.
            let at = now - year + (row as i64 * (year / rows.max(1) as i64));
            let model = BENCH_MODELS[row % BENCH_MODELS.len()];
            let (prompt, completion) = (200 + (row % 1800) as i64, 50 + (row % 700) as i64);
            let micros = 1_000 + (row % 50_000) as i64;
            let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, (at / 1_000_000) as u64, 0));
            insert.execute(params![
                id.to_string(),
                account.id,
                -micros,
                device,
                at,
                app,
                model,
                format!("seed-{row}"),
                prompt,
                completion
            ])?;
            let day = rollup.entry((time::local_day(zone, at), model)).or_default();
            *day = (day.0 + micros, day.1 + prompt, day.2 + completion, day.3 + 1);
            total += micros;
        }
        let mut upsert = tx.prepare(ROLLUP_ADD)?;
        for ((day, model), (credits, prompt, completion, messages)) in rollup {
            upsert.execute(params![account.id, day, app, model, credits, prompt, completion, messages])?;
        }
        tx.execute("UPDATE accounts SET balance_micros = balance_micros - ?2 WHERE id = ?1", (account.id, total))?;
        Ok(())
    })?;
    ledger.conn.execute_batch("ANALYZE")?;
    Ok(())
}

/// The same figures as [`Ledger::dashboard`], summed straight from the entries as a naive design would.
/// Balance, spend per day and spend per model, as the naive design computes them.
type NaiveFigures = (i64, Vec<(i64, i64)>, Vec<(String, i64)>);

fn naive_dashboard(ledger: &Ledger) -> Result<NaiveFigures> {
    let account = ledger.active_account()?;
    let zone = ledger.env.time_zone;
    let now = Utc::now();
    let offset = i64::from(
        zone.offset_from_utc_datetime(&now.naive_utc())
            .fix()
            .local_minus_utc(),
    ) * 1_000_000;
    let local_midnight =
        |date: chrono::NaiveDate| time::to_micros(time::start_of_local_day(zone, date));
    let today = now.with_timezone(&zone).date_naive();
    let month_start = local_midnight(chrono::Datelike::with_day(&today, 1).unwrap_or(today));
    let series_start = local_midnight(today - Duration::days(29));
    let conn = &ledger.conn;
    let balance: i64 = conn.query_row(
        "SELECT COALESCE(SUM(amount_micros), 0) FROM entries NOT INDEXED WHERE account_id = ?1",
        [account.id],
        |row| row.get(0),
    )?;
    let series = conn
        .prepare(
            "SELECT (created_at + ?3) / 86400000000 AS day, SUM(-amount_micros) FROM entries NOT INDEXED
             WHERE account_id = ?1 AND pricing IS NOT NULL AND created_at >= ?2 GROUP BY day",
        )?
        .query_map((account.id, series_start, offset), |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let by_model = conn
        .prepare(
            "SELECT COALESCE(model, ''), SUM(-amount_micros) FROM entries NOT INDEXED
             WHERE account_id = ?1 AND pricing IS NOT NULL AND created_at >= ?2 GROUP BY model",
        )?
        .query_map((account.id, month_start), |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok((balance, series, by_model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_runs_and_reports_every_figure() {
        let dir = tempfile::tempdir().unwrap();
        let report = run(dir.path(), 2_000).unwrap();
        assert_eq!(report.rows, 2_000);
        for figure in [
            report.p1_ratio,
            report.p2_ms,
            report.p2_naive_ms,
            report.p2_ratio,
            report.p3_ms,
        ] {
            assert!(figure.is_finite() && figure > 0.0, "{report:?}");
        }
        // The seeded rows are real ledger rows: the invariants hold over them.
        let mut ledger = Ledger::open(&dir.path().join("bench.sqlite3")).unwrap();
        let verified = ledger.verify().unwrap();
        assert!(verified.ok, "{verified:?}");
    }
}
