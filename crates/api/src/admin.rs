//! Changes only an admin may make: balances, prices, the rate, held events. Amounts, prices and rates
//! arrive as the text an admin typed and are parsed here, so every face refuses the same input.

use serde::Deserialize;
use tokendesk_ledger::held::HeldEvent;
use tokendesk_ledger::money::{Price, parse_credits, parse_price, parse_rate};
use tokendesk_ledger::pricing::{
    ImportPreview, ImportProgress, ImportReport, ModelConfig, RateChange,
};
use tokendesk_ledger::{Entry, LedgerError, Micros};
use tokendesk_sync_proto::budget::parse_time_zone;

use crate::{Api, ApiResult};

/// Which kind of entry a manual balance change posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum BalanceKind {
    Grant,
    Topup,
    /// May be negative.
    Adjust,
}

impl Api<'_> {
    /// Moves the reporting time zone (an IANA name, e.g. `Asia/Shanghai`): the days, months and local
    /// budgets of this ledger follow it from now on. Answers the zone's name.
    pub fn set_time_zone(&mut self, zone: &str) -> ApiResult<String> {
        let parsed = parse_time_zone(zone).ok_or_else(|| {
            LedgerError::Invalid(format!("{zone:?} is not an IANA time zone name"))
        })?;
        let (ledger, _) = self.as_admin()?;
        ledger.set_time_zone(parsed)?;
        Ok(parsed.name().to_owned())
    }

    /// Grants, tops up or adjusts `user`'s balance by `amount` credits (e.g. `500` or `-12.5`).
    pub fn change_balance(
        &mut self,
        user: &str,
        kind: BalanceKind,
        amount: &str,
        reason: &str,
    ) -> ApiResult<Entry> {
        let (ledger, admin) = self.as_admin()?;
        let micros = parse_credits(amount)?;
        Ok(match kind {
            BalanceKind::Grant => ledger.grant(user, micros, admin, reason),
            BalanceKind::Topup => ledger.top_up(user, micros, admin, reason),
            BalanceKind::Adjust => ledger.adjust(user, micros, admin, reason),
        }?)
    }

    /// Posts the opposite of an entry, once.
    pub fn reverse(&mut self, entry_id: &str, reason: &str) -> ApiResult<Entry> {
        let (ledger, admin) = self.as_admin()?;
        Ok(ledger.reverse(entry_id, admin, reason)?)
    }

    /// Sets the exchange rate from text in credits per USD.
    pub fn set_rate(&mut self, credits_per_usd: &str, reason: &str) -> ApiResult<RateChange> {
        let (ledger, admin) = self.as_admin()?;
        let rate = parse_rate(credits_per_usd)?;
        Ok(ledger.set_exchange_rate(rate, admin, reason)?)
    }

    /// Creates a model or changes its price, from text in USD per 1K tokens.
    pub fn set_model(
        &mut self,
        name: &str,
        input_per_1k: &str,
        output_per_1k: &str,
        reason: &str,
    ) -> ApiResult<ModelConfig> {
        let (ledger, admin) = self.as_admin()?;
        let price = Price {
            input_per_1k: parse_price(input_per_1k)?,
            output_per_1k: parse_price(output_per_1k)?,
        };
        Ok(ledger.set_model(name, price, admin, reason)?)
    }

    pub fn set_model_active(&mut self, name: &str, active: bool) -> ApiResult<ModelConfig> {
        let (ledger, _) = self.as_admin()?;
        Ok(ledger.set_model_active(name, active)?)
    }

    /// Replaces a model's aliases (none clears them).
    pub fn set_model_aliases(&mut self, name: &str, aliases: &[String]) -> ApiResult<ModelConfig> {
        let (ledger, _) = self.as_admin()?;
        Ok(ledger.set_model_aliases(name, aliases)?)
    }

    /// What importing a price file would do, writing nothing.
    pub fn preview_import(&mut self, text: &str) -> ApiResult<ImportPreview> {
        let (ledger, _) = self.as_admin()?;
        Ok(ledger.preview_import(text)?)
    }

    /// Imports a CSV or LiteLLM price file, telling `progress` how far it has got.
    pub fn import_models(
        &mut self,
        text: &str,
        reason: &str,
        progress: impl FnMut(ImportProgress),
    ) -> ApiResult<ImportReport> {
        let (ledger, admin) = self.as_admin()?;
        Ok(ledger.import_models(text, admin, reason, progress)?)
    }

    /// Charges a held event, only at the amount the admin was shown (`None`: shown as not priceable).
    pub fn approve_held(
        &mut self,
        id: &str,
        note: &str,
        shown_micros: Option<Micros>,
    ) -> ApiResult<Entry> {
        let (ledger, admin) = self.as_admin()?;
        Ok(ledger.approve_held(id, admin, note, shown_micros)?)
    }

    pub fn reject_held(&mut self, id: &str, note: &str) -> ApiResult<HeldEvent> {
        let (ledger, admin) = self.as_admin()?;
        Ok(ledger.reject_held(id, admin, note)?)
    }
}
