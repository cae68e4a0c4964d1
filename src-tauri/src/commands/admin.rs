//! Admin commands: the island admin's password and session, and the API's admin operations, which
//! check that the session is live (the caller is then the admin, recorded as the actor). Each change
//! tells the windows that the ledger changed.

use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tokendesk_api::{
    Api, ApiResult, BalanceKind, ConnectionTest, PolicyForm, PolicyView, SimulatedEvent,
    test_connection,
};
use tokendesk_ledger::apps::DifyApp;
use tokendesk_ledger::held::HeldEvent;
use tokendesk_ledger::pricing::{
    ImportPreview, ImportProgress, ImportReport, ModelConfig, RateChange,
};
use tokendesk_ledger::{ChargeResult, Entry, Micros};

use super::{announce, apps_changed, ledger_changed};
use crate::error::ShellResult;
use crate::state::{ADMIN, AdminStatus, Shell};

/// Runs an admin operation, then tells the windows.
fn change<R: Runtime, T>(
    app: &AppHandle<R>,
    shell: &Shell,
    work: impl FnOnce(&mut Api) -> ApiResult<T>,
) -> ShellResult<T> {
    let value = shell.api(work)?;
    ledger_changed(app, shell)?;
    Ok(value)
}

/// Runs an admin operation on the apps, then tells the windows, the menus and the relay's capability.
fn change_apps<R: Runtime>(
    app: &AppHandle<R>,
    shell: &Shell,
    work: impl FnOnce(&mut Api) -> ApiResult<DifyApp>,
) -> ShellResult<DifyApp> {
    let changed = change(app, shell, work)?;
    apps_changed(app, shell)?;
    Ok(changed)
}

#[tauri::command]
pub async fn admin_set_password(
    shell: State<'_, Shell>,
    password: String,
) -> ShellResult<AdminStatus> {
    shell.ledger(|ledger| ledger.set_admin_password(ADMIN, &password))?;
    shell.open_admin_session()
}

/// Signs the island's admin in. The password is checked without holding the ledger, so a login never
/// holds up a charge; a wrong one is recorded, and too many lately refuse the login.
#[tauri::command]
pub async fn admin_login(shell: State<'_, Shell>, password: String) -> ShellResult<AdminStatus> {
    let stored = shell.ledger(|ledger| ledger.stored_admin_password(ADMIN))?;
    stored.check(&password, |stored| {
        shell.ledger(|ledger| ledger.record_wrong_password(stored))
    })?;
    shell.open_admin_session()
}

#[tauri::command]
pub async fn admin_logout(shell: State<'_, Shell>) -> ShellResult<()> {
    shell.close_admin_session();
    Ok(())
}

#[tauri::command]
pub async fn admin_change_password(
    shell: State<'_, Shell>,
    current: String,
    next: String,
) -> ShellResult<AdminStatus> {
    shell.caller().admin_name()?;
    shell.ledger(|ledger| ledger.change_admin_password(ADMIN, &current, &next))?;
    shell.open_admin_session()
}

#[tauri::command]
pub async fn admin_set_rate<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    rate: String,
    reason: String,
) -> ShellResult<RateChange> {
    change(&app, &shell, |api| api.set_rate(&rate, &reason))
}

#[tauri::command]
pub async fn admin_adjust_balance<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    user: String,
    kind: BalanceKind,
    amount: String,
    reason: String,
) -> ShellResult<Entry> {
    change(&app, &shell, |api| {
        api.change_balance(&user, kind, &amount, &reason)
    })
}

#[tauri::command]
pub async fn admin_reverse<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    entry_id: String,
    reason: String,
) -> ShellResult<Entry> {
    change(&app, &shell, |api| api.reverse(&entry_id, &reason))
}

#[tauri::command]
pub async fn admin_set_model<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
    input: String,
    output: String,
    reason: String,
) -> ShellResult<ModelConfig> {
    change(&app, &shell, |api| {
        api.set_model(&name, &input, &output, &reason)
    })
}

#[tauri::command]
pub async fn admin_set_model_active<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
    active: bool,
) -> ShellResult<ModelConfig> {
    change(&app, &shell, |api| api.set_model_active(&name, active))
}

#[tauri::command]
pub async fn admin_set_model_aliases<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
    aliases: Vec<String>,
) -> ShellResult<ModelConfig> {
    change(&app, &shell, |api| api.set_model_aliases(&name, &aliases))
}

#[tauri::command]
pub async fn admin_preview_import(
    shell: State<'_, Shell>,
    text: String,
) -> ShellResult<ImportPreview> {
    shell.api(|api| api.preview_import(&text))
}

/// Imports a price file, telling `on_progress` how far it has got.
#[tauri::command]
pub async fn admin_import_models<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    text: String,
    reason: String,
    on_progress: Channel<ImportProgress>,
) -> ShellResult<ImportReport> {
    let mut sent_percent = None;
    change(&app, &shell, |api| {
        api.import_models(&text, &reason, |progress| {
            // A message per percent, not per row: a LiteLLM price map has thousands of rows.
            let percent = progress.done * 100 / progress.total.max(1);
            if sent_percent != Some(percent) {
                sent_percent = Some(percent);
                // A window closed mid-import stops hearing; the import goes on.
                let _ = on_progress.send(progress);
            }
        })
    })
}

/// `model` none (or blank): the app is priced by Dify's reported price.
#[tauri::command]
pub async fn admin_add_app<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
    share_url: String,
    model: Option<String>,
) -> ShellResult<DifyApp> {
    change_apps(&app, &shell, |api| api.add_app(&name, &share_url, model))
}

#[tauri::command]
pub async fn admin_update_app<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: i64,
    name: String,
    share_url: String,
    model: Option<String>,
) -> ShellResult<DifyApp> {
    change_apps(&app, &shell, |api| {
        api.update_app(id, &name, &share_url, model)
    })
}

#[tauri::command]
pub async fn admin_set_app_enabled<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: i64,
    enabled: bool,
) -> ShellResult<DifyApp> {
    change_apps(&app, &shell, |api| api.set_app_enabled(id, enabled))
}

/// Loads the app's share page once and reports what came back.
#[tauri::command]
pub async fn admin_test_app(shell: State<'_, Shell>, id: i64) -> ShellResult<ConnectionTest> {
    let share_url = shell.api(|api| api.app_to_test(id))?;
    Ok(test_connection(&share_url).await?)
}

#[tauri::command]
pub async fn admin_set_policy<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    policy: PolicyForm,
) -> ShellResult<PolicyView> {
    change(&app, &shell, |api| api.set_policy(&policy))
}

#[tauri::command]
pub async fn admin_approve_held<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
    note: Option<String>,
    shown_micros: Option<Micros>,
) -> ShellResult<Entry> {
    change(&app, &shell, |api| {
        api.approve_held(&id, note.as_deref().unwrap_or(""), shown_micros)
    })
}

#[tauri::command]
pub async fn admin_reject_held<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
    note: Option<String>,
) -> ShellResult<HeldEvent> {
    change(&app, &shell, |api| {
        api.reject_held(&id, note.as_deref().unwrap_or(""))
    })
}

/// Runs a synthetic Dify message_end through the real charge path, as if the app's page had sent it.
#[tauri::command]
pub async fn admin_simulate<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    event: SimulatedEvent,
) -> ShellResult<ChargeResult> {
    let result = shell.api(|api| api.simulate(event))?;
    announce(&app, &shell, &result)?;
    Ok(result)
}
