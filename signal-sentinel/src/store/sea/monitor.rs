use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TryInsertResult,
};

use super::entity::{alert, channel, delivery, holding, rule, split_adjustment, symbol_sample};
use super::rule_states::upsert_rule_states;
use super::{SeaStore, backend_err, corrupt, write_err};
use crate::domain::{
    Alert, AlertId, ChannelId, CycleWrite, Delivery, DeliveryEvent, DeliveryId, Sample, Symbol,
    SymbolSamples,
};
use crate::store::{MonitorStore, Result, StoreError};
use crate::time::{self, Timestamp};

/// Rows per statement, well under SQLite's limit of bound parameters.
const CHUNK: usize = 1_000;

/// Samples as `[[unix microseconds, "price", "high", "low"], …]` (the session's high and low
/// when known): compact, exact, written every cycle.
fn samples_to_json(samples: &[Sample]) -> serde_json::Value {
    serde_json::Value::Array(
        samples
            .iter()
            .map(|s| match (s.high, s.low) {
                (Some(high), Some(low)) => serde_json::json!([
                    s.at.timestamp_micros(),
                    s.price.to_string(),
                    high.to_string(),
                    low.to_string()
                ]),
                _ => serde_json::json!([s.at.timestamp_micros(), s.price.to_string()]),
            })
            .collect(),
    )
}

fn samples_from_json(value: &serde_json::Value) -> Option<Vec<Sample>> {
    value
        .as_array()?
        .iter()
        .map(|pair| {
            let micros = pair.get(0)?.as_i64()?;
            let price = pair.get(1)?.as_str()?.parse().ok()?;
            let decimal = |i| pair.get(i).and_then(|v| v.as_str()?.parse().ok());
            Some(Sample {
                at: chrono::DateTime::from_timestamp_micros(micros)?,
                price,
                high: decimal(2),
                low: decimal(3),
            })
        })
        .collect()
}

pub(super) fn delivery_to_domain(m: delivery::Model) -> Result<Delivery> {
    Ok(Delivery {
        id: DeliveryId::new(m.id),
        alert_id: m.alert_id.map(AlertId::new),
        channel_id: ChannelId::new(m.channel_id),
        user_id: crate::domain::UserId::new(m.user_id),
        event: m.event.parse().map_err(corrupt("delivery"))?,
        body: m.body,
        status: m.status.parse().map_err(corrupt("delivery"))?,
        attempts: m.attempts,
        next_attempt_at: m.next_attempt_at,
        last_error: m.last_error,
        sent_at: m.sent_at,
        created_at: m.created_at,
    })
}

