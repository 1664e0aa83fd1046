//! Accounts: register, log in, authenticate a token or an API key, the acting user, passwords.

use super::{Principal, ServiceError, ServiceResult, Services};
use crate::Secret;
use crate::auth::api_keys;
use crate::auth::tokens::{IssuedToken, TokenError};
use crate::auth::{PasswordError, hash_password, verify_password};
use crate::domain::{Email, NewUser, User, UserId, UserUpdate};
use crate::store::StoreError;

impl Services {
    /// Opens an account.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad e-mail or password, [`ServiceError::Conflict`] when
    /// the address is taken.
    pub async fn register(
        &self,
        email: &str,
        password: Secret,
        display_name: Option<String>,
    ) -> ServiceResult<User> {
        let email =
            Email::parse(email).map_err(|e| ServiceError::invalid("email", e.to_string()))?;
        let display_name = match display_name.map(|n| n.trim().to_owned()) {
            Some(n) if n.chars().count() > super::MAX_DISPLAY_NAME_LEN => {
                return Err(ServiceError::invalid(
                    "display_name",
                    "must be at most 100 characters",
                ));
            }
            Some(n) if n.is_empty() => None,
            Some(n) => {
                crate::domain::check_text(&n, false)
                    .map_err(|e| ServiceError::invalid("display_name", e.to_string()))?;
                Some(n)
            }
            None => None,
        };
        let password_hash = hash_password(password).await?;
        let user = self
            .store
            .create_user(NewUser {
                email,
                password_hash,
                display_name,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => ServiceError::Conflict {
                    field: "email".into(),
                    message: "an account with this e-mail address already exists".into(),
                },
                other => other.into(),
            })?;
        tracing::info!(user = %user.id, "account registered");
        Ok(user)
    }

    /// Checks an e-mail and password and issues a session token. An unknown address costs
    /// the same hash as a known one and fails with the same message.
    ///
    /// `client` names where the attempt comes from (the HTTP frontend gives the client's
    /// address). Past [`ThrottleConfig::free_failures`] wrong passwords on one account, its
    /// attempts take turns (this call waits for its turn) unless `client` signed in to it
    /// recently; see [`crate::auth::throttle`]. The account is slowed, never locked.
    ///
    /// [`ThrottleConfig::free_failures`]: crate::auth::throttle::ThrottleConfig::free_failures
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for any mismatch; [`ServiceError::TooManyAttempts`]
    /// when the account's queue is longer than an attempt may wait (no password is checked).
    pub async fn login(
        &self,
        email: &str,
        password: Secret,
        client: Option<&str>,
    ) -> ServiceResult<(User, IssuedToken)> {
        use crate::auth::throttle::Admission;
        let refused = || ServiceError::Unauthenticated("wrong e-mail address or password".into());
        // Keyed by what was typed, normalised, so that an unknown address is slowed exactly
        // as a known one: the slow-down reveals nothing about who has an account.
        let account = email.trim().to_lowercase();
        match self
            .login_throttle
            .admit(&account, client, self.clock.now())
        {
            Admission::Now => {}
            Admission::After(wait) => tokio::time::sleep(wait).await,
            Admission::Refused(retry_after) => {
                tracing::warn!("login attempts on one account are being slowed");
                return Err(ServiceError::TooManyAttempts { retry_after });
            }
        }
        let user = match Email::parse(email) {
            Ok(email) => match self.store.get_user_by_email(&email).await {
                Ok(user) => Some(user),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            Err(_) => None,
        };
        let stored = match &user {
            Some(u) => u.password_hash.clone(),
            None => self
                .decoy_hash
                .get_or_try_init(|| {
                    hash_password(Secret::new(hex::encode(rand::random::<[u8; 16]>())))
                })
                .await?
                .clone(),
        };
        let ok = verify_password(password, stored).await?;
        match user {
            Some(user) if ok => {
                let token = self.issue_token(user.id)?;
                self.login_throttle
                    .succeeded(&account, client, self.clock.now());
                Ok((user, token))
            }
            _ => {
                self.login_throttle.failed(&account, self.clock.now());
                Err(refused())
            }
        }
    }

    fn issue_token(&self, user: UserId) -> ServiceResult<IssuedToken> {
        self.tokens
            .issue(user, self.clock.now())
            .map_err(ServiceError::internal)
    }

    /// Computes the decoy password hash now, so that the first login for an unknown address
    /// costs no more than later ones. Servers call it at start-up.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] when hashing fails.
    pub async fn warm_up(&self) -> ServiceResult<()> {
        self.decoy_hash
            .get_or_try_init(|| hash_password(Secret::new(hex::encode(rand::random::<[u8; 16]>()))))
            .await?;
        Ok(())
    }

    /// How long session tokens live.
    pub fn token_lifetime(&self) -> chrono::Duration {
        self.tokens.lifetime()
    }

    /// The user a bearer credential names: a session token, or an API key sent as a bearer
    /// token.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`].
    pub async fn authenticate_bearer(&self, credential: &str) -> ServiceResult<Principal> {
        if credential.starts_with(api_keys::KEY_PREFIX) {
            return self.authenticate_api_key(credential).await;
        }
        match self.tokens.verify(credential) {
            Ok(user) => Ok(Principal {
                user,
                api_key: None,
            }),
            Err(e @ (TokenError::Expired | TokenError::Invalid)) => {
                Err(ServiceError::Unauthenticated(e.to_string()))
            }
            Err(e) => Err(ServiceError::internal(e)),
        }
    }

    /// The user an API key belongs to. Costs one indexed read and one SHA-256; the last-used
    /// time is written at most once a minute per key.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for a malformed, unknown or revoked key.
    pub async fn authenticate_api_key(&self, key: &str) -> ServiceResult<Principal> {
        let refused = || ServiceError::Unauthenticated("the API key is not valid".into());
        let prefix = api_keys::lookup_prefix(key).ok_or_else(refused)?;
        let stored = match self.store.get_api_key_by_prefix(prefix).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => return Err(refused()),
            Err(e) => return Err(e.into()),
        };
        if !stored.is_active() || !api_keys::matches(key, &stored.key_hash) {
            return Err(refused());
        }
        let now = self.clock.now();
        if stored
            .last_used_at
            .is_none_or(|at| now - at >= chrono::Duration::minutes(1))
        {
            let store = self.store.clone();
            let id = stored.id;
            tokio::spawn(async move {
                if let Err(e) = store.touch_api_key(id, now).await {
                    tracing::warn!(key = %id, "cannot record the API key's last use: {e}");
                }
            });
        }
        Ok(Principal {
            user: stored.user_id,
            api_key: Some(stored.id),
        })
    }

