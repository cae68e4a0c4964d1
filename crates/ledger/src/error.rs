//! Errors. Each serializes to `{code, message}` so the UI and scripts can branch on `code`.

use serde::ser::SerializeStruct;

/// Why an incoming Dify event was refused. Every one is written to `rejected_events` with its payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("payload of {bytes} bytes exceeds the {limit}-byte limit")]
    PayloadTooLarge { bytes: usize, limit: usize },
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("expected a message_end frame, got event {0:?}")]
    NotMessageEnd(String),
    #[error("the frame has no message id")]
    MissingMessageId,
    #[error("message_end carries no metadata.usage; report it as incomplete to charge an estimate")]
    MissingUsage,
    #[error("{field} is not a whole non-negative token count: {value}")]
    InvalidTokens { field: &'static str, value: String },
    #[error("{field} = {value} is more than the {limit} tokens one event may plausibly carry")]
    AbsurdTokens {
        field: &'static str,
        value: u64,
        limit: u64,
    },
    #[error("{field} is not a non-negative decimal price: {value}")]
    InvalidPrice { field: &'static str, value: String },
    #[error("no configured Dify app matches {0}")]
    UnknownApp(String),
    #[error("the Dify app {0:?} is disabled")]
    AppDisabled(String),
    #[error("the Dify integration is turned off")]
    IntegrationDisabled,
    #[error("the incomplete reply has neither query nor answer text to estimate from")]
    NothingToEstimate,
}

impl EventError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::MalformedJson(_) => "malformed_json",
            Self::NotMessageEnd(_) => "not_message_end",
            Self::MissingMessageId => "missing_message_id",
            Self::MissingUsage => "missing_usage",
            Self::InvalidTokens { .. } => "invalid_tokens",
            Self::AbsurdTokens { .. } => "absurd_tokens",
            Self::InvalidPrice { .. } => "invalid_price",
            Self::UnknownApp(_) => "unknown_app",
            Self::AppDisabled(_) => "app_disabled",
            Self::IntegrationDisabled => "integration_disabled",
            Self::NothingToEstimate => "nothing_to_estimate",
        }
    }
}

/// Errors of ledger operations other than the charge path's per-event outcomes.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("could not migrate the database: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("{0}")]
    Invalid(String),
    #[error("{what} {name:?} not found")]
    NotFound { what: &'static str, name: String },
    #[error("{what} {name:?} already exists")]
    AlreadyExists { what: &'static str, name: String },
    #[error("the admin password has not been set yet")]
    PasswordNotSet,
    #[error("the admin password is already set; change it with the current password")]
    PasswordAlreadySet,
    #[error("wrong password")]
    WrongPassword,
    #[error("too many wrong passwords: try again in {minutes} minutes")]
    TooManyLogins { minutes: i64 },
    #[error("held event {0} was already decided")]
    AlreadyDecided(String),
    #[error("held event {id} now costs {now} credits{}: look at it again, then approve that amount", shown.map(|shown| format!(", not the {shown} shown")).unwrap_or_default())]
    AmountChanged {
        id: String,
        shown: Option<rust_decimal::Decimal>,
        now: rust_decimal::Decimal,
    },
    #[error("entry {0} was already reversed")]
    AlreadyReversed(String),
    #[error(
        "this device is enrolled with the org server {0}: prices, the rate, apps, guards and balances are managed there"
    )]
    ManagedByServer(String),
    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
}

impl LedgerError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Database(_) => "database",
            Self::Migration(_) => "migration",
            Self::Invalid(_) => "invalid",
            Self::NotFound { .. } => "not_found",
            Self::AlreadyExists { .. } => "already_exists",
            Self::PasswordNotSet => "password_not_set",
            Self::PasswordAlreadySet => "password_already_set",
            Self::WrongPassword => "wrong_password",
            Self::TooManyLogins { .. } => "too_many_logins",
            Self::AlreadyDecided(_) => "already_decided",
            Self::AmountChanged { .. } => "amount_changed",
            Self::AlreadyReversed(_) => "already_reversed",
            Self::ManagedByServer(_) => "managed_by_server",
            Self::Csv(_) => "csv",
            Self::Io(_) => "io",
            Self::PasswordHash(_) => "password_hash",
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

macro_rules! serialize_as_code_and_message {
    ($($error:ty),*) => {$(
        impl serde::Serialize for $error {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut state = serializer.serialize_struct(stringify!($error), 2)?;
                state.serialize_field("code", self.code())?;
                state.serialize_field("message", &self.to_string())?;
                state.end()
            }
        }
    )*};
}

serialize_as_code_and_message!(EventError, LedgerError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_to_code_and_message() {
        let json = serde_json::to_value(EventError::MissingMessageId).unwrap();
        assert_eq!(json["code"], "missing_message_id");
        assert_eq!(json["message"], "the frame has no message id");
        let json = serde_json::to_value(LedgerError::WrongPassword).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "wrong_password", "message": "wrong password"})
        );
    }
}
