//! The one charge path for a Dify event: parse → validate → resolve the app by its page URL → price →
//! guards → idempotent insert → new balance, all in one `BEGIN IMMEDIATE` transaction.

use rusqlite::{Connection, OptionalExtension};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::accounts::account_by_id;
use crate::apps::{DifyApp, ResolveError, price_as, resolve};
use crate::entries::{self, EntryKind, NewEntry, Pricing, UsageSnapshot};
use crate::error::{EventError, Result};
use crate::frame::{self, MAX_PAYLOAD_BYTES};
use crate::guards::{Policy, SideCall, SideCallPricing, is_flooding, is_over_cap, read_policy};
use crate::money::{Micros, Price, micros_to_credits, usd_for_tokens, usd_to_micros};
use crate::pricing::{current_rate, model_by_id};
use crate::{Ledger, Tx, seed, sync};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Charged,
    Duplicate,
    Conflict,
    Held,
    Rejected,
}

/// What happened to one event. `amount` is the credits charged (or held, or charged originally for a
/// duplicate); `reason` says why when the event was not simply charged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ChargeResult {
    pub outcome: Outcome,
    pub amount_micros: Micros,
    #[ts(type = "string")]
    pub amount: Decimal,
    pub code: Option<String>,
    pub reason: Option<String>,
    pub message_id: Option<String>,
    /// The Dify app the event was resolved to; `None` when it was rejected before that.
    pub app_name: Option<String>,
    pub entry_id: Option<String>,
    pub held_id: Option<String>,
    pub audit_id: Option<String>,
    pub estimated: bool,
    pub balance_micros: Micros,
    #[ts(type = "string")]
    pub balance: Decimal,
}

/// What the relay sends when a reply ended without usage: the texts to estimate tokens from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IncompleteReport {
    pub message_id: Option<String>,
    pub conversation_id: Option<String>,
    pub task_id: Option<String>,
    /// A workflow app's run: Dify keeps its record under this id, so the charge is keyed by it.
    pub workflow_run_id: Option<String>,
    pub endpoint: Option<String>,
    pub query: String,
    pub answer: String,
    /// `no_message_end`, `no_usage`, or `unreported` (a send let through that no report named in time).
    pub reason: Option<String>,
    /// A workflow run's own count of its tokens (`workflow_finished.data.total_tokens`), when it gave one.
    pub total_tokens: Option<u64>,
}

/// What the relay sends for a side call: a model call Dify makes beside a reply (naming the conversation,
/// suggesting questions), which reports no usage of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideCallReport {
    /// The relay's id for this one call: a report sent again is the same call.
    pub call_id: String,
    pub side_call: SideCall,
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// What Dify put in the call's prompt besides its instructions, as far as the page saw it: the
    /// conversation's first query (naming), or the reply's query and answer (suggestions).
    #[serde(default)]
    pub context: String,
    /// What the call answered: the name, or the questions.
    #[serde(default)]
    pub output: String,
}

/// Tokens of Dify's own instructions around a side call's context (cl100k, Dify 1.x prompts): the
/// title prompt asks for a JSON object with the language and a reasoning; the suggestion prompt for an
/// array of three questions.
fn side_call_overhead(kind: SideCall) -> (u64, u64) {
    match kind {
        // Instructions; the answer's JSON keys, language and reasoning around the name the page sees.
        SideCall::ConversationName => (200, 40),
        // Instructions; the array's brackets and quotes around the questions.
        SideCall::SuggestedQuestions => (80, 10),
    }
}

/// The most context Dify puts in a suggestion prompt: its memory's token limit.
const SUGGESTION_CONTEXT_TOKENS: u64 = 3000;
/// The most a side call's report may say in `call_id`.
const MAX_CALL_ID_CHARS: usize = 64;

/// Why an event is held for an admin instead of charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    Cap,
    Flood,
    Conflict,
    Unpriced,
    /// Enrolled: past the offline lease the org server reserved for this device.
    OfflineAllowance,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cap => "cap",
            Self::Flood => "flood",
            Self::Conflict => "conflict",
            Self::Unpriced => "unpriced",
            Self::OfflineAllowance => "offline_allowance",
        }
    }
}

