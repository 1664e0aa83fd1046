//! `invest quote …` and `invest providers …`

use std::process::ExitCode;

use chrono_tz::America::New_York;
use serde_json::json;
use signal_sentinel::config::Settings;
use signal_sentinel::domain::Symbol;
use signal_sentinel::domain::text::printable;
use signal_sentinel::market::probe_providers;

use crate::output::{Style, Table, out, plain, styled};

/// `invest quote SYMBOL…`
pub(crate) async fn quote(
    settings: &Settings,
    symbols: &[String],
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    // The API's checks and bounds (at most 50 symbols, each a valid one).
    let quotes = super::services(settings).await?.quotes(symbols).await?;
    let mut named: Vec<Symbol> = Vec::new();
    for symbol in symbols.iter().flat_map(|s| s.split(',')).map(str::trim) {
        if let Ok(symbol) = Symbol::parse(symbol)
            && !named.contains(&symbol)
        {
            named.push(symbol);
        }
    }
    let symbols = named;
    let missing: Vec<&Symbol> = symbols
        .iter()
        .filter(|s| !quotes.iter().any(|q| &q.symbol == *s))
        .collect();
    if as_json {
        out!("{}", json!({"quotes": quotes, "missing": missing}));
        return Ok(ExitCode::SUCCESS);
    }
    let mut table =
        Table::new(&["SYMBOL", "PRICE", "CHANGE", "TIME (NEW YORK)", "PROVIDER"]).right(&[1, 2]);
    for symbol in &symbols {
        match quotes.iter().find(|q| &q.symbol == symbol) {
            Some(q) => table.row([
                q.symbol.as_str().to_owned(),
                q.price.to_string(),
                q.change_percent()
                    .map(|c| format!("{:+.2}%", c))
                    .unwrap_or_else(|| "—".into()),
                q.at.with_timezone(&New_York)
                    .format("%Y-%m-%d %H:%M")
                    .to_string(),
                printable(&q.source).into_owned(),
            ]),
            None => table.row([symbol.as_str(), "no data"]),
        }
    }
    table.print();
    Ok(ExitCode::SUCCESS)
}

/// `invest providers status`
pub(crate) async fn providers_status(
    settings: &Settings,
    symbol: &str,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let symbol = Symbol::parse(symbol)?;
    let probes = probe_providers(settings, &symbol).await?;
    if as_json {
        out!("{}", json!(probes));
    } else {
        let mut table = Table::new(&["PROVIDER", "STATE", "TIME", "ANSWER"]).right(&[2]);
        for p in &probes {
            let answer = match (&p.price, &p.error) {
                (Some(price), _) => format!("{symbol} {price}"),
                (None, Some(e)) => printable(e).into_owned(),
                (None, None) => String::new(),
            };
            table.row([
                plain(&p.provider),
                if p.ok {
                    styled("ok", Style::Green)
                } else {
                    styled("FAIL", Style::Red)
                },
                plain(format!("{}ms", p.millis)),
                plain(answer),
            ]);
        }
        table.print();
    }
    Ok(if probes.iter().any(|p| p.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
