//! The policy an admin sets, the pre-send gate, and the per-event guards of the charge path.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::apps::{ResolveError, resolve};
use crate::error::{EventError, LedgerError, Result};
use crate::money::{Micros, micros_to_credits};
use crate::sync::BudgetStanding;
use crate::{Ledger, entries, seed, stats, sync, time};
pub use tokendesk_sync_proto::device::{SideCall, SideCallPricing, WhenUnchecked};

/// The longest send endpoint name a relay may report.
const MAX_ENDPOINT_CHARS: usize = 64;

/// A send the relay let through without the gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UncheckedSend {
    pub id: String,
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// `None`: the page was no app's.
    pub app_name: Option<String>,
    pub page_url: String,
    pub endpoint: String,
    /// `no_answer`, `failed`, or `past_refusal` (the relay's held gate state said yes, the gate no).
    pub reason: String,
}

/// The flood guard counts charges over this window.
const FLOOD_WINDOW_MICROS: i64 = 60_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub integration_enabled: bool,
    /// The gate refuses a send while the balance is below this.
    pub min_balance_micros: Micros,
    /// A charge above this is held for review; 0 turns the cap off.
    pub event_cap_micros: Micros,
    /// Charges beyond this many in a minute are held for review; 0 turns the guard off.
    pub flood_max_per_minute: i64,
    /// The dashboard warns below this balance.
    pub low_balance_micros: Micros,
    /// More tokens than this in one event is refused as implausible.
    pub max_tokens_per_event: i64,
    /// Spend per local day / month after which the gate refuses; 0 means no budget.
    pub daily_budget_micros: Micros,
    pub monthly_budget_micros: Micros,
    /// A send the gate could not check: let through and recorded, or refused.
    pub when_unchecked: WhenUnchecked,
    /// How Dify's calls beside a reply (auto-naming, suggested questions) are priced.
    pub side_calls: SideCallPricing,
    /// What one side call costs when `side_calls` is `fixed`.
    pub side_call_fixed_micros: Micros,
}

/// Why the gate refused a send. The UI and the relay show a localized text chosen by `code`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the Dify integration is turned off")]
    IntegrationDisabled,
    #[error("{0}")]
    App(EventError),
    #[error("balance {balance} is below the minimum of {minimum} credits")]
    BalanceBelowMinimum {
        balance: rust_decimal::Decimal,
        minimum: rust_decimal::Decimal,
    },
    #[error("today's budget of {budget} credits is spent")]
    DailyBudgetSpent { budget: rust_decimal::Decimal },
    #[error("this month's budget of {budget} credits is spent")]
    MonthlyBudgetSpent { budget: rust_decimal::Decimal },
    /// Enrolled: the offline lease is spent or expired, or the device was revoked.
    #[error("{0}")]
    OfflineAllowance(String),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Self::IntegrationDisabled => "integration_disabled",
            Self::App(error) => error.code(),
            Self::BalanceBelowMinimum { .. } => "insufficient_credits",
            Self::DailyBudgetSpent { .. } => "daily_budget_spent",
            Self::MonthlyBudgetSpent { .. } => "monthly_budget_spent",
            Self::OfflineAllowance(_) => "offline_allowance",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SendDecision {
    pub allowed: bool,
    pub code: Option<&'static str>,
    pub message: Option<String>,
    pub balance_micros: Micros,
    /// What the relay does with the next send it cannot check.
    pub when_unchecked: WhenUnchecked,
}

pub(crate) fn read_policy(conn: &Connection) -> Result<Policy> {
    Ok(conn.prepare_cached(
        "SELECT integration_enabled, min_balance_micros, event_cap_micros, flood_max_per_minute, low_balance_micros,
             max_tokens_per_event, daily_budget_micros, monthly_budget_micros, when_unchecked, side_calls,
             side_call_fixed_micros
         FROM policy WHERE id = 1",
    )?
    .query_row(
        [],
        |row| {
            Ok(Policy {
                integration_enabled: row.get(0)?,
                min_balance_micros: row.get(1)?,
                event_cap_micros: row.get(2)?,
                flood_max_per_minute: row.get(3)?,
                low_balance_micros: row.get(4)?,
                max_tokens_per_event: row.get(5)?,
                daily_budget_micros: row.get(6)?,
                monthly_budget_micros: row.get(7)?,
                // The column's CHECK admits only the two.
                when_unchecked: WhenUnchecked::parse(&row.get::<_, String>(8)?)
                    .unwrap_or(WhenUnchecked::Block),
                // The column's CHECK admits only the three.
                side_calls: SideCallPricing::parse(&row.get::<_, String>(9)?)
                    .unwrap_or_else(SideCallPricing::org_default),
                side_call_fixed_micros: row.get(10)?,
            })
        },
    )?)
}

