//! The admin API of reconciliation with Dify's own records: the org's Dify workspaces (whose secrets go
//! to the server and never come back), reconcile runs, and what they found.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::money::Micros;

/// How the server signs in to a Dify console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DifyCredentials {
    /// A console account with at least the editor role.
    Password { email: String, password: String },
    /// A Dify started with `ADMIN_API_KEY_ENABLE=true` (about 1.11 onward).
    AdminApiKey { key: String, workspace_id: String },
}

/// `POST /v1/admin/dify`: connects a Dify workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewDifyConnection {
    pub name: String,
    /// Where the console is served, e.g. `https://dify.example.com` (the API is under `/console/api`).
    pub console_url: String,
    pub credentials: DifyCredentials,
    /// The console account's time zone (IANA), as set in Dify; UTC when left out.
    pub time_zone: Option<String>,
    /// The first day whose messages are reconciled; 7 days ago when left out.
    pub since: Option<NaiveDate>,
}

/// A connection as the API shows it: never its password or key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DifyConnectionInfo {
    pub id: Uuid,
    pub name: String,
    pub console_url: String,
    /// `password` or `admin_api_key`.
    pub auth: String,
    pub email: Option<String>,
    pub workspace_id: Option<String>,
    pub time_zone: String,
    pub reconcile_from: DateTime<Utc>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub apps: Vec<LinkedApp>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub next_run_at: DateTime<Utc>,
    /// Runs that failed in a row; the scheduler waits longer after each.
    pub failures: i32,
    pub last_error: Option<String>,
    /// Console endpoints the last run found missing, so what they serve was not reconciled.
    pub missing_endpoints: Vec<String>,
    /// When Dify refused the sign-in: automatic runs wait for an admin's test or run, since every try
    /// counts toward Dify's login lockout.
    pub sign_in_refused_at: Option<DateTime<Utc>>,
}

/// A metered app and the console app it was matched to by its share code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkedApp {
    pub app_id: Uuid,
    pub app_name: String,
    pub console_app_id: String,
    /// Dify's app mode: `chat`, `advanced-chat`, `agent-chat`, `completion` or `workflow`.
    pub mode: String,
}

/// `POST /v1/admin/dify/{id}/test`: signs in and matches the workspace's apps to the metered ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DifyTest {
    pub signed_in: bool,
    /// Why not, or what else went wrong, in Dify's own words where it gave any.
    pub error: Option<String>,
    pub workspace_apps: usize,
    pub linked: Vec<LinkedApp>,
    /// Metered apps whose share code no console app of this workspace has.
    pub unmatched: Vec<String>,
    pub missing_endpoints: Vec<String>,
}

/// `POST /v1/admin/reconcile`: reconciles now, whatever the scheduler's backoff.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileRequest {
    /// Only this metered app; every linked app when left out.
    pub app_id: Option<Uuid>,
    /// Read conversations updated since this day (the connection's zone) instead of since the last run.
    pub since: Option<NaiveDate>,
}

/// What one run did, per connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileReport {
    pub connections: Vec<ConnectionRun>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionRun {
    pub connection_id: Uuid,
    pub connection: String,
    /// Why the run stopped early (sign-in refused, Dify down); `None` when it read everything it could.
    pub error: Option<String>,
    pub missing_endpoints: Vec<String>,
    /// Records read from Dify (new or changed).
    pub records_read: u64,
    /// Records settled by this run.
    pub settled: u64,
    /// Findings this run added, by kind.
    pub true_ups: u64,
    pub reported_by_dify: u64,
    pub unattributed: u64,
    pub charges_without_record: u64,
    /// Records not final yet (still streaming, or too recent), left for a later run.
    pub waiting: u64,
    /// Records whose message has a held event still to decide, left for after the decision.
    pub held: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The ledger's tokens or price differed from Dify's record, or the charge was an estimate: a
    /// `true_up` entry made up the difference.
    TrueUp,
    /// Dify served a reply to a staff member no device reported: a `reported_by_dify` charge.
    ReportedByDify,
    /// Dify served a reply to nobody the org knows (a share URL opened without TokenDesk).
    Unattributed,
    /// A counted charge whose message Dify has no record of, a day after.
    ChargeWithoutRecord,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TrueUp => "true_up",
            Self::ReportedByDify => "reported_by_dify",
            Self::Unattributed => "unattributed",
            Self::ChargeWithoutRecord => "charge_without_record",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "true_up" => Self::TrueUp,
            "reported_by_dify" => Self::ReportedByDify,
            "unattributed" => Self::Unattributed,
            "charge_without_record" => Self::ChargeWithoutRecord,
            _ => return None,
        })
    }
}

/// Dify's record of one message or workflow run, as last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DifyRecordInfo {
    pub record_id: String,
    /// `message` or `workflow_run`.
    pub kind: String,
    pub conversation_id: Option<String>,
    pub from_source: Option<String>,
    /// Dify's end user's session id: the `sys.user_id` the share URL carried, if any.
    pub session_id: Option<String>,
    pub status: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    #[serde(with = "crate::decimal_str::option", default)]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub total_price: Option<Decimal>,
    pub currency: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingInfo {
    pub id: Uuid,
    pub kind: FindingKind,
    pub app_id: Uuid,
    pub app_name: String,
    pub user: Option<String>,
    pub device_id: Option<Uuid>,
    /// The entry this finding made, or the charge it is about.
    pub entry_id: Option<Uuid>,
    /// What the ledger had charged for the message, and what Dify's record costs (positive credits).
    pub ledger_micros: Option<Micros>,
    pub dify_micros: Option<Micros>,
    pub detail: String,
    pub found_at: DateTime<Utc>,
    /// `None` for a charge without a record.
    pub record: Option<DifyRecordInfo>,
    /// The message or run id the finding is about.
    pub record_id: String,
}

/// `GET /v1/admin/reconciliation?from=&to=&app_id=`: the daily control and the findings of those days.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams, utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ReconciliationQuery {
    /// First and last days, inclusive, in each connection's zone; the last 7 days when left out.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub app_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reconciliation {
    pub days: Vec<DailyControl>,
    pub findings: Vec<FindingInfo>,
}

/// One app's day: Dify's `statistics/token-costs` against the ledger's counted charges, true-ups and
/// reported charges of the day (in the connection's zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DailyControl {
    pub app_id: Uuid,
    pub app_name: String,
    pub day: NaiveDate,
    /// `None` when Dify's statistics were not read for the day (the endpoint is missing, or no run yet).
    pub dify_tokens: Option<i64>,
    #[serde(with = "crate::decimal_str::option", default)]
    #[cfg_attr(feature = "ts", ts(type = "string | null"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub dify_price: Option<Decimal>,
    pub dify_currency: Option<String>,
    pub ledger_tokens: i64,
    pub ledger_micros: Micros,
    /// Dify's tokens minus the ledger's; `None` without Dify's figure.
    pub token_gap: Option<i64>,
}
