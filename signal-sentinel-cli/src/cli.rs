//! Command-line grammar.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use signal_sentinel::domain::{AlertId, RuleId};

/// Signal Sentinel — your AI-powered market watchdog.
///
/// Configuration comes from the environment and ./.env (DATABASE_URL, SECRET_KEY, provider
/// keys …); see the README for the full list.
#[derive(Debug, Parser)]
#[command(name = "invest", version, about, long_about)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Database to use instead of DATABASE_URL (sqlite://PATH or postgres://…).
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) database_url: Option<String>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More log output on stderr (-v debug, -vv trace); overrides LOG_LEVEL.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub(crate) verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    /// The user a command acts for (by default the only user).
    #[arg(
        long,
        global = true,
        env = "SIGNAL_SENTINEL_USER",
        value_name = "EMAIL"
    )]
    pub(crate) user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Replay ten years of real prices through six rules and print each alert as it fires
    /// (no keys, no network; writes DIR/demo.db).
    #[command(after_help = "Example:\n  invest demo --data /tmp/demo")]
    Demo {
        /// Directory for the demo database.
        #[arg(long, value_name = "DIR", default_value = "./data")]
        data: PathBuf,
        /// Pause between replayed months, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 15)]
        pace: u64,
        /// Afterwards, serve the dashboard on the demo's database at 127.0.0.1:PORT (sign in
        /// with the demo login it prints) until Ctrl-C.
        #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "8000")]
        serve: Option<u16>,
    },
    /// Latest quotes, and the provider that served each.
    #[command(after_help = "Example:\n  invest quote AAPL MSFT BTC-USD")]
    Quote {
        /// Symbols, e.g. AAPL MSFT BTC-USD.
        #[arg(required = true, value_name = "SYMBOL")]
        symbols: Vec<String>,
    },
    /// Notification channels, preferences and the outbox.
    #[command(after_help = "Example:\n  invest notifications status")]
    Notifications {
        #[command(subcommand)]
        command: NotificationsCommand,
    },
    /// Market-data providers.
    #[command(after_help = "Example:\n  invest providers status")]
    Providers {
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Run the monitor.
    #[command(after_help = "Example:\n  invest monitor start --interval 15")]
    Monitor {
        #[command(subcommand)]
        command: MonitorCommand,
    },
    /// Alert rules.
    #[command(after_help = "Example:\n  invest rules add \"AAPL crosses above 200\"")]
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Stored alerts.
    #[command(after_help = "Example:\n  invest alerts list --limit 5")]
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Users.
    #[command(after_help = "Example:\n  invest auth create-api-key \"nightly report\"")]
    Auth {
        #[command(subcommand)]
        command: AuthCommand,
    },
    /// Holdings and their value.
    #[command(after_help = "Example:\n  invest portfolio import holdings.csv")]
    Portfolio {
        #[command(subcommand)]
        command: PortfolioCommand,
    },
    /// Database maintenance.
    #[command(after_help = "Example:\n  invest db backup --to /backups/signal-sentinel")]
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Run the HTTP API (with the monitor and the notification dispatcher in the same
    /// process unless `--no-monitor`); Ctrl-C or SIGTERM stops it gracefully.
    #[command(after_help = "Example:\n  invest serve --port 8000 --interval 5m")]
    Serve {
        /// Address to listen on.
        #[arg(long, env = "HOST", default_value = "0.0.0.0")]
        host: std::net::IpAddr,
        /// Port to listen on.
        #[arg(long, env = "PORT", default_value_t = 8000)]
        port: u16,
        /// Serve the API only; run `invest monitor start` elsewhere (web/worker split).
        #[arg(long)]
        no_monitor: bool,
        #[command(flatten)]
        market: MarketArgs,
        /// Time between monitor cycles: minutes (`15`), or with a unit (`30s`, `5m`, `1h`).
        #[arg(long, default_value = "15", value_parser = parse_interval)]
        interval: Duration,
    },
    /// Print the HTTP API's OpenAPI spec (JSON), e.g. `invest openapi > openapi.json`.
    #[command(after_help = "Example:\n  invest openapi > openapi.json")]
    Openapi,
    /// Print a shell completion script, e.g. `invest completions bash >
    /// /etc/bash_completion.d/invest`.
    #[command(after_help = "Example:\n  invest completions bash > /etc/bash_completion.d/invest")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum NotificationsCommand {
    /// Add a channel by its URL (e-mail, ntfy, Discord, Slack, Gotify, Pushover, Matrix, Telegram, webhook).
    ///
    /// The URL's secret (token, key) is kept sealed and never shown again; a webhook's signing
    /// secret is generated and shown once.
    #[command(after_help = "URL forms:
  ntfy://[TOKEN@]HOST/TOPIC        ntfy on HOST over http (ntfys:// for https)
  ntfy://TOPIC                     a topic on the public server (NTFY_BASE_URL)
  discord://WEBHOOK_ID/WEBHOOK_TOKEN   or the https://discord.com/api/webhooks/… URL
  slack://T…/B…/X…                 or the https://hooks.slack.com/services/… URL
  gotify://HOST[/PATH]/APP_TOKEN   (gotifys:// for https)
  pover://USER_KEY@APP_TOKEN       Pushover
  matrix://ACCESS_TOKEN@HOMESERVER/!ROOM_ID:SERVER   or /%23ALIAS:SERVER (matrixs:// for https)
  tgram://CHAT_ID                  a Telegram chat, through this server's bot
  mailto://ADDRESS                 e-mail through this server's SMTP_URL
  mailto://USER:PASSWORD@SMTP_HOST[:PORT]?to=ADDRESS   your own server (mailtos:// for TLS)
  https://…                        a signed webhook

Examples:
  invest notifications add ntfys://ntfy.example.com/my-alerts --name phone
  invest notifications add discord://123456789012345678/AbC-token --name trading-desk")]
    Add {
        /// The channel's URL (quote it in the shell).
        url: String,
        /// A name for the channel.
        #[arg(long)]
        name: Option<String>,
    },
    /// Add a Telegram chat (needs TELEGRAM_BOT_TOKEN on the server).
    #[command(after_help = "Example:\n  invest notifications add-telegram 123456789 --name phone")]
    AddTelegram {
        /// The chat id (123456789, -100… for groups) or a public channel (@name).
        chat_id: String,
        /// A name for the channel.
        #[arg(long)]
        name: Option<String>,
    },
    /// Add a webhook; its signing secret is shown once.
    #[command(
        after_help = "Example:\n  invest notifications add-webhook https://hooks.example.com/alerts --name ops"
    )]
    AddWebhook {
        /// The URL to POST to.
        url: String,
        /// A name for the channel.
        #[arg(long)]
        name: Option<String>,
        /// The signing secret (at least 16 bytes; by default a random one).
        #[arg(long)]
        secret: Option<String>,
    },
    /// Remove a channel.
    #[command(after_help = "Example:\n  invest notifications rm ops")]
    Rm {
        /// The channel's name.
        name: String,
    },
    /// Change a channel: turn it on or off, and its resolved notices.
    #[command(after_help = "Example:\n  invest notifications set phone --resolved off")]
    Set {
        /// The channel's name.
        name: String,
        /// Send through it: on or off.
        #[arg(long, value_parser = ["on", "off"])]
        enabled: Option<String>,
        /// Send resolved notices through it: on or off.
        #[arg(long, value_parser = ["on", "off"], required_unless_present = "enabled")]
        resolved: Option<String>,
    },
    /// Send a test message through each channel and report each.
    #[command(after_help = "Example:\n  invest notifications test")]
    Test,
    /// Channels, their last success and error, and the deliveries waiting.
    #[command(after_help = "Example:\n  invest notifications status --json")]
    Status,
    /// Show or change notification preferences.
    #[command(
        after_help = "Example:\n  invest notifications prefs --quiet-hours 22:00-07:00 --quiet-mode hold"
    )]
    Prefs {
        /// Fired alerts: on, silent or off.
        #[arg(long)]
        fired: Option<String>,
        /// Resolved notices: on, silent or off.
        #[arg(long)]
        resolved: Option<String>,
        /// The daily digest: on, silent or off.
        #[arg(long)]
        digest: Option<String>,
        /// Notices from Signal Sentinel: on, silent or off.
        #[arg(long)]
        system: Option<String>,
        /// Quiet hours, like 22:00-07:00, or `off`.
        #[arg(long)]
        quiet_hours: Option<String>,
        /// In quiet hours: deliver silently (`silent`) or hold until they end (`hold`).
        #[arg(long)]
        quiet_mode: Option<String>,
        /// The daily digest's time, like 18:00, or `off`.
        #[arg(long)]
        digest_at: Option<String>,
        /// The IANA time zone of quiet hours and the digest, like Europe/Berlin.
        #[arg(long)]
        tz: Option<String>,
        /// End alert messages and the digest with the summary (AI or template): on or off.
        #[arg(long, value_parser = ["on", "off"])]
        summaries: Option<String>,
    },
    /// Send what is due in the outbox, once.
    #[command(after_help = "Example:\n  invest notifications dispatch")]
    Dispatch,
    /// A one-time code linking a Telegram chat to your account: send `/start CODE` to the bot
    /// within 15 minutes. The chat then gets your alerts with buttons, and takes commands.
    #[command(after_help = "Example:\n  invest notifications link-telegram")]
    LinkTelegram,
    /// Unlink your Telegram chats (or one) from your account; their channels stay.
    #[command(after_help = "Example:\n  invest notifications unlink-telegram --chat 123456789")]
    UnlinkTelegram {
        /// Only this chat.
        #[arg(long, allow_hyphen_values = true)]
        chat: Option<i64>,
    },
    /// Quiet for a while: alerts are held (or silent, as your quiet hours say) until it ends.
    #[command(
        after_help = "Example:\n  invest notifications mute --for 3h\n  invest notifications mute --off"
    )]
    Mute {
        /// How long: minutes (`90`), or with a unit (`3h`, `2d`); at most a year.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_snooze, required_unless_present = "off")]
        duration: Option<Duration>,
        /// End the mute now.
        #[arg(long, conflicts_with = "duration")]
        off: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProvidersCommand {
    /// Ask each configured provider for a quote and report what it answered.
    #[command(after_help = "Example:\n  invest providers status --symbol MSFT")]
    Status {
        /// The symbol to ask for.
        #[arg(long, default_value = "AAPL")]
        symbol: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct MarketArgs {
    /// Where quotes come from: `auto` (the default: the configured market-data providers
    /// polled every interval, and the trade stream of the first one that has a stream,
    /// Alpaca's or Finnhub's, when its key is set), `providers` (polls only), `stream` (as
    /// `auto`, and an error when no provider has a stream), `simulated` (seeded random
    /// walks) or `replay:PATH` (a CSV file, or a directory of them, in the replay format).
    #[arg(long, value_name = "MARKET", default_value = "auto")]
    pub(crate) market: String,
    /// With a stream: the least time between two evaluations on trades, in milliseconds
    /// (each symbol's trades in between are taken as its latest).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub(crate) stream_spacing_ms: u64,
    /// Replay speed: replayed seconds per real second (replay only).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) speed: f64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MonitorCommand {
    /// Run one cycle and report it (`--verbose` lists its alerts).
    #[command(after_help = "Example:\n  invest monitor run --verbose --market replay:prices.csv")]
    Run {
        #[command(flatten)]
        market: MarketArgs,
    },
    /// Run cycles every interval until Ctrl-C (the cycle in progress finishes first).
    #[command(after_help = "Example:\n  invest monitor start --interval 30s")]
    Start {
        #[command(flatten)]
        market: MarketArgs,
        /// Time between cycles: minutes (`15`), or with a unit (`30s`, `5m`, `1h`).
        #[arg(long, default_value = "15", value_parser = parse_interval)]
        interval: Duration,
    },
    /// The live workers on this database: their shards of the rules and their last cycle
    /// (exits 1 when no worker is live).
    #[command(after_help = "Example:\n  invest monitor status --json")]
    Status,
}

/// How often a rule fires.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum FrequencyArg {
    /// Once; then the rule disables itself.
    Once,
    /// At most once per exchange day.
    Daily,
    /// Every time the condition becomes true again (after the cooldown).
    Every,
}

/// How a rule fires: the options `rules add` saves and `rules backtest` replays.
#[derive(Debug, clap::Args)]
pub(crate) struct FiringArgs {
    /// How often it fires.
    #[arg(long, value_enum, default_value = "every")]
    pub(crate) frequency: FrequencyArg,
    /// Minutes before it may fire again.
    #[arg(long, value_name = "MINUTES", default_value_t = 0)]
    pub(crate) cooldown: u32,
    /// After firing, re-arm only once the price is this many percent back across the level
    /// (price-level and cross-a-level rules).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub(crate) hysteresis: Option<rust_decimal::Decimal>,
    /// Fire only once the condition has held this long (`15m`, `2h`) or this many evaluations
    /// in a row (`3x`).
    #[arg(long, value_name = "DURATION|Nx", value_parser = parse_pending)]
    pub(crate) pending: Option<signal_sentinel::engine::Pending>,
    /// Also send a notice when the condition stops holding.
    #[arg(long)]
    pub(crate) notify_on_resolve: bool,
    /// Also evaluate before and after the regular session.
    #[arg(long)]
    pub(crate) extended_hours: bool,
    /// Treat a quote older than this many minutes as missing.
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub(crate) stale_after: u32,
    /// On every quote; once per session on the official close (compared with the previous
    /// close: an intraday cross gone by the close does not fire); or on closed bars (the day's
    /// for average, RSI, volume and 52-week rules, each closed minute bar for the others).
    #[arg(long, value_enum, default_value = "every-sample")]
    pub(crate) evaluate: EvaluateArg,
    /// While it has no data in market hours: `keep-state`, `resolve`, `alert` (an alert of its
    /// own, once) or `keep-firing-for=30m`.
    #[arg(long, value_name = "POLICY", default_value = "keep-state", value_parser = parse_gap_policy)]
    pub(crate) no_data: signal_sentinel::engine::GapPolicy,
    /// While its samples cannot be evaluated: the same choices as --no-data.
    #[arg(long, value_name = "POLICY", default_value = "keep-state", value_parser = parse_gap_policy)]
    pub(crate) on_error: signal_sentinel::engine::GapPolicy,
    /// Not evaluated at or after this instant (RFC 3339, `2026-12-31T21:00:00Z`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub(crate) expires: Option<chrono::DateTime<chrono::Utc>>,
}

/// `keep-state`, `resolve`, `alert` or `keep-firing-for=DURATION` (`30m`, `2h`).
pub(crate) fn parse_gap_policy(text: &str) -> Result<signal_sentinel::engine::GapPolicy, String> {
    use signal_sentinel::engine::GapPolicy;
    match text.trim() {
        "keep-state" => Ok(GapPolicy::KeepState),
        "resolve" => Ok(GapPolicy::Resolve),
        "alert" => Ok(GapPolicy::Alert),
        other => match other.strip_prefix("keep-firing-for=") {
            Some(duration) => {
                let d = parse_repeat(duration)?;
                Ok(GapPolicy::KeepFiringFor(
                    u32::try_from(d.as_secs() / 60).unwrap_or(u32::MAX),
                ))
            }
            None => Err(format!(
                "{text}: use keep-state, resolve, alert or keep-firing-for=30m"
            )),
        },
    }
}

/// `--evaluate`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum EvaluateArg {
    /// Every fresh quote (the live price as today's close).
    EverySample,
    /// Once per session, at the official close.
    AtSessionClose,
    /// On closed bars: daily-indicator rules on the day's, others on each closed minute bar.
    AtBarClose,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Add a rule, e.g. `invest rules add "AAPL crosses above 200" --frequency once`.
    #[command(
        after_help = "Examples:\n  invest rules add \"TSLA day change <= -5%\" --frequency daily --name \"tsla drop\"\n  invest rules add --say \"tell me if Apple drops 5% today\"\n  invest rules add --say \"ping me when Nvidia is overbought\" --yes"
    )]
    Add {
        /// The rule in the text form (see docs/rules.md), quoted.
        #[arg(required_unless_present = "say", conflicts_with = "say")]
        rule: Option<String>,
        /// The rule in plain words ("tell me if Apple drops 5% today"): the rule read from it
        /// is shown and saved once you confirm.
        #[arg(long, value_name = "SENTENCE")]
        say: Option<String>,
        /// With --say: save the rule read without asking (for scripts).
        #[arg(long, requires = "say")]
        yes: bool,
        /// A name for it.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        firing: FiringArgs,
        /// The message, with placeholders like {{symbol}} {{price}} {{change_pct}}.
        #[arg(long, value_name = "TEMPLATE")]
        message: Option<String>,
        /// Remind while the condition keeps holding after a firing, this often (`30m`, `2h`).
        #[arg(long, value_name = "DURATION", value_parser = parse_repeat)]
        repeat_every: Option<Duration>,
        /// At most this many reminders per firing (with --repeat-every).
        #[arg(long, value_name = "N", requires = "repeat_every", value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat_times: Option<u32>,
        /// No reminders at or after this instant (RFC 3339, `2026-12-31T21:00:00Z`).
        #[arg(long, value_name = "TIME", requires = "repeat_every", value_parser = parse_instant)]
        repeat_until: Option<chrono::DateTime<chrono::Utc>>,
        /// How its alerts rank where services rank messages (ntfy, Gotify, Pushover).
        #[arg(long, value_parser = ["low", "normal", "high", "urgent"])]
        priority: Option<String>,
        /// Store it disabled.
        #[arg(long)]
        disabled: bool,
        /// Add it even if you have the same rule with the same options already.
        #[arg(long)]
        allow_duplicate: bool,
    },
    /// Change a rule in place, e.g. `invest rules edit 1 --rule "AAPL crosses above 210"
    /// --cooldown 30`; what is not given stays as it is.
    #[command(
        after_help = "Example:\n  invest rules edit 12 --rule \"AAPL crosses above 210\" --cooldown 30"
    )]
    Edit {
        /// The rule's id.
        #[arg(value_parser = parse_rule_id)]
        id: RuleId,
        /// A new rule text (symbol and condition).
        #[arg(long, value_name = "TEXT")]
        rule: Option<String>,
        /// A new name.
        #[arg(long)]
        name: Option<String>,
        /// How often it fires.
        #[arg(long, value_enum)]
        frequency: Option<FrequencyArg>,
        /// Minutes before it may fire again.
        #[arg(long, value_name = "MINUTES")]
        cooldown: Option<u32>,
        /// A new message template.
        #[arg(long, value_name = "TEMPLATE", conflicts_with = "default_message")]
        message: Option<String>,
        /// Go back to the default message.
        #[arg(long)]
        default_message: bool,
        /// Evaluate before and after the regular session too (`true`) or not (`false`).
        #[arg(long, value_name = "BOOL")]
        extended_hours: Option<bool>,
        /// Remind while the condition keeps holding after a firing, this often (`30m`, `2h`).
        #[arg(long, value_name = "DURATION", value_parser = parse_repeat, conflicts_with = "no_repeat")]
        repeat_every: Option<Duration>,
        /// At most this many reminders per firing.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
        repeat_times: Option<u32>,
        /// No reminders at or after this instant (RFC 3339, `2026-12-31T21:00:00Z`).
        #[arg(long, value_name = "TIME", value_parser = parse_instant)]
        repeat_until: Option<chrono::DateTime<chrono::Utc>>,
        /// No more reminders.
        #[arg(long)]
        no_repeat: bool,
        /// How its alerts rank where services rank messages (ntfy, Gotify, Pushover).
        #[arg(long, value_parser = ["low", "normal", "high", "urgent"])]
        priority: Option<String>,
    },
    /// List your rules (`--symbol`, `--enabled`, `--disabled` narrow it).
    #[command(after_help = "Example:\n  invest rules list --symbol AAPL --enabled")]
    List {
        /// Only rules on this symbol.
        #[arg(long)]
        symbol: Option<String>,
        /// Only enabled rules.
        #[arg(long, conflicts_with = "disabled")]
        enabled: bool,
        /// Only disabled rules.
        #[arg(long)]
        disabled: bool,
        /// At most this many rules, 1 to 200 (the API's largest page).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=200))]
        limit: u64,
    },
    /// Show one rule with its state, e.g. `invest rules show 12`.
    #[command(after_help = "Example:\n  invest rules show 12")]
    Show {
        /// The rule's id.
        #[arg(value_parser = parse_rule_id)]
        id: RuleId,
    },
    /// Delete a rule (its alerts are kept).
    #[command(after_help = "Example:\n  invest rules rm 12")]
    Rm {
        /// The rule's id.
        #[arg(value_parser = parse_rule_id)]
        id: RuleId,
    },
    /// Enable a rule.
    #[command(after_help = "Example:\n  invest rules enable 12")]
    Enable {
        /// The rule's id.
        #[arg(value_parser = parse_rule_id)]
        id: RuleId,
    },
    /// Disable a rule.
    #[command(after_help = "Example:\n  invest rules disable 12")]
    Disable {
        /// The rule's id.
        #[arg(value_parser = parse_rule_id)]
        id: RuleId,
    },
    /// Snooze a rule for a while (`--for 2h`), or wake it (`--off`).
    #[command(after_help = "Example:\n  invest rules snooze 12 --for 2h")]
    Snooze {
        /// The rule's id.
        #[arg(value_parser = parse_rule_id)]
        id: RuleId,
        /// How long: minutes (`30`), or with a unit (`45m`, `2h`, `7d`); at most a year.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_snooze, required_unless_present = "off")]
        duration: Option<Duration>,
        /// Wake the rule now.
        #[arg(long, conflicts_with = "duration")]
        off: bool,
    },
    /// Print your rules as a text file, one per line with its name and options.
    #[command(after_help = "Example:\n  invest rules export > rules.txt")]
    Export,
    /// Add the rules of a file `rules export` wrote (or `-` for standard input): all or
    /// nothing; rules you have already are skipped and reported.
    #[command(after_help = "Example:\n  invest rules import rules.txt")]
    Import {
        /// The rules file, or `-` to read standard input.
        file: PathBuf,
    },
    /// Show the alerts a rule would have sent over past prices, with the options it would be
    /// saved with.
    #[command(
        after_help = "Example:\n  invest rules backtest \"AAPL crosses above 200 and volume >= 2x avg(20)\" --csv prices.csv --cooldown 1440"
    )]
    Backtest {
        /// The rule, e.g. "AAPL crosses above 200" (see docs/rules.md).
        rule: String,
        /// Prices in the replay CSV format (time,symbol,open,high,low,close,volume); a
        /// combination reads every symbol it names from it.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Replay from this date (`2009-06-01`); default: the file's first.
        #[arg(long, value_name = "DATE")]
        from: Option<chrono::NaiveDate>,
        /// Replay to this date; default: the file's last.
        #[arg(long, value_name = "DATE")]
        to: Option<chrono::NaiveDate>,
        #[command(flatten)]
        firing: FiringArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AlertsCommand {
    /// Your newest alerts, e.g. `invest alerts list --limit 5 --symbol AAPL`.
    #[command(after_help = "Example:\n  invest alerts list --symbol AAPL --since 24h")]
    List {
        /// At most this many, 1 to 200 (the API's largest page).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=200))]
        limit: u64,
        /// Only this symbol's alerts.
        #[arg(long)]
        symbol: Option<String>,
        /// Only this rule's alerts.
        #[arg(long, value_name = "ID", value_parser = parse_rule_id)]
        rule: Option<RuleId>,
        /// Only `new` (not acknowledged) or `acknowledged` alerts.
        #[arg(long, value_parser = ["new", "acknowledged"])]
        state: Option<String>,
        /// Only alerts of the last AGE (`24h`, `7d`, `2w`) or since a date (`2026-11-01`, UTC).
        #[arg(long, value_name = "AGE|DATE", value_parser = parse_since)]
        since: Option<Since>,
    },
    /// One alert and its delivery to each channel, e.g. `invest alerts show 41`.
    #[command(after_help = "Example:\n  invest alerts show 41")]
    Show {
        /// The alert's id.
        #[arg(value_parser = parse_alert_id)]
        id: AlertId,
    },
    /// Mark an alert as seen.
    #[command(after_help = "Example:\n  invest alerts ack 41")]
    Ack {
        /// The alert's id.
        #[arg(value_parser = parse_alert_id)]
        id: AlertId,
    },
    /// Delete your alerts older than an age or a date, e.g. `invest alerts clean --older-than 30d`.
    #[command(after_help = "Example:\n  invest alerts clean --older-than 30d")]
    Clean {
        /// `30d`, `12h`, `2w`, or a date (`2026-01-01`, UTC).
        #[arg(long, value_name = "AGE|DATE", value_parser = parse_since)]
        older_than: Since,
    },
}

/// An instant given as an age before now or as a date.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Since {
    /// This long before now.
    Age(chrono::Duration),
    /// Midnight UTC of this date.
    Date(chrono::NaiveDate),
}

