//! The shell's errors, serialized to `{code, message}` for the windows and the relay.

use serde::ser::SerializeStruct;
use tokendesk_ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("this needs an admin session: log in to the admin window first")]
    AdminSessionRequired,
    #[error("no window is called {0:?}")]
    UnknownWindow(String),
    #[error("the page's address is unavailable: {0}")]
    PageUrl(String),
    #[error("window error: {0}")]
    Window(#[from] tauri::Error),
    #[error("cannot keep the language choice: {0}")]
    Preference(std::io::Error),
    #[error(transparent)]
    Org(#[from] tokendesk_sync_client::ClientError),
}

impl ShellError {
    pub fn code(&self) -> &str {
        match self {
            Self::Ledger(error) => error.code(),
            Self::AdminSessionRequired => "admin_session_required",
            Self::UnknownWindow(_) => "unknown_window",
            Self::PageUrl(_) => "page_url",
            Self::Window(_) => "window",
            Self::Preference(_) => "preference",
            Self::Org(error) => error.code(),
        }
    }
}

impl serde::Serialize for ShellError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("ShellError", 2)?;
        state.serialize_field("code", self.code())?;
        state.serialize_field("message", &self.to_string())?;
        state.end()
    }
}

pub type ShellResult<T> = Result<T, ShellError>;
