//! Acting on an alert from the message that carried it: acknowledge, snooze, re-arm, disable,
//! move a level further. The same functions serve the API (as the signed-in user), the links
//! and buttons in messages (as the user their token names) and the Telegram bot (as the user
//! its chat is linked to).

use rust_decimal::Decimal;

use super::{Principal, ServiceError, ServiceResult, Services};
use crate::auth::action_token::{
    ACTION_TOKEN_LIFETIME, ActionGrant, ActionKeys, ActionTokenError, AlertAction, VerifiedAction,
};
use crate::domain::{Alert, AlertId, AlertKind, Rule, RuleUpdate, UserId};
use crate::engine::{Condition, Direction, EngineState, Frequency, RuleOptions};
use crate::store::StoreError;
use crate::time::Timestamp;

/// How far [`AlertAction::RearmFurther`] moves a level: 5%.
pub const LADDER_STEP_PERCENT: Decimal = Decimal::from_parts(5, 0, 0, false, 0);

/// What an action did, in words for the one who acted.
#[derive(Debug, Clone)]
pub struct ActionOutcome {
    /// The action.
    pub action: AlertAction,
    /// The alert, as it is now.
    pub alert: Alert,
    /// Its rule, as it is now (`None` once deleted).
    pub rule: Option<Rule>,
    /// What was done: `Snoozed AAPL crosses above 200 until 2026-12-08 14:30 UTC.`
    pub done: String,
}

/// What a token would do, before it is used (the confirmation page).
#[derive(Debug, Clone)]
pub struct ActionPreview {
    /// The action.
    pub action: AlertAction,
    /// The alert.
    pub alert: Alert,
    /// The question to confirm: `Snooze the rule "AAPL crosses above 200" for 1 hour?`
    pub question: String,
}

/// A button or link on a message, ready to be shown. Its `Debug` form leaves the token (and
/// the links holding it) out: a token acts on the alert.
#[derive(Clone, serde::Serialize)]
pub struct MessageAction {
    /// What it does.
    pub action: AlertAction,
    /// Its label.
    pub label: &'static str,
    /// The signed token (a Telegram button's `callback_data`).
    #[serde(skip)]
    pub token: String,
    /// The confirmation page (`{PUBLIC_URL}/actions/{token}`), when `PUBLIC_URL` is set.
    pub url: Option<String>,
    /// The endpoint that acts at once on a POST (`{PUBLIC_URL}/api/actions/{token}`), for
    /// services whose buttons send a request themselves (ntfy).
    pub post_url: Option<String>,
}

impl std::fmt::Debug for MessageAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageAction")
            .field("action", &self.action)
            .field("has_url", &self.url.is_some())
            .finish_non_exhaustive()
    }
}

impl serde::Serialize for AlertAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Signs the actions of the messages the dispatcher sends.
#[derive(Debug, Clone)]
pub struct ActionSigner {
    keys: std::sync::Arc<ActionKeys>,
    public_url: Option<String>,
}

impl ActionSigner {
    /// Signs with `keys`; links point at `public_url` (the dashboard's address) when given.
    pub fn new(keys: std::sync::Arc<ActionKeys>, public_url: Option<String>) -> Self {
        Self {
            keys,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
        }
    }

    /// The actions of `alert` (whose rule is `rule`), each with its token valid for
    /// [`ACTION_TOKEN_LIFETIME`] from `now`.
    pub fn actions(
        &self,
        alert: &Alert,
        rule: Option<&Rule>,
        now: Timestamp,
    ) -> Vec<MessageAction> {
        let expires_at = chrono::Duration::from_std(ACTION_TOKEN_LIFETIME)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(now);
        applicable_actions(alert, rule)
            .into_iter()
            .map(|action| {
                let token = self.keys.sign(&ActionGrant {
                    action,
                    user: alert.owner,
                    alert: alert.id,
                    expires_at,
                });
                MessageAction {
                    action,
                    label: action.label(),
                    url: self
                        .public_url
                        .as_ref()
                        .map(|base| format!("{base}/actions/{token}")),
                    post_url: self
                        .public_url
                        .as_ref()
                        .map(|base| format!("{base}/api/actions/{token}")),
                    token,
                }
            })
            .collect()
    }
}

