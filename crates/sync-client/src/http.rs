//! JSON over HTTP with the server's `{code, message}` refusals kept as they are.

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokendesk_ledger::LedgerError;
use tokendesk_sync_proto::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or the connection broke: retry later.
    #[error("cannot reach the org server: {0}")]
    Unreachable(String),
    /// The server refused the request with its `{code, message}`.
    #[error("the org server refused: {message} ({code})")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the org server sent an answer this version cannot read: {0}")]
    Protocol(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    pub fn code(&self) -> &str {
        match self {
            Self::Unreachable(_) => "unreachable",
            Self::Refused { code, .. } => code,
            Self::Protocol(_) => "protocol",
            Self::Ledger(error) => error.code(),
            Self::Usage(_) => "usage",
        }
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable(_) => true,
            Self::Refused { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// A connection to one server, with an optional bearer token.
#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    server: String,
    token: Option<String>,
}

impl Http {
    pub(crate) fn new(server: &str, token: Option<String>) -> Result<Self> {
        let server = normalized_server(server)?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| ClientError::Unreachable(error.to_string()))?;
        Ok(Self {
            client,
            server,
            token,
        })
    }

    pub(crate) fn server(&self) -> &str {
        &self.server
    }

    fn request(&self, method: Method, path: &str, timeout: Duration) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, format!("{}{path}", self.server))
            .timeout(timeout);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub(crate) async fn json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<T> {
        let mut request = self.request(method, path, timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = send(request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ClientError::Unreachable(error.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|error| ClientError::Protocol(error.to_string()))
    }

    pub(crate) async fn text(&self, path: &str, timeout: Duration) -> Result<String> {
        send(self.request(Method::GET, path, timeout))
            .await?
            .text()
            .await
            .map_err(|error| ClientError::Unreachable(error.to_string()))
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
    let response = request
        .send()
        .await
        .map_err(|error| ClientError::Unreachable(error.to_string()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let refusal: ErrorBody = serde_json::from_str(&body).unwrap_or_else(|_| ErrorBody {
        code: status
            .canonical_reason()
            .unwrap_or("error")
            .to_lowercase()
            .replace(' ', "_"),
        message: body.chars().take(300).collect(),
    });
    if status == StatusCode::BAD_GATEWAY || status == StatusCode::SERVICE_UNAVAILABLE {
        return Err(ClientError::Unreachable(refusal.message));
    }
    Err(ClientError::Refused {
        status: status.as_u16(),
        code: refusal.code,
        message: refusal.message,
    })
}

/// `https://host[:port][/prefix]` without a trailing slash; anything that is not http(s) is refused.
pub(crate) fn normalized_server(server: &str) -> Result<String> {
    let url = url::Url::parse(server.trim())
        .map_err(|_| ClientError::Usage(format!("{server:?} is not a server URL")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ClientError::Usage(format!(
            "{server:?} is not an http(s) server URL"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_normalized_and_checked() {
        assert_eq!(
            normalized_server("http://127.0.0.1:8780/").unwrap(),
            "http://127.0.0.1:8780"
        );
        assert_eq!(
            normalized_server(" https://td.example.com/org ").unwrap(),
            "https://td.example.com/org"
        );
        assert!(normalized_server("ftp://x").is_err());
        assert!(normalized_server("not a url").is_err());
    }
}
