//! The guards as people read and edit them: amounts in credits, not micro-credits.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use tokendesk_ledger::LedgerError;
use tokendesk_ledger::guards::{Policy, SideCallPricing, WhenUnchecked};
use tokendesk_ledger::money::{micros_to_credits, parse_credits};

use crate::{Api, ApiResult};

/// The policy with amounts in credits, as the windows and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PolicyView {
    pub integration_enabled: bool,
    #[ts(type = "string")]
    pub min_balance: Decimal,
    /// 0 turns the cap off.
    #[ts(type = "string")]
    pub event_cap: Decimal,
    /// 0 turns the flood guard off.
    pub flood_max_per_minute: i64,
    #[ts(type = "string")]
    pub low_balance: Decimal,
    pub max_tokens_per_event: i64,
    /// 0 means no budget.
    #[ts(type = "string")]
    pub daily_budget: Decimal,
    #[ts(type = "string")]
    pub monthly_budget: Decimal,
    /// A send the gate could not check: let through and recorded, or refused.
    pub when_unchecked: WhenUnchecked,
    /// How Dify's calls beside a reply (auto-naming, suggested questions) are priced.
    pub side_calls: SideCallPricing,
    /// Credits per side call when `side_calls` is `fixed`.
    #[ts(type = "string")]
    pub side_call_fixed: Decimal,
}

impl From<Policy> for PolicyView {
    fn from(policy: Policy) -> Self {
        Self {
            integration_enabled: policy.integration_enabled,
            min_balance: micros_to_credits(policy.min_balance_micros),
            event_cap: micros_to_credits(policy.event_cap_micros),
            flood_max_per_minute: policy.flood_max_per_minute,
            low_balance: micros_to_credits(policy.low_balance_micros),
            max_tokens_per_event: policy.max_tokens_per_event,
            daily_budget: micros_to_credits(policy.daily_budget_micros),
            monthly_budget: micros_to_credits(policy.monthly_budget_micros),
            when_unchecked: policy.when_unchecked,
            side_calls: policy.side_calls,
            side_call_fixed: micros_to_credits(policy.side_call_fixed_micros),
        }
    }
}

/// The policy as an admin types it: amounts as decimal strings of credits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ts_rs::TS)]
pub struct PolicyForm {
    pub integration_enabled: bool,
    pub min_balance: String,
    pub event_cap: String,
    pub flood_max_per_minute: i64,
    pub low_balance: String,
    pub max_tokens_per_event: i64,
    pub daily_budget: String,
    pub monthly_budget: String,
    pub when_unchecked: WhenUnchecked,
    pub side_calls: SideCallPricing,
    pub side_call_fixed: String,
}

impl From<PolicyView> for PolicyForm {
    fn from(view: PolicyView) -> Self {
        Self {
            integration_enabled: view.integration_enabled,
            min_balance: view.min_balance.to_string(),
            event_cap: view.event_cap.to_string(),
            flood_max_per_minute: view.flood_max_per_minute,
            low_balance: view.low_balance.to_string(),
            max_tokens_per_event: view.max_tokens_per_event,
            daily_budget: view.daily_budget.to_string(),
            monthly_budget: view.monthly_budget.to_string(),
            when_unchecked: view.when_unchecked,
            side_calls: view.side_calls,
            side_call_fixed: view.side_call_fixed.to_string(),
        }
    }
}

impl PolicyForm {
    fn parse(&self) -> ApiResult<Policy> {
        Ok(Policy {
            integration_enabled: self.integration_enabled,
            min_balance_micros: parse_credits(&self.min_balance)?,
            event_cap_micros: parse_credits(&self.event_cap)?,
            flood_max_per_minute: self.flood_max_per_minute,
            low_balance_micros: parse_credits(&self.low_balance)?,
            max_tokens_per_event: self.max_tokens_per_event,
            daily_budget_micros: parse_credits(&self.daily_budget)?,
            monthly_budget_micros: parse_credits(&self.monthly_budget)?,
            when_unchecked: self.when_unchecked,
            side_calls: self.side_calls,
            side_call_fixed_micros: parse_credits(&self.side_call_fixed)?,
        })
    }

