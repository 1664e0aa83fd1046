//! `/api/alerts`: what the rules fired, and a live stream of new alerts.

use futures_util::stream::BoxStream;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::EventStream;
use poem_openapi::{Object, OpenApi, payload::Json};
use serde::Serialize;
use signal_sentinel::auth::action_token::AlertAction;
use signal_sentinel::domain::{
    Alert, AlertCursor, AlertId, AlertQuery, AlertState, Delivery, RuleId, Symbol,
};
use signal_sentinel::service::ActionOutcome;

use super::{ApiTags, DEFAULT_PAGE_SIZE};
use crate::AppState;
use crate::error::ApiError;
use crate::json::{self, SerdeJson};
use crate::security::Auth;

type Time = chrono::DateTime<chrono::Utc>;

/// An alert.
#[derive(Debug, Clone, Object, Serialize)]
pub struct AlertOut {
    /// Alert id.
    pub id: i64,
    /// The rule that fired it (absent once the rule is deleted).
    #[oai(nullable)]
    pub rule_id: Option<i64>,
    /// The symbol.
    pub symbol: String,
    /// `fired`; `resolved` when the condition stopped holding; `reminder` while it keeps
    /// holding (the rule's `repeat` option); `no_data` when it has no data in market hours
    /// (the rule's `no_data` or `on_error` option is `alert`); `notice` about the rule itself
    /// (a split moved its level: the message says from what to what).
    pub kind: String,
    /// For a reminder, which one of its episode (1, 2, …); for a notice, the day it is about
    /// (days since 1970-01-01: the split's ex-date); 0 otherwise.
    pub reminder: u32,
    /// Which firing of the rule.
    pub episode: i64,
    /// The price that triggered it.
    #[serde(serialize_with = "json::decimal")]
    pub price: rust_decimal::Decimal,
    /// The message sent.
    pub message: String,
    /// An AI summary, when one was made.
    #[oai(nullable)]
    pub summary: Option<String>,
    /// `new` or `acknowledged`.
    pub state: String,
    /// When it fired.
    #[serde(serialize_with = "json::time")]
    pub fired_at: Time,
    /// When it was acknowledged.
    #[oai(nullable)]
    #[serde(serialize_with = "json::optional_time")]
    pub acknowledged_at: Option<Time>,
}

impl From<Alert> for AlertOut {
    fn from(a: Alert) -> Self {
        Self {
            id: a.id.get(),
            rule_id: a.rule_id.map(RuleId::get),
            symbol: a.symbol.as_str().to_owned(),
            kind: a.kind.as_str().to_owned(),
            reminder: a.reminder,
            episode: a.episode,
            price: a.price,
            message: a.message,
            summary: a.summary,
            state: a.state.as_str().to_owned(),
            fired_at: a.fired_at,
            acknowledged_at: a.acknowledged_at,
        }
    }
}

/// One delivery of an alert to a channel.
#[derive(Debug, Clone, Object)]
pub struct DeliveryOut {
    /// Delivery id.
    pub id: i64,
    /// The channel.
    pub channel_id: i64,
    /// `pending`, `sent`, `failed`, …
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When it was sent.
    #[oai(nullable)]
    pub sent_at: Option<Time>,
    /// When the next attempt is due.
    pub next_attempt_at: Time,
    /// The last failure.
    #[oai(nullable)]
    pub last_error: Option<String>,
}

impl From<Delivery> for DeliveryOut {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id.get(),
            channel_id: d.channel_id.get(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            sent_at: d.sent_at,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
        }
    }
}

/// An alert with its deliveries.
#[derive(Debug, Object)]
pub struct AlertDetail {
    /// The alert.
    #[oai(flatten)]
    pub alert: AlertOut,
    /// Where it was (or will be) sent.
    pub deliveries: Vec<DeliveryOut>,
}

