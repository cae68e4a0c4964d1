//! A client of Dify's console API (`<console>/console/api`), as Dify 1.9–1.14 serve it:
//! - signed in as an account (`POST login`, the password base64-encoded since about 1.11, plain before),
//!   sending the
//!   `access_token` and `csrf_token` cookies and an `X-CSRF-Token` header on every call, GETs included,
//!   and renewing with `POST refresh-token` on a 401 (signing in again when that is refused too);
//! - or with the admin API key (`ADMIN_API_KEY_ENABLE=true`): `Authorization: Bearer` and `X-WORKSPACE-ID`,
//!   with no session cookie.
//!
//! Secrets stay in [`SecretString`]s, so no `Debug` or log line shows them.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use url::Url;

const CSRF_HEADER: &str = "X-CSRF-Token";
const WORKSPACE_HEADER: &str = "X-WORKSPACE-ID";
/// The session cookies the console sets; on https each carries the `__Host-` prefix.
const SESSION_COOKIES: [&str; 3] = ["access_token", "refresh_token", "csrf_token"];
/// Flask's answer to a path no route serves: how a Dify without an endpoint says so.
const NO_ROUTE: &str = "The requested URL was not found on the server";
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("Dify refused the sign-in: {0}")]
    SignIn(String),
    #[error("Dify has no {0} endpoint (HTTP 404)")]
    Missing(&'static str),
    #[error("Dify answered {endpoint} with HTTP {status}: {message}")]
    Refused {
        endpoint: &'static str,
        status: u16,
        message: String,
    },
    #[error("cannot reach Dify's {endpoint}: {message}")]
    Unreachable {
        endpoint: &'static str,
        message: String,
    },
    #[error("Dify's answer to {endpoint} is not as expected: {message}")]
    Shape {
        endpoint: &'static str,
        message: String,
    },
    #[error("{0} is not a console URL")]
    BadUrl(String),
}

impl ConsoleError {
    /// Whether the answer was a 404 of the record asked for (not of the endpoint).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Refused { status: 404, .. })
    }
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;

pub enum Credentials {
    Password {
        email: String,
        password: SecretString,
    },
    AdminApiKey {
        key: SecretString,
        workspace_id: String,
    },
}

/// A signed-in session: the cookies as Dify named them (prefixed or not).
#[derive(Default)]
struct Session {
    cookies: Vec<(String, SecretString)>,
}

impl Session {
    fn cookie(&self, name: &str) -> Option<&SecretString> {
        self.cookies
            .iter()
            .find(|(cookie, _)| cookie.trim_start_matches("__Host-") == name)
            .map(|(_, value)| value)
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={}", value.expose_secret()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub struct Console {
    http: reqwest::Client,
    api: Url,
    credentials: Credentials,
    session: Option<Session>,
    /// The console took the password plain (Dify before 1.11).
    plain_password: bool,
}

impl Console {
    /// A client of the console at `console_url` (e.g. `https://dify.example.com`); signs in on first use.
    pub fn new(console_url: &str, credentials: Credentials) -> ConsoleResult<Console> {
        let api = api_base(console_url)?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| ConsoleError::Unreachable {
                endpoint: "console",
                message: e.to_string(),
            })?;
        Ok(Console {
            http,
            api,
            credentials,
            session: None,
            plain_password: false,
        })
    }