/// Whether the account has hit the flood rate within the last minute.
/// Writes the guards (the active account is not one of them).
pub(crate) fn write_policy(
    conn: &Connection,
    policy: &Policy,
    actor: &str,
    now: i64,
) -> Result<()> {
    conn.execute(
        "UPDATE policy SET integration_enabled = ?1, min_balance_micros = ?2, event_cap_micros = ?3,
             flood_max_per_minute = ?4, low_balance_micros = ?5, max_tokens_per_event = ?6,
             daily_budget_micros = ?7, monthly_budget_micros = ?8, updated_by = ?9, updated_at = ?10,
             when_unchecked = ?11, side_calls = ?12, side_call_fixed_micros = ?13
         WHERE id = 1",
        rusqlite::params![
            policy.integration_enabled,
            policy.min_balance_micros,
            policy.event_cap_micros,
            policy.flood_max_per_minute,
            policy.low_balance_micros,
            policy.max_tokens_per_event,
            policy.daily_budget_micros,
            policy.monthly_budget_micros,
            actor,
            now,
            policy.when_unchecked.as_str(),
            policy.side_calls.as_str(),
            policy.side_call_fixed_micros,
        ],
    )?;
    Ok(())
}

pub(crate) fn is_flooding(
    conn: &Connection,
    policy: &Policy,
    account_id: i64,
    now: i64,
) -> Result<bool> {
    if policy.flood_max_per_minute == 0 {
        return Ok(false);
    }
    let recent: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM entries
         WHERE account_id = ?1 AND created_at > ?2 AND kind = 'charge' AND side_call IS NULL",
        )?
        .query_row((account_id, now - FLOOD_WINDOW_MICROS), |row| row.get(0))?;
    Ok(recent >= policy.flood_max_per_minute)
}

pub(crate) fn is_over_cap(policy: &Policy, micros: Micros) -> bool {
    policy.event_cap_micros > 0 && micros > policy.event_cap_micros
}

impl Ledger {
    pub fn policy(&self) -> Result<Policy> {
        read_policy(&self.conn)
    }

    pub fn set_policy(&mut self, policy: &Policy, actor: &str) -> Result<Policy> {
        let non_negative = [
            policy.event_cap_micros,
            policy.flood_max_per_minute,
            policy.daily_budget_micros,
            policy.monthly_budget_micros,
            policy.side_call_fixed_micros,
        ];
        if non_negative.iter().any(|value| *value < 0) || policy.max_tokens_per_event <= 0 {
            return Err(LedgerError::invalid(
                "caps, budgets, the flood rate and the side-call charge cannot be negative, and the token limit must be positive",
            ));
        }
        self.admin_write(|tx| write_policy(tx, policy, actor, tx.env.now_micros()))?;
        self.policy()
    }