/// The actions that make sense on `alert`: acknowledging always; for a fired alert (or a
/// reminder) whose
/// rule exists, snoozing, re-arming a rule that fires once, moving a level rule further, and
/// disabling a rule that is still enabled.
pub fn applicable_actions(alert: &Alert, rule: Option<&Rule>) -> Vec<AlertAction> {
    let mut actions = vec![AlertAction::Acknowledge];
    let Some(rule) = rule.filter(|_| alert.kind != AlertKind::Resolved) else {
        return actions;
    };
    let once =
        RuleOptions::from_document(&rule.options).is_ok_and(|o| o.frequency == Frequency::Once);
    let level = Condition::from_document(&rule.condition)
        .ok()
        .is_some_and(|c| crate::engine::rearm_level(&c).is_some());
    actions.extend([AlertAction::SnoozeHour, AlertAction::SnoozeUntilOpen]);
    // A rule that fires once disabled itself; a rule the flood guard paused is disabled too.
    if once || !rule.enabled {
        actions.push(AlertAction::Rearm);
    }
    if level {
        actions.push(AlertAction::RearmFurther);
    }
    if rule.enabled && !once {
        actions.push(AlertAction::DisableRule);
    }
    actions
}

/// The first regular session's open after `now` (New York), within the next three weeks.
pub fn next_open(now: Timestamp) -> Option<Timestamp> {
    let today = now
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    today
        .iter_days()
        .take(21)
        .filter_map(crate::engine::calendar::regular_hours)
        .map(|(open, _)| open)
        .find(|open| *open > now)
}

fn token_error(e: ActionTokenError) -> ServiceError {
    ServiceError::Unauthenticated(e.to_string())
}

fn describe_rule(rule: Option<&Rule>, alert: &Alert) -> String {
    match rule {
        Some(rule) => match &rule.name {
            Some(name) => format!("\"{name}\""),
            None => format!("\"{}\"", super::rule_text(rule)),
        },
        None => format!("of the {} alert", alert.symbol),
    }
}

impl Services {
    /// Signs the actions of messages with keys derived from `SECRET_KEY` (and the previous
    /// one during a rotation).
    #[must_use]
    pub fn with_action_keys(mut self, keys: ActionKeys) -> Self {
        self.action_keys = Some(std::sync::Arc::new(keys));
        self
    }

    /// What the dispatcher signs message actions with, when keys are configured.
    pub(crate) fn action_signer(&self) -> Option<ActionSigner> {
        self.action_keys.as_ref().map(|keys| {
            ActionSigner::new(
                keys.clone(),
                self.channel_settings
                    .public_url
                    .as_ref()
                    .map(ToString::to_string),
            )
        })
    }

    fn verify_action(&self, token: &str) -> ServiceResult<VerifiedAction> {
        let keys = self.action_keys.as_ref().ok_or_else(|| {
            ServiceError::Unavailable("this server does not sign action links".into())
        })?;
        keys.verify(token, self.clock.now()).map_err(token_error)
    }

    /// What the token would do, without doing it (for the page that asks to confirm).
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for a malformed, forged or expired token;
    /// [`ServiceError::NotFound`] when the alert is gone.
    pub async fn preview_action(&self, token: &str) -> ServiceResult<ActionPreview> {
        let verified = self.verify_action(token)?;
        let who = Principal {
            user: verified.grant.user,
            api_key: None,
        };
        let alert = self.owned_alert(who, verified.grant.alert).await?;
        let rule = match alert.rule_id {
            Some(id) => self.owned_rule(who, id).await.ok(),
            None => None,
        };
        let of = describe_rule(rule.as_ref(), &alert);
        let question = match verified.grant.action {
            AlertAction::Acknowledge => {
                format!("Acknowledge the {} alert at {}?", alert.symbol, alert.price)
            }
            AlertAction::SnoozeHour => format!("Snooze the rule {of} for 1 hour?"),
            AlertAction::SnoozeUntilOpen => {
                format!("Snooze the rule {of} until the next market open?")
            }
            AlertAction::Rearm => format!("Arm the rule {of} again?"),
            AlertAction::DisableRule => format!("Disable the rule {of}?"),
            AlertAction::RearmFurther => format!(
                "Move the level of the rule {of} {LADDER_STEP_PERCENT}% further and arm it again?"
            ),
        };
        Ok(ActionPreview {
            action: verified.grant.action,
            alert,
            question,
        })
    }

    /// Does what a message's token grants, as the user it names; the token then no longer
    /// works.
    ///
    /// # Errors
    /// [`ServiceError::Unauthenticated`] for a malformed, forged or expired token;
    /// [`ServiceError::Conflict`] for one used already; what the action itself can fail with.
    pub async fn act_on_alert(&self, token: &str) -> ServiceResult<ActionOutcome> {
        self.act_with_token(token, None).await
    }

    /// [`act_on_alert`](Self::act_on_alert) from a chat linked to `user`: a token of another
    /// user changes nothing.
    ///
    /// # Errors
    /// As [`act_on_alert`](Self::act_on_alert); [`ServiceError::Unauthenticated`] for a token
    /// of another user.
    pub async fn act_on_alert_as(&self, user: UserId, token: &str) -> ServiceResult<ActionOutcome> {
        self.act_with_token(token, Some(user)).await
    }

