//! `invest auth …`

use std::io::BufRead;
use std::process::ExitCode;

use signal_sentinel::domain::text::printable;

use anyhow::Context;
use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::config::Settings;
use signal_sentinel::domain::ApiKeyId;
use signal_sentinel::service::ServiceError;

use crate::cli::AuthCommand;

use crate::output::{Table, out};

pub(crate) async fn run(
    settings: &Settings,
    user: Option<&str>,
    command: AuthCommand,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    if matches!(
        command,
        AuthCommand::CreateApiKey { .. }
            | AuthCommand::ListApiKeys
            | AuthCommand::RevokeApiKey { .. }
    ) {
        return api_keys(settings, user, command, as_json).await;
    }
    let services = super::services(settings).await?;
    match command {
        AuthCommand::CreateUser {
            email,
            name,
            password_stdin: _,
        } => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            let password = Secret::new(line.trim_end_matches(['\n', '\r']));
            let user = services.register(&email, password, name).await?;
            if as_json {
                out!("{}", json!(user));
            } else {
                out!("created user {} (#{})", user.email, user.id);
            }
        }
        AuthCommand::CreateApiKey { .. }
        | AuthCommand::ListApiKeys
        | AuthCommand::RevokeApiKey { .. } => unreachable!("handled first"),
        AuthCommand::ListUsers => {
            let users = services.list_users().await?;
            if as_json {
                out!("{}", json!(users));
            } else if users.is_empty() {
                out!(
                    "no users yet; create one with `invest auth create-user EMAIL --password-stdin`"
                );
            } else {
                let mut table = Table::new(&["ID", "E-MAIL", "NAME", "CREATED"]).right(&[0]);
                for u in &users {
                    table.row([
                        u.id.to_string(),
                        printable(u.email.as_str()).into_owned(),
                        printable(u.display_name.as_deref().unwrap_or("-")).into_owned(),
                        u.created_at.format("%Y-%m-%d %H:%M").to_string(),
                    ]);
                }
                table.print();
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn api_keys(
    settings: &Settings,
    user: Option<&str>,
    command: AuthCommand,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let (services, who, me) = super::services_as(settings, user).await?;
    match command {
        AuthCommand::CreateApiKey { name } => {
            let (key, secret) = services.create_api_key(who, &name).await?;
            if as_json {
                let mut value = json!(key);
                value["key"] = json!(secret.expose());
                out!("{value}");
            } else {
                out!(
                    "created API key #{} \"{}\" for {}; it is shown this once:\n{}",
                    key.id,
                    printable(&key.name),
                    me.email,
                    secret.expose()
                );
            }
        }
        AuthCommand::ListApiKeys => {
            let keys = services.list_api_keys(who).await?;
            if as_json {
                out!("{}", json!(keys));
            } else if keys.is_empty() {
                out!("no API keys; create one with `invest auth create-api-key NAME`");
            } else {
                let mut table =
                    Table::new(&["ID", "NAME", "PREFIX", "CREATED", "LAST USED", "STATE"])
                        .right(&[0]);
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map_or("-".to_owned(), |t| t.format("%Y-%m-%d %H:%M").to_string())
                };
                for k in &keys {
                    table.row([
                        k.id.to_string(),
                        printable(&k.name).into_owned(),
                        format!("{}…", printable(&k.prefix)),
                        when(Some(k.created_at)),
                        when(k.last_used_at),
                        (if k.is_active() { "active" } else { "revoked" }).to_owned(),
                    ]);
                }
                table.print();
            }
        }
        AuthCommand::RevokeApiKey { key_id } => {
            let key = services
                .revoke_api_key(who, ApiKeyId::new(key_id))
                .await
                .map_err(|e| match e {
                    ServiceError::NotFound(_) => anyhow::anyhow!(
                        "API key #{key_id} not found among the active keys of {}; `invest auth list-api-keys` shows them",
                        me.email
                    ),
                    e => e.into(),
                })?;
            if as_json {
                out!("{}", json!(key));
            } else {
                out!("revoked API key #{} \"{}\"", key.id, printable(&key.name));
            }
        }
        AuthCommand::CreateUser { .. } | AuthCommand::ListUsers => unreachable!("handled by run"),
    }
    Ok(ExitCode::SUCCESS)
}
