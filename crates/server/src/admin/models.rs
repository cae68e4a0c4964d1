//! The price list: models, their exact aliases, and every price change with the config version it made.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgConnection;
use tokendesk_sync_proto::ErrorBody;
use tokendesk_sync_proto::admin::{ImportModels, ImportReport, ModelInfo, PriceChange, SetModel};
use tokendesk_sync_proto::money::Price;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::{check_name, check_note, check_price, is_unique_violation, lock_config, parse_price};
use crate::auth::AdminSession;
use crate::config;
use crate::error::{ApiError, ApiResult, Json};
use crate::state::AppState;

/// At most this many models in one import.
const MAX_IMPORT: usize = 10_000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(set_model))
        .routes(routes!(model_history))
        .routes(routes!(import_models))
}

/// One model as an admin asks for it, validated.
#[derive(Debug, PartialEq)]
struct ModelChange {
    name: String,
    price: Price,
    /// `None` keeps the model's aliases.
    aliases: Option<BTreeSet<String>>,
    /// `None` keeps the flag (a new model is active).
    active: Option<bool>,
}

impl ModelChange {
    fn new(
        name: &str,
        price: Price,
        aliases: Option<&[String]>,
        active: Option<bool>,
    ) -> ApiResult<Self> {
        let name = check_name("the model's name", name)?;
        let price = Price {
            input_per_1k: check_price("the input price", price.input_per_1k)?,
            output_per_1k: check_price("the output price", price.output_per_1k)?,
        };
        let aliases = aliases
            .map(|aliases| {
                aliases
                    .iter()
                    .map(|alias| {
                        let alias = check_name("an alias", alias)?;
                        if alias == name {
                            return Err(ApiError::bad(
                                "bad_alias",
                                format!("{alias:?} is the model's own name"),
                            ));
                        }
                        Ok(alias)
                    })
                    .collect::<ApiResult<BTreeSet<_>>>()
            })
            .transpose()?;
        Ok(Self {
            name,
            price,
            aliases,
            active,
        })
    }
}

/// What applying a [`ModelChange`] did.
struct Applied {
    created: bool,
    changed: bool,
    /// `Some(old)` when the price changed (`old` is `None` for a new model): a history row is owed.
    price_change: Option<Option<Price>>,
}

async fn aliases_of(
    conn: &mut PgConnection,
    org_id: Uuid,
    model: &str,
) -> ApiResult<BTreeSet<String>> {
    let aliases: Vec<String> =
        sqlx::query_scalar("SELECT alias FROM model_aliases WHERE org_id = $1 AND model = $2")
            .bind(org_id)
            .bind(model)
            .fetch_all(&mut *conn)
            .await?;
    Ok(aliases.into_iter().collect())
}

/// Creates or updates one model in the caller's transaction (which holds the config lock). Names and
/// aliases share one namespace, so a lookup by either is never ambiguous.
async fn apply(tx: &mut PgConnection, org_id: Uuid, change: &ModelChange) -> ApiResult<Applied> {
    let owner: Option<String> =
        sqlx::query_scalar("SELECT model FROM model_aliases WHERE org_id = $1 AND alias = $2")
            .bind(org_id)
            .bind(&change.name)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some(owner) = owner {
        return Err(ApiError::conflict(
            "name_taken",
            format!("{:?} is an alias of model {owner:?}", change.name),
        ));
    }
    if let Some(aliases) = &change.aliases {
        let taken: Option<(String, String)> = sqlx::query_as(
            "SELECT alias, model FROM model_aliases WHERE org_id = $1 AND alias = ANY($2) AND model <> $3
             UNION ALL
             SELECT name, name FROM models WHERE org_id = $1 AND name = ANY($2)
             LIMIT 1",
        )
        .bind(org_id)
        .bind(aliases.iter().map(String::as_str).collect::<Vec<_>>())
        .bind(&change.name)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((alias, owner)) = taken {
            let message = if alias == owner {
                format!("{alias:?} is the name of another model")
            } else {
                format!("{alias:?} is an alias of model {owner:?}")
            };
            return Err(ApiError::conflict("alias_taken", message));
        }
    }
    let existing: Option<(Decimal, Decimal, bool)> = sqlx::query_as(
        "SELECT input_usd_per_1k, output_usd_per_1k, active FROM models WHERE org_id = $1 AND name = $2 FOR UPDATE",
    )
    .bind(org_id)
    .bind(&change.name)
    .fetch_optional(&mut *tx)
    .await?;
    let old = existing.map(|(input, output, active)| {
        (
            Price {
                input_per_1k: input,
                output_per_1k: output,
            },
            active,
        )
    });
    let active = change
        .active
        .or(old.map(|(_, active)| active))
        .unwrap_or(true);
    let price_changed = old.is_none_or(|(price, _)| price != change.price);
    let flag_changed = old.is_some_and(|(_, was)| was != active);
    let aliases_changed = match &change.aliases {
        Some(aliases) => *aliases != aliases_of(tx, org_id, &change.name).await?,
        None => false,
    };
    if old.is_none() || price_changed || flag_changed || aliases_changed {
        // Both statements take the same five parameters.
        let write = if old.is_none() {
            "INSERT INTO models (org_id, name, input_usd_per_1k, output_usd_per_1k, active) VALUES ($1, $2, $3, $4, $5)"
        } else {
            "UPDATE models SET input_usd_per_1k = $3, output_usd_per_1k = $4, active = $5, updated_at = now()
              WHERE org_id = $1 AND name = $2"
        };
        sqlx::query(write)
            .bind(org_id)
            .bind(&change.name)
            .bind(change.price.input_per_1k)
            .bind(change.price.output_per_1k)
            .bind(active)
            .execute(&mut *tx)
            .await?;
    }
    if let (Some(aliases), true) = (&change.aliases, aliases_changed) {
        sqlx::query("DELETE FROM model_aliases WHERE org_id = $1 AND model = $2")
            .bind(org_id)
            .bind(&change.name)
            .execute(&mut *tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO model_aliases (org_id, alias, model) SELECT $1, alias, $2 FROM UNNEST($3::text[]) AS a(alias)",
        )
        .bind(org_id)
        .bind(&change.name)
        .bind(aliases.iter().map(String::as_str).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(error) if is_unique_violation(&error) => {
                return Err(ApiError::conflict(
                    "alias_taken",
                    "one of the aliases belongs to another model",
                ));
            }
            other => other?,
        };
    }
    Ok(Applied {
        created: old.is_none(),
        changed: old.is_none() || price_changed || flag_changed || aliases_changed,
        price_change: price_changed.then(|| old.map(|(price, _)| price)),
    })
}

