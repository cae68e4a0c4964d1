//! Admin commands. Each needs a live admin session, records the admin as the actor, and tells the
//! windows that the ledger changed.

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tauri::ipc::Channel;
use tauri::{AppHandle, Runtime, State};
use tokendesk_ledger::apps::{AppBinding, DifyApp};
use tokendesk_ledger::guards::Policy;
use tokendesk_ledger::held::HeldEvent;
use tokendesk_ledger::money::{Price, parse_credits, parse_price, parse_rate};
use tokendesk_ledger::pricing::{
    ImportPreview, ImportProgress, ImportReport, ModelConfig, RateChange,
};
use tokendesk_ledger::{ChargeResult, Entry, Ledger, LedgerError};

use super::staff::PolicyView;
use super::{announce, apps_changed, ledger_changed};
use crate::error::ShellResult;
use crate::state::{ADMIN, AdminStatus, Shell};

/// Runs an admin change on the ledger, then tells the windows.
fn change<R: Runtime, T>(
    app: &AppHandle<R>,
    shell: &Shell,
    work: impl FnOnce(&mut Ledger, &str) -> tokendesk_ledger::Result<T>,
) -> ShellResult<T> {
    let admin = shell.require_admin()?;
    let value = shell.ledger(|ledger| work(ledger, admin))?;
    ledger_changed(app, shell)?;
    Ok(value)
}

#[tauri::command]
pub async fn admin_set_password(
    shell: State<'_, Shell>,
    password: String,
) -> ShellResult<AdminStatus> {
    shell.ledger(|ledger| ledger.set_admin_password(ADMIN, &password))?;
    shell.open_admin_session()
}

#[tauri::command]
pub async fn admin_login(shell: State<'_, Shell>, password: String) -> ShellResult<AdminStatus> {
    shell.ledger(|ledger| ledger.check_admin_password(ADMIN, &password))?;
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
    new: String,
) -> ShellResult<AdminStatus> {
    shell.require_admin()?;
    shell.ledger(|ledger| ledger.change_admin_password(ADMIN, &current, &new))?;
    shell.open_admin_session()
}

#[tauri::command]
pub async fn admin_set_rate<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    rate: String,
    reason: String,
) -> ShellResult<RateChange> {
    let rate = parse_rate(&rate)?;
    change(&app, &shell, |ledger, admin| {
        ledger.set_exchange_rate(rate, admin, &reason)
    })
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceKind {
    Grant,
    Topup,
    Adjust,
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
    let micros = parse_credits(&amount)?;
    change(&app, &shell, |ledger, admin| match kind {
        BalanceKind::Grant => ledger.grant(&user, micros, admin, &reason),
        BalanceKind::Topup => ledger.top_up(&user, micros, admin, &reason),
        BalanceKind::Adjust => ledger.adjust(&user, micros, admin, &reason),
    })
}

#[tauri::command]
pub async fn admin_reverse<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    entry_id: String,
    reason: String,
) -> ShellResult<Entry> {
    change(&app, &shell, |ledger, admin| {
        ledger.reverse(&entry_id, admin, &reason)
    })
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
    let price = Price {
        input_per_1k: parse_price(&input)?,
        output_per_1k: parse_price(&output)?,
    };
    change(&app, &shell, |ledger, admin| {
        ledger.set_model(&name, price, admin, &reason)
    })
}

#[tauri::command]
pub async fn admin_set_model_active<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
    active: bool,
) -> ShellResult<ModelConfig> {
    change(&app, &shell, |ledger, _| {
        ledger.set_model_active(&name, active)
    })
}

#[tauri::command]
pub async fn admin_set_model_aliases<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
    aliases: Vec<String>,
) -> ShellResult<ModelConfig> {
    change(&app, &shell, |ledger, _| {
        ledger.set_model_aliases(&name, &aliases)
    })
}

