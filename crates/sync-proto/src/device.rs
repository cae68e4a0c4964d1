//! The device API: enrollment, the config pull, the entry push and the offline lease.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::admin::{OrgInfo, UserInfo};
use crate::budget::BudgetStatus;
use crate::money::{Micros, Price, Pricing};

/// At most this many items in one push.
pub const MAX_BATCH_ITEMS: usize = 1000;
/// The longest a config pull may wait for a change.
pub const MAX_CONFIG_WAIT_SECONDS: u64 = 60;

/// `POST /v1/enroll`: a single-use code made by an admin for one staff user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollRequest {
    pub code: String,
    pub device_name: String,
    /// The device's clock when it sent this, to record its skew.
    pub device_clock: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollAnswer {
    pub device_id: Uuid,
    /// Shown once; the server keeps only its SHA-256.
    pub device_token: String,
    pub org: OrgInfo,
    pub user: UserInfo,
}

/// What the server decides and every device mirrors read-only. One version per admin transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigSnapshot {
    pub version: i64,
    pub org: OrgInfo,
    #[serde(with = "crate::decimal_str")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub credits_per_usd: Decimal,
    pub models: Vec<ModelPrice>,
    pub apps: Vec<AppConfig>,
    pub policy: Policy,
    pub navigation_hosts: Vec<String>,
}

impl ConfigSnapshot {
    pub fn app(&self, id: Uuid) -> Option<&AppConfig> {
        self.apps.iter().find(|app| app.id == id)
    }

    /// A model by exact name or exact alias, never by prefix.
    pub fn model(&self, name: &str) -> Option<&ModelPrice> {
        self.models
            .iter()
            .find(|model| model.name == name)
            .or_else(|| {
                self.models
                    .iter()
                    .find(|model| model.aliases.iter().any(|alias| alias == name))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelPrice {
    pub name: String,
    pub price: Price,
    pub aliases: Vec<String>,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppConfig {
    pub id: Uuid,
    pub name: String,
    pub share_url: String,
    pub pricing: Pricing,
    /// The bound model's name when `pricing` is `model`.
    pub model: Option<String>,
    pub enabled: bool,
}

/// The guards every device enforces, and the offline allowance the server reserves for each device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Policy {
    pub integration_enabled: bool,
    pub min_balance_micros: Micros,
    /// 0: no cap.
    pub event_cap_micros: Micros,
    /// 0: no flood guard.
    pub flood_max_per_minute: i64,
    pub low_balance_micros: Micros,
    pub max_tokens_per_event: i64,
    /// 0: no budget.
    pub daily_budget_micros: Micros,
    /// 0: no budget.
    pub monthly_budget_micros: Micros,
    /// The most a device may spend between two syncs.
    pub offline_allowance_micros: Micros,
    /// How long a lease lasts.
    pub lease_seconds: i64,
    /// The IANA zone whose days and months budgets reset in.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// A send TokenDesk could not check; a server that does not say blocks it.
    #[serde(default = "WhenUnchecked::org_default")]
    pub when_unchecked: WhenUnchecked,
    /// How a call Dify makes beside a reply (auto-naming, suggested questions) is priced.
    #[serde(default = "SideCallPricing::org_default")]
    pub side_calls: SideCallPricing,
    /// What one side call costs when `side_calls` is `fixed`.
    #[serde(default)]
    pub side_call_fixed_micros: Micros,
}

impl Policy {
    /// Whether a charge is priced by its tokens: every reply's, and a side call's when side calls are
    /// estimated (free and fixed ones go by no model).
    pub fn prices_by_tokens(&self, side_call: Option<SideCall>) -> bool {
        side_call.is_none() || self.side_calls == SideCallPricing::Estimate
    }
}

fn default_time_zone() -> String {
    crate::budget::DEFAULT_TIME_ZONE.into()
}

/// What a device does with a send its pre-send gate could not check (TokenDesk did not answer in time,
/// or the page could not ask): metering a user can switch off by accident is a bug, so either the send
/// waits or it leaves a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WhenUnchecked {
    /// Let it through, and record it for the admin.
    Allow,
    /// Refuse it, with a message in Dify's own toast.
    Block,
}

impl WhenUnchecked {
    /// An org's devices block what they cannot check.
    pub fn org_default() -> Self {
        Self::Block
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Block => "block",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "allow" => Some(Self::Allow),
            "block" => Some(Self::Block),
            _ => None,
        }
    }
}

/// How a side call (a model call Dify makes beside a reply, which has no usage of its own) is priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SideCallPricing {
    /// Recorded at no cost.
    Free,
    /// The policy's fixed amount per call.
    Fixed,
    /// Tokens estimated from what the page saw, at the app's model.
    Estimate,
}

impl SideCallPricing {
    /// Dify spends tokens on every side call, so by default they are estimated and charged.
    pub fn org_default() -> Self {
        Self::Estimate
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Fixed => "fixed",
            Self::Estimate => "estimate",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "free" => Some(Self::Free),
            "fixed" => Some(Self::Fixed),
            "estimate" => Some(Self::Estimate),
            _ => None,
        }
    }
}

