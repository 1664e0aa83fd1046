//! Rules: create, list, show, change, delete, snooze, backtest.

use crate::rules::words::Reading;
use chrono::NaiveDate;

use super::{
    MAX_BAR_DAYS, MAX_PAGE_SIZE, MAX_SNOOZE, Principal, ServiceError, ServiceResult, Services,
};
use crate::domain::{Rule, RuleFilter, RuleId, RuleState, RuleUpdate, Symbol};
use crate::engine::{BacktestAlert, Condition, RuleOptions, backtest_with_events};
use crate::rules::{RuleInput, prepare_rule};
use crate::store::StoreError;
use crate::time::Timestamp;

/// A rule as the API submits it: either the text form or a JSON condition on a symbol.
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    /// `AAPL crosses above 200` (see `docs/rules.md`).
    pub text: Option<String>,
    /// With `condition`: the symbol it watches.
    pub symbol: Option<String>,
    /// The condition as JSON (the stored form, `version` optional).
    pub condition: Option<serde_json::Value>,
    /// When creating: add it even if the user has the same rule (the same canonical text and
    /// options) already. Default: refused with the existing rule's id.
    pub allow_duplicate: bool,
}

/// What an update changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RuleChange {
    /// New condition (text or JSON).
    pub spec: RuleSpec,
    /// New name (`Some(None)` removes it).
    pub name: Option<Option<String>>,
    /// New options, replacing the old ones.
    pub options: Option<RuleOptions>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<Timestamp>>,
}

/// A rule with its evaluation state.
#[derive(Debug, Clone)]
pub struct RuleView {
    /// The rule.
    pub rule: Rule,
    /// Its state, once the monitor has evaluated it.
    pub state: Option<RuleState>,
}

/// What an import added, and the lines it skipped as duplicates.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The rules added, in the file's order.
    pub added: Vec<Rule>,
    /// Lines that were the same rule (text and options) as one the user has, or as an earlier
    /// line of the file: (line, the existing rule or `None` for an earlier line).
    pub duplicates: Vec<(usize, Option<RuleId>)>,
}

/// The text form of a stored rule: `AAPL crosses above 200`.
pub fn rule_text(rule: &Rule) -> String {
    match Condition::from_document(&rule.condition) {
        Ok(condition) => format!("{} {condition}", rule.symbol),
        Err(_) => format!("{} (unreadable condition)", rule.symbol),
    }
}

impl Services {
    pub(super) fn spec_text(spec: &RuleSpec) -> ServiceResult<Option<String>> {
        match (&spec.text, &spec.symbol, &spec.condition) {
            (Some(_), _, Some(_)) => Err(ServiceError::invalid(
                "condition",
                "give either text or symbol + condition, not both",
            )),
            (Some(text), None, None) => Ok(Some(text.clone())),
            (Some(_), Some(_), None) => Err(ServiceError::invalid(
                "symbol",
                "the text form names its symbol; leave symbol out",
            )),
            (None, Some(symbol), Some(condition)) => {
                let symbol = Symbol::parse(symbol)
                    .map_err(|e| ServiceError::invalid("symbol", e.to_string()))?;
                let mut value = condition.clone();
                if let Some(object) = value.as_object_mut() {
                    object
                        .entry("version")
                        .or_insert(crate::engine::CONDITION_VERSION.into());
                }
                let doc = crate::domain::JsonDocument::try_from(value)
                    .map_err(|e| ServiceError::invalid("condition", e.to_string()))?;
                let condition = Condition::from_document(&doc)
                    .map_err(|e| ServiceError::invalid("condition", e.to_string()))?;
                // The text form is the one checked path for values and ranges.
                Ok(Some(format!("{symbol} {condition}")))
            }
            (None, None, Some(_)) => Err(ServiceError::invalid(
                "symbol",
                "a JSON condition needs the symbol it watches",
            )),
            (None, Some(_), None) => Err(ServiceError::invalid(
                "condition",
                "give the condition for this symbol, or the whole rule as text",
            )),
            (None, None, None) => Ok(None),
        }
    }

