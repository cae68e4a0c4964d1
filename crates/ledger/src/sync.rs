//! This ledger as a device of an org server: enrollment, the read-only mirror of the server's config, the
//! numbering of what it authors (`device_seq`), the batches it pushes, and the offline lease it charges
//! against. No HTTP here: the sync client moves these values over the wire.
//!
//! Invariants, enrolled:
//! 1. Every charge and held event this device authors gets the next `device_seq`, gap-free, in the
//!    transaction that records it, with the config version it was priced at.
//! 2. The balance is the server's as of `acked_seq` plus this device's own entries above it.
//! 3. Past the lease (or after it expired, or once the device is revoked) a priced event is held with
//!    reason `offline_allowance`, never dropped; it is pushed like any other.
//! 4. Config the server owns (prices, rate, apps, guards, hosts) changes only by [`Ledger::apply_config`].

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;
use std::str::FromStr;
use tokendesk_sync_proto::Price as WirePrice;
use tokendesk_sync_proto::budget::BudgetStatus;
use tokendesk_sync_proto::device::{
    ConfigSnapshot, EnrollAnswer, HeldItem, HoldReason, ItemBody, ItemStatus, PushAnswer, PushItem,
    SideCall, Usage,
};
use uuid::Uuid;

use crate::apps::share_location;
use crate::entries::{self, ENTRY_COLUMNS, Pricing};
use crate::error::{LedgerError, Result};
use crate::guards::{Policy, write_policy};
use crate::money::{Micros, micros_to_credits};
use crate::{Ledger, Tx, time};

/// Who changes the mirrored config: the server, through a snapshot.
const SERVER_ACTOR: &str = "server";

/// Where this ledger stands with its org server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SyncStatus {
    pub enrolled: bool,
    pub server: Option<String>,
    pub org: Option<String>,
    pub user: Option<String>,
    pub device_id: Option<String>,
    pub config_version: i64,
    /// Entries and held events recorded here that the server has not acknowledged.
    pub pending: i64,
    pub acked_seq: i64,
    pub last_sync: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// What is left of the offline allowance, in micro-credits.
    pub lease_left_micros: Micros,
    #[ts(type = "string")]
    pub lease_left: Decimal,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    /// Why the gate refuses sends now for lack of a lease (spent, expired, or revoked): the gate's own words.
    pub lease_refusal: Option<String>,
    /// The user's budgets and spend across all their devices, when the org set a budget for them.
    pub budget: Option<BudgetStanding>,
}

/// Where the user stands against their budgets (0: no budget), across all their devices: the server's
/// count at the last push plus this device's charges the server has not acknowledged yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct BudgetStanding {
    pub daily_limit_micros: Micros,
    pub monthly_limit_micros: Micros,
    pub spent_today_micros: Micros,
    pub spent_month_micros: Micros,
}

/// The standing now; `None` on an island, or before the server first answered a push. A day or month that
/// ended since that push starts again from this device's own charges. A budget that is off reads nothing:
/// the gate asks on every send.
pub(crate) fn budget_standing(conn: &Connection, now: i64) -> Result<Option<BudgetStanding>> {
    let row = conn
        .prepare_cached(
            "SELECT acked_seq, budget_daily_micros, budget_monthly_micros, budget_spent_today_micros,
                 budget_spent_month_micros, budget_day_start, budget_day_end, budget_month_start, budget_month_end
             FROM sync_state WHERE id = 1 AND budget_known = 1",
        )?
        .query_row([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                [row.get::<_, i64>(1)?, row.get(2)?, row.get(3)?, row.get(4)?],
                [row.get::<_, i64>(5)?, row.get(6)?, row.get(7)?, row.get(8)?],
            ))
        })
        .optional()?;
    let Some((
        acked,
        [daily, monthly, server_today, server_month],
        [day_start, day_end, month_start, month_end],
    )) = row
    else {
        return Ok(None);
    };
    let spent = |limit: Micros, server: Micros, start: i64, end: i64| -> Result<Micros> {
        if limit == 0 {
            return Ok(0);
        }
        let (server, since) = if now < end { (server, start) } else { (0, end) };
        let local: Micros = conn
            .prepare_cached(
                "SELECT COALESCE(-SUM(amount_micros), 0) FROM entries
                 WHERE device_seq > ?1 AND kind = 'charge' AND created_at >= ?2",
            )?
            .query_row((acked, since), |row| row.get(0))?;
        Ok(server.saturating_add(local))
    };
    Ok(Some(BudgetStanding {
        daily_limit_micros: daily,
        monthly_limit_micros: monthly,
        spent_today_micros: spent(daily, server_today, day_start, day_end)?,
        spent_month_micros: spent(monthly, server_month, month_start, month_end)?,
    }))
}

