//! Brokerage links as use cases: link, repair, sync (on demand and on a schedule), status,
//! remove, and re-sealing access tokens after a `SECRET_KEY` rotation.

use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Principal, ServiceError, ServiceResult, Services};
use crate::auth::vault::{Vault, VaultError};
use crate::broker::{BrokerError, BrokerLink, LinkToken, SkippedHolding};
use crate::domain::{
    BrokerConnection, ConnectionId, ConnectionStatus, HoldingSource, NewBrokerConnection,
    NewHolding, SyncOutcome,
};
use crate::time::Timestamp;

/// Longest public token accepted (Plaid's are about 60 characters).
const MAX_PUBLIC_TOKEN_LEN: usize = 200;
/// How long a worker's claim on a scheduled sync lasts (a failed sync is retried after it).
const SYNC_CLAIM_MINUTES: i64 = 15;

/// The brokerage link and the vault that seals its tokens.
#[derive(Clone, Default)]
pub(super) struct Brokerage {
    pub(super) link: Option<Arc<dyn BrokerLink>>,
    pub(super) vault: Option<Arc<Vault>>,
    /// How old holdings may grow before the background sync refreshes them (`None`: 6 hours,
    /// the default of `PLAID_SYNC_HOURS`).
    pub(super) sync_interval: Option<chrono::Duration>,
}

/// A connection as its owner sees it: health and what to do, never the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionView {
    /// Identifier.
    pub id: ConnectionId,
    /// The link provider (`plaid`).
    pub provider: String,
    /// The institution's name (or id), when known.
    pub institution: Option<String>,
    /// Health.
    pub status: ConnectionStatus,
    /// The provider's code of the last failure.
    pub error_code: Option<String>,
    /// The last failure's message.
    pub error_message: Option<String>,
    /// What to do about the failure.
    pub action: Option<String>,
    /// When holdings were last synchronised.
    pub last_synced_at: Option<Timestamp>,
    /// Positions stored from this link.
    pub positions: usize,
    /// When it was linked.
    pub created_at: Timestamp,
}

/// The result of synchronising one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// The connection after the sync.
    pub connection: ConnectionView,
    /// Positions stored (0 when it failed: the previous ones were kept).
    pub positions: usize,
    /// Cash reported (US dollars), not tracked as a position.
    pub cash: Decimal,
    /// Holdings left out, and why.
    pub skipped: Vec<SkippedHolding>,
}

/// What re-sealing after a key rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResealReport {
    /// Tokens sealed again under the current key.
    pub resealed: usize,
    /// Tokens no configured key opens (their links need `SECRET_KEY_PREVIOUS` or relinking).
    pub unreadable: usize,
}

fn context(c: &BrokerConnection) -> String {
    format!("user:{}/{}/{}", c.owner.get(), c.provider, c.item_id)
}

fn unreadable_message(e: &VaultError) -> String {
    format!("the stored access token cannot be opened: {e}")
}

impl From<BrokerError> for ServiceError {
    fn from(e: BrokerError) -> Self {
        match e {
            BrokerError::Rejected { ref code, .. } if code == "INVALID_PUBLIC_TOKEN" => {
                Self::invalid("public_token", format!("{e}. {}", e.what_to_do()))
            }
            BrokerError::Item { .. } => Self::Conflict {
                field: "connection".into(),
                message: format!("{e}. {}", e.what_to_do()),
            },
            other => Self::Unavailable(format!("{other}. {}", other.what_to_do())),
        }
    }
}

impl Services {
    /// Uses `link` for brokerage links (none: linking answers "not configured") and `vault`
    /// to seal their access tokens.
    #[must_use]
    pub fn with_brokerage(mut self, link: Option<Arc<dyn BrokerLink>>, vault: Vault) -> Self {
        self.brokerage = Brokerage {
            link,
            vault: Some(Arc::new(vault)),
            sync_interval: self.brokerage.sync_interval,
        };
        self
    }

    /// Whether brokerage linking is configured.
    pub fn brokerage_configured(&self) -> bool {
        self.brokerage.link.is_some()
    }

    fn broker(&self) -> ServiceResult<(&Arc<dyn BrokerLink>, &Vault)> {
        match (&self.brokerage.link, &self.brokerage.vault) {
            (Some(link), Some(vault)) => Ok((link, vault)),
            _ => Err(ServiceError::from(BrokerError::NotConfigured)),
        }
    }

    async fn own_connection(
        &self,
        who: Principal,
        id: ConnectionId,
    ) -> ServiceResult<BrokerConnection> {
        let connection = self.store.get_connection(id).await?;
        if connection.owner == who.user {
            Ok(connection)
        } else {
            Err(ServiceError::NotFound("broker connection"))
        }
    }

