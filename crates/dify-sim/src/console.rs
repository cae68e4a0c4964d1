//! Dify's console API, as far as reading an app's records needs it, with the shapes of Dify 1.9–1.14:
//! - `POST /console/api/login` (`{email, password, remember_me}`; the password base64-encoded as since
//!   about 1.11, or plain as before) answers `{"result": "success"}` and sets the cookies `access_token`,
//!   `refresh_token` and `csrf_token`; `POST /console/api/refresh-token` renews all three. More than
//!   [`LOGIN_MAX_ERROR_LIMITS`] wrong passwords in a row lock the login (HTTP 429), as Dify locks it for a
//!   day by default; setting the account again unlocks it.
//! - Every other call, GETs included, needs the access cookie and an `X-CSRF-Token` header equal to the
//!   `csrf_token` cookie; or, when an admin API key is set, `Authorization: Bearer <key>` with
//!   `X-WORKSPACE-ID` and no session cookie (no CSRF then, as since about 1.11).
//! - `GET apps` and `GET apps/{app}` (with its site's share code), `GET apps/{app}/chat-conversations`,
//!   `GET apps/{app}/chat-messages`, `GET apps/{app}/statistics/token-costs`,
//!   `GET apps/{app}/workflow-app-logs` and `GET apps/{app}/advanced-chat/workflow-runs`, over the messages
//!   and runs the simulator streamed. An app's id is its share code; a conversation belongs to the app whose passport
//!   started it. Endpoints named in [`ConsoleAccount::missing_endpoints`] answer 404, as a Dify without
//!   them does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{NaiveDateTime, TimeZone};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::records::{StoredRecord, StoredRun};
use crate::server::{EndUser, Shared, dify_error, invalid_param, lock, title};

const CSRF_HEADER: &str = "X-CSRF-Token";
/// Dify's `AccountService.LOGIN_MAX_ERROR_LIMITS`: the login is locked once the wrong passwords exceed it.
pub const LOGIN_MAX_ERROR_LIMITS: u32 = 5;
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M";

/// The console's one account, and how it may be reached.
#[derive(Debug, Clone)]
pub struct ConsoleAccount {
    pub email: String,
    pub password: String,
    /// Whether the login sends the password base64-encoded (Dify since about 1.11) or plain (before).
    pub base64_password: bool,
    /// The account's time zone: the console reads `start` and `end` and buckets days in it.
    pub time_zone: chrono_tz::Tz,
    /// `ADMIN_API_KEY` with `ADMIN_API_KEY_ENABLE=true`; `None`: the key mode is off.
    pub admin_api_key: Option<String>,
    pub workspace_id: String,
    /// Endpoints this Dify lacks (e.g. `statistics/token-costs`): answered with Flask's 404 for an unknown
    /// path, as an older or trimmed Dify does.
    pub missing_endpoints: Vec<String>,
}

impl Default for ConsoleAccount {
    fn default() -> Self {
        Self {
            email: "admin@dify-sim.local".into(),
            password: "dify-sim-password".into(),
            base64_password: true,
            time_zone: chrono_tz::Tz::UTC,
            admin_api_key: None,
            workspace_id: "00000000-0000-4000-8000-000000000001".into(),
            missing_endpoints: Vec::new(),
        }
    }
}

/// The account and its live sessions: access token → CSRF token, and the refresh tokens given out.
#[derive(Default)]
pub(crate) struct Console {
    account: ConsoleAccount,
    sessions: HashMap<String, String>,
    refresh_tokens: HashMap<String, String>,
    /// Wrong passwords since the last good login.
    failed_logins: u32,
}

impl Console {
    pub fn new(account: ConsoleAccount) -> Self {
        Self {
            account,
            ..Self::default()
        }
    }

    /// Ends every access token, as their expiry does; refresh tokens still work.
    pub fn expire_access(&mut self) {
        self.sessions.clear();
    }