/// A validated event, ready to price.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub message_id: String,
    pub conversation_id: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub dify_total_price: Option<Decimal>,
    pub dify_currency: Option<String>,
    pub estimated: bool,
    pub side_call: Option<SideCall>,
}

impl Event {
    /// Two deliveries are the same event when these agree; the JSON style and field order do not matter.
    fn content_hash(&self) -> String {
        let canonical = format!(
            "{}|{}|{}|{}|{}",
            self.prompt_tokens,
            self.completion_tokens,
            self.dify_total_price
                .map(|price| price.normalize().to_string())
                .unwrap_or_default(),
            self.dify_currency.as_deref().unwrap_or(""),
            self.estimated
        );
        let canonical = match self.side_call {
            Some(kind) => format!("{canonical}|{}", kind.as_str()),
            None => canonical,
        };
        format!("{:x}", Sha256::digest(canonical.as_bytes()))
    }
}

/// An event priced at the current price list and rate.
pub(crate) struct PricedEvent {
    pub snapshot: UsageSnapshot,
    pub micros: Micros,
}

pub(crate) fn parse_message_end(
    payload: &str,
    policy: &Policy,
) -> std::result::Result<Event, EventError> {
    let frame = frame::parse_message_end(payload, policy.max_tokens_per_event as u64)?;
    Ok(Event {
        message_id: frame.message_id,
        conversation_id: frame.conversation_id,
        prompt_tokens: frame.usage.prompt_tokens,
        completion_tokens: frame.usage.completion_tokens,
        dify_total_price: frame.usage.total_price,
        dify_currency: frame.usage.currency,
        estimated: false,
        side_call: None,
    })
}

/// Tokens of `text` (cl100k), refused above `limit`.
fn count_tokens(
    field: &'static str,
    text: &str,
    limit: u64,
) -> std::result::Result<u64, EventError> {
    let tokens = tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len() as u64;
    if tokens > limit {
        return Err(EventError::AbsurdTokens {
            field,
            value: tokens,
            limit,
        });
    }
    Ok(tokens)
}

/// A side call's report, its tokens estimated from Dify's instructions and what the page saw.
pub(crate) fn parse_side_call(
    payload: &str,
    policy: &Policy,
) -> std::result::Result<Event, EventError> {
    let object = frame::parse_object(payload)?;
    let report: SideCallReport = serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|err| EventError::MalformedJson(err.to_string()))?;
    let call_id = report.call_id.trim();
    if call_id.is_empty()
        || call_id.len() > MAX_CALL_ID_CHARS
        || !call_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(EventError::MalformedJson(format!(
            "call_id {call_id:?} is not 1 to {MAX_CALL_ID_CHARS} letters, digits, - or _"
        )));
    }
    let limit = policy.max_tokens_per_event as u64;
    let (instructions, answer_format) = side_call_overhead(report.side_call);
    let context = match report.side_call {
        // Dify keeps a long first query's head and tail only.
        SideCall::ConversationName if report.context.chars().count() > 2000 => {
            let chars: Vec<char> = report.context.chars().collect();
            let head: String = chars[..300].iter().collect();
            let tail: String = chars[chars.len() - 300..].iter().collect();
            count_tokens(
                "prompt_tokens",
                &format!("{head}...[TRUNCATED]...{tail}"),
                limit,
            )?
        }
        SideCall::ConversationName => count_tokens("prompt_tokens", &report.context, limit)?,
        // However much the page saw, Dify's memory gives the prompt no more.
        SideCall::SuggestedQuestions => {
            count_tokens("prompt_tokens", &report.context, u64::MAX)?.min(SUGGESTION_CONTEXT_TOKENS)
        }
    };
    Ok(Event {
        message_id: format!("{}:{call_id}", report.side_call.as_str()),
        conversation_id: report.conversation_id,
        prompt_tokens: instructions + context,
        completion_tokens: answer_format
            + count_tokens("completion_tokens", &report.output, limit)?,
        dify_total_price: None,
        dify_currency: None,
        estimated: true,
        side_call: Some(report.side_call),
    })
}

