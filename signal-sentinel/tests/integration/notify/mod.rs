//! Notifications against mock Telegram and webhook servers.

mod dispatcher;
mod email;
mod services;
mod telegram;
mod webhook;

use signal_sentinel::Secret;
use signal_sentinel::domain::{
    ChannelKind, DeliveryEvent, DeliveryId, NewChannel, NotificationChannel, UserId,
};
use signal_sentinel::notify::OutgoingMessage;
use signal_sentinel::store::{ChannelStore, SeaStore};

pub(crate) const TOKEN: &str = "123456789:AAHsecretBotToken-do-not-leak";
pub(crate) const WEBHOOK_SECRET: &str = "whsec-do-not-leak-42";

pub(crate) fn message(text: &str) -> OutgoingMessage {
    OutgoingMessage {
        delivery_id: DeliveryId::new(7),
        event: DeliveryEvent::Fired,
        text: text.to_owned(),
        alert: None,
        silent: false,
        actions: Vec::new(),
        priority: None,
    }
}

pub(crate) async fn telegram_channel(
    store: &SeaStore,
    owner: UserId,
    chat: i64,
) -> NotificationChannel {
    store
        .create_channel(NewChannel {
            owner,
            name: format!("chat {chat}"),
            kind: ChannelKind::Telegram,
            config: serde_json::json!({"chat_id": chat}),
            secret: None,
        })
        .await
        .unwrap()
}

pub(crate) async fn webhook_channel(
    store: &SeaStore,
    owner: UserId,
    url: &str,
) -> NotificationChannel {
    store
        .create_channel(NewChannel {
            owner,
            name: "hook".into(),
            kind: ChannelKind::Webhook,
            config: serde_json::json!({"url": url}),
            secret: Some(Secret::new(WEBHOOK_SECRET)),
        })
        .await
        .unwrap()
}