    /// A new session's cookies.
    fn open_session(&mut self) -> [(&'static str, String, bool); 3] {
        let (access, refresh, csrf) = (new_token(), new_token(), new_token());
        self.sessions.insert(access.clone(), csrf.clone());
        self.refresh_tokens.insert(refresh.clone(), access.clone());
        [
            ("access_token", access, true),
            ("refresh_token", refresh, true),
            ("csrf_token", csrf, false),
        ]
    }
}

fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

type AppState = State<Arc<Shared>>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/console/api/login", post(login))
        .route("/console/api/refresh-token", post(refresh))
        .route("/console/api/apps", get(apps))
        .route("/console/api/apps/{app}", get(app_detail))
        .route(
            "/console/api/apps/{app}/chat-conversations",
            get(conversations),
        )
        .route("/console/api/apps/{app}/chat-messages", get(messages))
        .route(
            "/console/api/apps/{app}/statistics/token-costs",
            get(token_costs),
        )
        .route(
            "/console/api/apps/{app}/workflow-app-logs",
            get(workflow_logs),
        )
        .route(
            "/console/api/apps/{app}/advanced-chat/workflow-runs",
            get(chatflow_runs),
        )
}

/// Why a console call is refused, answered as Dify answers it.
pub(crate) enum Refused {
    Unauthorized(&'static str),
    BadTime(&'static str),
    BadParam(&'static str),
    Missing,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Unauthorized(message) => {
                dify_error(StatusCode::UNAUTHORIZED, "unauthorized", message)
            }
            Refused::BadTime(field) => invalid_param(format!("{field} must be YYYY-MM-DD HH:MM")),
            Refused::BadParam(message) => invalid_param(message),
            Refused::Missing => dify_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "The requested URL was not found on the server.",
            ),
        }
    }
}

fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// `{"result": "success"}` with a session's cookies (no `__Host-` prefix: the simulator serves plain HTTP).
fn with_cookies(cookies: [(&'static str, String, bool); 3]) -> Response {
    let mut response = Json(json!({"result": "success"})).into_response();
    for (name, value, http_only) in cookies {
        let http_only = if http_only { "; HttpOnly" } else { "" };
        if let Ok(value) =
            HeaderValue::from_str(&format!("{name}={value}; Path=/; SameSite=Lax{http_only}"))
        {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Deserialize)]
struct Login {
    email: String,
    password: String,
}

async fn login(State(s): AppState, body: Bytes) -> Response {
    let Ok(login) = serde_json::from_slice::<Login>(&body) else {
        return invalid_param("email and password are required");
    };
    let mut console = lock(&s.console);
    if console.failed_logins > LOGIN_MAX_ERROR_LIMITS {
        return dify_error(
            StatusCode::TOO_MANY_REQUESTS,
            "email_code_login_limit",
            "Too many incorrect password attempts. Please try again later.",
        );
    }
    let password = if console.account.base64_password {
        match STANDARD
            .decode(&login.password)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
        {
            Some(password) => password,
            None => {
                return dify_error(
                    StatusCode::UNAUTHORIZED,
                    "authentication_failed",
                    "Invalid encrypted data",
                );
            }
        }
    } else {
        login.password
    };
    if !login.email.eq_ignore_ascii_case(&console.account.email)
        || password != console.account.password
    {
        console.failed_logins += 1;
        return dify_error(
            StatusCode::UNAUTHORIZED,
            "authentication_failed",
            "Invalid email or password.",
        );
    }
    console.failed_logins = 0;
    with_cookies(console.open_session())
}

async fn refresh(State(s): AppState, headers: HeaderMap) -> Response {
    let fail = |message: &str| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"result": "fail", "message": message})),
        )
            .into_response()
    };
    let Some(token) = cookies(&headers).remove("refresh_token") else {
        return fail("No refresh token provided");
    };
    let mut console = lock(&s.console);
    let Some(access) = console.refresh_tokens.remove(&token) else {
        return fail("Invalid refresh token");
    };
    console.sessions.remove(&access);
    with_cookies(console.open_session())
}

