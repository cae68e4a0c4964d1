//! What every server test binary shares: a server on a fresh database of the shared cluster, driven over
//! real HTTP, and the few admin and device steps most tests start with.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use reqwest::Method;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokendesk_server::dify::ReconcileSettings;
use tokendesk_server::state::AppState;
use tokendesk_sync_proto::admin::{EnrollmentCode, NewUser, Role, Session, UserInfo};
use tokendesk_sync_proto::device::{
    AppConfig, ConfigAnswer, ConfigSnapshot, EnrollAnswer, HeldItem, HoldReason, ItemBody,
    PushItem, Usage,
};
use tokendesk_sync_proto::money::{Price, Pricing, usd_for_tokens, usd_to_micros};
use tokendesk_test_support::Cluster;
use uuid::Uuid;

pub const ORG: &str = "acme";
pub const ADMIN: &str = "root";
pub const PASSWORD: &str = "correct horse battery";

/// An answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// The body of a 2xx answer as `T`; panics naming the answer otherwise.
    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {self:?}"
        );
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("unexpected body ({e}): {self:?}"))
    }

    /// Asserts a refusal: this status, a JSON `{code, message}` with this code and a non-empty message.
    /// Returns the message.
    #[track_caller]
    pub fn refused(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "status of {self:?}");
        assert!(
            self.content_type.starts_with("application/json"),
            "content type of {self:?}"
        );
        let body = self.json();
        assert_eq!(body["code"], code, "code of {self:?}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(!message.trim().is_empty(), "a message in {self:?}");
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(2),
            "exactly code and message: {self:?}"
        );
        message.to_owned()
    }
}

/// A device as the tests hold it.
#[derive(Debug, Clone)]
pub struct Device {
    pub id: Uuid,
    pub token: String,
    pub user: String,
}

pub struct Server {
    pub addr: SocketAddr,
    pub database_url: String,
    pub pool: PgPool,
    pub org_id: Uuid,
    /// The first admin's session.
    pub admin: String,
    pub http: reqwest::Client,
}

impl Server {
    /// A migrated database with the org `acme` and its first admin, a server on an ephemeral port, and
    /// that admin signed in.
    pub async fn start() -> Server {
        Self::start_reconciling(ReconcileSettings::default()).await
    }

    /// [`Server::start`] with the reconciler's settings.
    pub async fn start_reconciling(settings: ReconcileSettings) -> Server {
        let database_url = Cluster::shared().database();
        let pool = tokendesk_server::connect(&database_url)
            .await
            .expect("connect");
        tokendesk_server::migrate(&pool).await.expect("migrate");
        Self::serve(database_url, AppState::with_reconcile(pool, settings)).await
    }

    /// Serves an already migrated database, making the org and first admin if they are missing.
    pub async fn start_on(database_url: String, pool: PgPool) -> Server {
        Self::serve(database_url, AppState::new(pool)).await
    }

