//! `/api/portfolio`: holdings valued at current quotes, their CSV import, and brokerage
//! connections through Plaid (link token, link, sync, status, remove).

use crate::strict::{Dec, Text};
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::{Object, OpenApi, payload::Json};
use rust_decimal::Decimal;
use signal_sentinel::domain::ConnectionId;
use signal_sentinel::portfolio::{MAX_CSV_LEN, Portfolio};
use signal_sentinel::service::{ConnectionView, SyncReport};

use super::{ApiTags, NoContent};
use crate::AppState;
use crate::error::ApiError;
use crate::security::Auth;

/// One position.
#[derive(Debug, Clone, Object)]
pub struct PositionOut {
    /// The symbol.
    pub symbol: String,
    /// The account it is held in.
    pub account: String,
    /// Shares or units.
    pub quantity: Decimal,
    /// Cost per share, when known.
    #[oai(nullable)]
    pub cost_basis: Option<Decimal>,
    /// `csv`, `plaid` or `manual`.
    pub source: String,
    /// Last price, when a quote came.
    #[oai(nullable)]
    pub price: Option<Decimal>,
    /// quantity × price.
    #[oai(nullable)]
    pub market_value: Option<Decimal>,
    /// Today's change in value.
    #[oai(nullable)]
    pub day_change: Option<Decimal>,
    /// Gain against the cost basis.
    #[oai(nullable)]
    pub gain: Option<Decimal>,
    /// The gain in percent.
    #[oai(nullable)]
    pub gain_percent: Option<Decimal>,
}

/// The portfolio.
#[derive(Debug, Clone, Object)]
pub struct PortfolioOut {
    /// Positions, by symbol.
    pub positions: Vec<PositionOut>,
    /// Total market value (of priced positions).
    pub market_value: Decimal,
    /// Today's change in value.
    pub day_change: Decimal,
    /// Today's change in percent.
    #[oai(nullable)]
    pub day_change_percent: Option<Decimal>,
    /// Total gain against cost basis.
    pub gain: Decimal,
    /// Symbols without a quote right now.
    pub unpriced: Vec<String>,
}

impl From<Portfolio> for PortfolioOut {
    fn from(p: Portfolio) -> Self {
        Self {
            positions: p
                .positions
                .into_iter()
                .map(|x| PositionOut {
                    symbol: x.holding.symbol.to_string(),
                    account: x.holding.account,
                    quantity: x.holding.quantity,
                    cost_basis: x.holding.cost_basis,
                    source: x.holding.source.as_str().to_owned(),
                    price: x.price,
                    market_value: x.market_value,
                    day_change: x.day_change,
                    gain: x.gain,
                    gain_percent: x.gain_percent,
                })
                .collect(),
            market_value: p.market_value,
            day_change: p.day_change,
            day_change_percent: p.day_change_percent,
            gain: p.gain,
            unpriced: p.unpriced,
        }
    }
}

/// A CSV of holdings.
#[derive(Debug, Object)]
pub struct ImportIn {
    /// `symbol,quantity,cost_basis,account` with a header; all lines or none are imported.
    pub csv: Text<{ MAX_CSV_LEN }>,
}

type Time = chrono::DateTime<chrono::Utc>;

/// A brokerage connection: its health and what to do about a failure. Never the token.
#[derive(Debug, Clone, Object)]
pub struct ConnectionOut {
    /// Identifier.
    pub id: i64,
    /// The link provider (`plaid`).
    pub provider: String,
    /// The institution, when known.
    #[oai(nullable)]
    pub institution: Option<String>,
    /// `active`, `needs_attention` (the user must act, see `action`) or `retrying`.
    pub status: String,
    /// The provider's code of the last failure (`ITEM_LOGIN_REQUIRED`).
    #[oai(nullable)]
    pub error_code: Option<String>,
    /// The last failure's message.
    #[oai(nullable)]
    pub error_message: Option<String>,
    /// What to do about the failure.
    #[oai(nullable)]
    pub action: Option<String>,
    /// When holdings were last synchronised.
    #[oai(nullable)]
    pub last_synced_at: Option<Time>,
    /// Positions stored from this connection.
    pub positions: u32,
    /// When it was linked.
    pub created_at: Time,
}

impl From<ConnectionView> for ConnectionOut {
    fn from(c: ConnectionView) -> Self {
        Self {
            id: c.id.get(),
            provider: c.provider,
            institution: c.institution,
            status: c.status.as_str().to_owned(),
            error_code: c.error_code,
            error_message: c.error_message,
            action: c.action,
            last_synced_at: c.last_synced_at,
            positions: u32::try_from(c.positions).unwrap_or(u32::MAX),
            created_at: c.created_at,
        }
    }
}