    /// `GET {path}` with `query`; `endpoint` names it in errors (e.g. `apps/{app}/chat-messages`).
    pub async fn get<T: DeserializeOwned>(
        &mut self,
        endpoint: &'static str,
        path: &str,
        query: &[(&str, String)],
    ) -> ConsoleResult<T> {
        let url = self.url(endpoint, path)?;
        let mut renewed = false;
        loop {
            if self.session.is_none() && matches!(self.credentials, Credentials::Password { .. }) {
                self.sign_in().await?;
                renewed = true;
            }
            let mut request = self.http.get(url.clone()).query(query);
            request = match (&self.credentials, &self.session) {
                (Credentials::AdminApiKey { key, workspace_id }, _) => request
                    .bearer_auth(key.expose_secret())
                    .header(WORKSPACE_HEADER, workspace_id),
                (Credentials::Password { .. }, Some(session)) => {
                    let csrf = session.cookie("csrf_token").map(|v| v.expose_secret());
                    request
                        .header(reqwest::header::COOKIE, session.header())
                        .header(CSRF_HEADER, csrf.unwrap_or_default())
                }
                (Credentials::Password { .. }, None) => request,
            };
            let response = send(endpoint, request).await?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED
                && !renewed
                && matches!(self.credentials, Credentials::Password { .. })
            {
                // The access token expired: renew it, or sign in again if the refresh token did too.
                renewed = true;
                if !self.refresh().await {
                    self.session = None;
                }
                continue;
            }
            let body = read(endpoint, response).await?;
            return parse(endpoint, status, &body);
        }
    }

    /// Signs in, or says why Dify refused. The password goes base64-encoded first (Dify ≥ 1.11); when
    /// that is refused it goes plain once (older Dify), and the way that worked is kept.
    pub async fn sign_in(&mut self) -> ConsoleResult<()> {
        let Credentials::Password { email, password } = &self.credentials else {
            return Ok(());
        };
        let url = self.url("login", "login")?;
        let encoded = STANDARD.encode(password.expose_secret());
        let (first, second) = if self.plain_password {
            (password.expose_secret(), encoded.as_str())
        } else {
            (encoded.as_str(), password.expose_secret())
        };
        let (session, message) = self.login(&url, email, first).await?;
        if let Some(session) = session {
            self.session = Some(session);
            return Ok(());
        }
        if let (Some(session), _) = self.login(&url, email, second).await? {
            self.plain_password = !self.plain_password;
            self.session = Some(session);
            return Ok(());
        }
        Err(ConsoleError::SignIn(message))
    }

    /// One login attempt: the session, or Dify's message.
    async fn login(
        &self,
        url: &Url,
        email: &str,
        password: &str,
    ) -> ConsoleResult<(Option<Session>, String)> {
        let request = self
            .http
            .request(Method::POST, url.clone())
            .json(&json!({"email": email, "password": password, "remember_me": true}));
        let response = send("login", request).await?;
        let status = response.status();
        let session = session_of(&response);
        let body = read("login", response).await?;
        if status.is_success() && session.cookie("access_token").is_some() {
            return Ok((Some(session), String::new()));
        }
        Ok((None, message_of(status, &body)))
    }

    /// Renews the session with its refresh token; `false` when Dify refused.
    async fn refresh(&mut self) -> bool {
        let Some(session) = &self.session else {
            return false;
        };
        let Ok(url) = self.url("refresh-token", "refresh-token") else {
            return false;
        };
        let request = self
            .http
            .post(url)
            .header(reqwest::header::COOKIE, session.header());
        let Ok(response) = send("refresh-token", request).await else {
            return false;
        };
        let renewed = session_of(&response);
        if response.status().is_success() && renewed.cookie("access_token").is_some() {
            self.session = Some(renewed);
            true
        } else {
            false
        }
    }

    fn url(&self, endpoint: &'static str, path: &str) -> ConsoleResult<Url> {
        self.api.join(path).map_err(|_| ConsoleError::Shape {
            endpoint,
            message: format!("cannot make a URL of {path:?}"),
        })
    }
}