impl Since {
    /// The instant, relative to `now`.
    pub(crate) fn instant(
        self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        match self {
            Self::Age(age) => now - age,
            Self::Date(date) => date.and_time(chrono::NaiveTime::MIN).and_utc(),
        }
    }
}

/// An instant in RFC 3339: `2026-12-31T21:00:00Z`, `2026-12-31T16:00:00-05:00`.
pub(crate) fn parse_instant(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.to_utc())
        .map_err(|_| format!("{text:?} is not an RFC 3339 time like 2026-12-31T21:00:00Z"))
}

/// `24h`, `30d`, `2w`, or `2026-11-01`.
pub(crate) fn parse_since(text: &str) -> Result<Since, String> {
    let text = text.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Since::Date(date));
    }
    let hint = || format!("{text:?} is neither an age (24h, 30d, 2w) nor a date (2026-11-01)");
    let (n, unit) = number_and_unit(text).ok_or_else(hint)?;
    let n = i64::try_from(n).map_err(|_| hint())?;
    let hours = match unit {
        "h" => Some(n),
        "d" => n.checked_mul(24),
        "w" => n.checked_mul(24 * 7),
        _ => return Err(hint()),
    };
    let Some(hours) = hours.filter(|h| (1..=24 * 365 * 100).contains(h)) else {
        return Err(format!("{text:?} is out of range (1 hour to 100 years)"));
    };
    Ok(Since::Age(chrono::Duration::hours(hours)))
}

