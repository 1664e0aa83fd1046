//! `/api/rules`: alert rules.

use crate::strict::{Day, Text};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use signal_sentinel::domain::Symbol;
use signal_sentinel::domain::{Rule, RuleId};
use signal_sentinel::engine::{MAX_RULE_TEXT_LEN, RuleOptions};
use signal_sentinel::market::directory::Listing;
use signal_sentinel::rules::MAX_NAME_LEN;
use signal_sentinel::rules::words::{MAX_SENTENCE_LEN, ProposalSource, Reading};
use signal_sentinel::service::{RuleChange, RuleSpec, RuleView, rule_text};

use super::{ApiTags, DEFAULT_PAGE_SIZE, NoContent};
use crate::AppState;
use crate::error::ApiError;
use crate::security::Auth;

type Time = chrono::DateTime<chrono::Utc>;

/// A rule's evaluation state.
#[derive(Debug, Clone, Object)]
pub struct RuleStateOut {
    /// `armed`, `pending`, `firing`, `snoozed`, `resolved`, `no_data` or `error`.
    pub phase: String,
    /// How many times it has fired.
    pub episode: i64,
    /// The last price it saw.
    #[oai(nullable)]
    pub last_price: Option<rust_decimal::Decimal>,
    /// When the state last changed.
    pub updated_at: Time,
    /// Why the last sample could not be evaluated (phase `error`, or `firing` for a rule
    /// that was firing), e.g. "the change from the previous close is out of range".
    #[oai(nullable, skip_serializing_if_is_none)]
    pub error: Option<String>,
    /// Since when the rule has had no data (or samples it cannot evaluate) in market hours,
    /// while it does.
    #[oai(nullable, skip_serializing_if_is_none)]
    pub no_data_since: Option<Time>,
    /// Why it has no data: "no quote", "the latest quote is stale", "not enough data for the
    /// condition" or "the sample cannot be evaluated".
    #[oai(nullable, skip_serializing_if_is_none)]
    pub no_data_reason: Option<String>,
}

/// A rule.
#[derive(Debug, Clone, Object)]
pub struct RuleOut {
    /// Rule id.
    pub id: i64,
    /// The symbol it watches.
    pub symbol: String,
    /// The rule in the text form, e.g. `AAPL crosses above 200`.
    pub text: String,
    /// Its name.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The condition as stored (versioned JSON, see `docs/rules.md`).
    pub condition: serde_json::Value,
    /// How it fires: frequency, cooldown_minutes, hysteresis_percent, pending,
    /// notify_on_resolve, extended_hours, stale_after_minutes, message.
    pub options: serde_json::Value,
    /// Whether the monitor evaluates it.
    pub enabled: bool,
    /// Created.
    pub created_at: Time,
    /// Last changed.
    pub updated_at: Time,
    /// Last fired.
    #[oai(nullable)]
    pub last_triggered_at: Option<Time>,
    /// Not evaluated after this.
    #[oai(nullable)]
    pub expires_at: Option<Time>,
    /// Silent until this.
    #[oai(nullable)]
    pub snoozed_until: Option<Time>,
    /// Its state, once the monitor has evaluated it (in lists and `GET /api/rules/{rule_id}`).
    #[oai(nullable, skip_serializing_if_is_none)]
    pub state: Option<RuleStateOut>,
}

impl From<Rule> for RuleOut {
    fn from(r: Rule) -> Self {
        Self {
            id: r.id.get(),
            text: rule_text(&r),
            symbol: r.symbol.as_str().to_owned(),
            name: r.name,
            condition: r.condition.into(),
            options: r.options.into(),
            enabled: r.enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_triggered_at: r.last_triggered_at,
            expires_at: r.expires_at,
            snoozed_until: r.snoozed_until,
            state: None,
        }
    }
}

