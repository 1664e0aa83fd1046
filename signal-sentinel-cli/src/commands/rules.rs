//! `invest rules …`

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::json;
use signal_sentinel::clock::{Clock, SystemClock};
use signal_sentinel::config::Settings;
use signal_sentinel::domain::{Rule, RuleFilter, RuleId, RuleUpdate, Symbol, User};
use signal_sentinel::engine::{Frequency, RuleOptions, backtest as run_backtest, parse_rule};
use signal_sentinel::market::{MarketData, ReplayMarket};
use signal_sentinel::rules::{RuleInput, prepare_rule};
use signal_sentinel::service::rule_text;
use signal_sentinel::store::{RuleStateStore, RuleStore, SeaStore, StoreError};

use crate::cli::{FrequencyArg, RulesCommand};

use crate::output::{Style, out, paint};

/// `invest rules add|list|show|rm|enable|disable|snooze` (backtest needs no database).
pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: RulesCommand,
    as_json: bool,
) -> Result<ExitCode, String> {
    if let RulesCommand::Backtest { rule, csv } = &command {
        return backtest(rule, csv, as_json).await;
    }
    let (store, me) = super::open_as(settings, user).await?;
    let now = SystemClock.now();
    match command {
        RulesCommand::Backtest { .. } => unreachable!("handled above"),
        RulesCommand::Add {
            rule,
            name,
            frequency,
            cooldown,
            message,
            extended_hours,
            disabled,
        } => {
            let options = RuleOptions {
                frequency: frequency_of(frequency),
                cooldown_minutes: cooldown,
                message,
                extended_hours,
                ..RuleOptions::default()
            };
            let new = prepare_rule(
                me.id,
                RuleInput {
                    text: rule,
                    name,
                    options,
                    disabled,
                    expires_at: None,
                },
            )
            .map_err(|e| e.to_string())?;
            let rule = store.create_rule(new).await.map_err(|e| e.to_string())?;
            print_rule(&rule, as_json, "added");
        }
        RulesCommand::Edit {
            id,
            rule,
            name,
            frequency,
            cooldown,
            message,
            default_message,
            extended_hours,
        } => {
            let current = own_rule(&store, &me, id).await?;
            let mut options = RuleOptions::from_document(&current.options).map_err(|e| {
                format!("rule #{id} has unreadable options ({e}); remove it and add it again")
            })?;
            if let Some(f) = frequency {
                options.frequency = frequency_of(f);
            }
            if let Some(minutes) = cooldown {
                options.cooldown_minutes = minutes;
            }
            if default_message {
                options.message = None;
            } else if message.is_some() {
                options.message = message;
            }
            if let Some(extended) = extended_hours {
                options.extended_hours = extended;
            }
            // The merged rule is checked as a new one would be.
            let checked = prepare_rule(
                me.id,
                RuleInput {
                    text: rule.unwrap_or_else(|| rule_text(&current)),
                    name: name.or(current.name),
                    options,
                    disabled: !current.enabled,
                    expires_at: current.expires_at,
                },
            )
            .map_err(|e| e.to_string())?;
            let rule = store
                .update_rule(
                    id,
                    RuleUpdate {
                        symbol: Some(checked.symbol),
                        name: Some(checked.name),
                        condition: Some(checked.condition),
                        options: Some(checked.options),
                        ..RuleUpdate::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            print_rule(&rule, as_json, "changed");
        }
        RulesCommand::List {
            symbol,
            enabled,
            disabled,
            limit,
        } => {
            let symbol = symbol
                .map(|s| Symbol::parse(&s))
                .transpose()
                .map_err(|e| e.to_string())?;
            let filter = RuleFilter {
                owner: Some(me.id),
                symbol,
                enabled: (enabled || disabled).then_some(enabled),
                after: None,
                limit: Some(limit),
                shards: None,
            };
            let rules = store.list_rules(&filter).await.map_err(|e| e.to_string())?;
            if as_json {
                let rows: Vec<_> = rules.iter().map(rule_json).collect();
                out!("{}", serde_json::Value::Array(rows));
            } else if rules.is_empty() {
                out!("no rules; add one with `invest rules add \"AAPL crosses above 200\"`");
            } else {
                out!(
                    "{:>5}  {:<3}  {:<40}  {:<16}  LAST FIRED",
                    "ID",
                    "ON",
                    "RULE",
                    "NAME"
                );
                for r in &rules {
                    out!(
                        "{:>5}  {}  {:<40}  {:<16}  {}",
                        r.id.to_string(),
                        if r.enabled {
                            paint("yes", Style::Green)
                        } else {
                            paint("no ", Style::Dim)
                        },
                        rule_text(r),
                        r.name.as_deref().unwrap_or("-"),
                        r.last_triggered_at
                            .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
                    );
                }
            }
        }
        RulesCommand::Show { id } => {
            let rule = own_rule(&store, &me, id).await?;
            let state = match store.get_rule_state(id).await {
                Ok(state) => Some(state),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => return Err(e.to_string()),
            };
            if as_json {
                let mut value = rule_json(&rule);
                value["state"] = json!(state);
                out!("{value}");
            } else {
                out!("rule #{}: {}", rule.id, rule_text(&rule));
                if let Some(name) = &rule.name {
                    out!("  name:        {name}");
                }
                out!("  enabled:     {}", if rule.enabled { "yes" } else { "no" });
                out!(
                    "  phase:       {}",
                    state
                        .as_ref()
                        .map_or("armed (not evaluated yet)", |s| s.phase.as_str())
                );
                if let Some(reason) = state.as_ref().and_then(|s| s.error_reason()) {
                    out!("  error:       {reason}");
                }
                if let Some(state) = &state {
                    out!("  fired:       {} times", state.episode);
                }
                if let Some(at) = rule.last_triggered_at {
                    out!("  last fired:  {}", at.format("%Y-%m-%d %H:%M UTC"));
                }
                if let Some(at) = rule.snoozed_until.filter(|at| *at > now) {
                    out!("  snoozed:     until {}", at.format("%Y-%m-%d %H:%M UTC"));
                }
                out!("  options:     {}", json!(rule.options));
                out!(
                    "  created:     {}",
                    rule.created_at.format("%Y-%m-%d %H:%M UTC")
                );
            }
        }
        RulesCommand::Rm { id } => {
            own_rule(&store, &me, id).await?;
            store.delete_rule(id).await.map_err(|e| e.to_string())?;
            if as_json {
                out!("{}", json!({"deleted": id}));
            } else {
                out!("deleted rule #{id}; its alerts are kept");
            }
        }
        RulesCommand::Enable { id } | RulesCommand::Disable { id } => {
            let enable = matches!(command, RulesCommand::Enable { .. });
            own_rule(&store, &me, id).await?;
            let rule = store
                .update_rule(
                    id,
                    RuleUpdate {
                        enabled: Some(enable),
                        ..RuleUpdate::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            print_rule(&rule, as_json, if enable { "enabled" } else { "disabled" });
        }
        RulesCommand::Snooze { id, duration, off } => {
            own_rule(&store, &me, id).await?;
            let until = match (off, duration) {
                (true, _) | (false, None) => None,
                (false, Some(d)) => Some(
                    now + chrono::Duration::from_std(d)
                        .map_err(|_| "that is too long".to_owned())?,
                ),
            };
            let rule = store
                .update_rule(
                    id,
                    RuleUpdate {
                        snoozed_until: Some(until),
                        ..RuleUpdate::default()
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            if as_json {
                out!("{}", rule_json(&rule));
            } else if let Some(at) = until {
                out!(
                    "snoozed rule #{id} until {}: {}",
                    at.format("%Y-%m-%d %H:%M UTC"),
                    rule_text(&rule)
                );
            } else {
                print_rule(&rule, false, "woke");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn frequency_of(arg: FrequencyArg) -> Frequency {
    match arg {
        FrequencyArg::Once => Frequency::Once,
        FrequencyArg::Daily => Frequency::OncePerDay,
        FrequencyArg::Every => Frequency::EveryTime,
    }
}

/// The user's rule, or the same "not found" whether it is missing or someone else's.
async fn own_rule(store: &SeaStore, me: &User, id: RuleId) -> Result<Rule, String> {
    match store.get_rule(id).await {
        Ok(rule) if rule.owner == me.id => Ok(rule),
        Ok(_) | Err(StoreError::NotFound { .. }) => Err(format!(
            "rule #{id} not found; `invest rules list` shows yours"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The stored rule with its text form.
fn rule_json(rule: &Rule) -> serde_json::Value {
    let mut value = json!(rule);
    value["text"] = json!(rule_text(rule));
    value
}

fn print_rule(rule: &Rule, as_json: bool, verb: &str) {
    if as_json {
        out!("{}", rule_json(rule));
    } else {
        out!("{verb} rule #{}: {}", rule.id, rule_text(rule));
    }
}

/// `invest rules backtest "<rule>" --csv FILE`
pub(crate) async fn backtest(rule: &str, csv: &Path, as_json: bool) -> Result<ExitCode, String> {
    let rule = parse_rule(rule).map_err(|e| format!("rule: {e}"))?;
    let market = ReplayMarket::from_path(csv, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let bars = market
        .daily_bars(&rule.symbol, NaiveDate::MIN, NaiveDate::MAX)
        .await
        .map_err(|e| e.to_string())?;
    if bars.is_empty() {
        return Err(format!("{} has no bars for {}", csv.display(), rule.symbol));
    }
    let progress = crate::output::spinner(&format!("replaying {} sessions…", bars.len()));
    let alerts = run_backtest(
        &rule.symbol,
        &rule.condition,
        &RuleOptions::default(),
        &bars,
    );
    progress.finish_and_clear();
    if as_json {
        out!(
            "{}",
            json!({"rule": rule.to_string(), "sessions": bars.len(), "alerts": alerts})
        );
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{} over {} sessions: {} alerts",
        rule,
        bars.len(),
        alerts.len()
    );
    if !alerts.is_empty() {
        out!(
            "{:<9} {:>7}  {:<10}  {:>10}",
            "kind",
            "episode",
            "date",
            "price"
        );
        for a in &alerts {
            out!(
                "{:<9} {:>7}  {:<10}  {:>10}",
                a.kind.as_str(),
                a.episode,
                signal_sentinel::engine::indicators::exchange_date(a.at),
                a.price.to_string()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
