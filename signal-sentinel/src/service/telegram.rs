//! Linking Telegram chats to accounts, for the bot: a user asks for a one-time code (API, CLI,
//! dashboard) and sends `/start CODE` to the bot; from then on the chat acts for that user,
//! and only for that user, until either side unlinks it. Muting notifications for a while.

use sha2::{Digest, Sha256};

use super::{MAX_SNOOZE, Principal, ServiceError, ServiceResult, Services};
use crate::domain::ChannelKind;
use crate::time::Timestamp;

/// How long a link code works: 15 minutes.
pub const LINK_CODE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The letters of a link code: no 0/O or 1/I/L to misread.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// The length of a link code (31^10, about 2^49, guesses in 15 minutes).
const CODE_LEN: usize = 10;

/// A one-time code linking a Telegram chat to the account that asked for it.
#[derive(Debug, Clone)]
pub struct TelegramLinkCode {
    /// What to send to the bot: `/start CODE`.
    pub code: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_ascii_uppercase().as_bytes()))
}

impl Services {
    /// A fresh one-time code to link a Telegram chat to the acting user (the user's earlier
    /// codes stop working).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn telegram_link_code(&self, who: Principal) -> ServiceResult<TelegramLinkCode> {
        let code: String = (0..CODE_LEN)
            .map(|_| {
                let i = rand::random_range(0..CODE_ALPHABET.len());
                char::from(CODE_ALPHABET[i])
            })
            .collect();
        let expires_at = self.clock.now()
            + chrono::Duration::from_std(LINK_CODE_LIFETIME).map_err(ServiceError::internal)?;
        self.store
            .create_link_code(&code_hash(&code), who.user, expires_at)
            .await?;
        Ok(TelegramLinkCode { code, expires_at })
    }

    /// Links `chat` to the user whose code it sent (the code then no longer works), and makes
    /// sure the user has a Telegram channel for it, so alerts arrive there.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for an unknown, used or expired code.
    pub async fn link_telegram_chat(&self, code: &str, chat: i64) -> ServiceResult<Principal> {
        let now = self.clock.now();
        let user = self
            .store
            .take_link_code(&code_hash(code), now)
            .await?
            .ok_or_else(|| {
                ServiceError::Unauthenticated(
                    "this code is unknown, used or expired: ask for a new one".into(),
                )
            })?;
        self.store.link_chat(chat, user, now).await?;
        let who = Principal {
            user,
            api_key: None,
        };
        let channels = self.store.list_channels(user).await?;
        let has_channel = channels.iter().any(|c| {
            c.kind == ChannelKind::Telegram && c.config.get("chat_id") == Some(&chat.into())
        });
        if !has_channel {
            // A name of its own even if "telegram <chat>" is taken by a renamed channel.
            let name = (0..)
                .map(|n| match n {
                    0 => format!("telegram {chat}"),
                    n => format!("telegram {chat} ({n})"),
                })
                .find(|name| !channels.iter().any(|c| &c.name == name))
                .unwrap_or_default();
            self.add_telegram(who, &chat.to_string(), Some(name))
                .await?;
        }
        Ok(who)
    }

    /// The user a chat acts for, when it is linked.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn telegram_chat_user(&self, chat: i64) -> ServiceResult<Option<Principal>> {
        Ok(self.store.chat_user(chat).await?.map(|user| Principal {
            user,
            api_key: None,
        }))
    }

    /// Unlinks a chat from whatever account it acts for (the chat's own `/stop`); `false` when
    /// it was not linked. Its Telegram channel stays, and can be removed like any channel.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn unlink_telegram_chat(&self, chat: i64) -> ServiceResult<bool> {
        Ok(self.store.unlink_chat(chat, None).await?)
    }

    /// Unlinks the user's chats (`chat`, or all of them); returns how many.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a chat not linked to this user.
    pub async fn unlink_telegram(&self, who: Principal, chat: Option<i64>) -> ServiceResult<u64> {
        let chats = self.telegram_chats(who).await?;
        let chosen: Vec<i64> = match chat {
            Some(chat) if chats.contains(&chat) => vec![chat],
            Some(_) => return Err(ServiceError::NotFound("linked chat")),
            None => chats,
        };
        let mut unlinked = 0;
        for chat in chosen {
            if self.store.unlink_chat(chat, Some(who.user)).await? {
                unlinked += 1;
            }
        }
        Ok(unlinked)
    }

    /// The Telegram chats linked to the user.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn telegram_chats(&self, who: Principal) -> ServiceResult<Vec<i64>> {
        Ok(self.store.user_chats(who.user).await?)
    }

    /// Quiet hours now, for `duration` (at most a year): alerts are held or silent as the
    /// user's quiet hours say (held by default) until it ends. Returns the end.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a zero or too long duration.
    pub async fn mute_notifications(
        &self,
        who: Principal,
        duration: std::time::Duration,
    ) -> ServiceResult<Timestamp> {
        let too_long = || {
            ServiceError::invalid(
                "duration",
                format!("must be 1 minute to {}", crate::time::describe(MAX_SNOOZE)),
            )
        };
        if duration < std::time::Duration::from_secs(60) || duration > MAX_SNOOZE {
            return Err(too_long());
        }
        let until = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| self.clock.now().checked_add_signed(d))
            .ok_or_else(too_long)?;
        self.update_notification_prefs(
            who,
            crate::notify::PrefsPatch {
                muted_until: Some(Some(until)),
                ..crate::notify::PrefsPatch::default()
            },
        )
        .await?;
        Ok(until)
    }

    /// Ends a mute now.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn unmute_notifications(&self, who: Principal) -> ServiceResult<()> {
        self.update_notification_prefs(
            who,
            crate::notify::PrefsPatch {
                muted_until: Some(None),
                ..crate::notify::PrefsPatch::default()
            },
        )
        .await
        .map(drop)
    }
}
