//! Declares every command so the ACL applies to them (without this manifest, app commands skip it).

const COMMANDS: &[&str] = &[
    // The Dify page's relay.
    "report_usage",
    "report_incomplete",
    "report_model_call",
    "check_send",
    "relay_status",
    // Local windows.
    "dashboard",
    "history",
    "monitor_status",
    "apps",
    "open_window",
    "admin_status",
    "admin_set_password",
    "admin_login",
    "admin_logout",
    // Admin session required.
    "admin_set_rate",
    "admin_grant",
    "admin_simulate",
];

fn main() {
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    tauri_build::try_build(attributes).expect("tauri-build failed");
}
