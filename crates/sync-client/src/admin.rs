//! An admin's session on the org server, kept in the data directory (mode 0600) so that each `tokendesk org`
//! command does not ask for the password again. Requests are the server's admin API, typed by sync-proto.

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokendesk_sync_proto::admin::{
    EnrollmentCode, LoginRequest, NewRedemptionCodes, RedemptionBatch, Session,
};
use tokendesk_sync_proto::device::JoinLink;
use tokendesk_sync_proto::money::micros_to_credits;

use crate::http::{ClientError, Http, Result};

/// The session file inside a data directory.
pub const SESSION_FILE: &str = "org-session.json";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSession {
    server: String,
    token: String,
    name: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

/// A signed-in admin.
pub struct OrgAdmin {
    http: Http,
    pub name: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl OrgAdmin {
    /// Signs in and keeps the session in `data_dir`.
    pub async fn login(
        data_dir: &Path,
        server: &str,
        name: &str,
        password: &str,
    ) -> Result<Session> {
        let http = Http::new(server, None)?;
        let request = LoginRequest {
            org: None,
            name: name.to_owned(),
            password: password.to_owned(),
        };
        let session: Session = http
            .json(
                Method::POST,
                "/v1/admin/login",
                Some(&request),
                REQUEST_TIMEOUT,
            )
            .await?;
        let stored = StoredSession {
            server: http.server().to_owned(),
            token: session.token.clone(),
            name: session.user.name.clone(),
            expires_at: session.expires_at,
        };
        write_private(
            &session_path(data_dir),
            &serde_json::to_vec_pretty(&stored)
                .map_err(|error| ClientError::Protocol(error.to_string()))?,
        )?;
        Ok(session)
    }

    /// The session kept in `data_dir`, if it has not expired.
    pub fn load(data_dir: &Path) -> Result<Self> {
        let text = std::fs::read(session_path(data_dir)).map_err(|_| {
            ClientError::Usage(
                "not signed in to an org server: run `tokendesk org login URL NAME`".into(),
            )
        })?;
        let stored: StoredSession = serde_json::from_slice(&text).map_err(|error| {
            ClientError::Usage(format!("the saved org session is unreadable: {error}"))
        })?;
        if stored.expires_at <= chrono::Utc::now() {
            return Err(ClientError::Usage(
                "the org session expired: run `tokendesk org login URL NAME` again".into(),
            ));
        }
        Ok(Self {
            http: Http::new(&stored.server, Some(stored.token))?,
            name: stored.name,
            expires_at: stored.expires_at,
        })
    }

    /// The session kept in `data_dir` if it is live and signed in to `server`.
    pub fn load_for(data_dir: &Path, server: &str) -> Option<Self> {
        let server = crate::http::normalized_server(server).ok()?;
        Self::load(data_dir)
            .ok()
            .filter(|admin| admin.server() == server)
    }

    /// Ends the session on the server (when it still can) and forgets it here.
    pub async fn logout(data_dir: &Path) -> Result<()> {
        if let Ok(admin) = Self::load(data_dir) {
            let _: serde_json::Value = admin
                .send(
                    Method::POST,
                    "/v1/admin/logout",
                    Some(&serde_json::json!({})),
                )
                .await
                .unwrap_or_default();
        }
        match std::fs::remove_file(session_path(data_dir)) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(ClientError::Ledger(error.into())),
        }
    }

    pub fn server(&self) -> &str {
        self.http.server()
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.http
            .json::<(), T>(Method::GET, path, None, REQUEST_TIMEOUT)
            .await
    }

    pub async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        self.http.json(method, path, body, REQUEST_TIMEOUT).await
    }

    /// A new single-use enrollment code for `user`, and the join link that holds it with this server.
    pub async fn enrollment_code(&self, user: &str) -> Result<(EnrollmentCode, JoinLink)> {
        let path = format!("/v1/admin/users/{}/enrollment-codes", path_segment(user)?);
        let code: EnrollmentCode = self
            .send(Method::POST, &path, Some(&serde_json::json!({})))
            .await?;
        let link = JoinLink {
            server: self.server().to_owned(),
            code: code.code.clone(),
        };
        Ok((code, link))
    }

    /// A text answer, such as a CSV report.
    pub async fn get_text(&self, path: &str) -> Result<String> {
        self.http.text(path, REQUEST_TIMEOUT).await
    }

    /// A new batch of redemption codes: this answer is the only time the server shows them.
    pub async fn redemption_codes(&self, new: &NewRedemptionCodes) -> Result<RedemptionBatch> {
        self.send(Method::POST, "/v1/admin/redemption-codes", Some(new))
            .await
    }
}

/// A batch's codes as CSV to hand out: one line a code, with its worth in credits and its expiry.
pub fn redemption_csv(batch: &RedemptionBatch) -> String {
    let credits = micros_to_credits(batch.amount_micros).to_string();
    let expires = batch
        .expires_at
        .map(|at| at.to_rfc3339())
        .unwrap_or_default();
    let mut csv = String::from("code,credits,expires_at,code_id,batch_id\n");
    // Codes, numbers, times and UUIDs only: nothing a spreadsheet would read as a formula or need quoting.
    for code in &batch.codes {
        csv.push_str(&format!(
            "{},{credits},{expires},{},{}\n",
            code.code, code.id, batch.batch_id
        ));
    }
    csv
}

/// `text` as one segment of a path: every character that would end or change the segment is escaped. A name
/// of dots only is refused: URL parsers read `.` and `..` (escaped too) as steps up the path, not as names.
pub fn path_segment(text: &str) -> Result<String> {
    if text.chars().all(|c| c == '.') && text.len() <= 2 {
        return Err(ClientError::Usage(format!(
            "{text:?} cannot name anything in a URL path"
        )));
    }
    let mut url = url::Url::parse("http://segment/").expect("a constant base URL");
    url.path_segments_mut()
        .expect("an http URL has a path")
        .pop_if_empty()
        .push(text);
    Ok(url.path()[1..].to_owned())
}

fn session_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SESSION_FILE)
}

/// Writes a file only its owner can read, created with that mode so it is never readable by others.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| ClientError::Ledger(error.into()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .map_err(|error| ClientError::Ledger(error.into()))?;
    file.write_all(bytes)
        .map_err(|error| ClientError::Ledger(error.into()))
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn path_segments_escape_what_would_end_them() {
        let segment = |text: &str| path_segment(text).unwrap();
        assert_eq!(segment("alice"), "alice");
        assert_eq!(segment("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
        assert_eq!(segment("张三"), "%E5%BC%A0%E4%B8%89");
        assert_eq!(segment("..."), "...");
        // What a request makes of the path: the segment stays one segment under its parent.
        for name in ["a/../b", "...", "%2e%2e", "a%2F..", "?x=1"] {
            let url = format!("http://h/v1/admin/users/{}/balance", segment(name));
            let parsed = url::Url::parse(&url).unwrap();
            let parts: Vec<&str> = parsed.path_segments().unwrap().collect();
            assert_eq!(parts.len(), 5, "{name}: {}", parsed.path());
            assert_eq!(parts[..3], ["v1", "admin", "users"], "{name}");
            assert_eq!(parts[4], "balance", "{name}");
        }
        for name in ["", ".", ".."] {
            assert!(path_segment(name).is_err(), "{name:?}");
        }
    }
}
