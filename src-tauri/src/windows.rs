//! The windows, the app menu and the tray. TokenDesk's own windows load the bundled UI; the chat
//! window loads the Dify app with the relay injected and stays on the configured hosts.

use std::sync::Mutex;
use tauri::menu::{AboutMetadata, Menu, MenuBuilder, MenuEvent, MenuItem, SubmenuBuilder};
use tauri::tray::TrayIconBuilder;
use tauri::webview::PageLoadEvent;
use tauri::{
    AppHandle, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder, WindowEvent,
};
use tauri_plugin_opener::OpenerExt;
use tokendesk_sync_proto::dify;
use url::Url;

use crate::commands::{update_monitor, window_name};
use crate::error::ShellResult;
use crate::language::Language;
use crate::relay;
use crate::state::Shell;

pub const CHAT: &str = "chat";
pub const DASHBOARD: &str = "dashboard";
pub const ADMIN: &str = "admin";
pub const DIAGNOSTICS: &str = "diagnostics";
pub const WINDOWS: &[&str] = &[CHAT, DASHBOARD, ADMIN, DIAGNOSTICS];
const TRAY: &str = "tokendesk";

/// The title of one of TokenDesk's own windows (the chat window is named after its Dify app).
fn title(label: &str, language: Language) -> &'static str {
    match label {
        DASHBOARD => "TokenDesk",
        ADMIN => language.pick("TokenDesk — 管理", "TokenDesk — Admin"),
        DIAGNOSTICS => language.pick("TokenDesk — 诊断", "TokenDesk — Diagnostics"),
        _ => language.pick("TokenDesk — 对话", "TokenDesk — Chat"),
    }
}

/// Shows a window, creating it if needed.
pub fn show<R: Runtime>(app: &AppHandle<R>, name: &str) -> ShellResult<()> {
    let label = window_name(name)?;
    if let Some(window) = app.get_webview_window(label) {
        window.show()?;
        window.unminimize()?;
        window.set_focus()?;
        return Ok(());
    }
    if label == CHAT {
        open_chat(app)
    } else {
        open_local(app, label, "").map(drop)
    }
}

/// One of TokenDesk's own windows; `script` runs before its page, after the language's.
fn open_local<R: Runtime>(
    app: &AppHandle<R>,
    label: &str,
    script: &str,
) -> ShellResult<WebviewWindow<R>> {
    let (width, height) = if label == DASHBOARD {
        (1100.0, 760.0)
    } else {
        (960.0, 700.0)
    };
    let language = app.state::<Shell>().language();
    Ok(
        WebviewWindowBuilder::new(app, label, WebviewUrl::App("index.html".into()))
            .initialization_script(language.init_script())
            .initialization_script(script)
            .title(title(label, language))
            .inner_size(width, height)
            .build()?,
    )
}

