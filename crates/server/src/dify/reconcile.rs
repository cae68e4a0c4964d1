//! A reconcile run over one Dify workspace: match its apps to the metered ones, read the records of
//! conversations updated since the last complete pass (less an overlap, since `updated_at` is not kept
//! up to date by every Dify version), store them, read Dify's daily totals, then settle. A run that
//! cannot read (Dify down, sign-in refused) still settles what earlier runs stored, and the scheduler
//! waits longer after each failure. One run per workspace at a time, across server replicas.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use secrecy::SecretString;
use sqlx::Row;
use tokendesk_sync_proto::reconcile::{ConnectionRun, ReconcileReport, ReconcileRequest};
use uuid::Uuid;

use super::console::{Console, ConsoleError, Credentials};
use super::settle;
use super::workspace::{self, DailyCost, Record};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The longest the scheduler waits after failures.
const MAX_BACKOFF: TimeDelta = TimeDelta::hours(6);

/// How often and how carefully the reconciler works; the server's flags set it.
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    /// Between two scheduled runs of a workspace.
    pub every: TimeDelta,
    /// A record is final once this old (and its status final).
    pub settle_after: TimeDelta,
    /// Each pass reads again what changed this long before the last one.
    pub overlap: TimeDelta,
    /// A counted charge with no Dify record this long after is flagged.
    pub charge_without_record_after: TimeDelta,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            every: TimeDelta::minutes(5),
            settle_after: TimeDelta::minutes(10),
            overlap: TimeDelta::hours(1),
            charge_without_record_after: TimeDelta::days(1),
        }
    }
}

/// A stored connection, secrets included: only this module and the console client see them.
pub(crate) struct Connection {
    pub id: Uuid,
    pub name: String,
    pub console_url: String,
    pub time_zone: String,
    pub reconcile_from: DateTime<Utc>,
    credentials: Credentials,
}

impl Connection {
    pub fn console(self) -> Result<(Console, ConnectionInfo), ConsoleError> {
        let info = ConnectionInfo {
            id: self.id,
            zone: self.time_zone.parse().unwrap_or(Tz::UTC),
            reconcile_from: self.reconcile_from,
        };
        Ok((Console::new(&self.console_url, self.credentials)?, info))
    }
}

/// What a run needs of its connection besides the client.
pub(crate) struct ConnectionInfo {
    pub id: Uuid,
    pub zone: Tz,
    pub reconcile_from: DateTime<Utc>,
}

pub(crate) async fn connections(
    state: &AppState,
    org_id: Uuid,
    id: Option<Uuid>,
) -> ApiResult<Vec<Connection>> {
    let rows = sqlx::query(
        "SELECT id, name, console_url, auth, email, password, admin_api_key, workspace_id, time_zone, \
                reconcile_from \
         FROM dify_connections WHERE org_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY name",
    )
    .bind(org_id)
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    rows.iter()
        .map(|row| {
            let auth: String = row.try_get("auth")?;
            let secret = |column: &str| -> ApiResult<SecretString> {
                let value: Option<String> = row.try_get(column)?;
                Ok(SecretString::from(value.unwrap_or_default()))
            };
            let credentials = if auth == "admin_api_key" {
                Credentials::AdminApiKey {
                    key: secret("admin_api_key")?,
                    workspace_id: row
                        .try_get::<Option<String>, _>("workspace_id")?
                        .unwrap_or_default(),
                }
            } else {
                Credentials::Password {
                    email: row
                        .try_get::<Option<String>, _>("email")?
                        .unwrap_or_default(),
                    password: secret("password")?,
                }
            };
            Ok(Connection {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                console_url: row.try_get("console_url")?,
                time_zone: row.try_get("time_zone")?,
                reconcile_from: row.try_get("reconcile_from")?,
                credentials,
            })
        })
        .collect()
}

/// A metered app matched to a console app.
pub(crate) struct Link {
    pub app_id: Uuid,
    pub console_app_id: String,
    pub mode: String,
    pub read_until: Option<DateTime<Utc>>,
}

/// What matching the workspace's apps found.
pub(crate) struct Matching {
    pub workspace_apps: usize,
    pub unmatched: Vec<String>,
}