/// A holding a sync left out, and why.
#[derive(Debug, Clone, Object)]
pub struct SkippedOut {
    /// The account.
    pub account: String,
    /// The security.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// What a sync of one connection brought.
#[derive(Debug, Clone, Object)]
pub struct SyncOut {
    /// The connection after the sync.
    pub connection: ConnectionOut,
    /// Positions stored (0 when the sync failed; the previous ones are kept).
    pub positions: u32,
    /// Cash reported, in US dollars (not a position).
    pub cash: Decimal,
    /// Holdings left out.
    pub skipped: Vec<SkippedOut>,
}

impl From<SyncReport> for SyncOut {
    fn from(r: SyncReport) -> Self {
        Self {
            connection: r.connection.into(),
            positions: u32::try_from(r.positions).unwrap_or(u32::MAX),
            cash: r.cash,
            skipped: r
                .skipped
                .into_iter()
                .map(|s| SkippedOut {
                    account: s.account,
                    name: s.name,
                    reason: s.reason,
                })
                .collect(),
        }
    }
}

/// Ask for a link token.
#[derive(Debug, Default, Object)]
pub struct LinkTokenIn {
    /// A connection to repair (update mode, after `ITEM_LOGIN_REQUIRED`); omit to link a new
    /// brokerage.
    #[oai(nullable)]
    pub connection_id: Option<i64>,
}

/// A token to open Plaid Link with.
#[derive(Debug, Clone, Object)]
pub struct LinkTokenOut {
    /// `link-…`: pass it to `Plaid.create({token})`.
    pub link_token: String,
    /// When it expires.
    #[oai(nullable)]
    pub expiration: Option<String>,
}

/// The public token Plaid Link handed the browser.
#[derive(Debug, Object)]
pub struct LinkIn {
    /// `public-…` from Link's `onSuccess` (at most 200 characters).
    pub public_token: Text,
    /// The institution's name from Link's metadata, to show in lists (at most 100
    /// characters).
    #[oai(nullable)]
    pub institution: Option<Text>,
}

/// "Watch my holdings": which rules to create for every position.
#[derive(Debug, Default, Object)]
pub struct WatchIn {
    /// Create `SYMBOL position X% below cost` (positions with a cost basis).
    #[oai(nullable)]
    pub below_cost_percent: Option<Dec>,
    /// Create `SYMBOL position day move >= X%`.
    #[oai(nullable)]
    pub day_move_percent: Option<Dec>,
    /// Create `SYMBOL position weight > X%`.
    #[oai(nullable)]
    pub weight_percent: Option<Dec>,
}

/// The rules "watch my holdings" created, and those that existed already.
#[derive(Debug, Clone, Object)]
pub struct WatchOut {
    /// Created (canonical text).
    pub created: Vec<String>,
    /// Existing already, left as they were.
    pub existing: Vec<String>,
}

/// Portfolio.
#[derive(Debug, Clone, Copy, Default)]
pub struct PortfolioApi;

#[OpenApi(prefix_path = "/portfolio", tag = "ApiTags::Portfolio")]
impl PortfolioApi {
    /// The caller's holdings valued at current quotes.
    #[oai(path = "/", method = "get", operation_id = "get_portfolio")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<PortfolioOut>, ApiError> {
        let who = auth.principal(&state).await?;
        Ok(Json(state.services.portfolio(who).await?.into()))
    }

    /// Import holdings from CSV; a bad line (reported with its number) imports nothing.
    #[oai(path = "/import", method = "post", operation_id = "import_holdings")]
    async fn import(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<ImportIn>,
    ) -> Result<Json<PortfolioOut>, ApiError> {
        let who = auth.principal(&state).await?;
        state.services.import_holdings(who, &body.0.csv).await?;
        Ok(Json(state.services.portfolio(who).await?.into()))
    }

    /// A link token for Plaid Link: a new brokerage, or with `connection_id` the repair of one
    /// that needs attention.
    #[oai(
        path = "/link-token",
        method = "post",
        operation_id = "create_link_token"
    )]
    async fn link_token(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<LinkTokenIn>,
    ) -> Result<Json<LinkTokenOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let token = state
            .services
            .broker_link_token(who, body.0.connection_id.map(ConnectionId::new))
            .await?;
        Ok(Json(LinkTokenOut {
            link_token: token.link_token,
            expiration: token.expiration,
        }))
    }

    /// Link a brokerage: exchange Link's public token, store the access token sealed, and
    /// synchronise the holdings at once.
    #[oai(
        path = "/connections",
        method = "post",
        operation_id = "link_brokerage"
    )]
    async fn link(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<LinkIn>,
    ) -> Result<Json<SyncOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let report = state
            .services
            .link_brokerage(who, &body.0.public_token, body.0.institution.as_deref())
            .await?;
        Ok(Json(report.into()))
    }

    /// The caller's brokerage connections and their health.
    #[oai(
        path = "/connections",
        method = "get",
        operation_id = "list_broker_connections"
    )]
    async fn connections(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<Vec<ConnectionOut>>, ApiError> {
        let who = auth.principal(&state).await?;
        let views = state.services.broker_connections(who).await?;
        Ok(Json(views.into_iter().map(Into::into).collect()))
    }

    /// Remove a brokerage connection and the positions it reported (the access token is
    /// revoked at the provider).
    #[oai(
        path = "/connections/:connection_id",
        method = "delete",
        operation_id = "remove_broker_connection"
    )]
    async fn remove(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        connection_id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        let who = auth.principal(&state).await?;
        state
            .services
            .remove_brokerage(who, ConnectionId::new(connection_id.0))
            .await?;
        Ok(NoContent::Done)
    }

    /// Synchronise every brokerage connection now; a connection that fails keeps its
    /// positions and reports why.
    #[oai(path = "/sync", method = "post", operation_id = "sync_brokerage")]
    async fn sync(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<Json<Vec<SyncOut>>, ApiError> {
        let who = auth.principal(&state).await?;
        let reports = state.services.sync_brokerage(who).await?;
        Ok(Json(reports.into_iter().map(Into::into).collect()))
    }

    /// "Watch my holdings": create holdings rules for every position at once; rules that
    /// exist already are not duplicated.
    #[oai(path = "/watch", method = "post", operation_id = "watch_holdings")]
    async fn watch(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<WatchIn>,
    ) -> Result<Json<WatchOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let report = state
            .services
            .watch_holdings(
                who,
                signal_sentinel::service::WatchHoldings {
                    below_cost_percent: body.0.below_cost_percent.map(|d| d.0),
                    day_move_percent: body.0.day_move_percent.map(|d| d.0),
                    weight_percent: body.0.weight_percent.map(|d| d.0),
                },
            )
            .await?;
        Ok(Json(WatchOut {
            created: report.created,
            existing: report.existing,
        }))
    }
}