    async fn act_with_token(
        &self,
        token: &str,
        acting: Option<UserId>,
    ) -> ServiceResult<ActionOutcome> {
        let verified = self.verify_action(token)?;
        let grant = verified.grant;
        if acting.is_some_and(|user| user != grant.user) {
            return Err(ServiceError::Unauthenticated(
                "this button belongs to another account's alert".into(),
            ));
        }
        let who = Principal {
            user: grant.user,
            api_key: None,
        };
        // The alert must be the user's before the token is spent on it.
        self.owned_alert(who, grant.alert).await?;
        let first = match self
            .store
            .use_action_token(
                &verified.token_id,
                grant.user,
                self.clock.now(),
                grant.expires_at,
            )
            .await
        {
            Ok(first) => first,
            Err(StoreError::MissingReference { .. }) => {
                return Err(ServiceError::NotFound("alert"));
            }
            Err(e) => return Err(e.into()),
        };
        if !first {
            return Err(ServiceError::Conflict {
                field: "token".into(),
                message: "this link was used already; each link works once".into(),
            });
        }
        self.perform_alert_action(who, grant.alert, grant.action)
            .await
    }

    /// Does `action` on one of the user's alerts (the API's and the bot's path, and where
    /// every token ends).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for an alert (or its rule) that is not the user's;
    /// [`ServiceError::Invalid`] for an action that does not fit the rule (re-arming a rule
    /// that is not firing once, moving a level the rule does not have).
    pub async fn perform_alert_action(
        &self,
        who: Principal,
        alert: AlertId,
        action: AlertAction,
    ) -> ServiceResult<ActionOutcome> {
        let alert = self.owned_alert(who, alert).await?;
        if action == AlertAction::Acknowledge {
            let alert = self.acknowledge_alert(who, alert.id).await?;
            let rule = match alert.rule_id {
                Some(id) => self.owned_rule(who, id).await.ok(),
                None => None,
            };
            return Ok(ActionOutcome {
                action,
                done: format!("Acknowledged the {} alert.", alert.symbol),
                alert,
                rule,
            });
        }
        let rule_id = alert.rule_id.ok_or(ServiceError::NotFound("rule"))?;
        let (rule, done) = match action {
            AlertAction::Acknowledge => unreachable!("handled above"),
            AlertAction::SnoozeHour => {
                let rule = self
                    .snooze_rule_for(who, rule_id, std::time::Duration::from_secs(3600))
                    .await?;
                let until = rule
                    .snoozed_until
                    .map(crate::time::format_utc)
                    .unwrap_or_default();
                let text = describe_rule(Some(&rule), &alert);
                (rule, format!("Snoozed {text} for 1 hour, until {until}."))
            }
            AlertAction::SnoozeUntilOpen => {
                let open = next_open(self.clock.now()).ok_or_else(|| {
                    ServiceError::Unavailable("no market open is known in the next weeks".into())
                })?;
                let rule = self.snooze_rule(who, rule_id, Some(open)).await?;
                let text = describe_rule(Some(&rule), &alert);
                (
                    rule,
                    format!(
                        "Snoozed {text} until the market opens, {}.",
                        crate::time::format_utc(open)
                    ),
                )
            }
            AlertAction::Rearm => {
                let rule = self.rearm_rule(who, rule_id).await?;
                let text = describe_rule(Some(&rule), &alert);
                (rule, format!("Armed {text} again."))
            }
            AlertAction::DisableRule => {
                let rule = self.owned_rule(who, rule_id).await?;
                let rule = self
                    .store
                    .update_rule(
                        rule.id,
                        RuleUpdate {
                            enabled: Some(false),
                            ..RuleUpdate::default()
                        },
                    )
                    .await?;
                let text = describe_rule(Some(&rule), &alert);
                (rule, format!("Disabled {text}."))
            }
            AlertAction::RearmFurther => {
                let (rule, from, to) = self.rearm_further(who, rule_id).await?;
                (
                    rule.clone(),
                    format!(
                        "Moved the level from {from} to {to} and armed {} again.",
                        describe_rule(Some(&rule), &alert)
                    ),
                )
            }
        };
        let alert = self.owned_alert(who, alert.id).await?;
        Ok(ActionOutcome {
            action,
            alert,
            rule: Some(rule),
            done,
        })
    }

