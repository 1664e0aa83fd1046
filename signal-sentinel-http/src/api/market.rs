//! `/api/quotes` and `/api/bars`: market data for dashboards and charts.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::{Object, OpenApi, payload::Json};
use rust_decimal::Decimal;
use signal_sentinel::domain::{Bar, Quote};

use super::ApiTags;
use crate::AppState;
use crate::error::ApiError;
use crate::security::Auth;

type Time = chrono::DateTime<chrono::Utc>;

/// A quote.
#[derive(Debug, Clone, Object)]
pub struct QuoteOut {
    /// The symbol.
    pub symbol: String,
    /// Last price.
    pub price: Decimal,
    /// Previous session's close.
    #[oai(nullable)]
    pub previous_close: Option<Decimal>,
    /// Today's open.
    #[oai(nullable)]
    pub day_open: Option<Decimal>,
    /// Today's high.
    #[oai(nullable)]
    pub day_high: Option<Decimal>,
    /// Today's low.
    #[oai(nullable)]
    pub day_low: Option<Decimal>,
    /// Today's volume.
    #[oai(nullable)]
    pub volume: Option<u64>,
    /// When the price was current.
    pub at: Time,
    /// Which provider gave it.
    pub source: String,
}

impl From<Quote> for QuoteOut {
    fn from(q: Quote) -> Self {
        Self {
            symbol: q.symbol.as_str().to_owned(),
            price: q.price,
            previous_close: q.previous_close,
            day_open: q.day_open,
            day_high: q.day_high,
            day_low: q.day_low,
            volume: q.volume,
            at: q.at,
            source: q.source.to_string(),
        }
    }
}

/// A daily bar.
#[derive(Debug, Clone, Object)]
pub struct BarOut {
    /// Start of the session.
    pub at: Time,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Volume.
    #[oai(nullable)]
    pub volume: Option<u64>,
}

impl From<Bar> for BarOut {
    fn from(b: Bar) -> Self {
        Self {
            at: b.at,
            open: b.open,
            high: b.high,
            low: b.low,
            close: b.close,
            volume: b.volume,
        }
    }
}

/// Market data.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarketApi;

#[OpenApi(tag = "ApiTags::Market")]
impl MarketApi {
    /// Latest quotes for up to 50 symbols.
    #[oai(path = "/quotes", method = "get", operation_id = "get_quotes")]
    async fn quotes(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// Comma-separated symbols, e.g. `AAPL,MSFT`.
        #[oai(validator(max_length = 1000))]
        symbols: Query<String>,
    ) -> Result<Json<Vec<QuoteOut>>, ApiError> {
        auth.principal(&state).await?;
        let quotes = state.services.quotes(&[symbols.0]).await?;
        Ok(Json(quotes.into_iter().map(QuoteOut::from).collect()))
    }

    /// Daily bars of one symbol, for a chart.
    #[oai(path = "/bars/:symbol", method = "get", operation_id = "get_bars")]
    async fn bars(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        #[oai(validator(max_length = 32))] symbol: Path<String>,
        /// First day (inclusive).
        from: Query<crate::strict::Day>,
        /// Last day (inclusive).
        to: Query<crate::strict::Day>,
    ) -> Result<Json<Vec<BarOut>>, ApiError> {
        auth.principal(&state).await?;
        let bars = state
            .services
            .daily_bars(&symbol.0, from.0.0, to.0.0)
            .await?;
        Ok(Json(bars.into_iter().map(BarOut::from).collect()))
    }
}