fn open_chat<R: Runtime>(app: &AppHandle<R>) -> ShellResult<()> {
    let shell = app.state::<Shell>();
    let current = shell
        .current_app
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let metering = shell.integration_enabled()?;
    let target = match current {
        Some(dify_app) if metering => Url::parse(&dify_app.share_url)
            .ok()
            .map(|url| (dify_app, url)),
        _ => None,
    };
    let Some((dify_app, url)) = target else {
        // The integration is off, or there is no app yet (an org that has not added one): a local page
        // says which, and nothing is charged.
        let reason = if metering { "no-app" } else { "off" };
        let script = format!("window.__TOKENDESK_CHAT__ = {reason:?};");
        let window = open_local(app, CHAT, &script)?;
        track_chat(app, &window, None);
        return Ok(());
    };
    // Enrolled, the chat names its staff member to Dify, so Dify's own records say who chatted.
    let url = match shell.ledger(|ledger| ledger.enrolled_user_id())? {
        Some(user_id) => dify::share_url_for_user(&url, &user_id),
        None => url,
    };
    let handle = app.clone();
    let window = WebviewWindowBuilder::new(app, CHAT, WebviewUrl::External(url.clone()))
        .title(format!("{} — TokenDesk", dify_app.name))
        .inner_size(1000.0, 780.0)
        // The language first: the relay's badge reads it.
        .initialization_script(shell.language().init_script())
        .initialization_script(relay::SCRIPT)
        .on_navigation(move |target| {
            // The current list, so an app an admin adds or moves is reachable at once.
            let origin = target.origin().ascii_serialization();
            if handle.state::<Shell>().may_navigate_to(&origin) || target.scheme() == "about" {
                return true;
            }
            // Web and mail links away from Dify open in the system, never inside the metered window, and
            // only on a user's click (the relay reports those).
            if handle.state::<relay::UserLinks>().refused(target) {
                open_in_the_system(&handle, target);
            }
            false
        })
        .on_page_load(|webview, payload| {
            let url = payload.url().to_string();
            let _ = update_monitor(webview.app_handle(), |monitor| {
                // A new page has not loaded the relay yet: it reports in once it has.
                if payload.event() == PageLoadEvent::Started {
                    monitor.relay_seen_at = None;
                }
                monitor.chat_url = Some(url);
            });
        })
        .build()?;
    track_chat(app, &window, Some(url.to_string()));
    Ok(())
}

/// Whether a link the chat window refuses may open in the system: web pages and mail only. `file:`,
/// `smb:` and custom schemes would let a page pick a file or a program for the OS to open.
fn opens_in_the_system(target: &Url) -> bool {
    matches!(target.scheme(), "http" | "https" | "mailto")
}

/// Opens a link the user clicked in the system browser (or mail program), if it is a web or mail link.
pub fn open_in_the_system<R: Runtime>(app: &AppHandle<R>, target: &Url) {
    if opens_in_the_system(target) {
        let _ = app.opener().open_url(target.as_str(), None::<&str>);
    }
}

/// Keeps the monitor's "chat window open" in step with the window.
fn track_chat<R: Runtime>(app: &AppHandle<R>, window: &WebviewWindow<R>, url: Option<String>) {
    let set = |app: &AppHandle<R>, open: bool, url: Option<String>| {
        let _ = update_monitor(app, |monitor| {
            monitor.chat_open = open;
            monitor.chat_url = url;
            monitor.relay_seen_at = None;
        });
    };
    set(app, true, url);
    let handle = app.clone();
    window.on_window_event(move |event| {
        if matches!(event, WindowEvent::Destroyed) {
            set(&handle, false, None);
        }
    });
}

/// Shows the current app (or the local page, when there is none) in the chat window, if it is open: after
/// joining an org, or when the org's apps change under it.
pub fn reload_chat_if_open<R: Runtime>(app: &AppHandle<R>) -> ShellResult<()> {
    match app.get_webview_window(CHAT) {
        Some(window) => reload_chat(app, window),
        None => Ok(()),
    }
}

/// Switches the chat window to another configured app.
fn switch_app<R: Runtime>(app: &AppHandle<R>, app_id: i64) -> ShellResult<()> {
    let shell = app.state::<Shell>();
    let dify_app = shell.ledger(|ledger| ledger.app(app_id))?;
    *shell
        .current_app
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(dify_app);
    show_chat_afresh(app)
}

/// Opens the chat window on the current app, reopening it if it shows another.
pub fn show_chat_afresh<R: Runtime>(app: &AppHandle<R>) -> ShellResult<()> {
    match app.get_webview_window(CHAT) {
        Some(window) => reload_chat(app, window),
        None => show(app, CHAT),
    }
}