impl From<RuleView> for RuleOut {
    fn from(v: RuleView) -> Self {
        let mut out = Self::from(v.rule);
        out.state = v.state.map(|s| RuleStateOut {
            phase: s.phase.as_str().to_owned(),
            episode: s.episode,
            last_price: s.last_price,
            updated_at: s.updated_at,
            error: s.error_reason().map(str::to_owned),
            no_data_since: s.gap().map(|(since, _)| since),
            no_data_reason: s.gap().map(|(_, why)| why.to_owned()),
        });
        out
    }
}

/// A new rule: `text`, or `symbol` + `condition`.
#[derive(Debug, Object)]
pub struct RuleIn {
    /// The rule in the text form, e.g. `AAPL crosses above 200`, `TSLA day change <= -5%` or
    /// a combination, `AAPL crosses above 200 and SPY day change > 0%` (see `docs/rules.md`).
    #[oai(nullable)]
    pub text: Option<Text<{ MAX_RULE_TEXT_LEN }>>,
    /// With `condition`: the symbol.
    #[oai(nullable)]
    pub symbol: Option<Text<{ Symbol::MAX_LEN }>>,
    /// The condition as JSON, e.g. `{"type": "price", "op": ">", "level": "200"}`; a
    /// combination is `{"version": 2, "type": "and", "of": [...]}`.
    #[oai(nullable)]
    pub condition: Option<serde_json::Value>,
    /// A name (1 to 100 characters).
    #[oai(nullable)]
    pub name: Option<Text<{ MAX_NAME_LEN }>>,
    /// Options (see `RuleOut.options`); defaults when absent.
    #[oai(nullable)]
    pub options: Option<serde_json::Value>,
    /// Default `true`.
    #[oai(nullable)]
    pub enabled: Option<bool>,
    /// Not evaluated after this.
    #[oai(nullable)]
    pub expires_at: Option<Time>,
    /// Add the rule even if you have the same rule (same text and options) already; default
    /// `false`: 409 naming the existing rule.
    #[oai(nullable)]
    pub allow_duplicate: Option<bool>,
}

/// Changes to a rule; absent fields stay as they are, `null` clears `name` and `expires_at`.
#[derive(Debug, Object)]
pub struct RulePatch {
    /// New rule text (replaces symbol and condition).
    #[oai(nullable)]
    pub text: Option<Text<{ MAX_RULE_TEXT_LEN }>>,
    /// With `condition`: the symbol.
    #[oai(nullable)]
    pub symbol: Option<Text<{ Symbol::MAX_LEN }>>,
    /// New condition as JSON.
    #[oai(nullable)]
    pub condition: Option<serde_json::Value>,
    /// New name, or `null` to remove it.
    pub name: MaybeUndefined<Text<{ MAX_NAME_LEN }>>,
    /// New options (replacing the old ones).
    #[oai(nullable)]
    pub options: Option<serde_json::Value>,
    /// Enable or disable.
    #[oai(nullable)]
    pub enabled: Option<bool>,
    /// New expiry, or `null` to remove it.
    pub expires_at: MaybeUndefined<Time>,
}

/// A snooze.
#[derive(Debug, Object)]
pub struct SnoozeIn {
    /// Snooze for this many minutes (1 to 525600) …
    #[oai(nullable, validator(minimum(value = "1"), maximum(value = "525600")))]
    pub minutes: Option<u32>,
    /// … or until this time.
    #[oai(nullable)]
    pub until: Option<Time>,
}

/// A backtest request.
#[derive(Debug, Object)]
pub struct BacktestIn {
    /// The rule in the text form …
    #[oai(nullable)]
    pub text: Option<Text<{ MAX_RULE_TEXT_LEN }>>,
    /// … or a symbol …
    #[oai(nullable)]
    pub symbol: Option<Text<{ Symbol::MAX_LEN }>>,
    /// … and a JSON condition.
    #[oai(nullable)]
    pub condition: Option<serde_json::Value>,
    /// Options, as a rule stores them (frequency, cooldown, hysteresis, pending …); defaults
    /// when absent.
    #[oai(nullable)]
    pub options: Option<serde_json::Value>,
    /// First day (inclusive).
    pub from: Day,
    /// Last day (inclusive).
    pub to: Day,
    /// The rule's expiry: not evaluated from then on (as a saved rule with `expires_at`).
    #[oai(nullable)]
    pub expires_at: Option<Time>,
}