/// A page of alerts.
#[derive(Debug, Object, Serialize)]
pub struct AlertPage {
    /// Alerts, newest first.
    pub items: Vec<AlertOut>,
    /// Pass as `before` for the next (older) page; absent on the last one.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// How many alerts were deleted.
#[derive(Debug, Object)]
pub struct Deleted {
    /// Count.
    pub deleted: u64,
}

fn encode_cursor(c: AlertCursor) -> String {
    format!("{}_{}", c.fired_at.timestamp_micros(), c.id.get())
}

fn decode_cursor(s: &str) -> Result<AlertCursor, ApiError> {
    let bad = || ApiError::invalid("before", "not a cursor this server gave");
    let (micros, id) = s.split_once('_').ok_or_else(bad)?;
    let fired_at = micros
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    let id = id.parse::<i64>().map_err(|_| bad())?;
    Ok(AlertCursor {
        fired_at,
        id: AlertId::new(id),
    })
}

/// Alerts.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertsApi;

#[OpenApi(prefix_path = "/alerts", tag = "ApiTags::Alerts")]
impl AlertsApi {
    /// The caller's alerts, newest first, with filters and cursor pagination.
    #[oai(path = "/", method = "get", operation_id = "list_alerts")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// Only alerts of this rule.
        rule_id: Query<Option<i64>>,
        /// Only this symbol.
        symbol: Query<Option<String>>,
        /// Only alerts fired at or after this time.
        since: Query<Option<Time>>,
        /// `new` or `acknowledged`.
        #[oai(name = "state")]
        alert_state: Query<Option<String>>,
        /// The `next_cursor` of the previous page.
        before: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> Result<SerdeJson<AlertPage>, ApiError> {
        let who = auth.principal(&state).await?;
        let symbol = symbol
            .0
            .map(|s| Symbol::parse(&s))
            .transpose()
            .map_err(|e| ApiError::invalid("symbol", e.to_string()))?;
        let alert_state = alert_state
            .0
            .map(|s| s.parse::<AlertState>())
            .transpose()
            .map_err(|_| ApiError::invalid("state", "expected new or acknowledged"))?;
        let limit = limit.0.unwrap_or(DEFAULT_PAGE_SIZE);
        let query = AlertQuery {
            owner: who.user,
            rule_id: rule_id.0.map(RuleId::new),
            symbol,
            since: since.0,
            state: alert_state,
            before: before.0.as_deref().map(decode_cursor).transpose()?,
            limit,
        };
        let alerts = state.services.list_alerts(who, query).await?;
        let next_cursor = (alerts.len() as u64 == limit)
            .then(|| alerts.last().map(|a| encode_cursor(a.into())))
            .flatten();
        Ok(SerdeJson(AlertPage {
            items: alerts.into_iter().map(AlertOut::from).collect(),
            next_cursor,
        }))
    }

    /// Delete the caller's alerts fired before a time.
    #[oai(path = "/", method = "delete", operation_id = "delete_alerts")]
    async fn delete_before(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// Alerts fired before this time are deleted.
        before: Query<Time>,
    ) -> Result<Json<Deleted>, ApiError> {
        let who = auth.principal(&state).await?;
        let deleted = state.services.delete_alerts_before(who, before.0).await?;
        Ok(Json(Deleted { deleted }))
    }

    /// New alerts as they fire, as server-sent events (`data:` is an alert as JSON).
    ///
    /// On PostgreSQL every replica's stream hears each commit of alerts, whichever worker made
    /// it, as it happens (`LISTEN/NOTIFY`); on SQLite the stream also looks every second for
    /// alerts a worker in another process wrote.
    ///
    /// A comment line is sent every 15 s to keep proxies from closing the connection.
    #[oai(path = "/stream", method = "get", operation_id = "stream_alerts")]
    async fn stream(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> Result<EventStream<BoxStream<'static, AlertOut>>, ApiError> {
        let who = auth.principal(&state).await?;
        // Woken by each commit of this user's alerts in any process on PostgreSQL
        // (LISTEN/NOTIFY), whichever replica the browser is connected to; polled on SQLite.
        let watch = state.services.watch_alerts(who, state.stream_poll).await?;
        let stream = futures_util::stream::unfold(
            (watch, std::collections::VecDeque::<AlertOut>::new()),
            |(mut watch, mut queue)| async move {
                if queue.is_empty() {
                    queue.extend(watch.next().await.into_iter().map(AlertOut::from));
                }
                let next = queue.pop_front()?;
                Some((next, (watch, queue)))
            },
        );
        Ok(
            EventStream::new(Box::pin(stream) as BoxStream<'static, AlertOut>)
                .keep_alive(std::time::Duration::from_secs(15)),
        )
    }

    /// One alert, with the status of its deliveries.
    #[oai(path = "/:alert_id", method = "get", operation_id = "get_alert")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        alert_id: Path<i64>,
    ) -> Result<Json<AlertDetail>, ApiError> {
        let who = auth.principal(&state).await?;
        let (alert, deliveries) = state
            .services
            .get_alert(who, AlertId::new(alert_id.0))
            .await?;
        Ok(Json(AlertDetail {
            alert: alert.into(),
            deliveries: deliveries.into_iter().map(DeliveryOut::from).collect(),
        }))
    }

