//! `invest rules …`

use std::path::Path;
use std::process::ExitCode;

use signal_sentinel::domain::text::printable;
use std::sync::Arc;

use chrono::NaiveDate;
use serde_json::json;
use signal_sentinel::clock::SystemClock;
use signal_sentinel::config::Settings;
use signal_sentinel::domain::{Rule, RuleId};
use signal_sentinel::engine::{Evaluate, Frequency, Priority, Repeat, RuleOptions, parse_rule};
use signal_sentinel::market::ReplayMarket;
use signal_sentinel::service::{RuleChange, RuleSpec, ServiceError, rule_text};

use crate::cli::{EvaluateArg, FiringArgs, FrequencyArg, RulesCommand};

use crate::output::{Style, Table, out, plain, styled};

/// `invest rules add|list|show|rm|enable|disable|snooze` (backtest needs no database): each
/// one library call as the acting user, the same call the API makes.
pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: RulesCommand,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    if let RulesCommand::Backtest {
        rule,
        csv,
        from,
        to,
        firing,
    } = &command
    {
        return backtest(
            rule,
            csv,
            (*from, *to),
            (firing.options(), firing.expires),
            as_json,
        )
        .await;
    }
    let (services, who, _) = super::services_as(settings, user).await?;
    let now = services.now();
    match command {
        RulesCommand::Backtest { .. } => unreachable!("handled above"),
        RulesCommand::Add {
            rule,
            say,
            yes,
            name,
            firing,
            message,
            repeat_every,
            repeat_times,
            repeat_until,
            priority,
            disabled,
            allow_duplicate,
        } => {
            let options = RuleOptions {
                message,
                repeat: repeat_every.map(|every| Repeat {
                    every_minutes: minutes_of(every),
                    until: repeat_until,
                    times: repeat_times,
                }),
                priority: priority.as_deref().map(priority_of),
                ..firing.options()
            };
            let text = match (rule, say) {
                (Some(rule), _) => rule,
                (None, Some(sentence)) => {
                    let Some(text) = proposal(&services, who, &sentence, yes, as_json).await?
                    else {
                        return Ok(ExitCode::FAILURE);
                    };
                    text
                }
                (None, None) => anyhow::bail!("give the rule, or --say and a sentence"),
            };
            let spec = RuleSpec {
                text: Some(text),
                allow_duplicate,
                ..RuleSpec::default()
            };
            let rule = services
                .create_rule(who, spec, name, options, !disabled, firing.expires)
                .await?;
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
            repeat_every,
            repeat_times,
            repeat_until,
            no_repeat,
            priority,
        } => {
            let current = services
                .get_rule(who, id)
                .await
                .map_err(|e| rule_failure(e, id))?
                .rule;
            let mut options = RuleOptions::from_document(&current.options).map_err(|e| {
                anyhow::anyhow!(
                    "rule #{id} has unreadable options ({e}); remove it and add it again"
                )
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
            if let Some(priority) = priority.as_deref() {
                options.priority = Some(priority_of(priority));
            }
            if no_repeat {
                options.repeat = None;
            } else if let Some(every) = repeat_every {
                options.repeat = Some(Repeat {
                    every_minutes: minutes_of(every),
                    until: repeat_until.or(options.repeat.and_then(|r| r.until)),
                    times: repeat_times.or(options.repeat.and_then(|r| r.times)),
                });
            } else if let Some(repeat) = options.repeat.as_mut() {
                repeat.times = repeat_times.or(repeat.times);
                repeat.until = repeat_until.or(repeat.until);
            } else if repeat_times.is_some() || repeat_until.is_some() {
                anyhow::bail!(
                    "rule #{id} has no reminders: give --repeat-every with --repeat-times or --repeat-until"
                );
            }
            let change = RuleChange {
                spec: RuleSpec {
                    text: rule,
                    ..RuleSpec::default()
                },
                name: name.map(Some),
                options: Some(options),
                ..RuleChange::default()
            };
            let rule = services
                .update_rule(who, id, change)
                .await
                .map_err(|e| rule_failure(e, id))?;
            print_rule(&rule, as_json, "changed");
        }
        RulesCommand::List {
            symbol,
            enabled,
            disabled,
            limit,
        } => {
            let rules = services
                .list_rules(
                    who,
                    symbol.as_deref(),
                    (enabled || disabled).then_some(enabled),
                    None,
                    limit,
                )
                .await?;
            if as_json {
                let rows: Vec<_> = rules.iter().map(rule_json).collect();
                out!("{}", serde_json::Value::Array(rows));
            } else if rules.is_empty() {
                out!("no rules; add one with `invest rules add \"AAPL crosses above 200\"`");
            } else {
                let mut table = Table::new(&["ID", "ON", "RULE", "NAME", "LAST FIRED"]).right(&[0]);
                for r in &rules {
                    table.row([
                        plain(r.id),
                        if r.enabled {
                            styled("yes", Style::Green)
                        } else {
                            styled("no", Style::Dim)
                        },
                        plain(rule_text(r)),
                        plain(printable(r.name.as_deref().unwrap_or("-"))),
                        plain(
                            r.last_triggered_at
                                .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
                        ),
                    ]);
                }
                table.print();
            }
        }
        RulesCommand::Export => {
            // The file as the library writes it, `--json` or not: it is the format.
            out!("{}", services.export_rules(who).await?.trim_end());
        }
        RulesCommand::Import { file } => {
            let text = read_rules_file(&file)?;
            let report = services.import_rules(who, &text).await?;
            if as_json {
                let added: Vec<_> = report.added.iter().map(rule_json).collect();
                let duplicates: Vec<_> = report
                    .duplicates
                    .iter()
                    .map(|(line, rule)| json!({"line": line, "rule_id": rule.map(RuleId::get)}))
                    .collect();
                out!("{}", json!({"added": added, "duplicates": duplicates}));
            } else {
                for rule in &report.added {
                    print_rule(rule, false, "added");
                }
                for (line, rule) in &report.duplicates {
                    match rule {
                        Some(id) => out!("skipped line {line}: you have it already as rule #{id}"),
                        None => out!("skipped line {line}: the same rule as an earlier line"),
                    }
                }
                out!(
                    "{} added, {} skipped as duplicates",
                    report.added.len(),
                    report.duplicates.len()
                );
            }
        }
        RulesCommand::Show { id } => {
            let view = services
                .get_rule(who, id)
                .await
                .map_err(|e| rule_failure(e, id))?;
            let (rule, state) = (view.rule, view.state);
            if as_json {
                let mut value = rule_json(&rule);
                value["state"] = json!(state);
                out!("{value}");
            } else {
                out!("rule #{}: {}", rule.id, rule_text(&rule));
                if let Some(name) = &rule.name {
                    out!("  name:        {}", printable(name));
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
                if let Some((since, why)) = state.as_ref().and_then(|s| s.gap()) {
                    out!(
                        "  no data:     since {} ({why})",
                        since.format("%Y-%m-%d %H:%M UTC")
                    );
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
            services
                .delete_rule(who, id)
                .await
                .map_err(|e| rule_failure(e, id))?;
            if as_json {
                out!("{}", json!({"deleted": id}));
            } else {
                out!("deleted rule #{id}; its alerts are kept");
            }
        }
        RulesCommand::Enable { id } | RulesCommand::Disable { id } => {
            let enable = matches!(command, RulesCommand::Enable { .. });
            let change = RuleChange {
                enabled: Some(enable),
                ..RuleChange::default()
            };
            let rule = services
                .update_rule(who, id, change)
                .await
                .map_err(|e| rule_failure(e, id))?;
            print_rule(&rule, as_json, if enable { "enabled" } else { "disabled" });
        }
        RulesCommand::Snooze { id, duration, off } => {
            let rule = match (off, duration) {
                (false, Some(d)) => services.snooze_rule_for(who, id, d).await,
                _ => services.snooze_rule(who, id, None).await,
            }
            .map_err(|e| rule_failure(e, id))?;
            if as_json {
                out!("{}", rule_json(&rule));
            } else if let Some(at) = rule.snoozed_until {
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

impl FiringArgs {
    /// The options these flags give (the others at their defaults).
    fn options(&self) -> RuleOptions {
        RuleOptions {
            frequency: frequency_of(self.frequency),
            cooldown_minutes: self.cooldown,
            hysteresis_percent: self.hysteresis,
            pending: self.pending,
            notify_on_resolve: self.notify_on_resolve,
            extended_hours: self.extended_hours,
            stale_after_minutes: self.stale_after,
            evaluate: match self.evaluate {
                EvaluateArg::EverySample => Evaluate::EverySample,
                EvaluateArg::AtSessionClose => Evaluate::AtSessionClose,
                EvaluateArg::AtBarClose => Evaluate::AtBarClose,
            },
            no_data: self.no_data,
            on_error: self.on_error,
            ..RuleOptions::default()
        }
    }
}

fn frequency_of(arg: FrequencyArg) -> Frequency {
    match arg {
        FrequencyArg::Once => Frequency::Once,
        FrequencyArg::Daily => Frequency::OncePerDay,
        FrequencyArg::Every => Frequency::EveryTime,
    }
}

/// A failed use case, with a pointer to the user's rules when the rule is not theirs or missing.
fn rule_failure(e: ServiceError, id: RuleId) -> anyhow::Error {
    match e {
        ServiceError::NotFound(_) => {
            anyhow::anyhow!("rule #{id} not found; `invest rules list` shows yours")
        }
        other => other.into(),
    }
}

/// The stored rule with its text form.
fn rule_json(rule: &Rule) -> serde_json::Value {
    let mut value = json!(rule);
    value["text"] = json!(rule_text(rule));
    value
}

/// A rules file's text, from a path or standard input (`-`), at most 4 MiB.
fn read_rules_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    const MAX: u64 = 4 << 20;
    let mut text = String::new();
    let read = if path == Path::new("-") {
        std::io::stdin().take(MAX + 1).read_to_string(&mut text)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX + 1).read_to_string(&mut text))
    }
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if read as u64 > MAX {
        return Err(anyhow::anyhow!(
            "{}: a rules file is at most 4 MiB",
            path.display()
        ));
    }
    Ok(text)
}

fn print_rule(rule: &Rule, as_json: bool, verb: &str) {
    if as_json {
        out!("{}", rule_json(rule));
    } else {
        out!("{verb} rule #{}: {}", rule.id, rule_text(rule));
    }
}

/// `invest rules backtest "<rule>" --csv FILE`
pub(crate) async fn backtest(
    rule: &str,
    csv: &Path,
    (from, to): (Option<NaiveDate>, Option<NaiveDate>),
    (options, expires_at): (RuleOptions, Option<chrono::DateTime<chrono::Utc>>),
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let market = ReplayMarket::from_path(csv, Arc::new(SystemClock))?;
    let progress = crate::output::spinner("replaying…");
    // The library's one backtest, the API's: the same checks, the same alerts.
    let (symbol, sessions, alerts) = signal_sentinel::service::backtest_on(
        &market,
        rule,
        &options,
        from.unwrap_or(NaiveDate::MIN),
        to.unwrap_or(NaiveDate::MAX),
        expires_at,
    )
    .await?;
    if sessions == 0 {
        progress.finish_and_clear();
        return Err(anyhow::anyhow!(
            "{} has no bars for {symbol} in that range",
            csv.display()
        ));
    }
    let rule = parse_rule(rule).map_err(|e| anyhow::anyhow!("rule: {e}"))?;
    progress.finish_and_clear();
    if as_json {
        out!(
            "{}",
            json!({"rule": rule.to_string(), "sessions": sessions, "alerts": alerts})
        );
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "{} over {} sessions: {} alerts",
        rule,
        sessions,
        alerts.len()
    );
    if !alerts.is_empty() {
        let mut table = Table::new(&["KIND", "EPISODE", "DATE", "PRICE"]).right(&[1, 3]);
        for a in &alerts {
            table.row([
                a.kind.as_str().to_owned(),
                a.episode.to_string(),
                signal_sentinel::engine::indicators::exchange_date(a.at).to_string(),
                a.price.to_string(),
            ]);
        }
        table.print();
    }
    Ok(ExitCode::SUCCESS)
}

/// Whole minutes of a duration `parse_repeat` checked (at most a week).
fn minutes_of(duration: std::time::Duration) -> u32 {
    u32::try_from(duration.as_secs() / 60).unwrap_or(u32::MAX)
}

/// A `--priority` value (clap allows only these).
fn priority_of(text: &str) -> Priority {
    match text {
        "low" => Priority::Low,
        "normal" => Priority::Normal,
        "urgent" => Priority::Urgent,
        _ => Priority::High,
    }
}

/// `rules add --say`: the rule read from a sentence, shown; its text once confirmed (`--yes`,
/// or `y` at the prompt on a terminal), `None` when the user said no.
async fn proposal(
    services: &signal_sentinel::service::Services,
    who: signal_sentinel::service::Principal,
    sentence: &str,
    yes: bool,
    as_json: bool,
) -> anyhow::Result<Option<String>> {
    use signal_sentinel::rules::words::Reading;
    use std::io::{BufRead, IsTerminal, Write};
    match services.propose_rule(who, sentence).await? {
        Reading::Rule(p) => {
            if !as_json {
                out!("rule:    {}", printable(&p.text));
                for l in &p.symbols {
                    out!("symbol:  {} ({})", l.symbol, printable(&l.name));
                }
                out!("meaning: {}", printable(&p.explanation));
            }
            if yes {
                return Ok(Some(p.text));
            }
            if !std::io::stdin().is_terminal() {
                anyhow::bail!(
                    "not saved: add --yes to save the rule read from a sentence without asking"
                );
            }
            eprint!("Save this rule? [y/N] ");
            std::io::stderr().flush()?;
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
                Ok(Some(p.text))
            } else {
                eprintln!("not saved");
                Ok(None)
            }
        }
        Reading::Choose { mention, choices } => {
            let list: Vec<String> = choices
                .iter()
                .map(|l| format!("{} ({})", l.symbol, l.name))
                .collect();
            anyhow::bail!(
                "\"{}\" may be {}: say it again with the ticker, e.g. ${}",
                printable(&mention),
                list.join(" or "),
                choices
                    .first()
                    .map(|l| l.symbol.to_string())
                    .unwrap_or_default()
            )
        }
        Reading::Refused {
            reason, understood, ..
        } => {
            let understood = if understood.is_empty() {
                String::new()
            } else {
                format!(" (understood: {})", understood.join(", "))
            };
            anyhow::bail!(
                "could not make a rule from this: {}{understood}",
                printable(&reason)
            )
        }
    }
}
