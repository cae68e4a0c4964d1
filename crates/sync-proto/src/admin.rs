//! The admin API: sessions, users, enrollment codes, devices, entries, prices, the rate, apps, policy,
//! held events and reports. Amounts typed by an admin travel as decimal strings of credits.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::device::{HoldReason, Usage};
use crate::money::{Micros, Price, Pricing};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrgInfo {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Staff,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "staff" => Some(Self::Staff),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub role: Role,
}

/// `POST /v1/admin/login`. `org` may be left out while the server holds one org.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub org: Option<String>,
    pub name: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserInfo,
    pub org: OrgInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub name: String,
    pub display_name: Option<String>,
    pub role: Role,
    /// Admins sign in with one; staff never do.
    pub password: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSummary {
    pub user: UserInfo,
    pub balance_micros: Micros,
    pub devices: i64,
    pub created_at: DateTime<Utc>,
    /// The user's own budgets; `None` follows the org's policy, 0 is no budget.
    pub daily_budget_micros: Option<Micros>,
    pub monthly_budget_micros: Option<Micros>,
    /// Spent across all devices in the current budget day and month (the org's time zone).
    pub spent_today_micros: Micros,
    pub spent_month_micros: Micros,
}

/// `PUT /v1/admin/users/{name}/budget`: credits as decimal strings; `null` follows the org's policy and
/// `"0"` is no budget.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetBudget {
    pub daily: Option<String>,
    pub monthly: Option<String>,
}

/// `POST /v1/admin/redemption-codes`: a batch of single-use codes, each worth `amount` credits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRedemptionCodes {
    pub count: u32,
    /// Credits as a decimal string, above 0.
    pub amount: String,
    pub reason: String,
    /// Days the codes may be redeemed in; `None`: until redeemed.
    pub valid_days: Option<u32>,
}

/// A new batch: the codes are shown once, the server keeps only their hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedemptionBatch {
    pub batch_id: Uuid,
    pub amount_micros: Micros,
    pub expires_at: Option<DateTime<Utc>>,
    pub codes: Vec<NewRedemptionCode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewRedemptionCode {
    pub id: Uuid,
    pub code: String,
}

/// One code as the server keeps it (without the code itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedemptionCodeInfo {
    pub id: Uuid,
    pub batch_id: Uuid,
    pub amount_micros: Micros,
    pub reason: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub redeemed_by: Option<String>,
    pub redeemed_at: Option<DateTime<Utc>>,
    /// The `redemption` entry that credited it.
    pub entry_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollmentCode {
    /// Shown once; the server keeps only its hash.
    pub code: String,
    pub user: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    pub id: Uuid,
    pub user: String,
    pub name: String,
    pub revoked: bool,
    pub last_seen: Option<DateTime<Utc>>,
    /// Device clock minus server clock at the last contact.
    pub clock_skew_ms: Option<i64>,
    pub last_seq: i64,
    pub created_at: DateTime<Utc>,
    /// Replies Dify served to the device's user that no device reported, found by reconciliation.
    #[serde(default)]
    pub unreported_replies: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Grant,
    Topup,
    Adjustment,
    Charge,
    Reversal,
    /// A redemption code redeemed by the user.
    Redemption,
    /// A charge corrected by Dify's own record of the reply (an estimate, or tokens that differ).
    TrueUp,
    /// A reply Dify served to the user that no device reported, charged from Dify's record.
    ReportedByDify,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grant => "grant",
            Self::Topup => "topup",
            Self::Adjustment => "adjustment",
            Self::Charge => "charge",
            Self::Reversal => "reversal",
            Self::Redemption => "redemption",
            Self::TrueUp => "true_up",
            Self::ReportedByDify => "reported_by_dify",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "grant" => Self::Grant,
            "topup" => Self::Topup,
            "adjustment" => Self::Adjustment,
            "charge" => Self::Charge,
            "reversal" => Self::Reversal,
            "redemption" => Self::Redemption,
            "true_up" => Self::TrueUp,
            "reported_by_dify" => Self::ReportedByDify,
            _ => return None,
        })
    }
}

