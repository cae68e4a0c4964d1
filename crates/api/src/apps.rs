//! Dify apps: add, edit, switch on and off, and test whether their share page answers.

use serde::Serialize;
use std::time::{Duration, Instant};
use tokendesk_ledger::LedgerError;
use tokendesk_ledger::apps::{AppBinding, DifyApp};

use crate::{Api, ApiResult};

/// A model name binds to that model; none (or a blank one) to Dify's reported price.
fn app_binding(model: Option<String>) -> AppBinding {
    model
        .filter(|model| !model.trim().is_empty())
        .map_or(AppBinding::DifyPrice, AppBinding::Model)
}

impl Api<'_> {
    /// Adds an app priced by `model`, or by Dify's reported price when it is `None`.
    pub fn add_app(
        &mut self,
        name: &str,
        share_url: &str,
        model: Option<String>,
    ) -> ApiResult<DifyApp> {
        let (ledger, _) = self.as_admin()?;
        Ok(ledger.add_app(name, share_url, &app_binding(model), false)?)
    }

    /// Renames an app, moves it to another share URL, or rebinds it.
    pub fn update_app(
        &mut self,
        id: i64,
        name: &str,
        share_url: &str,
        model: Option<String>,
    ) -> ApiResult<DifyApp> {
        let (ledger, _) = self.as_admin()?;
        Ok(ledger.update_app(id, name, share_url, &app_binding(model))?)
    }

    pub fn set_app_enabled(&mut self, id: i64, enabled: bool) -> ApiResult<DifyApp> {
        let (ledger, _) = self.as_admin()?;
        Ok(ledger.set_app_enabled(id, enabled)?)
    }

    /// The share URL of the app an admin wants to test with [`test_connection`], which runs without the
    /// ledger so that no lock is held across the request.
    pub fn app_to_test(&mut self, id: i64) -> ApiResult<String> {
        let (ledger, _) = self.as_admin()?;
        Ok(ledger.app(id)?.share_url)
    }
}

/// What loading an app's share page once gave.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ConnectionTest {
    pub ok: bool,
    /// The HTTP status; none when no answer came.
    pub status: Option<u16>,
    pub message: String,
}

/// Loads a share page once (10 seconds at most) and reports what came back.
pub async fn test_connection(share_url: &str) -> ApiResult<ConnectionTest> {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|err| LedgerError::Invalid(format!("no HTTP client: {err}")))?;
    Ok(match client.get(share_url).send().await {
        Ok(response) => ConnectionTest {
            ok: response.status().is_success(),
            status: Some(response.status().as_u16()),
            message: format!(
                "HTTP {} in {} ms",
                response.status(),
                started.elapsed().as_millis()
            ),
        },
        Err(error) => ConnectionTest {
            ok: false,
            status: None,
            message: error.to_string(),
        },
    })
}
