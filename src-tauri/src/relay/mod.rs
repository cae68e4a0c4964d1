//! The relay: the script injected into the Dify page, its commands, and the capability that lets only
//! the configured Dify origins call them. The app is always taken from the webview's real URL.

use chrono::Utc;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use tauri::ipc::CapabilityBuilder;
use tauri::{AppHandle, Manager, Runtime, State, Webview};
use tokendesk_ledger::ChargeResult;
use tokendesk_ledger::guards::{SendDecision, WhenUnchecked};
use tokendesk_ledger::money::micros_to_credits;
use tokendesk_ledger::outbox::{Outbox, PendingReport, ReportKind};

mod links;
mod sends;

pub use links::UserLinks;
pub use sends::SendBindings;

use crate::commands::{announce, relay_state_changed, update_monitor};
use crate::error::{ShellError, ShellResult};
use crate::language::Language;
use crate::state::{SendCheck, Shell, integration_on};

/// How often the outbox and the sends let through are looked at.
const SETTLE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);
/// A send let through that no report has named after this is charged as an estimate. Longer than any
/// reply can stream: Dify stops a run after 20 minutes by default (`WORKFLOW_MAX_EXECUTION_TIME`), so a
/// real report never follows the estimate.
const UNREPORTED_AFTER: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Seconds to wait for a send's report instead of [`UNREPORTED_AFTER`].
const UNREPORTED_AFTER_VARIABLE: &str = "TOKENDESK_UNREPORTED_AFTER_SECONDS";
/// More of a query than an estimate could use (the token limit refuses it anyway).
const MAX_KEPT_QUERY_BYTES: usize = 256 * 1024;

/// Injected before any page script on every navigation of the chat window.
pub const SCRIPT: &str = include_str!("relay.js");

/// The commands a Dify page may call, as ACL permissions.
pub const PERMISSIONS: &[&str] = &[
    "allow-report-usage",
    "allow-report-incomplete",
    "allow-report-model-call",
    "allow-check-send",
    "allow-report-unchecked-send",
    "allow-report-send-failed",
    "allow-relay-status",
    "allow-report-link-click",
];

/// Lets pages of these origins, in the chat window only, call the relay's commands and nothing else.
pub fn allow_origins<R: Runtime>(
    app: &AppHandle<R>,
    identifier: &str,
    origins: &[String],
) -> tauri::Result<()> {
    if origins.is_empty() {
        return Ok(());
    }
    let mut capability = CapabilityBuilder::new(identifier)
        .window(crate::windows::CHAT)
        .local(false);
    for origin in origins {
        capability = capability.remote(format!("{origin}/*"));
    }
    for permission in PERMISSIONS {
        capability = capability.permission(*permission);
    }
    app.add_capability(capability)
}

/// The page a reply is billed to: the one its send was let through from, else the webview's URL now (a
/// reconnect, which passes no gate, or a report from an older page).
fn billed_page<R: Runtime>(
    webview: &Webview<R>,
    shell: &Shell,
    sends: &SendBindings,
    send_id: Option<&str>,
) -> ShellResult<String> {
    match send_id.and_then(|id| sends.page_of(id)) {
        Some(page) => Ok(page),
        None => page_url(webview, shell),
    }
}

/// The webview's page, when it is on an app's origin: the capability that lets a page call the relay's
/// commands outlives an app removed at runtime, so each command checks the apps as they are now.
fn page_url<R: Runtime>(webview: &Webview<R>, shell: &Shell) -> ShellResult<String> {
    let url = webview
        .url()
        .map_err(|err| ShellError::PageUrl(err.to_string()))?;
    let origin = url.origin().ascii_serialization();
    if !shell.is_app_origin(&origin) {
        return Err(ShellError::NotAnAppPage(origin));
    }
    Ok(url.to_string())
}

#[tauri::command]
pub async fn report_usage<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: State<'_, Shell>,
    sends: State<'_, SendBindings>,
    frame: String,
    send_id: Option<String>,
) -> ShellResult<ChargeResult> {
    let page = billed_page(&webview, &shell, &sends, send_id.as_deref())?;
    commit_and_announce(&app, &shell, ReportKind::Usage, page, frame)
}