/// Lets a call to `endpoint` through with a session and its CSRF token, or with the admin API key and
/// the workspace; an endpoint this Dify lacks is not found, whoever asks.
fn authorize(s: &Shared, headers: &HeaderMap, endpoint: &str) -> Result<chrono_tz::Tz, Refused> {
    let console = lock(&s.console);
    if console
        .account
        .missing_endpoints
        .iter()
        .any(|missing| missing == endpoint)
    {
        return Err(Refused::Missing);
    }
    let cookies = cookies(headers);
    if let Some(access) = cookies.get("access_token") {
        let Some(csrf) = console.sessions.get(access) else {
            return Err(Refused::Unauthorized("Invalid token."));
        };
        let header = headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok());
        if header != Some(csrf.as_str()) || cookies.get("csrf_token") != Some(csrf) {
            return Err(Refused::Unauthorized("CSRF token is missing or invalid."));
        }
        return Ok(console.account.time_zone);
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let workspace = headers
        .get("X-WORKSPACE-ID")
        .and_then(|value| value.to_str().ok());
    match (&console.account.admin_api_key, bearer) {
        (Some(key), Some(bearer))
            if key == bearer && workspace == Some(&console.account.workspace_id) =>
        {
            Ok(console.account.time_zone)
        }
        (_, None) => Err(Refused::Unauthorized("Invalid Authorization token.")),
        _ => Err(Refused::Unauthorized("Invalid token.")),
    }
}

/// A console time (`YYYY-MM-DD HH:MM` in the account's zone) as unix seconds; `None` when absent.
fn console_time(
    zone: chrono_tz::Tz,
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<i64>, Refused> {
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        return Ok(None);
    };
    NaiveDateTime::parse_from_str(value, TIME_FORMAT)
        .ok()
        .and_then(|local| zone.from_local_datetime(&local).earliest())
        .map(|at| Some(at.timestamp()))
        .ok_or(Refused::BadTime(field))
}

#[derive(Deserialize)]
struct RangeQuery {
    start: Option<String>,
    end: Option<String>,
}

/// An authorized call's zone and its `start` and `end` as unix seconds.
fn authorized_range(
    s: &Shared,
    headers: &HeaderMap,
    endpoint: &str,
    range: &RangeQuery,
) -> Result<(chrono_tz::Tz, Option<i64>, Option<i64>), Refused> {
    let zone = authorize(s, headers, endpoint)?;
    let start = console_time(zone, range.start.as_deref(), "start")?;
    let end = console_time(zone, range.end.as_deref(), "end")?;
    Ok((zone, start, end))
}

/// The records of one app's conversations, oldest first.
fn app_records(s: &Shared, app: &str) -> Vec<(StoredRecord, EndUser)> {
    s.records()
        .into_iter()
        .filter(|(_, user)| user.app == app)
        .collect()
}

/// Dify's `page` and `limit` of a numbered list: 1 to 99999 and 1 to 100, page 1 and 20 when left out.
fn page_bounds(page: Option<u64>, limit: Option<u64>) -> Result<(u64, u64), Refused> {
    let (page, limit) = (page.unwrap_or(1), limit.unwrap_or(20));
    if !(1..=99_999).contains(&page) || !(1..=100).contains(&limit) {
        return Err(Refused::BadParam(
            "page must be 1 to 99999 and limit 1 to 100",
        ));
    }
    Ok((page, limit))
}

/// The `limit` of a list paged by id (`first_id`, `last_id`): 1 to 100, 20 when left out.
pub(crate) fn id_page_limit(limit: Option<usize>) -> Result<usize, Refused> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Refused::BadParam("limit must be between 1 and 100"));
    }
    Ok(limit)
}

