//! Model prices (USD per 1K tokens), exact aliases, the credits-per-USD rate, and their history.

use rusqlite::{Connection, OptionalExtension, Row};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

use crate::error::{LedgerError, Result};
use crate::money::{Price, parse_decimal, parse_price, stored_decimal};
use crate::{Ledger, Tx, time};

const MAX_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ModelConfig {
    pub id: i64,
    pub name: String,
    #[ts(type = "string")]
    pub input_usd_per_1k: Decimal,
    #[ts(type = "string")]
    pub output_usd_per_1k: Decimal,
    pub active: bool,
    /// Seeded list prices stay flagged until an admin sets or confirms them.
    pub needs_review: bool,
    pub aliases: Vec<String>,
    pub created_by: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl ModelConfig {
    pub fn price(&self) -> Price {
        Price {
            input_per_1k: self.input_usd_per_1k,
            output_per_1k: self.output_usd_per_1k,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PriceChange {
    pub id: i64,
    pub model: String,
    pub old: Option<Price>,
    pub new: Price,
    pub changed_by: String,
    pub reason: String,
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RateChange {
    pub id: i64,
    #[ts(type = "string | null")]
    pub old_rate: Option<Decimal>,
    #[ts(type = "string")]
    pub new_rate: Decimal,
    pub changed_by: String,
    pub reason: String,
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

/// What a price import did. A bad row is reported with its line; the good rows still import.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// The imported models priced at 0 for input and output: free, said so rather than a silent 0.
    pub free: Vec<String>,
    /// Entries that are not models priced per token (images, audio, rerankers…), each with why.
    pub skipped: Vec<ImportSkip>,
    pub errors: Vec<ImportError>,
}

/// An entry of a price file left out on purpose, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImportSkip {
    pub line: u64,
    pub name: String,
    pub reason: String,
}

/// A price file read into rows to import, entries left out on purpose, and bad entries.
#[derive(Default)]
pub struct ParsedPrices {
    pub rows: Vec<PriceRow>,
    pub skipped: Vec<ImportSkip>,
    pub errors: Vec<ImportError>,
}

/// How far an import has got: `done` of its `total` parsed rows written (or failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImportProgress {
    pub done: usize,
    pub total: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImportError {
    pub line: u64,
    pub message: String,
}

/// What an import would do, row by row, before anything is written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ImportPreview {
    pub rows: Vec<PreviewRow>,
    pub skipped: Vec<ImportSkip>,
    pub errors: Vec<ImportError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PreviewRow {
    pub line: u64,
    pub name: String,
    #[ts(type = "string")]
    pub input_usd_per_1k: Decimal,
    #[ts(type = "string")]
    pub output_usd_per_1k: Decimal,
    pub aliases: Vec<String>,
    /// `create`, `update` or `unchanged`.
    #[ts(type = r#""create" | "update" | "unchanged""#)]
    pub change: &'static str,
    /// Priced at 0 for input and output: imported as a free model.
    pub free: bool,
}

/// A row to import: a model name, its price, and optional aliases.
pub struct PriceRow {
    pub line: u64,
    pub name: String,
    pub price: Price,
    pub aliases: Vec<String>,
}

impl PriceRow {
    pub fn is_free(&self) -> bool {
        self.price.input_per_1k.is_zero() && self.price.output_per_1k.is_zero()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOutcome {
    Created,
    Updated,
    Unchanged,
}

const MODEL_COLUMNS: &str = "id, name, input_usd_per_1k, output_usd_per_1k, active, needs_review, created_by, created_at, updated_at";

fn model_from_row(row: &Row) -> rusqlite::Result<ModelConfig> {
    Ok(ModelConfig {
        id: row.get(0)?,
        name: row.get(1)?,
        input_usd_per_1k: stored_decimal(&row.get::<_, String>(2)?)?,
        output_usd_per_1k: stored_decimal(&row.get::<_, String>(3)?)?,
        active: row.get(4)?,
        needs_review: row.get(5)?,
        aliases: Vec::new(),
        created_by: row.get(6)?,
        created_at: time::from_micros(row.get(7)?),
        updated_at: time::from_micros(row.get(8)?),
    })
}

fn with_aliases(conn: &Connection, mut model: ModelConfig) -> Result<ModelConfig> {
    let mut statement =
        conn.prepare_cached("SELECT alias FROM model_aliases WHERE model_id = ?1 ORDER BY alias")?;
    model.aliases = statement
        .query_map([model.id], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(model)
}

/// Finds a model by its exact name or an exact alias. Never by prefix.
pub(crate) fn find_model(conn: &Connection, name: &str) -> Result<Option<ModelConfig>> {
    let model = conn
        .query_row(
            &format!(
                "SELECT {MODEL_COLUMNS} FROM models WHERE name = ?1
                 UNION ALL
                 SELECT {MODEL_COLUMNS} FROM models WHERE id = (SELECT model_id FROM model_aliases WHERE alias = ?1)
                 LIMIT 1"
            ),
            [name.trim()],
            model_from_row,
        )
        .optional()?;
    model.map(|model| with_aliases(conn, model)).transpose()
}

pub(crate) fn model_by_id(conn: &Connection, id: i64) -> Result<ModelConfig> {
    let model = conn
        .prepare_cached(&format!("SELECT {MODEL_COLUMNS} FROM models WHERE id = ?1"))?
        .query_row([id], model_from_row)?;
    with_aliases(conn, model)
}

pub(crate) fn current_rate(conn: &Connection) -> Result<Decimal> {
    let rate: String = conn
        .prepare_cached("SELECT credits_per_usd FROM exchange_rate WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    Ok(stored_decimal(&rate)?)
}

fn required(text: &str, what: &str) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(LedgerError::invalid(format!("{what} is required")));
    }
    if text.chars().count() > MAX_NAME_CHARS * 5 {
        return Err(LedgerError::invalid(format!("{what} is too long")));
    }
    Ok(text.to_owned())
}

fn model_name(text: &str) -> Result<String> {
    let name = required(text, "a model name")?;
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(LedgerError::invalid(format!(
            "{name:?} is not a usable model name"
        )));
    }
    Ok(name)
}

/// Creates or reprices a model inside a transaction, writing a history row for every price change.
fn set_model_in(
    tx: &Tx,
    name: &str,
    price: Price,
    actor: &str,
    reason: &str,
) -> Result<SetOutcome> {
    let name = model_name(name)?;
    let reason = required(reason, "a reason")?;
    let now = tx.env.now_micros();
    let alias_owner: Option<i64> = tx
        .query_row(
            "SELECT model_id FROM model_aliases WHERE alias = ?1",
            [&name],
            |row| row.get(0),
        )
        .optional()?;
    if alias_owner.is_some() {
        return Err(LedgerError::AlreadyExists {
            what: "model alias",
            name,
        });
    }
    let (input, output) = (
        price.input_per_1k.normalize().to_string(),
        price.output_per_1k.normalize().to_string(),
    );
    let existing = find_model(tx, &name)?;
    let Some(existing) = existing else {
        tx.execute(
            "INSERT INTO models (name, input_usd_per_1k, output_usd_per_1k, created_by, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            (&name, &input, &output, actor, now),
        )?;
        tx.execute(
            "INSERT INTO model_price_history (model_id, new_input, new_output, changed_by, reason, changed_at)
             VALUES (last_insert_rowid(), ?1, ?2, ?3, ?4, ?5)",
            (&input, &output, actor, &reason, now),
        )?;
        return Ok(SetOutcome::Created);
    };
    if existing.price() == price {
        if existing.needs_review {
            tx.execute(
                "UPDATE models SET needs_review = 0, updated_at = ?2 WHERE id = ?1",
                (existing.id, now),
            )?;
        }
        return Ok(SetOutcome::Unchanged);
    }
    tx.execute(
        "UPDATE models SET input_usd_per_1k = ?2, output_usd_per_1k = ?3, needs_review = 0, updated_at = ?4
         WHERE id = ?1",
        (existing.id, &input, &output, now),
    )?;
    tx.execute(
        "INSERT INTO model_price_history (model_id, old_input, old_output, new_input, new_output, changed_by,
             reason, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        (
            existing.id,
            existing.input_usd_per_1k.to_string(),
            existing.output_usd_per_1k.to_string(),
            &input,
            &output,
            actor,
            &reason,
            now,
        ),
    )?;
    Ok(SetOutcome::Updated)
}

fn set_aliases_in(tx: &Tx, model: &str, aliases: &[String]) -> Result<()> {
    let model = find_model(tx, model)?.ok_or_else(|| LedgerError::NotFound {
        what: "model",
        name: model.into(),
    })?;
    tx.execute("DELETE FROM model_aliases WHERE model_id = ?1", [model.id])?;
    for alias in aliases {
        let alias = model_name(alias)?;
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM models WHERE name = ?1) OR EXISTS (SELECT 1 FROM model_aliases WHERE alias = ?1)",
            [&alias],
            |row| row.get(0),
        )?;
        if taken {
            return Err(LedgerError::AlreadyExists {
                what: "model name or alias",
                name: alias,
            });
        }
        tx.execute(
            "INSERT INTO model_aliases (alias, model_id) VALUES (?1, ?2)",
            (&alias, model.id),
        )?;
    }
    Ok(())
}

impl Ledger {
    pub fn models(&self) -> Result<Vec<ModelConfig>> {
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {MODEL_COLUMNS} FROM models ORDER BY name"))?;
        let models = statement
            .query_map([], model_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        models
            .into_iter()
            .map(|model| with_aliases(&self.conn, model))
            .collect()
    }

    /// A model by exact name or exact alias.
    pub fn model(&self, name: &str) -> Result<ModelConfig> {
        find_model(&self.conn, name)?.ok_or_else(|| LedgerError::NotFound {
            what: "model",
            name: name.into(),
        })
    }

    /// Adds a model; fails if the name is taken.
    pub fn add_model(
        &mut self,
        name: &str,
        price: Price,
        actor: &str,
        reason: &str,
    ) -> Result<ModelConfig> {
        if find_model(&self.conn, name)?.is_some() {
            return Err(LedgerError::AlreadyExists {
                what: "model",
                name: name.trim().into(),
            });
        }
        self.set_model(name, price, actor, reason)
    }

    /// Changes an existing model's price; fails if there is no such model.
    pub fn update_model_price(
        &mut self,
        name: &str,
        price: Price,
        actor: &str,
        reason: &str,
    ) -> Result<ModelConfig> {
        let model = self.model(name)?;
        self.set_model(&model.name, price, actor, reason)
    }

    /// Creates the model, or changes its price, with a history row either way.
    pub fn set_model(
        &mut self,
        name: &str,
        price: Price,
        actor: &str,
        reason: &str,
    ) -> Result<ModelConfig> {
        self.admin_write(|tx| set_model_in(tx, name, price, actor, reason))?;
        self.model(name)
    }

    pub fn set_model_active(&mut self, name: &str, active: bool) -> Result<ModelConfig> {
        let model = self.model(name)?;
        self.admin_write(|tx| {
            tx.execute(
                "UPDATE models SET active = ?2, updated_at = ?3 WHERE id = ?1",
                (model.id, active, tx.env.now_micros()),
            )?;
            Ok(())
        })?;
        self.model(&model.name)
    }

    /// Replaces a model's aliases. An alias may not be another model's name or alias.
    pub fn set_model_aliases(&mut self, name: &str, aliases: &[String]) -> Result<ModelConfig> {
        self.admin_write(|tx| set_aliases_in(tx, name, aliases))?;
        self.model(name)
    }

    pub fn model_price_history(&self, name: &str) -> Result<Vec<PriceChange>> {
        let model = self.model(name)?;
        let mut statement = self.conn.prepare(
            "SELECT old_input, old_output, new_input, new_output, changed_by, reason, changed_at, id
             FROM model_price_history WHERE model_id = ?1 ORDER BY changed_at DESC, id DESC",
        )?;
        let rows = statement.query_map([model.id], |row| {
            let old = match (
                row.get::<_, Option<String>>(0)?,
                row.get::<_, Option<String>>(1)?,
            ) {
                (Some(input), Some(output)) => Some(Price {
                    input_per_1k: stored_decimal(&input)?,
                    output_per_1k: stored_decimal(&output)?,
                }),
                _ => None,
            };
            Ok(PriceChange {
                id: row.get(7)?,
                model: model.name.clone(),
                old,
                new: Price {
                    input_per_1k: stored_decimal(&row.get::<_, String>(2)?)?,
                    output_per_1k: stored_decimal(&row.get::<_, String>(3)?)?,
                },
                changed_by: row.get(4)?,
                reason: row.get(5)?,
                changed_at: time::from_micros(row.get(6)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Credits per USD.
    pub fn exchange_rate(&self) -> Result<Decimal> {
        current_rate(&self.conn)
    }

    pub fn set_exchange_rate(
        &mut self,
        credits_per_usd: Decimal,
        actor: &str,
        reason: &str,
    ) -> Result<RateChange> {
        let rate = crate::money::parse_rate(&credits_per_usd.to_string())?;
        let reason = required(reason, "a reason")?;
        self.admin_write(|tx| {
            let old = current_rate(tx)?;
            let now = tx.env.now_micros();
            tx.execute(
                "UPDATE exchange_rate SET credits_per_usd = ?1, updated_by = ?2, updated_at = ?3 WHERE id = 1",
                (rate.to_string(), actor, now),
            )?;
            tx.execute(
                "INSERT INTO exchange_rate_history (old_rate, new_rate, changed_by, reason, changed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (old.to_string(), rate.to_string(), actor, &reason, now),
            )?;
            Ok(RateChange {
                id: tx.last_insert_rowid(),
                old_rate: Some(old),
                new_rate: rate,
                changed_by: actor.into(),
                reason,
                changed_at: time::from_micros(now),
            })
        })
    }

    pub fn exchange_rate_history(&self) -> Result<Vec<RateChange>> {
        let mut statement = self.conn.prepare(
            "SELECT old_rate, new_rate, changed_by, reason, changed_at, id FROM exchange_rate_history
             ORDER BY changed_at DESC, id DESC",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(RateChange {
                id: row.get(5)?,
                old_rate: row
                    .get::<_, Option<String>>(0)?
                    .map(|rate| stored_decimal(&rate))
                    .transpose()?,
                new_rate: stored_decimal(&row.get::<_, String>(1)?)?,
                changed_by: row.get(2)?,
                reason: row.get(3)?,
                changed_at: time::from_micros(row.get(4)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Imports a price file, told apart by its first character: CSV with a header
    /// `name,input_usd_per_1k,output_usd_per_1k[,aliases]` (aliases separated by `|`), or LiteLLM's price map
    /// (`model_prices_and_context_window.json`), whose per-token `input_cost_per_token` and
    /// `output_cost_per_token` become USD per 1K. `progress` hears of every row as it is done.
    pub fn import_models(
        &mut self,
        text: &str,
        actor: &str,
        reason: &str,
        progress: impl FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let parsed = parse_price_file(text)?;
        self.import_rows(parsed, actor, reason, progress)
    }

    /// Parses a price file (CSV or LiteLLM JSON) and says what importing it would change, writing nothing.
    pub fn preview_import(&self, text: &str) -> Result<ImportPreview> {
        let ParsedPrices {
            rows,
            skipped,
            mut errors,
        } = parse_price_file(text)?;
        let mut previewed = Vec::new();
        for row in rows {
            if let Err(err) = model_name(&row.name) {
                errors.push(ImportError {
                    line: row.line,
                    message: err.to_string(),
                });
                continue;
            }
            let change = match find_model(&self.conn, &row.name)? {
                None => "create",
                Some(model) if model.price() == row.price => "unchanged",
                Some(_) => "update",
            };
            previewed.push(PreviewRow {
                free: row.is_free(),
                line: row.line,
                name: row.name,
                input_usd_per_1k: row.price.input_per_1k,
                output_usd_per_1k: row.price.output_per_1k,
                aliases: row.aliases,
                change,
            });
        }
        errors.sort_by_key(|error| error.line);
        Ok(ImportPreview {
            rows: previewed,
            skipped,
            errors,
        })
    }

    fn import_rows(
        &mut self,
        parsed: ParsedPrices,
        actor: &str,
        reason: &str,
        mut progress: impl FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let ParsedPrices {
            rows,
            skipped,
            mut errors,
        } = parsed;
        let total = rows.len();
        let mut report = ImportReport {
            skipped,
            ..ImportReport::default()
        };
        let mut rows = rows.into_iter().peekable();
        let mut done = 0;
        // One transaction per batch, so a charge from another connection never waits on a long file.
        // A file cut short by a crash leaves whole batches in; importing it again finishes the rest.
        while rows.peek().is_some() {
            let batch: Vec<PriceRow> = rows.by_ref().take(IMPORT_BATCH_ROWS).collect();
            done += batch.len();
            self.admin_write(|tx| {
                for row in batch {
                    // Each row is its own savepoint, so one bad row leaves the others in.
                    let free = row.is_free();
                    let outcome = (|| {
                        tx.execute_batch("SAVEPOINT import_row")?;
                        let outcome = set_model_in(tx, &row.name, row.price, actor, reason)?;
                        if !row.aliases.is_empty() {
                            set_aliases_in(tx, &row.name, &row.aliases)?;
                        }
                        tx.execute_batch("RELEASE import_row")?;
                        Ok::<_, LedgerError>(outcome)
                    })();
                    if free && outcome.is_ok() {
                        report.free.push(row.name.clone());
                    }
                    match outcome {
                        Ok(SetOutcome::Created) => report.created += 1,
                        Ok(SetOutcome::Updated) => report.updated += 1,
                        Ok(SetOutcome::Unchanged) => report.unchanged += 1,
                        Err(err) => {
                            tx.execute_batch("ROLLBACK TO import_row; RELEASE import_row")?;
                            report.errors.push(ImportError {
                                line: row.line,
                                message: err.to_string(),
                            });
                        }
                    }
                }
                Ok(())
            })?;
            progress(ImportProgress { done, total });
        }
        errors.append(&mut report.errors);
        errors.sort_by_key(|error| error.line);
        report.errors = errors;
        Ok(report)
    }
}

/// Rows an import commits at a time: the write lock is let go between batches.
const IMPORT_BATCH_ROWS: usize = 200;

/// Parses a price file (CSV, or LiteLLM's price-map JSON) into rows, skipped entries and line-numbered errors,
/// writing nothing: the org admin's import sends these rows to the server.
pub fn parse_price_file(text: &str) -> Result<ParsedPrices> {
    if text.trim_start().starts_with('{') {
        parse_litellm(text)
    } else {
        let (rows, errors) = parse_price_csv(text);
        Ok(ParsedPrices {
            rows,
            skipped: Vec::new(),
            errors,
        })
    }
}

fn parse_price_csv(text: &str) -> (Vec<PriceRow>, Vec<ImportError>) {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let header_ok = reader.headers().is_ok_and(|headers| {
        headers.get(0) == Some("name")
            && headers.get(1) == Some("input_usd_per_1k")
            && headers.get(2) == Some("output_usd_per_1k")
    });
    if !header_ok {
        errors.push(ImportError {
            line: 1,
            message: "the header must be name,input_usd_per_1k,output_usd_per_1k[,aliases]".into(),
        });
        return (rows, errors);
    }
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map_or(0, csv::Position::line);
                errors.push(ImportError {
                    line,
                    message: err.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let field = |index: usize| record.get(index).unwrap_or("");
        let price = parse_price(field(1)).and_then(|input| {
            Ok(Price {
                input_per_1k: input,
                output_per_1k: parse_price(field(2))?,
            })
        });
        match price {
            Ok(price) => rows.push(PriceRow {
                line,
                name: field(0).to_owned(),
                price,
                aliases: field(3)
                    .split('|')
                    .map(str::trim)
                    .filter(|alias| !alias.is_empty())
                    .map(str::to_owned)
                    .collect(),
            }),
            Err(err) => errors.push(ImportError {
                line,
                message: err.to_string(),
            }),
        }
    }
    (rows, errors)
}

const PER_TOKEN_FIELDS: [&str; 2] = ["input_cost_per_token", "output_cost_per_token"];

fn parse_litellm(text: &str) -> Result<ParsedPrices> {
    let map: serde_json::Map<String, Value> = serde_json::from_str(text)
        .map_err(|err| LedgerError::invalid(format!("not a LiteLLM price map: {err}")))?;
    let mut parsed = ParsedPrices::default();
    let lines = top_level_key_lines(text);
    for (name, spec) in map {
        let line = lines.get(&name).copied().unwrap_or(0);
        if let Some(reason) = not_priced_per_token(&name, &spec) {
            parsed.skipped.push(ImportSkip { line, name, reason });
            continue;
        }
        let per_1k = |field: &str| -> std::result::Result<Decimal, String> {
            let text = match &spec[field] {
                Value::Number(number) => number.to_string(),
                Value::String(text) => text.clone(),
                other => return Err(format!("{field} is not a number: {other}")),
            };
            let per_token = parse_decimal(&text)
                .filter(|cost| !cost.is_sign_negative())
                .ok_or_else(|| format!("{field} is not a non-negative number: {text}"))?;
            let per_1k = per_token
                .checked_mul(Decimal::ONE_THOUSAND)
                .ok_or_else(|| format!("{field} is out of range"))?;
            parse_price(&per_1k.normalize().to_string()).map_err(|err| err.to_string())
        };
        match (per_1k(PER_TOKEN_FIELDS[0]), per_1k(PER_TOKEN_FIELDS[1])) {
            (Ok(input_per_1k), Ok(output_per_1k)) => parsed.rows.push(PriceRow {
                line,
                name,
                price: Price {
                    input_per_1k,
                    output_per_1k,
                },
                aliases: Vec::new(),
            }),
            (Err(message), _) | (_, Err(message)) => parsed.errors.push(ImportError {
                line,
                message: format!("{name}: {message}"),
            }),
        }
    }
    parsed.skipped.sort_by_key(|skip| skip.line);
    Ok(parsed)
}

/// Why a LiteLLM entry is not a model TokenDesk can price per token, if it is not: its documentation
/// entry, or a model priced per image, second, character, query or page, or with half a per-token price.
fn not_priced_per_token(name: &str, spec: &Value) -> Option<String> {
    if name == "sample_spec" {
        return Some("LiteLLM's documentation entry, not a model".into());
    }
    let has = |field: &str| spec.get(field).is_some_and(|value| !value.is_null());
    if PER_TOKEN_FIELDS.iter().all(|field| has(field)) {
        return None;
    }
    let mode = spec
        .get("mode")
        .and_then(Value::as_str)
        .map(|mode| format!(" (mode {mode})"))
        .unwrap_or_default();
    if let Some(present) = PER_TOKEN_FIELDS.iter().find(|field| has(field)) {
        return Some(format!(
            "only {present} is given{mode}: a reply's price needs both per-token prices"
        ));
    }
    let other_costs: Vec<&str> = spec
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.contains("cost_per_"))
        .map(|(key, _)| key.as_str())
        .collect();
    Some(if other_costs.is_empty() {
        format!("no price is given{mode}")
    } else {
        format!("priced by {}{mode}, not per token", other_costs.join(", "))
    })
}

/// The 1-based line where each key of a JSON object's top level is written, for error reports: one pass
/// over the text (a search per key made a 4,878-entry map take seconds).
fn top_level_key_lines(text: &str) -> HashMap<String, u64> {
    let mut lines = HashMap::new();
    let (mut line, mut depth) = (1_u64, 0_u32);
    // The string being read: where it began, and whether the next byte is escaped.
    let mut string: Option<(usize, bool)> = None;
    // A string just closed at the top level, which is a key if a colon follows.
    let mut candidate: Option<(&str, u64)> = None;
    for (offset, byte) in text.bytes().enumerate() {
        if byte == b'\n' {
            line += 1;
        }
        match (&mut string, byte) {
            (Some((_, escaped @ true)), _) => *escaped = false,
            (Some((_, escaped)), b'\\') => *escaped = true,
            (Some((start, _)), b'"') => {
                if depth == 1 {
                    candidate = Some((&text[*start..=offset], line));
                }
                string = None;
            }
            (Some(_), _) => {}
            (None, b'"') => string = Some((offset, false)),
            (None, b'{' | b'[') => depth += 1,
            (None, b'}' | b']') => depth = depth.saturating_sub(1),
            (None, b':') => {
                if let Some((quoted, at)) = candidate.take()
                    && let Ok(key) = serde_json::from_str::<String>(quoted)
                {
                    lines.entry(key).or_insert(at);
                }
            }
            (None, byte) if !byte.is_ascii_whitespace() => candidate = None,
            (None, _) => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::top_level_key_lines;

    #[test]
    fn a_key_is_found_on_its_own_line_whatever_the_values_before_it_hold() {
        let text = "{\n  \"a\": {\"see\": \"b\", \"note\": \"a \\\"b\\\": {[\", \"list\": [\"b\", {\"b\": 1}]},\n\n  \"b\": {\n    \"c\": 2\n  }, \"d\\u00e9\": [] }";
        let lines = top_level_key_lines(text);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(
            (lines["a"], lines["b"], lines["dé"]),
            (2, 4, 6),
            "{lines:?}"
        );
    }
}
