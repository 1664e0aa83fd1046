//! Alerts: list, show with deliveries, acknowledge, delete old ones.

use super::{MAX_PAGE_SIZE, Principal, ServiceError, ServiceResult, Services};
use crate::domain::{Alert, AlertId, AlertQuery, Delivery};
use crate::store::StoreError;
use crate::time::Timestamp;

impl Services {
    pub(super) async fn owned_alert(&self, who: Principal, id: AlertId) -> ServiceResult<Alert> {
        match self.store.get_alert(id).await {
            Ok(alert) if alert.owner == who.user => Ok(alert),
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound("alert")),
            Err(e) => Err(e.into()),
        }
    }

    /// The user's alerts, newest first; `query.owner` is replaced by the acting user.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_alerts(
        &self,
        who: Principal,
        mut query: AlertQuery,
    ) -> ServiceResult<Vec<Alert>> {
        query.owner = who.user;
        query.limit = query.limit.clamp(1, MAX_PAGE_SIZE);
        if let Some(rule) = query.rule_id {
            // Another user's rule id filters to nothing, like a missing one.
            if self.owned_rule(who, rule).await.is_err() {
                return Ok(Vec::new());
            }
        }
        Ok(self.store.list_alerts(&query).await?)
    }

    /// One alert with its deliveries.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn get_alert(
        &self,
        who: Principal,
        id: AlertId,
    ) -> ServiceResult<(Alert, Vec<Delivery>)> {
        let alert = self.owned_alert(who, id).await?;
        let deliveries = self.store.list_deliveries(id).await?;
        Ok((alert, deliveries))
    }

    /// Marks an alert as seen.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn acknowledge_alert(&self, who: Principal, id: AlertId) -> ServiceResult<Alert> {
        self.owned_alert(who, id).await?;
        Ok(self.store.acknowledge_alert(id, self.clock.now()).await?)
    }

    /// Deletes the user's alerts fired before `before`; returns how many.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn delete_alerts_before(
        &self,
        who: Principal,
        before: Timestamp,
    ) -> ServiceResult<u64> {
        Ok(self.store.delete_alerts_before(who.user, before).await?)
    }
}
