//! Summaries of alerts: facts we computed, put into a sentence or two by a model — any
//! OpenAI-compatible chat-completions server — or, without a key, over budget or when the call
//! fails, by a deterministic template from the same facts.
//!
//! A summary never holds back a notification: callers send first and attach the summary when
//! it is ready (see [`summarize_or_template`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use thiserror::Error;

use crate::domain::UserId;

#[cfg(feature = "openai")]
mod openai;
#[cfg(feature = "openai")]
pub use openai::{OpenAiConfig, OpenAiSummarizer};

/// What a summary may say: only facts computed by us.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertFacts {
    /// The symbol.
    pub symbol: String,
    /// The rule in the text form.
    pub rule: String,
    /// `fired` or `resolved`.
    pub kind: String,
    /// The price that triggered it.
    pub price: Decimal,
    /// The previous session's close, when known.
    pub previous_close: Option<Decimal>,
    /// Recent daily closes, oldest first.
    pub recent_closes: Vec<Decimal>,
    /// The user's position in the symbol: (quantity, cost basis per share).
    pub position: Option<(Decimal, Decimal)>,
}

impl AlertFacts {
    /// The day's move in percent, when the previous close is known.
    pub fn day_change_percent(&self) -> Option<Decimal> {
        let prev = self.previous_close.filter(|p| !p.is_zero())?;
        Some(((self.price - prev) / prev * Decimal::ONE_HUNDRED).round_dp(2))
    }

    /// The facts as the lines the model is given.
    pub fn to_prompt(&self) -> String {
        let mut lines = vec![
            format!("Symbol: {}", self.symbol),
            format!("Rule: {}", self.rule),
            format!(
                "Event: the rule {}",
                if self.kind == "resolved" {
                    "stopped holding"
                } else {
                    "fired"
                }
            ),
            format!("Price: {}", self.price),
        ];
        if let Some(change) = self.day_change_percent() {
            lines.push(format!("Change from previous close: {change}%"));
        }
        if !self.recent_closes.is_empty() {
            let closes: Vec<String> = self.recent_closes.iter().map(ToString::to_string).collect();
            lines.push(format!(
                "Recent daily closes (oldest first): {}",
                closes.join(", ")
            ));
        }
        if let Some((qty, cost)) = self.position {
            lines.push(format!(
                "User's position: {qty} shares at cost {cost} per share"
            ));
        }
        lines.join("\n")
    }
}

/// Why a model could not summarise. Messages name no key and no URL.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SummaryError {
    /// The server answered with an error (its message, status).
    #[error("the model server refused: {0}")]
    Refused(String),
    /// Rate-limited or failing after the retries.
    #[error("the model server is unavailable: {0}")]
    Unavailable(String),
    /// The answer was not a chat completion with text.
    #[error("the model server answered something unreadable: {0}")]
    Malformed(String),
    /// The user's daily budget of model calls is spent.
    #[error("the daily budget of summaries is spent")]
    OverBudget,
}

/// What a summary can be written about (an alert, a day's digest): the facts as lines for the
/// model, what the model is told to do with them, and the template's text of the same facts.
pub trait Facts: Send + Sync {
    /// The instructions the model gets.
    fn instructions(&self) -> &'static str;
    /// The facts as the lines the model is given.
    fn to_prompt(&self) -> String;
    /// The deterministic text written from the same facts.
    fn template(&self) -> String;
}

impl Facts for AlertFacts {
    fn instructions(&self) -> &'static str {
        SYSTEM_PROMPT
    }

    fn to_prompt(&self) -> String {
        AlertFacts::to_prompt(self)
    }

    fn template(&self) -> String {
        TemplateSummarizer::text(self)
    }
}

/// The facts of a user's day: every alert that fired, and how the portfolio moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestFacts {
    /// The day (in the user's time zone).
    pub day: NaiveDate,
    /// The alerts, oldest first, as `HH:MM message` lines.
    pub alerts: Vec<String>,
    /// The portfolio: (value, change since the previous close, that change in percent).
    pub portfolio: Option<(Decimal, Decimal, Option<Decimal>)>,
}

/// What the model is asked for an alert.
const SYSTEM_PROMPT: &str = "You write one or two plain sentences for an investor about a \
     market alert. Use only the facts given; do not predict prices or give advice.";

/// What the model is asked for the daily digest.
const DIGEST_PROMPT: &str = "You write two or three plain sentences for an investor about \
     their day: the alerts that fired and how their portfolio moved. Use only the facts given; \
     do not predict prices or give advice.";