/// How this data directory is used, chosen on the first run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Nothing chosen yet: the first window offers the three ways in.
    Unchosen,
    /// On this computer only: the user is their own admin.
    Island,
    /// Trying the built-in simulator; joining or the island can still be chosen.
    Demo,
    /// A device of an org server, which owns the config and the balances.
    Org,
}

/// Where the first run's choice is kept (the `meta` table).
const MODE_KEY: &str = "mode";

/// What the sync client needs to talk to the server for this ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub server_url: String,
    pub device_id: String,
    pub device_token: String,
    pub config_version: i64,
}

/// The server named in errors, when this ledger is enrolled.
pub(crate) fn enrolled_server(conn: &Connection) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT server_url FROM sync_state WHERE id = 1")?
        .query_row([], |row| row.get(0))
        .optional()?)
}

/// Local admin writes are off once the server owns the config and the balances.
pub(crate) fn refuse_if_enrolled(conn: &Connection) -> Result<()> {
    match enrolled_server(conn)? {
        Some(server) => Err(LedgerError::ManagedByServer(server)),
        None => Ok(()),
    }
}

/// Takes the next `device_seq` and the config version for something this device authors; `None` on an island.
pub(crate) fn stamp(tx: &Tx) -> Result<Option<(i64, i64)>> {
    Ok(tx
        .prepare_cached(
            "UPDATE sync_state SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1, config_version",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// Why a priced event may not be charged now, enrolled: the lease is spent or expired, or the device was revoked.
pub(crate) fn lease_refusal(conn: &Connection, now: i64) -> Result<Option<String>> {
    let Some(lease) = lease(conn)? else {
        return Ok(None);
    };
    Ok(if lease.revoked {
        Some("this device was revoked by the org's admin".into())
    } else if lease.expires_at <= now {
        Some("the offline allowance expired: sync with the org server to renew it".into())
    } else if lease.left <= 0 {
        Some(format!(
            "the offline allowance of {} credits is spent: sync with the org server to renew it",
            micros_to_credits(lease.amount)
        ))
    } else {
        None
    })
}

struct LeaseState {
    amount: Micros,
    left: Micros,
    expires_at: i64,
    revoked: bool,
}

fn lease(conn: &Connection) -> Result<Option<LeaseState>> {
    Ok(conn
        .prepare_cached(
            "SELECT s.lease_micros, s.lease_micros + COALESCE(
                    (SELECT SUM(e.amount_micros) FROM entries e WHERE e.device_seq > s.lease_base_seq), 0),
                s.lease_expires_at, s.revoked
             FROM sync_state s WHERE s.id = 1",
        )?
        .query_row([], |row| {
            Ok(LeaseState {
                amount: row.get(0)?,
                left: row.get(1)?,
                expires_at: row.get(2)?,
                revoked: row.get(3)?,
            })
        })
        .optional()?)
}

impl Ledger {
    /// Where this ledger stands with an org server; `enrolled: false` on an island.
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let row = self
            .conn
            .query_row(
                "SELECT server_url, org_name, user_name, device_id, config_version, next_seq - 1 - acked_seq,
                        acked_seq, last_sync_at, last_error, lease_expires_at, revoked
                 FROM sync_state WHERE id = 1",
                [],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                        row.get::<_, i64>(6)?,
                        row.get::<_, Option<i64>>(7)?,
                        row.get::<_, Option<String>>(8)?,
                        row.get::<_, i64>(9)?,
                        row.get::<_, bool>(10)?,
                    ))
                },
            )
            .optional()?;
        let Some((
            server,
            org,
            user,
            device,
            version,
            pending,
            acked,
            last_sync,
            last_error,
            expires,
            revoked,
        )) = row
        else {
            return Ok(SyncStatus {
                enrolled: false,
                server: None,
                org: None,
                user: None,
                device_id: None,
                config_version: 0,
                pending: 0,
                acked_seq: 0,
                last_sync: None,
                last_error: None,
                lease_left_micros: 0,
                lease_left: Decimal::ZERO,
                lease_expires_at: None,
                revoked: false,
                lease_refusal: None,
                budget: None,
            });
        };
        let left = lease(&self.conn)?.map_or(0, |lease| lease.left.max(0));
        Ok(SyncStatus {
            enrolled: true,
            server: Some(server),
            org: Some(org),
            user: Some(user),
            device_id: Some(device),
            config_version: version,
            pending,
            acked_seq: acked,
            last_sync: last_sync.map(time::from_micros),
            last_error,
            lease_left_micros: left,
            lease_left: micros_to_credits(left),
            lease_expires_at: (expires > 0).then(|| time::from_micros(expires)),
            revoked,
            lease_refusal: lease_refusal(&self.conn, self.env.now_micros())?,
            budget: budget_standing(&self.conn, self.env.now_micros())?
                .filter(|budget| budget.daily_limit_micros > 0 || budget.monthly_limit_micros > 0),
        })
    }

    /// How this data directory is used. A ledger from before the choice existed that has a Dify app of its
    /// own is an island.
    pub fn mode(&self) -> Result<Mode> {
        if enrolled_server(&self.conn)?.is_some() {
            return Ok(Mode::Org);
        }
        let chosen: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [MODE_KEY], |row| {
                row.get(0)
            })
            .optional()?;
        Ok(match chosen.as_deref() {
            Some("island") => Mode::Island,
            Some("demo") => Mode::Demo,
            _ if self.apps()?.iter().any(|app| !app.demo) => Mode::Island,
            _ => Mode::Unchosen,
        })
    }

    /// Keeps the first run's choice of the island or the demo. Joining an org is [`Ledger::enroll`]; once
    /// enrolled, neither can be chosen.
    pub fn choose_mode(&mut self, mode: Mode) -> Result<()> {
        let value = match mode {
            Mode::Island => "island",
            Mode::Demo => "demo",
            Mode::Unchosen | Mode::Org => {
                return Err(LedgerError::invalid(
                    "choose the island or the demo; an org is joined with an enrollment code",
                ));
            }
        };
        self.write(|tx| {
            refuse_if_enrolled(tx)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (MODE_KEY, value),
            )?;
            Ok(())
        })
    }

    /// The server and device token, when enrolled.
    pub fn sync_credentials(&self) -> Result<Option<Credentials>> {
        Ok(self
            .conn
            .query_row(
                "SELECT server_url, device_id, device_token, config_version FROM sync_state WHERE id = 1",
                [],
                |row| {
                    Ok(Credentials {
                        server_url: row.get(0)?,
                        device_id: row.get(1)?,
                        device_token: row.get(2)?,
                        config_version: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// The org's id of the staff member this device is enrolled for, the name the chat gives Dify.
    pub fn enrolled_user_id(&self) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT user_id FROM sync_state WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()?)
    }

    /// Makes this ledger a device of an org: the org's user becomes the active account, and the server's
    /// config replaces the local one. What was charged on the island stays in its history and is never pushed.
    pub fn enroll(
        &mut self,
        server_url: &str,
        answer: &EnrollAnswer,
        snapshot: &ConfigSnapshot,
    ) -> Result<()> {
        self.write(|tx| {
            if let Some(server) = enrolled_server(tx)? {
                return Err(LedgerError::invalid(format!(
                    "this data directory is already enrolled with {server}"
                )));
            }
            let now = tx.env.now_micros();
            let account_name = format!("{}@{}", answer.user.name, answer.org.name);
            tx.execute(
                "INSERT INTO accounts (name, display_name, role, created_at) VALUES (?1, ?2, 'staff', ?3)
                 ON CONFLICT (name) DO NOTHING",
                (&account_name, &answer.user.display_name, now),
            )?;
            let account_id: i64 = tx.query_row(
                "SELECT id FROM accounts WHERE name = ?1",
                [&account_name],
                |row| row.get(0),
            )?;
            tx.execute(
                "INSERT INTO sync_state (id, server_url, org_id, org_name, user_id, user_name, device_id,
                     device_token, account_id, enrolled_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    server_url.trim_end_matches('/'),
                    answer.org.id.to_string(),
                    answer.org.name,
                    answer.user.id.to_string(),
                    answer.user.name,
                    answer.device_id.to_string(),
                    answer.device_token,
                    account_id,
                    now
                ],
            )?;
            tx.execute(
                "UPDATE policy SET active_account_id = ?1, updated_by = ?2, updated_at = ?3 WHERE id = 1",
                (account_id, SERVER_ACTOR, now),
            )?;
            mirror(tx, snapshot)
        })
    }

    /// Mirrors a config snapshot from the server in one transaction. An older or equal version is ignored:
    /// `Ok(false)`.
    pub fn apply_config(&mut self, snapshot: &ConfigSnapshot) -> Result<bool> {
        self.write(|tx| {
            let current: Option<i64> = tx
                .query_row(
                    "SELECT config_version FROM sync_state WHERE id = 1",
                    [],
                    |row| row.get(0),
                )
                .optional()?;
            match current {
                None => Err(LedgerError::invalid("this data directory is not enrolled")),
                Some(version) if version >= snapshot.version => Ok(false),
                Some(_) => mirror(tx, snapshot).map(|()| true),
            }
        })
    }

    /// The next records to push, in `device_seq` order, from the first one the server has not acknowledged.
    pub fn pending_push(&self, limit: usize) -> Result<Vec<PushItem>> {
        let acked: Option<i64> = self
            .conn
            .query_row("SELECT acked_seq FROM sync_state WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()?;
        let Some(acked) = acked else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut items = pending_charges(&self.conn, acked, limit)?;
        items.extend(pending_holds(&self.conn, acked, limit)?);
        items.sort_by_key(|item| item.device_seq);
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(items)
    }

    /// Takes in the server's answer to a push: what it acknowledged, its balance and a new lease. A charge the
    /// server answered `duplicate` (another device charged that message) is reversed here, locally only: the
    /// server never counted it.
    pub fn apply_push_answer(&mut self, answer: &PushAnswer) -> Result<()> {
        self.write(|tx| {
            let next_seq: i64 = tx.query_row("SELECT next_seq FROM sync_state WHERE id = 1", [], |row| row.get(0))?;
            if answer.acked_through_seq >= next_seq {
                return Err(LedgerError::invalid(format!(
                    "the server acknowledged seq {} but this device has only recorded up to {}",
                    answer.acked_through_seq,
                    next_seq - 1
                )));
            }
            for result in &answer.results {
                if result.status == ItemStatus::Duplicate {
                    reverse_duplicate(tx, result.device_seq)?;
                }
            }
            tx.execute(
                "UPDATE sync_state SET acked_seq = MAX(acked_seq, ?1), server_balance_micros = ?2,
                     lease_micros = ?3, lease_base_seq = ?4, lease_expires_at = ?5, last_sync_at = ?6,
                     last_error = NULL
                 WHERE id = 1",
                params![
                    answer.acked_through_seq,
                    answer.balance_micros,
                    answer.lease.amount_micros,
                    answer.lease.base_seq,
                    time::to_micros(answer.lease.expires_at),
                    tx.env.now_micros()
                ],
            )?;
            record_budget(tx, answer.budget.as_ref())?;
            Ok(())
        })
    }

    /// Keeps the last sync failure for the status; `revoked` when the server refused this device for good.
    pub fn record_sync_failure(&mut self, message: &str, revoked: bool) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sync_state SET last_error = ?1, revoked = MAX(revoked, ?2),
                     lease_micros = CASE WHEN ?2 THEN 0 ELSE lease_micros END
                 WHERE id = 1",
                (message, revoked),
            )?;
            Ok(())
        })
    }
}