pub(crate) fn parse_incomplete(
    payload: &str,
    policy: &Policy,
) -> std::result::Result<Event, EventError> {
    let object = frame::parse_object(payload)?;
    // A workflow app's reply has no message: its run id is the key Dify's records use.
    let message_id = frame::message_id(&object)
        .or_else(|| frame::optional_id(&object, "workflow_run_id"))
        .or_else(|| frame::optional_id(&object, "task_id").map(|task| format!("task:{task}")))
        .ok_or(EventError::MissingMessageId)?;
    let report: IncompleteReport = serde_json::from_value(serde_json::Value::Object(object))
        .map_err(|err| EventError::MalformedJson(err.to_string()))?;
    if report.total_tokens.is_none()
        && report.query.trim().is_empty()
        && report.answer.trim().is_empty()
    {
        return Err(EventError::NothingToEstimate);
    }
    let limit = policy.max_tokens_per_event as u64;
    let count = |field: &'static str, text: &str| count_tokens(field, text, limit);
    let (prompt_tokens, completion_tokens) = match report.total_tokens {
        // The run's own total is charged; only its split is estimated, from the answer's text.
        Some(total) if total > limit.saturating_mul(2) => {
            return Err(EventError::AbsurdTokens {
                field: "total_tokens",
                value: total,
                limit: limit.saturating_mul(2),
            });
        }
        Some(total) => {
            let completion = count("completion_tokens", &report.answer)?.min(total);
            (total - completion, completion)
        }
        None => (
            count("prompt_tokens", &report.query)?,
            count("completion_tokens", &report.answer)?,
        ),
    };
    Ok(Event {
        message_id,
        conversation_id: report.conversation_id,
        prompt_tokens,
        completion_tokens,
        dify_total_price: None,
        dify_currency: None,
        estimated: true,
        side_call: None,
    })
}

/// Prices an event for an app at the current price list and rate.
pub(crate) fn price(
    conn: &Connection,
    app: &DifyApp,
    event: &Event,
) -> Result<std::result::Result<PricedEvent, String>> {
    let rate = current_rate(conn)?;
    if event.side_call.is_some() {
        let policy = read_policy(conn)?;
        match policy.side_calls {
            SideCallPricing::Free => return Ok(Ok(flat_priced(app, event, rate, 0))),
            SideCallPricing::Fixed => {
                return Ok(Ok(flat_priced(
                    app,
                    event,
                    rate,
                    policy.side_call_fixed_micros,
                )));
            }
            SideCallPricing::Estimate if app.pricing == Pricing::DifyPrice => {
                return Ok(Err(
                    "the app is priced by Dify's reported price, so its side calls cannot be estimated: \
                     bind a model or price side calls fixed"
                        .into(),
                ));
            }
            SideCallPricing::Estimate => {}
        }
    }
    let (model, price, usd) = match (app.pricing, app.model_id) {
        (Pricing::Model, Some(model_id)) => {
            let model = model_by_id(conn, model_id)?;
            if !model.active {
                return Ok(Err(format!(
                    "model {:?} is inactive: activate it or rebind the app",
                    model.name
                )));
            }
            let price = model.price();
            let Some(usd) = usd_for_tokens(event.prompt_tokens, event.completion_tokens, &price)
            else {
                return Ok(Err("the cost is too large to compute".into()));
            };
            (Some(model.name), Some(price), usd)
        }
        (Pricing::DifyPrice, _) => match (event.dify_total_price, event.dify_currency.as_deref()) {
            (Some(total), Some("USD")) if total > Decimal::ZERO => (None, None::<Price>, total),
            (Some(total), Some(currency)) if total > Decimal::ZERO => {
                return Ok(Err(format!(
                    "Dify reported a price in {currency}; only USD can be converted"
                )));
            }
            _ => {
                return Ok(Err(
                    "the app is priced by Dify's reported price, and Dify reported none".into(),
                ));
            }
        },
        (Pricing::Model, None) => return Ok(Err("the app has no bound model".into())),
    };
    let Some(micros) = usd_to_micros(usd, rate) else {
        return Ok(Err("the cost is too large to compute".into()));
    };
    Ok(Ok(PricedEvent {
        micros,
        snapshot: snapshot_of(app, event, rate, model, price, usd.normalize()),
    }))
}