impl Facts for DigestFacts {
    fn instructions(&self) -> &'static str {
        DIGEST_PROMPT
    }

    fn to_prompt(&self) -> String {
        let mut lines = vec![format!("Day: {}", self.day.format("%A %-d %B %Y"))];
        if self.alerts.is_empty() {
            lines.push("Alerts: none".into());
        } else {
            lines.push(format!("Alerts ({}):", self.alerts.len()));
            lines.extend(self.alerts.iter().map(|a| format!("- {a}")));
        }
        if let Some((value, change, percent)) = self.portfolio {
            lines.push(format!(
                "Portfolio: value {value}, change since the previous close {change}{}",
                percent.map(|p| format!(" ({p}%)")).unwrap_or_default()
            ));
        }
        lines.join("\n")
    }

    fn template(&self) -> String {
        let mut text = match self.alerts.len() {
            0 => "No alert fired today.".to_owned(),
            1 => "One alert fired today.".to_owned(),
            n => format!("{n} alerts fired today."),
        };
        if let Some((value, change, percent)) = self.portfolio {
            let way = if change.is_sign_negative() {
                "down"
            } else {
                "up"
            };
            text.push_str(&format!(
                " Your portfolio is worth {value}, {way} {}{} since the previous close.",
                change.abs(),
                percent
                    .map(|p| format!(" ({}%)", p.abs()))
                    .unwrap_or_default()
            ));
        }
        text
    }
}

/// Turns facts into a short text.
#[async_trait]
pub trait Summarizer: Send + Sync + std::fmt::Debug {
    /// A name for logs (`openai`, `template`).
    fn name(&self) -> &str;
    /// A summary of `facts` (an alert's, a digest's).
    ///
    /// # Errors
    /// [`SummaryError`] when no summary could be had.
    async fn summarize(&self, facts: &dyn Facts) -> Result<String, SummaryError>;

    /// An answer as JSON text following `schema` (structured output where the server has
    /// it), for the rules read from plain words. Not every summarizer can.
    ///
    /// # Errors
    /// [`SummaryError`]; [`SummaryError::Refused`] by default.
    async fn complete_json(
        &self,
        instructions: &str,
        prompt: &str,
        schema: &serde_json::Value,
    ) -> Result<String, SummaryError> {
        let _ = (instructions, prompt, schema);
        Err(SummaryError::Refused(format!(
            "{} cannot answer in JSON",
            self.name()
        )))
    }
}

/// The deterministic summary: always available, same facts, same words.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateSummarizer;

impl TemplateSummarizer {
    /// The text for `facts`.
    pub fn text(facts: &AlertFacts) -> String {
        let mut text = if facts.kind == "resolved" {
            format!(
                "{} no longer meets \"{}\" at {}.",
                facts.symbol, facts.rule, facts.price
            )
        } else {
            format!(
                "{} met \"{}\" at {}.",
                facts.symbol, facts.rule, facts.price
            )
        };
        if let Some(change) = facts.day_change_percent() {
            let sign = if change.is_sign_negative() { "" } else { "+" };
            text.push_str(&format!(
                " That is {sign}{change}% from the previous close."
            ));
        }
        if let (Some(first), Some(last)) = (facts.recent_closes.first(), facts.recent_closes.last())
            && !first.is_zero()
            && facts.recent_closes.len() > 1
        {
            let change = ((*last - *first) / *first * Decimal::ONE_HUNDRED).round_dp(1);
            text.push_str(&format!(
                " Over the last {} sessions it moved {change}%.",
                facts.recent_closes.len()
            ));
        }
        if let Some((qty, cost)) = facts.position
            && !cost.is_zero()
        {
            let gain = ((facts.price - cost) / cost * Decimal::ONE_HUNDRED).round_dp(1);
            text.push_str(&format!(
                " Your {qty} shares are {gain}% against their cost of {cost}."
            ));
        }
        text
    }
}

#[async_trait]
impl Summarizer for TemplateSummarizer {
    fn name(&self) -> &str {
        "template"
    }

    async fn summarize(&self, facts: &dyn Facts) -> Result<String, SummaryError> {
        Ok(facts.template())
    }
}

/// Calls per user per day, counted in memory (a restart forgives the day's count).
#[derive(Debug)]
pub struct DailyBudget {
    limit: u32,
    used: Mutex<HashMap<(UserId, NaiveDate), u32>>,
}