    async fn serve(database_url: String, state: AppState) -> Server {
        let pool = state.pool.clone();
        let org_id = tokendesk_server::orgs::ensure_org(&pool, ORG)
            .await
            .expect("org");
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM users WHERE org_id = $1 AND name = $2)",
        )
        .bind(org_id)
        .bind(ADMIN)
        .fetch_one(&pool)
        .await
        .expect("users");
        if !exists {
            create_admin(&pool, org_id, ADMIN, PASSWORD).await;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            if let Err(error) = tokendesk_server::serve(listener, state).await {
                panic!("server stopped: {error}");
            }
        });
        let http = reqwest::Client::new();
        let mut server = Server {
            addr,
            database_url,
            pool,
            org_id,
            admin: String::new(),
            http,
        };
        server.admin = server
            .login(None, ADMIN, PASSWORD)
            .await
            .ok::<Session>()
            .token;
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// One request: a JSON body when given, a bearer token when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let bytes = body.map(|body| (serde_json::to_vec(body).expect("json"), "application/json"));
        self.call_raw(method, path, token, bytes).await
    }

    /// One request with a raw body and content type.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(Vec<u8>, &str)>,
    ) -> Answer {
        send(&self.http, method, &self.url(path), token, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// As the first admin.
    pub async fn admin_get(&self, path: &str) -> Answer {
        self.get(path, &self.admin).await
    }

    /// As the first admin.
    pub async fn admin_send(&self, method: Method, path: &str, body: Value) -> Answer {
        self.call(method, path, Some(&self.admin), Some(&body))
            .await
    }

    pub async fn login(&self, org: Option<&str>, name: &str, password: &str) -> Answer {
        let body = json!({ "org": org, "name": name, "password": password });
        self.call(Method::POST, "/v1/admin/login", None, Some(&body))
            .await
    }

    pub async fn add_staff(&self, name: &str) -> UserInfo {
        let body =
            json!({ "name": name, "display_name": format!("{name} (staff)"), "role": "staff" });
        self.admin_send(Method::POST, "/v1/admin/users", body)
            .await
            .ok()
    }

    /// Asks for an enrollment code of `user` with the admin session `token`.
    pub async fn request_enrollment_code(&self, token: &str, user: &str) -> Answer {
        let path = format!("/v1/admin/users/{user}/enrollment-codes");
        self.call(Method::POST, &path, Some(token), None).await
    }

    pub async fn enrollment_code(&self, user: &str) -> String {
        self.request_enrollment_code(&self.admin, user)
            .await
            .ok::<EnrollmentCode>()
            .code
    }

    pub async fn enroll_with(&self, code: &str, device_name: &str) -> Answer {
        let body = json!({ "code": code, "device_name": device_name, "device_clock": Utc::now() });
        self.call(Method::POST, "/v1/enroll", None, Some(&body))
            .await
    }

    /// A new device of `user`, through a fresh enrollment code.
    pub async fn enroll(&self, user: &str, device_name: &str) -> Device {
        let code = self.enrollment_code(user).await;
        let answer: EnrollAnswer = self.enroll_with(&code, device_name).await.ok();
        assert_eq!(answer.user.name, user);
        Device {
            id: answer.device_id,
            token: answer.device_token,
            user: user.to_owned(),
        }
    }

    /// Grants `credits` (a decimal string) to `user`.
    pub async fn grant(&self, user: &str, credits: &str) -> Value {
        let body = json!({ "kind": "grant", "amount": credits, "reason": "test grant" });
        self.admin_send(
            Method::POST,
            &format!("/v1/admin/users/{user}/entries"),
            body,
        )
        .await
        .ok()
    }

    /// Creates or reprices a model; prices in USD per 1K tokens.
    pub async fn set_model(&self, name: &str, input: &str, output: &str) {
        let body =
            json!({ "input_usd_per_1k": input, "output_usd_per_1k": output, "reason": "test" });
        let _: Value = self
            .admin_send(Method::PUT, &format!("/v1/admin/models/{name}"), body)
            .await
            .ok();
    }

    /// A Dify app priced by `model`.
    pub async fn add_app(&self, name: &str, model: &str) -> AppConfig {
        let body = json!({
            "name": name,
            "share_url": format!("https://dify.example/chat/{}", Uuid::new_v4().simple()),
            "pricing": "model",
            "model": model,
        });
        self.admin_send(Method::POST, "/v1/admin/apps", body)
            .await
            .ok()
    }

    pub async fn set_policy(&self, key: &str, value: &str) {
        let body = json!({ "key": key, "value": value });
        let _: Value = self
            .admin_send(Method::PUT, "/v1/admin/policy", body)
            .await
            .ok();
    }

    /// The current config, as a device pulls it.
    pub async fn snapshot(&self, device: &Device) -> ConfigSnapshot {
        match self
            .get("/v1/config?since=0", &device.token)
            .await
            .ok::<ConfigAnswer>()
        {
            ConfigAnswer::Changed { snapshot } => *snapshot,
            other => panic!("expected a snapshot, got {other:?}"),
        }
    }

    pub async fn push(&self, device: &Device, items: &[PushItem]) -> Answer {
        self.call(
            Method::POST,
            "/v1/sync/push",
            Some(&device.token),
            Some(&push_json(items)),
        )
        .await
    }

    pub async fn balance(&self, user: &str) -> i64 {
        let answer = self
            .admin_get(&format!("/v1/admin/users/{user}/balance"))
            .await;
        answer.ok::<Value>()["balance_micros"]
            .as_i64()
            .expect("balance_micros")
    }

    /// One number from the database, e.g. `SELECT count(*) FROM entries`.
    pub async fn count(&self, sql: &str) -> i64 {
        // Some are built with format!, from values the tests themselves chose.
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// What a refused request must leave alone: rows of entries, held events, charge keys and leases,
    /// every device's last_seq, every balance, and the config version.
    pub async fn fingerprint(&self) -> Value {
        let row: (Value,) = sqlx::query_as(
            "SELECT json_build_object(
                'entries', (SELECT count(*) FROM entries),
                'held', (SELECT count(*) FROM held_events),
                'charge_keys', (SELECT count(*) FROM charge_keys),
                'leases', (SELECT json_agg(l ORDER BY device_id) FROM (SELECT device_id, amount_micros, base_seq FROM leases) l),
                'devices', (SELECT json_agg(d ORDER BY id) FROM (SELECT id, last_seq, revoked FROM devices) d),
                'users', (SELECT json_agg(u ORDER BY name) FROM (SELECT name, balance_micros FROM users) u),
                'config', (SELECT json_agg(o ORDER BY name) FROM (SELECT name, config_version FROM orgs) o),
                'codes', (SELECT count(*) FROM enrollment_codes WHERE used_at IS NOT NULL),
                'redemption_codes', (SELECT count(*) FROM redemption_codes),
                'budgets', (SELECT json_agg(b ORDER BY name) FROM
                    (SELECT name, daily_budget_micros, monthly_budget_micros FROM users) b))",
        )
        .fetch_one(&self.pool)
        .await
        .expect("fingerprint");
        row.0
    }
}

pub async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<(Vec<u8>, &str)>,
) -> reqwest::Result<Answer> {
    let mut request = http.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some((bytes, content_type)) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await?;
    Ok(Answer {
        status,
        content_type,
        text,
    })
}

