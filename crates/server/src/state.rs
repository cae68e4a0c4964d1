//! What every handler shares: the pool, the cache of immutable config snapshots, and the one
//! `LISTEN tokendesk_config` connection that wakes long polls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokendesk_sync_proto::device::ConfigSnapshot;
use tokio::sync::{OnceCell, broadcast};
use uuid::Uuid;

use crate::dify::ReconcileSettings;

/// The channel `config::bump` notifies with the org id as payload.
pub const CONFIG_CHANNEL: &str = "tokendesk_config";

/// Snapshots are never rewritten, so caching them cannot go stale; the bound only keeps memory flat.
const SNAPSHOT_CACHE_LIMIT: usize = 4096;

/// Snapshots by (org, version).
type SnapshotCache = HashMap<(Uuid, i64), Arc<ConfigSnapshot>>;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    /// How the Dify reconciler works (the server's flags).
    pub reconcile: Arc<ReconcileSettings>,
    snapshots: Arc<Mutex<SnapshotCache>>,
    config_changes: broadcast::Sender<Uuid>,
    listener: Arc<OnceCell<()>>,
}

impl AppState {
    pub fn new(pool: PgPool) -> AppState {
        Self::with_reconcile(pool, ReconcileSettings::default())
    }

    pub fn with_reconcile(pool: PgPool, reconcile: ReconcileSettings) -> AppState {
        let (config_changes, _) = broadcast::channel(256);
        AppState {
            pool,
            reconcile: Arc::new(reconcile),
            snapshots: Arc::default(),
            config_changes,
            listener: Arc::default(),
        }
    }

    pub(crate) fn cached_snapshot(
        &self,
        org_id: Uuid,
        version: i64,
    ) -> Option<Arc<ConfigSnapshot>> {
        let cache = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&(org_id, version)).cloned()
    }

    pub(crate) fn cache_snapshot(&self, org_id: Uuid, snapshot: Arc<ConfigSnapshot>) {
        let mut cache = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= SNAPSHOT_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert((org_id, snapshot.version), snapshot);
    }

    /// A receiver of config changes: an org id, or the nil id when notifications may have been lost
    /// (every waiter then re-reads its version). Starts the shared listener on first use; if it cannot
    /// start, waiters still re-check on their own timer.
    pub(crate) async fn config_changes(&self) -> broadcast::Receiver<Uuid> {
        let receiver = self.config_changes.subscribe();
        let started = self
            .listener
            .get_or_try_init(|| async {
                let mut listener = PgListener::connect_with(&self.pool).await?;
                listener.listen(CONFIG_CHANNEL).await?;
                tokio::spawn(forward_notifications(listener, self.config_changes.clone()));
                Ok::<(), sqlx::Error>(())
            })
            .await;
        if let Err(e) = started {
            tracing::warn!(error = %e, "cannot listen for config changes; long polls fall back to polling");
        }
        receiver
    }
}

async fn forward_notifications(mut listener: PgListener, changes: broadcast::Sender<Uuid>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                if let Ok(org_id) = notification.payload().parse::<Uuid>() {
                    let _ = changes.send(org_id);
                }
            }
            // The connection was lost and re-made: anything sent meanwhile is gone.
            Ok(None) => {
                let _ = changes.send(Uuid::nil());
            }
            Err(e) => {
                tracing::warn!(error = %e, "config listener failed; retrying");
                let _ = changes.send(Uuid::nil());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