/// Closes the chat window and opens it again on the current app.
fn reload_chat<R: Runtime>(app: &AppHandle<R>, window: WebviewWindow<R>) -> ShellResult<()> {
    // The new window takes the label once the old one is gone: after its Destroyed event has been
    // handled, which is why the opening is queued behind it.
    let handle = app.clone();
    window.on_window_event(move |event| {
        if matches!(event, WindowEvent::Destroyed) {
            let again = handle.clone();
            let _ = handle.run_on_main_thread(move || {
                if let Err(error) = show(&again, CHAT) {
                    eprintln!("tokendesk-desktop: {error}");
                }
            });
        }
    });
    window.destroy()?;
    Ok(())
}

/// The menu's balance line, updated in place on each charge (see [`show_balance`]).
const BALANCE_ITEM: &str = "balance";

/// What the menus need between rebuilds: the balance lines of the app menu and of the tray's menu,
/// kept to update their text, and a lock that lets one rebuild run at a time (two interleaved would
/// keep the lines of a menu no longer shown). Only command threads rebuild after start-up, never the
/// main thread, which the rebuild waits for.
pub struct MenuState<R: Runtime> {
    rebuilding: Mutex<()>,
    balance_lines: Mutex<Vec<MenuItem<R>>>,
}

impl<R: Runtime> Default for MenuState<R> {
    fn default() -> Self {
        Self {
            rebuilding: Mutex::new(()),
            balance_lines: Mutex::new(Vec::new()),
        }
    }
}

/// The balance line; "offline" when the org server could not be reached at the last try.
fn balance_text(language: Language, balance: &str, offline: bool) -> String {
    let mark = if offline {
        language.pick(" （离线）", " (offline)")
    } else {
        ""
    };
    format!(
        "{} {balance} {}{mark}",
        language.pick("余额", "Balance:"),
        language.pick("积分", "credits")
    )
}

/// A menu that opens every window and every enabled Dify app, and shows the balance; the balance
/// line is returned too.
fn menu<R: Runtime>(app: &AppHandle<R>) -> ShellResult<(Menu<R>, MenuItem<R>)> {
    let shell = app.state::<Shell>();
    let language = shell.language();
    let pick = |chinese, english| language.pick(chinese, english);
    let (balance, _) = shell.balance()?;
    let balance_line = MenuItem::with_id(
        app,
        BALANCE_ITEM,
        balance_text(language, &balance.to_string(), shell.offline()),
        false,
        None::<&str>,
    )?;
    let windows = SubmenuBuilder::new(app, "TokenDesk")
        .item(&balance_line)
        .separator()
        .text("open:chat", pick("对话", "Chat"))
        .text("open:dashboard", pick("仪表盘", "Dashboard"))
        .text("open:admin", pick("管理", "Admin"))
        .text("open:diagnostics", pick("诊断", "Diagnostics"))
        .separator()
        .about_with_text(
            pick("关于 TokenDesk", "About TokenDesk"),
            Some(about(app, language)),
        )
        .text("quit", pick("退出", "Quit"))
        .build()?;
    let mut apps = SubmenuBuilder::new(app, pick("应用", "Apps"));
    let enabled: Vec<_> = shell
        .ledger(|ledger| ledger.apps())?
        .into_iter()
        .filter(|dify_app| dify_app.enabled)
        .collect();
    // The demo app leaves the menu once a real one exists.
    let real_apps = enabled.iter().any(|dify_app| !dify_app.demo);
    for dify_app in enabled
        .into_iter()
        .filter(|dify_app| !(real_apps && dify_app.demo))
    {
        apps = apps.text(format!("app:{}", dify_app.id), dify_app.name);
    }
    let menu = MenuBuilder::new(app)
        .items(&[&windows, &apps.build()?])
        .build()?;
    Ok((menu, balance_line))
}

