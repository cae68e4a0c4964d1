//! What the reconciler reads from a Dify workspace, typed: its apps and their share codes, the chat
//! records of an app, workflow runs, and the daily token costs. Field names are Dify 1.9–1.14's; every
//! field the reconciler does not need may be missing.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

use super::console::{Console, ConsoleError, ConsoleResult};

/// Dify's largest page for these lists.
const PAGE_LIMIT: u32 = 100;
/// The console's `start`/`end` format, in the account's zone.
const CONSOLE_TIME: &str = "%Y-%m-%d %H:%M";
/// At most this many pages of one list in one run: a bound on a Dify that never says `has_more: false`.
const MAX_PAGES: u32 = 10_000;

/// An app of the workspace and the share code its web app is served under.
#[derive(Debug, Clone)]
pub struct WorkspaceApp {
    pub id: String,
    pub mode: String,
    pub share_code: Option<String>,
}

/// Dify's record of one reply (a message) or workflow run.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub kind: &'static str,
    pub conversation_id: Option<String>,
    pub from_source: Option<String>,
    pub end_user_id: Option<String>,
    pub session_id: Option<String>,
    pub status: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_price: Option<Decimal>,
    pub currency: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct DailyCost {
    pub day: NaiveDate,
    pub token_count: i64,
    pub total_price: Decimal,
    pub currency: String,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default)]
    has_more: bool,
    #[serde(default = "Vec::new")]
    data: Vec<T>,
}

#[derive(Deserialize)]
struct AppItem {
    id: String,
    #[serde(default)]
    mode: String,
}

#[derive(Deserialize)]
struct AppDetail {
    #[serde(default)]
    site: Option<Site>,
}

