//! Routes, handlers and the state they share.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::{AppKind, SimConfig};
use crate::console::{self, Console};
use crate::frames::{ApiKind, Ask, build_reply};
use crate::records::{StoredRecord, StoredRun};
use crate::{pages, transport};

/// The endpoints whose requests are counted, by their public names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    ChatMessages,
    CompletionMessages,
    WorkflowsRun,
    WorkflowEvents,
    ConversationName,
    SuggestedQuestions,
    Messages,
    Passport,
}

impl Endpoint {
    const ALL: [Endpoint; 8] = [
        Endpoint::ChatMessages,
        Endpoint::CompletionMessages,
        Endpoint::WorkflowsRun,
        Endpoint::WorkflowEvents,
        Endpoint::ConversationName,
        Endpoint::SuggestedQuestions,
        Endpoint::Messages,
        Endpoint::Passport,
    ];

    const fn name(self) -> &'static str {
        match self {
            Endpoint::ChatMessages => "chat-messages",
            Endpoint::CompletionMessages => "completion-messages",
            Endpoint::WorkflowsRun => "workflows/run",
            Endpoint::WorkflowEvents => "workflow/events",
            Endpoint::ConversationName => "conversations/name",
            Endpoint::SuggestedQuestions => "suggested-questions",
            Endpoint::Messages => "messages",
            Endpoint::Passport => "passport",
        }
    }

    fn for_kind(kind: ApiKind) -> Endpoint {
        match kind {
            ApiKind::Chat => Endpoint::ChatMessages,
            ApiKind::Completion => Endpoint::CompletionMessages,
            ApiKind::Workflow => Endpoint::WorkflowsRun,
        }
    }
}

/// The names `request_count` and `/_sim/stats` use.
pub const ENDPOINTS: [&str; Endpoint::ALL.len()] = {
    let mut names = [""; Endpoint::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Endpoint::ALL[i].name();
        i += 1;
    }
    names
};

/// How many runs, conversations and messages are remembered.
const RECENT_CAP: usize = 256;

/// The newest [`RECENT_CAP`] entries of a map, oldest dropped first.
struct Recent<V> {
    order: VecDeque<String>,
    map: HashMap<String, V>,
}

impl<V> Recent<V> {
    fn new() -> Self {
        Recent {
            order: VecDeque::new(),
            map: HashMap::new(),
        }
    }