/// Keeps the server's count of the user's budgets; none means no budget applies to them now.
fn record_budget(tx: &Tx, budget: Option<&BudgetStatus>) -> Result<()> {
    let (limits, periods) = match budget {
        Some(budget) => (
            [
                budget.daily_limit_micros,
                budget.monthly_limit_micros,
                budget.spent_today_micros,
                budget.spent_month_micros,
            ],
            [
                budget.periods.day_start,
                budget.periods.day_end,
                budget.periods.month_start,
                budget.periods.month_end,
            ]
            .map(time::to_micros),
        ),
        None => ([0; 4], [0; 4]),
    };
    tx.execute(
        "UPDATE sync_state SET budget_known = 1, budget_daily_micros = ?1, budget_monthly_micros = ?2,
             budget_spent_today_micros = ?3, budget_spent_month_micros = ?4, budget_day_start = ?5,
             budget_day_end = ?6, budget_month_start = ?7, budget_month_end = ?8
         WHERE id = 1",
        params![
            limits[0], limits[1], limits[2], limits[3], periods[0], periods[1], periods[2], periods[3]
        ],
    )?;
    Ok(())
}

/// Replaces the server-owned config with a snapshot: the rate, prices, apps, guards and navigation hosts.
/// Rows the snapshot no longer names are switched off, not deleted: past entries refer to them.
fn mirror(tx: &Tx, snapshot: &ConfigSnapshot) -> Result<()> {
    let now = tx.env.now_micros();
    let reason = format!("org config version {}", snapshot.version);
    let rate = snapshot.credits_per_usd.normalize().to_string();
    let old_rate: String = tx.query_row(
        "SELECT credits_per_usd FROM exchange_rate WHERE id = 1",
        [],
        |row| row.get(0),
    )?;
    if old_rate != rate {
        tx.execute(
            "UPDATE exchange_rate SET credits_per_usd = ?1, updated_by = ?2, updated_at = ?3 WHERE id = 1",
            (&rate, SERVER_ACTOR, now),
        )?;
        tx.execute(
            "INSERT INTO exchange_rate_history (old_rate, new_rate, changed_by, reason, changed_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (&old_rate, &rate, SERVER_ACTOR, &reason, now),
        )?;
    }
    tx.execute("UPDATE models SET active = 0", [])?;
    tx.execute("DELETE FROM model_aliases", [])?;
    for model in &snapshot.models {
        mirror_model(tx, &model.name, &model.price, model.active, &reason, now)?;
        for alias in &model.aliases {
            tx.execute(
                "INSERT INTO model_aliases (alias, model_id) SELECT ?1, id FROM models WHERE name = ?2
                 ON CONFLICT (alias) DO NOTHING",
                (alias, &model.name),
            )?;
        }
    }
    tx.execute("UPDATE dify_apps SET enabled = 0", [])?;
    for app in &snapshot.apps {
        mirror_app(tx, app, now)?;
    }
    let policy = &snapshot.policy;
    write_policy(
        tx,
        &Policy {
            integration_enabled: policy.integration_enabled,
            min_balance_micros: policy.min_balance_micros,
            event_cap_micros: policy.event_cap_micros,
            flood_max_per_minute: policy.flood_max_per_minute,
            low_balance_micros: policy.low_balance_micros,
            max_tokens_per_event: policy.max_tokens_per_event,
            daily_budget_micros: policy.daily_budget_micros,
            monthly_budget_micros: policy.monthly_budget_micros,
            when_unchecked: policy.when_unchecked,
            side_calls: policy.side_calls,
            side_call_fixed_micros: policy.side_call_fixed_micros,
        },
        SERVER_ACTOR,
        now,
    )?;
    tx.execute("DELETE FROM navigation_hosts", [])?;
    for origin in &snapshot.navigation_hosts {
        tx.execute(
            "INSERT INTO navigation_hosts (origin, added_by, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (origin) DO NOTHING",
            (origin, SERVER_ACTOR, now),
        )?;
    }
    tx.execute(
        "UPDATE sync_state SET config_version = ?1 WHERE id = 1",
        [snapshot.version],
    )?;
    Ok(())
}

