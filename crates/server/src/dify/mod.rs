//! Reconciliation with Dify's own records (DESIGN §9's trust model: a desktop's report is checked
//! against what Dify served). The console client, the typed reads of a workspace, the run, the
//! settlement rules and the daily control; the admin endpoints are in `admin::dify`.

pub mod console;
pub mod reconcile;
pub mod report;
pub mod settle;
pub mod workspace;

pub use reconcile::{ReconcileSettings, run_due, run_org, scheduler};
