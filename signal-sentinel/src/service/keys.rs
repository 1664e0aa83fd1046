//! API keys: create (shown once), list, revoke.

use super::{MAX_API_KEYS, MAX_KEY_NAME_LEN, Principal, ServiceError, ServiceResult, Services};
use crate::Secret;
use crate::auth::api_keys;
use crate::domain::{ApiKey, ApiKeyId, NewApiKey};

impl Services {
    /// Creates an API key; the whole key is returned this once.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad name, [`ServiceError::LimitReached`] past
    /// [`MAX_API_KEYS`] active keys.
    pub async fn create_api_key(
        &self,
        who: Principal,
        name: &str,
    ) -> ServiceResult<(ApiKey, Secret)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME_LEN {
            return Err(ServiceError::invalid(
                "name",
                format!("must be 1 to {MAX_KEY_NAME_LEN} characters"),
            ));
        }
        crate::domain::check_text(name, false)
            .map_err(|e| ServiceError::invalid("name", e.to_string()))?;
        let active = self
            .store
            .list_api_keys(who.user)
            .await?
            .iter()
            .filter(|k| k.is_active())
            .count();
        if active >= MAX_API_KEYS {
            return Err(ServiceError::LimitReached(format!(
                "you already have {MAX_API_KEYS} API keys; revoke one first"
            )));
        }
        let generated = api_keys::generate();
        let key = self
            .store
            .create_api_key(NewApiKey {
                user_id: who.user,
                name: name.to_owned(),
                prefix: generated.prefix,
                key_hash: generated.hash,
            })
            .await?;
        tracing::info!(user = %who.user, key = %key.id, "API key created");
        Ok((key, generated.key))
    }

    /// The user's API keys, revoked ones included (never the keys themselves).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_api_keys(&self, who: Principal) -> ServiceResult<Vec<ApiKey>> {
        Ok(self.store.list_api_keys(who.user).await?)
    }

    /// Revokes one of the user's keys; the next request with it is refused.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a key that is not the user's or already revoked.
    pub async fn revoke_api_key(&self, who: Principal, id: ApiKeyId) -> ServiceResult<ApiKey> {
        let owned = self
            .store
            .list_api_keys(who.user)
            .await?
            .into_iter()
            .any(|k| k.id == id && k.is_active());
        if !owned {
            return Err(ServiceError::NotFound("API key"));
        }
        let key = self.store.revoke_api_key(id, self.clock.now()).await?;
        tracing::info!(user = %who.user, key = %id, "API key revoked");
        Ok(key)
    }
}
