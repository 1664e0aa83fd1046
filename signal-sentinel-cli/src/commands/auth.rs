//! `invest auth …`

use std::io::BufRead;
use std::process::ExitCode;

use serde_json::json;
use signal_sentinel::Secret;
use signal_sentinel::auth::hash_password;
use signal_sentinel::config::Settings;
use signal_sentinel::domain::{Email, NewUser};
use signal_sentinel::store::{SeaStore, StoreError, UserStore};

use crate::cli::AuthCommand;

use crate::output::out;

pub(crate) async fn run(
    settings: &Settings,
    command: AuthCommand,
    as_json: bool,
) -> Result<ExitCode, String> {
    let store = SeaStore::open(&settings.database_url)
        .await
        .map_err(|e| e.to_string())?;
    match command {
        AuthCommand::CreateUser {
            email,
            name,
            password_stdin: _,
        } => {
            let email = Email::parse(&email).map_err(|e| e.to_string())?;
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            let password = Secret::new(line.trim_end_matches(['\n', '\r']));
            let password_hash = hash_password(password).await.map_err(|e| e.to_string())?;
            let user = store
                .create_user(NewUser {
                    email: email.clone(),
                    password_hash,
                    display_name: name,
                })
                .await
                .map_err(|e| match e {
                    StoreError::Conflict { .. } => {
                        format!("a user with the e-mail address {email} exists already")
                    }
                    e => e.to_string(),
                })?;
            if as_json {
                out!("{}", json!(user));
            } else {
                out!("created user {} (#{})", user.email, user.id);
            }
        }
        AuthCommand::ListUsers => {
            let users = store.list_users().await.map_err(|e| e.to_string())?;
            if as_json {
                out!("{}", json!(users));
            } else if users.is_empty() {
                out!(
                    "no users yet; create one with `invest auth create-user EMAIL --password-stdin`"
                );
            } else {
                out!("{:>5}  {:<32}  {:<20}  CREATED", "ID", "E-MAIL", "NAME");
                for u in &users {
                    out!(
                        "{:>5}  {:<32}  {:<20}  {}",
                        u.id.to_string(),
                        u.email.to_string(),
                        u.display_name.as_deref().unwrap_or("-"),
                        u.created_at.format("%Y-%m-%d %H:%M")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