    /// The owner's view of `c`; `holdings` are the owner's (read once per request).
    fn view(c: BrokerConnection, holdings: &[crate::domain::Holding]) -> ConnectionView {
        let positions = holdings
            .iter()
            .filter(|h| h.connection == Some(c.id))
            .count();
        let action = c.error_code.as_ref().map(|code| {
            let error = if c.status == ConnectionStatus::NeedsAttention {
                BrokerError::Item {
                    code: code.clone(),
                    message: String::new(),
                }
            } else {
                BrokerError::Unavailable(String::new())
            };
            error.what_to_do()
        });
        let action = match (action, c.status) {
            (None, ConnectionStatus::NeedsAttention) => Some(
                "Set SECRET_KEY_PREVIOUS to the previous SECRET_KEY and restart, or remove the link and link the brokerage again."
                    .to_owned(),
            ),
            (action, _) => action,
        };
        ConnectionView {
            id: c.id,
            provider: c.provider,
            institution: c.institution,
            status: c.status,
            error_code: c.error_code,
            error_message: c.error_message,
            action,
            last_synced_at: c.last_synced_at,
            positions,
            created_at: c.created_at,
        }
    }

    /// A link token for the browser to open Plaid Link with; with `repair`, one in update
    /// mode that restores that connection (after `ITEM_LOGIN_REQUIRED` and the like).
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] when linking is not configured or the provider fails;
    /// [`ServiceError::NotFound`] for another user's connection.
    pub async fn broker_link_token(
        &self,
        who: Principal,
        repair: Option<ConnectionId>,
    ) -> ServiceResult<LinkToken> {
        let (broker, vault) = self.broker()?;
        let access = match repair {
            Some(id) => {
                let c = self.own_connection(who, id).await?;
                Some(vault.open(&c.sealed_token, &context(&c)).map_err(|e| {
                    ServiceError::Conflict {
                        field: "connection".into(),
                        message: unreadable_message(&e),
                    }
                })?)
            }
            None => None,
        };
        Ok(broker.create_link_token(who.user, access.as_ref()).await?)
    }

    /// Completes a link: exchanges the public token Plaid Link gave the browser, stores the
    /// sealed access token and synchronises the holdings at once.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] on field `public_token` for an empty, overlong or spent token;
    /// [`ServiceError::Unavailable`] when linking is not configured or the provider fails.
    pub async fn link_brokerage(
        &self,
        who: Principal,
        public_token: &str,
        institution: Option<&str>,
    ) -> ServiceResult<SyncReport> {
        let public_token = public_token.trim();
        if public_token.is_empty() || public_token.len() > MAX_PUBLIC_TOKEN_LEN {
            return Err(ServiceError::invalid(
                "public_token",
                format!(
                    "expected the public token from Plaid Link (1 to {MAX_PUBLIC_TOKEN_LEN} characters)"
                ),
            ));
        }
        let institution = institution.map(str::trim).filter(|i| !i.is_empty());
        if institution.is_some_and(|i| i.chars().count() > 100) {
            return Err(ServiceError::invalid(
                "institution",
                "must be at most 100 characters",
            ));
        }
        let (broker, vault) = self.broker()?;
        let exchanged = broker.exchange_public_token(public_token).await?;
        let mut new = NewBrokerConnection {
            owner: who.user,
            provider: broker.provider().to_owned(),
            item_id: exchanged.item_id,
            institution: institution.map(str::to_owned),
            sealed_token: String::new(),
        };
        new.sealed_token = vault
            .seal(
                &exchanged.access_token,
                &format!("user:{}/{}/{}", new.owner.get(), new.provider, new.item_id),
            )
            .map_err(ServiceError::internal)?;
        let connection = self.store.create_connection(new).await?;
        self.sync_connection(connection).await
    }

    /// The user's brokerage connections and their health (`invest portfolio link-status`).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn broker_connections(&self, who: Principal) -> ServiceResult<Vec<ConnectionView>> {
        let holdings = self.store.list_holdings(who.user).await?;
        Ok(self
            .store
            .list_connections(who.user)
            .await?
            .into_iter()
            .map(|c| Self::view(c, &holdings))
            .collect())
    }

    /// Synchronises all of the user's connections now, those waiting for the user included
    /// (the user may have fixed the cause at the brokerage).
    ///
    /// # Errors
    /// [`ServiceError::Unavailable`] when linking is not configured; storage failures. A
    /// provider's failure is reported in its connection's [`SyncReport`], not as an error.
    pub async fn sync_brokerage(&self, who: Principal) -> ServiceResult<Vec<SyncReport>> {
        self.broker()?;
        let mut reports = Vec::new();
        for c in self.store.list_connections(who.user).await? {
            reports.push(self.sync_connection(c).await?);
        }
        Ok(reports)
    }

    /// Removes a connection and the holdings it reported, and revokes its access token at the
    /// provider (best effort: the link is removed here whatever the provider answers).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a missing or another user's connection.
    pub async fn remove_brokerage(&self, who: Principal, id: ConnectionId) -> ServiceResult<()> {
        let c = self.own_connection(who, id).await?;
        if let Ok((broker, vault)) = self.broker()
            && let Ok(token) = vault.open(&c.sealed_token, &context(&c))
            && let Err(e) = broker.remove(&token).await
        {
            tracing::warn!(
                connection = id.get(),
                "revoking the access token failed: {e}"
            );
        }
        self.store.delete_connection(id).await?;
        Ok(())
    }

    /// Synchronises the connections whose holdings are older than `interval` (a worker's
    /// schedule). Several workers may call it: each connection is claimed by one.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn sync_due_brokerage(
        &self,
        interval: chrono::Duration,
    ) -> ServiceResult<Vec<SyncReport>> {
        if self.brokerage.link.is_none() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let due = self
            .store
            .claim_due_connections(
                now,
                now - interval,
                now + chrono::Duration::minutes(SYNC_CLAIM_MINUTES),
            )
            .await?;
        let mut reports = Vec::new();
        for c in due {
            reports.push(self.sync_connection(c).await?);
        }
        Ok(reports)
    }

    /// Seals again, under the current key, every access token sealed under
    /// `SECRET_KEY_PREVIOUS` (run at start-up: after a rotation the previous key can then be
    /// dropped). Tokens no key opens are counted and marked as needing attention; nothing is
    /// deleted, so setting the right `SECRET_KEY_PREVIOUS` later still recovers them.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn reseal_broker_tokens(&self) -> ServiceResult<ResealReport> {
        let mut report = ResealReport::default();
        let Some(vault) = &self.brokerage.vault else {
            return Ok(report);
        };
        for c in self.store.all_connections().await? {
            if !vault.needs_reseal(&c.sealed_token) {
                continue;
            }
            match vault.open(&c.sealed_token, &context(&c)) {
                Ok(token) => {
                    let sealed = vault
                        .seal(&token, &context(&c))
                        .map_err(ServiceError::internal)?;
                    if self
                        .store
                        .reseal_connection(c.id, &c.sealed_token, &sealed)
                        .await?
                    {
                        report.resealed += 1;
                    }
                }
                Err(e) => {
                    report.unreadable += 1;
                    self.record_failure(&c, None, unreadable_message(&e), true)
                        .await?;
                }
            }
        }
        if report.resealed > 0 || report.unreadable > 0 {
            tracing::info!(
                resealed = report.resealed,
                unreadable = report.unreadable,
                "brokerage access tokens re-sealed under the current SECRET_KEY"
            );
        }
        Ok(report)
    }

    async fn record_failure(
        &self,
        c: &BrokerConnection,
        code: Option<String>,
        message: String,
        needs_user: bool,
    ) -> ServiceResult<()> {
        let status = if needs_user {
            ConnectionStatus::NeedsAttention
        } else {
            ConnectionStatus::Retrying
        };
        self.store
            .record_sync(
                c.id,
                SyncOutcome::Failed {
                    status,
                    code,
                    message,
                },
                self.clock.now(),
            )
            .await?;
        Ok(())
    }

    async fn sync_connection(&self, c: BrokerConnection) -> ServiceResult<SyncReport> {
        let (broker, vault) = self.broker()?;
        let fetched = match vault.open(&c.sealed_token, &context(&c)) {
            Ok(token) => broker.holdings(&token).await,
            Err(e) => {
                self.record_failure(&c, None, unreadable_message(&e), true)
                    .await?;
                return self.report(c.id, 0, Decimal::ZERO, Vec::new()).await;
            }
        };
        match fetched {
            Ok(holdings) => {
                let positions: Vec<NewHolding> = holdings
                    .positions
                    .into_iter()
                    .map(|p| NewHolding {
                        owner: c.owner,
                        account: p.account,
                        symbol: p.symbol,
                        quantity: p.quantity,
                        cost_basis: p.cost_basis,
                        source: HoldingSource::Plaid,
                        connection: Some(c.id),
                    })
                    .collect();
                let count = positions.len();
                self.store
                    .record_sync(c.id, SyncOutcome::Holdings(positions), self.clock.now())
                    .await?;
                self.report(c.id, count, holdings.cash, holdings.skipped)
                    .await
            }
            Err(e) => {
                let needs_user =
                    matches!(e, BrokerError::Item { .. } | BrokerError::Rejected { .. });
                tracing::warn!(connection = c.id.get(), "brokerage sync failed: {e}");
                let message = match &e {
                    BrokerError::Item { message, .. } | BrokerError::Rejected { message, .. } => {
                        message.clone()
                    }
                    other => other.to_string(),
                };
                self.record_failure(&c, e.code().map(str::to_owned), message, needs_user)
                    .await?;
                self.report(c.id, 0, Decimal::ZERO, Vec::new()).await
            }
        }
    }

    async fn report(
        &self,
        id: ConnectionId,
        positions: usize,
        cash: Decimal,
        skipped: Vec<SkippedHolding>,
    ) -> ServiceResult<SyncReport> {
        let connection = self.store.get_connection(id).await?;
        let holdings = self.store.list_holdings(connection.owner).await?;
        let connection = Self::view(connection, &holdings);
        Ok(SyncReport {
            connection,
            positions,
            cash,
            skipped,
        })
    }
}

