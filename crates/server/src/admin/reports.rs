//! Spend reports: counted charges net of their reversals, per user, app, model or UTC day, filtered by
//! dates, user, app and model, as JSON or CSV.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Deserialize;
use tokendesk_sync_proto::admin::{Report, ReportBy, ReportRow};
use tokendesk_sync_proto::money::micros_to_credits;
use tokendesk_sync_proto::{ErrorBody, csv_text};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AdminSession;
use crate::error::{ApiError, ApiResult, Json, Query};
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report))
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ReportQuery {
    /// `user` (the default), `app`, `model` or `day` (UTC).
    #[param(inline)]
    by: Option<ReportBy>,
    /// The first day counted (UTC, `YYYY-MM-DD`), inclusive.
    from: Option<NaiveDate>,
    /// The last day counted (UTC, `YYYY-MM-DD`), inclusive.
    to: Option<NaiveDate>,
    /// Only this user's spend (their name).
    user: Option<String>,
    /// Only this app's spend: its name as the report by app shows it.
    app: Option<String>,
    /// Only this model's spend.
    model: Option<String>,
    /// `json` (the default) or `csv`.
    #[param(inline)]
    format: Option<Format>,
}

/// The SQL that names a row's group. A reversal is grouped with the charge it reverses (`r`): same app,
/// model and day, so a refund nets out where the spend was, whatever usage it carries itself.
fn key_sql(by: ReportBy) -> &'static str {
    match by {
        ReportBy::User => "u.name",
        ReportBy::App => {
            "COALESCE(a.name, e.usage->>'app_name', r.usage->>'app_name', COALESCE(e.app_id, r.app_id)::text, '(no app)')"
        }
        ReportBy::Model => "COALESCE(e.model, r.model, '(no model)')",
        ReportBy::Day => {
            "to_char((COALESCE(r.occurred_at, e.occurred_at) AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD')"
        }
    }
}

type Instant = DateTime<Utc>;

/// The half-open instants [from 00:00 UTC, the day after `to` 00:00 UTC) of inclusive dates.
fn bounds(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> ApiResult<(Option<Instant>, Option<Instant>)> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::bad(
            "bad_range",
            format!("from ({from}) is after to ({to})"),
        ));
    }
    let start = from.map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc());
    let end = to
        .map(|day| {
            day.checked_add_days(Days::new(1))
                .ok_or_else(|| ApiError::bad("bad_range", "to is too late"))
        })
        .transpose()?
        .map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc());
    Ok((start, end))
}

async fn rows(
    state: &AppState,
    org_id: uuid::Uuid,
    by: ReportBy,
    query: &ReportQuery,
) -> ApiResult<Vec<ReportRow>> {
    let (start, end) = bounds(query.from, query.to)?;
    let sql = format!(
        "SELECT key, (-SUM(amount_micros))::BIGINT, SUM(sign * prompt)::BIGINT, SUM(sign * completion)::BIGINT,
                SUM(sign * reply)::BIGINT
           FROM (SELECT {key} AS key, e.amount_micros,
                        CASE WHEN e.kind = 'reversal' THEN -1 ELSE 1 END AS sign,
                        -- A side call (Dify's auto-naming, suggested questions) spends but is no message.
                        -- A true-up corrects a reply already counted.
                        CASE WHEN COALESCE(e.usage, r.usage)->>'side_call' IS NULL
                                  AND COALESCE(r.kind, e.kind) <> 'true_up' THEN 1 ELSE 0 END AS reply,
                        COALESCE(e.prompt_tokens, r.prompt_tokens, 0) AS prompt,
                        COALESCE(e.completion_tokens, r.completion_tokens, 0) AS completion
                   FROM entries e
                   JOIN users u ON u.org_id = e.org_id AND u.id = e.user_id
                   LEFT JOIN entries r ON r.org_id = e.org_id AND r.id = e.reverses_id
                   LEFT JOIN dify_apps a ON a.org_id = e.org_id AND a.id = COALESCE(e.app_id, r.app_id)
                  WHERE e.org_id = $1 AND {spend}
                    AND ($2::timestamptz IS NULL OR COALESCE(r.occurred_at, e.occurred_at) >= $2)
                    AND ($3::timestamptz IS NULL OR COALESCE(r.occurred_at, e.occurred_at) < $3)
                    AND ($4::text IS NULL OR {user} = $4)
                    AND ($5::text IS NULL OR {app} = $5)
                    AND ($6::text IS NULL OR {model} = $6)) AS spend
          GROUP BY key ORDER BY key",
        key = key_sql(by),
        spend = crate::entries::SPEND_FILTER,
        user = key_sql(ReportBy::User),
        app = key_sql(ReportBy::App),
        model = key_sql(ReportBy::Model),
    );
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(org_id)
        .bind(start)
        .bind(end)
        .bind(&query.user)
        .bind(&query.app)
        .bind(&query.model)
        .fetch_all(&state.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(key, credits_micros, prompt_tokens, completion_tokens, messages)| ReportRow {
                key,
                credits_micros,
                prompt_tokens,
                completion_tokens,
                messages,
            },
        )
        .collect())
}

