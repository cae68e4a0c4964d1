//! Configured Dify apps. Each is bound to a priced model or to Dify's reported price, and is found
//! by the URL of the page an event came from, never by anything the page says about itself.

use rusqlite::{Connection, OptionalExtension, Row};
use serde::Serialize;
use url::Url;

use crate::entries::{Pricing, parse_pricing};
use crate::error::{EventError, LedgerError, Result};
use crate::pricing::{ModelConfig, find_model};
use crate::{Ledger, time};

/// Path segments that start a Dify share page: `/chat/{token}`, `/chatbot/{token}`, ...
const SHARE_KINDS: &[&str] = &["chat", "chatbot", "completion", "workflow"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DifyApp {
    pub id: i64,
    pub name: String,
    pub share_url: String,
    pub origin: String,
    pub share_token: String,
    pub pricing: Pricing,
    /// The bound model when `pricing` is `model`.
    pub model_id: Option<i64>,
    pub model: Option<String>,
    pub enabled: bool,
    pub demo: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// How an app's replies are priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppBinding {
    /// A model name or alias of the ledger's price list.
    Model(String),
    /// Dify's reported `total_price`, in USD.
    DifyPrice,
}

/// A share URL split into the parts an app is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLocation {
    pub origin: String,
    pub token: String,
}

/// Finds the origin and share token in a Dify page URL such as `https://dify.example.com/chat/AbC123?x=1`.
pub fn share_location(page_url: &str) -> Option<ShareLocation> {
    let url = Url::parse(page_url.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let token = share_path(&url)?.last()?.to_string();
    Some(ShareLocation {
        origin: url.origin().ascii_serialization(),
        token,
    })
}

const APP_COLUMNS: &str =
    "a.id, a.name, a.share_url, a.origin, a.share_token, a.pricing, a.model_id, m.name,
    a.enabled, a.demo, a.created_at";

fn app_from_row(row: &Row) -> rusqlite::Result<DifyApp> {
    Ok(DifyApp {
        id: row.get(0)?,
        name: row.get(1)?,
        share_url: row.get(2)?,
        origin: row.get(3)?,
        share_token: row.get(4)?,
        pricing: parse_pricing(&row.get::<_, String>(5)?)?,
        model_id: row.get(6)?,
        model: row.get(7)?,
        enabled: row.get(8)?,
        demo: row.get(9)?,
        created_at: time::from_micros(row.get(10)?),
    })
}

fn query_apps(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<DifyApp>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {APP_COLUMNS} FROM dify_apps a LEFT JOIN models m ON m.id = a.model_id {filter} ORDER BY a.id"
    ))?;
    statement.query_map(params, app_from_row)?.collect()
}

/// The app whose share page this is: on the same origin, with a path that starts with the app's own
/// share path (any base path, the kind, the token). A share path further along the page's path (say
/// `/other/chat/{token}` after a `history.pushState`) names no app.
fn find_by_url(conn: &Connection, page_url: &str) -> rusqlite::Result<Option<DifyApp>> {
    let Ok(page) = Url::parse(page_url.trim()) else {
        return Ok(None);
    };
    if !matches!(page.scheme(), "http" | "https") {
        return Ok(None);
    }
    let Some(segments) = page.path_segments().map(Iterator::collect::<Vec<_>>) else {
        return Ok(None);
    };
    let origin = page.origin().ascii_serialization();
    Ok(query_apps(conn, "WHERE a.origin = ?1", [&origin])?
        .into_iter()
        .find(|app| {
            Url::parse(&app.share_url).is_ok_and(|share| {
                share_path(&share).is_some_and(|prefix| segments.starts_with(&prefix))
            })
        }))
}

/// The path segments of a share URL up to its token: `["chat", "AbC123"]`, or with a base path
/// `["dify", "chat", "AbC123"]`.
fn share_path(url: &Url) -> Option<Vec<&str>> {
    let segments: Vec<&str> = url.path_segments()?.collect();
    let kind_at = segments
        .windows(2)
        .position(|pair| SHARE_KINDS.contains(&pair[0]) && !pair[1].is_empty())?;
    segments.get(..kind_at + 2).map(<[&str]>::to_vec)
}

