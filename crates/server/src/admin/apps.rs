//! The Dify apps devices meter: their share URLs and how their replies are priced.

use axum::extract::{Path, State};
use serde_json::json;
use sqlx::PgConnection;
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{NewApp, UpdateApp};
use tokendesk_sync_proto::device::AppConfig;
use tokendesk_sync_proto::money::Pricing;
use url::Url;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{check_name, decoded, is_unique_violation, lock_config, parse_id};
use crate::auth::AdminSession;
use crate::config;
use crate::error::{ApiError, ApiResult, Json};
use crate::state::AppState;

/// The path segments a Dify share URL names its kind of app with; the app's token follows.
const SHARE_KINDS: [&str; 4] = ["chat", "chatbot", "completion", "workflow"];
const MAX_URL_CHARS: usize = 2000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_apps, add_app))
        .routes(routes!(update_app))
}

/// A Dify share URL as stored: http(s), a host, no credentials, no fragment, and a path ending in
/// `/chat/TOKEN`, `/chatbot/TOKEN`, `/completion/TOKEN` or `/workflow/TOKEN`.
fn check_share_url(text: &str) -> ApiResult<String> {
    let text = text.trim();
    let bad = |why: &str| {
        ApiError::bad(
            "bad_share_url",
            format!(
                "{text:?} is not a Dify share URL ({why}); expected e.g. https://dify.example.com/chat/AbC123"
            ),
        )
    };
    if text.chars().count() > MAX_URL_CHARS {
        return Err(bad("too long"));
    }
    let mut url = Url::parse(text).map_err(|_| bad("not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad("not http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it holds credentials"));
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|segments| segments.filter(|segment| !segment.is_empty()).collect())
        .unwrap_or_default();
    let token_ok = |token: &str| {
        token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    match segments.as_slice() {
        [.., kind, token] if SHARE_KINDS.contains(kind) && token_ok(token) => {}
        _ => {
            return Err(bad(
                "no /chat/, /chatbot/, /completion/ or /workflow/ path with a token",
            ));
        }
    }
    url.set_fragment(None);
    Ok(url.to_string())
}

/// The app's model binding: `model` pricing needs a model, Dify's own price takes none.
fn binding(pricing: Pricing, model: Option<&str>) -> ApiResult<Option<&str>> {
    match (pricing, model) {
        (Pricing::Model, None) => Err(ApiError::bad(
            "model_required",
            "an app priced by model names the model it is bound to",
        )),
        (Pricing::DifyPrice, Some(_)) => Err(ApiError::bad(
            "model_not_allowed",
            "an app priced by Dify's reported price is bound to no model",
        )),
        (_, model) => Ok(model),
    }
}

/// The model's own name for a name or exact alias (never a prefix), or 404.
async fn resolve_model(conn: &mut PgConnection, org_id: Uuid, name: &str) -> ApiResult<String> {
    sqlx::query_scalar(
        "SELECT name FROM models WHERE org_id = $1 AND name = $2
         UNION ALL
         SELECT model FROM model_aliases WHERE org_id = $1 AND alias = $2
         LIMIT 1",
    )
    .bind(org_id)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| ApiError::not_found("model", name))
}

async fn bound_model(
    conn: &mut PgConnection,
    org_id: Uuid,
    pricing: Pricing,
    model: Option<&str>,
) -> ApiResult<Option<String>> {
    match binding(pricing, model)? {
        Some(name) => Ok(Some(resolve_model(conn, org_id, name).await?)),
        None => Ok(None),
    }
}

type AppRow = (Uuid, String, String, String, Option<String>, bool);

fn app_config(
    (id, name, share_url, pricing, model, enabled): AppRow,
) -> Result<AppConfig, sqlx::Error> {
    let parsed = decoded(Pricing::parse(&pricing), "pricing", &pricing)?;
    Ok(AppConfig {
        id,
        name,
        share_url,
        pricing: parsed,
        model,
        enabled,
    })
}

const APP_COLUMNS: &str =
    "SELECT id, name, share_url, pricing, model, enabled FROM dify_apps WHERE org_id = $1";

async fn app(conn: &mut PgConnection, org_id: Uuid, id: Uuid, lock: bool) -> ApiResult<AppConfig> {
    let sql = format!(
        "{APP_COLUMNS} AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: AppRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| ApiError::not_found("app", id))?;
    Ok(app_config(row)?)
}

/// Every app of the org, oldest first, as admins list them and config snapshots carry them.
pub(crate) async fn all_apps(conn: &mut PgConnection, org_id: Uuid) -> ApiResult<Vec<AppConfig>> {
    let rows: Vec<AppRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{APP_COLUMNS} ORDER BY created_at, id"
    )))
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(app_config).collect::<Result<_, _>>()?)
}

/// Writes the app's row; a share URL another app has is refused.
async fn store(
    conn: &mut PgConnection,
    org_id: Uuid,
    app: &AppConfig,
    insert: bool,
) -> ApiResult<()> {
    let sql = if insert {
        "INSERT INTO dify_apps (org_id, id, name, share_url, pricing, model, enabled) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    } else {
        "UPDATE dify_apps SET name = $3, share_url = $4, pricing = $5, model = $6, enabled = $7
          WHERE org_id = $1 AND id = $2"
    };
    let stored = sqlx::query(sql)
        .bind(org_id)
        .bind(app.id)
        .bind(&app.name)
        .bind(&app.share_url)
        .bind(app.pricing.as_str())
        .bind(&app.model)
        .bind(app.enabled)
        .execute(&mut *conn)
        .await;
    match stored {
        Err(error) if is_unique_violation(&error) => Err(ApiError::conflict(
            "exists",
            format!("another app has the share URL {}", app.share_url),
        )),
        other => other.map(drop).map_err(ApiError::from),
    }
}