/// Commits a report (or keeps it, see [`commit_or_keep`]) and tells the windows of its charge.
fn commit_and_announce<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Shell,
    kind: ReportKind,
    page_url: String,
    payload: String,
) -> ShellResult<ChargeResult> {
    let result = commit_or_keep(shell, kind, page_url, payload)?;
    announce(app, shell, &result)?;
    Ok(result)
}

/// Commits a report, or, when the ledger cannot take it now (busy past its timeout, a failed write),
/// keeps it in the outbox on disk for [`settle_in_background`] and still answers the error: the relay
/// sends it again, and whichever arrives first is charged, the other answered `duplicate`.
fn commit_or_keep(
    shell: &Shell,
    kind: ReportKind,
    page_url: String,
    payload: String,
) -> ShellResult<ChargeResult> {
    let committed = shell.ledger(|ledger| ledger.record_report(kind, &page_url, &payload));
    if committed.is_err() {
        let report = PendingReport {
            kind,
            page_url,
            payload,
        };
        Outbox::in_dir(&shell.data_dir).push(&report)?;
    }
    committed
}

/// Every few seconds: commits what the outbox keeps, charges each send that no report named within
/// [`UNREPORTED_AFTER`] (or `TOKENDESK_UNREPORTED_AFTER_SECONDS`) as an estimate from its query, and
/// hands the chat page's relay a fresh gate state. Tells the windows of each charge as the relay's own
/// reports do.
pub fn settle_in_background<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    let unreported_after = std::env::var(UNREPORTED_AFTER_VARIABLE)
        .ok()
        .and_then(|seconds| seconds.trim().parse().ok())
        .map_or(UNREPORTED_AFTER, std::time::Duration::from_secs);
    tauri::async_runtime::spawn(async move {
        loop {
            let shell = app.state::<Shell>();
            let outbox = Outbox::in_dir(&shell.data_dir);
            if !outbox.is_empty() {
                match shell.ledger(|ledger| outbox.drain(ledger)) {
                    Ok(drained) => {
                        for result in &drained.results {
                            let _ = announce(&app, &shell, result);
                        }
                    }
                    Err(error) => eprintln!("tokendesk-desktop: outbox: {error}"),
                }
            }
            for send in app.state::<SendBindings>().overdue(unreported_after) {
                let report = serde_json::json!({
                    "message_id": format!("send:{}", send.send_id),
                    "query": send.query,
                    "answer": "",
                    "reason": "unreported",
                });
                let charged = commit_and_announce(
                    &app,
                    &shell,
                    ReportKind::Incomplete,
                    send.page_url,
                    report.to_string(),
                );
                if let Err(error) = charged {
                    eprintln!("tokendesk-desktop: unreported send: {error}");
                }
            }
            // The time of day alone may have changed the gate's verdict.
            relay_state_changed(&app, &shell);
            tokio::time::sleep(SETTLE_EVERY).await;
        }
    });
}

/// The query kept with a send for its estimate, cut to what an estimate could use.
fn kept_query(query: Option<String>) -> String {
    let mut query = query.unwrap_or_default();
    if query.len() > MAX_KEPT_QUERY_BYTES {
        let mut end = MAX_KEPT_QUERY_BYTES;
        while !query.is_char_boundary(end) {
            end -= 1;
        }
        query.truncate(end);
    }
    query
}

/// The user clicked a link in the page: if the chat window refused it a moment ago (it leaves the Dify
/// apps), it opens in the system browser now; if not yet, it does when refused.
#[tauri::command]
pub async fn report_link_click<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: State<'_, Shell>,
    links: State<'_, UserLinks>,
    href: String,
) -> ShellResult<()> {
    page_url(&webview, &shell)?;
    if let Ok(url) = url::Url::parse(&href)
        && links.clicked(&url)
    {
        crate::windows::open_in_the_system(&app, &url);
    }
    Ok(())
}

/// Dify answered a send the gate let through with no reply (an error, or nothing): it spent nothing.
#[tauri::command]
pub async fn report_send_failed(
    sends: State<'_, SendBindings>,
    send_id: String,
) -> ShellResult<()> {
    sends.failed(&send_id);
    Ok(())
}