/// Matches the workspace's apps to the org's metered apps by share code and stores the links.
pub(crate) async fn link_apps(
    state: &AppState,
    org_id: Uuid,
    connection_id: Uuid,
    console: &mut Console,
) -> Result<Matching, RunError> {
    let found = workspace::apps(console).await?;
    let metered: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, name, share_url FROM dify_apps WHERE org_id = $1 ORDER BY name")
            .bind(org_id)
            .fetch_all(&state.pool)
            .await?;
    let mut unmatched = Vec::new();
    for (app_id, name, share_url) in metered {
        let code = share_code(&share_url);
        let Some(app) = found
            .iter()
            .find(|app| app.share_code.is_some() && app.share_code.as_deref() == code)
        else {
            unmatched.push(name);
            continue;
        };
        sqlx::query(
            "INSERT INTO dify_app_links (org_id, app_id, connection_id, console_app_id, mode) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (org_id, app_id) DO UPDATE SET connection_id = $3, console_app_id = $4, mode = $5, \
                 read_until = CASE WHEN dify_app_links.console_app_id = $4 THEN dify_app_links.read_until END",
        )
        .bind(org_id)
        .bind(app_id)
        .bind(connection_id)
        .bind(&app.id)
        .bind(&app.mode)
        .execute(&state.pool)
        .await?;
    }
    Ok(Matching {
        workspace_apps: found.len(),
        unmatched,
    })
}

/// The share code of a share URL: its last path segment.
fn share_code(share_url: &str) -> Option<&str> {
    let path = share_url.split(['?', '#']).next()?;
    path.trim_end_matches('/').rsplit('/').next()
}

pub(crate) async fn links(
    state: &AppState,
    org_id: Uuid,
    connection_id: Uuid,
    app_id: Option<Uuid>,
) -> ApiResult<Vec<Link>> {
    let rows: Vec<(Uuid, String, String, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT app_id, console_app_id, mode, read_until FROM dify_app_links \
         WHERE org_id = $1 AND connection_id = $2 AND ($3::uuid IS NULL OR app_id = $3) ORDER BY app_id",
    )
    .bind(org_id)
    .bind(connection_id)
    .bind(app_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(app_id, console_app_id, mode, read_until)| Link {
            app_id,
            console_app_id,
            mode,
            read_until,
        })
        .collect())
}

/// Why reading stopped: Dify's refusal or absence, or the database.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<sqlx::Error> for RunError {
    fn from(error: sqlx::Error) -> Self {
        Self::Api(error.into())
    }
}

/// Reconciles every workspace of the org now (an admin asked: no backoff).
pub async fn run_org(
    state: &AppState,
    org_id: Uuid,
    request: &ReconcileRequest,
    actor: &str,
) -> ApiResult<ReconcileReport> {
    let mut report = ReconcileReport::default();
    for connection in connections(state, org_id, None).await? {
        report
            .connections
            .push(run_connection(state, org_id, connection, request, actor).await?);
    }
    Ok(report)
}

/// Reconciles the workspaces whose next run is due, of every org; the scheduler calls it.
pub async fn run_due(state: &AppState) -> ApiResult<Vec<ConnectionRun>> {
    let due: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT org_id, id FROM dify_connections \
         WHERE next_run_at <= now() AND sign_in_refused_at IS NULL ORDER BY next_run_at",
    )
    .fetch_all(&state.pool)
    .await?;
    let mut runs = Vec::new();
    for (org_id, id) in due {
        for connection in connections(state, org_id, Some(id)).await? {
            let request = ReconcileRequest::default();
            runs.push(run_connection(state, org_id, connection, &request, "reconciler").await?);
        }
    }
    Ok(runs)
}

/// One run over one workspace, under its lock; records the outcome for the scheduler.
async fn run_connection(
    state: &AppState,
    org_id: Uuid,
    connection: Connection,
    request: &ReconcileRequest,
    actor: &str,
) -> ApiResult<ConnectionRun> {
    let mut run = ConnectionRun {
        connection_id: connection.id,
        connection: connection.name.clone(),
        ..ConnectionRun::default()
    };
    // A transaction-scoped lock: a run that dies, or whose task is dropped, lets go with its transaction.
    let mut lock = state.pool.begin().await?;
    let locked: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(format!("tokendesk-reconcile:{}", connection.id))
            .fetch_one(&mut *lock)
            .await?;
    if !locked {
        run.error = Some("another run is reconciling this workspace now".into());
        return Ok(run);
    }
    let actor = format!("{actor} (Dify {})", connection.name);
    let connection_id = connection.id;
    let mut sign_in_refused = false;
    match connection.console() {
        Ok((mut console, info)) => {
            if let Err(error) = read(state, org_id, &info, &mut console, request, &mut run).await {
                match error {
                    RunError::Console(error) => {
                        sign_in_refused = matches!(error, ConsoleError::SignIn(_));
                        run.error = Some(error.to_string());
                    }
                    RunError::Api(error) => return Err(error),
                }
            }
        }
        Err(error) => run.error = Some(error.to_string()),
    }
    settle::settle(
        state,
        org_id,
        connection_id,
        request.app_id,
        &actor,
        &mut run,
    )
    .await?;
    record_sign_in(state, org_id, connection_id, sign_in_refused).await?;
    schedule(state, org_id, connection_id, &run).await?;
    lock.commit().await?;
    Ok(run)
}