async fn record_price_change(
    tx: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    reason: &str,
    version: i64,
    change: &ModelChange,
    old: Option<Price>,
) -> ApiResult<()> {
    sqlx::query(
        "INSERT INTO model_price_history
             (org_id, model, old_input, old_output, new_input, new_output, changed_by, reason, config_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(org_id)
    .bind(&change.name)
    .bind(old.map(|price| price.input_per_1k))
    .bind(old.map(|price| price.output_per_1k))
    .bind(change.price.input_per_1k)
    .bind(change.price.output_per_1k)
    .bind(actor)
    .bind(reason)
    .bind(version)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

type ModelRow = (
    String,
    Decimal,
    Decimal,
    bool,
    chrono::DateTime<chrono::Utc>,
    Vec<String>,
);

/// The org's models by name, with their aliases (only the one called `name` when given), as admins
/// list them and config snapshots carry them.
pub(crate) async fn model_infos(
    conn: &mut PgConnection,
    org_id: Uuid,
    name: Option<&str>,
) -> ApiResult<Vec<ModelInfo>> {
    let rows: Vec<ModelRow> = sqlx::query_as(
        "SELECT m.name, m.input_usd_per_1k, m.output_usd_per_1k, m.active, m.updated_at,
                COALESCE(array_agg(a.alias ORDER BY a.alias) FILTER (WHERE a.alias IS NOT NULL), '{}')
           FROM models m LEFT JOIN model_aliases a ON a.org_id = m.org_id AND a.model = m.name
          WHERE m.org_id = $1 AND ($2::text IS NULL OR m.name = $2)
          GROUP BY m.name, m.input_usd_per_1k, m.output_usd_per_1k, m.active, m.updated_at
          ORDER BY m.name",
    )
    .bind(org_id)
    .bind(name)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(name, input, output, active, updated_at, aliases)| ModelInfo {
                name,
                price: Price {
                    input_per_1k: input,
                    output_per_1k: output,
                },
                aliases,
                active,
                updated_at,
            },
        )
        .collect())
}

/// Every model with its price (USD per 1K tokens) and aliases.
#[utoipa::path(
    get,
    path = "/v1/admin/models",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The price list, by name", body = Vec<ModelInfo>),
        (status = 401, description = "No valid admin session", body = ErrorBody),
    )
)]
async fn list_models(
    session: AdminSession,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<ModelInfo>>> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(model_infos(&mut conn, session.org_id, None).await?))
}

