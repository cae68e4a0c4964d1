//! The org's admin operations, run on its server for a signed-in admin: the `tokendesk org …` commands
//! and the admin window of an enrolled desktop both call these. An [`OrgApi`] exists only over an
//! admin's session ([`OrgAdmin`]), and the server checks the role again on every call.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokendesk_sync_client::ClientError;
use tokendesk_sync_client::admin::{OrgAdmin, path_segment};
use tokendesk_sync_proto::admin::{
    BalanceInfo, Decision, DeviceInfo, EntryInfo, HeldInfo, ImportModels, ImportReport, ModelInfo,
    NewApp, NewEntry, NewRedemptionCodes, NewUser, PriceChange, RateInfo, Reason, RedemptionBatch,
    RedemptionCodeInfo, Report, ReportQuery, SetBudget, SetModel, SetPolicy, SetRate, UpdateApp,
    UserInfo, UserSummary,
};
use tokendesk_sync_proto::device::{AppConfig, Policy};
use tokendesk_sync_proto::reconcile::{
    DifyConnectionInfo, DifyTest, NewDifyConnection, ReconcileReport, ReconcileRequest,
    Reconciliation, ReconciliationQuery,
};

use crate::ApiResult;

/// The most redemption codes one listing shows, newest first.
const CODES_LISTED: u32 = 1000;

/// A single-use enrollment code, shown this once: the server keeps only its hash.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct NewEnrollmentCode {
    pub code: String,
    pub user: String,
    pub expires_at: DateTime<Utc>,
    /// The server and the code in one string, for the staff member's "join my organization" form.
    pub join_link: String,
}

/// An admin's decision on a held or quarantined event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Charges the server's amount, never the device's.
    Approve,
    Reject,
}

/// The org's admin operations for one signed-in admin.
pub struct OrgApi<'a> {
    admin: &'a OrgAdmin,
}

