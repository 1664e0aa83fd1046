//! Quotes and daily bars, with the request bounds both frontends share.

use chrono::NaiveDate;

use super::{MAX_QUOTE_SYMBOLS, ServiceError, ServiceResult, Services};
use crate::domain::{Bar, Quote, Symbol};

impl Services {
    /// Latest quotes for up to [`MAX_QUOTE_SYMBOLS`] symbols.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad symbol, [`ServiceError::Unavailable`].
    pub async fn quotes(&self, symbols: &[String]) -> ServiceResult<Vec<Quote>> {
        let mut parsed = Vec::new();
        for s in symbols
            .iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let symbol =
                Symbol::parse(s).map_err(|e| ServiceError::invalid("symbols", e.to_string()))?;
            if !parsed.contains(&symbol) {
                parsed.push(symbol);
            }
        }
        if parsed.is_empty() {
            return Err(ServiceError::invalid("symbols", "name at least one symbol"));
        }
        if parsed.len() > MAX_QUOTE_SYMBOLS {
            return Err(ServiceError::invalid(
                "symbols",
                format!("at most {MAX_QUOTE_SYMBOLS} symbols per request"),
            ));
        }
        Ok(self.market.quotes(&parsed).await?)
    }

    /// Daily bars of one symbol.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`], [`ServiceError::Unavailable`].
    pub async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> ServiceResult<Vec<Bar>> {
        let symbol =
            Symbol::parse(symbol).map_err(|e| ServiceError::invalid("symbol", e.to_string()))?;
        Self::check_range(from, to)?;
        Ok(self.market.daily_bars(&symbol, from, to).await?)
    }
}