/// Creates or reprices a model. Prices are decimal strings of USD per 1K tokens (0 to 100000; `3e-06`
/// is accepted); `aliases`, when given, replace the model's aliases. A change makes a new config version.
#[utoipa::path(
    put,
    path = "/v1/admin/models/{name}",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The model's name")),
    request_body = SetModel,
    responses(
        (status = 200, description = "The model as it now is", body = ModelInfo),
        (status = 400, description = "`bad_price`, `bad_name` or `bad_alias`", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 409, description = "`name_taken` or `alias_taken`: names and aliases are one namespace", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn set_model(
    session: AdminSession,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Json(set): Json<SetModel>,
) -> ApiResult<Json<ModelInfo>> {
    let price = Price {
        input_per_1k: parse_price("the input price", &set.input_usd_per_1k)?,
        output_per_1k: parse_price("the output price", &set.output_usd_per_1k)?,
    };
    let change = ModelChange::new(&name, price, set.aliases.as_deref(), set.active)?;
    let reason = check_note(set.reason.as_deref().unwrap_or_default())?;
    let mut tx = state.pool.begin().await?;
    lock_config(&mut tx, session.org_id).await?;
    let applied = apply(&mut tx, session.org_id, &change).await?;
    let version = if applied.changed {
        let version = config::bump(&mut tx, session.org_id).await?;
        if let Some(old) = applied.price_change {
            record_price_change(
                &mut tx,
                session.org_id,
                &session.name,
                &reason,
                version,
                &change,
                old,
            )
            .await?;
        }
        Some(version)
    } else {
        None
    };
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "model.set",
        json!({
            "name": change.name,
            "input_usd_per_1k": change.price.input_per_1k.to_string(),
            "output_usd_per_1k": change.price.output_per_1k.to_string(),
            "aliases": change.aliases,
            "active": change.active,
            "reason": reason,
            "created": applied.created,
            "changed": applied.changed,
            "config_version": version,
        }),
    )
    .await?;
    let info = model_infos(&mut tx, session.org_id, Some(&change.name))
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("model", &change.name))?;
    tx.commit().await?;
    Ok(Json(info))
}

type HistoryRow = (
    String,
    Option<Decimal>,
    Option<Decimal>,
    Decimal,
    Decimal,
    String,
    String,
    chrono::DateTime<chrono::Utc>,
    i64,
);

/// A model's price changes, newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/models/{name}/history",
    tag = "admin",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The model's name")),
    responses(
        (status = 200, description = "The price changes, newest first", body = Vec<PriceChange>),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    )
)]
async fn model_history(
    session: AdminSession,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<PriceChange>>> {
    let mut conn = state.pool.acquire().await?;
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM models WHERE org_id = $1 AND name = $2)")
            .bind(session.org_id)
            .bind(&name)
            .fetch_one(&mut *conn)
            .await?;
    if !known {
        return Err(ApiError::not_found("model", &name));
    }
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT model, old_input, old_output, new_input, new_output, changed_by, reason, changed_at, config_version
           FROM model_price_history WHERE org_id = $1 AND model = $2 ORDER BY id DESC",
    )
    .bind(session.org_id)
    .bind(&name)
    .fetch_all(&mut *conn)
    .await?;
    let history = rows
        .into_iter()
        .map(
            |(
                model,
                old_input,
                old_output,
                new_input,
                new_output,
                changed_by,
                reason,
                changed_at,
                config_version,
            )| {
                PriceChange {
                    model,
                    old: old_input
                        .zip(old_output)
                        .map(|(input_per_1k, output_per_1k)| Price {
                            input_per_1k,
                            output_per_1k,
                        }),
                    new: Price {
                        input_per_1k: new_input,
                        output_per_1k: new_output,
                    },
                    changed_by,
                    reason,
                    changed_at,
                    config_version,
                }
            },
        )
        .collect();
    Ok(Json(history))
}

/// Validates a whole import before anything is written: one bad model refuses all of them.
fn import_changes(import: &ImportModels) -> ApiResult<Vec<ModelChange>> {
    if import.models.len() > MAX_IMPORT {
        return Err(ApiError::bad(
            "too_many_models",
            format!("an import holds at most {MAX_IMPORT} models"),
        ));
    }
    let mut names = BTreeSet::new();
    import
        .models
        .iter()
        .map(|model| {
            // An import without aliases keeps the model's aliases.
            let aliases = (!model.aliases.is_empty()).then_some(model.aliases.as_slice());
            let change = ModelChange::new(&model.name, model.price, aliases, None)?;
            if !names.insert(change.name.clone()) {
                return Err(ApiError::bad(
                    "duplicate_model",
                    format!("model {:?} appears twice in the import", change.name),
                ));
            }
            Ok(change)
        })
        .collect()
}