/// `POST /v1/admin/users/{name}/entries`: a grant, top-up or adjustment of `amount` credits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewEntry {
    pub kind: EntryKind,
    /// Credits as a decimal string, e.g. `"500"` or `"-12.5"` (adjustments only may be negative).
    pub amount: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reason {
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryInfo {
    pub id: Uuid,
    pub user: String,
    pub kind: EntryKind,
    pub amount_micros: Micros,
    /// Whether it counts in the balance: a duplicate or quarantined charge is kept but not counted.
    pub counted: bool,
    pub device_id: Option<Uuid>,
    pub device_seq: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub actor: String,
    pub reason: Option<String>,
    pub reverses_id: Option<Uuid>,
    pub usage: Option<Usage>,
    /// The code a `redemption` entry redeemed.
    #[serde(default)]
    pub redemption_code_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BalanceInfo {
    pub user: String,
    pub balance_micros: Micros,
    /// Reserved for devices' offline use.
    pub open_leases_micros: Micros,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelInfo {
    pub name: String,
    pub price: Price,
    pub aliases: Vec<String>,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

/// `PUT /v1/admin/models/{name}`: creates or reprices a model; prices are USD per 1K tokens as strings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetModel {
    pub input_usd_per_1k: String,
    pub output_usd_per_1k: String,
    pub reason: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// `POST /v1/admin/models/import`: many prices in one config version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportModels {
    pub models: Vec<ImportModel>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportModel {
    pub name: String,
    pub price: Price,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub config_version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceChange {
    pub model: String,
    pub old: Option<Price>,
    pub new: Price,
    pub changed_by: String,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
    pub config_version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateInfo {
    #[serde(with = "crate::decimal_str")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub credits_per_usd: Decimal,
    pub history: Vec<RateChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateChange {
    #[serde(with = "crate::decimal_str::option", default)]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub old_rate: Option<Decimal>,
    #[serde(with = "crate::decimal_str")]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub new_rate: Decimal,
    pub changed_by: String,
    pub reason: String,
    pub changed_at: DateTime<Utc>,
    pub config_version: i64,
}

/// `PUT /v1/admin/rate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetRate {
    /// Credits per USD as a decimal string.
    pub credits_per_usd: String,
    pub reason: String,
}

/// `POST /v1/admin/apps`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewApp {
    pub name: String,
    pub share_url: String,
    pub pricing: Pricing,
    pub model: Option<String>,
}

/// `PATCH /v1/admin/apps/{id}`: the fields to change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateApp {
    pub name: Option<String>,
    pub share_url: Option<String>,
    pub pricing: Option<Pricing>,
    pub model: Option<String>,
    pub enabled: Option<bool>,
}

/// `PUT /v1/admin/policy`: one guard, by the names `org policy show` prints; money in credits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetPolicy {
    pub key: String,
    pub value: String,
}

/// `POST /v1/admin/navigation-hosts`: an origin (`https://host[:port]`) devices may navigate to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NavigationHost {
    pub origin: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HeldStatus {
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldInfo {
    pub id: Uuid,
    pub reason: HoldReason,
    pub detail: String,
    pub user: String,
    pub device_id: Option<Uuid>,
    pub app_id: Uuid,
    pub message_id: String,
    /// What the device priced it at.
    pub device_amount_micros: Option<Micros>,
    /// What the server's prices say it costs; an approval charges this.
    pub server_amount_micros: Option<Micros>,
    pub status: HeldStatus,
    pub received_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub entry_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportBy {
    User,
    App,
    Model,
    Day,
}

/// What `GET /v1/admin/report` is asked: the grouping and the filters, each left out when `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(optional_fields))]
pub struct ReportQuery {
    /// `user` when left out.
    pub by: Option<ReportBy>,
    /// The first and last days counted (UTC), inclusive.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub user: Option<String>,
    /// The app's name, as the report by app shows it.
    pub app: Option<String>,
    pub model: Option<String>,
}

/// One line of `GET /v1/admin/report?by=&from=&to=&user=&app=&model=`: counted charges net of reversals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReportRow {
    pub key: String,
    pub credits_micros: Micros,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub messages: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub by: ReportBy,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// The filters the report was asked with.
    pub user: Option<String>,
    pub app: Option<String>,
    pub model: Option<String>,
    pub rows: Vec<ReportRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    pub id: i64,
    pub actor: String,
    pub action: String,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}
