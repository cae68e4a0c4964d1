//! The org server's client, shared by the `tokendesk` CLI and the desktop: a device's enrollment and sync
//! ([`device`]) and an admin's session on the server ([`admin`]). The ledger decides what to push and how to
//! apply what comes back; this crate only moves it.

pub mod admin;
pub mod device;
mod http;

pub use http::{ClientError, Result};
