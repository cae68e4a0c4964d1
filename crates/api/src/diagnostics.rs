//! The diagnostics window's simulation: a synthetic Dify `message_end` through the real charge path.

use serde::Deserialize;
use tokendesk_ledger::ChargeResult;

use crate::{Api, ApiResult};

/// A reply to simulate, as if the app's page had sent its `message_end`.
#[derive(Debug, Clone, Deserialize, ts_rs::TS)]
pub struct SimulatedEvent {
    pub app_id: i64,
    /// Priced as this model instead of the app's binding; none (or blank): as the app is bound.
    pub model: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Dify's reported `total_price` in USD, as Dify sends it: a decimal string.
    pub dify_total_price: Option<String>,
    /// None (or blank): a fresh one.
    pub message_id: Option<String>,
}

impl Api<'_> {
    pub fn simulate(&mut self, event: SimulatedEvent) -> ApiResult<ChargeResult> {
        let (ledger, _) = self.as_admin()?;
        let dify_app = ledger.app(event.app_id)?;
        let now = ledger.now();
        let message_id = event
            .message_id
            .filter(|id| !id.trim().is_empty())
            .unwrap_or_else(|| format!("diagnostics-{}", now.timestamp_micros()));
        let frame = serde_json::json!({
            "event": "message_end", "conversation_id": "diagnostics", "message_id": message_id, "id": message_id,
            "created_at": now.timestamp(), "task_id": "diagnostics",
            "metadata": {"usage": {
                "prompt_tokens": event.prompt_tokens, "completion_tokens": event.completion_tokens,
                "total_tokens": event.prompt_tokens.saturating_add(event.completion_tokens),
                // Dify reports "0" for a model it has no price for.
                "total_price": event.dify_total_price.as_deref().map_or("0", str::trim), "currency": "USD"}},
            "files": null,
        })
        .to_string();
        Ok(match event.model.filter(|model| !model.trim().is_empty()) {
            Some(model) => ledger.record_frame_priced_as(&dify_app.share_url, &frame, &model),
            None => ledger.record_frame(&dify_app.share_url, &frame),
        }?)
    }
}