#[derive(Deserialize)]
struct Site {
    code: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct ConversationItem {
    id: String,
    from_source: Option<String>,
    from_end_user_id: Option<String>,
    from_end_user_session_id: Option<String>,
}

#[derive(Deserialize)]
struct MessageItem {
    id: String,
    #[serde(default)]
    message_tokens: Option<i64>,
    #[serde(default)]
    answer_tokens: Option<i64>,
    #[serde(default)]
    status: Option<String>,
    created_at: i64,
    #[serde(default)]
    metadata: Value,
}

#[derive(Deserialize)]
struct WorkflowLogItem {
    /// Null when the run was deleted.
    workflow_run: Option<WorkflowRun>,
    created_from: Option<String>,
    created_by_end_user: Option<EndUser>,
}

#[derive(Deserialize)]
struct WorkflowRun {
    id: String,
    status: String,
    #[serde(default)]
    total_tokens: Option<i64>,
    created_at: i64,
}

#[derive(Deserialize)]
struct EndUser {
    id: Option<String>,
    session_id: Option<String>,
}

#[derive(Deserialize)]
struct CostItem {
    date: String,
    #[serde(default)]
    token_count: i64,
    #[serde(default)]
    total_price: Value,
    #[serde(default)]
    currency: Option<String>,
}

/// The console's time format in `zone`.
pub fn console_time(zone: Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(&zone).format(CONSOLE_TIME).to_string()
}

/// Every app of the workspace with its share code (one detail call per app).
pub async fn apps(console: &mut Console) -> ConsoleResult<Vec<WorkspaceApp>> {
    let mut apps = Vec::new();
    for page in 1..=MAX_PAGES {
        let items: Page<AppItem> = console
            .get(
                "apps",
                "apps",
                &[
                    ("page", page.to_string()),
                    ("limit", PAGE_LIMIT.to_string()),
                ],
            )
            .await?;
        for item in items.data {
            let detail: AppDetail = console
                .get("apps/{app}", &format!("apps/{}", item.id), &[])
                .await?;
            let share_code = detail.site.and_then(|site| site.code.or(site.access_token));
            apps.push(WorkspaceApp {
                id: item.id,
                mode: item.mode,
                share_code,
            });
        }
        if !items.has_more {
            break;
        }
    }
    Ok(apps)
}

/// The chat records of conversations updated from `since` (inclusive) on, each conversation's
/// messages back to `since`.
pub async fn chat_records(
    console: &mut Console,
    app: &str,
    zone: Tz,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> ConsoleResult<Vec<Record>> {
    let mut conversations = Vec::new();
    for page in 1..=MAX_PAGES {
        let items: Page<ConversationItem> = console
            .get(
                "apps/{app}/chat-conversations",
                &format!("apps/{app}/chat-conversations"),
                &[
                    ("start", console_time(zone, since)),
                    ("end", console_time(zone, until)),
                    ("sort_by", "-updated_at".into()),
                    ("page", page.to_string()),
                    ("limit", PAGE_LIMIT.to_string()),
                ],
            )
            .await?;
        conversations.extend(items.data);
        if !items.has_more {
            break;
        }
    }
    let mut records = Vec::new();
    for conversation in conversations {
        match conversation_records(console, app, &conversation, since).await {
            Ok(found) => records.extend(found),
            // Deleted since it was listed: nothing of it is left to reconcile.
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(error),
        }
    }
    Ok(records)
}

/// One conversation's messages from newest back to `since`, page by page.
async fn conversation_records(
    console: &mut Console,
    app: &str,
    conversation: &ConversationItem,
    since: DateTime<Utc>,
) -> ConsoleResult<Vec<Record>> {
    let mut records = Vec::new();
    let mut first_id: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut query = vec![
            ("conversation_id", conversation.id.clone()),
            ("limit", PAGE_LIMIT.to_string()),
        ];
        if let Some(first) = &first_id {
            query.push(("first_id", first.clone()));
        }
        let page: Page<MessageItem> = console
            .get(
                "apps/{app}/chat-messages",
                &format!("apps/{app}/chat-messages"),
                &query,
            )
            .await?;
        let oldest = page
            .data
            .first()
            .map(|item| (item.id.clone(), item.created_at));
        for item in page.data {
            records.push(message_record(conversation, item)?);
        }
        match oldest {
            Some((id, created_at)) if page.has_more && created_at >= since.timestamp() => {
                first_id = Some(id);
            }
            _ => break,
        }
    }
    Ok(records)
}

fn message_record(conversation: &ConversationItem, item: MessageItem) -> ConsoleResult<Record> {
    let usage = &item.metadata["usage"];
    let tokens = |top: Option<i64>, name: &str| {
        top.filter(|tokens| *tokens > 0)
            .or_else(|| usage[name].as_i64())
            .unwrap_or(0)
            .max(0)
    };
    Ok(Record {
        prompt_tokens: tokens(item.message_tokens, "prompt_tokens"),
        completion_tokens: tokens(item.answer_tokens, "completion_tokens"),
        total_price: decimal(&usage["total_price"]),
        currency: usage["currency"].as_str().map(str::to_owned),
        id: item.id,
        kind: "message",
        conversation_id: Some(conversation.id.clone()),
        from_source: conversation.from_source.clone(),
        end_user_id: conversation.from_end_user_id.clone(),
        session_id: conversation.from_end_user_session_id.clone(),
        status: item.status.unwrap_or_else(|| "normal".into()),
        created_at: unix_time("apps/{app}/chat-messages", item.created_at)?,
    })
}

/// Workflow runs (one record per run) created from `since` on; tokens are the run's total, counted as
/// completion tokens since Dify does not split them.
pub async fn workflow_records(
    console: &mut Console,
    app: &str,
    since: DateTime<Utc>,
) -> ConsoleResult<Vec<Record>> {
    let mut records = Vec::new();
    for page in 1..=MAX_PAGES {
        let items: Page<WorkflowLogItem> = console
            .get(
                "apps/{app}/workflow-app-logs",
                &format!("apps/{app}/workflow-app-logs"),
                &[
                    ("created_at__after", since.to_rfc3339()),
                    ("page", page.to_string()),
                    ("limit", PAGE_LIMIT.to_string()),
                ],
            )
            .await?;
        for item in items.data {
            let Some(run) = item.workflow_run else {
                continue;
            };
            let end_user = item.created_by_end_user;
            records.push(Record {
                id: run.id,
                kind: "workflow_run",
                conversation_id: None,
                from_source: item.created_from,
                end_user_id: end_user.as_ref().and_then(|user| user.id.clone()),
                session_id: end_user.and_then(|user| user.session_id),
                status: run.status,
                prompt_tokens: 0,
                completion_tokens: run.total_tokens.unwrap_or(0).max(0),
                total_price: None,
                currency: None,
                created_at: unix_time("apps/{app}/workflow-app-logs", run.created_at)?,
            });
        }
        if !items.has_more {
            break;
        }
    }
    Ok(records)
}

/// Dify's tokens and price per day of the account's zone (days are the console's), `from` to `to`
/// inclusive.
pub async fn daily_costs(
    console: &mut Console,
    app: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> ConsoleResult<Vec<DailyCost>> {
    let endpoint = "apps/{app}/statistics/token-costs";
    let midnight = |day: NaiveDate| format!("{} 00:00", day.format("%Y-%m-%d"));
    let answer: Page<CostItem> = console
        .get(
            endpoint,
            &format!("apps/{app}/statistics/token-costs"),
            &[
                ("start", midnight(from)),
                ("end", midnight(to.succ_opt().unwrap_or(to))),
            ],
        )
        .await?;
    answer
        .data
        .into_iter()
        .map(|item| {
            let day = NaiveDate::parse_from_str(&item.date, "%Y-%m-%d").map_err(|_| {
                ConsoleError::Shape {
                    endpoint,
                    message: format!("date {:?} is not YYYY-MM-DD", item.date),
                }
            })?;
            Ok(DailyCost {
                day,
                token_count: item.token_count.max(0),
                total_price: decimal(&item.total_price).unwrap_or_default(),
                currency: item.currency.unwrap_or_else(|| "USD".into()),
            })
        })
        .collect()
}

/// A price Dify wrote as a string (or, in some versions, a number), exactly.
fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

fn unix_time(endpoint: &'static str, seconds: i64) -> ConsoleResult<DateTime<Utc>> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .ok_or_else(|| ConsoleError::Shape {
            endpoint,
            message: format!("created_at {seconds} is no time"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_exactly_from_strings_or_numbers() {
        assert_eq!(
            decimal(&Value::from("0.0001250")),
            Some("0.000125".parse().unwrap())
        );
        assert_eq!(
            decimal(&serde_json::json!(0.0025)),
            Some("0.0025".parse().unwrap())
        );
        assert_eq!(decimal(&Value::Null), None);
        assert_eq!(decimal(&Value::from("free")), None);
    }

    #[test]
    fn tokens_come_from_the_columns_or_the_usage() {
        let conversation = ConversationItem {
            id: "c".into(),
            from_source: Some("api".into()),
            from_end_user_id: None,
            from_end_user_session_id: Some("u".into()),
        };
        let item = |tokens: Option<i64>, usage: Value| MessageItem {
            id: "m".into(),
            message_tokens: tokens,
            answer_tokens: tokens,
            status: None,
            created_at: 1_700_000_000,
            metadata: serde_json::json!({ "usage": usage }),
        };
        let usage = serde_json::json!({"prompt_tokens": 12, "completion_tokens": 5,
            "total_price": "0.0003", "currency": "USD"});
        let from_usage = message_record(&conversation, item(Some(0), usage.clone())).unwrap();
        assert_eq!(
            (from_usage.prompt_tokens, from_usage.completion_tokens),
            (12, 5)
        );
        assert_eq!(from_usage.total_price, Some("0.0003".parse().unwrap()));
        assert_eq!(from_usage.status, "normal");
        let from_columns = message_record(&conversation, item(Some(7), usage)).unwrap();
        assert_eq!(
            (from_columns.prompt_tokens, from_columns.completion_tokens),
            (7, 7)
        );
        let empty = message_record(&conversation, item(None, Value::Null)).unwrap();
        assert_eq!((empty.prompt_tokens, empty.completion_tokens), (0, 0));
        assert_eq!(empty.total_price, None);
    }
}