    /// The form with one guard set from text: credits for amounts, a whole number for counts,
    /// `true`/`false` (or `on`/`off`) for the switch, `allow`/`block` for unchecked sends, and
    /// `free`/`fixed`/`estimate` for side calls.
    pub fn with(mut self, key: PolicyKey, value: &str) -> ApiResult<Self> {
        let value = value.trim();
        let count = || {
            i64::from_str(value)
                .map_err(|_| LedgerError::Invalid(format!("{value:?} is not a whole number")))
        };
        match key {
            PolicyKey::IntegrationEnabled => {
                self.integration_enabled = match value {
                    "true" | "on" => true,
                    "false" | "off" => false,
                    _ => {
                        return Err(LedgerError::Invalid(format!(
                            "{value:?} is not true, false, on or off"
                        ))
                        .into());
                    }
                }
            }
            PolicyKey::MinBalance => self.min_balance = value.into(),
            PolicyKey::EventCap => self.event_cap = value.into(),
            PolicyKey::FloodMaxPerMinute => self.flood_max_per_minute = count()?,
            PolicyKey::LowBalance => self.low_balance = value.into(),
            PolicyKey::MaxTokensPerEvent => self.max_tokens_per_event = count()?,
            PolicyKey::DailyBudget => self.daily_budget = value.into(),
            PolicyKey::MonthlyBudget => self.monthly_budget = value.into(),
            PolicyKey::WhenUnchecked => {
                self.when_unchecked = WhenUnchecked::parse(value).ok_or_else(|| {
                    LedgerError::Invalid(format!("{value:?} is not allow or block"))
                })?
            }
            PolicyKey::SideCalls => {
                self.side_calls = SideCallPricing::parse(value).ok_or_else(|| {
                    LedgerError::Invalid(format!("{value:?} is not free, fixed or estimate"))
                })?
            }
            PolicyKey::SideCallFixed => self.side_call_fixed = value.into(),
        }
        Ok(self)
    }
}

/// One guard, named as in [`PolicyView`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKey {
    IntegrationEnabled,
    MinBalance,
    EventCap,
    FloodMaxPerMinute,
    LowBalance,
    MaxTokensPerEvent,
    DailyBudget,
    MonthlyBudget,
    WhenUnchecked,
    SideCalls,
    SideCallFixed,
}

impl PolicyKey {
    pub const ALL: [(&'static str, Self); 11] = [
        ("integration_enabled", Self::IntegrationEnabled),
        ("min_balance", Self::MinBalance),
        ("event_cap", Self::EventCap),
        ("flood_max_per_minute", Self::FloodMaxPerMinute),
        ("low_balance", Self::LowBalance),
        ("max_tokens_per_event", Self::MaxTokensPerEvent),
        ("daily_budget", Self::DailyBudget),
        ("monthly_budget", Self::MonthlyBudget),
        ("when_unchecked", Self::WhenUnchecked),
        ("side_calls", Self::SideCalls),
        ("side_call_fixed", Self::SideCallFixed),
    ];
}

impl FromStr for PolicyKey {
    type Err = LedgerError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name.trim())
            .map(|(_, key)| *key)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(known, _)| *known).collect();
                LedgerError::Invalid(format!(
                    "no guard is called {name:?}; the guards are {}",
                    names.join(", ")
                ))
            })
    }
}

impl Api<'_> {
    pub fn policy(&self) -> ApiResult<PolicyView> {
        Ok(self.ledger.policy()?.into())
    }

    pub fn set_policy(&mut self, form: &PolicyForm) -> ApiResult<PolicyView> {
        let (ledger, admin) = self.as_admin()?;
        let policy = form.parse()?;
        Ok(ledger.set_policy(&policy, admin)?.into())
    }

    /// Sets one guard, keeping the others.
    pub fn set_policy_value(&mut self, key: PolicyKey, value: &str) -> ApiResult<PolicyView> {
        let form = PolicyForm::from(self.policy()?).with(key, value)?;
        self.set_policy(&form)
    }
}
