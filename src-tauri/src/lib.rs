//! TokenDesk's desktop shell: windows, commands and the relay over `tokendesk-ledger`. No money rule lives here.

mod commands;
mod demo;
mod error;
mod language;
mod managed;
mod relay;
mod state;
mod sync;
mod windows;

#[cfg(test)]
mod acl_tests;
#[cfg(test)]
mod bindings;

use clap::Parser;
use std::path::{Path, PathBuf};
use tauri::{Manager, Runtime};
use tokendesk_ledger::Ledger;
use tokendesk_ledger::apps::{AppBinding, DifyApp, share_location};
use tokendesk_ledger::sync::Mode;

use managed::ManagedInstall;
use state::Shell;

/// The data directory shared with the `tokendesk` CLI: the OS data dir under the app's identifier.
const APP_IDENTIFIER: &str = "com.tokendesk.desktop";

#[derive(Parser, Debug)]
#[command(
    name = "tokendesk-desktop",
    version,
    about = "TokenDesk: meters Dify chat usage in credits"
)]
struct Args {
    /// The data directory holding ledger.sqlite3.
    #[arg(long, env = "TOKENDESK_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Open this Dify app (a share URL such as https://dify.example.com/chat/TOKEN).
    #[arg(long, env = "TOKENDESK_DIFY_URL")]
    dify_url: Option<String>,
    /// The org server the first run's join form offers, over /etc/tokendesk/desktop.toml's.
    #[arg(long = "server", env = "TOKENDESK_SERVER_URL")]
    server_url: Option<String>,
}

/// `TOKENDESK_ENABLE_DIFY=false` (or 0/no/off) turns the integration off whatever the ledger says.
fn integration_forced_off() -> bool {
    std::env::var("TOKENDESK_ENABLE_DIFY").is_ok_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "false" | "0" | "no" | "off"
        )
    })
}

/// Registers all commands, and the menus' state they update, on a builder (also used by the ACL tests
/// with the mock runtime).
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .manage(windows::MenuState::<R>::default())
        .manage(relay::SendBindings::default())
        .manage(relay::UserLinks::default())
        .invoke_handler(tauri::generate_handler![
            relay::report_usage,
            relay::report_incomplete,
            relay::report_model_call,
            relay::check_send,
            relay::report_unchecked_send,
            relay::report_send_failed,
            relay::relay_status,
            relay::report_link_click,
            commands::staff::dashboard,
            commands::staff::history,
            commands::staff::export_history_csv,
            commands::staff::monitor_status,
            commands::staff::apps,
            commands::staff::models,
            commands::staff::model_history,
            commands::staff::rate,
            commands::staff::accounts,
            commands::staff::policy,
            commands::staff::held_events,
            commands::staff::rejected_events,
            commands::staff::open_window,
            commands::staff::set_language,
            commands::staff::admin_status,
            commands::staff::dashboard_painted,
            commands::org::way_in,
            commands::org::choose_mode,
            commands::org::join_org,
            commands::org::sync_now,
            commands::org::redeem_code,
            commands::org_admin::org_admin_status,
            commands::org_admin::org_admin_login,
            commands::org_admin::org_admin_logout,
            commands::org_admin::org_admin,
            commands::org_admin::org_admin_export_report,
            commands::org_admin::org_admin_create_codes,
            commands::admin::admin_set_password,
            commands::admin::admin_login,
            commands::admin::admin_logout,
            commands::admin::admin_change_password,
            commands::admin::admin_set_rate,
            commands::admin::admin_adjust_balance,
            commands::admin::admin_reverse,
            commands::admin::admin_set_model,
            commands::admin::admin_set_model_active,
            commands::admin::admin_set_model_aliases,
            commands::admin::admin_preview_import,
            commands::admin::admin_import_models,
            commands::admin::admin_add_app,
            commands::admin::admin_update_app,
            commands::admin::admin_set_app_enabled,
            commands::admin::admin_test_app,
            commands::admin::admin_set_policy,
            commands::admin::admin_approve_held,
            commands::admin::admin_reject_held,
            commands::admin::admin_simulate,
        ])
}

