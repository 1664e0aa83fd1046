//! Signals of committed alerts. In one process, a broadcast channel the writer sends to after
//! its commit; across processes on PostgreSQL, `NOTIFY` inside the writing transaction (sent on
//! commit, never on rollback) and one `LISTEN`ing connection per process that forwards what it
//! hears into the same channel.

use std::collections::BTreeSet;
use std::sync::Arc;
#[cfg(feature = "postgres")]
use std::sync::OnceLock;
#[cfg(feature = "postgres")]
use std::time::Duration;

#[cfg(feature = "postgres")]
use sea_orm::sqlx::postgres::{PgListener, PgPool};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use tokio::sync::broadcast;
#[cfg(feature = "postgres")]
use tokio::sync::oneshot;

use super::{SeaStore, backend_err};
use crate::domain::UserId;
use crate::store::{AlertFeed, AlertSignal, Result};

/// The PostgreSQL channel commits of alerts are announced on; the payload is the owners' ids,
/// comma-separated.
pub(crate) const ALERTS_CHANNEL: &str = "signal_sentinel_alerts";
/// Owners named per notification (a payload holds at most 8,000 bytes).
const OWNERS_PER_NOTIFY: usize = 400;
/// Signals a slow view may fall behind by before it is told to look again.
const CAPACITY: usize = 1024;
/// The wait before listening again after the connection failed.
#[cfg(feature = "postgres")]
const RETRY: Duration = Duration::from_secs(2);

/// Shared by the clones of one [`SeaStore`].
pub(super) struct AlertBus {
    sender: broadcast::Sender<AlertSignal>,
    /// Set once the listener runs; dropping it (with the last clone of the store) stops it.
    #[cfg(feature = "postgres")]
    listener: OnceLock<oneshot::Sender<()>>,
}

impl AlertBus {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            sender: broadcast::channel(CAPACITY).0,
            #[cfg(feature = "postgres")]
            listener: OnceLock::new(),
        })
    }

    fn send(&self, signal: AlertSignal) {
        // No receiver is not an error: nobody is watching.
        let _ = self.sender.send(signal);
    }
}

impl SeaStore {
    /// Commits `txn`, which stored alerts of `owners`, and signals them: on PostgreSQL by a
    /// notification sent inside the transaction (so every process's listener, this one's
    /// included, hears it on commit and never for a rollback); on SQLite to this process's
    /// views directly, after the commit.
    pub(super) async fn commit_alerts(
        &self,
        txn: DatabaseTransaction,
        owners: &BTreeSet<i64>,
    ) -> Result<()> {
        if self.is_postgres() {
            let owners: Vec<&i64> = owners.iter().collect();
            for chunk in owners.chunks(OWNERS_PER_NOTIFY) {
                let payload = chunk
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                txn.execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [ALERTS_CHANNEL.into(), payload.into()],
                ))
                .await
                .map_err(backend_err)?;
            }
            txn.commit().await.map_err(backend_err)
        } else {
            txn.commit().await.map_err(backend_err)?;
            for owner in owners {
                self.feed.send(AlertSignal::Owner(UserId::new(*owner)));
            }
            Ok(())
        }
    }

    pub(super) fn subscribe(&self) -> AlertFeed {
        let signals = self.feed.sender.subscribe();
        let cross_process = self.is_postgres() && self.start_listener();
        AlertFeed {
            signals,
            cross_process,
        }
    }

    /// Starts this store's listener unless it runs already; `false` outside a Tokio runtime
    /// (or in a build without PostgreSQL).
    #[cfg(not(feature = "postgres"))]
    #[allow(clippy::unused_self)]
    fn start_listener(&self) -> bool {
        false
    }

    /// Starts this store's listener unless it runs already; `false` outside a Tokio runtime.
    #[cfg(feature = "postgres")]
    fn start_listener(&self) -> bool {
        if self.feed.listener.get().is_some() {
            return true;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        let (stop, stopped) = oneshot::channel();
        if self.feed.listener.set(stop).is_ok() {
            let pool = self.db.get_postgres_connection_pool().clone();
            let sender = self.feed.sender.clone();
            runtime.spawn(listen(pool, sender, stopped));
        }
        true
    }
}

/// Forwards the notifications of [`ALERTS_CHANNEL`] to `sender` until `stop` is dropped.
#[cfg(feature = "postgres")]
/// Each time it (re)starts listening it sends [`AlertSignal::All`]: whatever was committed
/// while it was not listening is looked for.
async fn listen(
    pool: PgPool,
    sender: broadcast::Sender<AlertSignal>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut listener: Option<PgListener> = None;
    loop {
        let current = match listener.as_mut() {
            Some(l) => l,
            None => {
                let connected = async {
                    let mut l = PgListener::connect_with(&pool).await?;
                    l.listen(ALERTS_CHANNEL).await?;
                    Ok::<_, sea_orm::sqlx::Error>(l)
                };
                match connected.await {
                    Ok(l) => {
                        let _ = sender.send(AlertSignal::All);
                        listener.insert(l)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "alert feed: cannot listen; retrying");
                        tokio::select! {
                            _ = &mut stop => return,
                            () = tokio::time::sleep(RETRY) => continue,
                        }
                    }
                }
            }
        };
        let received = tokio::select! {
            _ = &mut stop => return,
            received = current.try_recv() => received,
        };
        match received {
            Ok(Some(notification)) => {
                for owner in notification.payload().split(',') {
                    match owner.parse::<i64>() {
                        Ok(id) => {
                            let _ = sender.send(AlertSignal::Owner(UserId::new(id)));
                        }
                        Err(_) => {
                            let _ = sender.send(AlertSignal::All);
                        }
                    }
                }
            }
            // The connection was lost and is back (listening again): notifications sent
            // meanwhile are gone.
            Ok(None) => {
                tracing::warn!("alert feed: connection lost and restored");
                let _ = sender.send(AlertSignal::All);
            }
            Err(sea_orm::sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "alert feed: listening failed; retrying");
                listener = None;
                tokio::select! {
                    _ = &mut stop => return,
                    () = tokio::time::sleep(RETRY) => {}
                }
            }
        }
    }
}