#[tauri::command]
pub async fn admin_preview_import(
    shell: State<'_, Shell>,
    text: String,
) -> ShellResult<ImportPreview> {
    shell.require_admin()?;
    shell.ledger(|ledger| ledger.preview_import(&text))
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
    change(&app, &shell, |ledger, admin| {
        ledger.import_models(&text, admin, &reason, |progress| {
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

/// A model name binds to that model; none (or a blank one) to Dify's reported price.
fn binding(model: Option<String>) -> AppBinding {
    model
        .filter(|model| !model.trim().is_empty())
        .map_or(AppBinding::DifyPrice, AppBinding::Model)
}

#[tauri::command]
pub async fn admin_add_app<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    name: String,
    share_url: String,
    model: Option<String>,
) -> ShellResult<DifyApp> {
    let added = change(&app, &shell, |ledger, _| {
        ledger.add_app(&name, &share_url, &binding(model), false)
    })?;
    apps_changed(&app, &shell)?;
    Ok(added)
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
    let updated = change(&app, &shell, |ledger, _| {
        ledger.update_app(id, &name, &share_url, &binding(model))
    })?;
    apps_changed(&app, &shell)?;
    Ok(updated)
}

#[tauri::command]
pub async fn admin_set_app_enabled<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: i64,
    enabled: bool,
) -> ShellResult<DifyApp> {
    let changed = change(&app, &shell, |ledger, _| {
        ledger.set_app_enabled(id, enabled)
    })?;
    apps_changed(&app, &shell)?;
    Ok(changed)
}

#[derive(Debug, Serialize)]
pub struct ConnectionTest {
    ok: bool,
    status: Option<u16>,
    message: String,
}

/// Loads the app's share page once and reports what came back.
#[tauri::command]
pub async fn admin_test_app(shell: State<'_, Shell>, id: i64) -> ShellResult<ConnectionTest> {
    shell.require_admin()?;
    let dify_app = shell.ledger(|ledger| ledger.app(id))?;
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|err| LedgerError::Invalid(format!("no HTTP client: {err}")))?;
    Ok(match client.get(&dify_app.share_url).send().await {
        Ok(response) => ConnectionTest {
            ok: response.status().is_success(),
            status: Some(response.status().as_u16()),
            message: format!(
                "HTTP {} in {} ms",
                response.status(),
                started.elapsed().as_millis()
            ),
        },
        Err(error) => ConnectionTest {
            ok: false,
            status: None,
            message: error.to_string(),
        },
    })
}

/// The policy as the admin window edits it: amounts as decimal strings of credits.
#[derive(Debug, Deserialize)]
pub struct PolicyForm {
    integration_enabled: bool,
    min_balance: String,
    event_cap: String,
    flood_max_per_minute: i64,
    low_balance: String,
    max_tokens_per_event: i64,
    daily_budget: String,
    monthly_budget: String,
}

#[tauri::command]
pub async fn admin_set_policy<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    policy: PolicyForm,
) -> ShellResult<PolicyView> {
    let policy = Policy {
        integration_enabled: policy.integration_enabled,
        min_balance_micros: parse_credits(&policy.min_balance)?,
        event_cap_micros: parse_credits(&policy.event_cap)?,
        flood_max_per_minute: policy.flood_max_per_minute,
        low_balance_micros: parse_credits(&policy.low_balance)?,
        max_tokens_per_event: policy.max_tokens_per_event,
        daily_budget_micros: parse_credits(&policy.daily_budget)?,
        monthly_budget_micros: parse_credits(&policy.monthly_budget)?,
    };
    Ok(change(&app, &shell, |ledger, admin| {
        ledger.set_policy(&policy, admin)
    })?
    .into())
}

#[tauri::command]
pub async fn admin_approve_held<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
    note: Option<String>,
) -> ShellResult<Entry> {
    change(&app, &shell, |ledger, admin| {
        ledger.approve_held(&id, admin, note.as_deref().unwrap_or(""))
    })
}

#[tauri::command]
pub async fn admin_reject_held<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    id: String,
    note: Option<String>,
) -> ShellResult<HeldEvent> {
    change(&app, &shell, |ledger, admin| {
        ledger.reject_held(&id, admin, note.as_deref().unwrap_or(""))
    })
}

#[derive(Debug, Deserialize)]
pub struct SimulatedEvent {
    app_id: i64,
    /// Priced as this model instead of the app's binding.
    model: Option<String>,
    prompt_tokens: u64,
    completion_tokens: u64,
    /// Dify's reported `total_price` in USD, as Dify sends it: a decimal string.
    dify_total_price: Option<String>,
    message_id: Option<String>,
}

/// Runs a synthetic Dify message_end through the real charge path, as if the app's page had sent it.
#[tauri::command]
pub async fn admin_simulate<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    event: SimulatedEvent,
) -> ShellResult<ChargeResult> {
    shell.require_admin()?;
    let dify_app = shell.ledger(|ledger| ledger.app(event.app_id))?;
    let message_id = event
        .message_id
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(|| format!("diagnostics-{}", chrono::Utc::now().timestamp_micros()));
    let frame = serde_json::json!({
        "event": "message_end", "conversation_id": "diagnostics", "message_id": message_id, "id": message_id,
        "created_at": chrono::Utc::now().timestamp(), "task_id": "diagnostics",
        "metadata": {"usage": {
            "prompt_tokens": event.prompt_tokens, "completion_tokens": event.completion_tokens,
            "total_tokens": event.prompt_tokens.saturating_add(event.completion_tokens),
            // Dify reports "0" for a model it has no price for.
            "total_price": event.dify_total_price.as_deref().map_or("0", str::trim), "currency": "USD"}},
        "files": null,
    });
    let model = event.model.filter(|model| !model.trim().is_empty());
    let result = shell.ledger(|ledger| match model {
        Some(model) => {
            ledger.record_frame_priced_as(&dify_app.share_url, &frame.to_string(), &model)
        }
        None => ledger.record_frame(&dify_app.share_url, &frame.to_string()),
    })?;
    announce(&app, &shell, &result)?;
    Ok(result)
}