#[tauri::command]
pub async fn report_incomplete<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: State<'_, Shell>,
    sends: State<'_, SendBindings>,
    report: serde_json::Value,
    send_id: Option<String>,
) -> ShellResult<ChargeResult> {
    let page = billed_page(&webview, &shell, &sends, send_id.as_deref())?;
    commit_and_announce(
        &app,
        &shell,
        ReportKind::Incomplete,
        page,
        report.to_string(),
    )
}

/// A model call Dify made beside a reply (auto-naming, suggested questions), priced by the policy.
#[tauri::command]
pub async fn report_model_call<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: State<'_, Shell>,
    call: serde_json::Value,
) -> ShellResult<ChargeResult> {
    let page = page_url(&webview, &shell)?;
    commit_and_announce(&app, &shell, ReportKind::SideCall, page, call.to_string())
}

/// The gate's answer for a send from a page. A refusal comes with a status and a message Dify shows as
/// its own error toast.
#[derive(Debug, Serialize)]
pub struct GateVerdict {
    allowed: bool,
    status: Option<u16>,
    code: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SendAnswer {
    #[serde(flatten)]
    verdict: GateVerdict,
    /// What the relay does with the next send it cannot check.
    when_unchecked: WhenUnchecked,
    /// A send let through: its reply's reports name it and are billed to this page's app.
    send_id: Option<String>,
}

/// The gate's verdict for a decision of the ledger's, in the language picked now.
fn verdict_of(shell: &Shell, decision: &SendDecision) -> GateVerdict {
    let language = shell.language();
    if shell.integration_forced_off {
        return refusal(language, "integration_disabled", None);
    }
    match decision.code {
        None => GateVerdict {
            allowed: true,
            status: None,
            code: None,
            message: None,
        },
        Some(code) => refusal(
            language,
            code,
            Some(micros_to_credits(decision.balance_micros).to_string()),
        ),
    }
}

/// The pre-send gate, and the binding of a send to its page's app. `sent` says what the relay already
/// did on the gate state it holds (`version`): `Some(true)`, the request went out before this call, so the
/// send is bound, to the page that state was for, even when the gate now refuses (and that is recorded);
/// `Some(false)`, the relay refused it, so nothing is bound. `None`: the relay waits for this answer.
/// `key` is the relay's own id for the send, which it binds by. Every send endpoint passes the same gate;
/// the monitor shows the last decision and its endpoint.
#[tauri::command]
pub async fn check_send<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    endpoint: String,
    query: Option<String>,
    sent: Option<bool>,
    version: Option<u64>,
    key: Option<String>,
) -> ShellResult<SendAnswer> {
    let (shell, sends) = (app.state::<Shell>(), app.state::<SendBindings>());
    let here = page_url(&webview, &shell)?;
    // The relay binds a send once its reply has ended, so the page may have moved on (`pushState`)
    // since it decided: the send is the page's that the state it decided on was for, a URL Rust read.
    let page = match (sent, version.and_then(state_page)) {
        (Some(true), Some(decided_on)) if same_origin(&decided_on, &here) => decided_on,
        _ => here,
    };
    let decision = shell.ledger(|ledger| ledger.may_send(&page))?;
    let verdict = verdict_of(&shell, &decision);
    let went_out = sent.unwrap_or(verdict.allowed);
    let send_id = went_out.then(|| sends.bind(page.clone(), kept_query(query), key));
    // Bound first: a failure to keep the record must not leave the reply without its send.
    if sent == Some(true)
        && !verdict.allowed
        && let Err(error) =
            shell.ledger(|ledger| ledger.record_unchecked_send(&page, &endpoint, "past_refusal"))
    {
        eprintln!("tokendesk-desktop: a send past a refusal went unrecorded: {error}");
    }
    let check = SendCheck {
        endpoint,
        at: Utc::now(),
        allowed: went_out,
        code: verdict.code.clone(),
    };
    // Not awaited: a send may wait for this command's answer, never for the windows to hear of it.
    tauri::async_runtime::spawn(async move {
        let _ = update_monitor(&app, |monitor| monitor.last_send = Some(check));
    });
    Ok(SendAnswer {
        verdict,
        when_unchecked: decision.when_unchecked,
        send_id,
    })
}