/// One numbered page of `items` in Dify's envelope: `{page, limit, total, has_more, data}`.
fn numbered_page<T>(items: &[T], page: u64, limit: u64, item: impl Fn(&T) -> Value) -> Response {
    let total = items.len() as u64;
    let data: Vec<Value> = items
        .iter()
        .skip(((page - 1) * limit) as usize)
        .take(limit as usize)
        .map(item)
        .collect();
    Json(json!({"page": page, "limit": limit, "total": total, "has_more": page * limit < total, "data": data}))
        .into_response()
}

/// The runs of one app's end users, newest first: a workflow app's (no message) or a chatflow's.
fn app_runs(s: &Shared, app: &str, chatflow: bool) -> Vec<StoredRun> {
    let mut runs: Vec<StoredRun> = s
        .workflow_runs()
        .into_iter()
        .filter(|stored| stored.user.as_ref().is_some_and(|user| user.app == app))
        .filter(|stored| stored.run.message_id.is_some() == chatflow)
        .collect();
    runs.reverse();
    runs
}

/// The apps the simulator has served (by share code, which is also the console id), sorted.
fn known_apps(s: &Shared) -> Vec<String> {
    let mut apps: Vec<String> = s
        .records()
        .into_iter()
        .map(|(_, user)| user.app)
        .chain(s.passport_apps())
        .collect();
    apps.sort();
    apps.dedup();
    apps
}

/// The console's mode of an app: `workflow` once it ran as a workflow app; chatflow replies come from an
/// advanced-chat app.
fn app_mode(s: &Shared, app: &str) -> &'static str {
    if !app_runs(s, app, false).is_empty() {
        "workflow"
    } else if s.config().chatflow {
        "advanced-chat"
    } else {
        "chat"
    }
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<u64>,
    limit: Option<u64>,
}

/// `GET apps`: Dify's `app_pagination_fields` (partial apps, no site).
async fn apps(State(s): AppState, headers: HeaderMap, Query(query): Query<PageQuery>) -> Response {
    if let Err(refused) = authorize(&s, &headers, "apps") {
        return refused.into_response();
    }
    let (page, limit) = match page_bounds(query.page, query.limit) {
        Ok(bounds) => bounds,
        Err(refused) => return refused.into_response(),
    };
    numbered_page(
        &known_apps(&s),
        page,
        limit,
        |code| json!({"id": code, "name": code, "mode": app_mode(&s, code), "description": "", "tags": []}),
    )
}

/// `GET apps/{app}`: the app with its site, whose `code` (also `access_token`) is the share code.
async fn app_detail(State(s): AppState, headers: HeaderMap, Path(app): Path<String>) -> Response {
    if let Err(refused) = authorize(&s, &headers, "apps/{app}") {
        return refused.into_response();
    }
    if !known_apps(&s).contains(&app) {
        return dify_error(StatusCode::NOT_FOUND, "app_not_found", "App not found.");
    }
    Json(json!({
        "id": app, "name": app, "mode": app_mode(&s, &app), "enable_site": true, "enable_api": false,
        "site": {"access_token": app, "code": app, "title": app, "default_language": "en-US"},
    }))
    .into_response()
}

#[derive(Deserialize)]
struct ConversationsQuery {
    #[serde(flatten)]
    range: RangeQuery,
    sort_by: Option<String>,
    page: Option<u64>,
    limit: Option<u64>,
}

struct Conversation {
    id: String,
    user: EndUser,
    first_query: String,
    created_at: u64,
    updated_at: u64,
    message_count: u64,
}