/// One alert a backtest would have sent.
#[derive(Debug, Object)]
pub struct BacktestAlertOut {
    /// `fired`, `resolved`, `no_data`, or `notice` (a split in the bars moved the rule's
    /// level).
    pub kind: String,
    /// Which firing.
    pub episode: i64,
    /// When.
    pub at: Time,
    /// At what price.
    pub price: rust_decimal::Decimal,
}

/// What a backtest found.
#[derive(Debug, Object)]
pub struct BacktestOut {
    /// The symbol.
    pub symbol: String,
    /// Daily sessions replayed.
    pub sessions: u64,
    /// The alerts.
    pub alerts: Vec<BacktestAlertOut>,
}

/// A page of rules.
#[derive(Debug, Object)]
pub struct RulePage {
    /// Rules, oldest first.
    pub items: Vec<RuleOut>,
    /// Pass as `after` for the next page; absent on the last one.
    #[oai(nullable)]
    pub next_cursor: Option<i64>,
}

/// A rules file to import.
#[derive(Debug, Object)]
pub struct RulesImportIn {
    /// The file: one rule per line, as `GET /api/rules/export` writes it (see
    /// `docs/rules.md`).
    pub text: Text,
}

/// A line skipped as a duplicate.
#[derive(Debug, Object)]
pub struct DuplicateLine {
    /// The line, counted from 1.
    pub line: u64,
    /// Your rule it repeats; absent when it repeats an earlier line of the file.
    #[oai(nullable)]
    pub rule_id: Option<i64>,
}

/// What an import did.
#[derive(Debug, Object)]
pub struct RulesImportOut {
    /// The rules added, in the file's order.
    pub added: Vec<RuleOut>,
    /// Lines skipped because you have the same rule (text and options) already.
    pub duplicates: Vec<DuplicateLine>,
}

/// Your rules as a text file.
#[derive(Debug, ApiResponse)]
pub enum RulesFile {
    /// One rule per line.
    #[oai(status = 200)]
    File(poem_openapi::payload::PlainText<String>),
}

/// Rule created.
#[derive(Debug, ApiResponse)]
pub enum CreatedRule {
    /// The new rule.
    #[oai(status = 201)]
    Created(Json<RuleOut>),
}

fn options(value: Option<serde_json::Value>) -> Result<Option<RuleOptions>, ApiError> {
    value
        .map(|v| {
            if !v.is_object() {
                return Err(ApiError::invalid("options", "expected a JSON object"));
            }
            serde_json::from_value::<RuleOptions>(v)
                .map_err(|e| ApiError::invalid("options", e.to_string()))
        })
        .transpose()
}

fn spec(
    text: Option<Text<{ MAX_RULE_TEXT_LEN }>>,
    symbol: Option<Text<{ Symbol::MAX_LEN }>>,
    condition: Option<serde_json::Value>,
) -> RuleSpec {
    RuleSpec {
        text: text.map(String::from),
        symbol: symbol.map(String::from),
        condition,
        allow_duplicate: false,
    }
}

fn undefined_to_option<T>(v: MaybeUndefined<T>) -> Option<Option<T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// A sentence to read as a rule.
#[derive(Debug, Object)]
pub struct SentenceIn {
    /// What to watch, in plain words: "tell me if Apple drops 5% today".
    pub sentence: Text<{ MAX_SENTENCE_LEN }>,
}

/// A symbol and its name.
#[derive(Debug, Object)]
pub struct ListingOut {
    /// The canonical symbol (`AAPL`, `^GSPC`, `BTC-USD`).
    pub symbol: String,
    /// Its name.
    pub name: String,
    /// `stock`, `etf`, `index` or `crypto`.
    pub kind: String,
}

