//! [`EventStore`] on sea-orm: a JSON calendar per symbol, and a row per applied split.

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::entity::{split_adjustment, symbol_event};
use super::{SeaStore, backend_err, corrupt, write_err};

/// Symbols per query.
const CHUNK: usize = 500;
use crate::domain::{CorporateEvent, SplitRatio, Symbol, SymbolEvents};
use crate::store::{EventStore, Result, StoreError};
use crate::time;

const ENTITY: &str = "symbol events";

#[async_trait]
impl EventStore for SeaStore {
    async fn save_events(
        &self,
        symbol: &Symbol,
        events: &[CorporateEvent],
        refreshed_on: NaiveDate,
    ) -> Result<()> {
        let mut sorted = events.to_vec();
        sorted.sort_by(|a, b| a.date.cmp(&b.date).then(a.kind.name().cmp(b.kind.name())));
        let json = serde_json::to_value(&sorted).map_err(|e| StoreError::Corrupt {
            entity: ENTITY,
            reason: e.to_string(),
        })?;
        symbol_event::Entity::insert(symbol_event::ActiveModel {
            symbol: Set(symbol.as_str().to_owned()),
            events: Set(json),
            refreshed_on: Set(refreshed_on),
            updated_at: Set(time::now()),
        })
        .on_conflict(
            OnConflict::column(symbol_event::Column::Symbol)
                .update_columns([
                    symbol_event::Column::Events,
                    symbol_event::Column::RefreshedOn,
                    symbol_event::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await
        .map_err(write_err(ENTITY))?;
        Ok(())
    }

    async fn load_events(&self, symbols: &[Symbol]) -> Result<Vec<SymbolEvents>> {
        let mut loaded = Vec::new();
        for chunk in symbols.chunks(CHUNK) {
            let models = symbol_event::Entity::find()
                .filter(symbol_event::Column::Symbol.is_in(chunk.iter().map(Symbol::as_str)))
                .all(&self.db)
                .await
                .map_err(backend_err)?;
            for m in models {
                let symbol = Symbol::parse(&m.symbol).map_err(corrupt(ENTITY))?;
                let events: Vec<CorporateEvent> =
                    serde_json::from_value(m.events).map_err(|e| StoreError::Corrupt {
                        entity: ENTITY,
                        reason: format!("{symbol}: {e}"),
                    })?;
                loaded.push(SymbolEvents {
                    symbol,
                    events,
                    refreshed_on: m.refreshed_on,
                });
            }
        }
        Ok(loaded)
    }

    async fn applied_splits(
        &self,
        symbols: &[Symbol],
    ) -> Result<Vec<(Symbol, NaiveDate, SplitRatio)>> {
        let mut applied = Vec::new();
        for chunk in symbols.chunks(CHUNK) {
            let models = split_adjustment::Entity::find()
                .filter(split_adjustment::Column::Symbol.is_in(chunk.iter().map(Symbol::as_str)))
                .all(&self.db)
                .await
                .map_err(backend_err)?;
            for m in models {
                let symbol = Symbol::parse(&m.symbol).map_err(corrupt("split adjustment"))?;
                let ratio = m.ratio.parse().map_err(corrupt("split adjustment"))?;
                applied.push((symbol, m.ex_date, ratio));
            }
        }
        Ok(applied)
    }
}