    /// Arms a rule again from the start (enabled, its lifecycle back to `armed`): for a rule
    /// that fires once and disabled itself, or one whose firing should be forgotten. Its
    /// episode count goes on, so alert keys stay unique.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn rearm_rule(
        &self,
        who: Principal,
        id: crate::domain::RuleId,
    ) -> ServiceResult<Rule> {
        self.owned_rule(who, id).await?;
        self.reset_lifecycle(id).await?;
        Ok(self
            .store
            .update_rule(
                id,
                RuleUpdate {
                    enabled: Some(true),
                    ..RuleUpdate::default()
                },
            )
            .await?)
    }

    /// Moves a price-level rule's level [`LADDER_STEP_PERCENT`] further in the direction it
    /// fires (up for `above`, down for `below`) and arms it again: a ladder. Returns the rule
    /// with the old and new levels.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`]; [`ServiceError::Invalid`] for a rule without a price level.
    pub async fn rearm_further(
        &self,
        who: Principal,
        id: crate::domain::RuleId,
    ) -> ServiceResult<(Rule, Decimal, Decimal)> {
        let rule = self.owned_rule(who, id).await?;
        let condition = Condition::from_document(&rule.condition)
            .map_err(|e| ServiceError::internal(format!("rule {id} condition: {e}")))?;
        let not_level = || {
            ServiceError::invalid(
                "action",
                "only price-level rules (price above/below, crosses a level) have a level to move",
            )
        };
        let (level, direction) = crate::engine::rearm_level(&condition).ok_or_else(not_level)?;
        let factor = match direction {
            Direction::Up => Decimal::ONE_HUNDRED + LADDER_STEP_PERCENT,
            Direction::Down => Decimal::ONE_HUNDRED - LADDER_STEP_PERCENT,
        };
        let moved = level
            .checked_mul(factor)
            .and_then(|v| v.checked_div(Decimal::ONE_HUNDRED))
            .map(|v| v.round_dp(level.scale().max(2)).normalize())
            .ok_or_else(|| ServiceError::invalid("action", "the level cannot move further"))?;
        let condition = match condition {
            Condition::Price { op, intraday, .. } => Condition::Price {
                op,
                level: moved,
                intraday,
            },
            Condition::CrossesLevel {
                direction,
                intraday,
                ..
            } => Condition::CrossesLevel {
                direction,
                level: moved,
                intraday,
            },
            _ => return Err(not_level()),
        };
        let text = format!("{} {condition}", rule.symbol);
        // The stored lifecycle first: a rule that fires once is disabled, so no monitor writes
        // its state before the edit below makes it read it again.
        self.reset_lifecycle(id).await?;
        self.update_rule(
            who,
            id,
            super::RuleChange {
                spec: super::RuleSpec {
                    text: Some(text),
                    ..super::RuleSpec::default()
                },
                enabled: Some(true),
                ..super::RuleChange::default()
            },
        )
        .await?;
        Ok((self.owned_rule(who, id).await?, level, moved))
    }

    /// Puts a rule's stored lifecycle back to `armed`, keeping its episode count. The monitor
    /// reads it again when it sees the rule's edit.
    async fn reset_lifecycle(&self, id: crate::domain::RuleId) -> ServiceResult<()> {
        let stored = match self.store.get_rule_state(id).await {
            Ok(stored) => stored,
            Err(StoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut state = EngineState::from_stored(&stored)
            .map_err(|e| ServiceError::internal(format!("rule {id} state: {e}")))?;
        state.rearm();
        Ok(self
            .store
            .save_rule_states(&[state.to_stored(id, self.clock.now())])
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn the_next_open_skips_nights_weekends_and_holidays() {
        // Friday 2026-12-04 17:00 New York (22:00 UTC) -> Monday 09:30 (14:30 UTC).
        let friday = chrono::Utc.with_ymd_and_hms(2026, 12, 4, 22, 0, 0).unwrap();
        assert_eq!(
            next_open(friday),
            Some(
                chrono::Utc
                    .with_ymd_and_hms(2026, 12, 7, 14, 30, 0)
                    .unwrap()
            )
        );
        // Before the open on a trading day: that day's open.
        let early = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap();
        assert_eq!(
            next_open(early),
            Some(
                chrono::Utc
                    .with_ymd_and_hms(2026, 12, 7, 14, 30, 0)
                    .unwrap()
            )
        );
        // Christmas Eve afternoon -> Monday the 28th (Christmas, a Friday, is closed).
        let eve = chrono::Utc
            .with_ymd_and_hms(2026, 12, 24, 20, 0, 0)
            .unwrap();
        assert_eq!(
            next_open(eve),
            Some(
                chrono::Utc
                    .with_ymd_and_hms(2026, 12, 28, 14, 30, 0)
                    .unwrap()
            )
        );
    }
}
