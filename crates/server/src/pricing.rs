//! The server's re-pricing of a device's charge, with the one formula both ends share.

use rust_decimal::Decimal;
use tokendesk_sync_proto::device::{AppConfig, ConfigSnapshot, SideCall, SideCallPricing, Usage};
use tokendesk_sync_proto::money::{Price, Pricing, usd_for_tokens, usd_to_micros};
use uuid::Uuid;

/// What a reply of the app, or a side call beside one, costs at this snapshot, in positive
/// micro-credits. A side call is priced by the policy's choice; only an estimate goes by the app's model.
pub fn price_event(
    snapshot: &ConfigSnapshot,
    app_id: Uuid,
    side_call: Option<SideCall>,
    prompt_tokens: u64,
    completion_tokens: u64,
    dify_total_price: Option<Decimal>,
    dify_currency: Option<&str>,
) -> Result<i64, String> {
    let app = app_at(snapshot, app_id)?;
    match (side_call, snapshot.policy.side_calls) {
        (Some(_), SideCallPricing::Free) => return Ok(0),
        (Some(_), SideCallPricing::Fixed) => return Ok(snapshot.policy.side_call_fixed_micros),
        (Some(_), SideCallPricing::Estimate) if app.pricing != Pricing::Model => {
            return Err(format!(
                "app {} is priced by Dify, so its side calls cannot be estimated",
                app.name
            ));
        }
        _ => {}
    }
    let (usd, _) = reply_usd(
        snapshot,
        app,
        prompt_tokens,
        completion_tokens,
        dify_total_price,
        dify_currency,
    )?;
    usd_to_micros(usd, snapshot.credits_per_usd).ok_or_else(|| "the amount overflows".to_string())
}

/// The app as `snapshot` has it, or why not.
fn app_at(snapshot: &ConfigSnapshot, app_id: Uuid) -> Result<&AppConfig, String> {
    snapshot.app(app_id).ok_or_else(|| {
        format!(
            "app {app_id} is unknown at config version {}",
            snapshot.version
        )
    })
}

/// What a reply of `app` costs in USD at this snapshot, and the model price it was priced at (none when
/// priced by Dify).
fn reply_usd(
    snapshot: &ConfigSnapshot,
    app: &AppConfig,
    prompt_tokens: u64,
    completion_tokens: u64,
    dify_total_price: Option<Decimal>,
    dify_currency: Option<&str>,
) -> Result<(Decimal, Option<Price>), String> {
    let version = snapshot.version;
    match app.pricing {
        Pricing::Model => {
            let name = app
                .model
                .as_deref()
                .ok_or_else(|| format!("app {} has no bound model", app.name))?;
            let model = snapshot
                .model(name)
                .ok_or_else(|| format!("model {name} is unknown at config version {version}"))?;
            if !model.active {
                return Err(format!(
                    "model {} is inactive at config version {version}",
                    model.name
                ));
            }
            let usd = usd_for_tokens(prompt_tokens, completion_tokens, &model.price)
                .ok_or_else(|| "the token counts overflow the price".to_string())?;
            Ok((usd, Some(model.price)))
        }
        Pricing::DifyPrice => match (dify_total_price, dify_currency) {
            (Some(total), Some(currency))
                if currency.eq_ignore_ascii_case("USD") && total > Decimal::ZERO =>
            {
                Ok((total, None))
            }
            _ => Err(format!(
                "app {} is priced by Dify, and Dify reported no USD price",
                app.name
            )),
        },
    }
}

/// A reply as Dify recorded it, priced at `snapshot`: positive micro-credits and the usage an entry
/// made of it keeps.
pub struct RecordedReply<'a> {
    pub app_id: Uuid,
    pub message_id: &'a str,
    pub conversation_id: Option<&'a str>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub dify_total_price: Option<Decimal>,
    pub dify_currency: Option<&'a str>,
}

pub fn price_recorded(
    snapshot: &ConfigSnapshot,
    reply: &RecordedReply<'_>,
) -> Result<(i64, Usage), String> {
    let app = app_at(snapshot, reply.app_id)?;
    let (usd_cost, price) = reply_usd(
        snapshot,
        app,
        reply.prompt_tokens,
        reply.completion_tokens,
        reply.dify_total_price,
        reply.dify_currency,
    )?;
    let micros = usd_to_micros(usd_cost, snapshot.credits_per_usd)
        .ok_or_else(|| "the amount overflows".to_string())?;
    let usage = Usage {
        app_id: app.id,
        app_name: app.name.clone(),
        message_id: reply.message_id.to_owned(),
        conversation_id: reply.conversation_id.map(str::to_owned),
        pricing: app.pricing,
        model: app.model.clone(),
        prompt_tokens: reply.prompt_tokens,
        completion_tokens: reply.completion_tokens,
        price,
        credits_per_usd: snapshot.credits_per_usd,
        usd_cost,
        dify_total_price: reply.dify_total_price,
        dify_currency: reply.dify_currency.map(str::to_owned),
        estimated: false,
        side_call: None,
    };
    Ok((micros, usage))
}

/// The server's amount for a pushed charge; `Err` says why it cannot be priced as the device did.
pub fn reprice(snapshot: &ConfigSnapshot, usage: &Usage) -> Result<i64, String> {
    let app = app_at(snapshot, usage.app_id)?;
    // A side call's id is the device's own for it: an id Dify gave (a reply's) is no side call.
    if let Some(kind) = usage.side_call
        && !usage.message_id.starts_with(&format!("{}:", kind.as_str()))
    {
        return Err(format!(
            "message {} is tagged a side call, but it is not one",
            usage.message_id
        ));
    }
    // A side call not priced by tokens has no model or pricing of its own to check.
    let by_tokens = snapshot.policy.prices_by_tokens(usage.side_call);
    if by_tokens && usage.pricing != app.pricing {
        return Err(format!(
            "the device priced by {} but app {} is priced by {}",
            usage.pricing.as_str(),
            app.name,
            app.pricing.as_str()
        ));
    }
    if by_tokens && app.pricing == Pricing::Model {
        // The device may have recorded the bound model by an alias of it.
        let bound = app
            .model
            .as_deref()
            .and_then(|name| snapshot.model(name))
            .map(|m| m.name.as_str());
        let used = usage
            .model
            .as_deref()
            .and_then(|name| snapshot.model(name))
            .map(|m| m.name.as_str());
        if bound.is_none() || bound != used {
            return Err(format!(
                "the device priced model {} but app {} is bound to {}",
                usage.model.as_deref().unwrap_or("(none)"),
                app.name,
                app.model.as_deref().unwrap_or("(none)")
            ));
        }
    }
    price_event(
        snapshot,
        usage.app_id,
        usage.side_call,
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.dify_total_price,
        usage.dify_currency.as_deref(),
    )
}
