//! `/api/portfolio`: holdings valued at current quotes, and their CSV import.

use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};
use rust_decimal::Decimal;
use signal_sentinel::portfolio::Portfolio;

use super::ApiTags;
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
    pub cost_basis: Option<Decimal>,
    /// `csv`, `plaid` or `manual`.
    pub source: String,
    /// Last price, when a quote came.
    pub price: Option<Decimal>,
    /// quantity × price.
    pub market_value: Option<Decimal>,
    /// Today's change in value.
    pub day_change: Option<Decimal>,
    /// Gain against the cost basis.
    pub gain: Option<Decimal>,
    /// The gain in percent.
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
    #[oai(validator(max_length = 60000))]
    pub csv: String,
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
}