impl From<Listing> for ListingOut {
    fn from(l: Listing) -> Self {
        Self {
            symbol: l.symbol.to_string(),
            name: l.name,
            kind: l.kind.as_str().to_owned(),
        }
    }
}

/// A proposed rule: create its `text` with `POST /api/rules` once the user confirms.
#[derive(Debug, Object)]
pub struct ProposalOut {
    /// The rule in its canonical text.
    pub text: String,
    /// The symbols it watches, with their names.
    pub symbols: Vec<ListingOut>,
    /// What will fire, in words.
    pub explanation: String,
    /// `phrases` (the offline reader) or `model`.
    pub source: String,
}

/// What a sentence gave: a rule to confirm (`rule`), symbols to choose from (`choose`: say
/// the sentence again with the ticker), or nothing (`refused`, with the reason).
#[derive(Debug, Object)]
pub struct ParseOut {
    /// `rule`, `choose` or `refused`.
    pub outcome: String,
    /// The proposal, when `rule`.
    #[oai(skip_serializing_if_is_none)]
    pub proposal: Option<ProposalOut>,
    /// The words that named several symbols, when `choose`.
    #[oai(skip_serializing_if_is_none)]
    pub mention: Option<String>,
    /// The symbols to choose from, when `choose`.
    pub choices: Vec<ListingOut>,
    /// Why no rule, when `refused`.
    #[oai(skip_serializing_if_is_none)]
    pub reason: Option<String>,
    /// What was understood, when `refused`.
    pub understood: Vec<String>,
}

impl From<Reading> for ParseOut {
    fn from(reading: Reading) -> Self {
        let empty = Self {
            outcome: String::new(),
            proposal: None,
            mention: None,
            choices: Vec::new(),
            reason: None,
            understood: Vec::new(),
        };
        match reading {
            Reading::Rule(p) => Self {
                outcome: "rule".into(),
                proposal: Some(ProposalOut {
                    text: p.text,
                    symbols: p.symbols.into_iter().map(Into::into).collect(),
                    explanation: p.explanation,
                    source: match p.source {
                        ProposalSource::Phrases => "phrases",
                        ProposalSource::Model => "model",
                    }
                    .into(),
                }),
                ..empty
            },
            Reading::Choose { mention, choices } => Self {
                outcome: "choose".into(),
                mention: Some(mention),
                choices: choices.into_iter().map(Into::into).collect(),
                ..empty
            },
            Reading::Refused {
                reason, understood, ..
            } => Self {
                outcome: "refused".into(),
                reason: Some(reason),
                understood,
                ..empty
            },
        }
    }
}

/// Alert rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct RulesApi;