async fn conversations(
    State(s): AppState,
    headers: HeaderMap,
    Path(app): Path<String>,
    Query(query): Query<ConversationsQuery>,
) -> Response {
    // The list takes the whole of its `end` minute.
    let (start, end) = match authorized_range(&s, &headers, "chat-conversations", &query.range) {
        Ok((_, start, end)) => (start, end.map(|end| end + 59)),
        Err(refused) => return refused.into_response(),
    };
    let sort_by = query.sort_by.as_deref().unwrap_or("-updated_at");
    let by_update = match sort_by {
        "updated_at" | "-updated_at" => true,
        "created_at" | "-created_at" => false,
        _ => {
            return invalid_param(
                "sort_by must be created_at, -created_at, updated_at or -updated_at",
            );
        }
    };
    let (page, limit) = match page_bounds(query.page, query.limit) {
        Ok(bounds) => bounds,
        Err(refused) => return refused.into_response(),
    };
    let mut found: Vec<Conversation> = Vec::new();
    for (stored, user) in app_records(&s, &app) {
        let record = stored.record;
        match found.iter_mut().find(|c| c.id == record.conversation_id) {
            Some(conversation) => {
                conversation.updated_at = conversation.updated_at.max(record.created_at);
                conversation.message_count += 1;
            }
            None => found.push(Conversation {
                id: record.conversation_id,
                user,
                first_query: record.query,
                created_at: record.created_at,
                updated_at: record.created_at,
                message_count: 1,
            }),
        }
    }
    let at = |c: &Conversation| {
        (if by_update {
            c.updated_at
        } else {
            c.created_at
        }) as i64
    };
    found
        .retain(|c| start.is_none_or(|start| at(c) >= start) && end.is_none_or(|end| at(c) <= end));
    found.sort_by_key(|c| at(c));
    if sort_by.starts_with('-') {
        found.reverse();
    }
    numbered_page(&found, page, limit, |c| {
        json!({
                "id": c.id, "status": "normal", "from_source": "api",
                "from_end_user_id": c.user.id, "from_end_user_session_id": c.user.session_id,
                "from_account_id": null, "from_account_name": null,
                "name": title(&c.first_query), "summary": c.first_query, "read_at": null,
                "created_at": c.created_at, "updated_at": c.updated_at, "annotated": false,
                "model_config": {"model": null, "pre_prompt": null},
                "message_count": c.message_count,
                "user_feedback_stats": {"like": 0, "dislike": 0},
                "admin_feedback_stats": {"like": 0, "dislike": 0},
                "status_count": {"success": c.message_count, "failed": 0, "partial_success": 0},
        })
    })
}

#[derive(Deserialize)]
struct MessagesQuery {
    conversation_id: Option<String>,
    first_id: Option<String>,
    limit: Option<usize>,
}

/// A conversation's messages, newest page first and each page oldest first, as the console pages them.
async fn messages(
    State(s): AppState,
    headers: HeaderMap,
    Path(app): Path<String>,
    Query(query): Query<MessagesQuery>,
) -> Response {
    if let Err(refused) = authorize(&s, &headers, "chat-messages") {
        return refused.into_response();
    }
    let Some(conversation_id) = query.conversation_id.filter(|id| !id.is_empty()) else {
        return invalid_param("conversation_id is required");
    };
    let limit = match id_page_limit(query.limit) {
        Ok(limit) => limit,
        Err(refused) => return refused.into_response(),
    };
    let records: Vec<(StoredRecord, EndUser)> = app_records(&s, &app)
        .into_iter()
        .filter(|(stored, _)| stored.record.conversation_id == conversation_id)
        .collect();
    if records.is_empty() {
        return dify_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Conversation Not Exists.",
        );
    }
    let before = match query.first_id.filter(|id| !id.is_empty()) {
        None => records.len(),
        Some(first) => match records
            .iter()
            .position(|(stored, _)| stored.record.id == first)
        {
            Some(at) => at,
            None => {
                return dify_error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    "First message not found",
                );
            }
        },
    };
    let start = before.saturating_sub(limit);
    let now = Instant::now();
    let data: Vec<Value> = records[start..before]
        .iter()
        .map(|(stored, user)| stored.console_item(now, &user.id))
        .collect();
    Json(json!({"limit": limit, "has_more": start > 0, "data": data})).into_response()
}