/// A side call priced by the policy rather than by tokens: free, or its fixed amount.
fn flat_priced(app: &DifyApp, event: &Event, rate: Decimal, micros: Micros) -> PricedEvent {
    PricedEvent {
        micros,
        snapshot: snapshot_of(app, event, rate, None, None, Decimal::ZERO),
    }
}

fn snapshot_of(
    app: &DifyApp,
    event: &Event,
    rate: Decimal,
    model: Option<String>,
    price: Option<Price>,
    usd_cost: Decimal,
) -> UsageSnapshot {
    UsageSnapshot {
        pricing: app.pricing,
        app_id: app.id,
        app_name: app.name.clone(),
        model,
        conversation_id: event.conversation_id.clone(),
        message_id: event.message_id.clone(),
        prompt_tokens: event.prompt_tokens,
        completion_tokens: event.completion_tokens,
        price,
        credits_per_usd: rate,
        usd_cost,
        dify_total_price: event.dify_total_price,
        dify_currency: event.dify_currency.clone(),
        estimated: event.estimated,
        side_call: event.side_call,
    }
}

/// Posts a charge for a priced event.
pub(crate) fn post_charge(
    tx: &Tx,
    account_id: i64,
    priced: &PricedEvent,
    held_id: Option<&str>,
    actor: &str,
) -> Result<String> {
    entries::post(
        tx,
        &NewEntry {
            account_id,
            amount_micros: -priced.micros,
            kind: EntryKind::Charge,
            actor,
            reason: None,
            reverses_id: None,
            held_id,
            usage: Some(&priced.snapshot),
        },
    )
}

struct Claimed {
    outcome: Outcome,
    micros: Micros,
    entry_id: Option<String>,
    held_id: Option<String>,
    audit_id: Option<String>,
    reason: Option<String>,
    code: Option<String>,
}

/// An idempotency key as stored.
struct ClaimedKey {
    content_hash: String,
    outcome: String,
    micros: Option<Micros>,
    entry_id: Option<String>,
    held_id: Option<String>,
}

impl Claimed {
    fn new(outcome: Outcome, micros: Micros, code: &str, reason: String) -> Self {
        Self {
            outcome,
            micros,
            entry_id: None,
            held_id: None,
            audit_id: None,
            reason: Some(reason),
            code: Some(code.into()),
        }
    }
}

impl Ledger {
    /// Charges one `message_end` frame (its JSON text) that came from the Dify page at `page_url`.
    /// Bad input is never an `Err`: it is a `rejected` outcome with an audit row. `Err` is a storage failure.
    pub fn record_frame(&mut self, page_url: &str, payload: &str) -> Result<ChargeResult> {
        self.record(page_url, payload, parse_message_end, None)
    }

    /// Charges a frame as [`Ledger::record_frame`] does, but priced as `model` (a name or alias) instead of
    /// the app's binding: the diagnostics window's simulation. The charge's snapshot names the model, and a
    /// held event keeps it for its approval. An unknown model is the caller's error, not the event's:
    /// `Err(NotFound)`, and nothing is recorded.
    pub fn record_frame_priced_as(
        &mut self,
        page_url: &str,
        payload: &str,
        model: &str,
    ) -> Result<ChargeResult> {
        self.record(page_url, payload, parse_message_end, Some(model))
    }

    /// Charges an estimate for a reply whose usage never arrived, from a JSON [`IncompleteReport`].
    pub fn record_incomplete(&mut self, page_url: &str, payload: &str) -> Result<ChargeResult> {
        self.record(page_url, payload, parse_incomplete, None)
    }

    /// Charges a side call, from a JSON [`SideCallReport`], as the policy's `side_calls` prices it.
    pub fn record_side_call(&mut self, page_url: &str, payload: &str) -> Result<ChargeResult> {
        self.record(page_url, payload, parse_side_call, None)
    }