    /// The acting user's account.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] when the account was deleted since the token was
    /// issued.
    pub async fn me(&self, who: Principal) -> ServiceResult<User> {
        match self.store.get_user(who.user).await {
            Ok(user) => Ok(user),
            Err(StoreError::NotFound { .. }) => Err(ServiceError::Unauthenticated(
                "the account no longer exists".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes the password after checking the current one.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] when the current password is wrong or the new one too short.
    pub async fn change_password(
        &self,
        who: Principal,
        current: Secret,
        new: Secret,
    ) -> ServiceResult<()> {
        let user = self.me(who).await?;
        if !verify_password(current, user.password_hash.clone()).await? {
            return Err(ServiceError::invalid(
                "current_password",
                "is not the account's password",
            ));
        }
        let password_hash = hash_password(new).await.map_err(|e| match e {
            PasswordError::Length => ServiceError::invalid("new_password", e.to_string()),
            other => other.into(),
        })?;
        self.store
            .update_user(
                user.id,
                UserUpdate {
                    password_hash: Some(password_hash),
                    ..UserUpdate::default()
                },
            )
            .await?;
        Ok(())
    }

    /// The account a local command acts for: the one `email` names, or the only one. For
    /// operators at the server's terminal, who hold the database already.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] saying how to choose (no such address, no account
    /// yet, several accounts and none named).
    pub async fn acting_user(&self, email: Option<&str>) -> ServiceResult<(Principal, User)> {
        use crate::users::ActingUserError;
        match crate::users::acting_user(self.store.as_ref(), email).await {
            Ok(user) => Ok((
                Principal {
                    user: user.id,
                    api_key: None,
                },
                user,
            )),
            Err(ActingUserError::Store(e)) => Err(e.into()),
            Err(e) => Err(ServiceError::Unauthenticated(e.to_string())),
        }
    }

    /// Every account, oldest first (the operator's view: `invest auth list-users`).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_users(&self) -> ServiceResult<Vec<User>> {
        Ok(self.store.list_users().await?)
    }

    /// Sets an account's password without the current one: the operator's reset at the
    /// server's terminal (and what `invest demo --serve` does to its throwaway account).
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for an unknown address, [`ServiceError::Invalid`]
    /// for a password of the wrong length.
    pub async fn reset_password(&self, email: &str, new: Secret) -> ServiceResult<User> {
        let (who, _) = self.acting_user(Some(email)).await?;
        let password_hash = hash_password(new).await?;
        Ok(self
            .store
            .update_user(
                who.user,
                UserUpdate {
                    password_hash: Some(password_hash),
                    ..UserUpdate::default()
                },
            )
            .await?)
    }
}