/// The enabled app a page belongs to, or why there is none.
pub(crate) fn resolve(conn: &Connection, page_url: &str) -> Result<DifyApp, ResolveError> {
    match find_by_url(conn, page_url)? {
        Some(app) if app.enabled => Ok(app),
        Some(app) => Err(ResolveError::Event(EventError::AppDisabled(app.name))),
        None => Err(ResolveError::Event(EventError::UnknownApp(
            page_url.chars().take(200).collect(),
        ))),
    }
}

/// Prices `app` as `model` (a name or alias) for one event: the stored app is unchanged. Returns the
/// model's id.
pub(crate) fn price_as(conn: &Connection, app: &mut DifyApp, model: &str) -> Result<i64> {
    let model = named_model(conn, model)?;
    app.pricing = Pricing::Model;
    app.model_id = Some(model.id);
    app.model = Some(model.name);
    Ok(model.id)
}

/// An app's trimmed name and where its share URL points, or why they are not usable.
fn checked_app<'a>(name: &'a str, share_url: &str) -> Result<(&'a str, ShareLocation)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(LedgerError::invalid("an app name is required"));
    }
    let location = share_location(share_url).ok_or_else(|| {
        LedgerError::invalid(format!(
            "{share_url:?} is not a Dify share URL like https://dify.example.com/chat/TOKEN"
        ))
    })?;
    Ok((name, location))
}

/// Fails when another app than `except` already has this share location.
fn refuse_taken(
    conn: &Connection,
    location: &ShareLocation,
    share_url: &str,
    except: Option<i64>,
) -> Result<()> {
    let taken: Option<i64> = conn
        .query_row(
            "SELECT id FROM dify_apps WHERE origin = ?1 AND share_token = ?2",
            (&location.origin, &location.token),
            |row| row.get(0),
        )
        .optional()?;
    match taken {
        Some(id) if Some(id) != except => Err(LedgerError::AlreadyExists {
            what: "Dify app",
            name: share_url.trim().into(),
        }),
        _ => Ok(()),
    }
}

/// The model of this name or alias.
fn named_model(conn: &Connection, name: &str) -> Result<ModelConfig> {
    find_model(conn, name)?.ok_or_else(|| LedgerError::NotFound {
        what: "model",
        name: name.into(),
    })
}

/// The pricing columns for a binding.
fn bind(conn: &Connection, binding: &AppBinding) -> Result<(Pricing, Option<i64>)> {
    match binding {
        AppBinding::Model(model) => Ok((Pricing::Model, Some(named_model(conn, model)?.id))),
        AppBinding::DifyPrice => Ok((Pricing::DifyPrice, None)),
    }
}

/// Resolving can fail on the input or, rarely, on the database.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error(transparent)]
    Event(EventError),
    #[error(transparent)]
    Database(#[from] rusqlite::Error),
}

impl Ledger {
    pub fn apps(&self) -> Result<Vec<DifyApp>> {
        Ok(query_apps(&self.conn, "", [])?)
    }

    pub fn app(&self, id: i64) -> Result<DifyApp> {
        query_apps(&self.conn, "WHERE a.id = ?1", [id])?
            .into_iter()
            .next()
            .ok_or_else(|| LedgerError::NotFound {
                what: "Dify app",
                name: id.to_string(),
            })
    }

    /// The app a Dify page URL belongs to, enabled or not.
    pub fn app_for_url(&self, page_url: &str) -> Result<Option<DifyApp>> {
        Ok(find_by_url(&self.conn, page_url)?)
    }

    /// Adds a Dify app by its share URL.
    pub fn add_app(
        &mut self,
        name: &str,
        share_url: &str,
        binding: &AppBinding,
        demo: bool,
    ) -> Result<DifyApp> {
        let (name, location) = checked_app(name, share_url)?;
        let id = self.admin_write(|tx| {
            let (pricing, model_id) = bind(tx, binding)?;
            refuse_taken(tx, &location, share_url, None)?;
            tx.execute(
                "INSERT INTO dify_apps (name, share_url, origin, share_token, pricing, model_id, demo, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                (name, share_url.trim(), &location.origin, &location.token, pricing.as_str(), model_id, demo, tx.env.now_micros()),
            )?;
            let id = tx.last_insert_rowid();
            if demo {
                crate::seed::demo_account_id(tx)?;
            }
            Ok(id)
        })?;
        self.app(id)
    }