    /// Mark an alert as seen.
    #[oai(
        path = "/:alert_id/ack",
        method = "post",
        operation_id = "acknowledge_alert"
    )]
    async fn acknowledge(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        alert_id: Path<i64>,
    ) -> Result<Json<AlertOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let alert = state
            .services
            .acknowledge_alert(who, AlertId::new(alert_id.0))
            .await?;
        Ok(Json(alert.into()))
    }

    /// Act on an alert as its messages' buttons do: `acknowledge`, `snooze_1h`,
    /// `snooze_until_open`, `rearm` (arm a rule that fires once again), `disable_rule`,
    /// `rearm_further` (move a price level 5% further and arm the rule again).
    #[oai(
        path = "/:alert_id/actions/:action",
        method = "post",
        operation_id = "act_on_alert"
    )]
    async fn act(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        alert_id: Path<i64>,
        /// The action.
        action: Path<String>,
    ) -> Result<Json<ActionOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let action = action
            .0
            .parse::<AlertAction>()
            .map_err(|e| ApiError::invalid("action", e.to_string()))?;
        let outcome = state
            .services
            .perform_alert_action(who, AlertId::new(alert_id.0), action)
            .await?;
        Ok(Json(outcome.into()))
    }
}

/// What an action did.
#[derive(Debug, Object)]
pub struct ActionOut {
    /// The action: `acknowledge`, `snooze_1h`, `snooze_until_open`, `rearm`, `disable_rule`
    /// or `rearm_further`.
    pub action: String,
    /// What was done, in words.
    pub done: String,
    /// The alert as it is now.
    pub alert: AlertOut,
    /// Its rule as it is now, when it still exists.
    #[oai(nullable)]
    pub rule_id: Option<i64>,
    /// Until when the rule is snoozed.
    #[oai(nullable)]
    pub snoozed_until: Option<Time>,
    /// Whether the rule is enabled.
    #[oai(nullable)]
    pub rule_enabled: Option<bool>,
}

impl From<ActionOutcome> for ActionOut {
    fn from(o: ActionOutcome) -> Self {
        Self {
            action: o.action.as_str().to_owned(),
            done: o.done,
            alert: o.alert.into(),
            rule_id: o.rule.as_ref().map(|r| r.id.get()),
            snoozed_until: o.rule.as_ref().and_then(|r| r.snoozed_until),
            rule_enabled: o.rule.as_ref().map(|r| r.enabled),
        }
    }
}

/// Acting on an alert with the token of a message's button or link.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActionsApi;

#[OpenApi(tag = "ApiTags::Alerts")]
impl ActionsApi {
    /// Do what a message's action token grants (ntfy's buttons POST here; the links of e-mail,
    /// Slack and Discord open a confirmation page at `/actions/{token}` that does). The token
    /// is the authorisation: it names one alert, one action and one user, expires after a
    /// week and works once. A forged or expired token answers 401, a used one 409.
    #[oai(
        path = "/actions/:token",
        method = "post",
        operation_id = "act_with_token"
    )]
    async fn act_with_token(
        &self,
        state: Data<&AppState>,
        /// The token from the message.
        #[oai(validator(max_length = 64))]
        token: Path<String>,
    ) -> Result<Json<ActionOut>, ApiError> {
        let outcome = state.services.act_on_alert(&token.0).await?;
        Ok(Json(outcome.into()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use poem_openapi::types::ToJSON;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::{AlertOut, AlertPage};

    fn time() -> impl Strategy<Value = chrono::DateTime<chrono::Utc>> {
        (0i64..4_102_444_800, 0u32..1_000_000)
            .prop_map(|(secs, micros)| chrono::Utc.timestamp_opt(secs, micros * 1000).unwrap())
    }

    fn alert() -> impl Strategy<Value = AlertOut> {
        (
            (
                any::<i64>(),
                any::<Option<i64>>(),
                "[A-Z.^=-]{1,12}",
                any::<u32>(),
            ),
            (any::<i64>(), any::<i64>(), 0u32..28),
            (
                any::<String>(),
                any::<Option<String>>(),
                time(),
                proptest::option::of(time()),
            ),
        )
            .prop_map(
                |(
                    (id, rule_id, symbol, reminder),
                    (episode, mantissa, scale),
                    (message, summary, fired_at, acknowledged_at),
                )| AlertOut {
                    id,
                    rule_id,
                    symbol,
                    kind: "fired".into(),
                    reminder,
                    episode,
                    price: Decimal::new(mantissa, scale),
                    message,
                    summary,
                    state: "new".into(),
                    fired_at,
                    acknowledged_at,
                },
            )
    }

    proptest! {
        /// The page written straight with serde is the JSON poem-openapi would have written.
        #[test]
        fn a_page_writes_as_poem_openapi_would(
            items in proptest::collection::vec(alert(), 0..4),
            next_cursor in any::<Option<String>>(),
        ) {
            let page = AlertPage { items, next_cursor };
            let direct: serde_json::Value = serde_json::from_slice(&serde_json::to_vec(&page).unwrap()).unwrap();
            prop_assert_eq!(Some(direct), page.to_json());
        }
    }
}