impl DailyBudget {
    /// `limit` calls per user per day.
    pub fn new(limit: u32) -> Self {
        Self {
            limit,
            used: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one call from `user`'s budget for `day`; false when it is spent.
    pub fn take(&self, user: UserId, day: NaiveDate) -> bool {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        used.retain(|(_, d), _| *d >= day);
        let count = used.entry((user, day)).or_insert(0);
        if *count >= self.limit {
            return false;
        }
        *count += 1;
        true
    }
}

/// Where a summary came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SummarySource {
    /// The model.
    Model,
    /// The template (no model, over budget, or the model failed).
    Template,
}

/// A summary from `model` within `user`'s budget for `day`, else from the template. Never
/// fails: a model error is logged and the template answers.
pub async fn summarize_or_template(
    model: Option<&dyn Summarizer>,
    budget: &DailyBudget,
    user: UserId,
    day: NaiveDate,
    facts: &dyn Facts,
) -> (String, SummarySource) {
    if let Some(model) = model {
        if budget.take(user, day) {
            match model.summarize(facts).await {
                Ok(text) => return (text, SummarySource::Model),
                Err(e) => tracing::warn!(model = model.name(), "summary from the template: {e}"),
            }
        } else {
            tracing::debug!(%user, "summary budget spent for today; using the template");
        }
    }
    (facts.template(), SummarySource::Template)
}

/// Summarises stored alerts: gathers their facts (rule, recent closes, the user's position),
/// asks the model within the budget or the template, and stores the text with the alert.
pub struct AlertSummaries {
    store: std::sync::Arc<dyn crate::store::Store>,
    market: std::sync::Arc<dyn crate::market::MarketData>,
    model: Option<std::sync::Arc<dyn Summarizer>>,
    budget: DailyBudget,
    digest_wait: Duration,
}

impl std::fmt::Debug for AlertSummaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertSummaries")
            .field("model", &self.model.as_ref().map(|m| m.name().to_owned()))
            .finish_non_exhaustive()
    }
}

/// Daily closes given to a summary.
const RECENT_SESSIONS: usize = 10;

impl AlertSummaries {
    /// Summaries over `store` and `market`, by `model` when there is one, at most
    /// `daily_calls_per_user` model calls per user per day.
    pub fn new(
        store: std::sync::Arc<dyn crate::store::Store>,
        market: std::sync::Arc<dyn crate::market::MarketData>,
        model: Option<std::sync::Arc<dyn Summarizer>>,
        daily_calls_per_user: u32,
    ) -> Self {
        Self {
            store,
            market,
            model,
            budget: DailyBudget::new(daily_calls_per_user),
            digest_wait: DIGEST_MODEL_WAIT,
        }
    }

    /// How long a digest waits for the model (default [`DIGEST_MODEL_WAIT`]).
    #[must_use]
    pub fn with_digest_wait(mut self, wait: Duration) -> Self {
        self.digest_wait = wait;
        self
    }