impl<'a> OrgApi<'a> {
    pub fn new(admin: &'a OrgAdmin) -> Self {
        Self { admin }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> ApiResult<T> {
        Ok(self.admin.get(path).await?)
    }

    async fn send<B: Serialize + ?Sized, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> ApiResult<T> {
        Ok(self.admin.send(method, path, Some(body)).await?)
    }

    pub async fn users(&self) -> ApiResult<Vec<UserSummary>> {
        self.get("/v1/admin/users").await
    }

    pub async fn add_user(&self, user: &NewUser) -> ApiResult<UserInfo> {
        self.send(Method::POST, "/v1/admin/users", user).await
    }

    /// Both of a user's own budgets at once; every device enforces them across the user's devices.
    pub async fn set_budget(&self, user: &str, budget: &SetBudget) -> ApiResult<UserSummary> {
        let path = format!("/v1/admin/users/{}/budget", path_segment(user)?);
        self.send(Method::PUT, &path, budget).await
    }

    pub async fn balance(&self, user: &str) -> ApiResult<BalanceInfo> {
        self.get(&format!("/v1/admin/users/{}/balance", path_segment(user)?))
            .await
    }

    /// A single-use code for one of `user`'s new devices, with the join link that holds it.
    pub async fn enrollment_code(&self, user: &str) -> ApiResult<NewEnrollmentCode> {
        let (code, link) = self.admin.enrollment_code(user).await?;
        Ok(NewEnrollmentCode {
            join_link: link.to_string(),
            code: code.code,
            user: code.user,
            expires_at: code.expires_at,
        })
    }

    pub async fn devices(&self) -> ApiResult<Vec<DeviceInfo>> {
        self.get("/v1/admin/devices").await
    }

    pub async fn revoke_device(&self, id: &str) -> ApiResult<DeviceInfo> {
        let path = format!("/v1/admin/devices/{}/revoke", path_segment(id)?);
        self.send(Method::POST, &path, &serde_json::json!({})).await
    }

    /// A grant, top-up or adjustment of `user`'s balance.
    pub async fn add_entry(&self, user: &str, entry: &NewEntry) -> ApiResult<EntryInfo> {
        let path = format!("/v1/admin/users/{}/entries", path_segment(user)?);
        self.send(Method::POST, &path, entry).await
    }

    /// Reverses an entry, once.
    pub async fn reverse_entry(&self, id: &str, reason: &str) -> ApiResult<EntryInfo> {
        let path = format!("/v1/admin/entries/{}/reverse", path_segment(id)?);
        let reason = Reason {
            reason: reason.to_owned(),
        };
        self.send(Method::POST, &path, &reason).await
    }

    pub async fn models(&self) -> ApiResult<Vec<ModelInfo>> {
        self.get("/v1/admin/models").await
    }

    /// Creates or reprices a model.
    pub async fn set_model(&self, name: &str, change: &SetModel) -> ApiResult<ModelInfo> {
        let path = format!("/v1/admin/models/{}", path_segment(name)?);
        self.send(Method::PUT, &path, change).await
    }

    /// A model's price changes, newest first.
    pub async fn model_history(&self, name: &str) -> ApiResult<Vec<PriceChange>> {
        self.get(&format!("/v1/admin/models/{}/history", path_segment(name)?))
            .await
    }

    pub async fn import_models(&self, models: &ImportModels) -> ApiResult<ImportReport> {
        self.send(Method::POST, "/v1/admin/models/import", models)
            .await
    }

    /// The rate and its history, newest first.
    pub async fn rate(&self) -> ApiResult<RateInfo> {
        self.get("/v1/admin/rate").await
    }

    pub async fn set_rate(&self, rate: &SetRate) -> ApiResult<RateInfo> {
        self.send(Method::PUT, "/v1/admin/rate", rate).await
    }

    pub async fn apps(&self) -> ApiResult<Vec<AppConfig>> {
        self.get("/v1/admin/apps").await
    }

    pub async fn add_app(&self, app: &NewApp) -> ApiResult<AppConfig> {
        self.send(Method::POST, "/v1/admin/apps", app).await
    }

    /// Changes the fields of `change` that are set; every device takes it with its next config.
    pub async fn update_app(&self, id: &str, change: &UpdateApp) -> ApiResult<AppConfig> {
        let path = format!("/v1/admin/apps/{}", path_segment(id)?);
        self.send(Method::PATCH, &path, change).await
    }

    pub async fn policy(&self) -> ApiResult<Policy> {
        self.get("/v1/admin/policy").await
    }

    /// Sets one guard, by the names `org policy show` prints; money in credits.
    pub async fn set_policy(&self, change: &SetPolicy) -> ApiResult<Policy> {
        self.send(Method::PUT, "/v1/admin/policy", change).await
    }

    /// Pending held and quarantined events, newest first; decided ones too with `all`.
    pub async fn held(&self, all: bool) -> ApiResult<Vec<HeldInfo>> {
        self.get(&format!("/v1/admin/held?all={all}")).await
    }

    pub async fn decide_held(
        &self,
        id: &str,
        verdict: Verdict,
        note: Option<String>,
    ) -> ApiResult<HeldInfo> {
        let verb = match verdict {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        };
        let path = format!("/v1/admin/held/{}/{verb}", path_segment(id)?);
        self.send(Method::POST, &path, &Decision { note }).await
    }

    /// A batch of single-use redemption codes: this answer is the only time the server shows them.
    pub async fn create_codes(&self, codes: &NewRedemptionCodes) -> ApiResult<RedemptionBatch> {
        Ok(self.admin.redemption_codes(codes).await?)
    }

    /// The org's redemption codes, newest first, and who redeemed them.
    pub async fn redemption_codes(&self) -> ApiResult<Vec<RedemptionCodeInfo>> {
        self.get(&format!("/v1/admin/redemption-codes?limit={CODES_LISTED}"))
            .await
    }

    pub async fn report(&self, query: &ReportQuery) -> ApiResult<Report> {
        self.get(&query_path("report", query)?).await
    }

    /// The report for `query` as the server writes it in CSV: the same rows as [`Self::report`].
    pub async fn report_csv(&self, query: &ReportQuery) -> ApiResult<String> {
        let path = format!("{}&format=csv", query_path("report", query)?);
        Ok(self.admin.get_text(&path).await?)
    }

    /// The org's Dify workspaces, without their secrets.
    pub async fn dify_connections(&self) -> ApiResult<Vec<DifyConnectionInfo>> {
        self.get("/v1/admin/dify").await
    }

    /// Connects a Dify workspace; its password or key stays on the server.
    pub async fn add_dify_connection(
        &self,
        connection: &NewDifyConnection,
    ) -> ApiResult<DifyConnectionInfo> {
        self.send(Method::POST, "/v1/admin/dify", connection).await
    }

    /// Signs in to the workspace and matches its apps to the metered ones.
    pub async fn test_dify_connection(&self, id: &str) -> ApiResult<DifyTest> {
        let path = format!("/v1/admin/dify/{}/test", path_segment(id)?);
        self.send(Method::POST, &path, &serde_json::json!({})).await
    }

    /// Reconciles with Dify's records now.
    pub async fn reconcile(&self, request: &ReconcileRequest) -> ApiResult<ReconcileReport> {
        self.send(Method::POST, "/v1/admin/reconcile", request)
            .await
    }

    /// Per app and day, Dify's totals against the ledger's, and the findings of those days.
    pub async fn reconciliation(&self, query: &ReconciliationQuery) -> ApiResult<Reconciliation> {
        self.get(&query_path("reconciliation", query)?).await
    }

    /// Runs one request of the admin window.
    pub async fn run(&self, request: OrgRequest) -> ApiResult<OrgAnswer> {
        use OrgRequest as Ask;
        Ok(match request {
            Ask::Users => OrgAnswer::Users(self.users().await?),
            Ask::AddUser { user } => OrgAnswer::AddUser(self.add_user(&user).await?),
            Ask::SetBudget { user, budget } => {
                OrgAnswer::SetBudget(self.set_budget(&user, &budget).await?)
            }
            Ask::EnrollmentCode { user } => {
                OrgAnswer::EnrollmentCode(self.enrollment_code(&user).await?)
            }
            Ask::Devices => OrgAnswer::Devices(self.devices().await?),
            Ask::RevokeDevice { id } => OrgAnswer::RevokeDevice(self.revoke_device(&id).await?),
            Ask::AddEntry { user, entry } => {
                OrgAnswer::AddEntry(self.add_entry(&user, &entry).await?)
            }
            Ask::Models => OrgAnswer::Models(self.models().await?),
            Ask::ModelHistory { name } => OrgAnswer::ModelHistory(self.model_history(&name).await?),
            Ask::SetModel { name, change } => {
                OrgAnswer::SetModel(self.set_model(&name, &change).await?)
            }
            Ask::Rate => OrgAnswer::Rate(self.rate().await?),
            Ask::SetRate { change } => OrgAnswer::SetRate(self.set_rate(&change).await?),
            Ask::Apps => OrgAnswer::Apps(self.apps().await?),
            Ask::AddApp { app } => OrgAnswer::AddApp(self.add_app(&app).await?),
            Ask::UpdateApp { id, change } => {
                OrgAnswer::UpdateApp(self.update_app(&id, &change).await?)
            }
            Ask::Policy => OrgAnswer::Policy(self.policy().await?),
            Ask::SetPolicy { change } => OrgAnswer::SetPolicy(self.set_policy(&change).await?),
            Ask::Held { all } => OrgAnswer::Held(self.held(all).await?),
            Ask::DecideHeld { id, verdict, note } => {
                OrgAnswer::DecideHeld(self.decide_held(&id, verdict, note).await?)
            }
            Ask::RedemptionCodes => OrgAnswer::RedemptionCodes(self.redemption_codes().await?),
            Ask::Report { query } => OrgAnswer::Report(self.report(&query).await?),
            Ask::DifyConnections => OrgAnswer::DifyConnections(self.dify_connections().await?),
            Ask::AddDifyConnection { connection } => {
                OrgAnswer::AddDifyConnection(self.add_dify_connection(&connection).await?)
            }
            Ask::TestDifyConnection { id } => {
                OrgAnswer::TestDifyConnection(self.test_dify_connection(&id).await?)
            }
            Ask::Reconcile { request } => OrgAnswer::Reconcile(self.reconcile(&request).await?),
            Ask::Reconciliation { query } => {
                OrgAnswer::Reconciliation(self.reconciliation(&query).await?)
            }
        })
    }
}

/// `/v1/admin/{what}` with a query's fields, each only when set.
fn query_path(what: &str, query: &impl Serialize) -> ApiResult<String> {
    // A flat struct of strings and dates: it always encodes, but an error is still an error.
    let query = serde_urlencoded::to_string(query)
        .map_err(|error| ClientError::Usage(format!("an unusable {what} query: {error}")))?;
    Ok(format!("/v1/admin/{what}?{query}"))
}

/// One operation of the admin window, as it invokes it: `{ op: "set_rate", change: {…} }`. The answer
/// is the [`OrgAnswer`] of the same `op`.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OrgRequest {
    Users,
    AddUser {
        user: NewUser,
    },
    SetBudget {
        user: String,
        budget: SetBudget,
    },
    EnrollmentCode {
        user: String,
    },
    Devices,
    RevokeDevice {
        id: String,
    },
    AddEntry {
        user: String,
        entry: NewEntry,
    },
    Models,
    ModelHistory {
        name: String,
    },
    SetModel {
        name: String,
        change: SetModel,
    },
    Rate,
    SetRate {
        change: SetRate,
    },
    Apps,
    AddApp {
        app: NewApp,
    },
    UpdateApp {
        id: String,
        change: UpdateApp,
    },
    Policy,
    SetPolicy {
        change: SetPolicy,
    },
    Held {
        all: bool,
    },
    DecideHeld {
        id: String,
        verdict: Verdict,
        note: Option<String>,
    },
    RedemptionCodes,
    Report {
        query: ReportQuery,
    },
    DifyConnections,
    AddDifyConnection {
        connection: NewDifyConnection,
    },
    TestDifyConnection {
        id: String,
    },
    Reconcile {
        request: ReconcileRequest,
    },
    Reconciliation {
        query: ReconciliationQuery,
    },
}