/// A model call Dify makes beside a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SideCall {
    /// Naming a new conversation from its first query.
    ConversationName,
    /// The questions offered after a reply.
    SuggestedQuestions,
}

impl SideCall {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConversationName => "conversation_name",
            Self::SuggestedQuestions => "suggested_questions",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "conversation_name" => Some(Self::ConversationName),
            "suggested_questions" => Some(Self::SuggestedQuestions),
            _ => None,
        }
    }
}

/// `GET /v1/config?since=V&wait=SECONDS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ConfigAnswer {
    Unchanged { version: i64 },
    Changed { snapshot: Box<ConfigSnapshot> },
}

/// `POST /v1/sync/push`: the device's next entries, in `device_seq` order. An empty batch renews the lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub device_clock: DateTime<Utc>,
    pub items: Vec<PushItem>,
}

/// One device-authored record. `device_seq` numbers them gap-free from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushItem {
    pub id: Uuid,
    pub device_seq: i64,
    /// The device's clock: data, never an order.
    pub occurred_at: DateTime<Utc>,
    /// The config version the device priced it with.
    pub config_version: i64,
    pub body: ItemBody,
}

impl PushItem {
    /// What "the same item" means: a hash of everything but the sequence number, which the server checks.
    pub fn content_hash(&self) -> String {
        let canonical =
            serde_json::to_vec(&(self.id, self.occurred_at, self.config_version, &self.body))
                .unwrap_or_default();
        format!("{:x}", Sha256::digest(canonical))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemBody {
    /// A reply charged on the device: `amount_micros` is the entry's signed amount (negative).
    Charge { amount_micros: Micros, usage: Usage },
    /// An event the device held instead of charging.
    Held(HeldItem),
}

/// Everything a charge was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    pub app_id: Uuid,
    pub app_name: String,
    pub message_id: String,
    pub conversation_id: Option<String>,
    pub pricing: Pricing,
    pub model: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub price: Option<Price>,
    #[serde(with = "crate::decimal_str")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub credits_per_usd: Decimal,
    #[serde(with = "crate::decimal_str")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub usd_cost: Decimal,
    #[serde(with = "crate::decimal_str::option", default)]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub dify_total_price: Option<Decimal>,
    pub dify_currency: Option<String>,
    pub estimated: bool,
    /// Set when the charge is a side call's, priced by the policy's `side_calls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_call: Option<SideCall>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    Cap,
    Flood,
    Conflict,
    Unpriced,
    /// Past the device's offline lease, or after it expired.
    OfflineAllowance,
    /// Server-side: the device's price disagreed with the server's re-pricing.
    Quarantined,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cap => "cap",
            Self::Flood => "flood",
            Self::Conflict => "conflict",
            Self::Unpriced => "unpriced",
            Self::OfflineAllowance => "offline_allowance",
            Self::Quarantined => "quarantined",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "cap" => Self::Cap,
            "flood" => Self::Flood,
            "conflict" => Self::Conflict,
            "unpriced" => Self::Unpriced,
            "offline_allowance" => Self::OfflineAllowance,
            "quarantined" => Self::Quarantined,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldItem {
    pub reason: HoldReason,
    pub detail: String,
    pub app_id: Uuid,
    pub message_id: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub estimated: bool,
    #[serde(with = "crate::decimal_str::option", default)]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub dify_total_price: Option<Decimal>,
    pub dify_currency: Option<String>,
    /// What the device priced it at, when it could.
    pub amount_micros: Option<Micros>,
    /// The frame or report as the page sent it.
    pub payload: String,
    /// Set when the held event is a side call's, priced by the policy's `side_calls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_call: Option<SideCall>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Counted at the device's amount, which the server's re-pricing confirmed.
    Accepted,
    /// Another device already charged this (app, message id): not counted; the device reverses its copy.
    Duplicate,
    /// The device's amount disagreed with the server's re-pricing: held for an admin, not counted.
    Quarantined,
    /// Kept as a held event for an admin.
    Held,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemResult {
    pub id: Uuid,
    pub device_seq: i64,
    pub status: ItemStatus,
    pub detail: Option<String>,
}

/// The offline allowance: what the device may spend on its own after `base_seq`, until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    pub amount_micros: Micros,
    pub base_seq: i64,
    pub expires_at: DateTime<Utc>,
}

/// The answer to a push (and to `POST /v1/sync/lease`, an empty push).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushAnswer {
    /// Every item up to this sequence number is committed on the server.
    pub acked_through_seq: i64,
    /// One per item of the batch, new or seen before.
    pub results: Vec<ItemResult>,
    /// The user's balance on the server, with everything acknowledged counted.
    pub balance_micros: Micros,
    pub lease: Lease,
    pub config_version: i64,
    /// The user's budgets and spend across all their devices, when a budget applies to them.
    #[serde(default)]
    pub budget: Option<BudgetStatus>,
}

/// `POST /v1/redeem`: a redemption code an admin handed out, redeemed for this device's user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedeemRequest {
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedeemAnswer {
    /// The `redemption` entry that credited the code's amount.
    pub entry_id: Uuid,
    pub code_id: Uuid,
    pub amount_micros: Micros,
    /// The user's balance on the server with the redemption counted.
    pub balance_micros: Micros,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge() -> PushItem {
        PushItem {
            id: Uuid::from_u128(7),
            device_seq: 1,
            occurred_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            config_version: 3,
            body: ItemBody::Charge {
                amount_micros: -13_030_000,
                usage: Usage {
                    app_id: Uuid::from_u128(1),
                    app_name: "Chat".into(),
                    message_id: "m1".into(),
                    conversation_id: None,
                    pricing: Pricing::Model,
                    model: Some("gpt-4o".into()),
                    prompt_tokens: 1033,
                    completion_tokens: 135,
                    price: Some(Price {
                        input_per_1k: "0.001".parse().unwrap(),
                        output_per_1k: "0.002".parse().unwrap(),
                    }),
                    credits_per_usd: Decimal::from(10_000),
                    usd_cost: "0.001303".parse().unwrap(),
                    dify_total_price: Some("0.0013030".parse().unwrap()),
                    dify_currency: Some("USD".into()),
                    estimated: false,
                    side_call: None,
                },
            },
        }
    }

    #[test]
    fn an_item_round_trips_and_its_hash_ignores_only_the_sequence() {
        let item = charge();
        let text = serde_json::to_string(&item).unwrap();
        assert!(text.contains(r#""type":"charge""#), "{text}");
        assert!(text.contains(r#""credits_per_usd":"10000""#), "{text}");
        let back: PushItem = serde_json::from_str(&text).unwrap();
        assert_eq!(back, item);
        let mut renumbered = item.clone();
        renumbered.device_seq = 9;
        assert_eq!(renumbered.content_hash(), item.content_hash());
        let mut cheaper = item.clone();
        if let ItemBody::Charge { amount_micros, .. } = &mut cheaper.body {
            *amount_micros += 1;
        }
        assert_ne!(cheaper.content_hash(), item.content_hash());
    }

    #[test]
    fn config_answers_are_tagged() {
        let text = serde_json::to_string(&ConfigAnswer::Unchanged { version: 4 }).unwrap();
        assert_eq!(text, r#"{"status":"unchanged","version":4}"#);
    }
}

/// What an admin hands a new user: the server and a single-use enrollment code in one string,
/// `tokendesk://join?server=URL&code=CODE`, pasted into the desktop's join form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinLink {
    pub server: String,
    pub code: String,
}

impl JoinLink {
    const PREFIX: &str = "tokendesk://join";

    /// The link's server and code; `None` for anything else (such as a bare code).
    pub fn parse(text: &str) -> Option<Self> {
        let url = url::Url::parse(text.trim()).ok()?;
        if url.scheme() != "tokendesk" || url.host_str() != Some("join") {
            return None;
        }
        let field = |name: &str| {
            url.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        Some(Self {
            server: field("server")?,
            code: field("code")?,
        })
    }
}

impl JoinLink {
    /// What a person gave to join: a join link in either field, or a server and a code. The join form has
    /// a server field and a code field (a pasted link goes in the code field); the CLI takes a link, or a
    /// server and a code.
    pub fn from_input(
        server_or_link: &str,
        code_or_link: Option<&str>,
    ) -> Result<Self, &'static str> {
        let code = code_or_link.map(str::trim).filter(|code| !code.is_empty());
        if let Some(link) = code.and_then(Self::parse) {
            return Ok(link);
        }
        match (Self::parse(server_or_link), code) {
            (Some(link), None) => Ok(link),
            (Some(_), Some(_)) => Err("a join link holds the code already"),
            (None, Some(code)) if !server_or_link.trim().is_empty() => Ok(Self {
                server: server_or_link.trim().to_owned(),
                code: code.to_owned(),
            }),
            _ => Err("give the server's address and the enrollment code, or a join link"),
        }
    }
}

impl std::fmt::Display for JoinLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("server", &self.server)
            .append_pair("code", &self.code)
            .finish();
        write!(f, "{}?{query}", Self::PREFIX)
    }
}

#[cfg(test)]
mod join_link_tests {
    use super::JoinLink;

    #[test]
    fn a_join_link_carries_the_server_and_the_code_both_ways() {
        let link = JoinLink {
            server: "https://td.example.com:8443/base".into(),
            code: "ABCD-EFGH-JKLM".into(),
        };
        let text = link.to_string();
        assert!(text.starts_with("tokendesk://join?server=https%3A%2F%2F"));
        assert_eq!(JoinLink::parse(&text), Some(link.clone()));
        assert_eq!(JoinLink::parse(&format!("  {text}\n")), Some(link));
    }

    #[test]
    fn a_join_is_a_link_in_either_field_or_a_server_and_a_code() {
        let link = "tokendesk://join?server=http%3A%2F%2Ftd&code=ABCD";
        let joined = JoinLink {
            server: "http://td".into(),
            code: "ABCD".into(),
        };
        assert_eq!(JoinLink::from_input(link, None), Ok(joined.clone()));
        assert_eq!(JoinLink::from_input("", Some(link)), Ok(joined.clone()));
        assert_eq!(JoinLink::from_input("http://other", Some(link)), Ok(joined));
        assert_eq!(
            JoinLink::from_input(" http://td ", Some(" WXYZ ")),
            Ok(JoinLink {
                server: "http://td".into(),
                code: "WXYZ".into()
            })
        );
        assert!(JoinLink::from_input(link, Some("WXYZ")).is_err());
        assert!(JoinLink::from_input("http://td", None).is_err());
        assert!(JoinLink::from_input("http://td", Some("  ")).is_err());
        assert!(JoinLink::from_input(" ", Some("WXYZ")).is_err());
    }

    #[test]
    fn anything_else_is_not_a_join_link() {
        for text in [
            "ABCD-EFGH-JKLM",
            "https://td.example.com/join?server=x&code=y",
            "tokendesk://join?server=https://x",
            "tokendesk://join?code=ABCD",
            "tokendesk://other?server=x&code=y",
            "tokendesk://join?server=%20&code=y",
        ] {
            assert_eq!(JoinLink::parse(text), None, "{text}");
        }
    }
}