/// Sets many prices in one transaction and one config version; a model without aliases keeps its own.
#[utoipa::path(
    post,
    path = "/v1/admin/models/import",
    tag = "admin",
    security(("bearer" = [])),
    request_body = ImportModels,
    responses(
        (status = 200, description = "How many models were created, updated or unchanged", body = ImportReport),
        (status = 400, description = "`bad_price`, `bad_name`, `bad_alias`, `duplicate_model` or `too_many_models`: nothing imported", body = ErrorBody),
        (status = 401, description = "No valid admin session", body = ErrorBody),
        (status = 409, description = "`name_taken` or `alias_taken`: nothing imported", body = ErrorBody),
        (status = 422, description = "Wrong types", body = ErrorBody),
    )
)]
async fn import_models(
    session: AdminSession,
    State(state): State<AppState>,
    Json(import): Json<ImportModels>,
) -> ApiResult<Json<ImportReport>> {
    let changes = import_changes(&import)?;
    let reason = check_note(import.reason.as_deref().unwrap_or("import"))?;
    let mut tx = state.pool.begin().await?;
    lock_config(&mut tx, session.org_id).await?;
    let mut report = ImportReport::default();
    let mut price_changes = Vec::new();
    for change in &changes {
        let applied = apply(&mut tx, session.org_id, change).await?;
        match (applied.created, applied.changed) {
            (true, _) => report.created += 1,
            (false, true) => report.updated += 1,
            (false, false) => report.unchanged += 1,
        }
        if let Some(old) = applied.price_change {
            price_changes.push((change, old));
        }
    }
    report.config_version = if report.created + report.updated > 0 {
        let version = config::bump(&mut tx, session.org_id).await?;
        for (change, old) in price_changes {
            record_price_change(
                &mut tx,
                session.org_id,
                &session.name,
                &reason,
                version,
                change,
                old,
            )
            .await?;
        }
        version
    } else {
        config::current_version(&mut tx, session.org_id).await?
    };
    let detail: Vec<_> = changes
        .iter()
        .map(|change| {
            json!({
                "name": change.name,
                "input_usd_per_1k": change.price.input_per_1k.to_string(),
                "output_usd_per_1k": change.price.output_per_1k.to_string(),
                "aliases": change.aliases,
            })
        })
        .collect();
    config::audit(
        &mut tx,
        session.org_id,
        &session.name,
        "model.import",
        json!({
            "models": detail,
            "reason": reason,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "config_version": report.config_version,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(report))
}

#[cfg(test)]
mod tests {
    use tokendesk_sync_proto::admin::ImportModel;

    use super::*;

    fn price(input: &str, output: &str) -> Price {
        Price {
            input_per_1k: input.parse().unwrap(),
            output_per_1k: output.parse().unwrap(),
        }
    }

    fn import(models: &[(&str, Price, &[&str])]) -> ImportModels {
        ImportModels {
            models: models
                .iter()
                .map(|(name, price, aliases)| ImportModel {
                    name: name.to_string(),
                    price: *price,
                    aliases: aliases.iter().map(|a| a.to_string()).collect(),
                })
                .collect(),
            reason: None,
        }
    }

    #[test]
    fn a_change_trims_names_and_dedups_aliases() {
        let aliases = [" 4o".to_string(), "4o".to_string(), "gpt4o".to_string()];
        let change =
            ModelChange::new(" gpt-4o ", price("0.0025", "0.01"), Some(&aliases), None).unwrap();
        assert_eq!(change.name, "gpt-4o");
        assert_eq!(
            change.aliases.unwrap().into_iter().collect::<Vec<_>>(),
            ["4o", "gpt4o"]
        );
    }

    #[test]
    fn a_change_refuses_its_own_name_as_alias_and_bad_prices() {
        let own = ["gpt-4o".to_string()];
        let error =
            ModelChange::new("gpt-4o", price("1", "1"), Some(&own), None).expect_err("own name");
        assert_eq!(error.code(), "bad_alias");
        let error = ModelChange::new("m", price("-1", "1"), None, None).expect_err("negative");
        assert_eq!(error.code(), "bad_price");
        let error = ModelChange::new("m", price("1", "100001"), None, None).expect_err("too dear");
        assert_eq!(error.code(), "bad_price");
        let error = ModelChange::new("", price("1", "1"), None, None).expect_err("no name");
        assert_eq!(error.code(), "bad_name");
    }

    #[test]
    fn an_import_is_validated_whole() {
        let good = import(&[
            ("a", price("1", "2"), &[]),
            ("b", price("0", "0"), &["bee"]),
        ]);
        let changes = import_changes(&good).unwrap();
        assert_eq!(changes[0].aliases, None, "no aliases keeps the model's");
        assert_eq!(changes[1].aliases.as_ref().map(BTreeSet::len), Some(1));
        let twice = import(&[("a", price("1", "2"), &[]), (" a", price("1", "2"), &[])]);
        assert_eq!(
            import_changes(&twice).expect_err("twice").code(),
            "duplicate_model"
        );
        let bad = import(&[("a", price("1", "2"), &[]), ("b", price("-1", "2"), &[])]);
        assert_eq!(import_changes(&bad).expect_err("bad").code(), "bad_price");
    }
}