impl OrgRequest {
    /// Whether it may change the org's config, which this device then takes by its own sync.
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Self::Users
                | Self::Devices
                | Self::Models
                | Self::ModelHistory { .. }
                | Self::Rate
                | Self::Apps
                | Self::Policy
                | Self::Held { .. }
                | Self::RedemptionCodes
                | Self::Report { .. }
                | Self::DifyConnections
                | Self::Reconciliation { .. }
        )
    }
}

/// The server's answer to an [`OrgRequest`], under the request's own `op`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "op", content = "answer", rename_all = "snake_case")]
pub enum OrgAnswer {
    Users(Vec<UserSummary>),
    AddUser(UserInfo),
    SetBudget(UserSummary),
    EnrollmentCode(NewEnrollmentCode),
    Devices(Vec<DeviceInfo>),
    RevokeDevice(DeviceInfo),
    AddEntry(EntryInfo),
    Models(Vec<ModelInfo>),
    ModelHistory(Vec<PriceChange>),
    SetModel(ModelInfo),
    Rate(RateInfo),
    SetRate(RateInfo),
    Apps(Vec<AppConfig>),
    AddApp(AppConfig),
    UpdateApp(AppConfig),
    Policy(Policy),
    SetPolicy(Policy),
    Held(Vec<HeldInfo>),
    DecideHeld(HeldInfo),
    RedemptionCodes(Vec<RedemptionCodeInfo>),
    Report(Report),
    DifyConnections(Vec<DifyConnectionInfo>),
    AddDifyConnection(DifyConnectionInfo),
    TestDifyConnection(DifyTest),
    Reconcile(ReconcileReport),
    Reconciliation(Reconciliation),
}
