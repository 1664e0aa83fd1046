//! The Telegram bot: a frontend like the API and the CLI. It parses what a chat sends, calls
//! one [`Services`] function as the user the chat is linked to, and answers with the result.
//!
//! - **Linking.** A chat acts for nobody until it sends `/start CODE` with a code its user
//!   asked for ([`Services::telegram_link_code`]); an unlinked chat gets a short explanation
//!   and nothing else. `/stop` unlinks it (the user can unlink from the API or CLI too).
//! - **Commands.** `/alerts [n]`, `/rules`, `/ack ID`, `/snooze RULE 2h`, `/mute 3h`,
//!   `/unmute`, `/add <rule text>`, `/quote SYMBOLS`, `/portfolio`, `/help`, registered with
//!   `setMyCommands`.
//! - **Buttons.** An alert message's buttons carry action tokens as `callback_data`; pressing
//!   one acts as the chat's user ([`Services::act_on_alert_as`]: a token of another user's alert
//!   changes nothing), answers the `callback_query`, and edits the message to say what was done
//!   and by whom.
//! - **Updates** come by long polling `getUpdates` (behind NAT; one poller per deployment,
//!   under a lease in the database, its offset stored after each update so a restart neither
//!   loses nor repeats one), or by webhook when `TELEGRAM_WEBHOOK_URL` is set (the HTTP server's
//!   `/telegram/webhook`, checking Telegram's `X-Telegram-Bot-Api-Secret-Token`).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::domain::{AlertId, AlertQuery, RuleId};
use crate::engine::RuleOptions;
use crate::notify::{NotifyError, TelegramNotifier};
use crate::service::{MAX_SNOOZE, Principal, RuleSpec, ServiceError, Services, rule_text};

/// The cursor row of this bot in the database.
const BOT: &str = "telegram";
/// The most alerts `/alerts` lists.
const MAX_LISTED_ALERTS: u64 = 20;
/// The most rules `/rules` lists.
const MAX_LISTED_RULES: u64 = 50;

/// The commands, as `setMyCommands` registers them and `/help` lists them.
pub const COMMANDS: &[(&str, &str)] = &[
    ("alerts", "Latest alerts: /alerts [how many]"),
    ("rules", "Your rules"),
    ("ack", "Acknowledge an alert: /ack ALERT_ID"),
    ("snooze", "Snooze a rule: /snooze RULE_ID 2h"),
    ("mute", "Quiet for a while: /mute 3h"),
    ("unmute", "End /mute"),
    (
        "add",
        "Add a rule: /add AAPL crosses above 200, or in words: /add tell me if Apple drops 5% today",
    ),
    ("quote", "Quotes: /quote AAPL MSFT"),
    ("portfolio", "Your holdings and their value"),
    ("stop", "Unlink this chat from your account"),
    ("help", "What I can do"),
];

const NOT_LINKED: &str = "This chat is not linked to a Signal Sentinel account. Ask for a code \
    in the dashboard (Channels → Link Telegram), with `invest notifications link-telegram`, or \
    POST /api/channels/telegram/link, then send /start CODE here.";

/// How the bot works.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// How long one `getUpdates` waits for an update (Telegram's `timeout`). By default 25 s.
    pub poll_timeout: Duration,
    /// How long the lease of the update reader lasts; renewed at every poll. By default 90 s.
    pub lease: chrono::Duration,
    /// The wait after a failed poll, when Telegram named none. By default 5 s.
    pub retry: Duration,
    /// Names this process's lease. By default the process id and a random suffix.
    pub holder: String,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            poll_timeout: Duration::from_secs(25),
            lease: chrono::Duration::seconds(90),
            retry: Duration::from_secs(5),
            holder: format!("{}-{:04x}", std::process::id(), rand::random::<u16>()),
        }
    }
}

