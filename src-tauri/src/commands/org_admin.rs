//! The admin window of an enrolled desktop: an admin's session on the org server, kept as the CLI keeps
//! it (`org-session.json`, mode 0600, in the data directory), and calls of the server's admin API. The
//! token never reaches a page, and the server checks the role on every call.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tauri::State;
use tokendesk_api::org::{OrgAnswer, OrgApi, OrgRequest};
use tokendesk_sync_client::ClientError;
use tokendesk_sync_client::admin::{OrgAdmin, redemption_csv};
use tokendesk_sync_proto::admin::{NewRedemptionCodes, RedemptionBatch, ReportQuery};

use super::staff::{Export, export_path};
use crate::error::ShellResult;
use crate::state::Shell;

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct OrgAdminStatus {
    /// The server this device is enrolled with, where the admin signs in.
    server: String,
    /// The signed-in admin, while the session lasts.
    admin: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

/// The enrolled server: the admin window of an island has no org to run.
fn enrolled_server(shell: &Shell) -> ShellResult<String> {
    let status = shell.ledger(|ledger| ledger.sync_status())?;
    status.server.filter(|_| status.enrolled).ok_or_else(|| {
        ClientError::Usage("this device is not enrolled with an org server".into()).into()
    })
}

/// The saved session, if it is live and signed in to the enrolled server.
fn session(shell: &Shell) -> ShellResult<Option<OrgAdmin>> {
    Ok(OrgAdmin::load_for(
        &shell.data_dir,
        &enrolled_server(shell)?,
    ))
}

fn status(server: String, admin: Option<&OrgAdmin>) -> OrgAdminStatus {
    OrgAdminStatus {
        server,
        admin: admin.map(|admin| admin.name.clone()),
        expires_at: admin.map(|admin| admin.expires_at),
    }
}

fn signed_in(shell: &Shell) -> ShellResult<OrgAdmin> {
    session(shell)?.ok_or_else(|| {
        ClientError::Refused {
            status: 401,
            code: "unauthorized".into(),
            message: "sign in to the org server first".into(),
        }
        .into()
    })
}

#[tauri::command]
pub async fn org_admin_status(shell: State<'_, Shell>) -> ShellResult<OrgAdminStatus> {
    let server = enrolled_server(&shell)?;
    let admin = OrgAdmin::load_for(&shell.data_dir, &server);
    Ok(status(server, admin.as_ref()))
}

#[tauri::command]
pub async fn org_admin_login(
    shell: State<'_, Shell>,
    name: String,
    password: String,
) -> ShellResult<OrgAdminStatus> {
    let server = enrolled_server(&shell)?;
    OrgAdmin::login(&shell.data_dir, &server, &name, &password).await?;
    let admin = OrgAdmin::load(&shell.data_dir)?;
    Ok(status(server, Some(&admin)))
}

#[tauri::command]
pub async fn org_admin_logout(shell: State<'_, Shell>) -> ShellResult<()> {
    Ok(OrgAdmin::logout(&shell.data_dir).await?)
}

/// One operation of the org's admin API for the signed-in admin. A change of the org's config reaches
/// this device by its own sync, which is woken so it does not wait for the next long poll to end.
#[tauri::command]
pub async fn org_admin(shell: State<'_, Shell>, request: OrgRequest) -> ShellResult<OrgAnswer> {
    let admin = signed_in(&shell)?;
    let writes = request.writes();
    let answer = OrgApi::new(&admin).run(request).await?;
    if writes {
        shell.org.wake.notify_one();
    }
    Ok(answer)
}

/// Saves the org report for `query`, as the server writes it in CSV, into the Downloads folder: exactly
/// the rows the report screen shows for the same query.
#[tauri::command]
pub async fn org_admin_export_report(
    shell: State<'_, Shell>,
    query: ReportQuery,
) -> ShellResult<Export> {
    let admin = signed_in(&shell)?;
    let csv = OrgApi::new(&admin).report_csv(&query).await?;
    let file = export_path(&shell, "org-report")?;
    std::fs::write(&file, &csv).map_err(tokendesk_ledger::LedgerError::from)?;
    // One line a row after the header: names hold no line breaks (the server refuses control characters).
    Ok(Export {
        path: file,
        rows: csv.lines().count().saturating_sub(1),
    })
}

#[derive(Debug, Serialize, ts_rs::TS)]
pub struct NewRedemptionBatch {
    #[serde(flatten)]
    batch: RedemptionBatch,
    /// The codes as CSV in the Downloads folder, to hand out.
    csv_path: std::path::PathBuf,
}

/// A batch of single-use redemption codes worth `amount` credits each. The server keeps only their
/// hashes, so the codes are saved at once as CSV in the Downloads folder and shown this once.
#[tauri::command]
pub async fn org_admin_create_codes(
    shell: State<'_, Shell>,
    count: u32,
    amount: String,
    reason: String,
    valid_days: Option<u32>,
) -> ShellResult<NewRedemptionBatch> {
    let admin = signed_in(&shell)?;
    let batch = OrgApi::new(&admin)
        .create_codes(&NewRedemptionCodes {
            count,
            amount,
            reason,
            valid_days,
        })
        .await?;
    let csv_path = export_path(&shell, "redemption-codes")?;
    std::fs::write(&csv_path, redemption_csv(&batch))
        .map_err(tokendesk_ledger::LedgerError::from)?;
    Ok(NewRedemptionBatch { batch, csv_path })
}
