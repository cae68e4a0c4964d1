//! The OpenAPI document, generated from the handlers, and the router that serves it beside the API.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tokendesk_sync_proto::ErrorBody;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, Json, json_refusals};
use crate::state::AppState;
use crate::{MAX_BODY_BYTES, admin, auth, device};

#[derive(OpenApi)]
#[openapi(
    info(title = "tokendesk-server", description = "The org server of TokenDesk: the authority for users, prices, balances and grants, and the sync peer of every desktop."),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags((name = "device", description = "Enrollment, config pull, entry push, lease (device token `tdd_…`)"),
         (name = "admin", description = "The org's administration (admin session token `tds_…`)"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness and database reachability.
#[utoipa::path(get, path = "/v1/health", tag = "device", responses((status = 200, body = Health), (status = 500, body = ErrorBody)))]
pub async fn health(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Json<Health>, ApiError> {
    sqlx::query("SELECT 1").execute(&state.pool).await?;
    Ok(Json(Health { status: "ok" }))
}

/// Every route with its OpenAPI description.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .merge(auth::routes())
        .merge(device::routes())
        .merge(admin::routes())
}

/// The served document.
pub fn document() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

pub(crate) fn router(state: AppState) -> Router {
    let (router, document) = api().split_for_parts();
    let document = Arc::new(document);
    router
        .route(
            "/v1/openapi.json",
            get(move || async move { axum::Json(document.as_ref().clone()) }),
        )
        .fallback(|| async { ApiError::not_found("route", "with this path") })
        .with_state(state)
        // tower-http's limit answers over-long bodies itself (plain text, made JSON below).
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(json_refusals))
        .layer(TraceLayer::new_for_http())
}