    fn record(
        &mut self,
        page_url: &str,
        payload: &str,
        parse: fn(&str, &Policy) -> std::result::Result<Event, EventError>,
        priced_as: Option<&str>,
    ) -> Result<ChargeResult> {
        self.write(|tx| {
            let policy = read_policy(tx)?;
            let mut account_id: i64 = tx
                .prepare_cached("SELECT active_account_id FROM policy WHERE id = 1")?
                .query_row([], |row| row.get(0))?;
            let checked = if policy.integration_enabled {
                parse(payload, &policy)
            } else {
                Err(EventError::IntegrationDisabled)
            };
            // A bad event is audited and answered; a failing database fails the whole call.
            let resolved = match checked.map(|event| (event, resolve(tx, page_url))) {
                Ok((event, Ok(mut app))) => {
                    let priced_as = priced_as
                        .map(|model| price_as(tx, &mut app, model))
                        .transpose()?;
                    Ok((event, app, priced_as))
                }
                Ok((_, Err(ResolveError::Event(error)))) | Err(error) => Err(error),
                Ok((_, Err(ResolveError::Database(error)))) => return Err(error.into()),
            };
            let (claimed, estimated, message_id, app_name) = match resolved {
                Ok((event, app, priced_as)) => {
                    if app.demo {
                        account_id = seed::demo_account_id(tx)?;
                    }
                    (
                        settle(tx, &policy, account_id, &app, priced_as, &event, payload)?,
                        event.estimated,
                        Some(event.message_id),
                        Some(app.name),
                    )
                }
                Err(error) => {
                    let audit_id = audit_rejection(tx, page_url, payload, &error)?;
                    let claimed = Claimed {
                        audit_id: Some(audit_id),
                        ..Claimed::new(Outcome::Rejected, 0, error.code(), error.to_string())
                    };
                    (claimed, false, None, None)
                }
            };
            let balance_micros = account_by_id(tx, account_id)?.balance_micros;
            Ok(ChargeResult {
                outcome: claimed.outcome,
                amount_micros: claimed.micros,
                amount: micros_to_credits(claimed.micros),
                code: claimed.code,
                reason: claimed.reason,
                message_id,
                app_name,
                entry_id: claimed.entry_id,
                held_id: claimed.held_id,
                audit_id: claimed.audit_id,
                estimated,
                balance_micros,
                balance: micros_to_credits(balance_micros),
            })
        })
    }
}

/// Decides a valid event: duplicate, conflict, held or charged, claiming its idempotency key.
/// `priced_as` is the model `app` was priced as for this event only, which a hold keeps.
fn settle(
    tx: &Tx,
    policy: &Policy,
    account_id: i64,
    app: &DifyApp,
    priced_as: Option<i64>,
    event: &Event,
    payload: &str,
) -> Result<Claimed> {
    let hash = event.content_hash();
    let key = tx
        .prepare_cached(
            "SELECT content_hash, outcome, amount_micros, entry_id, held_id FROM event_keys
             WHERE app_id = ?1 AND message_id = ?2",
        )?
        .query_row((app.id, &event.message_id), |row| {
            Ok(ClaimedKey {
                content_hash: row.get(0)?,
                outcome: row.get(1)?,
                micros: row.get(2)?,
                entry_id: row.get(3)?,
                held_id: row.get(4)?,
            })
        })
        .optional()?;
    if let Some(key) = key {
        if key.content_hash == hash {
            let reason = format!("message {} was already {}", event.message_id, key.outcome);
            return Ok(Claimed {
                entry_id: key.entry_id,
                held_id: key.held_id,
                ..Claimed::new(
                    Outcome::Duplicate,
                    key.micros.unwrap_or(0),
                    "duplicate",
                    reason,
                )
            });
        }
        if let Some(superseded) =
            supersede_estimate(tx, policy, account_id, app, event, &hash, &key)?
        {
            return Ok(superseded);
        }
        return record_conflict(tx, account_id, app, priced_as, event, &hash, payload);
    }
    let priced = price(tx, app, event)?;
    let now = tx.env.now_micros();
    let hold = match &priced {
        Err(detail) => Some((HoldReason::Unpriced, detail.clone())),
        Ok(priced) if is_over_cap(policy, priced.micros) => Some((
            HoldReason::Cap,
            format!(
                "{} credits is above the per-event cap of {}",
                micros_to_credits(priced.micros),
                micros_to_credits(policy.event_cap_micros)
            ),
        )),
        // The flood guard counts replies; Dify's calls beside them neither count nor trip it.
        Ok(_) if event.side_call.is_none() && is_flooding(tx, policy, account_id, now)? => Some((
            HoldReason::Flood,
            format!(
                "more than {} charges within a minute",
                policy.flood_max_per_minute
            ),
        )),
        Ok(_) => sync::lease_refusal(tx, now)?.map(|detail| (HoldReason::OfflineAllowance, detail)),
    };
    let (priced, (reason, detail)) = match (priced, hold) {
        (Ok(priced), None) => {
            let entry_id = post_charge(tx, account_id, &priced, None, "relay")?;
            claim_key(
                tx,
                app.id,
                &event.message_id,
                &hash,
                "charged",
                Some(priced.micros),
                Some(&entry_id),
                None,
            )?;
            return Ok(Claimed {
                outcome: Outcome::Charged,
                micros: priced.micros,
                entry_id: Some(entry_id),
                held_id: None,
                audit_id: None,
                reason: event
                    .estimated
                    .then(|| "estimated from the query and answer text: Dify sent no usage".into()),
                code: None,
            });
        }
        (priced, Some(hold)) => (priced.ok(), hold),
        (Err(detail), None) => (None, (HoldReason::Unpriced, detail)),
    };
    let micros = priced.map(|priced| priced.micros);
    let held = NewHeld {
        reason,
        detail: &detail,
        account_id,
        app,
        priced_as,
        event,
        hash: &hash,
        micros,
        payload,
    };
    let held_id = insert_held(tx, &held)?;
    claim_key(
        tx,
        app.id,
        &event.message_id,
        &hash,
        "held",
        micros,
        None,
        Some(&held_id),
    )?;
    Ok(Claimed {
        held_id: Some(held_id),
        ..Claimed::new(Outcome::Held, micros.unwrap_or(0), reason.as_str(), detail)
    })
}