fn mirror_model(
    tx: &Tx,
    name: &str,
    price: &WirePrice,
    active: bool,
    reason: &str,
    now: i64,
) -> Result<()> {
    let input = price.input_per_1k.normalize().to_string();
    let output = price.output_per_1k.normalize().to_string();
    let old: Option<(i64, String, String)> = tx
        .query_row(
            "SELECT id, input_usd_per_1k, output_usd_per_1k FROM models WHERE name = ?1",
            [name],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let model_id = match old {
        Some((id, old_input, old_output)) if old_input == input && old_output == output => {
            tx.execute(
                "UPDATE models SET active = ?2, needs_review = 0 WHERE id = ?1",
                (id, active),
            )?;
            return Ok(());
        }
        Some((id, old_input, old_output)) => {
            tx.execute(
                "UPDATE models SET input_usd_per_1k = ?2, output_usd_per_1k = ?3, active = ?4, needs_review = 0,
                     updated_at = ?5 WHERE id = ?1",
                params![id, input, output, active, now],
            )?;
            tx.execute(
                "INSERT INTO model_price_history (model_id, old_input, old_output, new_input, new_output,
                     changed_by, reason, changed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![id, old_input, old_output, input, output, SERVER_ACTOR, reason, now],
            )?;
            return Ok(());
        }
        None => {
            tx.execute(
                "INSERT INTO models (name, input_usd_per_1k, output_usd_per_1k, active, created_by, created_at,
                     updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![name, input, output, active, SERVER_ACTOR, now],
            )?;
            tx.last_insert_rowid()
        }
    };
    tx.execute(
        "INSERT INTO model_price_history (model_id, new_input, new_output, changed_by, reason, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![model_id, input, output, SERVER_ACTOR, reason, now],
    )?;
    Ok(())
}

fn mirror_app(tx: &Tx, app: &tokendesk_sync_proto::device::AppConfig, now: i64) -> Result<()> {
    let Some(location) = share_location(&app.share_url) else {
        return Err(LedgerError::invalid(format!(
            "the server sent app {:?} with a share URL that is not a Dify share page: {}",
            app.name, app.share_url
        )));
    };
    let model_id: Option<i64> = match &app.model {
        Some(model) => tx
            .query_row("SELECT id FROM models WHERE name = ?1", [model], |row| {
                row.get(0)
            })
            .optional()?,
        None => None,
    };
    let pricing = match (app.pricing, model_id) {
        (Pricing::Model, Some(_)) => Pricing::Model,
        (Pricing::DifyPrice, _) => Pricing::DifyPrice,
        (Pricing::Model, None) => {
            return Err(LedgerError::invalid(format!(
                "the server bound app {:?} to a model it did not send",
                app.name
            )));
        }
    };
    let model_id = model_id.filter(|_| pricing == Pricing::Model);
    let server_id = app.id.to_string();
    // The same share page added on the island becomes the server's app, keeping its history.
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM dify_apps WHERE server_id = ?1 OR (origin = ?2 AND share_token = ?3)
             ORDER BY server_id IS NULL LIMIT 1",
            (&server_id, &location.origin, &location.token),
            |row| row.get(0),
        )
        .optional()?;
    match existing {
        Some(id) => {
            tx.execute(
                "UPDATE dify_apps SET server_id = ?2, name = ?3, share_url = ?4, origin = ?5, share_token = ?6,
                     pricing = ?7, model_id = ?8, enabled = ?9, demo = 0
                 WHERE id = ?1",
                params![
                    id,
                    server_id,
                    app.name,
                    app.share_url,
                    location.origin,
                    location.token,
                    pricing.as_str(),
                    model_id,
                    app.enabled
                ],
            )?;
        }
        None => {
            tx.execute(
                "INSERT INTO dify_apps (server_id, name, share_url, origin, share_token, pricing, model_id, enabled,
                     demo, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
                params![
                    server_id,
                    app.name,
                    app.share_url,
                    location.origin,
                    location.token,
                    pricing.as_str(),
                    model_id,
                    app.enabled,
                    now
                ],
            )?;
        }
    }
    Ok(())
}

