//! Notification channels and preferences.

use super::{Principal, ServiceError, ServiceResult, Services};
use crate::Secret;
use crate::domain::{ChannelId, NotificationChannel};
use crate::notify::channels::{ChannelTest, add_from_url, add_telegram, add_webhook};
use crate::store::StoreError;

impl Services {
    async fn owned_channel(
        &self,
        who: Principal,
        id: ChannelId,
    ) -> ServiceResult<NotificationChannel> {
        match self.store.get_channel(id).await {
            Ok(channel) if channel.owner == who.user => Ok(channel),
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound("channel")),
            Err(e) => Err(e.into()),
        }
    }

    /// The user's channels and how many deliveries wait.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_channels(
        &self,
        who: Principal,
    ) -> ServiceResult<(Vec<NotificationChannel>, u64)> {
        Ok((
            self.store.list_channels(who.user).await?,
            self.store.count_pending_deliveries(who.user).await?,
        ))
    }

    /// One channel.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn get_channel(
        &self,
        who: Principal,
        id: ChannelId,
    ) -> ServiceResult<NotificationChannel> {
        self.owned_channel(who, id).await
    }

    /// Adds a Telegram chat.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`], [`ServiceError::Conflict`] for a taken name.
    pub async fn add_telegram(
        &self,
        who: Principal,
        chat_id: &str,
        name: Option<String>,
    ) -> ServiceResult<NotificationChannel> {
        Ok(add_telegram(self.store.as_ref(), who.user, chat_id, name).await?)
    }

    /// Adds a webhook; returns the signing secret (generated unless given) this once.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`], [`ServiceError::Conflict`] for a taken name.
    pub async fn add_webhook(
        &self,
        who: Principal,
        url: &str,
        name: Option<String>,
        secret: Option<Secret>,
    ) -> ServiceResult<(NotificationChannel, Secret)> {
        Ok(add_webhook(
            self.store.as_ref(),
            self.vault().map(AsRef::as_ref),
            who.user,
            url,
            name,
            secret,
        )
        .await?)
    }

    /// Adds the channel a URL names: `ntfy://HOST/TOPIC`, `discord://ID/TOKEN`,
    /// `slack://T/B/X`, `gotify://HOST/TOKEN`, `pover://USER@TOKEN`,
    /// `matrix://TOKEN@HOST/!ROOM:SERVER`, `tgram://CHAT_ID`, `https://…` (see
    /// [`channel_url`](crate::notify::channel_url)). Its secret is sealed and never shown
    /// again; a webhook's signing secret is generated and returned this once.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `url` or `name` (never quoting the URL);
    /// [`ServiceError::Conflict`] for a taken name.
    pub async fn add_channel_url(
        &self,
        who: Principal,
        url: &str,
        name: Option<String>,
    ) -> ServiceResult<(NotificationChannel, Option<Secret>)> {
        Ok(add_from_url(
            self.store.as_ref(),
            self.vault().map(AsRef::as_ref),
            &self.channel_settings,
            who.user,
            url,
            name,
        )
        .await?)
    }

    /// Seals every channel secret that is stored unsealed (from before sealing existed) or
    /// under `SECRET_KEY_PREVIOUS`, under the current key. Secrets no key opens are counted
    /// and left as they are (setting the right `SECRET_KEY_PREVIOUS` still recovers them).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn reseal_channel_secrets(&self) -> ServiceResult<super::ResealReport> {
        let mut report = super::ResealReport::default();
        let Some(vault) = self.vault() else {
            return Ok(report);
        };
        for channel in self.store.channels_with_secrets().await? {
            let Some(stored) = channel.secret.as_ref().map(|s| s.expose().to_owned()) else {
                continue;
            };
            match crate::notify::channels::resealed(vault, &channel) {
                Ok(None) => {}
                Ok(Some(sealed)) => {
                    if self
                        .store
                        .reseal_channel(channel.id, &stored, sealed.expose())
                        .await?
                    {
                        report.resealed += 1;
                    }
                }
                Err(_) => report.unreadable += 1,
            }
        }
        if report.resealed > 0 || report.unreadable > 0 {
            tracing::info!(
                resealed = report.resealed,
                unreadable = report.unreadable,
                "channel secrets sealed under the current SECRET_KEY"
            );
        }
        Ok(report)
    }

    /// Changes a channel: turns it on or off (`enabled`), and its resolved notices
    /// (`resolved`; they go out unless turned off). `None` leaves a setting as it is.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Invalid`] when neither is given.
    pub async fn change_channel(
        &self,
        who: Principal,
        id: ChannelId,
        enabled: Option<bool>,
        resolved: Option<bool>,
    ) -> ServiceResult<NotificationChannel> {
        let channel = self.owned_channel(who, id).await?;
        if enabled.is_none() && resolved.is_none() {
            return Err(ServiceError::invalid(
                "enabled",
                "give enabled, resolved, or both",
            ));
        }
        if let Some(enabled) = enabled {
            self.store.set_channel_enabled(id, enabled).await?;
        }
        if let Some(on) = resolved {
            let mut config = channel.config;
            match config.as_object_mut() {
                Some(object) => {
                    object.insert("resolved".into(), on.into());
                }
                None => config = serde_json::json!({ "resolved": on }),
            }
            self.store.set_channel_config(id, config).await?;
        }
        Ok(self.store.get_channel(id).await?)
    }

    /// Removes a channel.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn delete_channel(&self, who: Principal, id: ChannelId) -> ServiceResult<()> {
        self.owned_channel(who, id).await?;
        Ok(self.store.delete_channel(id).await?)
    }

    /// Sends a test message to one channel and records the outcome.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn test_channel(&self, who: Principal, id: ChannelId) -> ServiceResult<ChannelTest> {
        self.owned_channel(who, id).await?;
        let results = crate::notify::channels::test_channels(
            self.store.as_ref(),
            self.vault().map(AsRef::as_ref),
            &self.notifiers,
            who.user,
            Some(id),
            self.clock.now(),
        )
        .await?;
        results
            .into_iter()
            .next()
            .ok_or(ServiceError::NotFound("channel"))
    }

    /// The user's notification preferences.
    ///
    /// # Errors
    /// Storage failures, or stored preferences this build cannot read.
    pub async fn notification_prefs(
        &self,
        who: Principal,
    ) -> ServiceResult<crate::notify::NotificationPrefs> {
        let (doc, _) = self.store.get_notification_prefs(who.user).await?;
        crate::notify::NotificationPrefs::from_document(&doc).map_err(ServiceError::internal)
    }

    /// Replaces the user's notification preferences.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for an unknown time zone.
    pub async fn set_notification_prefs(
        &self,
        who: Principal,
        prefs: crate::notify::NotificationPrefs,
    ) -> ServiceResult<crate::notify::NotificationPrefs> {
        prefs
            .zone()
            .map_err(|e| ServiceError::invalid("time_zone", e.to_string()))?;
        self.store
            .set_notification_prefs(who.user, prefs.to_document())
            .await?;
        Ok(prefs)
    }

    /// Changes some of the user's notification preferences and returns them all.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming `quiet_mode` or `time_zone`.
    pub async fn update_notification_prefs(
        &self,
        who: Principal,
        patch: crate::notify::PrefsPatch,
    ) -> ServiceResult<crate::notify::NotificationPrefs> {
        let prefs = self
            .notification_prefs(who)
            .await?
            .patched(patch)
            .map_err(|e| ServiceError::invalid(e.field(), e.to_string()))?;
        self.set_notification_prefs(who, prefs).await
    }

    /// One of the user's channels by its name.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn channel_named(
        &self,
        who: Principal,
        name: &str,
    ) -> ServiceResult<NotificationChannel> {
        self.store
            .list_channels(who.user)
            .await?
            .into_iter()
            .find(|c| c.name == name)
            .ok_or(ServiceError::NotFound("channel"))
    }

    /// Sends a test message through each of the user's channels and records each outcome.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn test_channels(&self, who: Principal) -> ServiceResult<Vec<ChannelTest>> {
        Ok(crate::notify::channels::test_channels(
            self.store.as_ref(),
            self.vault().map(AsRef::as_ref),
            &self.notifiers,
            who.user,
            None,
            self.clock.now(),
        )
        .await?)
    }
}
