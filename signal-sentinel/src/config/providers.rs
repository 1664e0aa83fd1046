//! The market-data providers: which ones, in which order, and their keys.

use url::Url;

use crate::Secret;

use super::vars::{Vars, pair};
use super::{ConfigError, invalid};

/// A market-data provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProviderName {
    /// Alpaca (keys).
    Alpaca,
    /// Finnhub (key).
    Finnhub,
    /// Yahoo Finance (no key).
    Yahoo,
}

/// Alpaca market data.
#[derive(Debug, Clone)]
pub struct AlpacaSettings {
    /// `ALPACA_API_KEY` (set together with the secret key).
    pub api_key: Option<Secret>,
    /// `ALPACA_SECRET_KEY`.
    pub secret_key: Option<Secret>,
    /// `ALPACA_BASE_URL`, default `https://data.alpaca.markets`.
    pub base_url: Url,
    /// `ALPACA_FEED`: `iex` (default, free plans) or `sip`.
    pub feed: String,
    /// `ALPACA_STREAM_URL`, default `wss://stream.data.alpaca.markets/v2/{ALPACA_FEED}`.
    pub stream_url: Url,
}

/// Finnhub market data.
#[derive(Debug, Clone)]
pub struct FinnhubSettings {
    /// `FINNHUB_API_KEY`.
    pub api_key: Option<Secret>,
    /// `FINNHUB_BASE_URL`, default `https://finnhub.io/api/v1`.
    pub base_url: Url,
    /// `FINNHUB_CALLS_PER_MINUTE`, default 60 (the free tier).
    pub calls_per_minute: u32,
    /// `FINNHUB_STREAM_URL`, default `wss://ws.finnhub.io`.
    pub stream_url: Url,
}

/// Yahoo Finance market data (no key).
#[derive(Debug, Clone)]
pub struct YahooSettings {
    /// `YAHOO_BASE_URL`, default `https://query1.finance.yahoo.com`.
    pub base_url: Url,
}

impl AlpacaSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let feed = match vars
            .get("ALPACA_FEED")
            .map(|f| f.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("iex") => "iex".to_owned(),
            Some("sip") => "sip".to_owned(),
            Some(_) => return Err(invalid("ALPACA_FEED", "expected iex or sip")),
        };
        let alpaca = Self {
            api_key: vars.secret("ALPACA_API_KEY"),
            secret_key: vars.secret("ALPACA_SECRET_KEY"),
            base_url: vars.base_url("ALPACA_BASE_URL", "https://data.alpaca.markets")?,
            stream_url: vars.ws_url(
                "ALPACA_STREAM_URL",
                &format!("wss://stream.data.alpaca.markets/v2/{feed}"),
            )?,
            feed,
        };
        pair(
            &alpaca.api_key,
            "ALPACA_API_KEY",
            &alpaca.secret_key,
            "ALPACA_SECRET_KEY",
        )?;
        Ok(alpaca)
    }
}

impl FinnhubSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            api_key: vars.secret("FINNHUB_API_KEY"),
            base_url: vars.base_url("FINNHUB_BASE_URL", "https://finnhub.io/api/v1")?,
            stream_url: vars.ws_url("FINNHUB_STREAM_URL", "wss://ws.finnhub.io")?,
            calls_per_minute: match vars.get("FINNHUB_CALLS_PER_MINUTE") {
                None => 60,
                Some(v) => v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    invalid(
                        "FINNHUB_CALLS_PER_MINUTE",
                        "expected a whole number of calls, 1 or more",
                    )
                })?,
            },
        })
    }
}

pub(super) fn parse_providers(
    raw: &str,
    alpaca: &AlpacaSettings,
    finnhub: &FinnhubSettings,
) -> Result<Vec<ProviderName>, ConfigError> {
    let expected = "expected a comma-separated list of alpaca, finnhub, yahoo";
    let mut list = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let provider = match name.to_ascii_lowercase().as_str() {
            "alpaca" if alpaca.api_key.is_none() => {
                return Err(invalid(
                    "MARKET_DATA_PROVIDERS",
                    "alpaca needs ALPACA_API_KEY and ALPACA_SECRET_KEY",
                ));
            }
            "finnhub" if finnhub.api_key.is_none() => {
                return Err(invalid(
                    "MARKET_DATA_PROVIDERS",
                    "finnhub needs FINNHUB_API_KEY",
                ));
            }
            "alpaca" => ProviderName::Alpaca,
            "finnhub" => ProviderName::Finnhub,
            "yahoo" => ProviderName::Yahoo,
            _ => return Err(invalid("MARKET_DATA_PROVIDERS", expected)),
        };
        if !list.contains(&provider) {
            list.push(provider);
        }
    }
    if list.is_empty() {
        return Err(invalid("MARKET_DATA_PROVIDERS", expected));
    }
    Ok(list)
}
