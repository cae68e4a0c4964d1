//! tokendesk-server: the org's authority for users, prices, balances and grants, and the sync peer of
//! every desktop. axum over PostgreSQL; every handler is stateless so replicas can run side by side.

pub mod admin;
pub mod auth;
pub mod bench;
pub mod budgets;
pub mod config;
pub mod device;
pub mod dify;
pub mod entries;
pub mod error;
pub mod openapi;
pub mod orgs;
pub mod pricing;
pub mod state;

use std::net::SocketAddr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use state::AppState;

/// The largest request body accepted: a full push batch is well under 1 MiB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// A pool sized for one server process: enough connections that concurrent pushes share WAL flushes.
pub async fn connect(database_url: &str) -> anyhow::Result<PgPool> {
    connect_with(database_url.parse()?).await
}

pub async fn connect_with(options: PgConnectOptions) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(32)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?;
    Ok(pool)
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("../../migrations/server").run(pool).await?;
    Ok(())
}

/// The whole API, `/v1/openapi.json` and `/v1/health` included.
pub fn app(state: AppState) -> axum::Router {
    openapi::router(state)
}

pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
