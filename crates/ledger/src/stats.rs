//! What the dashboard shows: balance, today, this month, a daily series, totals per model and app,
//! and the paged history with its CSV export. Days and months are those of the reporting time zone.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, ToSql, TransactionBehavior};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;
use tokendesk_sync_proto::csv_text;

use crate::entries::{ENTRY_COLUMNS, EntryKind, ROLLUP_ADD, from_row, rollup_share};
use crate::error::{LedgerError, Result};
use crate::money::{Micros, micros_to_credits};
use crate::pricing::current_rate;
use crate::{Entry, Ledger, time};

pub const MAX_PAGE_ROWS: usize = 500;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Spend {
    pub credits_micros: Micros,
    #[ts(type = "string")]
    pub credits: Decimal,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub messages: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DayPoint {
    pub date: chrono::NaiveDate,
    pub spend: Spend,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Breakdown {
    /// The model name, or the app id as text, depending on the breakdown; `""` is Dify's reported price.
    pub key: String,
    pub spend: Spend,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Dashboard {
    pub account: String,
    pub balance_micros: Micros,
    #[ts(type = "string")]
    pub balance: Decimal,
    #[ts(type = "string")]
    pub credits_per_usd: Decimal,
    /// The balance at the current rate, for display only.
    #[ts(type = "string")]
    pub balance_usd: Decimal,
    pub low_balance: bool,
    pub today: Spend,
    pub month: Spend,
    pub series: Vec<DayPoint>,
    pub month_by_model: Vec<Breakdown>,
    pub month_by_app: Vec<Breakdown>,
    pub time_zone: String,
}

/// A history filter. Times are UTC instants: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// An account name; the active account when `None`.
    pub account: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub app_id: Option<i64>,
    pub model: Option<String>,
    pub kind: Option<EntryKind>,
    pub limit: usize,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct HistoryPage {
    pub entries: Vec<Entry>,
    /// Pass back as `cursor` for the next, older page; `None` on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn spend_from(
    credits_micros: Micros,
    prompt_tokens: i64,
    completion_tokens: i64,
    messages: i64,
) -> Spend {
    Spend {
        credits_micros,
        credits: micros_to_credits(credits_micros),
        prompt_tokens,
        completion_tokens,
        messages,
    }
}

/// Spend over local days `from..=to`.
pub(crate) fn spend_between(
    conn: &Connection,
    account_id: i64,
    from: i32,
    to: i32,
) -> Result<Spend> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(credits_micros), 0), COALESCE(SUM(prompt_tokens), 0),
                    COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(messages), 0)
             FROM daily_usage WHERE account_id = ?1 AND day BETWEEN ?2 AND ?3",
        )?
        .query_row((account_id, from, to), |row| {
            Ok(spend_from(
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
            ))
        })?)
}

fn series(conn: &Connection, account_id: i64, from: i32, to: i32) -> Result<Vec<DayPoint>> {
    let mut statement = conn.prepare_cached(
        "SELECT day, SUM(credits_micros), SUM(prompt_tokens), SUM(completion_tokens), SUM(messages)
         FROM daily_usage WHERE account_id = ?1 AND day BETWEEN ?2 AND ?3 GROUP BY day",
    )?;
    let mut by_day = std::collections::HashMap::new();
    for row in statement.query_map((account_id, from, to), |row| {
        Ok((
            row.get::<_, i32>(0)?,
            spend_from(row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?),
        ))
    })? {
        let (day, spend) = row?;
        by_day.insert(day, spend);
    }
    Ok((from..=to)
        .map(|day| DayPoint {
            date: time::day_to_date(day),
            spend: by_day.remove(&day).unwrap_or_default(),
        })
        .collect())
}