    /// Keeps the first value seen for a key.
    fn insert_new(&mut self, key: &str, value: V) {
        if self.map.contains_key(key) {
            return;
        }
        if self.order.len() >= RECENT_CAP
            && let Some(oldest) = self.order.pop_front()
        {
            self.map.remove(&oldest);
        }
        self.order.push_back(key.to_owned());
        self.map.insert(key.to_owned(), value);
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    /// Every value, oldest first.
    fn values(&self) -> impl Iterator<Item = &V> {
        self.order.iter().filter_map(|key| self.map.get(key))
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct Shared {
    config: RwLock<SimConfig>,
    counts: [AtomicU64; Endpoint::ALL.len()],
    /// Frames of recent workflow runs, for `/api/workflow/{run_id}/events`.
    runs: Mutex<Recent<Vec<String>>>,
    /// The first query of recent conversations, for auto-naming.
    conversations: Mutex<Recent<String>>,
    /// Recent chat messages as Dify stores them, for `/api/messages`.
    messages: Mutex<Recent<StoredRecord>>,
    /// The end user behind each access token the passport gave out.
    passports: Mutex<Recent<EndUser>>,
    /// The end user each conversation was started by, as Dify's console lists it.
    conversation_users: Mutex<Recent<EndUser>>,
    /// Recent workflow runs as Dify stores them, for the console.
    workflow_runs: Mutex<Recent<StoredRun>>,
    /// The console's account, sessions and admin key.
    pub(crate) console: Mutex<Console>,
}

/// A web-app end user of one app: Dify's `EndUser`, whose `session_id` is the `sys.user_id` it came with.
#[derive(Debug, Clone)]
pub(crate) struct EndUser {
    pub id: String,
    /// The app's share code (`X-App-Code`): the simulator's app id in the console.
    pub app: String,
    pub session_id: String,
}

impl Shared {
    pub fn new(config: SimConfig) -> Self {
        Shared {
            config: RwLock::new(config),
            counts: Default::default(),
            runs: Mutex::new(Recent::new()),
            conversations: Mutex::new(Recent::new()),
            messages: Mutex::new(Recent::new()),
            passports: Mutex::new(Recent::new()),
            workflow_runs: Mutex::new(Recent::new()),
            conversation_users: Mutex::new(Recent::new()),
            console: Mutex::new(Console::default()),
        }
    }

    /// The end user a conversation was started by, if it was started with a passport.
    pub fn conversation_user(&self, conversation_id: &str) -> Option<EndUser> {
        lock(&self.conversation_users).get(conversation_id).cloned()
    }

    /// The apps (share codes) end users took passports for.
    pub(crate) fn passport_apps(&self) -> Vec<String> {
        lock(&self.passports)
            .values()
            .map(|user| user.app.clone())
            .collect()
    }

    /// The workflow runs Dify keeps, oldest first.
    pub(crate) fn workflow_runs(&self) -> Vec<StoredRun> {
        lock(&self.workflow_runs).values().cloned().collect()
    }

    /// The chat messages Dify keeps, oldest first, each with the end user of its conversation (a message
    /// of a conversation with no known end user is left out).
    pub(crate) fn records(&self) -> Vec<(StoredRecord, EndUser)> {
        let owners = lock(&self.conversation_users);
        lock(&self.messages)
            .values()
            .filter_map(|stored| {
                let owner = owners.get(&stored.record.conversation_id).cloned()?;
                Some((stored.clone(), owner))
            })
            .collect()
    }

    pub fn config(&self) -> SimConfig {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_config(&self, config: SimConfig) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
    }

    fn counter(&self, endpoint: Endpoint) -> &AtomicU64 {
        // ALL lists every variant in declaration order.
        &self.counts[endpoint as usize]
    }

    fn hit(&self, endpoint: Endpoint) {
        self.counter(endpoint).fetch_add(1, Ordering::SeqCst);
    }

    pub fn request_count(&self, name: &str) -> u64 {
        Endpoint::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .map_or(0, |e| self.counter(e).load(Ordering::SeqCst))
    }

    pub fn reset_counts(&self) {
        for count in &self.counts {
            count.store(0, Ordering::SeqCst);
        }
    }

    fn stats(&self) -> BTreeMap<&'static str, u64> {
        Endpoint::ALL
            .into_iter()
            .map(|e| (e.name(), self.counter(e).load(Ordering::SeqCst)))
            .collect()
    }
}

type AppState = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new()
        .route("/", get(|| async { pages::index() }))
        .route("/static/chat.js", get(|| async { pages::script() }))
        .route("/static/chat.css", get(|| async { pages::style() }))
        // Browsers ask for it; an empty answer keeps their consoles quiet.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }));
    for kind in AppKind::ALL {
        router = router.route(
            &format!("/{kind}/{{token}}"),
            get(
                move |State(s): AppState, Path(token): Path<String>| async move {
                    pages::share_page(kind, &token, &s.config())
                },
            ),
        );
    }
    for (path, kind) in [
        ("/api/chat-messages", ApiKind::Chat),
        ("/api/completion-messages", ApiKind::Completion),
        ("/api/workflows/run", ApiKind::Workflow),
    ] {
        router = router.route(
            path,
            post(move |State(s): AppState, headers: HeaderMap, body: Bytes| {
                streaming(s, kind, headers, body)
            }),
        );
    }
    router
        .route("/api/workflow/{run_id}/events", get(workflow_events))
        .route("/api/conversations/{id}/name", post(conversation_name))
        .route("/api/messages", get(messages))
        .route("/api/passport", get(passport))
        .route(
            "/api/messages/{id}/suggested-questions",
            get(suggested_questions),
        )
        .merge(console::routes())
        .route("/_sim/stats", get(stats))
        .route("/_sim/config", get(get_config).post(post_config))
        .route("/_sim/reset", post(reset))
        .fallback(|| async {
            dify_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "The requested URL was not found on the server.",
            )
        })
        .with_state(shared)
}

/// Dify's error body: `{"code", "message", "status"}`.
pub(crate) fn dify_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({"code": code, "message": message.into(), "status": status.as_u16()});
    (status, Json(body)).into_response()
}

pub(crate) fn invalid_param(message: impl Into<String>) -> Response {
    dify_error(StatusCode::BAD_REQUEST, "invalid_param", message)
}

fn event_stream(frames: &[String], config: &SimConfig) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        transport::body(transport::chunks(frames, config)),
    )
        .into_response()
}

