//! The variables a configuration is read from, and the checks every reader shares.

use std::collections::HashMap;

use url::Url;

use crate::Secret;

use super::{ConfigError, invalid};

/// The variables a configuration is read from: blank values count as unset, values are
/// trimmed.
pub(super) struct Vars(HashMap<String, String>);

impl Vars {
    pub(super) fn new<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(_, v)| !v.trim().is_empty())
                .collect(),
        )
    }

    pub(super) fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.trim().to_owned())
    }

    pub(super) fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret::new)
    }

    /// A whole number from 1 to 1,000,000, or `default`.
    pub(super) fn whole(&self, name: &'static str, default: u64) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| invalid(name, "expected a whole number from 1 to 1000000")),
        }
    }

    pub(super) fn base_url(&self, name: &'static str, default: &str) -> Result<Url, ConfigError> {
        base_url(&self.0, name, default)
    }

    /// A WebSocket URL (`ws://` or `wss://`).
    pub(super) fn ws_url(&self, name: &'static str, default: &str) -> Result<Url, ConfigError> {
        let raw = self.0.get(name).map_or(default, |v| v.trim());
        let url = Url::parse(raw).map_err(|_| invalid(name, "expected a ws:// or wss:// URL"))?;
        if !matches!(url.scheme(), "ws" | "wss") || url.host_str().is_none() {
            return Err(invalid(name, "expected a ws:// or wss:// URL"));
        }
        Ok(url)
    }
}

pub(super) fn base_url(
    vars: &HashMap<String, String>,
    name: &'static str,
    default: &str,
) -> Result<Url, ConfigError> {
    let raw = vars.get(name).map_or(default, |v| v.trim());
    let url = Url::parse(raw).map_err(|_| invalid(name, "expected an http:// or https:// URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(name, "expected an http:// or https:// URL"));
    }
    Ok(url)
}

pub(super) fn pair(
    a: &Option<Secret>,
    a_name: &'static str,
    b: &Option<Secret>,
    b_name: &'static str,
) -> Result<(), ConfigError> {
    match (a.is_some(), b.is_some()) {
        (true, false) => Err(invalid(b_name, format!("must be set when {a_name} is"))),
        (false, true) => Err(invalid(a_name, format!("must be set when {b_name} is"))),
        _ => Ok(()),
    }
}