/// Reads and stores the records and daily totals of every linked app.
async fn read(
    state: &AppState,
    org_id: Uuid,
    info: &ConnectionInfo,
    console: &mut Console,
    request: &ReconcileRequest,
    run: &mut ConnectionRun,
) -> Result<(), RunError> {
    match link_apps(state, org_id, info.id, console).await {
        Ok(_) => {}
        // Without the app list the links already made still serve.
        Err(RunError::Console(ConsoleError::Missing(endpoint))) => note_missing(run, endpoint),
        Err(error) => return Err(error),
    }
    let until = Utc::now();
    let since_day = request.since.and_then(|day| local_midnight(info.zone, day));
    for link in links(state, org_id, info.id, request.app_id).await? {
        let since = since_day.unwrap_or_else(|| {
            link.read_until
                .map(|read| read - state.reconcile.overlap)
                .unwrap_or(info.reconcile_from)
                .max(info.reconcile_from)
        });
        // Workflow apps keep runs, not messages.
        let records = if link.mode == "workflow" {
            workspace::workflow_records(console, &link.console_app_id, since).await
        } else {
            workspace::chat_records(console, &link.console_app_id, info.zone, since, until).await
        };
        match records {
            Ok(records) => {
                let kept: Vec<Record> = records
                    .into_iter()
                    .filter(|record| record.created_at >= info.reconcile_from.min(since))
                    .collect();
                run.records_read += store_records(state, org_id, link.app_id, &kept).await?;
                sqlx::query(
                    "UPDATE dify_app_links SET read_until = $3 WHERE org_id = $1 AND app_id = $2",
                )
                .bind(org_id)
                .bind(link.app_id)
                .bind(until)
                .execute(&state.pool)
                .await?;
            }
            Err(ConsoleError::Missing(endpoint)) => note_missing(run, endpoint),
            Err(error) => return Err(error.into()),
        }
        let from = since.with_timezone(&info.zone).date_naive();
        let to = until.with_timezone(&info.zone).date_naive();
        match workspace::daily_costs(console, &link.console_app_id, from, to).await {
            Ok(costs) => store_costs(state, org_id, link.app_id, &costs).await?,
            Err(ConsoleError::Missing(endpoint)) => note_missing(run, endpoint),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

fn note_missing(run: &mut ConnectionRun, endpoint: &str) {
    if !run.missing_endpoints.iter().any(|known| known == endpoint) {
        run.missing_endpoints.push(endpoint.to_owned());
    }
}

/// Midnight starting `day` in `zone`, as UTC.
pub(crate) fn local_midnight(zone: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    day.and_hms_opt(0, 0, 0)?
        .and_local_timezone(zone)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

/// Stores what Dify says now of records not settled yet; returns how many were new or changed.
async fn store_records(
    state: &AppState,
    org_id: Uuid,
    app_id: Uuid,
    records: &[Record],
) -> ApiResult<u64> {
    let mut tx = state.pool.begin().await?;
    let mut changed = 0;
    for record in records {
        let written = sqlx::query(
            "INSERT INTO dify_records (org_id, app_id, record_id, kind, conversation_id, from_source, \
                 end_user_id, session_id, status, prompt_tokens, completion_tokens, total_price, currency, \
                 created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (org_id, app_id, record_id) DO UPDATE SET \
                 status = EXCLUDED.status, prompt_tokens = EXCLUDED.prompt_tokens, \
                 completion_tokens = EXCLUDED.completion_tokens, total_price = EXCLUDED.total_price, \
                 currency = EXCLUDED.currency, session_id = EXCLUDED.session_id, \
                 end_user_id = EXCLUDED.end_user_id, from_source = EXCLUDED.from_source, read_at = now() \
             WHERE dify_records.settled_at IS NULL AND (dify_records.status, dify_records.prompt_tokens, \
                 dify_records.completion_tokens, dify_records.total_price, dify_records.session_id) \
                 IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.prompt_tokens, EXCLUDED.completion_tokens, \
                 EXCLUDED.total_price, EXCLUDED.session_id)",
        )
        .bind(org_id)
        .bind(app_id)
        .bind(&record.id)
        .bind(record.kind)
        .bind(&record.conversation_id)
        .bind(&record.from_source)
        .bind(&record.end_user_id)
        .bind(&record.session_id)
        .bind(&record.status)
        .bind(record.prompt_tokens)
        .bind(record.completion_tokens)
        .bind(record.total_price)
        .bind(&record.currency)
        .bind(record.created_at)
        .execute(&mut *tx)
        .await?;
        changed += written.rows_affected();
    }
    tx.commit().await?;
    Ok(changed)
}

async fn store_costs(
    state: &AppState,
    org_id: Uuid,
    app_id: Uuid,
    costs: &[DailyCost],
) -> ApiResult<()> {
    let mut tx = state.pool.begin().await?;
    for cost in costs {
        sqlx::query(
            "INSERT INTO dify_daily_costs (org_id, app_id, day, token_count, total_price, currency) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (org_id, app_id, day) DO UPDATE SET token_count = $4, total_price = $5, \
                 currency = $6, read_at = now()",
        )
        .bind(org_id)
        .bind(app_id)
        .bind(cost.day)
        .bind(cost.token_count)
        .bind(cost.total_price)
        .bind(&cost.currency)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records whether Dify took the sign-in. A refusal stops the scheduler's tries, since each one counts
/// toward Dify's login lockout, until a test or an admin's run signs in; that one makes it due now.
pub async fn record_sign_in(
    state: &AppState,
    org_id: Uuid,
    connection_id: Uuid,
    refused: bool,
) -> ApiResult<()> {
    sqlx::query(
        "UPDATE dify_connections \
         SET next_run_at = CASE WHEN sign_in_refused_at IS NOT NULL AND NOT $3 THEN now() \
                                ELSE next_run_at END, \
             sign_in_refused_at = CASE WHEN $3 THEN COALESCE(sign_in_refused_at, now()) END \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(connection_id)
    .bind(refused)
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// When to run next: after the usual pause, or, after failures in a row, after a doubling one.
async fn schedule(
    state: &AppState,
    org_id: Uuid,
    connection_id: Uuid,
    run: &ConnectionRun,
) -> ApiResult<()> {
    let failures: i32 =
        sqlx::query_scalar("SELECT failures FROM dify_connections WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(connection_id)
            .fetch_one(&state.pool)
            .await?;
    let failures = if run.error.is_some() {
        failures.saturating_add(1)
    } else {
        0
    };
    let pause = backoff(state.reconcile.every, failures);
    sqlx::query(
        "UPDATE dify_connections SET failures = $3, next_run_at = now() + $4, last_run_at = now(), \
             last_error = $5, missing_endpoints = $6 \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(connection_id)
    .bind(failures)
    .bind(pause)
    .bind(&run.error)
    .bind(&run.missing_endpoints)
    .execute(&state.pool)
    .await?;
    Ok(())
}

/// `every` after a success; `every` doubled per failure in a row, at most [`MAX_BACKOFF`].
fn backoff(every: TimeDelta, failures: i32) -> TimeDelta {
    let doublings = failures.clamp(0, 16) as u32;
    every
        .checked_mul(2_i32.pow(doublings))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF.max(every))
}

/// Runs due workspaces forever, checking every minute (or `every`, when shorter).
pub async fn scheduler(state: AppState) {
    let tick = state
        .reconcile
        .every
        .min(TimeDelta::minutes(1))
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(60));
    loop {
        match run_due(&state).await {
            Ok(runs) => {
                for run in runs {
                    match &run.error {
                        Some(error) => {
                            tracing::warn!(connection = %run.connection, %error, "reconcile run failed")
                        }
                        None => tracing::info!(
                            connection = %run.connection,
                            read = run.records_read,
                            settled = run.settled,
                            true_ups = run.true_ups,
                            reported = run.reported_by_dify,
                            unattributed = run.unattributed,
                            "reconciled"
                        ),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "reconcile scheduler failed"),
        }
        tokio::time::sleep(tick).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_bound() {
        let every = TimeDelta::minutes(5);
        assert_eq!(backoff(every, 0), every);
        assert_eq!(backoff(every, 1), TimeDelta::minutes(10));
        assert_eq!(backoff(every, 3), TimeDelta::minutes(40));
        assert_eq!(backoff(every, 30), MAX_BACKOFF);
        assert_eq!(backoff(TimeDelta::hours(12), 2), TimeDelta::hours(12));
    }

    #[test]
    fn the_share_code_is_the_last_segment() {
        assert_eq!(share_code("https://d.example/chat/AbC123"), Some("AbC123"));
        assert_eq!(
            share_code("https://d.example/chatbot/AbC123/?x=1"),
            Some("AbC123")
        );
    }
}