    /// The user's rules as a rules file (see [`crate::rules::file`]), oldest first.
    ///
    /// # Errors
    /// [`ServiceError::Internal`] when the store fails.
    pub async fn export_rules(&self, who: Principal) -> ServiceResult<String> {
        let mut rules = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .list_rules(&RuleFilter {
                    owner: Some(who.user),
                    after,
                    limit: Some(MAX_PAGE_SIZE),
                    ..RuleFilter::default()
                })
                .await?;
            let full = page.len() as u64 == MAX_PAGE_SIZE;
            after = page.last().map(|r| r.id);
            rules.extend(page);
            if !full {
                break;
            }
        }
        Ok(crate::rules::file::export(&rules, self.now()))
    }

    /// Adds the rules of a rules file, all or nothing: every line is checked as a rule added
    /// by hand would be, the cap counts them all, and they are stored in one transaction. A
    /// line that is a rule the user has already (or an earlier line) is skipped and reported,
    /// so importing a file twice adds nothing the second time.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] (field `file`) listing the lines that cannot be read, with
    /// their numbers; [`ServiceError::LimitReached`] when the new rules would pass the cap.
    pub async fn import_rules(&self, who: Principal, text: &str) -> ServiceResult<ImportReport> {
        let lines = crate::rules::file::parse(text).map_err(|errors| {
            let message = errors
                .iter()
                .map(|e| match e.line {
                    0 => e.message.clone(),
                    n => format!("line {n}: {}", e.message),
                })
                .collect::<Vec<_>>()
                .join("; ");
            ServiceError::invalid("file", message)
        })?;
        let mut new = Vec::new();
        let mut errors = Vec::new();
        let mut duplicates = Vec::new();
        for (line, input) in lines {
            match prepare_rule(who.user, input) {
                Ok(rule) => {
                    if new.iter().any(|(_, n): &(usize, crate::domain::NewRule)| {
                        n.symbol == rule.symbol
                            && n.condition == rule.condition
                            && n.options == rule.options
                    }) {
                        duplicates.push((line, None));
                    } else if let Some(same) = self.same_rule(&rule).await? {
                        duplicates.push((line, Some(same.id)));
                    } else {
                        new.push((line, rule));
                    }
                }
                Err(e) => errors.push(format!("line {line}: {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::invalid("file", errors.join("; ")));
        }
        let cap = self.limits.max_rules_per_user;
        let have = self.store.count_rules(who.user).await?;
        if have.saturating_add(new.len() as u64) > cap {
            return Err(ServiceError::LimitReached(format!(
                "the file adds {} rules and you have {have} of {cap}; delete some first",
                new.len()
            )));
        }
        let added = self
            .store
            .create_rules(new.into_iter().map(|(_, rule)| rule).collect())
            .await?;
        Ok(ImportReport { added, duplicates })
    }

    /// The owner's rule with the same symbol, condition and options as `new`, if any (the
    /// stored forms are canonical, so equal documents are the same rule).
    async fn same_rule(&self, new: &crate::domain::NewRule) -> ServiceResult<Option<Rule>> {
        let mut after = None;
        loop {
            let page = self
                .store
                .list_rules(&RuleFilter {
                    owner: Some(new.owner),
                    symbol: Some(new.symbol.clone()),
                    after,
                    limit: Some(MAX_PAGE_SIZE),
                    ..RuleFilter::default()
                })
                .await?;
            if let Some(same) = page
                .iter()
                .find(|r| r.condition == new.condition && r.options == new.options)
            {
                return Ok(Some(same.clone()));
            }
            match page.last() {
                Some(last) if page.len() as u64 == MAX_PAGE_SIZE => after = Some(last.id),
                _ => return Ok(None),
            }
        }
    }

    pub(super) async fn owned_rule(&self, who: Principal, id: RuleId) -> ServiceResult<Rule> {
        match self.store.get_rule(id).await {
            Ok(rule) if rule.owner == who.user => Ok(rule),
            Ok(_) | Err(StoreError::NotFound { .. }) => Err(ServiceError::NotFound("rule")),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a sentence ("tell me if Apple drops 5% today") into a proposed rule, a choice
    /// of symbols, or a refusal saying what was understood. Never saves: a frontend shows the
    /// proposal and creates its `text` with [`Services::create_rule`] once the user confirms.
    /// The offline phrase reader and the shipped symbol table answer first, with no key and
    /// no network; what they cannot decide goes to the model when one is configured, within
    /// the user's daily budget of model calls, and its answer is checked by the rule parser
    /// and the symbol table (see `docs/rules.md`, "Say it in words").
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a sentence longer than
    /// [`crate::rules::words::MAX_SENTENCE_LEN`] characters or with control characters.
    pub async fn propose_rule(&self, who: Principal, sentence: &str) -> ServiceResult<Reading> {
        if sentence.chars().count() > crate::rules::words::MAX_SENTENCE_LEN {
            return Err(ServiceError::invalid(
                "sentence",
                format!(
                    "at most {} characters",
                    crate::rules::words::MAX_SENTENCE_LEN
                ),
            ));
        }
        crate::domain::check_text(sentence, false)
            .map_err(|e| ServiceError::invalid("sentence", e.to_string()))?;
        let directory = crate::market::directory::SymbolDirectory::shipped();
        let offline = crate::rules::words::read_sentence(sentence, &directory);
        let Reading::Refused {
            reason,
            understood,
            unresolved,
        } = offline
        else {
            return Ok(offline);
        };
        // A name the table does not know: the providers' symbol search, and the sentence
        // read again with the symbol found.
        if let Some(name) = unresolved {
            let found = self.search_symbols(&name).await;
            match found.as_slice() {
                [] => {}
                [one] => {
                    let again = sentence.replacen(&name, &format!("${}", one.symbol), 1);
                    if let Reading::Rule(mut p) =
                        crate::rules::words::read_sentence(&again, &directory)
                    {
                        p.symbols = vec![one.clone()];
                        p.explanation = crate::rules::words::explain(
                            &p.rule,
                            &format!("{} ({})", one.name, one.symbol),
                        );
                        return Ok(Reading::Rule(p));
                    }
                }
                _ => {
                    return Ok(Reading::Choose {
                        mention: name,
                        choices: found,
                    });
                }
            }
        }
        // The model, when one is configured, for what the phrases could not decide; its
        // answer is read by the same rule parser, and refused when it is not a rule.
        let refused = |reason: String, understood: Vec<String>| Reading::Refused {
            reason,
            understood,
            unresolved: None,
        };
        let Some(summaries) = self.summaries.as_ref().filter(|s| s.has_model()) else {
            return Ok(refused(reason, understood));
        };
        let day = self.clock.now().date_naive();
        let prompt = format!("Sentence: {sentence}");
        match summaries
            .ask_json(
                who.user,
                day,
                crate::rules::words::MODEL_INSTRUCTIONS,
                &prompt,
                &crate::rules::words::model_schema(),
            )
            .await
        {
            Ok(answer) => Ok(
                match crate::rules::words::read_model_answer(&answer, sentence, &directory) {
                    Reading::Refused { reason: why, .. } => {
                        refused(format!("{reason}; {why}"), understood)
                    }
                    reading => reading,
                },
            ),
            Err(e) => {
                tracing::info!(error = %e, "the model could not read a sentence as a rule");
                Ok(refused(
                    format!("{reason} (the model was asked too: {e})"),
                    understood,
                ))
            }
        }
    }

    /// What the market-data providers' symbol search finds for `name` (cached a day); none
    /// when they have no search or fail.
    async fn search_symbols(&self, name: &str) -> Vec<crate::market::directory::Listing> {
        let now = self.clock.now();
        if let Some(found) = self.symbol_searches.get(name, now) {
            return found;
        }
        match self.market.search_symbols(name).await {
            Ok(found) => {
                self.symbol_searches.put(name, now, found.clone());
                found
            }
            Err(e) => {
                tracing::info!(error = %e, "symbol search failed");
                Vec::new()
            }
        }
    }

    /// Creates a rule.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] naming the field to fix; [`ServiceError::LimitReached`] past
    /// the per-user cap; [`ServiceError::Conflict`] naming the user's rule that is the same
    /// rule with the same options, unless the spec allows duplicates.
    pub async fn create_rule(
        &self,
        who: Principal,
        spec: RuleSpec,
        name: Option<String>,
        options: RuleOptions,
        enabled: bool,
        expires_at: Option<Timestamp>,
    ) -> ServiceResult<Rule> {
        let text = Self::spec_text(&spec)?.ok_or_else(|| {
            ServiceError::invalid("text", "give the rule as text, or symbol + condition")
        })?;
        let new = prepare_rule(
            who.user,
            RuleInput {
                text,
                name,
                options,
                disabled: !enabled,
                expires_at,
            },
        )?;
        let cap = self.limits.max_rules_per_user;
        let existing = self.store.count_rules(who.user).await?;
        if existing >= cap {
            return Err(ServiceError::LimitReached(format!(
                "you have {cap} rules, the most this server allows; delete some first"
            )));
        }
        if !spec.allow_duplicate
            && let Some(same) = self.same_rule(&new).await?
        {
            return Err(ServiceError::Conflict {
                field: "text".to_owned(),
                message: format!(
                    "rule #{} is this rule already, with the same options ({}); add it again with --allow-duplicate (API: \"allow_duplicate\": true)",
                    same.id,
                    rule_text(&same)
                ),
            });
        }
        Ok(self.store.create_rule(new).await?)
    }

    /// The user's rules, oldest first, after the `after` cursor.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list_rules(
        &self,
        who: Principal,
        symbol: Option<&str>,
        enabled: Option<bool>,
        after: Option<RuleId>,
        limit: u64,
    ) -> ServiceResult<Vec<Rule>> {
        let symbol = symbol
            .map(Symbol::parse)
            .transpose()
            .map_err(|e| ServiceError::invalid("symbol", e.to_string()))?;
        Ok(self
            .store
            .list_rules(&RuleFilter {
                owner: Some(who.user),
                symbol,
                enabled,
                after,
                limit: Some(limit.clamp(1, MAX_PAGE_SIZE)),
                shards: None,
            })
            .await?)
    }

    /// The states of some of the user's rules (for lists); rules not yet evaluated, or not
    /// the user's, are left out.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn rule_states(
        &self,
        who: Principal,
        rules: &[Rule],
    ) -> ServiceResult<Vec<RuleState>> {
        let ids: Vec<RuleId> = rules
            .iter()
            .filter(|r| r.owner == who.user)
            .map(|r| r.id)
            .collect();
        Ok(self.store.load_rule_states(&ids).await?)
    }

    /// One of the user's rules with its state.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn get_rule(&self, who: Principal, id: RuleId) -> ServiceResult<RuleView> {
        let rule = self.owned_rule(who, id).await?;
        let state = match self.store.get_rule_state(id).await {
            Ok(state) => Some(state),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(RuleView { rule, state })
    }

    /// Changes a rule; the merged rule is checked as a new one would be.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Invalid`].
    pub async fn update_rule(
        &self,
        who: Principal,
        id: RuleId,
        change: RuleChange,
    ) -> ServiceResult<Rule> {
        let current = self.owned_rule(who, id).await?;
        let options = match change.options {
            Some(options) => options,
            None => RuleOptions::from_document(&current.options)
                .map_err(|e| ServiceError::internal(format!("rule {id} options: {e}")))?,
        };
        let text = Self::spec_text(&change.spec)?.unwrap_or_else(|| rule_text(&current));
        let enabled = change.enabled.unwrap_or(current.enabled);
        let checked = prepare_rule(
            who.user,
            RuleInput {
                text,
                name: change.name.unwrap_or(current.name),
                options,
                disabled: !enabled,
                expires_at: change.expires_at.unwrap_or(current.expires_at),
            },
        )?;
        Ok(self
            .store
            .update_rule(
                id,
                RuleUpdate {
                    symbol: Some(checked.symbol),
                    name: Some(checked.name),
                    condition: Some(checked.condition),
                    options: Some(checked.options),
                    enabled: Some(checked.enabled),
                    expires_at: Some(checked.expires_at),
                    ..RuleUpdate::default()
                },
            )
            .await?)
    }

    /// Deletes a rule; its alerts are kept.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`].
    pub async fn delete_rule(&self, who: Principal, id: RuleId) -> ServiceResult<()> {
        self.owned_rule(who, id).await?;
        Ok(self.store.delete_rule(id).await?)
    }

    /// Snoozes a rule for `duration` from now (at most [`MAX_SNOOZE`]).
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Invalid`] for a zero or too long duration.
    pub async fn snooze_rule_for(
        &self,
        who: Principal,
        id: RuleId,
        duration: std::time::Duration,
    ) -> ServiceResult<Rule> {
        let too_long = || {
            ServiceError::invalid(
                "minutes",
                format!("must be 1 minute to {}", crate::time::describe(MAX_SNOOZE)),
            )
        };
        if duration.is_zero() || duration > MAX_SNOOZE {
            return Err(too_long());
        }
        let until = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| self.clock.now().checked_add_signed(d))
            .ok_or_else(too_long)?;
        self.snooze_rule(who, id, Some(until)).await
    }

    /// Snoozes a rule until `until` (at most [`MAX_SNOOZE`] ahead), or wakes it with `None`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::Invalid`] for a time in the past or more
    /// than [`MAX_SNOOZE`] ahead.
    pub async fn snooze_rule(
        &self,
        who: Principal,
        id: RuleId,
        until: Option<Timestamp>,
    ) -> ServiceResult<Rule> {
        self.owned_rule(who, id).await?;
        let now = self.clock.now();
        if until.is_some_and(|u| u <= now) {
            return Err(ServiceError::invalid("until", "must be in the future"));
        }
        if until.is_some_and(|u| (u - now).to_std().is_ok_and(|ahead| ahead > MAX_SNOOZE)) {
            return Err(ServiceError::invalid(
                "until",
                format!(
                    "must be at most {} ahead",
                    crate::time::describe(MAX_SNOOZE)
                ),
            ));
        }
        Ok(self
            .store
            .update_rule(
                id,
                RuleUpdate {
                    snoozed_until: Some(until),
                    ..RuleUpdate::default()
                },
            )
            .await?)
    }

    /// Replays a rule over the market's daily bars from `from` to `to` (see [`backtest_on`]).
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] for a bad rule or range, [`ServiceError::Unavailable`] when
    /// the market cannot give bars.
    pub async fn backtest(
        &self,
        spec: RuleSpec,
        options: RuleOptions,
        from: NaiveDate,
        to: NaiveDate,
        expires_at: Option<Timestamp>,
    ) -> ServiceResult<(Symbol, usize, Vec<BacktestAlert>)> {
        let text = Self::spec_text(&spec)?.ok_or_else(|| {
            ServiceError::invalid("text", "give the rule as text, or symbol + condition")
        })?;
        Self::check_range(from, to)?;
        backtest_on(self.market.as_ref(), &text, &options, from, to, expires_at).await
    }

    pub(super) fn check_range(from: NaiveDate, to: NaiveDate) -> ServiceResult<()> {
        if from > to {
            return Err(ServiceError::invalid("from", "must not be after `to`"));
        }
        if (to - from).num_days() > MAX_BAR_DAYS {
            return Err(ServiceError::invalid(
                "from",
                format!("the range may span at most {MAX_BAR_DAYS} days"),
            ));
        }
        Ok(())
    }
}

