//! A device's side of the protocol: enroll once, then push what the ledger recorded, pull the config, and
//! take the server's balance and lease. Nothing is acknowledged locally before the server commits it, and a
//! retry sends the same items again, which the server answers without applying them twice.

use reqwest::Method;
use std::borrow::BorrowMut;
use std::sync::Mutex;
use std::time::Duration;
use tokendesk_ledger::Ledger;
use tokendesk_sync_proto::device::{
    ConfigAnswer, ConfigSnapshot, EnrollAnswer, EnrollRequest, MAX_BATCH_ITEMS, PushAnswer,
    PushRequest, RedeemAnswer, RedeemRequest,
};
use tokio::sync::Notify;

use crate::http::{ClientError, Http, Result};

/// A request that does not long-poll gets this long before it counts as a network failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the client finds the ledger. It takes the ledger for each local step only, never across a request,
/// so charges and the windows go on while a push or a long poll waits on the network.
pub trait LedgerAccess: Sync {
    fn with_ledger<T>(
        &self,
        work: impl FnOnce(&mut Ledger) -> tokendesk_ledger::Result<T>,
    ) -> tokendesk_ledger::Result<T>;
}

/// A ledger behind a mutex, owned or borrowed. A poisoned lock only means an earlier step panicked mid-way;
/// SQLite rolled that transaction back, so the ledger is still consistent.
impl<L: BorrowMut<Ledger> + Send> LedgerAccess for Mutex<L> {
    fn with_ledger<T>(
        &self,
        work: impl FnOnce(&mut Ledger) -> tokendesk_ledger::Result<T>,
    ) -> tokendesk_ledger::Result<T> {
        let mut ledger = self.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        work((*ledger).borrow_mut())
    }
}

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
    ledger: &impl LedgerAccess,
    server: &str,
    code: &str,
    device_name: &str,
) -> Result<EnrollAnswer> {
    if let Some(enrolled) = ledger.with_ledger(|ledger| ledger.sync_status())?.server {
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
    ledger.with_ledger(|ledger| ledger.enroll(http.server(), &answer, &snapshot))?;
    // Enrolled whatever the first sync does: a failure is kept in the sync status and retried by the next.
    let _ = sync_once(ledger).await;
    Ok(answer)
}

/// Redeems a redemption code for this device's user, then syncs so the ledger shows the new balance. The
/// redemption stands once the server answered, whether or not that sync gets through.
pub async fn redeem(ledger: &impl LedgerAccess, code: &str) -> Result<RedeemAnswer> {
    let http = device_http(ledger)?;
    let request = RedeemRequest {
        code: code.trim().to_owned(),
    };
    let answer: RedeemAnswer = http
        .json(Method::POST, "/v1/redeem", Some(&request), REQUEST_TIMEOUT)
        .await?;
    let _ = sync_once(ledger).await;
    Ok(answer)
}

/// Pulls the config, pushes everything pending in batches, and takes the server's balance and a fresh lease.
/// A failure is kept in the ledger's sync status; a revoked device is marked so and its lease dropped.
pub async fn sync_once(ledger: &impl LedgerAccess) -> Result<SyncReport> {
    sync_in_batches(ledger, MAX_BATCH_ITEMS).await
}

/// [`sync_once`] with pushes of at most `batch_size` items.
pub async fn sync_in_batches(ledger: &impl LedgerAccess, batch_size: usize) -> Result<SyncReport> {
    let batch_size = batch_size.clamp(1, MAX_BATCH_ITEMS);
    let result = exchange(ledger, batch_size).await;
    if let Err(error) = &result {
        let revoked = error.code() == "device_revoked";
        ledger.with_ledger(|ledger| ledger.record_sync_failure(&error.to_string(), revoked))?;
    }
    result
}

async fn exchange(ledger: &impl LedgerAccess, batch_size: usize) -> Result<SyncReport> {
    let http = device_http(ledger)?;
    apply_newer_config(ledger, &http, 0).await?;
    loop {
        let items = ledger.with_ledger(|ledger| ledger.pending_push(batch_size))?;
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
        let known_version = ledger.with_ledger(|ledger| {
            ledger.apply_push_answer(&answer)?;
            Ok(ledger.sync_status()?.config_version)
        })?;
        if answer.config_version > known_version {
            apply_newer_config(ledger, &http, 0).await?;
        }
        if !full {
            break;
        }
    }
    Ok(ledger.with_ledger(|ledger| {
        let status = ledger.sync_status()?;
        Ok(SyncReport {
            acked_through_seq: status.acked_seq,
            pending: status.pending,
            balance_micros: ledger.active_account()?.balance_micros,
            config_version: status.config_version,
        })
    })?)
}

/// Waits up to `wait` seconds for a config newer than the ledger's and applies it; `true` when one came.
pub async fn wait_for_config(ledger: &impl LedgerAccess, wait: u64) -> Result<bool> {
    let http = device_http(ledger)?;
    apply_newer_config(ledger, &http, wait).await
}

/// Syncs until `stop` resolves, telling `synced` each outcome. After every sync it long-polls the config;
/// `wake` (a charge was just recorded) cuts the wait short, so a charge reaches the server at once. Failures
/// are retried on a timer with exponential backoff (1 s to 60 s), so a server that comes back is found
/// without a new charge. Only a revoked device (or one never enrolled) stops the watch.
pub async fn watch(
    ledger: &impl LedgerAccess,
    wake: &Notify,
    mut synced: impl FnMut(&Result<SyncReport>),
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    const LONG_POLL_SECONDS: u64 = 25;
    const MAX_BACKOFF: Duration = Duration::from_secs(60);
    tokio::pin!(stop);
    let mut backoff = Duration::from_secs(1);
    fn back_off(backoff: &mut Duration) -> Duration {
        let pause = *backoff;
        *backoff = (*backoff * 2).min(MAX_BACKOFF);
        pause
    }
    loop {
        let outcome = sync_once(ledger).await;
        synced(&outcome);
        let pause = match outcome {
            Ok(report) if report.pending > 0 => Duration::ZERO,
            Ok(_) => tokio::select! {
                () = &mut stop => return Ok(()),
                () = wake.notified() => Duration::ZERO,
                polled = wait_for_config(ledger, LONG_POLL_SECONDS) => match polled {
                    // A long poll that answered: the server is there, and the backoff starts over.
                    Ok(_) => {
                        backoff = Duration::from_secs(1);
                        Duration::ZERO
                    }
                    Err(_) => back_off(&mut backoff),
                },
            },
            Err(error)
                if error.code() == "device_revoked" || matches!(error, ClientError::Usage(_)) =>
            {
                return Err(error);
            }
            Err(_) => back_off(&mut backoff),
        };
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = wake.notified() => {}
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// A name for this device that its admin will recognise: the host's.
pub fn default_device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "tokendesk".into())
}

fn device_http(ledger: &impl LedgerAccess) -> Result<Http> {
    let credentials = ledger.with_ledger(|ledger| ledger.sync_credentials())?.ok_or_else(|| {
        ClientError::Usage(
            "this data directory is not enrolled with an org server: run `tokendesk enroll URL CODE`".into(),
        )
    })?;
    Http::new(&credentials.server_url, Some(credentials.device_token))
}

async fn apply_newer_config(ledger: &impl LedgerAccess, http: &Http, wait: u64) -> Result<bool> {
    let since = ledger
        .with_ledger(|ledger| ledger.sync_status())?
        .config_version;
    match pull(http, since, wait).await? {
        Some(snapshot) => Ok(ledger.with_ledger(|ledger| ledger.apply_config(&snapshot))?),
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
