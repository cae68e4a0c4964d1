//! `tokendesk org dify …` and `tokendesk org reconcile`: the org's Dify workspaces, and reconciliation
//! with Dify's own records, run on the org server.

use chrono::NaiveDate;
use clap::Subcommand;
use tokendesk_api::org::OrgApi;
use tokendesk_ledger::money::micros_to_credits;
use tokendesk_sync_proto::reconcile::{
    DifyCredentials, NewDifyConnection, ReconcileRequest, ReconciliationQuery,
};
use uuid::Uuid;

use crate::commands::{CliError, CliResult, Printer, table};
use crate::org::read_password;

#[derive(Subcommand)]
pub enum OrgDify {
    /// The org's Dify workspaces and the apps matched in each.
    List,
    /// Connects a Dify workspace. The password or key is read from standard input and kept on the
    /// server only.
    Add {
        name: String,
        /// Where the console is served, e.g. https://dify.example.com
        console_url: String,
        /// Sign in as this console account (editor role or above); the password comes on standard input.
        #[arg(
            long,
            conflicts_with = "workspace_id",
            required_unless_present = "workspace_id"
        )]
        email: Option<String>,
        /// Use the admin API key (Dify with ADMIN_API_KEY_ENABLE=true) for this workspace; the key comes on
        /// standard input.
        #[arg(long)]
        workspace_id: Option<String>,
        /// The console account's time zone, as set in Dify (IANA, e.g. Asia/Shanghai).
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// The first day reconciled, YYYY-MM-DD; 7 days ago by default.
        #[arg(long)]
        since: Option<NaiveDate>,
    },
    /// Signs in and matches the workspace's apps to the metered ones by share code.
    Test { id: String },
}

pub async fn dify(printer: &Printer, admin: &OrgApi<'_>, command: OrgDify) -> CliResult {
    match command {
        OrgDify::List => {
            let connections = admin.dify_connections().await?;
            printer.print(&connections, || {
                table(
                    &[
                        "id",
                        "name",
                        "console",
                        "sign-in",
                        "apps",
                        "last run",
                        "last error",
                        "automatic runs",
                    ],
                    connections.iter().map(|c| {
                        vec![
                            c.id.to_string(),
                            c.name.clone(),
                            c.console_url.clone(),
                            c.email.clone().unwrap_or_else(|| "admin API key".into()),
                            c.apps
                                .iter()
                                .map(|app| app.app_name.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            c.last_run_at.map(|at| at.to_string()).unwrap_or_default(),
                            c.last_error.clone().unwrap_or_default(),
                            match c.sign_in_refused_at {
                                Some(at) => format!(
                                    "stopped at {at}: sign-in refused (`org dify test {}` resumes)",
                                    c.id
                                ),
                                None => "on".into(),
                            },
                        ]
                    }),
                )
            })
        }
        OrgDify::Add {
            name,
            console_url,
            email,
            workspace_id,
            time_zone,
            since,
        } => {
            let secret = read_password(true)?;
            let credentials = match (email, workspace_id) {
                (Some(email), _) => DifyCredentials::Password {
                    email,
                    password: secret,
                },
                (None, Some(workspace_id)) => DifyCredentials::AdminApiKey {
                    key: secret,
                    workspace_id,
                },
                (None, None) => {
                    return Err(CliError::Input(
                        "give --email (a console account) or --workspace-id (the admin API key)"
                            .into(),
                    ));
                }
            };
            let connection = admin
                .add_dify_connection(&NewDifyConnection {
                    name,
                    console_url,
                    credentials,
                    time_zone: Some(time_zone),
                    since,
                })
                .await?;
            printer.print(&connection, || {
                format!(
                    "connected {} ({}); test it with `tokendesk org dify test {}`",
                    connection.name, connection.id, connection.id
                )
            })
        }
        OrgDify::Test { id } => {
            let test = admin.test_dify_connection(&id).await?;
            printer.print(&test, || {
                let mut lines = vec![match &test.error {
                    Some(error) => format!("failed: {error}"),
                    None => format!("signed in; the workspace has {} apps", test.workspace_apps),
                }];
                for app in &test.linked {
                    lines.push(format!(
                        "  {} is console app {} ({})",
                        app.app_name, app.console_app_id, app.mode
                    ));
                }
                for name in &test.unmatched {
                    lines.push(format!(
                        "  {name}: no app of this workspace has its share code"
                    ));
                }
                for endpoint in &test.missing_endpoints {
                    lines.push(format!("  this Dify has no {endpoint} endpoint"));
                }
                lines.join("\n")
            })
        }
    }
}

/// Reconciles now and prints what each workspace's run did, then the findings of the days it covered.
pub async fn reconcile(
    printer: &Printer,
    admin: &OrgApi<'_>,
    app: Option<Uuid>,
    since: Option<NaiveDate>,
) -> CliResult {
    let report = admin
        .reconcile(&ReconcileRequest { app_id: app, since })
        .await?;
    let found = admin
        .reconciliation(&ReconciliationQuery {
            from: since,
            to: None,
            app_id: app,
        })
        .await?;
    let both = serde_json::json!({"report": report, "reconciliation": found});
    printer.print(&both, || {
        let runs = table(
            &[
                "workspace",
                "read",
                "settled",
                "true-ups",
                "reported by Dify",
                "unattributed",
                "charges without record",
                "waiting",
                "held",
                "missing endpoints",
                "error",
            ],
            report.connections.iter().map(|run| {
                vec![
                    run.connection.clone(),
                    run.records_read.to_string(),
                    run.settled.to_string(),
                    run.true_ups.to_string(),
                    run.reported_by_dify.to_string(),
                    run.unattributed.to_string(),
                    run.charges_without_record.to_string(),
                    run.waiting.to_string(),
                    run.held.to_string(),
                    run.missing_endpoints.join(", "),
                    run.error.clone().unwrap_or_default(),
                ]
            }),
        );
        let days = table(
            &[
                "day",
                "app",
                "Dify tokens",
                "Dify price",
                "ledger tokens",
                "ledger credits",
                "token gap",
            ],
            found.days.iter().map(|day| {
                let or_blank = |value: Option<String>| value.unwrap_or_else(|| "–".into());
                vec![
                    day.day.to_string(),
                    day.app_name.clone(),
                    or_blank(day.dify_tokens.map(|t| t.to_string())),
                    or_blank(day.dify_price.map(|price| {
                        format!(
                            "{price} {}",
                            day.dify_currency.as_deref().unwrap_or_default()
                        )
                    })),
                    day.ledger_tokens.to_string(),
                    micros_to_credits(day.ledger_micros).to_string(),
                    or_blank(day.token_gap.map(|gap| gap.to_string())),
                ]
            }),
        );
        let findings = table(
            &[
                "kind",
                "app",
                "user",
                "record",
                "ledger credits",
                "Dify credits",
                "detail",
            ],
            found.findings.iter().map(|finding| {
                let credits = |micros: Option<i64>| {
                    micros
                        .map(|m| micros_to_credits(m).to_string())
                        .unwrap_or_default()
                };
                vec![
                    finding.kind.as_str().to_owned(),
                    finding.app_name.clone(),
                    finding.user.clone().unwrap_or_default(),
                    finding.record_id.clone(),
                    credits(finding.ledger_micros),
                    credits(finding.dify_micros),
                    finding.detail.clone(),
                ]
            }),
        );
        format!("{runs}\n{days}\n{findings}")
    })
}
