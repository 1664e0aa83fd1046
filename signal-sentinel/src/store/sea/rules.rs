use async_trait::async_trait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::entity::rule;
use super::{SeaStore, backend_err, corrupt, updated, write_err};
use crate::domain::{
    JsonDocument, NewRule, Rule, RuleChanges, RuleFilter, RuleId, RuleStamp, RuleUpdate, Symbol,
    UserId,
};
use crate::store::{Result, RuleStore};
use crate::time::{self, Timestamp};

const ENTITY: &str = "rule";

fn to_domain(m: rule::Model) -> Result<Rule> {
    Ok(Rule {
        id: RuleId::new(m.id),
        owner: UserId::new(m.user_id),
        symbol: Symbol::parse(&m.symbol).map_err(corrupt(ENTITY))?,
        name: m.name,
        condition: JsonDocument::try_from(m.condition).map_err(corrupt(ENTITY))?,
        options: JsonDocument::try_from(m.options).map_err(corrupt(ENTITY))?,
        enabled: m.enabled,
        created_at: m.created_at,
        updated_at: m.updated_at,
        last_triggered_at: m.last_triggered_at,
        expires_at: m.expires_at,
        snoozed_until: m.snoozed_until,
    })
}

/// The query of a [`RuleFilter`], by id.
fn filtered(filter: &RuleFilter) -> sea_orm::Select<rule::Entity> {
    let mut query = rule::Entity::find().order_by_asc(rule::Column::Id);
    if let Some(owner) = filter.owner {
        query = query.filter(rule::Column::UserId.eq(owner.get()));
    }
    if let Some(symbol) = &filter.symbol {
        query = query.filter(rule::Column::Symbol.eq(symbol.as_str()));
    }
    if let Some(enabled) = filter.enabled {
        query = query.filter(rule::Column::Enabled.eq(enabled));
    }
    if let Some(after) = filter.after {
        query = query.filter(rule::Column::Id.gt(after.get()));
    }
    if let Some(shards) = &filter.shards {
        query = query.filter(rule::Column::Shard.is_in(shards.iter().map(|s| i64::from(*s))));
    }
    if let Some(limit) = filter.limit {
        query = query.limit(limit);
    }
    query
}

/// The value of the `shard` column for a rule on `symbol`.
pub(super) fn shard_column(symbol: &Symbol) -> i32 {
    i32::try_from(crate::domain::shard_of(symbol)).unwrap_or(i32::MAX)
}

fn stored(at: Option<Timestamp>) -> Option<Timestamp> {
    at.map(time::to_storage_precision)
}

fn to_active(new: NewRule, now: Timestamp) -> rule::ActiveModel {
    rule::ActiveModel {
        user_id: Set(new.owner.get()),
        shard: Set(Some(shard_column(&new.symbol))),
        symbol: Set(new.symbol.as_str().to_owned()),
        name: Set(new.name),
        condition: Set(new.condition.into()),
        options: Set(new.options.into()),
        enabled: Set(new.enabled),
        created_at: Set(now),
        updated_at: Set(now),
        last_triggered_at: Set(None),
        expires_at: Set(stored(new.expires_at)),
        snoozed_until: Set(None),
        ..Default::default()
    }
}

/// Rows per statement: 12 columns × 1,000 rows stays under SQLite's limit of bound parameters.
const CHUNK: usize = 1_000;

#[async_trait]
impl RuleStore for SeaStore {
    async fn create_rule(&self, new: NewRule) -> Result<Rule> {
        let model = to_active(new, time::now())
            .insert(&self.db)
            .await
            .map_err(write_err(ENTITY))?;
        to_domain(model)
    }

    async fn create_rules(&self, new: Vec<NewRule>) -> Result<Vec<Rule>> {
        if new.is_empty() {
            return Ok(Vec::new());
        }
        let now = time::now();
        let mut created = Vec::with_capacity(new.len());
        let txn = self.begin_write().await.map_err(backend_err)?;
        let mut rules = new.into_iter().peekable();
        while rules.peek().is_some() {
            let chunk: Vec<_> = rules
                .by_ref()
                .take(CHUNK)
                .map(|r| to_active(r, now))
                .collect();
            for model in rule::Entity::insert_many(chunk)
                .exec_with_returning(&txn)
                .await
                .map_err(write_err(ENTITY))?
            {
                created.push(to_domain(model)?);
            }
        }
        txn.commit().await.map_err(backend_err)?;
        Ok(created)
    }

    async fn get_rule(&self, id: RuleId) -> Result<Rule> {
        to_domain(self.find_row::<rule::Entity>(ENTITY, id.get()).await?)
    }

    async fn list_rules(&self, filter: &RuleFilter) -> Result<Vec<Rule>> {
        filtered(filter)
            .all(&self.db)
            .await
            .map_err(backend_err)?
            .into_iter()
            .map(to_domain)
            .collect()
    }

    async fn list_rule_stamps(&self, filter: &RuleFilter) -> Result<Vec<RuleStamp>> {
        Ok(filtered(filter)
            .select_only()
            .column(rule::Column::Id)
            .column(rule::Column::UpdatedAt)
            .column(rule::Column::Symbol)
            .into_tuple::<(i64, Timestamp, String)>()
            .all(&self.db)
            .await
            .map_err(backend_err)?
            .into_iter()
            .map(|(id, updated_at, symbol)| {
                Ok(RuleStamp {
                    id: RuleId::new(id),
                    updated_at,
                    symbol: Symbol::parse(&symbol).map_err(corrupt("rule"))?,
                })
            })
            .collect::<Result<_>>()?)
    }