/// The body of a push (or, with no items, a lease), stamped with the device's clock now.
pub fn push_json(items: &[PushItem]) -> Value {
    json!({ "device_clock": Utc::now(), "items": items })
}

/// An admin made the way `tokendesk-server admin create` makes one.
pub async fn create_admin(pool: &PgPool, org_id: Uuid, name: &str, password: &str) -> UserInfo {
    let mut tx = pool.begin().await.expect("begin");
    let new = NewUser {
        name: name.into(),
        display_name: None,
        role: Role::Admin,
        password: Some(password.into()),
    };
    let user = tokendesk_server::admin::users::create_user(&mut tx, org_id, "cli", &new)
        .await
        .expect("create admin");
    tx.commit().await.expect("commit");
    user
}

/// What a device computes for a reply priced by its app's model, in micro-credits (positive).
pub fn cost(snapshot: &ConfigSnapshot, app: &AppConfig, prompt: u64, completion: u64) -> i64 {
    let model = app
        .model
        .as_deref()
        .and_then(|name| snapshot.model(name))
        .expect("the app's model");
    let usd = usd_for_tokens(prompt, completion, &model.price).expect("usd");
    usd_to_micros(usd, snapshot.credits_per_usd).expect("micros")
}

/// A charge priced honestly with `snapshot`'s price of the app's model.
pub fn charge(
    snapshot: &ConfigSnapshot,
    app: &AppConfig,
    seq: i64,
    message_id: &str,
    prompt: u64,
    completion: u64,
) -> PushItem {
    let model = app
        .model
        .as_deref()
        .and_then(|name| snapshot.model(name))
        .expect("the app's model");
    charge_at(
        snapshot,
        app,
        model.price,
        seq,
        message_id,
        prompt,
        completion,
        Utc::now(),
    )
}

/// A charge priced with `price` instead of the server's (a tampered local price list when lower).
#[allow(clippy::too_many_arguments)]
pub fn charge_at(
    snapshot: &ConfigSnapshot,
    app: &AppConfig,
    price: Price,
    seq: i64,
    message_id: &str,
    prompt: u64,
    completion: u64,
    occurred_at: DateTime<Utc>,
) -> PushItem {
    let usd_cost = usd_for_tokens(prompt, completion, &price).expect("usd");
    let micros = usd_to_micros(usd_cost, snapshot.credits_per_usd).expect("micros");
    PushItem {
        id: Uuid::now_v7(),
        device_seq: seq,
        occurred_at,
        config_version: snapshot.version,
        body: ItemBody::Charge {
            amount_micros: -micros,
            usage: Usage {
                app_id: app.id,
                app_name: app.name.clone(),
                message_id: message_id.into(),
                conversation_id: Some("c1".into()),
                pricing: Pricing::Model,
                model: app.model.clone(),
                prompt_tokens: prompt,
                completion_tokens: completion,
                price: Some(price),
                credits_per_usd: snapshot.credits_per_usd,
                usd_cost,
                // Dify reports its price too; input.rs pushes a charge without one.
                dify_total_price: Some(usd_cost),
                dify_currency: Some("USD".into()),
                estimated: false,
                side_call: None,
            },
        },
    }
}

/// An event the device held instead of charging.
pub fn held(
    snapshot: &ConfigSnapshot,
    app: &AppConfig,
    seq: i64,
    message_id: &str,
    reason: HoldReason,
) -> PushItem {
    PushItem {
        id: Uuid::now_v7(),
        device_seq: seq,
        occurred_at: Utc::now(),
        config_version: snapshot.version,
        body: ItemBody::Held(HeldItem {
            reason,
            detail: "held by the test".into(),
            app_id: app.id,
            message_id: message_id.into(),
            prompt_tokens: 1000,
            completion_tokens: 500,
            estimated: false,
            dify_total_price: Some("0.002".parse().expect("decimal")),
            dify_currency: Some("USD".into()),
            amount_micros: Some(cost(snapshot, app, 1000, 500)),
            payload: r#"{"event":"message_end"}"#.into(),
            side_call: None,
        }),
    }
}

pub fn price(input: &str, output: &str) -> Price {
    Price {
        input_per_1k: input.parse::<Decimal>().expect("price"),
        output_per_1k: output.parse().expect("price"),
    }
}

/// The usual start: a model at 0.001/0.002 USD per 1K tokens, an app bound to it, a staff user with
/// 1000 credits and one device of theirs; the device's view of the config.
pub struct World {
    pub server: Server,
    pub app: AppConfig,
    pub device: Device,
    pub snapshot: ConfigSnapshot,
}

impl World {
    pub async fn new() -> World {
        let server = Server::start().await;
        server.set_model("gpt-test", "0.001", "0.002").await;
        let app = server.add_app("Chat", "gpt-test").await;
        server.add_staff("alice").await;
        server.grant("alice", "1000").await;
        let device = server.enroll("alice", "laptop").await;
        let snapshot = server.snapshot(&device).await;
        World {
            server,
            app,
            device,
            snapshot,
        }
    }
}