fn refusal(language: Language, code: &str, balance: Option<String>) -> GateVerdict {
    let chinese = language == Language::Zh;
    let balance = balance.unwrap_or_default();
    let (status, message) = match (code, chinese) {
        ("insufficient_credits", true) => (
            402,
            format!("TokenDesk：积分不足（余额 {balance}），无法发送。请联系管理员充值。"),
        ),
        ("insufficient_credits", false) => (
            402,
            format!(
                "TokenDesk: not enough credits to send (balance {balance}). Ask your admin for a top-up."
            ),
        ),
        ("daily_budget_spent" | "monthly_budget_spent", true) => {
            (402, "TokenDesk：本期预算已用完，暂时无法发送。".into())
        }
        ("daily_budget_spent" | "monthly_budget_spent", false) => (
            402,
            "TokenDesk: the budget for this period is spent; sending is paused.".into(),
        ),
        ("offline_allowance", true) => (
            402,
            "TokenDesk：离线额度已用完，请连接组织服务器同步后再发送。".into(),
        ),
        ("offline_allowance", false) => (
            402,
            "TokenDesk: the offline allowance is spent; connect to your org's server to sync, then send again."
                .into(),
        ),
        ("integration_disabled", true) => (
            403,
            "TokenDesk：计量已关闭，暂时无法通过 TokenDesk 发送。".into(),
        ),
        ("integration_disabled", false) => (
            403,
            "TokenDesk: metering is switched off, so sending is paused.".into(),
        ),
        (_, true) => (
            403,
            "TokenDesk：此应用未在 TokenDesk 中配置或已停用。".into(),
        ),
        (_, false) => (
            403,
            "TokenDesk: this app is not configured in TokenDesk, or is disabled.".into(),
        ),
    };
    GateVerdict {
        allowed: false,
        status: Some(status),
        code: Some(code.into()),
        message: Some(message),
    }
}