    /// Records a send the relay let through without the gate's answer, as `when_unchecked = allow` has
    /// it: `reason` is `no_answer` (the gate did not answer in time) or `failed` (asking failed); or one
    /// it sent on the gate state it held that the gate, asked beside the request, refused
    /// (`past_refusal`).
    pub fn record_unchecked_send(
        &mut self,
        page_url: &str,
        endpoint: &str,
        reason: &str,
    ) -> Result<()> {
        if !matches!(reason, "no_answer" | "failed" | "past_refusal") {
            return Err(LedgerError::invalid(format!(
                "{reason:?} is not why a send went unchecked"
            )));
        }
        if endpoint.is_empty() || endpoint.len() > MAX_ENDPOINT_CHARS || page_url.len() > 4096 {
            return Err(LedgerError::invalid(
                "an unchecked send names its page and endpoint",
            ));
        }
        let app_id = match resolve(&self.conn, page_url) {
            Ok(app) => Some(app.id),
            Err(ResolveError::Event(_)) => None,
            Err(ResolveError::Database(error)) => return Err(error.into()),
        };
        self.write(|tx| {
            tx.execute(
                "INSERT INTO unchecked_sends (id, received_at, app_id, page_url, endpoint, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    tx.env.new_id(),
                    tx.env.now_micros(),
                    app_id,
                    page_url,
                    endpoint,
                    reason
                ],
            )?;
            Ok(())
        })
    }

    /// Sends let through without the gate's answer, newest first.
    pub fn unchecked_sends(&self, limit: usize) -> Result<Vec<UncheckedSend>> {
        let mut statement = self.conn.prepare(
            "SELECT u.id, u.received_at, a.name, u.page_url, u.endpoint, u.reason
             FROM unchecked_sends u LEFT JOIN dify_apps a ON a.id = u.app_id
             ORDER BY u.received_at DESC, u.rowid DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit as i64], |row| {
            Ok(UncheckedSend {
                id: row.get(0)?,
                received_at: time::from_micros(row.get(1)?),
                app_name: row.get(2)?,
                page_url: row.get(3)?,
                endpoint: row.get(4)?,
                reason: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The pre-send gate: may the active user send a message from this Dify page now? The demo's page
    /// spends the demo's own credits.
    pub fn may_send(&self, page_url: &str) -> Result<SendDecision> {
        let app = match resolve(&self.conn, page_url) {
            Ok(app) => Ok(app),
            Err(ResolveError::Event(error)) => Err(error),
            Err(ResolveError::Database(error)) => return Err(error.into()),
        };
        let account = match &app {
            Ok(app) if app.demo => self.account(seed::DEMO_ACCOUNT)?,
            _ => self.active_account()?,
        };
        let policy = self.policy()?;
        let refusal = self.refusal(&policy, app.err(), account.id, account.balance_micros)?;
        Ok(SendDecision {
            allowed: refusal.is_none(),
            code: refusal.as_ref().map(Refusal::code),
            message: refusal.map(|refusal| refusal.to_string()),
            balance_micros: account.balance_micros,
            when_unchecked: policy.when_unchecked,
        })
    }

    /// Why a send is refused now, if it is; `unusable_app` says why the page's app cannot be metered.
    fn refusal(
        &self,
        policy: &Policy,
        unusable_app: Option<EventError>,
        account_id: i64,
        balance: Micros,
    ) -> Result<Option<Refusal>> {
        if !policy.integration_enabled {
            return Ok(Some(Refusal::IntegrationDisabled));
        }
        if let Some(error) = unusable_app {
            return Ok(Some(Refusal::App(error)));
        }
        if let Some(detail) = sync::lease_refusal(&self.conn, self.env.now_micros())? {
            return Ok(Some(Refusal::OfflineAllowance(detail)));
        }
        if balance < policy.min_balance_micros {
            return Ok(Some(Refusal::BalanceBelowMinimum {
                balance: micros_to_credits(balance),
                minimum: micros_to_credits(policy.min_balance_micros),
            }));
        }
        // Budgets count from the ledger's now, so a clock set back does not give a spent day back. (The
        // allowance above follows the clock: a clock once run ahead must not refuse sends for days.)
        let now = entries::ledger_now(&self.conn, self.env.now_micros())?;
        let standing = match sync::budget_standing(&self.conn, now)? {
            // Enrolled: the user's own budgets, counted across all their devices.
            Some(standing) => standing,
            None => self.local_budget_standing(policy, account_id, now)?,
        };
        if standing.daily_limit_micros > 0
            && standing.spent_today_micros >= standing.daily_limit_micros
        {
            return Ok(Some(Refusal::DailyBudgetSpent {
                budget: micros_to_credits(standing.daily_limit_micros),
            }));
        }
        if standing.monthly_limit_micros > 0
            && standing.spent_month_micros >= standing.monthly_limit_micros
        {
            return Ok(Some(Refusal::MonthlyBudgetSpent {
                budget: micros_to_credits(standing.monthly_limit_micros),
            }));
        }
        Ok(None)
    }

    /// The policy's budgets against this ledger's own spend in the local day and month; a budget that is
    /// off reads nothing.
    fn local_budget_standing(
        &self,
        policy: &Policy,
        account_id: i64,
        now: i64,
    ) -> Result<BudgetStanding> {
        let today = time::local_day(self.time_zone(), now);
        let spent_since = |limit: Micros, first: i32| -> Result<Micros> {
            Ok(if limit > 0 {
                stats::spend_between(&self.conn, account_id, first, today)?.credits_micros
            } else {
                0
            })
        };
        Ok(BudgetStanding {
            daily_limit_micros: policy.daily_budget_micros,
            monthly_limit_micros: policy.monthly_budget_micros,
            spent_today_micros: spent_since(policy.daily_budget_micros, today)?,
            spent_month_micros: spent_since(
                policy.monthly_budget_micros,
                time::first_day_of_month(today),
            )?,
        })
    }
}
