//! A device's side of the protocol: enroll once, then push what the ledger recorded, pull the config, and
//! take the server's balance and lease. Nothing is acknowledged locally before the server commits it, and a
//! retry sends the same items again, which the server answers without applying them twice.

use reqwest::Method;
use std::time::Duration;
use tokendesk_ledger::Ledger;
use tokendesk_sync_proto::device::{
    ConfigAnswer, ConfigSnapshot, EnrollAnswer, EnrollRequest, MAX_BATCH_ITEMS, PushAnswer,
    PushRequest,
};

use crate::http::{ClientError, Http, Result};

/// A request that does not long-poll gets this long before it counts as a network failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What one sync did, and where the ledger stands after it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub acked_through_seq: i64,
    pub pending: i64,
    pub balance_micros: i64,
    pub config_version: i64,
}

/// Joins the org with a single-use code: the data directory's ledger becomes a device of the server, takes
/// the server's config, and syncs once.
pub async fn enroll(
    ledger: &mut Ledger,
    server: &str,
    code: &str,
    device_name: &str,
) -> Result<EnrollAnswer> {
    if let Some(enrolled) = ledger.sync_status()?.server {
        return Err(ClientError::Usage(format!(
            "this data directory is already enrolled with {enrolled}"
        )));
    }
    let http = Http::new(server, None)?;
    let request = EnrollRequest {
        code: code.trim().to_owned(),
        device_name: device_name.to_owned(),
        device_clock: chrono::Utc::now(),
    };
    let answer: EnrollAnswer = http
        .json(Method::POST, "/v1/enroll", Some(&request), REQUEST_TIMEOUT)
        .await?;
    let device = Http::new(server, Some(answer.device_token.clone()))?;
    let snapshot = pull(&device, 0, 0)
        .await?
        .ok_or_else(|| ClientError::Protocol("the server sent no config to a new device".into()))?;
    ledger.enroll(http.server(), &answer, &snapshot)?;
    sync_once(ledger).await?;
    Ok(answer)
}

/// Pulls the config, pushes everything pending in batches, and takes the server's balance and a fresh lease.
/// A failure is kept in the ledger's sync status; a revoked device is marked so and its lease dropped.
pub async fn sync_once(ledger: &mut Ledger) -> Result<SyncReport> {
    sync_in_batches(ledger, MAX_BATCH_ITEMS).await
}

/// [`sync_once`] with pushes of at most `batch_size` items.
pub async fn sync_in_batches(ledger: &mut Ledger, batch_size: usize) -> Result<SyncReport> {
    let batch_size = batch_size.clamp(1, MAX_BATCH_ITEMS);
    let result = exchange(ledger, batch_size).await;
    if let Err(error) = &result {
        let revoked = error.code() == "device_revoked";
        ledger.record_sync_failure(&error.to_string(), revoked)?;
    }
    result
}

async fn exchange(ledger: &mut Ledger, batch_size: usize) -> Result<SyncReport> {
    let http = device_http(ledger)?;
    apply_newer_config(ledger, &http, 0).await?;
    loop {
        let items = ledger.pending_push(batch_size)?;
        let full = items.len() == batch_size;
        let request = PushRequest {
            device_clock: chrono::Utc::now(),
            items,
        };
        let answer: PushAnswer = http
            .json(
                Method::POST,
                "/v1/sync/push",
                Some(&request),
                REQUEST_TIMEOUT,
            )
            .await?;
        ledger.apply_push_answer(&answer)?;
        if answer.config_version > ledger.sync_status()?.config_version {
            apply_newer_config(ledger, &http, 0).await?;
        }
        if !full {
            break;
        }
    }
    let status = ledger.sync_status()?;
    Ok(SyncReport {
        acked_through_seq: status.acked_seq,
        pending: status.pending,
        balance_micros: ledger.active_account()?.balance_micros,
        config_version: status.config_version,
    })
}

/// Waits up to `wait` seconds for a config newer than the ledger's and applies it; `true` when one came.
pub async fn wait_for_config(ledger: &mut Ledger, wait: u64) -> Result<bool> {
    let http = device_http(ledger)?;
    apply_newer_config(ledger, &http, wait).await
}

/// Syncs until `stop` resolves: after every sync it long-polls the config, and retries failures on a
/// timer with exponential backoff (1 s to 60 s), so a server that comes back is found without a new charge.
pub async fn watch(ledger: &mut Ledger, stop: impl std::future::Future<Output = ()>) -> Result<()> {
    const LONG_POLL_SECONDS: u64 = 25;
    const MAX_BACKOFF: Duration = Duration::from_secs(60);
    tokio::pin!(stop);
    let mut backoff = Duration::from_secs(1);
    loop {
        let pause = match sync_once(ledger).await {
            Ok(report) if report.pending > 0 => Duration::ZERO,
            Ok(_) => {
                backoff = Duration::from_secs(1);
                match wait_for_config(ledger, LONG_POLL_SECONDS).await {
                    Ok(_) => Duration::ZERO,
                    Err(error) if error.is_transient() => backoff,
                    Err(error) => return Err(error),
                }
            }
            Err(error) if error.is_transient() => {
                let pause = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                pause
            }
            Err(error) => return Err(error),
        };
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(pause) => {}
        }
    }
}

fn device_http(ledger: &Ledger) -> Result<Http> {
    let credentials = ledger.sync_credentials()?.ok_or_else(|| {
        ClientError::Usage(
            "this data directory is not enrolled with an org server: run `tokendesk enroll URL CODE`".into(),
        )
    })?;
    Http::new(&credentials.server_url, Some(credentials.device_token))
}

async fn apply_newer_config(ledger: &mut Ledger, http: &Http, wait: u64) -> Result<bool> {
    let since = ledger.sync_status()?.config_version;
    match pull(http, since, wait).await? {
        Some(snapshot) => Ok(ledger.apply_config(&snapshot)?),
        None => Ok(false),
    }
}

async fn pull(http: &Http, since: i64, wait: u64) -> Result<Option<ConfigSnapshot>> {
    let answer: ConfigAnswer = http
        .json::<(), _>(
            Method::GET,
            &format!("/v1/config?since={since}&wait={wait}"),
            None,
            REQUEST_TIMEOUT + Duration::from_secs(wait),
        )
        .await?;
    Ok(match answer {
        ConfigAnswer::Unchanged { .. } => None,
        ConfigAnswer::Changed { snapshot } => Some(*snapshot),
    })
}