    /// The model configured by `OPENAI_API_KEY` (with `OPENAI_BASE_URL`, `OPENAI_MODEL`), or
    /// none.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn model_from_settings(
        settings: &crate::config::Settings,
    ) -> Result<Option<std::sync::Arc<dyn Summarizer>>, crate::BuildError> {
        let Some(key) = &settings.openai.api_key else {
            return Ok(None);
        };
        #[cfg(feature = "openai")]
        {
            let config = OpenAiConfig::new(
                settings.openai.base_url.clone(),
                key.clone(),
                settings.openai.model.clone(),
            );
            Ok(Some(std::sync::Arc::new(OpenAiSummarizer::new(config)?)))
        }
        #[cfg(not(feature = "openai"))]
        {
            let _ = key;
            tracing::warn!(
                "OPENAI_API_KEY is set but this build has no model client (feature `openai`): summaries come from the template"
            );
            Ok(None)
        }
    }

    /// Whether a model is configured (else summaries come from the template).
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// Asks the model for a JSON answer within `owner`'s daily budget (the summaries'), for
    /// a rule read from plain words.
    ///
    /// # Errors
    /// [`SummaryError::Refused`] with no model configured, [`SummaryError::OverBudget`] once
    /// the day's calls are spent, and the model's own failures.
    pub async fn ask_json(
        &self,
        owner: UserId,
        day: NaiveDate,
        instructions: &str,
        prompt: &str,
        schema: &serde_json::Value,
    ) -> Result<String, SummaryError> {
        let Some(model) = &self.model else {
            return Err(SummaryError::Refused(
                "no model is configured (OPENAI_API_KEY)".into(),
            ));
        };
        if !self.budget.take(owner, day) {
            return Err(SummaryError::OverBudget);
        }
        model.complete_json(instructions, prompt, schema).await
    }

    /// The facts about `alert`.
    ///
    /// # Errors
    /// Storage failures (market-data failures only leave the closes out).
    pub async fn facts(
        &self,
        alert: &crate::domain::Alert,
    ) -> Result<AlertFacts, crate::store::StoreError> {
        let rule = match alert.rule_id {
            Some(id) => match self.store.get_rule(id).await {
                Ok(rule) => crate::service::rule_text(&rule),
                Err(crate::store::StoreError::NotFound { .. }) => alert.symbol.to_string(),
                Err(e) => return Err(e),
            },
            None => alert.symbol.to_string(),
        };
        let day = crate::engine::indicators::exchange_date(alert.fired_at);
        // The portfolio pseudo-symbol has no bars anywhere: no provider is asked.
        let closes: Vec<Decimal> = if alert.symbol.as_str() == crate::engine::PORTFOLIO {
            Vec::new()
        } else {
            self.market
                .recent_daily_bars(&alert.symbol, RECENT_SESSIONS, day)
                .await
                .map(|bars| bars.iter().map(|b| b.close).collect())
                .unwrap_or_default()
        };
        // The position as the engine sees it (all accounts, average cost).
        let holdings = self.store.list_holdings(alert.owner).await?;
        let position = crate::engine::Book::new(&holdings, &[])
            .position(&alert.symbol)
            .and_then(|p| Some((p.quantity, p.cost_basis?.round_dp(2))));
        Ok(AlertFacts {
            symbol: alert.symbol.to_string(),
            rule,
            kind: alert.kind.as_str().to_owned(),
            price: alert.price,
            previous_close: closes.last().copied(),
            recent_closes: closes,
            position,
        })
    }

    /// Summarises `alert` and stores the text with it.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn summarize(
        &self,
        alert: &crate::domain::Alert,
    ) -> Result<(String, SummarySource), crate::store::StoreError> {
        let facts = self.facts(alert).await?;
        let day = crate::engine::indicators::exchange_date(alert.fired_at);
        let (text, source) = summarize_or_template(
            self.model.as_deref(),
            &self.budget,
            alert.owner,
            day,
            &facts,
        )
        .await;
        self.store.set_alert_summary(alert.id, text.clone()).await?;
        Ok((text, source))
    }
}

/// How long a digest waits for the model before its template summary is used instead.
pub const DIGEST_MODEL_WAIT: Duration = Duration::from_secs(5);

impl AlertSummaries {
    /// The facts of `owner`'s day: the `alerts` (already in the user's time zone as
    /// `HH:MM message` lines) and the portfolio at current quotes (left out without holdings,
    /// or when no holding has a quote).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn digest_facts(
        &self,
        owner: UserId,
        day: NaiveDate,
        alerts: Vec<String>,
    ) -> Result<DigestFacts, crate::store::StoreError> {
        let holdings = self.store.list_holdings(owner).await?;
        let portfolio = if holdings.is_empty() {
            None
        } else {
            let mut symbols: Vec<crate::domain::Symbol> =
                holdings.iter().map(|h| h.symbol.clone()).collect();
            symbols.sort();
            symbols.dedup();
            let quotes = self.market.quotes(&symbols).await.unwrap_or_default();
            let p = crate::portfolio::value(holdings, &quotes);
            (p.unpriced.len() < symbols.len()).then_some((
                p.market_value,
                p.day_change,
                p.day_change_percent,
            ))
        };
        Ok(DigestFacts {
            day,
            alerts,
            portfolio,
        })
    }

    /// A summary of a digest: the model's when it answers within the digest wait (default
    /// [`DIGEST_MODEL_WAIT`]) and the budget allows, else the template's — a digest is never
    /// held back longer.
    pub async fn summarize_digest(&self, owner: UserId, facts: &DigestFacts) -> String {
        match tokio::time::timeout(
            self.digest_wait,
            summarize_or_template(self.model.as_deref(), &self.budget, owner, facts.day, facts),
        )
        .await
        {
            Ok((text, _)) => text,
            Err(_) => {
                tracing::warn!(%owner, "the model did not answer in time; digest summary from the template");
                facts.template()
            }
        }
    }
}