/// `{console_url}/console/api/`, from a URL with or without the API path.
fn api_base(console_url: &str) -> ConsoleResult<Url> {
    let bad = || ConsoleError::BadUrl(console_url.to_owned());
    let mut url = Url::parse(console_url.trim()).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    let path = url.path().trim_end_matches('/').to_owned();
    let base = path.strip_suffix("/console/api").unwrap_or(&path);
    url.set_path(&format!("{base}/console/api/"));
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// Checks a console URL as stored: the base the API lives under.
pub fn check_console_url(console_url: &str) -> Result<String, String> {
    let api = api_base(console_url).map_err(|e| e.to_string())?;
    let base = api.as_str().trim_end_matches("console/api/");
    Ok(base.trim_end_matches('/').to_owned())
}

async fn send(
    endpoint: &'static str,
    request: reqwest::RequestBuilder,
) -> ConsoleResult<reqwest::Response> {
    request.send().await.map_err(|e| ConsoleError::Unreachable {
        endpoint,
        message: e.without_url().to_string(),
    })
}

async fn read(endpoint: &'static str, response: reqwest::Response) -> ConsoleResult<String> {
    response
        .text()
        .await
        .map_err(|e| ConsoleError::Unreachable {
            endpoint,
            message: e.without_url().to_string(),
        })
}

fn session_of(response: &reqwest::Response) -> Session {
    let cookies = response
        .cookies()
        .filter(|cookie| SESSION_COOKIES.contains(&cookie.name().trim_start_matches("__Host-")))
        .map(|cookie| (cookie.name().to_owned(), SecretString::from(cookie.value())))
        .collect();
    Session { cookies }
}

/// Dify's `message` of an error answer, or the status and the start of the body.
fn message_of(status: StatusCode, body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| {
            let start: String = body.chars().take(200).collect();
            format!("HTTP {}: {start}", status.as_u16())
        })
}

fn parse<T: DeserializeOwned>(
    endpoint: &'static str,
    status: StatusCode,
    body: &str,
) -> ConsoleResult<T> {
    if status == StatusCode::NOT_FOUND {
        let message = message_of(status, body);
        // A route Flask does not know, or a proxy's page that is no JSON at all.
        if message.starts_with(NO_ROUTE) || serde_json::from_str::<Value>(body).is_err() {
            return Err(ConsoleError::Missing(endpoint));
        }
        return Err(ConsoleError::Refused {
            endpoint,
            status: 404,
            message,
        });
    }
    if !status.is_success() {
        return Err(ConsoleError::Refused {
            endpoint,
            status: status.as_u16(),
            message: message_of(status, body),
        });
    }
    serde_json::from_str(body).map_err(|e| ConsoleError::Shape {
        endpoint,
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_base_is_found_with_or_without_its_path() {
        for url in [
            "https://dify.example.com",
            "https://dify.example.com/",
            "https://dify.example.com/console/api",
            "https://dify.example.com/console/api/",
        ] {
            assert_eq!(
                api_base(url).unwrap().as_str(),
                "https://dify.example.com/console/api/",
                "{url}"
            );
        }
        assert_eq!(
            api_base("http://10.0.0.5:8080/dify").unwrap().as_str(),
            "http://10.0.0.5:8080/dify/console/api/"
        );
        assert_eq!(
            check_console_url("https://dify.example.com/console/api/").unwrap(),
            "https://dify.example.com"
        );
        for bad in ["dify.example.com", "ftp://dify.example.com", "https://"] {
            assert!(api_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_route_is_told_from_a_missing_record() {
        let missing = parse::<Value>(
            "statistics/token-costs",
            StatusCode::NOT_FOUND,
            r#"{"code": "not_found", "message": "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.", "status": 404}"#,
        );
        assert!(matches!(missing, Err(ConsoleError::Missing(_))));
        let proxy = parse::<Value>("x", StatusCode::NOT_FOUND, "<html>Not Found</html>");
        assert!(matches!(proxy, Err(ConsoleError::Missing(_))));
        let record = parse::<Value>(
            "apps/{app}/chat-messages",
            StatusCode::NOT_FOUND,
            r#"{"code": "not_found", "message": "Conversation Not Exists.", "status": 404}"#,
        )
        .unwrap_err();
        assert!(record.is_not_found());
        assert!(record.to_string().contains("Conversation Not Exists."));
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let session = Session {
            cookies: vec![("access_token".into(), SecretString::from("s3cret"))],
        };
        assert!(!format!("{:?}", session.cookies).contains("s3cret"));
        assert_eq!(session.header(), "access_token=s3cret");
    }
}
