//! A user's new alerts as they are committed, for live views (the API's event stream).

use std::time::Duration;

use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

use super::{MAX_PAGE_SIZE, Principal, ServiceResult, Services};
use crate::domain::{Alert, AlertQuery};
use crate::store::AlertSignal;

/// The longest a watch waits before looking anyway when the store signals commits from every
/// process (PostgreSQL): a safety net for a listener that is reconnecting.
pub const SIGNALLED_POLL: Duration = Duration::from_secs(30);

/// New alerts of one user, oldest first, from the moment the watch started. Woken by the
/// store's [`AlertFeed`](crate::store::AlertFeed) when it has one — on PostgreSQL by commits
/// of any process, on SQLite by this process's — and otherwise by polling.
pub struct AlertWatch {
    services: Services,
    who: Principal,
    last_id: i64,
    signals: Option<Receiver<AlertSignal>>,
    poll: Duration,
}

impl std::fmt::Debug for AlertWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertWatch")
            .field("user", &self.who.user)
            .field("last_id", &self.last_id)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl Services {
    /// Starts watching the acting user's alerts. `poll` is how often it looks when alerts
    /// written by other processes are not signalled (SQLite, where a worker in another process
    /// may write them); when they are (PostgreSQL), it looks on each signal and at least every
    /// [`SIGNALLED_POLL`].
    ///
    /// # Errors
    /// Storage failures reading the newest alert.
    pub async fn watch_alerts(&self, who: Principal, poll: Duration) -> ServiceResult<AlertWatch> {
        // Subscribe first: an alert committed between the two steps is signalled, not lost.
        let feed = self.store.alert_feed();
        let last_id = self
            .list_alerts(who, AlertQuery::newest(who.user, 1))
            .await?
            .first()
            .map_or(0, |a| a.id.get());
        let cross_process = feed.as_ref().is_some_and(|f| f.cross_process);
        Ok(AlertWatch {
            services: self.clone(),
            who,
            last_id,
            signals: feed.map(|f| f.signals),
            poll: if cross_process {
                SIGNALLED_POLL.max(poll)
            } else {
                poll
            },
        })
    }
}

impl AlertWatch {
    /// Waits until there are new alerts and returns them, oldest first: every alert stored
    /// since the last call, however many one cycle stored (at most two per rule of the user).
    /// A failed read is logged and tried again at the next wake-up.
    pub async fn next(&mut self) -> Vec<Alert> {
        loop {
            self.wait().await;
            match self.newer().await {
                Ok(mut alerts) if !alerts.is_empty() => {
                    alerts.sort_by_key(|a| a.id);
                    self.last_id = alerts.last().map_or(self.last_id, |a| a.id.get());
                    return alerts;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("alert watch: {e}"),
            }
        }
    }

    /// The alerts stored after `last_id`, newest first, a page at a time until a page reaches
    /// older ones.
    async fn newer(&self) -> ServiceResult<Vec<Alert>> {
        let mut fresh = Vec::new();
        let mut query = AlertQuery::newest(self.who.user, MAX_PAGE_SIZE);
        loop {
            let page = self.services.list_alerts(self.who, query.clone()).await?;
            let full = page.len() as u64 == MAX_PAGE_SIZE;
            let before = page.last().map(Into::into);
            let seen = page.len();
            let known = fresh.len();
            fresh.extend(page.into_iter().filter(|a| a.id.get() > self.last_id));
            // A page that is not all new, or the last page: nothing newer lies further back.
            if !full || fresh.len() - known < seen {
                return Ok(fresh);
            }
            query.before = before;
        }
    }

    /// Until a signal that may concern this user, or the poll interval.
    async fn wait(&mut self) {
        let timer = tokio::time::sleep(self.poll);
        tokio::pin!(timer);
        loop {
            let Some(signals) = self.signals.as_mut() else {
                timer.await;
                return;
            };
            tokio::select! {
                () = &mut timer => return,
                signal = signals.recv() => match signal {
                    Ok(AlertSignal::Owner(owner)) if owner != self.who.user => {}
                    Ok(_) | Err(RecvError::Lagged(_)) => return,
                    Err(RecvError::Closed) => self.signals = None,
                },
            }
        }
    }
}