/// Replays the rule `text` with `options` over `market`'s daily bars from `from` to `to`: the
/// one backtest behind the API, the dashboard and `invest rules backtest` (which replays a
/// file). A combination reads the bars of every symbol it names; a rule with `expires_at`
/// stops being evaluated then; the market's corporate calendar, when it has one, is read by
/// calendar conditions and splits (see `docs/rules.md`). Returns the rule's symbol, the number
/// of its sessions replayed, and the alerts.
///
/// # Errors
/// [`ServiceError::Invalid`] for a rule or options that do not parse or fit, or a rule that
/// reads holdings; [`ServiceError::Unavailable`] when the market cannot give bars.
pub async fn backtest_on(
    market: &dyn crate::market::MarketData,
    text: &str,
    options: &RuleOptions,
    from: NaiveDate,
    to: NaiveDate,
    expires_at: Option<Timestamp>,
) -> ServiceResult<(Symbol, usize, Vec<BacktestAlert>)> {
    let rule = crate::engine::parse_rule(text)
        .map_err(|e| ServiceError::invalid("text", e.to_string()))?;
    options
        .validate(&rule.condition)
        .map_err(|e| ServiceError::invalid("options", e.to_string()))?;
    if rule.condition.reads_holdings() || rule.symbol.as_str() == crate::engine::PORTFOLIO {
        return Err(ServiceError::invalid(
            "text",
            "holdings and portfolio conditions depend on what you held at each moment, which is not recorded: they cannot be backtested",
        ));
    }
    let mut series = vec![(
        rule.symbol.clone(),
        market.daily_bars(&rule.symbol, from, to).await?,
    )];
    for symbol in rule.condition.other_symbols() {
        series.push((symbol.clone(), market.daily_bars(symbol, from, to).await?));
    }
    // The corporate calendar, from the start to three months after the end (what calendar
    // conditions look ahead to); bars given as traded are put in today's terms, so the levels
    // written are read in today's prices.
    let mut calendar = None;
    if market.has_events() {
        let until = to
            .checked_add_days(chrono::Days::new(u64::from(crate::engine::MAX_EVENT_DAYS)))
            .unwrap_or(to);
        let mut events = Vec::new();
        let mut known = true;
        for (symbol, bars) in &mut series {
            if symbol.is_crypto() {
                continue;
            }
            match market.corporate_events(symbol, from, until).await {
                Ok(found) => {
                    crate::engine::split::adjust_bars(bars, &found);
                    events.extend(found);
                }
                Err(e) if rule.condition.reads_events() => return Err(e.into()),
                Err(e) => {
                    tracing::debug!(%symbol, "backtest without corporate events: {e}");
                    known = false;
                }
            }
        }
        calendar = known.then_some(events);
    }
    let sessions = series[0].1.len();
    let views: Vec<(Symbol, &[crate::domain::Bar])> = series
        .iter()
        .map(|(s, bars)| (s.clone(), bars.as_slice()))
        .collect();
    let alerts = backtest_with_events(
        &rule.symbol,
        &rule.condition,
        options,
        &views,
        calendar.as_deref(),
        expires_at,
    );
    Ok((rule.symbol, sessions, alerts))
}