/// Reads what a reply needs from a streaming request's JSON body; the error
/// is the message of a 400 answer.
fn ask_from(kind: ApiKind, body: &[u8]) -> Result<Ask, &'static str> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err("The request body must be a JSON object.");
    };
    let inputs = body.get("inputs").cloned().unwrap_or_else(|| json!({}));
    let (query, conversation_id) = match kind {
        ApiKind::Chat => {
            let Some(query) = body.get("query").and_then(Value::as_str) else {
                return Err("query is required");
            };
            let conversation_id = match body.get("conversation_id") {
                None | Some(Value::Null) => None,
                Some(Value::String(id)) => Some(id.clone()),
                Some(_) => return Err("conversation_id must be a string"),
            };
            (query.to_owned(), conversation_id)
        }
        // These apps take the user's text as an input variable.
        ApiKind::Completion | ApiKind::Workflow => {
            let query = inputs
                .get("query")
                .and_then(Value::as_str)
                .unwrap_or_default();
            (query.to_owned(), None)
        }
    };
    Ok(Ask {
        kind,
        query,
        conversation_id,
        inputs,
    })
}

#[derive(Debug, Deserialize)]
struct PassportQuery {
    user_id: Option<String>,
}

/// Dify's web-app passport: an access token for the app named by `X-App-Code`, for an end user whose
/// session id is the `user_id` the page read from `sys.user_id`, else a new one.
async fn passport(
    State(s): AppState,
    headers: HeaderMap,
    Query(query): Query<PassportQuery>,
) -> Response {
    s.hit(Endpoint::Passport);
    let Some(app) = headers
        .get("X-App-Code")
        .and_then(|code| code.to_str().ok())
        .filter(|code| !code.is_empty())
    else {
        return dify_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "X-App-Code header is missing.",
        );
    };
    let session_id = query
        .user_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let token = uuid::Uuid::new_v4().to_string();
    let user = EndUser {
        id: uuid::Uuid::new_v4().to_string(),
        app: app.to_owned(),
        session_id,
    };
    lock(&s.passports).insert_new(&token, user);
    Json(json!({ "access_token": token })).into_response()
}

/// The end user behind a request's `Authorization: Bearer` access token.
fn end_user(s: &Shared, headers: &HeaderMap) -> Option<EndUser> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    lock(&s.passports).get(token).cloned()
}

async fn streaming(s: Arc<Shared>, kind: ApiKind, headers: HeaderMap, body: Bytes) -> Response {
    s.hit(Endpoint::for_kind(kind));
    let ask = match ask_from(kind, &body) {
        Ok(ask) => ask,
        Err(message) => return invalid_param(message),
    };
    let config = s.config();
    if let Err(e) = config.validate() {
        return dify_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "sim_config_invalid",
            e.to_string(),
        );
    }
    if let Some((status, message)) = &config.http_error {
        tokio::time::sleep(Duration::from_millis(config.first_byte_delay_ms)).await;
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = status.canonical_reason().map_or_else(
            || "error".to_owned(),
            |r| r.to_ascii_lowercase().replace([' ', '-'], "_"),
        );
        return dify_error(status, &code, message.clone());
    }
    let reply = match build_reply(&config, &ask) {
        Ok(reply) => reply,
        Err(e) => {
            return dify_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "sim_config_invalid",
                e.to_string(),
            );
        }
    };
    let user = end_user(&s, &headers);
    if let Some(id) = &reply.conversation_id {
        lock(&s.conversations).insert_new(id, ask.query);
        if let Some(user) = &user {
            lock(&s.conversation_users).insert_new(id, user.clone());
        }
    }
    if let Some(id) = &reply.run_id {
        lock(&s.runs).insert_new(id, reply.frames.clone());
    }
    // Dify's records are filled in once the last frame is out; every frame but the first waits
    // frame_delay_ms.
    let streaming = config.first_byte_delay_ms.saturating_add(
        config
            .frame_delay_ms
            .saturating_mul(reply.frames.len().saturating_sub(1) as u64),
    );
    let filled_at = Instant::now() + Duration::from_millis(streaming);
    if let Some(record) = reply.record {
        let id = record.id.clone();
        lock(&s.messages).insert_new(&id, StoredRecord { record, filled_at });
    }
    if let Some(run) = reply.run {
        let id = run.id.clone();
        lock(&s.workflow_runs).insert_new(
            &id,
            StoredRun {
                run,
                user,
                filled_at,
            },
        );
    }
    event_stream(&reply.frames, &config)
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    conversation_id: Option<String>,
    limit: Option<usize>,
}