/// The server's id of a local app; a nil id (which the server quarantines) for one it never sent.
fn wire_app_id(server_id: Option<String>) -> Uuid {
    server_id
        .and_then(|id| Uuid::from_str(&id).ok())
        .unwrap_or(Uuid::nil())
}

fn wire_id(id: &str) -> Result<Uuid> {
    Uuid::from_str(id).map_err(|_| LedgerError::invalid(format!("{id:?} is not a UUID")))
}

fn pending_charges(conn: &Connection, acked: i64, limit: i64) -> Result<Vec<PushItem>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS}, device_seq, config_version,
             (SELECT server_id FROM dify_apps a WHERE a.id = entries.app_id)
         FROM entries WHERE device_seq > ?1 ORDER BY device_seq LIMIT ?2"
    ))?;
    let rows = statement.query_map((acked, limit), |row| {
        Ok((
            entries::from_row(row)?,
            row.get::<_, i64>(26)?,
            row.get::<_, i64>(27)?,
            row.get::<_, Option<String>>(28)?,
        ))
    })?;
    let mut items = Vec::new();
    for row in rows {
        let (entry, device_seq, config_version, server_app) = row?;
        let Some(usage) = entry.usage else {
            return Err(LedgerError::invalid(format!(
                "entry {} has a sequence number but no usage",
                entry.id
            )));
        };
        items.push(PushItem {
            id: wire_id(&entry.id)?,
            device_seq,
            occurred_at: entry.created_at,
            config_version,
            body: ItemBody::Charge {
                amount_micros: entry.amount_micros,
                usage: Usage {
                    app_id: wire_app_id(server_app),
                    app_name: usage.app_name,
                    message_id: usage.message_id,
                    conversation_id: usage.conversation_id,
                    pricing: usage.pricing,
                    model: usage.model,
                    prompt_tokens: usage.prompt_tokens,
                    completion_tokens: usage.completion_tokens,
                    price: usage.price.map(|price| WirePrice {
                        input_per_1k: price.input_per_1k,
                        output_per_1k: price.output_per_1k,
                    }),
                    credits_per_usd: usage.credits_per_usd,
                    usd_cost: usage.usd_cost,
                    dify_total_price: usage.dify_total_price,
                    dify_currency: usage.dify_currency,
                    estimated: usage.estimated,
                    side_call: usage.side_call,
                },
            },
        });
    }
    Ok(items)
}

