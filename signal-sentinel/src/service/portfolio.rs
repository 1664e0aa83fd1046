//! Holdings: import from CSV, value at current quotes.

use super::{Principal, ServiceError, ServiceResult, Services};
use crate::domain::Symbol;

impl Services {
    /// Imports holdings from CSV (`symbol,quantity,cost_basis,account`): all lines or none.
    /// Each row replaces the position with the same account and symbol.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] on field `csv` listing every bad line with its number.
    pub async fn import_holdings(
        &self,
        who: Principal,
        csv: &str,
    ) -> ServiceResult<Vec<crate::domain::Holding>> {
        use crate::portfolio::MAX_CSV_LEN;
        if csv.chars().count() > MAX_CSV_LEN {
            return Err(ServiceError::invalid(
                "csv",
                format!("nothing imported; the file is longer than {MAX_CSV_LEN} characters"),
            ));
        }
        let rows = crate::portfolio::parse_holdings_csv(csv).map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            ServiceError::invalid("csv", format!("nothing imported; {}", lines.join("; ")))
        })?;
        let mut stored = Vec::with_capacity(rows.len());
        for row in rows {
            stored.push(
                self.store
                    .upsert_holding(crate::domain::NewHolding {
                        owner: who.user,
                        account: row.account,
                        symbol: row.symbol,
                        quantity: row.quantity,
                        cost_basis: row.cost_basis,
                        source: crate::domain::HoldingSource::Csv,
                        connection: None,
                    })
                    .await?,
            );
        }
        Ok(stored)
    }

    /// The user's holdings valued at current quotes (positions without a quote are listed
    /// unpriced; a market outage leaves them all unpriced rather than failing).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn portfolio(&self, who: Principal) -> ServiceResult<crate::portfolio::Portfolio> {
        let holdings = self.store.list_holdings(who.user).await?;
        let mut symbols: Vec<Symbol> = holdings.iter().map(|h| h.symbol.clone()).collect();
        symbols.sort();
        symbols.dedup();
        let quotes = if symbols.is_empty() {
            Vec::new()
        } else {
            match self.market.quotes(&symbols).await {
                Ok(quotes) => quotes,
                Err(e) => {
                    tracing::warn!("portfolio without prices: {e}");
                    Vec::new()
                }
            }
        };
        Ok(crate::portfolio::value(holdings, &quotes))
    }
}