/// Every app, oldest first.
#[utoipa::path(
    get,
    path = "/v1/admin/apps",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The apps", body = Vec<AppConfig>),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_apps(
    session: AdminSession,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<AppConfig>>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(all_apps(&mut conn, session.org_id).await?))
}

/// Adds an app by its share URL. An app priced by `model` names an existing model (its name or an exact
/// alias; the model's own name is stored).
#[utoipa::path(
    post,
    path = "/v1/admin/apps",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewApp,
    responses(
        (status = 200, description = "The new app", body = AppConfig),
        (status = 400, description = "`bad_name`, `bad_share_url`, `model_required` or `model_not_allowed`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 409, description = "`exists`: another app has this share URL", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn add_app(
    session: AdminSession,
    State(state): State<AppState>,
    Json(new): Json<NewApp>,
) -> ApiResult<Json<AppConfig>> {
    let name = check_name("the app's name", &new.name)?;
    let share_url = check_share_url(&new.share_url)?;
    binding(new.pricing, new.model.as_deref())?;
    let mut tx = state.pool.begin().await?;
    lock_config(&mut tx, session.org_id).await?;
    let model = bound_model(&mut tx, session.org_id, new.pricing, new.model.as_deref()).await?;
    let app = AppConfig {
        id: Uuid::now_v7(),
        name,
        share_url,
        pricing: new.pricing,
        model,
        enabled: true,
    };
    store(&mut tx, session.org_id, &app, true).await?;
    let version = config::bump(&mut tx, session.org_id).await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "app.add",
        json!({
            "id": app.id,
            "name": app.name,
            "share_url": app.share_url,
            "pricing": app.pricing.as_str(),
            "model": app.model,
            "config_version": version,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(app))
}

/// Changes an app's name, share URL, pricing, model or enabled flag. Switching to Dify's price drops the
/// bound model; switching to `model` needs one.
#[utoipa::path(
    patch,
    path = "/v1/admin/apps/{id}",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The app's id")),
    request_body = UpdateApp,
    responses(
        (status = 200, description = "The app as it now is", body = AppConfig),
        (status = 400, description = "`bad_id`, `bad_name`, `bad_share_url`, `model_required` or `model_not_allowed`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such app or model", body = ErrorBody),
        (status = 409, description = "`exists`: another app has this share URL", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn update_app(
    session: AdminSession,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(update): Json<UpdateApp>,
) -> ApiResult<Json<AppConfig>> {
    let id = parse_id("app", &id)?;
    let name = update
        .name
        .as_deref()
        .map(|name| check_name("the app's name", name))
        .transpose()?;
    let share_url = update
        .share_url
        .as_deref()
        .map(check_share_url)
        .transpose()?;
    let mut tx = state.pool.begin().await?;
    lock_config(&mut tx, session.org_id).await?;
    let current = app(&mut tx, session.org_id, id, true).await?;
    let pricing = update.pricing.unwrap_or(current.pricing);
    // A model given names the new binding; otherwise a `model` app keeps its own.
    let model = match (pricing, &update.model) {
        (_, Some(model)) => Some(model.as_str()),
        (Pricing::Model, None) => current.model.as_deref(),
        (Pricing::DifyPrice, None) => None,
    };
    let model = bound_model(&mut tx, session.org_id, pricing, model).await?;
    let app = AppConfig {
        id,
        name: name.unwrap_or(current.name),
        share_url: share_url.unwrap_or(current.share_url),
        pricing,
        model,
        enabled: update.enabled.unwrap_or(current.enabled),
    };
    store(&mut tx, session.org_id, &app, false).await?;
    let version = config::bump(&mut tx, session.org_id).await?;
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "app.update",
        json!({
            "id": app.id,
            "set": update,
            "name": app.name,
            "share_url": app.share_url,
            "pricing": app.pricing.as_str(),
            "model": app.model,
            "enabled": app.enabled,
            "config_version": version,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(app))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_urls_name_a_kind_and_a_token() {
        assert_eq!(
            check_share_url(" https://udify.app/chat/AbC123 ").unwrap(),
            "https://udify.app/chat/AbC123"
        );
        assert_eq!(
            check_share_url("http://127.0.0.1:5001/dify/workflow/x_y-z/#top").unwrap(),
            "http://127.0.0.1:5001/dify/workflow/x_y-z/"
        );
        for kind in SHARE_KINDS {
            assert!(
                check_share_url(&format!("https://d.example/{kind}/T0k")).is_ok(),
                "{kind}"
            );
        }
        for bad in [
            "",
            "udify.app/chat/AbC",
            "ftp://udify.app/chat/AbC",
            "https://udify.app/",
            "https://udify.app/chat",
            "https://udify.app/chat/",
            "https://udify.app/agent/AbC",
            "https://udify.app/chat/AbC/extra",
            "https://udify.app/chat/a%20b",
            "https://user:pw@udify.app/chat/AbC",
            "javascript:alert(1)//chat/x",
        ] {
            let error = check_share_url(bad).expect_err(bad);
            assert_eq!(error.code(), "bad_share_url", "{bad}");
        }
    }

    #[test]
    fn model_pricing_needs_a_model_and_dify_pricing_takes_none() {
        assert_eq!(
            binding(Pricing::Model, Some("gpt-4o")).unwrap(),
            Some("gpt-4o")
        );
        assert_eq!(binding(Pricing::DifyPrice, None).unwrap(), None);
        assert_eq!(
            binding(Pricing::Model, None).expect_err("none").code(),
            "model_required"
        );
        assert_eq!(
            binding(Pricing::DifyPrice, Some("gpt-4o"))
                .expect_err("some")
                .code(),
            "model_not_allowed"
        );
    }
}