/// An alert id: a positive number (`#41` is accepted too).
pub(crate) fn parse_alert_id(text: &str) -> Result<AlertId, String> {
    parse_id(text, "an alert id", "invest alerts list")
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Create a user, e.g. `echo "$PASSWORD" | invest auth create-user ann@example.com
    /// --password-stdin`.
    #[command(
        after_help = "Example:\n  echo \"$PASSWORD\" | invest auth create-user ann@example.com --password-stdin"
    )]
    CreateUser {
        /// The e-mail address the user logs in with.
        email: String,
        /// The name to show.
        #[arg(long)]
        name: Option<String>,
        /// Read the password (at least 8 characters) from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the users.
    #[command(after_help = "Example:\n  invest auth list-users")]
    ListUsers,
    /// Create an API key for scripts (`--user` or SIGNAL_SENTINEL_USER chooses the account);
    /// the key is printed once.
    #[command(after_help = "Example:\n  invest auth create-api-key \"nightly report\"")]
    CreateApiKey {
        /// What the key is for.
        name: String,
    },
    /// List the API keys of a user (never the keys themselves).
    #[command(after_help = "Example:\n  invest auth list-api-keys --user ann@example.com")]
    ListApiKeys,
    /// Revoke an API key; the next request with it is refused.
    #[command(after_help = "Example:\n  invest auth revoke-api-key 3")]
    RevokeApiKey {
        /// The key's id (see `invest auth list-api-keys`).
        key_id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PortfolioCommand {
    /// Positions valued at current quotes: market value, today's change, gain against cost.
    #[command(after_help = "Example:\n  invest portfolio show --json")]
    Show,
    /// Import holdings from a CSV file with the columns symbol,quantity,cost_basis,account
    /// (the last two optional). Every bad line is reported with its number and then nothing
    /// is imported; each good row replaces the position with the same account and symbol.
    #[command(after_help = "Example:\n  invest portfolio import holdings.csv")]
    Import {
        /// The CSV file.
        file: PathBuf,
    },
    /// Synchronise the holdings of every linked brokerage now (the worker also does it every
    /// PLAID_SYNC_HOURS). A link that fails keeps its positions; exits 1 when one needs you.
    #[command(after_help = "Example:\n  invest portfolio sync")]
    Sync,
    /// Linked brokerages (link them on the dashboard): health, positions, last sync and
    /// what to do about a failure. Exits 1 when a link needs you.
    #[command(after_help = "Example:\n  invest portfolio link-status --json")]
    LinkStatus,
    /// "Watch my holdings": create rules for every position at once (by default a 10% fall
    /// below cost and a 5% day move); rules that exist already are not created twice, so run
    /// it again after new positions arrive.
    #[command(after_help = "Example:\n  invest portfolio watch --below-cost 15 --weight 30")]
    Watch {
        /// `SYMBOL position X% below cost` for positions with a cost basis.
        #[arg(long, value_name = "PERCENT")]
        below_cost: Option<rust_decimal::Decimal>,
        /// `SYMBOL position day move >= X%`.
        #[arg(long, value_name = "PERCENT")]
        day_move: Option<rust_decimal::Decimal>,
        /// `SYMBOL position weight > X%` (share of the whole portfolio).
        #[arg(long, value_name = "PERCENT")]
        weight: Option<rust_decimal::Decimal>,
    },
    /// Remove a linked brokerage and the positions it reported (revokes its access).
    #[command(after_help = "Example:\n  invest portfolio unlink 3")]
    Unlink {
        /// The link's id (from `invest portfolio link-status`).
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCommand {
    /// Create the database if needed and apply pending migrations.
    #[command(after_help = "Example:\n  invest db migrate")]
    Migrate,
    /// Check the database: integrity (SQLite) or connectivity (PostgreSQL), and pending
    /// migrations. Exits 1 when the database is unhealthy or unreachable.
    #[command(after_help = "Example:\n  invest db check --json")]
    Check,
    /// Rows per table and the database's size.
    #[command(after_help = "Example:\n  invest db stats")]
    Stats,
    /// A hot backup of the SQLite database (the server and monitor keep running): copied with
    /// VACUUM INTO, checked with PRAGMA integrity_check, gzip-compressed into
    /// DIR/signal_sentinel_YYYYMMDD_HHMMSS.db.gz; older copies past the retention are removed.
    /// On PostgreSQL it prints the pg_dump command to use instead.
    #[command(
        after_help = "Example:\n  invest db backup --to /backups/signal-sentinel --keep-days 7"
    )]
    Backup {
        /// Where the copies go.
        #[arg(long, value_name = "DIR", default_value = "./backups")]
        to: PathBuf,
        /// Remove copies in DIR older than this many days.
        #[arg(long, value_name = "DAYS", default_value_t = 7)]
        keep_days: u32,
    },
    /// Put a backup in place of the SQLite database: the backup (`.db.gz` from `db backup`, or
    /// a plain SQLite file) is checked first; a database in use is refused unless `--force`;
    /// the replaced file is kept as DATABASE.replaced-YYYYMMDD_HHMMSS. On PostgreSQL it prints
    /// the pg_restore command to use instead.
    #[command(
        after_help = "Example:\n  invest db restore backups/signal_sentinel_20261128_221500.db.gz"
    )]
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Replace the database even while a server or monitor has it open (they keep the old
        /// file open: restart them).
        #[arg(long)]
        force: bool,
    },
    /// Give free space back and refresh the planner's statistics (SQLite: VACUUM, which
    /// rewrites the file and makes writers wait; PostgreSQL: VACUUM (ANALYZE), online).
    #[command(after_help = "Example:\n  invest db vacuum")]
    Vacuum,
    /// Copy every row of one database into another, empty one — to move from SQLite to
    /// PostgreSQL. Ids are kept; the copy is one transaction on the target (all or nothing).
    /// Stop the services using the source first.
    #[command(
        after_help = "Example:\n  invest db copy --from sqlite://./data/signal_sentinel.db --to postgres://sentinel:pw@db/sentinel"
    )]
    Copy {
        /// The database to copy (default: DATABASE_URL / --database-url); it must be up to date
        /// (`invest db migrate`).
        #[arg(long, value_name = "URL")]
        from: Option<String>,
        /// The empty database to fill (created and migrated when it does not exist yet).
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

/// A rule id: a positive number (`#12` is accepted too).
pub(crate) fn parse_rule_id(text: &str) -> Result<RuleId, String> {
    parse_id(text, "a rule id", "invest rules list")
}

/// A positive id, with or without a leading `#`; the error names the command that lists them.
fn parse_id<T: std::str::FromStr>(text: &str, what: &str, listing: &str) -> Result<T, String> {
    text.trim()
        .trim_start_matches('#')
        .parse()
        .map_err(|_| format!("{text:?} is not {what}; use the number `{listing}` shows"))
}

/// `30s` → (30, "s"): the leading digits and the unit after them.
fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    Some((number.parse().ok()?, unit))
}