fn by_name(by: ReportBy) -> &'static str {
    match by {
        ReportBy::User => "user",
        ReportBy::App => "app",
        ReportBy::Model => "model",
        ReportBy::Day => "day",
    }
}

/// The report as CSV: the key (text, neutralised), credits as an exact decimal, then the counts.
fn csv(report: &Report) -> ApiResult<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |error: csv::Error| ApiError::internal(format!("cannot write the CSV: {error}"));
    writer
        .write_record([
            by_name(report.by),
            "credits",
            "prompt_tokens",
            "completion_tokens",
            "messages",
        ])
        .map_err(failed)?;
    for row in &report.rows {
        writer
            .write_record([
                csv_text(&row.key),
                micros_to_credits(row.credits_micros).to_string(),
                row.prompt_tokens.to_string(),
                row.completion_tokens.to_string(),
                row.messages.to_string(),
            ])
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| ApiError::internal(format!("cannot write the CSV: {error}")))?;
    String::from_utf8(bytes)
        .map_err(|error| ApiError::internal(format!("the CSV is not UTF-8: {error}")))
}

/// Spend per user, app, model or UTC day between two dates (inclusive), of one user, app or model if
/// asked: counted charges net of their reversals (a reversal counts −1 message and negative tokens, on its charge's day). `format=csv`
/// answers `text/csv`.
#[utoipa::path(
    get,
    path = "/v1/admin/report",
    tag = "admin",
    security(("bearer" = [])),
    params(ReportQuery),
    responses(
        (status = 200, description = "The report", content(
            (Report = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "`bad_query` or `bad_range`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn report(
    session: AdminSession,
    State(state): State<AppState>,
    Query(query): Query<ReportQuery>,
) -> ApiResult<Response> {
    let by = query.by.unwrap_or(ReportBy::User);
    let rows = rows(&state, session.org_id, by, &query).await?;
    let report = Report {
        by,
        from: query.from,
        to: query.to,
        user: query.user,
        app: query.app,
        model: query.model,
        rows,
    };
    Ok(match query.format.unwrap_or_default() {
        Format::Json => Json(report).into_response(),
        Format::Csv => {
            let disposition = format!(
                "attachment; filename=\"tokendesk-report-by-{}.csv\"",
                by_name(by)
            );
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                csv(&report)?,
            )
                .into_response()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_but_numbers_are_not() {
        let report = Report {
            by: ReportBy::User,
            from: None,
            to: None,
            user: None,
            app: None,
            model: None,
            rows: vec![
                ReportRow {
                    key: "=HYPERLINK(\"x\")".into(),
                    credits_micros: -12_500_000,
                    prompt_tokens: -10,
                    completion_tokens: 3,
                    messages: -1,
                },
                ReportRow {
                    key: "ana".into(),
                    credits_micros: 1_000_000,
                    prompt_tokens: 5,
                    completion_tokens: 6,
                    messages: 2,
                },
                ReportRow {
                    key: "+1".into(),
                    credits_micros: 0,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    messages: 0,
                },
                ReportRow {
                    key: "-x".into(),
                    credits_micros: 0,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    messages: 0,
                },
                ReportRow {
                    key: "@sum".into(),
                    credits_micros: 0,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    messages: 0,
                },
            ],
        };
        let text = csv(&report).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "user,credits,prompt_tokens,completion_tokens,messages"
        );
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"x\"\")\",-12.5,-10,3,-1");
        assert_eq!(lines[2], "ana,1,5,6,2");
        assert_eq!(lines[3], "'+1,0,0,0,0");
        assert_eq!(lines[4], "'-x,0,0,0,0");
        assert_eq!(lines[5], "'@sum,0,0,0,0");
    }

    #[test]
    fn dates_bound_whole_utc_days() {
        let day = |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        let (start, end) = bounds(Some(day("2026-03-01")), Some(day("2026-03-01"))).unwrap();
        assert_eq!(start.unwrap().to_rfc3339(), "2026-03-01T00:00:00+00:00");
        assert_eq!(end.unwrap().to_rfc3339(), "2026-03-02T00:00:00+00:00");
        assert_eq!(bounds(None, None).unwrap(), (None, None));
        let error = bounds(Some(day("2026-03-02")), Some(day("2026-03-01"))).expect_err("reversed");
        assert_eq!(error.code(), "bad_range");
    }
}