/// The app the chat window opens: `--dify-url` (on an island registered on first use, priced by Dify's
/// reported price until an admin binds a model; enrolled, it must be one of the org's apps), else the first
/// enabled app that is not the demo.
fn chosen_app(ledger: &mut Ledger, dify_url: Option<&str>) -> Result<Option<DifyApp>, String> {
    if let Some(url) = dify_url {
        if let Some(app) = ledger.app_for_url(url).map_err(|err| err.to_string())? {
            return Ok(Some(app));
        }
        let location =
            share_location(url).ok_or_else(|| format!("{url:?} is not a Dify share URL"))?;
        let name = location
            .origin
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_owned();
        match ledger.add_app(&name, url, &AppBinding::DifyPrice, false) {
            Ok(app) => return Ok(Some(app)),
            // Enrolled, the org's admin decides the apps: the URL is ignored, and said so.
            Err(error @ tokendesk_ledger::LedgerError::ManagedByServer(_)) => {
                eprintln!(
                    "tokendesk-desktop: --dify-url {url} is not one of the org's apps: {error}"
                );
            }
            Err(error) => return Err(error.to_string()),
        }
    }
    let apps = ledger.apps().map_err(|err| err.to_string())?;
    Ok(apps.into_iter().find(|app| app.enabled && !app.demo))
}

fn launch(args: Args) -> Result<(), String> {
    let mut managed = ManagedInstall::read(Path::new(managed::SYSTEM_CONFIG))?;
    if args.server_url.is_some() {
        managed.server_url = args.server_url;
    }
    let data_dir = match args.data_dir {
        Some(dir) => dir,
        None => dirs::data_dir()
            .map(|dir| dir.join(APP_IDENTIFIER))
            .ok_or("no data directory; pass --data-dir")?,
    };
    let mut ledger = Ledger::open_dir(&data_dir).map_err(|err| err.to_string())?;
    let mut current = chosen_app(&mut ledger, args.dify_url.as_deref())?;
    let mode = ledger.mode().map_err(|err| err.to_string())?;
    // With no app of its own, an island (or a first run) meets the built-in simulator; an org's device
    // waits for the org's apps instead.
    let demo = match (&current, mode) {
        (None, Mode::Unchosen | Mode::Island | Mode::Demo) => {
            let sim = demo::start_simulator()
                .map_err(|err| format!("could not start the demo simulator: {err}"))?;
            current = Some(demo::demo_app(&mut ledger, &sim).map_err(|err| err.to_string())?);
            Some(sim)
        }
        _ => None,
    };
    let shell = Shell::new(ledger, data_dir, integration_forced_off(), demo, managed)
        .map_err(|err| err.to_string())?;
    // Remember where the balance starts, so only a later crossing notifies.
    let (_, starts_low) = shell.balance().map_err(|err| err.to_string())?;
    shell.crossed_low_balance(starts_low);
    *shell
        .current_app
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = current;

    with_commands(tauri::Builder::default())
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            let _ = windows::show(app, windows::DASHBOARD);
        }))
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_notification::init())
        .manage(shell)
        .setup(move |app| {
            let origins = app.state::<Shell>().ledger(|ledger| ledger.app_origins())?;
            relay::allow_origins(app.handle(), "dify", &origins)?;
            windows::install_menus(app.handle())?;
            commands::balance_changed(app.handle(), &app.state::<Shell>())?;
            windows::show(app.handle(), windows::DASHBOARD)?;
            // On the first run the dashboard offers the ways in; the chat waits for the choice.
            if mode != Mode::Unchosen {
                windows::show(app.handle(), windows::CHAT)?;
            }
            if mode == Mode::Org {
                sync::start(app.handle());
            }
            relay::settle_in_background(app.handle());
            Ok(())
        })
        .run(tauri::generate_context!())
        .map_err(|err| err.to_string())
}

/// WebKitGTK's accelerated compositing keeps a GL pipeline (Mesa's, in software, where there is no GPU) in
/// every web process: with the chat and the dashboard open it took the app and its WebKit processes from about
/// 325 MB to 500 MB (proportional set size, `scripts/bench.sh`), for pages that draw nothing that needs it.
/// A user's own setting of the variable wins.
#[cfg(target_os = "linux")]
fn without_accelerated_compositing() {
    const VARIABLE: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";
    if std::env::var_os(VARIABLE).is_none() {
        // SAFETY: the first thing `run` does, before the app has started any other thread.
        unsafe { std::env::set_var(VARIABLE, "1") };
    }
}

/// When the process started its work: cold starts are timed from here.
pub(crate) static STARTED: std::sync::LazyLock<std::time::Instant> =
    std::sync::LazyLock::new(std::time::Instant::now);

pub fn run() {
    std::sync::LazyLock::force(&STARTED);
    #[cfg(target_os = "linux")]
    without_accelerated_compositing();
    if let Err(error) = launch(Args::parse()) {
        eprintln!("tokendesk-desktop: {error}");
        std::process::exit(1);
    }
}