fn breakdown(
    conn: &Connection,
    account_id: i64,
    from: i32,
    to: i32,
    column: &str,
) -> Result<Vec<Breakdown>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT CAST({column} AS TEXT), SUM(credits_micros), SUM(prompt_tokens), SUM(completion_tokens), SUM(messages)
         FROM daily_usage WHERE account_id = ?1 AND day BETWEEN ?2 AND ?3
         GROUP BY {column} ORDER BY SUM(credits_micros) DESC"
    ))?;
    let rows = statement.query_map((account_id, from, to), |row| {
        Ok(Breakdown {
            key: row.get(0)?,
            spend: spend_from(row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The file's reporting zone; `None` before the file is seeded, or when what is stored names no zone.
pub(crate) fn stored_time_zone(conn: &Connection) -> Result<Option<chrono_tz::Tz>> {
    let stored: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'reporting_time_zone'")?
        .query_row([], |row| row.get(0))
        .optional()?;
    Ok(stored.and_then(|name| name.parse().ok()))
}

/// A rollup row's key (account, day, app, model) and sums (credits, prompt, completion, messages).
pub(crate) type RollupRows = BTreeMap<(i64, i32, i64, String), [i64; 4]>;

/// Adds to `rows` the rollup of the usage entries after rowid `after`, days in `zone`, and returns the
/// last rowid read. Entries are never deleted and each new one takes the next rowid, so a second call
/// from that rowid adds exactly what was posted since.
pub(crate) fn recompute_rollup(
    conn: &Connection,
    zone: chrono_tz::Tz,
    after: i64,
    rows: &mut RollupRows,
) -> Result<i64> {
    let mut statement = conn.prepare(
        "SELECT rowid, account_id, created_at, kind, amount_micros, app_id, model, prompt_tokens,
             completion_tokens, side_call IS NOT NULL
         FROM entries WHERE pricing IS NOT NULL AND rowid > ?1 ORDER BY rowid",
    )?;
    let mut entries = statement.query([after])?;
    let mut last = after;
    while let Some(entry) = entries.next()? {
        last = entry.get(0)?;
        let kind = EntryKind::parse(&entry.get::<_, String>(3)?)?;
        let model: Option<String> = entry.get(6)?;
        let (app_id, model, credits, prompt, completion, messages) = rollup_share(
            kind,
            entry.get(4)?,
            entry.get(5)?,
            model.as_deref(),
            (
                entry.get::<_, i64>(7)? as u64,
                entry.get::<_, i64>(8)? as u64,
            ),
            entry.get(9)?,
        );
        let day = time::local_day(zone, entry.get(2)?);
        let sums = rows
            .entry((entry.get(1)?, day, app_id, model.to_owned()))
            .or_default();
        for (sum, share) in sums.iter_mut().zip([credits, prompt, completion, messages]) {
            *sum += share;
        }
    }
    Ok(last)
}

/// The stored rollup, as [`recompute_rollup`] builds it.
pub(crate) fn stored_rollup(conn: &Connection) -> Result<RollupRows> {
    let mut statement = conn.prepare(
        "SELECT account_id, day, app_id, model, credits_micros, prompt_tokens, completion_tokens, messages
         FROM daily_usage",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?),
            [row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?],
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn encode_cursor(entry: &Entry) -> String {
    format!("{}_{}", time::to_micros(entry.created_at), entry.id)
}

fn decode_cursor(cursor: &str) -> Result<(i64, String)> {
    cursor
        .split_once('_')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.to_owned())))
        .ok_or_else(|| LedgerError::invalid(format!("{cursor:?} is not a history cursor")))
}

impl Ledger {
    /// Takes the file's own reporting time zone: a process started in another zone (a CLI run elsewhere, a
    /// laptop that travelled) reads the days as the file counts them and never rebuilds the rollup under a
    /// running desktop. Only a zone that cannot be read is replaced, by this process's, with the rollup
    /// rebuilt to match.
    pub(crate) fn load_time_zone(&mut self) -> Result<()> {
        match stored_time_zone(&self.conn)? {
            Some(zone) => {
                self.env.time_zone = zone;
                Ok(())
            }
            None => self.set_time_zone(self.env.time_zone),
        }
    }

    /// Moves the reporting time zone, an admin's explicit choice: days, months and local budgets follow it
    /// from now on, in every process that has the file open (each write reads the file's zone). The
    /// rollup is recomputed on a read snapshot, which WAL lets charges commit beside; only the entries
    /// posted since, the swap of the rollup's rows and the zone itself are written under the write lock.
    /// A setting of this file's own display, so an enrolled device may move it too (the org's budgets
    /// keep the org's zone).
    pub fn set_time_zone(&mut self, zone: chrono_tz::Tz) -> Result<()> {
        let mut rows = RollupRows::new();
        let snapshot = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)?;
        let through = recompute_rollup(&snapshot, zone, 0, &mut rows)?;
        snapshot.commit()?;
        self.write(|tx| {
            recompute_rollup(tx, zone, through, &mut rows)?;
            tx.execute("DELETE FROM daily_usage", [])?;
            let mut insert = tx.prepare(ROLLUP_ADD)?;
            for ((account, day, app, model), [credits, prompt, completion, messages]) in &rows {
                insert.execute(rusqlite::params![
                    account, day, app, model, credits, prompt, completion, messages
                ])?;
            }
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'reporting_time_zone'",
                [zone.name()],
            )?;
            Ok(())
        })?;
        self.env.time_zone = zone;
        Ok(())
    }

    fn today(&self) -> i32 {
        time::local_day(self.time_zone(), self.env.now_micros())
    }

    /// Everything the dashboard's first screen shows, for the active account, with a `days`-long series.
    pub fn dashboard(&self, days: u16) -> Result<Dashboard> {
        let account = self.shown_account()?;
        let policy = self.policy()?;
        let rate = current_rate(&self.conn)?;
        let today = self.today();
        let month_start = time::first_day_of_month(today);
        let balance = micros_to_credits(account.balance_micros);
        Ok(Dashboard {
            balance_micros: account.balance_micros,
            balance,
            credits_per_usd: rate,
            balance_usd: (balance / rate).round_dp(2),
            low_balance: account.balance_micros < policy.low_balance_micros,
            today: spend_between(&self.conn, account.id, today, today)?,
            month: spend_between(&self.conn, account.id, month_start, today)?,
            series: series(
                &self.conn,
                account.id,
                today - i32::from(days.max(1)) + 1,
                today,
            )?,
            month_by_model: breakdown(&self.conn, account.id, month_start, today, "model")?,
            month_by_app: breakdown(&self.conn, account.id, month_start, today, "app_id")?,
            account: account.name,
            time_zone: self.time_zone().name().into(),
        })
    }

    /// One page of history, newest first.
    pub fn history(&self, query: &HistoryQuery) -> Result<HistoryPage> {
        let account = match &query.account {
            Some(name) => self.account(name)?,
            None => self.shown_account()?,
        };
        let limit = query.limit.clamp(1, MAX_PAGE_ROWS);
        let mut sql = format!("SELECT {ENTRY_COLUMNS} FROM entries WHERE account_id = ?");
        let mut params: Vec<Box<dyn ToSql>> = vec![Box::new(account.id)];
        let mut filter = |clause: &str, value: Box<dyn ToSql>| {
            sql.push_str(clause);
            params.push(value);
        };
        if let Some(from) = query.from {
            filter(" AND created_at >= ?", Box::new(time::to_micros(from)));
        }
        if let Some(to) = query.to {
            filter(" AND created_at < ?", Box::new(time::to_micros(to)));
        }
        if let Some(app_id) = query.app_id {
            filter(" AND app_id = ?", Box::new(app_id));
        }
        if let Some(model) = &query.model {
            filter(" AND model = ?", Box::new(model.clone()));
        }
        if let Some(kind) = query.kind {
            filter(" AND kind = ?", Box::new(kind.as_str()));
        }
        if let Some(cursor) = &query.cursor {
            let (at, id) = decode_cursor(cursor)?;
            filter(" AND (created_at, id) < (?, ?)", Box::new(at));
            params.push(Box::new(id));
        }
        sql.push_str(" ORDER BY created_at DESC, id DESC LIMIT ?");
        params.push(Box::new(limit as i64 + 1));
        let mut statement = self.conn.prepare_cached(&sql)?;
        let mut entries = statement
            .query_map(
                rusqlite::params_from_iter(params.iter().map(|param| param.as_ref())),
                from_row,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let next_cursor = (entries.len() > limit).then(|| {
            entries.truncate(limit);
            entries.last().map(encode_cursor)
        });
        Ok(HistoryPage {
            entries,
            next_cursor: next_cursor.flatten(),
        })
    }

    /// Writes every entry the query matches (all pages) as CSV, times in the reporting time zone.
    pub fn export_csv(&self, query: &HistoryQuery, out: impl std::io::Write) -> Result<usize> {
        let zone = self.time_zone();
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record([
            "time",
            "kind",
            "credits",
            "app",
            "model",
            "prompt_tokens",
            "completion_tokens",
            "estimated",
            "side_call",
            "usd_cost",
            "input_usd_per_1k",
            "output_usd_per_1k",
            "credits_per_usd",
            "dify_total_price",
            "dify_currency",
            "message_id",
            "conversation_id",
            "actor",
            "reason",
            "entry_id",
        ])?;
        let mut query = HistoryQuery {
            limit: MAX_PAGE_ROWS,
            cursor: None,
            ..query.clone()
        };
        let mut written = 0;
        loop {
            let page = self.history(&query)?;
            for entry in &page.entries {
                let usage = entry.usage.as_ref();
                let text = |value: Option<String>| value.unwrap_or_default();
                // Names, ids and reasons come from Dify's page or an admin: never a formula.
                let words = |value: Option<String>| csv_text(&text(value));
                writer.write_record([
                    entry.created_at.with_timezone(&zone).to_rfc3339(),
                    entry.kind.as_str().into(),
                    entry.amount.to_string(),
                    words(usage.map(|usage| usage.app_name.clone())),
                    words(usage.and_then(|usage| usage.model.clone())),
                    text(usage.map(|usage| usage.prompt_tokens.to_string())),
                    text(usage.map(|usage| usage.completion_tokens.to_string())),
                    text(usage.map(|usage| usage.estimated.to_string())),
                    text(usage.and_then(|usage| usage.side_call.map(|kind| kind.as_str().into()))),
                    text(usage.map(|usage| usage.usd_cost.to_string())),
                    text(
                        usage.and_then(|usage| {
                            usage.price.map(|price| price.input_per_1k.to_string())
                        }),
                    ),
                    text(usage.and_then(|usage| {
                        usage.price.map(|price| price.output_per_1k.to_string())
                    })),
                    text(usage.map(|usage| usage.credits_per_usd.to_string())),
                    text(
                        usage.and_then(|usage| {
                            usage.dify_total_price.map(|price| price.to_string())
                        }),
                    ),
                    words(usage.and_then(|usage| usage.dify_currency.clone())),
                    words(usage.map(|usage| usage.message_id.clone())),
                    words(usage.and_then(|usage| usage.conversation_id.clone())),
                    csv_text(&entry.actor),
                    words(entry.reason.clone()),
                    entry.id.clone(),
                ])?;
                written += 1;
            }
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => break,
            }
        }
        writer.flush()?;
        Ok(written)
    }
}