fn pending_holds(conn: &Connection, acked: i64, limit: i64) -> Result<Vec<PushItem>> {
    let mut statement = conn.prepare_cached(
        "SELECT h.id, h.device_seq, h.config_version, h.received_at, h.reason, h.detail, a.server_id, h.message_id,
             h.prompt_tokens, h.completion_tokens, h.estimated, h.dify_total_price, h.dify_currency,
             h.amount_micros, h.payload, h.side_call
         FROM held_events h JOIN dify_apps a ON a.id = h.app_id
         WHERE h.device_seq > ?1 ORDER BY h.device_seq LIMIT ?2",
    )?;
    let rows = statement.query_map((acked, limit), |row| {
        let invalid = |column: usize, text: String| {
            rusqlite::Error::InvalidColumnType(column, text, rusqlite::types::Type::Text)
        };
        let id: String = row.get(0)?;
        let reason: String = row.get(4)?;
        Ok(PushItem {
            id: Uuid::from_str(&id).map_err(|_| invalid(0, id.clone()))?,
            device_seq: row.get(1)?,
            config_version: row.get(2)?,
            occurred_at: time::from_micros(row.get(3)?),
            body: ItemBody::Held(HeldItem {
                reason: HoldReason::parse(&reason).ok_or_else(|| invalid(4, reason.clone()))?,
                detail: row.get(5)?,
                app_id: wire_app_id(row.get(6)?),
                message_id: row.get(7)?,
                prompt_tokens: row.get::<_, Option<i64>>(8)?.unwrap_or(0) as u64,
                completion_tokens: row.get::<_, Option<i64>>(9)?.unwrap_or(0) as u64,
                estimated: row.get(10)?,
                dify_total_price: row
                    .get::<_, Option<String>>(11)?
                    .map(|text| crate::money::stored_decimal(&text))
                    .transpose()?,
                dify_currency: row.get(12)?,
                amount_micros: row.get(13)?,
                payload: row.get(14)?,
                side_call: row
                    .get::<_, Option<String>>(15)?
                    .map(|kind| SideCall::parse(&kind).ok_or_else(|| invalid(15, kind)))
                    .transpose()?,
            }),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Reverses this device's charge at `device_seq` without a sequence number of its own: the server answered
/// it `duplicate` and never counted it, so only the local history needs netting out.
fn reverse_duplicate(tx: &Tx, device_seq: i64) -> Result<()> {
    let original = tx
        .query_row(
            &format!(
                "SELECT {ENTRY_COLUMNS} FROM entries WHERE device_seq = ?1 AND kind = 'charge'"
            ),
            [device_seq],
            entries::from_row,
        )
        .optional()?;
    let Some(original) = original else {
        // A held event answered duplicate needs no reversal.
        return Ok(());
    };
    let already: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM entries WHERE reverses_id = ?1)",
        [&original.id],
        |row| row.get(0),
    )?;
    if !already {
        entries::post_reversal(
            tx,
            &original,
            SERVER_ACTOR,
            "another device of this user already charged this message",
            None,
        )?;
    }
    Ok(())
}
