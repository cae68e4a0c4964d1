//! The shell's errors: the operations' own ([`ApiError`]) and the windows', each serialized to
//! `{code, message}` for the windows and the relay.

use serde::Serialize;
use tokendesk_api::{ApiError, error_body};
use tokendesk_ledger::LedgerError;
use tokendesk_sync_client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("no window is called {0:?}")]
    UnknownWindow(String),
    #[error("the page's address is unavailable: {0}")]
    PageUrl(String),
    #[error("{0} is no Dify app's: TokenDesk takes no reports from it")]
    NotAnAppPage(String),
    #[error("window error: {0}")]
    Window(#[from] tauri::Error),
    #[error("cannot keep the language choice: {0}")]
    Preference(std::io::Error),
    #[error(
        "this computer's administrator does not offer the {} mode (/etc/tokendesk/desktop.toml)",
        format!("{:?}", .0).to_lowercase()
    )]
    NotOffered(tokendesk_ledger::sync::Mode),
}

impl ShellError {
    pub fn code(&self) -> &str {
        match self {
            Self::Api(error) => error.code(),
            Self::UnknownWindow(_) => "unknown_window",
            Self::PageUrl(_) => "page_url",
            Self::NotAnAppPage(_) => "not_an_app_page",
            Self::Window(_) => "window",
            Self::Preference(_) => "preference",
            Self::NotOffered(_) => "not_offered",
        }
    }
}

impl From<LedgerError> for ShellError {
    fn from(error: LedgerError) -> Self {
        Self::Api(error.into())
    }
}

impl From<ClientError> for ShellError {
    fn from(error: ClientError) -> Self {
        Self::Api(error.into())
    }
}

impl Serialize for ShellError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        error_body(self.code(), self).serialize(serializer)
    }
}

pub type ShellResult<T> = Result<T, ShellError>;