/// What "watch my holdings" creates for every position held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchHoldings {
    /// A rule `SYMBOL position X% below cost` (positions with a cost basis).
    pub below_cost_percent: Option<Decimal>,
    /// A rule `SYMBOL position day move >= X%`.
    pub day_move_percent: Option<Decimal>,
    /// A rule `SYMBOL position weight > X%`.
    pub weight_percent: Option<Decimal>,
}

/// What "watch my holdings" did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WatchReport {
    /// Rules created (their canonical text).
    pub created: Vec<String>,
    /// Rules that existed already, left as they were.
    pub existing: Vec<String>,
}

impl Services {
    /// Creates holdings rules for every position at once ("watch my holdings"); a rule that
    /// exists already (same text) is not created twice, so it can be run again after new
    /// positions arrive.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] when nothing is asked or a percentage is out of range (nothing
    /// is created then); [`ServiceError::LimitReached`] when the rules would pass the cap.
    pub async fn watch_holdings(
        &self,
        who: Principal,
        watch: WatchHoldings,
    ) -> ServiceResult<WatchReport> {
        if watch == WatchHoldings::default() {
            return Err(ServiceError::invalid(
                "below_cost_percent",
                "ask for at least one of below_cost_percent, day_move_percent, weight_percent",
            ));
        }
        let holdings = self.store.list_holdings(who.user).await?;
        let mut wanted = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for h in &holdings {
            if !seen.insert(h.symbol.clone()) {
                continue;
            }
            let with_cost = holdings
                .iter()
                .filter(|x| x.symbol == h.symbol)
                .all(|x| x.cost_basis.is_some());
            if let (Some(p), true) = (watch.below_cost_percent, with_cost) {
                wanted.push((
                    "below_cost_percent",
                    format!("{} position {p}% below cost", h.symbol),
                ));
            }
            if let Some(p) = watch.day_move_percent {
                wanted.push((
                    "day_move_percent",
                    format!("{} position day move >= {p}%", h.symbol),
                ));
            }
            if let Some(p) = watch.weight_percent {
                wanted.push((
                    "weight_percent",
                    format!("{} position weight > {p}%", h.symbol),
                ));
            }
        }
        // Validate everything before creating anything.
        let mut parsed = Vec::new();
        for (field, text) in wanted {
            let rule = crate::engine::parse_rule(&text)
                .map_err(|e| ServiceError::invalid(field, e.message.clone()))?;
            parsed.push(rule.to_string());
        }
        let existing: std::collections::HashSet<String> = self
            .store
            .list_rules(&crate::domain::RuleFilter {
                owner: Some(who.user),
                ..crate::domain::RuleFilter::default()
            })
            .await?
            .iter()
            .map(super::rule_text)
            .collect();
        let (existing, new): (Vec<String>, Vec<String>) =
            parsed.into_iter().partition(|t| existing.contains(t));
        let have = self.store.count_rules(who.user).await?;
        let cap = self.limits.max_rules_per_user;
        if have + new.len() as u64 > cap {
            return Err(ServiceError::LimitReached(format!(
                "watching your holdings needs {} new rules and you have {have} of {cap}; delete some first",
                new.len()
            )));
        }
        let mut created = Vec::new();
        for text in new {
            let rule = self
                .create_rule(
                    who,
                    super::RuleSpec {
                        text: Some(text),
                        ..super::RuleSpec::default()
                    },
                    None,
                    crate::engine::RuleOptions::default(),
                    true,
                    None,
                )
                .await?;
            created.push(super::rule_text(&rule));
        }
        Ok(WatchReport { created, existing })
    }
}