/// Tokens and price per day of the account's zone, days without messages left out.
async fn token_costs(
    State(s): AppState,
    headers: HeaderMap,
    Path(app): Path<String>,
    Query(query): Query<RangeQuery>,
) -> Response {
    let (zone, start, end) = match authorized_range(&s, &headers, "statistics/token-costs", &query)
    {
        Ok(range) => range,
        Err(refused) => return refused.into_response(),
    };
    let now = Instant::now();
    let mut days: BTreeMap<String, (u64, Decimal)> = BTreeMap::new();
    for (stored, _) in app_records(&s, &app) {
        let at = stored.record.created_at as i64;
        if start.is_some_and(|start| at < start) || end.is_some_and(|end| at >= end) {
            continue;
        }
        let Some(day) = zone.timestamp_opt(at, 0).earliest() else {
            continue;
        };
        let (tokens, price) = stored.filled_usage(now);
        let sums = days.entry(day.date_naive().to_string()).or_default();
        sums.0 += tokens;
        sums.1 += price;
    }
    let data: Vec<Value> = days
        .into_iter()
        .map(|(date, (tokens, price))| {
            json!({"date": date, "token_count": tokens, "total_price": price.to_string(), "currency": "USD"})
        })
        .collect();
    Json(json!({ "data": data })).into_response()
}

#[derive(Deserialize)]
struct WorkflowLogsQuery {
    #[serde(rename = "created_at__after")]
    created_after: Option<String>,
    page: Option<u64>,
    limit: Option<u64>,
}

/// `GET apps/{app}/workflow-app-logs`: a workflow app's runs, newest first, from `created_at__after`
/// (ISO 8601) on, paged as Dify pages them.
async fn workflow_logs(
    State(s): AppState,
    headers: HeaderMap,
    Path(app): Path<String>,
    Query(query): Query<WorkflowLogsQuery>,
) -> Response {
    if let Err(refused) = authorize(&s, &headers, "workflow-app-logs") {
        return refused.into_response();
    }
    let after = match query
        .created_after
        .as_deref()
        .filter(|text| !text.is_empty())
    {
        None => None,
        Some(text) => match chrono::DateTime::parse_from_rfc3339(text) {
            Ok(at) => Some(at.timestamp()),
            Err(_) => return invalid_param("created_at__after must be an ISO 8601 time"),
        },
    };
    let (page, limit) = match page_bounds(query.page, query.limit) {
        Ok(bounds) => bounds,
        Err(refused) => return refused.into_response(),
    };
    let runs: Vec<StoredRun> = app_runs(&s, &app, false)
        .into_iter()
        .filter(|stored| after.is_none_or(|after| stored.run.created_at as i64 >= after))
        .collect();
    let now = Instant::now();
    numbered_page(&runs, page, limit, |stored| stored.log_item(now))
}

#[derive(Deserialize)]
struct ChatflowRunsQuery {
    last_id: Option<String>,
    limit: Option<usize>,
}

/// `GET apps/{app}/advanced-chat/workflow-runs`: a chatflow's runs with their message ids, newest first,
/// each page after `last_id`.
async fn chatflow_runs(
    State(s): AppState,
    headers: HeaderMap,
    Path(app): Path<String>,
    Query(query): Query<ChatflowRunsQuery>,
) -> Response {
    if let Err(refused) = authorize(&s, &headers, "advanced-chat/workflow-runs") {
        return refused.into_response();
    }
    let limit = match id_page_limit(query.limit) {
        Ok(limit) => limit,
        Err(refused) => return refused.into_response(),
    };
    let runs = app_runs(&s, &app, true);
    let start = match query.last_id.filter(|id| !id.is_empty()) {
        None => 0,
        Some(last) => match runs.iter().position(|stored| stored.run.id == last) {
            Some(at) => at + 1,
            None => return invalid_param("Last workflow run not exists"),
        },
    };
    let now = Instant::now();
    let data: Vec<Value> = runs[start..]
        .iter()
        .take(limit)
        .map(|stored| stored.chatflow_item(now))
        .collect();
    let has_more = start + limit < runs.len();
    Json(json!({"limit": limit, "has_more": has_more, "data": data})).into_response()
}