/// A reply's real usage after an estimate of the same message: Dify's web client reconnects to a dropped
/// stream, and the real `message_end` arrives there after the dropped stream was charged as an estimate.
/// The estimate is reversed and the real usage charged, so one charge remains. Only on an island (an
/// enrolled device's charges are the server's to settle) and only when the real usage charges without a
/// hold; otherwise it is a conflict for an admin, whose approval replaces the estimate.
fn supersede_estimate(
    tx: &Tx,
    policy: &Policy,
    account_id: i64,
    app: &DifyApp,
    event: &Event,
    hash: &str,
    key: &ClaimedKey,
) -> Result<Option<Claimed>> {
    if event.estimated || key.outcome != "charged" || sync::enrolled_server(tx)?.is_some() {
        return Ok(None);
    }
    let Some(estimate) = key
        .entry_id
        .as_deref()
        .map(|id| entries::get(tx, id))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let reversed: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM entries WHERE reverses_id = ?1)")?
        .query_row([&estimate.id], |row| row.get(0))?;
    let was_estimate = estimate.usage.as_ref().is_some_and(|usage| usage.estimated);
    let priced = match price(tx, app, event)? {
        Ok(priced) if was_estimate && !reversed && !is_over_cap(policy, priced.micros) => priced,
        _ => return Ok(None),
    };
    entries::post_reversal(
        tx,
        &estimate,
        "relay",
        "superseded by the reply's real usage",
        None,
    )?;
    let entry_id = post_charge(tx, account_id, &priced, None, "relay")?;
    tx.prepare_cached(
        "UPDATE event_keys SET content_hash = ?3, amount_micros = ?4, entry_id = ?5
         WHERE app_id = ?1 AND message_id = ?2",
    )?
    .execute(rusqlite::params![
        app.id,
        event.message_id,
        hash,
        priced.micros,
        entry_id
    ])?;
    Ok(Some(Claimed {
        outcome: Outcome::Charged,
        micros: priced.micros,
        entry_id: Some(entry_id),
        held_id: None,
        audit_id: None,
        reason: Some(format!(
            "the real usage replaces the estimate of {} credits",
            micros_to_credits(-estimate.amount_micros)
        )),
        code: None,
    }))
}

