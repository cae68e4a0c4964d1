//! TokenDesk's operations on the local ledger, shared by every face: the desktop's commands and the
//! `tokendesk` CLI call the same functions, so they parse admin input alike and check the caller's role
//! in one place ([`Caller::admin_name`]). The money rules stay in `tokendesk-ledger`; this crate decides who
//! may run what, turns typed text into amounts, and shapes the answers the faces show.
//!
//! An enrolled ledger refuses every admin write itself (`managed_by_server`): the org's operations are in
//! [`org`], run on its server for a signed-in admin, where the server checks the role on every call.

mod admin;
mod apps;
mod diagnostics;
mod error;
pub mod org;
mod policy;
mod reads;

use tokendesk_ledger::Ledger;
use tokendesk_ledger::accounts::Role;

pub use admin::BalanceKind;
pub use apps::{ConnectionTest, test_connection};
pub use diagnostics::SimulatedEvent;
pub use error::{ApiError, ApiResult, error_body};
pub use policy::{PolicyForm, PolicyKey, PolicyView};
pub use reads::{HistoryArgs, Rate};

/// Who runs an operation: staff may read; an admin may also change the ledger, and is recorded by name
/// as the actor of each change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    role: Role,
    name: String,
}

impl Caller {
    pub fn staff() -> Self {
        Self {
            role: Role::Staff,
            name: String::new(),
        }
    }

    pub fn admin(name: impl Into<String>) -> Self {
        Self {
            role: Role::Admin,
            name: name.into(),
        }
    }

    /// The admin's name, recorded as the actor of a change; a staff caller is refused. The one role
    /// check of every face.
    pub fn admin_name(&self) -> ApiResult<&str> {
        match self.role {
            Role::Admin => Ok(&self.name),
            Role::Staff => Err(ApiError::AdminRequired),
        }
    }
}

/// The operations, run on one open ledger on behalf of one caller.
pub struct Api<'a> {
    ledger: &'a mut Ledger,
    caller: &'a Caller,
}

impl<'a> Api<'a> {
    pub fn new(ledger: &'a mut Ledger, caller: &'a Caller) -> Self {
        Self { ledger, caller }
    }

    /// The ledger and the admin's name, for a change only an admin may make. The operations can only
    /// write to the ledger through here.
    fn as_admin(&mut self) -> ApiResult<(&mut Ledger, &'a str)> {
        let admin = self.caller.admin_name()?;
        Ok((&mut *self.ledger, admin))
    }
}

#[cfg(test)]
mod tests;