    pub fn set_app_enabled(&mut self, id: i64, enabled: bool) -> Result<DifyApp> {
        self.admin_write(|tx| {
            let changed = tx.execute(
                "UPDATE dify_apps SET enabled = ?2 WHERE id = ?1",
                (id, enabled),
            )?;
            if changed == 0 {
                return Err(LedgerError::NotFound {
                    what: "Dify app",
                    name: id.to_string(),
                });
            }
            Ok(())
        })?;
        self.app(id)
    }

    /// Renames an app, moves it to another share URL, or rebinds it to another model or to Dify's price.
    /// Charges already made keep the app name and price snapshot they were made with.
    pub fn update_app(
        &mut self,
        id: i64,
        name: &str,
        share_url: &str,
        binding: &AppBinding,
    ) -> Result<DifyApp> {
        let (name, location) = checked_app(name, share_url)?;
        self.admin_write(|tx| {
            let (pricing, model_id) = bind(tx, binding)?;
            refuse_taken(tx, &location, share_url, Some(id))?;
            let changed = tx.execute(
                "UPDATE dify_apps SET name = ?2, share_url = ?3, origin = ?4, share_token = ?5, pricing = ?6,
                 model_id = ?7 WHERE id = ?1",
                (id, name, share_url.trim(), &location.origin, &location.token, pricing.as_str(), model_id),
            )?;
            if changed == 0 {
                return Err(LedgerError::NotFound {
                    what: "Dify app",
                    name: id.to_string(),
                });
            }
            Ok(())
        })?;
        self.app(id)
    }

    /// Extra origins the chat window may show (an SSO login, say). They get no IPC.
    pub fn navigation_hosts(&self) -> Result<Vec<String>> {
        let mut statement = self
            .conn
            .prepare("SELECT origin FROM navigation_hosts ORDER BY origin")?;
        Ok(statement
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Allows the chat window to show pages of `url`'s origin, without IPC.
    pub fn add_navigation_host(&mut self, url: &str, actor: &str) -> Result<String> {
        let origin = Url::parse(url.trim())
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .map(|url| url.origin().ascii_serialization())
            .ok_or_else(|| LedgerError::invalid(format!("{url:?} is not an http(s) URL")))?;
        self.admin_write(|tx| {
            tx.execute(
                "INSERT INTO navigation_hosts (origin, added_by, added_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (origin) DO NOTHING",
                (&origin, actor, tx.env.now_micros()),
            )?;
            Ok(())
        })?;
        Ok(origin)
    }

    /// The distinct origins of enabled apps: the only pages allowed to report usage.
    pub fn app_origins(&self) -> Result<Vec<String>> {
        let mut origins: Vec<String> = self
            .apps()?
            .into_iter()
            .filter(|app| app.enabled)
            .map(|app| app.origin)
            .collect();
        origins.sort();
        origins.dedup();
        Ok(origins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_locations_are_found_in_page_urls() {
        let location = share_location("https://Dify.Example.com/chat/AbC123?foo=1#x").unwrap();
        assert_eq!(
            location,
            ShareLocation {
                origin: "https://dify.example.com".into(),
                token: "AbC123".into()
            }
        );
        let location = share_location("http://127.0.0.1:8765/chatbot/tok/").unwrap();
        assert_eq!(
            (location.origin.as_str(), location.token.as_str()),
            ("http://127.0.0.1:8765", "tok")
        );
        assert!(share_location("https://dify.example.com/").is_none());
        assert!(share_location("https://dify.example.com/chat/").is_none());
        assert!(share_location("file:///chat/x").is_none());
        assert!(share_location("not a url").is_none());
    }
}