    async fn count_rules(&self, owner: UserId) -> Result<u64> {
        rule::Entity::find()
            .filter(rule::Column::UserId.eq(owner.get()))
            .count(&self.db)
            .await
            .map_err(backend_err)
    }

    async fn get_rules(&self, ids: &[RuleId]) -> Result<Vec<Rule>> {
        let mut rules = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let models = rule::Entity::find()
                .filter(rule::Column::Id.is_in(chunk.iter().map(|id| id.get())))
                .order_by_asc(rule::Column::Id)
                .all(&self.db)
                .await
                .map_err(backend_err)?;
            for model in models {
                rules.push(to_domain(model)?);
            }
        }
        rules.sort_by_key(|r| r.id);
        Ok(rules)
    }

    async fn rule_changes(&self, after: i64, limit: u64) -> Result<RuleChanges> {
        let backend = self.db.get_database_backend();
        let placeholders = if self.is_postgres() {
            "$1 ORDER BY seq LIMIT $2"
        } else {
            "? ORDER BY seq LIMIT ?"
        };
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!("SELECT seq, rule_id FROM rule_changes WHERE seq > {placeholders}"),
                [
                    after.into(),
                    i64::try_from(limit).unwrap_or(i64::MAX).into(),
                ],
            ))
            .await
            .map_err(backend_err)?;
        let changes = rows
            .iter()
            .map(|row| {
                let seq: i64 = row.try_get_by_index(0)?;
                let rule: i64 = row.try_get_by_index(1)?;
                Ok((seq, RuleId::new(rule)))
            })
            .collect::<std::result::Result<Vec<_>, sea_orm::DbErr>>()
            .map_err(backend_err)?;
        let bounds = self
            .db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT MIN(seq), MAX(seq) FROM rule_changes",
            ))
            .await
            .map_err(backend_err)?;
        let (oldest, latest) = match bounds {
            Some(row) => (
                row.try_get_by_index::<Option<i64>>(0)
                    .map_err(backend_err)?,
                row.try_get_by_index::<Option<i64>>(1)
                    .map_err(backend_err)?,
            ),
            None => (None, None),
        };
        Ok(RuleChanges {
            changes,
            oldest,
            latest,
        })
    }

    async fn prune_rule_changes(&self, through: i64) -> Result<u64> {
        let sql = if self.is_postgres() {
            "DELETE FROM rule_changes WHERE seq <= $1"
        } else {
            "DELETE FROM rule_changes WHERE seq <= ?"
        };
        let done = self
            .db
            .execute_raw(Statement::from_sql_and_values(
                self.db.get_database_backend(),
                sql,
                [through.into()],
            ))
            .await
            .map_err(backend_err)?;
        Ok(done.rows_affected())
    }

    async fn update_rule(&self, id: RuleId, update: RuleUpdate) -> Result<Rule> {
        let mut model = rule::ActiveModel {
            id: Set(id.get()),
            updated_at: Set(time::now()),
            ..Default::default()
        };
        if let Some(symbol) = update.symbol {
            model.shard = Set(Some(shard_column(&symbol)));
            model.symbol = Set(symbol.as_str().to_owned());
        }
        if let Some(name) = update.name {
            model.name = Set(name);
        }
        if let Some(condition) = update.condition {
            model.condition = Set(condition.into());
        }
        if let Some(options) = update.options {
            model.options = Set(options.into());
        }
        if let Some(enabled) = update.enabled {
            model.enabled = Set(enabled);
        }
        if let Some(at) = update.expires_at {
            model.expires_at = Set(stored(at));
        }
        if let Some(at) = update.snoozed_until {
            model.snoozed_until = Set(stored(at));
        }
        if let Some(at) = update.last_triggered_at {
            model.last_triggered_at = Set(stored(at));
        }
        to_domain(updated(model.update(&self.db).await, ENTITY, id.get())?)
    }

    async fn delete_rule(&self, id: RuleId) -> Result<()> {
        self.delete_row::<rule::Entity>(ENTITY, id.get()).await
    }
}

/// Gives the rules stored before migration 4 the shard of their symbol (the function is the
/// library's, so the migration could not). Run by [`SeaStore::migrate`] in its transaction;
/// a no-op once every rule has one.
pub(super) async fn fill_shards(txn: &sea_orm::DatabaseTransaction) -> Result<()> {
    let unfilled: Vec<(i64, String)> = rule::Entity::find()
        .select_only()
        .column(rule::Column::Id)
        .column(rule::Column::Symbol)
        .filter(rule::Column::Shard.is_null())
        .into_tuple()
        .all(txn)
        .await
        .map_err(|e| crate::store::StoreError::Migration(e.to_string()))?;
    let mut by_shard: std::collections::BTreeMap<i32, Vec<i64>> = Default::default();
    for (id, symbol) in unfilled {
        let symbol = Symbol::parse(&symbol).map_err(corrupt("rule"))?;
        by_shard.entry(shard_column(&symbol)).or_default().push(id);
    }
    for (shard, ids) in by_shard {
        for chunk in ids.chunks(CHUNK) {
            rule::Entity::update_many()
                .col_expr(rule::Column::Shard, sea_orm::sea_query::Expr::value(shard))
                .filter(rule::Column::Id.is_in(chunk.iter().copied()))
                .exec(txn)
                .await
                .map_err(|e| crate::store::StoreError::Migration(e.to_string()))?;
        }
    }
    Ok(())
}
