//! What staff and admins alike may read.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokendesk_ledger::accounts::Account;
use tokendesk_ledger::apps::DifyApp;
use tokendesk_ledger::held::{HeldEvent, RejectedEvent};
use tokendesk_ledger::pricing::{ModelConfig, PriceChange, RateChange};
use tokendesk_ledger::stats::{Dashboard, HistoryPage, HistoryQuery};

use crate::{Api, ApiResult};

/// A history filter as the faces send it; every field may be left out.
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
#[serde(default)]
#[ts(optional_fields)]
pub struct HistoryArgs {
    /// Rows per page (20 when left out).
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page, passed back unchanged.
    pub cursor: Option<String>,
    pub app_id: Option<i64>,
    pub model: Option<String>,
    /// RFC 3339 instants: `from` inclusive, `to` exclusive.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// An account name; the active user when left out.
    pub account: Option<String>,
}

impl From<HistoryArgs> for HistoryQuery {
    fn from(args: HistoryArgs) -> Self {
        HistoryQuery {
            account: args.account,
            from: args.from,
            to: args.to,
            app_id: args.app_id,
            model: args.model,
            kind: None,
            limit: args.limit.unwrap_or(20),
            cursor: args.cursor,
        }
    }
}

/// The exchange rate and how it changed.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Rate {
    #[ts(type = "string")]
    pub credits_per_usd: Decimal,
    pub history: Vec<RateChange>,
}

impl Api<'_> {
    /// The shown account's balance and spend over the last `days` days.
    pub fn dashboard(&self, days: u16) -> ApiResult<Dashboard> {
        Ok(self.ledger.dashboard(days)?)
    }

    pub fn history(&self, args: HistoryArgs) -> ApiResult<HistoryPage> {
        Ok(self.ledger.history(&args.into())?)
    }

    /// Writes the filtered history (every page) as CSV; returns the rows written.
    pub fn export_history_csv(
        &self,
        args: HistoryArgs,
        out: impl std::io::Write,
    ) -> ApiResult<usize> {
        Ok(self.ledger.export_csv(&args.into(), out)?)
    }

    pub fn apps(&self) -> ApiResult<Vec<DifyApp>> {
        Ok(self.ledger.apps()?)
    }

    pub fn app(&self, id: i64) -> ApiResult<DifyApp> {
        Ok(self.ledger.app(id)?)
    }

    pub fn models(&self) -> ApiResult<Vec<ModelConfig>> {
        Ok(self.ledger.models()?)
    }

    pub fn model_history(&self, name: &str) -> ApiResult<Vec<PriceChange>> {
        Ok(self.ledger.model_price_history(name)?)
    }

    pub fn rate(&self) -> ApiResult<Rate> {
        Ok(Rate {
            credits_per_usd: self.ledger.exchange_rate()?,
            history: self.ledger.exchange_rate_history()?,
        })
    }

    pub fn accounts(&self) -> ApiResult<Vec<Account>> {
        Ok(self.ledger.accounts()?)
    }

    pub fn account(&self, name: &str) -> ApiResult<Account> {
        Ok(self.ledger.account(name)?)
    }

    /// Held events: pending ones, or with `all` the decided ones too.
    pub fn held_events(&self, all: bool) -> ApiResult<Vec<HeldEvent>> {
        Ok(self.ledger.held_events(all)?)
    }

    /// The latest `limit` rejected events.
    pub fn rejected_events(&self, limit: usize) -> ApiResult<Vec<RejectedEvent>> {
        Ok(self.ledger.rejected_events(limit)?)
    }
}