/// `15` (minutes), `30s`, `5m`, `1h`: at most a day.
pub(crate) fn parse_interval(text: &str) -> Result<Duration, String> {
    signal_sentinel::time::parse_duration(text, Duration::from_secs(86_400))
        .map_err(|e| e.to_string())
}

/// `30` (minutes), `45m`, `2h`: whole minutes, at most a week (a rule's reminders).
pub(crate) fn parse_repeat(text: &str) -> Result<Duration, String> {
    let duration = signal_sentinel::time::parse_duration(text, Duration::from_secs(7 * 86_400))
        .map_err(|e| e.to_string())?;
    if duration.as_secs() % 60 != 0 {
        return Err(format!("{text}: give whole minutes (30m, 2h)"));
    }
    Ok(duration)
}

/// A percentage, `2` or `2.5` (a trailing `%` is allowed).
pub(crate) fn parse_percent(text: &str) -> Result<rust_decimal::Decimal, String> {
    text.trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("{text}: give a number of percent, e.g. 2 or 2.5"))
}

/// `15m`, `2h` (minutes of quote time) or `3x` (evaluations in a row).
pub(crate) fn parse_pending(text: &str) -> Result<signal_sentinel::engine::Pending, String> {
    use signal_sentinel::engine::Pending;
    if let Some(n) = text.trim().strip_suffix(['x', 'X']) {
        return n
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Pending::Evaluations)
            .ok_or_else(|| format!("{text}: give a whole number of evaluations, e.g. 3x"));
    }
    let duration = parse_repeat(text)?;
    Ok(Pending::Minutes(
        u32::try_from(duration.as_secs() / 60).unwrap_or(u32::MAX),
    ))
}

