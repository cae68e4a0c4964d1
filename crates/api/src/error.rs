//! The one error of every operation, serialized to `{code, message}`: the windows and scripts branch on
//! `code`.

use serde::Serialize;
use tokendesk_ledger::LedgerError;
use tokendesk_sync_client::ClientError;
use tokendesk_sync_proto::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("this needs an admin: log in to the admin window first")]
    AdminRequired,
    #[error(transparent)]
    Org(ClientError),
}

impl ApiError {
    pub fn code(&self) -> &str {
        match self {
            Self::Ledger(error) => error.code(),
            // The admin window asks for its login on this code.
            Self::AdminRequired => "admin_session_required",
            Self::Org(error) => error.code(),
        }
    }
}

/// A ledger error met by the client is the ledger's, whoever met it.
impl From<ClientError> for ApiError {
    fn from(error: ClientError) -> Self {
        match error {
            ClientError::Ledger(error) => Self::Ledger(error),
            other => Self::Org(other),
        }
    }
}

/// An error as every face sends it: the org server's refusal shape, so the windows and scripts read one
/// kind of error whichever side refused.
pub fn error_body(code: &str, error: &impl std::fmt::Display) -> ErrorBody {
    ErrorBody {
        code: code.to_owned(),
        message: error.to_string(),
    }
}

impl Serialize for ApiError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        error_body(self.code(), self).serialize(serializer)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