/// What the About dialog shows: the workspace's one version (tauri.conf.json names none, so Tauri takes
/// Cargo's).
pub fn about<R: Runtime>(app: &AppHandle<R>, language: Language) -> AboutMetadata<'static> {
    AboutMetadata {
        name: Some("TokenDesk".into()),
        version: Some(app.package_info().version.to_string()),
        comments: Some(
            language
                .pick(
                    "以积分计量 Dify 对话的用量",
                    "Meters Dify chat usage in credits",
                )
                .into(),
        ),
        license: Some(env!("CARGO_PKG_LICENSE").into()),
        ..AboutMetadata::default()
    }
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    let id = event.id().as_ref();
    let result = match (id.strip_prefix("open:"), id.strip_prefix("app:")) {
        (Some(window), _) => show(app, window),
        (_, Some(app_id)) => app_id
            .parse()
            .map_or(Ok(()), |app_id| switch_app(app, app_id)),
        _ if id == "quit" => {
            app.exit(0);
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(error) = result {
        eprintln!("tokendesk-desktop: {error}");
    }
}

/// The app menu and the tray, whose menu opens every window and every enabled Dify app.
pub fn install_menus<R: Runtime>(app: &AppHandle<R>) -> ShellResult<()> {
    app.on_menu_event(on_menu);
    let mut tray = TrayIconBuilder::with_id(TRAY).tooltip("TokenDesk");
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.on_menu_event(on_menu).build(app)?;
    refresh_menus(app)
}

/// Speaks the language just picked: the menus, the tray and the titles of TokenDesk's own windows.
/// (Their pages follow the `language` event.)
pub fn language_changed<R: Runtime>(app: &AppHandle<R>) -> ShellResult<()> {
    let language = app.state::<Shell>().language();
    for label in [DASHBOARD, ADMIN, DIAGNOSTICS] {
        if let Some(window) = app.get_webview_window(label) {
            window.set_title(title(label, language))?;
        }
    }
    refresh_menus(app)
}

/// Builds both menus again from the ledger, after an admin added an app or switched one on or off.
pub fn refresh_menus<R: Runtime>(app: &AppHandle<R>) -> ShellResult<()> {
    let state = app.state::<MenuState<R>>();
    let _one_at_a_time = state
        .rebuilding
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let (app_menu, app_line) = menu(app)?;
    app.set_menu(app_menu)?;
    let mut lines = vec![app_line];
    if let Some(tray) = app.tray_by_id(TRAY) {
        let (tray_menu, tray_line) = menu(app)?;
        tray.set_menu(Some(tray_menu))?;
        lines.push(tray_line);
    }
    *state
        .balance_lines
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = lines;
    Ok(())
}

/// Shows the balance in both menus and on the tray icon (its tooltip, and its label where the
/// platform has one).
pub fn show_balance<R: Runtime>(app: &AppHandle<R>, balance: &str, offline: bool) {
    let text = balance_text(app.state::<Shell>().language(), balance, offline);
    // Copied out first: setting a text waits for the main thread, which must not wait for the lock.
    let lines = app
        .state::<MenuState<R>>()
        .balance_lines
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    for line in lines {
        let _ = line.set_text(&text);
    }
    if let Some(tray) = app.tray_by_id(TRAY) {
        let text = format!("TokenDesk — {text}");
        let _ = tray.set_tooltip(Some(&text));
        let _ = tray.set_title(Some(&text));
    }
}

#[cfg(test)]
mod tests {
    use super::opens_in_the_system;
    use url::Url;

    #[test]
    fn only_web_and_mail_links_open_in_the_system() {
        for link in [
            "https://example.com/doc",
            "http://example.com",
            "mailto:help@example.com",
        ] {
            assert!(opens_in_the_system(&Url::parse(link).unwrap()), "{link}");
        }
        for link in [
            "file:///etc/passwd",
            "smb://host/share/run.exe",
            "ms-msdt:/id PCWDiagnostic",
            "vscode://file/x",
            "javascript:alert(1)",
            "data:text/html,<b>x</b>",
        ] {
            assert!(!opens_in_the_system(&Url::parse(link).unwrap()), "{link}");
        }
    }
}