/// A known message arrived with other content: hold it once per distinct content, never charge it.
fn record_conflict(
    tx: &Tx,
    account_id: i64,
    app: &DifyApp,
    priced_as: Option<i64>,
    event: &Event,
    hash: &str,
    payload: &str,
) -> Result<Claimed> {
    let existing: Option<(String, String)> = tx
        .query_row(
            "SELECT id, status FROM held_events
             WHERE app_id = ?1 AND message_id = ?2 AND content_hash = ?3 AND reason = 'conflict'",
            (app.id, &event.message_id, hash),
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    if let Some((held_id, status)) = existing {
        let reason = format!("this conflicting content was already recorded ({status})");
        return Ok(Claimed {
            held_id: Some(held_id),
            ..Claimed::new(Outcome::Duplicate, 0, "duplicate", reason)
        });
    }
    let micros = price(tx, app, event)?.ok().map(|priced| priced.micros);
    let detail = format!(
        "message {} was already recorded with different usage",
        event.message_id
    );
    let held = NewHeld {
        reason: HoldReason::Conflict,
        detail: &detail,
        account_id,
        app,
        priced_as,
        event,
        hash,
        micros,
        payload,
    };
    let held_id = insert_held(tx, &held)?;
    Ok(Claimed {
        held_id: Some(held_id),
        ..Claimed::new(Outcome::Conflict, 0, HoldReason::Conflict.as_str(), detail)
    })
}

/// An event to hold for an admin, with what it was priced as (when it could be).
struct NewHeld<'a> {
    reason: HoldReason,
    detail: &'a str,
    account_id: i64,
    app: &'a DifyApp,
    priced_as: Option<i64>,
    event: &'a Event,
    hash: &'a str,
    micros: Option<Micros>,
    payload: &'a str,
}

fn insert_held(tx: &Tx, held: &NewHeld) -> Result<String> {
    let id = tx.env.new_id();
    let stamp = sync::stamp(tx)?;
    let event = held.event;
    tx.prepare_cached(
        "INSERT INTO held_events (id, received_at, reason, detail, account_id, app_id, message_id, content_hash,
             estimated, amount_micros, payload, priced_as_model_id, prompt_tokens, completion_tokens,
             dify_total_price, dify_currency, device_seq, config_version, side_call)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?
    .execute(rusqlite::params![
        id,
        tx.env.now_micros(),
        held.reason.as_str(),
        held.detail,
        held.account_id,
        held.app.id,
        held.event.message_id,
        held.hash,
        held.event.estimated,
        held.micros,
        held.payload,
        held.priced_as,
        event.prompt_tokens as i64,
        event.completion_tokens as i64,
        event.dify_total_price.map(|price| price.normalize().to_string()),
        event.dify_currency,
        stamp.map(|(seq, _)| seq),
        stamp.map(|(_, version)| version),
        event.side_call.map(SideCall::as_str),
    ])?;
    Ok(id)
}

#[allow(clippy::too_many_arguments)]
fn claim_key(
    tx: &Tx,
    app_id: i64,
    message_id: &str,
    hash: &str,
    outcome: &str,
    micros: Option<Micros>,
    entry_id: Option<&str>,
    held_id: Option<&str>,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO event_keys (app_id, message_id, content_hash, outcome, amount_micros, entry_id, held_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![app_id, message_id, hash, outcome, micros, entry_id, held_id, tx.env.now_micros()])?;
    Ok(())
}

/// Keeps a refused event with its reason and payload (cut at the payload limit).
fn audit_rejection(tx: &Tx, page_url: &str, payload: &str, error: &EventError) -> Result<String> {
    let id = tx.env.new_id();
    let mut cut = payload.len().min(MAX_PAYLOAD_BYTES);
    while !payload.is_char_boundary(cut) {
        cut -= 1;
    }
    let source: String = page_url.chars().take(2048).collect();
    tx.prepare_cached(
        "INSERT INTO rejected_events (id, received_at, code, message, source, payload, payload_bytes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(rusqlite::params![
        id,
        tx.env.now_micros(),
        error.code(),
        error.to_string(),
        source,
        &payload[..cut],
        payload.len() as i64
    ])?;
    Ok(id)
}