/// A conversation's newest messages, oldest first, as Dify's web app lists them.
async fn messages(State(s): AppState, Query(query): Query<MessagesQuery>) -> Response {
    s.hit(Endpoint::Messages);
    let Some(conversation_id) = query.conversation_id.filter(|id| !id.is_empty()) else {
        return invalid_param("conversation_id is required");
    };
    let limit = match console::id_page_limit(query.limit) {
        Ok(limit) => limit,
        Err(refused) => return refused.into_response(),
    };
    let now = Instant::now();
    let items: Vec<Value> = lock(&s.messages)
        .values()
        .filter(|stored| stored.record.conversation_id == conversation_id)
        .map(|stored| stored.item(now))
        .collect();
    if items.is_empty() {
        return dify_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Conversation Not Exists.",
        );
    }
    let start = items.len().saturating_sub(limit);
    Json(json!({ "limit": limit, "has_more": start > 0, "data": &items[start..] })).into_response()
}

/// Replays every frame of a run, like a reconnecting client sees them.
async fn workflow_events(State(s): AppState, Path(run_id): Path<String>) -> Response {
    s.hit(Endpoint::WorkflowEvents);
    let frames = lock(&s.runs).get(&run_id).cloned();
    match frames {
        Some(frames) => event_stream(&frames, &s.config()),
        None => dify_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("WorkflowRun not found, id={run_id}"),
        ),
    }
}

async fn conversation_name(State(s): AppState, Path(id): Path<String>, body: Bytes) -> Response {
    s.hit(Endpoint::ConversationName);
    let body = serde_json::from_slice::<Value>(&body).unwrap_or_default();
    let manual = body.get("name").and_then(Value::as_str).filter(|name| {
        !name.trim().is_empty() && body.get("auto_generate") != Some(&Value::Bool(true))
    });
    let name = match manual {
        Some(name) => name.trim().to_owned(),
        None => lock(&s.conversations)
            .get(&id)
            .map_or_else(|| "New conversation".to_owned(), |query| title(query)),
    };
    Json(json!({ "name": name })).into_response()
}

/// A short conversation title from its first query.
pub(crate) fn title(query: &str) -> String {
    const MAX_CHARS: usize = 24;
    let query = query.trim();
    match query.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &query[..cut]),
        None if query.is_empty() => "New conversation".to_owned(),
        None => query.to_owned(),
    }
}

async fn suggested_questions(State(s): AppState, Path(_message_id): Path<String>) -> Response {
    s.hit(Endpoint::SuggestedQuestions);
    if !s.config().suggested_questions {
        return dify_error(
            StatusCode::FORBIDDEN,
            "app_suggested_questions_after_answer_disabled",
            "Function Suggested questions after answer disabled.",
        );
    }
    Json(json!({
        "result": "success",
        "data": [
            "Can you explain that in more detail?",
            "Can you give me an example?",
            "What should I do next?",
        ],
    }))
    .into_response()
}

async fn stats(State(s): AppState) -> Json<BTreeMap<&'static str, u64>> {
    Json(s.stats())
}

async fn get_config(State(s): AppState) -> Json<SimConfig> {
    Json(s.config())
}

async fn post_config(State(s): AppState, body: Bytes) -> Response {
    let config = match serde_json::from_slice::<SimConfig>(&body) {
        Ok(config) => config,
        Err(e) => return invalid_param(e.to_string()),
    };
    if let Err(e) = config.validate() {
        return invalid_param(e.to_string());
    }
    s.set_config(config.clone());
    Json(config).into_response()
}

async fn reset(State(s): AppState) -> Json<Value> {
    s.reset_counts();
    Json(json!({ "result": "success" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_index_their_counters() {
        let shared = Shared::new(SimConfig::default());
        for (i, endpoint) in Endpoint::ALL.into_iter().enumerate() {
            assert_eq!(endpoint as usize, i);
            assert_eq!(ENDPOINTS[i], endpoint.name());
            shared.hit(endpoint);
        }
        assert!(ENDPOINTS.iter().all(|name| shared.request_count(name) == 1));
        assert_eq!(shared.request_count("nope"), 0);
    }

    #[test]
    fn recent_forgets_the_oldest() {
        let mut recent = Recent::new();
        for i in 0..=RECENT_CAP {
            recent.insert_new(&i.to_string(), i);
        }
        recent.insert_new("1", 99);
        assert_eq!(recent.get("0"), None);
        assert_eq!(recent.get("1"), Some(&1));
        assert_eq!(recent.map.len(), RECENT_CAP);
    }

    #[test]
    fn titles_are_short() {
        assert_eq!(title("  hello "), "hello");
        assert_eq!(title(&"你".repeat(30)), format!("{}…", "你".repeat(24)));
        assert_eq!(title(""), "New conversation");
    }
}