#[OpenApi(prefix_path = "/rules", tag = "ApiTags::Rules")]
impl RulesApi {
    /// Create a rule, from its text or a JSON condition.
    ///
    /// 403 when the caller has as many rules as the server allows; 409 when the caller has
    /// the same rule with the same options already (unless `allow_duplicate`).
    #[oai(path = "/", method = "post", operation_id = "create_rule")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<RuleIn>,
    ) -> Result<CreatedRule, ApiError> {
        let who = auth.principal(&state).await?;
        let Json(body) = body;
        let rule = state
            .services
            .create_rule(
                who,
                RuleSpec {
                    allow_duplicate: body.allow_duplicate.unwrap_or(false),
                    ..spec(body.text, body.symbol, body.condition)
                },
                body.name.map(String::from),
                options(body.options)?.unwrap_or_default(),
                body.enabled.unwrap_or(true),
                body.expires_at,
            )
            .await?;
        Ok(CreatedRule::Created(Json(rule.into())))
    }

    /// The caller's rules, oldest first.
    #[oai(path = "/", method = "get", operation_id = "list_rules")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// Only this symbol.
        symbol: Query<Option<String>>,
        /// Only enabled (`true`) or disabled (`false`) rules.
        enabled: Query<Option<bool>>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<i64>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> Result<Json<RulePage>, ApiError> {
        let who = auth.principal(&state).await?;
        let limit = limit.0.unwrap_or(DEFAULT_PAGE_SIZE);
        let rules = state
            .services
            .list_rules(
                who,
                symbol.0.as_deref(),
                enabled.0,
                after.0.map(RuleId::new),
                limit,
            )
            .await?;
        let next_cursor = (rules.len() as u64 == limit)
            .then(|| rules.last().map(|r| r.id.get()))
            .flatten();
        let mut states: std::collections::HashMap<RuleId, _> = state
            .services
            .rule_states(who, &rules)
            .await?
            .into_iter()
            .map(|s| (s.rule_id, s))
            .collect();
        Ok(Json(RulePage {
            items: rules
                .into_iter()
                .map(|rule| {
                    let state = states.remove(&rule.id);
                    RuleOut::from(RuleView { rule, state })
                })
                .collect(),
            next_cursor,
        }))
    }

    /// Your rules as a text file, one per line with its name and options (what
    /// `POST /api/rules/import` and `invest rules import` read).
    #[oai(path = "/export", method = "get", operation_id = "export_rules")]
    async fn export(&self, state: Data<&AppState>, auth: Auth) -> Result<RulesFile, ApiError> {
        let who = auth.principal(&state).await?;
        let text = state.services.export_rules(who).await?;
        Ok(RulesFile::File(poem_openapi::payload::PlainText(text)))
    }

    /// Add the rules of a rules file, all or nothing: 422 lists the lines that cannot be
    /// read; lines repeating a rule you have are skipped and reported.
    #[oai(path = "/import", method = "post", operation_id = "import_rules")]
    async fn import(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<RulesImportIn>,
    ) -> Result<Json<RulesImportOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let report = state.services.import_rules(who, &body.0.text).await?;
        Ok(Json(RulesImportOut {
            added: report
                .added
                .into_iter()
                .map(|rule| RuleOut::from(RuleView { rule, state: None }))
                .collect(),
            duplicates: report
                .duplicates
                .into_iter()
                .map(|(line, rule)| DuplicateLine {
                    line: line as u64,
                    rule_id: rule.map(|id| id.get()),
                })
                .collect(),
        }))
    }

    /// Read a sentence as a rule, without saving it.
    ///
    /// "tell me if Apple drops 5% today" gives `AAPL day change <= -5%` with the symbol's
    /// name and what will fire in words; a name of several symbols gives the choices; a
    /// sentence that cannot be read gives why and what was understood (200 in each case).
    /// Create the proposal's `text` with `POST /api/rules` once the user confirms.
    #[oai(path = "/parse", method = "post", operation_id = "parse_rule_sentence")]
    async fn parse(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<SentenceIn>,
    ) -> Result<Json<ParseOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let reading = state
            .services
            .propose_rule(who, &body.0.sentence.into_inner())
            .await?;
        Ok(Json(reading.into()))
    }

    /// Replay a rule over past daily bars: which alerts would it have sent?
    #[oai(path = "/backtest", method = "post", operation_id = "backtest_rule")]
    async fn backtest(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<BacktestIn>,
    ) -> Result<Json<BacktestOut>, ApiError> {
        auth.principal(&state).await?;
        let Json(body) = body;
        let (symbol, sessions, alerts) = state
            .services
            .backtest(
                spec(body.text, body.symbol, body.condition),
                options(body.options)?.unwrap_or_default(),
                body.from.0,
                body.to.0,
                body.expires_at,
            )
            .await?;
        Ok(Json(BacktestOut {
            symbol: symbol.as_str().to_owned(),
            sessions: sessions as u64,
            alerts: alerts
                .into_iter()
                .map(|a| BacktestAlertOut {
                    kind: a.kind.as_str().to_owned(),
                    episode: a.episode,
                    at: a.at,
                    price: a.price,
                })
                .collect(),
        }))
    }

    /// One rule, with its evaluation state.
    #[oai(path = "/:rule_id", method = "get", operation_id = "get_rule")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        rule_id: Path<i64>,
    ) -> Result<Json<RuleOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let view = state.services.get_rule(who, RuleId::new(rule_id.0)).await?;
        Ok(Json(view.into()))
    }

    /// Change a rule; the result is checked as a new rule would be.
    #[oai(path = "/:rule_id", method = "patch", operation_id = "update_rule")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        rule_id: Path<i64>,
        body: Json<RulePatch>,
    ) -> Result<Json<RuleOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let Json(body) = body;
        let change = RuleChange {
            spec: spec(body.text, body.symbol, body.condition),
            name: undefined_to_option(body.name).map(|name| name.map(String::from)),
            options: options(body.options)?,
            enabled: body.enabled,
            expires_at: undefined_to_option(body.expires_at),
        };
        let rule = state
            .services
            .update_rule(who, RuleId::new(rule_id.0), change)
            .await?;
        Ok(Json(rule.into()))
    }

    /// Delete a rule; its alerts are kept.
    #[oai(path = "/:rule_id", method = "delete", operation_id = "delete_rule")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        rule_id: Path<i64>,
    ) -> Result<NoContent, ApiError> {
        let who = auth.principal(&state).await?;
        state
            .services
            .delete_rule(who, RuleId::new(rule_id.0))
            .await?;
        Ok(NoContent::Done)
    }

    /// Let the monitor evaluate a rule again.
    #[oai(
        path = "/:rule_id/enable",
        method = "post",
        operation_id = "enable_rule"
    )]
    async fn enable(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        rule_id: Path<i64>,
    ) -> Result<Json<RuleOut>, ApiError> {
        self.set_enabled(&state, &auth, rule_id.0, true).await
    }

    /// Stop evaluating a rule (it is kept).
    #[oai(
        path = "/:rule_id/disable",
        method = "post",
        operation_id = "disable_rule"
    )]
    async fn disable(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        rule_id: Path<i64>,
    ) -> Result<Json<RuleOut>, ApiError> {
        self.set_enabled(&state, &auth, rule_id.0, false).await
    }

    /// Silence a rule for a while (`minutes` or `until`).
    #[oai(
        path = "/:rule_id/snooze",
        method = "post",
        operation_id = "snooze_rule"
    )]
    async fn snooze(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        rule_id: Path<i64>,
        body: Json<SnoozeIn>,
    ) -> Result<Json<RuleOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let id = RuleId::new(rule_id.0);
        let rule = match (body.0.minutes, body.0.until) {
            (Some(m), None) => {
                let duration = std::time::Duration::from_secs(u64::from(m) * 60);
                state.services.snooze_rule_for(who, id, duration).await?
            }
            (None, Some(until)) => state.services.snooze_rule(who, id, Some(until)).await?,
            _ => return Err(ApiError::invalid("minutes", "give either minutes or until")),
        };
        Ok(Json(rule.into()))
    }

    /// End a snooze now.
    #[oai(
        path = "/:rule_id/snooze",
        method = "delete",
        operation_id = "wake_rule"
    )]
    async fn wake(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        rule_id: Path<i64>,
    ) -> Result<Json<RuleOut>, ApiError> {
        let who = auth.principal(&state).await?;
        let rule = state
            .services
            .snooze_rule(who, RuleId::new(rule_id.0), None)
            .await?;
        Ok(Json(rule.into()))
    }
}

impl RulesApi {
    async fn set_enabled(
        &self,
        state: &AppState,
        auth: &Auth,
        id: i64,
        enabled: bool,
    ) -> Result<Json<RuleOut>, ApiError> {
        let who = auth.principal(state).await?;
        let change = RuleChange {
            enabled: Some(enabled),
            ..RuleChange::default()
        };
        let rule = state
            .services
            .update_rule(who, RuleId::new(id), change)
            .await?;
        Ok(Json(rule.into()))
    }
}