/// Why a poll did not go through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BotError {
    /// Telegram refused or did not answer.
    #[error("Telegram: {0}")]
    Telegram(#[from] NotifyError),
    /// The database failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

#[derive(Debug, Deserialize)]
struct Update {
    update_id: i64,
    message: Option<Message>,
    callback_query: Option<CallbackQuery>,
}

#[derive(Debug, Deserialize)]
struct Message {
    message_id: i64,
    chat: Chat,
    text: Option<String>,
    reply_markup: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Chat {
    id: i64,
}

#[derive(Debug, Deserialize)]
struct From {
    first_name: Option<String>,
    username: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    id: String,
    from: From,
    message: Option<Message>,
    data: Option<String>,
}

/// The bot over these use cases and this Bot API client.
#[derive(Debug, Clone)]
pub struct TelegramBot {
    services: Services,
    api: TelegramNotifier,
    config: BotConfig,
}

impl TelegramBot {
    /// A bot acting through `services`, talking to Telegram with `api`.
    pub fn new(services: Services, api: TelegramNotifier, config: BotConfig) -> Self {
        Self {
            services,
            api,
            config,
        }
    }

    /// Registers the commands (`setMyCommands`), so clients offer them.
    ///
    /// # Errors
    /// When Telegram refuses or does not answer.
    pub async fn register_commands(&self) -> Result<(), BotError> {
        let commands: Vec<serde_json::Value> = COMMANDS
            .iter()
            .map(|(command, description)| json!({"command": command, "description": description}))
            .collect();
        self.api
            .call("setMyCommands", &json!({"commands": commands}), None)
            .await?;
        Ok(())
    }

    /// Asks Telegram to post updates to `url` with `secret` in the
    /// `X-Telegram-Bot-Api-Secret-Token` header (`setWebhook`).
    ///
    /// # Errors
    /// When Telegram refuses (an address it cannot reach, not HTTPS) or does not answer.
    pub async fn use_webhook(&self, url: &url::Url, secret: &str) -> Result<(), BotError> {
        self.api
            .call(
                "setWebhook",
                &json!({
                    "url": url.as_str(),
                    "secret_token": secret,
                    "allowed_updates": ["message", "callback_query"],
                    // One connection: updates come in order, so one sent again is known.
                    "max_connections": 1,
                }),
                None,
            )
            .await?;
        Ok(())
    }

    /// Stops a webhook set earlier (`deleteWebhook`, keeping pending updates): `getUpdates`
    /// answers nothing while one is set.
    ///
    /// # Errors
    /// When Telegram refuses or does not answer.
    pub async fn use_polling(&self) -> Result<(), BotError> {
        self.api
            .call(
                "deleteWebhook",
                &json!({"drop_pending_updates": false}),
                None,
            )
            .await?;
        Ok(())
    }

    /// One long poll: takes (or renews) the reader's lease, asks `getUpdates` for what came
    /// after the stored offset, handles each update and stores the offset past it. Returns how
    /// many were handled; `None` while another process holds the lease.
    ///
    /// # Errors
    /// [`BotError::Telegram`] (with Telegram's `retry_after` on 429); database failures.
    pub async fn poll_once(&self) -> Result<Option<usize>, BotError> {
        let store = self.services.store();
        let Some(offset) = store
            .claim_bot_cursor(
                BOT,
                &self.config.holder,
                self.services.now(),
                self.config.lease,
            )
            .await
            .map_err(ServiceError::from)?
        else {
            return Ok(None);
        };
        let timeout = self.config.poll_timeout.as_secs();
        let result = self
            .api
            .call(
                "getUpdates",
                &json!({
                    "offset": offset,
                    "timeout": timeout,
                    "allowed_updates": ["message", "callback_query"],
                }),
                Some(self.config.poll_timeout + Duration::from_secs(10)),
            )
            .await?;
        let updates: Vec<serde_json::Value> = match result {
            serde_json::Value::Array(updates) => updates,
            _ => Vec::new(),
        };
        let mut handled = 0;
        for raw in updates {
            let Some(id) = raw.get("update_id").and_then(serde_json::Value::as_i64) else {
                continue;
            };
            if id < offset {
                continue;
            }
            self.handle_update(&raw).await;
            handled += 1;
            let next = id.saturating_add(1);
            if !store
                .advance_bot_cursor(BOT, &self.config.holder, next)
                .await
                .map_err(ServiceError::from)?
            {
                // The lease went to another process meanwhile: it goes on from the offset.
                break;
            }
        }
        Ok(Some(handled))
    }

    /// Polls until `cancel`, waiting as Telegram asks after a 429 and a while after other
    /// failures; gives the lease up at the end.
    pub async fn run(&self, cancel: CancellationToken) {
        if let Err(e) = self.use_polling().await {
            tracing::warn!("telegram bot: deleteWebhook: {e}");
        }
        if let Err(e) = self.register_commands().await {
            tracing::warn!("telegram bot: setMyCommands: {e}");
        }
        loop {
            let wait = tokio::select! {
                () = cancel.cancelled() => break,
                polled = self.poll_once() => match polled {
                    Ok(Some(_)) => Duration::ZERO,
                    // Another process reads the updates: look again before its lease ends.
                    Ok(None) => (self.config.lease / 3).to_std().unwrap_or(self.config.retry),
                    Err(BotError::Telegram(NotifyError::Retry { message, after })) => {
                        tracing::warn!("telegram bot: {message}");
                        after.unwrap_or(self.config.retry)
                    }
                    Err(e) => {
                        tracing::warn!("telegram bot: {e}");
                        self.config.retry
                    }
                },
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        if let Err(e) = self
            .services
            .store()
            .release_bot_cursor(BOT, &self.config.holder)
            .await
        {
            tracing::warn!("telegram bot: releasing the lease: {e}");
        }
    }

    /// Handles one update that came by webhook, unless it came already (Telegram sends an
    /// update again when it saw no answer in time).
    pub async fn handle_webhook_update(&self, raw: &serde_json::Value) {
        let Some(id) = raw.get("update_id").and_then(serde_json::Value::as_i64) else {
            tracing::warn!("telegram bot: a webhook update without update_id");
            return;
        };
        match self.services.store().record_bot_update(BOT, id).await {
            Ok(true) => self.handle_update(raw).await,
            Ok(false) => tracing::debug!(update = id, "telegram bot: update seen already"),
            Err(e) => tracing::warn!(update = id, "telegram bot: {e}"),
        }
    }

    /// Handles one update (from `getUpdates` or the webhook). Failures are answered in the
    /// chat where possible and logged; they never stop the bot.
    pub async fn handle_update(&self, raw: &serde_json::Value) {
        let update: Update = match serde_json::from_value(raw.clone()) {
            Ok(update) => update,
            Err(e) => {
                tracing::warn!("telegram bot: an update it cannot read: {e}");
                return;
            }
        };
        let outcome = if let Some(query) = update.callback_query {
            self.on_callback(query).await
        } else if let Some(message) = update.message {
            self.on_message(message).await
        } else {
            Ok(())
        };
        if let Err(e) = outcome {
            tracing::warn!(update = update.update_id, "telegram bot: {e}");
        }
    }

    async fn on_message(&self, message: Message) -> Result<(), BotError> {
        let Some(text) = message.text.as_deref().filter(|t| t.starts_with('/')) else {
            return Ok(());
        };
        let chat = message.chat.id;
        let answer = self.answer(chat, text).await;
        self.api.reply(chat, &answer).await?;
        Ok(())
    }

    /// The answer to a command sent in `chat`: what the bot replies.
    pub async fn answer(&self, chat: i64, text: &str) -> String {
        let (command, args) = split_command(text);
        let linked = match self.services.telegram_chat_user(chat).await {
            Ok(linked) => linked,
            Err(e) => return failure(&e),
        };
        let result = match (command.as_str(), linked) {
            ("start", _) if !args.is_empty() => {
                match self.services.link_telegram_chat(args, chat).await {
                    Ok(who) => match self.services.me(who).await {
                        Ok(user) => Ok(format!(
                            "Linked to {}. Alerts will arrive here, with buttons to act on them. /help lists what I can do.",
                            user.email
                        )),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                }
            }
            ("start" | "help", Some(_)) => Ok(help()),
            (_, None) => Ok(NOT_LINKED.to_owned()),
            ("stop" | "unlink", Some(_)) => self
                .services
                .unlink_telegram_chat(chat)
                .await
                .map(|_| "Unlinked: this chat no longer acts for your account. Its alerts stop when you remove its channel.".to_owned()),
            (command, Some(who)) => self.command(who, command, args).await,
        };
        result.unwrap_or_else(|e| failure(&e))
    }

    async fn command(
        &self,
        who: Principal,
        command: &str,
        args: &str,
    ) -> Result<String, ServiceError> {
        let s = &self.services;
        match command {
            "alerts" => {
                let n = match args {
                    "" => 5,
                    n => n
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (1..=MAX_LISTED_ALERTS).contains(n))
                        .ok_or_else(|| {
                            invalid(format!(
                                "give how many, 1 to {MAX_LISTED_ALERTS}: /alerts 10"
                            ))
                        })?,
                };
                let alerts = s.list_alerts(who, AlertQuery::newest(who.user, n)).await?;
                if alerts.is_empty() {
                    return Ok("No alerts yet.".into());
                }
                Ok(alerts
                    .iter()
                    .map(|a| {
                        format!(
                            "#{} {} — {}{}",
                            a.id,
                            crate::time::format_utc(a.fired_at),
                            a.message,
                            match a.rule_id {
                                Some(rule) => format!(" (rule {rule})"),
                                None => String::new(),
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            "rules" => {
                let rules = s
                    .list_rules(who, None, None, None, MAX_LISTED_RULES)
                    .await?;
                if rules.is_empty() {
                    return Ok("No rules yet: /add AAPL crosses above 200".into());
                }
                Ok(rules
                    .iter()
                    .map(|r| {
                        let mut line = format!("#{} {}", r.id, rule_text(r));
                        if !r.enabled {
                            line.push_str(" (disabled)");
                        }
                        if let Some(until) = r.snoozed_until.filter(|u| *u > s.now()) {
                            line.push_str(&format!(
                                " (snoozed until {})",
                                crate::time::format_utc(until)
                            ));
                        }
                        line
                    })
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            "ack" => {
                let id: AlertId = args
                    .parse()
                    .map_err(|_| invalid("give the alert's number: /ack 42"))?;
                let alert = s.acknowledge_alert(who, id).await?;
                Ok(format!(
                    "Acknowledged alert #{} ({}).",
                    alert.id, alert.symbol
                ))
            }
            "snooze" => {
                let usage = || invalid("give the rule's number and how long: /snooze 7 2h");
                let (id, duration) = args.split_once(char::is_whitespace).ok_or_else(usage)?;
                let id: RuleId = id.parse().map_err(|_| usage())?;
                let duration = crate::time::parse_duration(duration, MAX_SNOOZE)
                    .map_err(|e| invalid(e.to_string()))?;
                let rule = s.snooze_rule_for(who, id, duration).await?;
                Ok(format!(
                    "Snoozed rule #{} ({}) until {}.",
                    rule.id,
                    rule_text(&rule),
                    rule.snoozed_until
                        .map(crate::time::format_utc)
                        .unwrap_or_default()
                ))
            }
            "mute" => {
                let duration = crate::time::parse_duration(args, MAX_SNOOZE)
                    .map_err(|_| invalid("give how long: /mute 3h"))?;
                let until = s.mute_notifications(who, duration).await?;
                Ok(format!(
                    "Muted until {}: alerts wait until then (or arrive silently, if your quiet hours say so). /unmute ends it.",
                    crate::time::format_utc(until)
                ))
            }
            "unmute" => {
                s.unmute_notifications(who).await?;
                Ok("Unmuted.".into())
            }
            "add" => {
                if args.is_empty() {
                    return Err(invalid("give the rule: /add AAPL crosses above 200"));
                }
                // Not in the rule grammar: read as plain words, shown, and saved when the user
                // sends the rule's text with /add (the confirmation).
                if let Err(grammar) = crate::engine::parse_rule(args) {
                    return Ok(match s.propose_rule(who, args).await? {
                        crate::rules::words::Reading::Rule(p) => format!(
                            "I read: {}\n{}\nSend /add {} to save it.",
                            p.text, p.explanation, p.text
                        ),
                        crate::rules::words::Reading::Choose { mention, choices } => format!(
                            "\"{mention}\" may be {}: say it again with the ticker.",
                            choices
                                .iter()
                                .map(|l| format!("{} ({})", l.symbol, l.name))
                                .collect::<Vec<_>>()
                                .join(" or ")
                        ),
                        crate::rules::words::Reading::Refused { reason, .. } => {
                            return Err(invalid(format!(
                                "text: {grammar}; read as words: {reason}"
                            )));
                        }
                    });
                }
                let rule = s
                    .create_rule(
                        who,
                        RuleSpec {
                            text: Some(args.to_owned()),
                            ..RuleSpec::default()
                        },
                        None,
                        RuleOptions::default(),
                        true,
                        None,
                    )
                    .await?;
                Ok(format!("Added rule #{}: {}", rule.id, rule_text(&rule)))
            }
            "quote" => {
                let symbols: Vec<String> = args
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if symbols.is_empty() {
                    return Err(invalid("give one or more symbols: /quote AAPL MSFT"));
                }
                let quotes = s.quotes(&symbols).await?;
                Ok(quotes
                    .iter()
                    .map(|q| {
                        let change = q
                            .change_percent()
                            .map(|c| format!(" ({:+}%)", c.round_dp(2)))
                            .unwrap_or_default();
                        format!(
                            "{} {}{change} at {}",
                            q.symbol,
                            q.price,
                            crate::time::format_utc(q.at)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"))
            }
            "portfolio" => {
                let portfolio = s.portfolio(who).await?;
                if portfolio.positions.is_empty() {
                    return Ok("No holdings yet: import them with `invest portfolio import` or link a brokerage in the dashboard.".into());
                }
                let mut lines: Vec<String> = portfolio
                    .positions
                    .iter()
                    .map(|p| {
                        let value = p
                            .market_value
                            .map_or_else(|| "no quote".to_owned(), |v| v.to_string());
                        format!(
                            "{} {} × {} = {value}",
                            p.holding.symbol,
                            p.holding.quantity,
                            p.price.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
                        )
                    })
                    .collect();
                let change = portfolio
                    .day_change_percent
                    .map(|c| format!(" ({c:+}%)"))
                    .unwrap_or_default();
                lines.push(format!(
                    "Total {} — today {:+}{change}",
                    portfolio.market_value, portfolio.day_change
                ));
                Ok(lines.join("\n"))
            }
            _ => Ok(format!("Unknown command /{command}.\n\n{}", help())),
        }
    }

    async fn on_callback(&self, query: CallbackQuery) -> Result<(), BotError> {
        let (Some(message), Some(token)) = (query.message, query.data.as_deref()) else {
            return self.answer_callback(&query.id, "Nothing to do.").await;
        };
        let chat = message.chat.id;
        let Some(who) = self.services.telegram_chat_user(chat).await? else {
            return self
                .answer_callback(
                    &query.id,
                    "This chat is not linked to an account: nothing was done.",
                )
                .await;
        };
        match self.services.act_on_alert_as(who.user, token).await {
            Ok(outcome) => {
                self.answer_callback(&query.id, &outcome.done).await?;
                let by = query
                    .from
                    .username
                    .map(|u| format!("@{u}"))
                    .or(query.from.first_name)
                    .unwrap_or_else(|| "someone".into());
                let text = format!(
                    "{}\n\n✓ {} — {by}",
                    message.text.unwrap_or_default(),
                    outcome.done
                );
                let mut body = json!({
                    "chat_id": chat,
                    "message_id": message.message_id,
                    "text": crate::notify::telegram_truncate(&text),
                });
                if let Some(keyboard) = without_button(message.reply_markup.as_ref(), token) {
                    body["reply_markup"] = keyboard;
                }
                self.api.call("editMessageText", &body, None).await?;
                Ok(())
            }
            Err(e) => self.answer_callback(&query.id, &failure(&e)).await,
        }
    }

    async fn answer_callback(&self, id: &str, text: &str) -> Result<(), BotError> {
        // Telegram shows at most 200 characters of a callback answer.
        let text: String = text.chars().take(200).collect();
        self.api
            .call(
                "answerCallbackQuery",
                &json!({"callback_query_id": id, "text": text, "show_alert": true}),
                None,
            )
            .await?;
        Ok(())
    }
}

/// `/snooze@MyBot 7 2h` → (`snooze`, `7 2h`).
fn split_command(text: &str) -> (String, &str) {
    let text = text.trim();
    let (head, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let command = head
        .trim_start_matches('/')
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    (command, args.trim())
}

fn help() -> String {
    let mut text = String::from("What I can do:\n");
    for (command, description) in COMMANDS {
        text.push_str(&format!("/{command} — {description}\n"));
    }
    text.push_str("\nThe buttons under an alert act on it.");
    text
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        field: "command".into(),
        message: message.into(),
    }
}

/// What a failure says in the chat (an internal cause is logged, not shown).
fn failure(error: &ServiceError) -> String {
    match error {
        ServiceError::Invalid { message, .. } => message.clone(),
        ServiceError::Internal(_) => {
            tracing::error!("telegram bot: {}", crate::error_chain(error));
            "Something went wrong on the server; try again later.".into()
        }
        other => other.to_string(),
    }
}

/// The keyboard without the button that was pressed; `None` when none is left.
fn without_button(markup: Option<&serde_json::Value>, token: &str) -> Option<serde_json::Value> {
    let rows = markup?.get("inline_keyboard")?.as_array()?;
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .filter_map(|row| {
            let buttons: Vec<serde_json::Value> = row
                .as_array()?
                .iter()
                .filter(|b| b.get("callback_data").and_then(|d| d.as_str()) != Some(token))
                .cloned()
                .collect();
            (!buttons.is_empty()).then_some(serde_json::Value::Array(buttons))
        })
        .collect();
    (!rows.is_empty()).then(|| json!({"inline_keyboard": rows}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_with_a_bot_name_and_arguments() {
        assert_eq!(
            split_command("/snooze@SentinelBot 7 2h"),
            ("snooze".into(), "7 2h")
        );
        assert_eq!(split_command("/ALERTS"), ("alerts".into(), ""));
        assert_eq!(
            split_command("/add  AAPL crosses above 200 "),
            ("add".into(), "AAPL crosses above 200")
        );
    }

    #[test]
    fn the_pressed_button_leaves_the_keyboard() {
        let markup = json!({"inline_keyboard": [
            [{"text": "Acknowledge", "callback_data": "a"}, {"text": "Snooze 1 h", "callback_data": "b"}],
            [{"text": "Disable rule", "callback_data": "c"}],
        ]});
        assert_eq!(
            without_button(Some(&markup), "c"),
            Some(json!({"inline_keyboard": [
                [{"text": "Acknowledge", "callback_data": "a"}, {"text": "Snooze 1 h", "callback_data": "b"}],
            ]}))
        );
        let one = json!({"inline_keyboard": [[{"text": "Acknowledge", "callback_data": "a"}]]});
        assert_eq!(without_button(Some(&one), "a"), None);
    }

    #[test]
    fn every_command_is_registered_as_telegram_allows() {
        for (command, description) in COMMANDS {
            assert!(
                (1..=32).contains(&command.len())
                    && command
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{command}"
            );
            assert!((1..=256).contains(&description.chars().count()));
        }
    }
}
