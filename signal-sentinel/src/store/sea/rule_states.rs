use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use super::entity::rule_state;
use super::{SeaStore, backend_err, corrupt, decimal_from_text, write_err};
use crate::domain::{RuleId, RuleState};
use crate::store::{Result, RuleStateStore};
use crate::time;

const ENTITY: &str = "rule state";
/// Rows per statement: keeps well under SQLite's limit of bound parameters.
const CHUNK: usize = 1_000;

fn to_domain(m: rule_state::Model) -> Result<RuleState> {
    Ok(RuleState {
        rule_id: RuleId::new(m.rule_id),
        phase: m.phase.parse().map_err(corrupt(ENTITY))?,
        episode: m.episode,
        pending_since: m.pending_since,
        last_price: m
            .last_price
            .as_deref()
            .map(|p| decimal_from_text(ENTITY, p))
            .transpose()?,
        memory: m.memory,
        updated_at: m.updated_at,
    })
}

fn to_active(s: &RuleState) -> rule_state::ActiveModel {
    rule_state::ActiveModel {
        rule_id: Set(s.rule_id.get()),
        phase: Set(s.phase.as_str().to_owned()),
        episode: Set(s.episode),
        pending_since: Set(s.pending_since.map(time::to_storage_precision)),
        last_price: Set(s.last_price.map(|p| p.to_string())),
        memory: Set(s.memory.clone()),
        updated_at: Set(time::to_storage_precision(s.updated_at)),
    }
}

#[async_trait]
impl RuleStateStore for SeaStore {
    async fn get_rule_state(&self, rule: RuleId) -> Result<RuleState> {
        to_domain(
            self.find_row::<rule_state::Entity>(ENTITY, rule.get())
                .await?,
        )
    }

    async fn load_rule_states(&self, rules: &[RuleId]) -> Result<Vec<RuleState>> {
        let mut states = Vec::with_capacity(rules.len());
        for chunk in rules.chunks(CHUNK) {
            let models = rule_state::Entity::find()
                .filter(rule_state::Column::RuleId.is_in(chunk.iter().map(|id| id.get())))
                .all(&self.db)
                .await
                .map_err(backend_err)?;
            for model in models {
                states.push(to_domain(model)?);
            }
        }
        Ok(states)
    }

    async fn save_rule_states(&self, states: &[RuleState]) -> Result<()> {
        if states.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await.map_err(backend_err)?;
        upsert_rule_states(&txn, states).await?;
        txn.commit().await.map_err(backend_err)
    }
}

/// Writes rule states inside a transaction, replacing earlier ones.
pub(super) async fn upsert_rule_states(
    txn: &DatabaseTransaction,
    states: &[RuleState],
) -> Result<()> {
    for chunk in states.chunks(CHUNK) {
        rule_state::Entity::insert_many(chunk.iter().map(to_active))
            .on_conflict(
                OnConflict::column(rule_state::Column::RuleId)
                    .update_columns([
                        rule_state::Column::Phase,
                        rule_state::Column::Episode,
                        rule_state::Column::PendingSince,
                        rule_state::Column::LastPrice,
                        rule_state::Column::Memory,
                        rule_state::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await
            .map_err(write_err(ENTITY))?;
    }
    Ok(())
}