/// A send the relay let through without the gate's answer (`when_unchecked = allow`): recorded for the
/// admin, and shown on the monitor.
#[tauri::command]
pub async fn report_unchecked_send<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: State<'_, Shell>,
    endpoint: String,
    reason: String,
) -> ShellResult<()> {
    let page = page_url(&webview, &shell)?;
    shell.ledger(|ledger| ledger.record_unchecked_send(&page, &endpoint, &reason))?;
    let check = SendCheck {
        endpoint,
        at: Utc::now(),
        allowed: true,
        code: Some(format!("unchecked_{reason}")),
    };
    // Recorded already: a failure to tell the windows must not make the relay record it twice.
    let _ = update_monitor(&app, |monitor| monitor.last_send = Some(check));
    Ok(())
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metering {
    /// Replies on this page are charged.
    Monitoring,
    /// The page's app is not configured or is disabled, or metering is off: nothing is charged here.
    NotMetered,
}

/// What the relay holds to decide a send at once, without a round trip: Rust pushes it into the chat
/// page whenever it may have changed, and at least every [`SETTLE_EVERY`] (the time of day alone can
/// change a verdict: a budget's new day, an allowance's end).
#[derive(Debug, Serialize)]
pub struct RelayStatus {
    /// Newer states replace older ones; answers and pushes may arrive out of order.
    version: u64,
    /// The page this state is for: on any other page the relay asks the gate and waits.
    page: String,
    balance: Decimal,
    monitor: Metering,
    /// The language picked now, which may differ from the one the page was loaded in.
    language: Language,
    /// What the relay does with a send it cannot check.
    when_unchecked: WhenUnchecked,
    /// The gate's verdict for a send from `page` now.
    gate: GateVerdict,
    #[serde(skip)]
    integration_enabled: bool,
}

/// Counts the states from a base taken from the clock at the first one, so a version from an earlier run
/// (one a page's storage kept) never names a state of this one.
static RELAY_STATE_VERSION: AtomicU64 = AtomicU64::new(0);
/// The pages the latest states were for, by version, newest last.
static STATE_PAGES: Mutex<VecDeque<(u64, String)>> = Mutex::new(VecDeque::new());
/// States kept: more than a held state's 15 s of freshness brings, at one every 5 s or per change.
const STATE_PAGES_KEPT: usize = 64;

fn next_state_version() -> u64 {
    let base = u64::try_from(Utc::now().timestamp_micros()).unwrap_or_default();
    let _ = RELAY_STATE_VERSION.compare_exchange(0, base, Ordering::Relaxed, Ordering::Relaxed);
    RELAY_STATE_VERSION.fetch_add(1, Ordering::Relaxed) + 1
}

fn remember_state_page(version: u64, page: &str) {
    let mut pages = STATE_PAGES.lock().unwrap_or_else(PoisonError::into_inner);
    if pages.len() >= STATE_PAGES_KEPT {
        pages.pop_front();
    }
    pages.push_back((version, page.to_owned()));
}

/// The page the state of `version` was for, while it is kept.
fn state_page(version: u64) -> Option<String> {
    let pages = STATE_PAGES.lock().unwrap_or_else(PoisonError::into_inner);
    pages
        .iter()
        .find(|(kept, _)| *kept == version)
        .map(|(_, page)| page.clone())
}

fn same_origin(one: &str, other: &str) -> bool {
    match (url::Url::parse(one), url::Url::parse(other)) {
        (Ok(one), Ok(other)) => one.origin() == other.origin(),
        _ => false,
    }
}

/// The relay's state for `page`, read in one go: its version is taken under the ledger's lock, so a
/// newer version never carries an older state.
fn relay_state(shell: &Shell, page: String) -> ShellResult<RelayStatus> {
    let (decision, balance, app_enabled, integration_enabled, version) =
        shell.ledger(|ledger| {
            let enabled = ledger
                .app_for_url(&page)?
                .is_some_and(|dify_app| dify_app.enabled);
            Ok((
                ledger.may_send(&page)?,
                ledger.active_account()?.balance,
                enabled,
                integration_on(shell.integration_forced_off, ledger)?,
                next_state_version(),
            ))
        })?;
    remember_state_page(version, &page);
    let monitor = if app_enabled && integration_enabled {
        Metering::Monitoring
    } else {
        Metering::NotMetered
    };
    Ok(RelayStatus {
        version,
        page,
        balance,
        monitor,
        language: shell.language(),
        when_unchecked: decision.when_unchecked,
        gate: verdict_of(shell, &decision),
        integration_enabled,
    })
}

/// Hands the chat page its relay's current state, if the chat window shows a web page. The relay
/// defines the receiving function before any page script runs; a page that calls it itself only
/// changes what its own relay decides at once, as the gate is still asked beside every send.
pub fn push_relay_state<R: Runtime>(app: &AppHandle<R>, shell: &Shell) -> ShellResult<()> {
    let Some(chat) = app.get_webview_window(crate::windows::CHAT) else {
        return Ok(());
    };
    // Only an app's page has a relay to take it; any other page (a local one, a sign-in host) is left be.
    let Ok(page) = page_url(chat.as_ref(), shell) else {
        return Ok(());
    };
    let state = serde_json::to_string(&relay_state(shell, page)?).map_err(tauri::Error::from)?;
    chat.eval(format!(
        "window.{RELAY_STATE_RECEIVER} && window.{RELAY_STATE_RECEIVER}({state});"
    ))
    .map_err(ShellError::from)
}

/// The relay's function that takes a pushed state (relay.js defines it under this name).
const RELAY_STATE_RECEIVER: &str = "__TOKENDESK_RELAY_STATE__";

/// The relay reports in when it starts on a page: the monitor now counts the chat as connected.
#[tauri::command]
pub async fn relay_status<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    shell: State<'_, Shell>,
) -> ShellResult<RelayStatus> {
    let state = relay_state(&shell, page_url(&webview, &shell)?)?;
    let metered = matches!(state.monitor, Metering::Monitoring);
    update_monitor(&app, |status| {
        status.relay_seen_at = Some(Utc::now());
        status.relay_metered = metered;
        status.integration_enabled = state.integration_enabled;
    })?;
    Ok(state)
}
