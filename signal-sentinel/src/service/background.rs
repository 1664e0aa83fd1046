//! The background work of a server or worker process: monitor cycles, the notification
//! dispatcher, the daily digests, brokerage syncs and the Telegram bot's long polling, stopped
//! together by one token.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Services;
use crate::clock::Clock;
use crate::market::MarketData;
use crate::monitor::{Monitor, MonitorConfig};

/// How often the dispatcher looks at the outbox.
const DISPATCH_EVERY: Duration = Duration::from_secs(5);
/// How often due digests are queued.
const DIGESTS_EVERY: Duration = Duration::from_secs(60);
/// How often brokerage links are checked for a due sync.
const SYNC_EVERY: Duration = Duration::from_secs(300);

impl Services {
    /// A monitor over these use cases' database, quoting from `market` on `clock` (a replay
    /// runs on its own time). Each cycle's new alerts are summarised in the background (the
    /// model when one is configured, else the template) and the summary stored with them.
    pub fn monitor(
        &self,
        market: Arc<dyn MarketData>,
        clock: Arc<dyn Clock>,
        mut config: MonitorConfig,
    ) -> Monitor {
        if let Some(guard) = self.flood_guard {
            config.flood_guard = guard;
        }
        let monitor = Monitor::new(self.store.clone(), market, clock, config);
        let Some(summaries) = self.summaries.clone() else {
            return monitor;
        };
        monitor.on_alerts(Arc::new(move |alerts| {
            let summaries = summaries.clone();
            tokio::spawn(async move {
                for alert in alerts {
                    if let Err(e) = summaries.summarize(&alert).await {
                        tracing::warn!(alert = %alert.id, "cannot store the summary: {e}");
                    }
                }
            });
        }))
    }

    /// Runs `monitor` every `interval`, the notification dispatcher, the daily digests and the
    /// brokerage syncs (after re-sealing tokens left under `SECRET_KEY_PREVIOUS`) until
    /// `cancel` is cancelled; each then finishes its current unit of work (the cycle, the
    /// deliveries claimed, the digest or sync in progress) before this returns.
    pub async fn run_background(
        &self,
        monitor: &Monitor,
        interval: Duration,
        cancel: CancellationToken,
    ) {
        let dispatching = self.dispatcher().spawn(DISPATCH_EVERY, cancel.clone());
        let digesting = tokio::spawn({
            let services = self.clone();
            let cancel = cancel.clone();
            async move {
                loop {
                    if let Err(e) = crate::notify::send_due_digests(
                        services.store.as_ref(),
                        services.clock.as_ref(),
                        services.summaries.as_deref(),
                    )
                    .await
                    {
                        tracing::error!("digests failed: {}", crate::error_chain(&e));
                    }
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(DIGESTS_EVERY) => {}
                    }
                }
            }
        });
        // One process of the deployment reads the bot's updates at a time (a lease).
        let chatting = self
            .telegram_bot()
            .filter(|_| self.telegram_polls())
            .map(|bot| {
                let cancel = cancel.clone();
                tokio::spawn(async move { bot.run(cancel).await })
            });
        let syncing = tokio::spawn({
            let services = self.clone();
            let cancel = cancel.clone();
            async move { services.sync_brokerage_until(cancel).await }
        });
        monitor.run(interval, cancel.cancelled()).await;
        let _ = tokio::join!(dispatching, digesting, syncing);
        if let Some(chatting) = chatting {
            let _ = chatting.await;
        }
        tracing::info!(
            cycles = monitor.stats().cycles(),
            overruns = monitor.stats().overruns(),
            "monitor stopped"
        );
    }

    async fn sync_brokerage_until(&self, cancel: CancellationToken) {
        if let Err(e) = self.reseal_broker_tokens().await {
            tracing::error!(
                "re-sealing brokerage tokens failed: {}",
                crate::error_chain(&e)
            );
        }
        if let Err(e) = self.reseal_channel_secrets().await {
            tracing::error!("sealing channel secrets failed: {}", crate::error_chain(&e));
        }
        if !self.brokerage_configured() {
            return;
        }
        loop {
            match self
                .sync_due_brokerage(
                    self.brokerage
                        .sync_interval
                        .unwrap_or(chrono::Duration::hours(6)),
                )
                .await
            {
                Ok(reports) if !reports.is_empty() => {
                    tracing::info!(links = reports.len(), "brokerage holdings synchronised");
                }
                Ok(_) => {}
                Err(e) => tracing::error!("brokerage sync failed: {}", crate::error_chain(&e)),
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(SYNC_EVERY) => {}
            }
        }
    }
}
