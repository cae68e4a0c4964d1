//! Declares every command so the ACL applies to them (without this manifest, app commands skip it).

const COMMANDS: &[&str] = &[
    // The Dify page's relay.
    "report_usage",
    "report_incomplete",
    "report_model_call",
    "check_send",
    "report_unchecked_send",
    "report_send_failed",
    "relay_status",
    "report_link_click",
    // Local windows: reads.
    "dashboard",
    "history",
    "export_history_csv",
    "monitor_status",
    "apps",
    "models",
    "model_history",
    "rate",
    "accounts",
    "policy",
    "held_events",
    "rejected_events",
    "open_window",
    "set_language",
    "admin_status",
    "dashboard_painted",
    // Local windows: the ways in and the org server.
    "way_in",
    "choose_mode",
    "join_org",
    "sync_now",
    "redeem_code",
    // Local windows: the org's admin on its server (the server checks the role).
    "org_admin_status",
    "org_admin_login",
    "org_admin_logout",
    "org_admin",
    "org_admin_export_report",
    "org_admin_create_codes",
    // Local windows: admin (a live admin session is checked in the command).
    "admin_set_password",
    "admin_login",
    "admin_logout",
    "admin_change_password",
    "admin_set_rate",
    "admin_adjust_balance",
    "admin_reverse",
    "admin_set_model",
    "admin_set_model_active",
    "admin_set_model_aliases",
    "admin_preview_import",
    "admin_import_models",
    "admin_add_app",
    "admin_update_app",
    "admin_set_app_enabled",
    "admin_test_app",
    "admin_set_policy",
    "admin_approve_held",
    "admin_reject_held",
    "admin_simulate",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri-build failed");
}