/// `30` (minutes), `45m`, `2h`, `7d`: at most a year, as the API allows.
pub(crate) fn parse_snooze(text: &str) -> Result<Duration, String> {
    signal_sentinel::time::parse_duration(text, signal_sentinel::service::MAX_SNOOZE)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("15"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("5y").unwrap_err().contains("unknown unit"));
        assert!(parse_interval("2d").unwrap_err().contains("at most 1 day"));
        assert!(
            parse_snooze("2000000000000h")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            parse_snooze("307445734561825861m")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_interval("soon").is_err());
    }

    #[test]
    fn ages_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-28T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |t: &str| parse_since(t).map(|s| s.instant(now).to_rfc3339());
        assert_eq!(at("24h").unwrap(), "2026-11-27T12:00:00+00:00");
        assert_eq!(at("30d").unwrap(), "2026-10-29T12:00:00+00:00");
        assert_eq!(at("2w").unwrap(), "2026-11-14T12:00:00+00:00");
        assert_eq!(at("2026-11-01").unwrap(), "2026-11-01T00:00:00+00:00");
        assert!(at("0d").unwrap_err().contains("out of range"));
        assert!(
            at("99999999999999999w")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(at("30 days").unwrap_err().contains("neither an age"));
        assert!(at("2026-13-01").is_err());
    }
}