#[async_trait]
impl MonitorStore for SeaStore {
    async fn commit_cycle(&self, write: CycleWrite) -> Result<Vec<Alert>> {
        let now = write.at.map_or_else(time::now, time::to_storage_precision);
        let txn = self.begin_write().await.map_err(backend_err)?;
        // First, so that on PostgreSQL the shards stay locked until the commit.
        if let Some(fence) = &write.fence {
            super::workers::check_fence(&txn, fence).await?;
        }
        upsert_rule_states(&txn, &write.states).await?;
        for split in &write.splits {
            // Once per symbol and ex-date: a second worker's (or cycle's) try is a conflict.
            split_adjustment::Entity::insert(split_adjustment::ActiveModel {
                symbol: Set(split.symbol.as_str().to_owned()),
                ex_date: Set(split.date),
                ratio: Set(split.ratio.to_string()),
                applied_at: Set(now),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(write_err("split adjustment"))?;
            // Manual and imported positions entered before the ex-date, in the new terms.
            let held = holding::Entity::find()
                .filter(holding::Column::Symbol.eq(split.symbol.as_str()))
                .all(&txn)
                .await
                .map_err(backend_err)?;
            for model in held {
                let Some(adjusted) = super::holdings::to_domain(model)?.split_adjusted(
                    split.ratio,
                    split.since,
                    now,
                ) else {
                    continue;
                };
                holding::Entity::update_many()
                    .col_expr(
                        holding::Column::Quantity,
                        Expr::value(adjusted.quantity.to_string()),
                    )
                    .col_expr(
                        holding::Column::CostBasis,
                        Expr::value(adjusted.cost_basis.map(|c| c.to_string())),
                    )
                    .col_expr(holding::Column::UpdatedAt, Expr::value(now))
                    .filter(holding::Column::Id.eq(adjusted.id.get()))
                    .exec(&txn)
                    .await
                    .map_err(backend_err)?;
            }
            for (rule_id, condition) in &split.rules {
                rule::Entity::update_many()
                    .col_expr(
                        rule::Column::Condition,
                        Expr::value(serde_json::Value::from(condition.clone())),
                    )
                    .col_expr(rule::Column::UpdatedAt, Expr::value(now))
                    .filter(rule::Column::Id.eq(rule_id.get()))
                    .exec(&txn)
                    .await
                    .map_err(backend_err)?;
            }
        }

        let mut stored = Vec::new();
        let mut alerts = write.alerts.into_iter().peekable();
        while alerts.peek().is_some() {
            let chunk: Vec<_> = alerts
                .by_ref()
                .take(CHUNK)
                .map(super::alerts::to_active)
                .collect();
            let inserted = alert::Entity::insert_many(chunk)
                .on_conflict_do_nothing_on([
                    alert::Column::RuleId,
                    alert::Column::Episode,
                    alert::Column::Kind,
                    alert::Column::Reminder,
                ])
                .exec_with_returning_many(&txn)
                .await
                .map_err(write_err("alert"))?;
            if let TryInsertResult::Inserted(models) = inserted {
                for model in models {
                    stored.push(super::alerts::to_domain(model)?);
                }
            }
        }

        // The outbox: one pending delivery per new alert and enabled channel of its owner.
        let owners: BTreeSet<i64> = stored.iter().map(|a| a.owner.get()).collect();
        if !owners.is_empty() {
            let channels = channel::Entity::find()
                .filter(channel::Column::UserId.is_in(owners.iter().copied()))
                .filter(channel::Column::Enabled.eq(true))
                .all(&txn)
                .await
                .map_err(backend_err)?;
            let mut by_owner: HashMap<i64, Vec<i64>> = HashMap::new();
            for c in channels {
                by_owner.entry(c.user_id).or_default().push(c.id);
            }
            let rows: Vec<delivery::ActiveModel> = stored
                .iter()
                .flat_map(|a| {
                    by_owner
                        .get(&a.owner.get())
                        .into_iter()
                        .flatten()
                        .map(move |channel_id| {
                            let event = match a.kind {
                                crate::domain::AlertKind::Resolved => DeliveryEvent::Resolved,
                                // About the rule itself, not the market: the owner's system
                                // messages setting applies.
                                crate::domain::AlertKind::Notice => DeliveryEvent::System,
                                _ => DeliveryEvent::Fired,
                            };
                            super::outbox::pending_row(
                                Some(a.id.get()),
                                *channel_id,
                                a.owner.get(),
                                event,
                                None,
                                now,
                            )
                        })
                })
                .collect();
            for chunk in rows.chunks(CHUNK) {
                delivery::Entity::insert_many(chunk.to_vec())
                    .on_conflict_do_nothing_on([
                        delivery::Column::AlertId,
                        delivery::Column::ChannelId,
                    ])
                    .exec_without_returning(&txn)
                    .await
                    .map_err(write_err("delivery"))?;
            }
        }

        // One statement per firing time (a cycle's quotes share few), not one per rule.
        let mut fired: BTreeMap<(Timestamp, bool), Vec<i64>> = BTreeMap::new();
        for (rule_id, at, once) in write.fired {
            fired
                .entry((time::to_storage_precision(at), once))
                .or_default()
                .push(rule_id.get());
        }
        for ((at, once), ids) in fired {
            for chunk in ids.chunks(CHUNK) {
                // `updated_at` stays: it marks the user's edits, which reset a rule's lifecycle.
                let mut update = rule::Entity::update_many()
                    .col_expr(rule::Column::LastTriggeredAt, Expr::value(at));
                if once {
                    update = update.col_expr(rule::Column::Enabled, Expr::value(false));
                }
                update
                    .filter(rule::Column::Id.is_in(chunk.iter().copied()))
                    .exec(&txn)
                    .await
                    .map_err(backend_err)?;
            }
        }

        let samples: Vec<symbol_sample::ActiveModel> = write
            .samples
            .iter()
            .map(|s| symbol_sample::ActiveModel {
                symbol: Set(s.symbol.as_str().to_owned()),
                samples: Set(samples_to_json(&s.samples)),
                updated_at: Set(now),
            })
            .collect();
        for chunk in samples.chunks(CHUNK) {
            symbol_sample::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::column(symbol_sample::Column::Symbol)
                        .update_columns([
                            symbol_sample::Column::Samples,
                            symbol_sample::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(write_err("symbol samples"))?;
        }
        self.commit_alerts(txn, &owners).await?;
        Ok(stored)
    }

    async fn load_symbol_samples(&self, symbols: &[Symbol]) -> Result<Vec<SymbolSamples>> {
        let mut loaded = Vec::new();
        for chunk in symbols.chunks(CHUNK) {
            let models = symbol_sample::Entity::find()
                .filter(symbol_sample::Column::Symbol.is_in(chunk.iter().map(Symbol::as_str)))
                .all(&self.db)
                .await
                .map_err(backend_err)?;
            for m in models {
                let symbol = Symbol::parse(&m.symbol).map_err(corrupt("symbol samples"))?;
                let samples = samples_from_json(&m.samples).ok_or_else(|| StoreError::Corrupt {
                    entity: "symbol samples",
                    reason: format!(
                        "{}: not a list of [microseconds, \"price\"] pairs",
                        m.symbol
                    ),
                })?;
                loaded.push(SymbolSamples { symbol, samples });
            }
        }
        Ok(loaded)
    }

    async fn list_deliveries(&self, alert: AlertId) -> Result<Vec<Delivery>> {
        delivery::Entity::find()
            .filter(delivery::Column::AlertId.eq(alert.get()))
            .order_by_asc(delivery::Column::Id)
            .all(&self.db)
            .await
            .map_err(backend_err)?
            .into_iter()
            .map(delivery_to_domain)
            .collect()
    }
}
