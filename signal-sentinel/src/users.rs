//! Which user a command acts for.

use thiserror::Error;

use crate::domain::{Email, User};
use crate::store::{Store, StoreError};

/// Why no user could be chosen.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ActingUserError {
    /// The e-mail given is not an address, or no account has it.
    #[error("{0}")]
    Unknown(String),
    /// There is no account at all.
    #[error(
        "there is no user yet; create one with `invest auth create-user EMAIL --password-stdin`"
    )]
    NoUsers,
    /// Several accounts, and none named.
    #[error("there are {0} users: choose one with --user EMAIL or SIGNAL_SENTINEL_USER")]
    Ambiguous(usize),
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The user named by `email`, or the only user when none is named.
///
/// # Errors
/// [`ActingUserError`] saying how to choose.
pub async fn acting_user(store: &dyn Store, email: Option<&str>) -> Result<User, ActingUserError> {
    if let Some(email) = email {
        let email = Email::parse(email).map_err(|e| ActingUserError::Unknown(e.to_string()))?;
        return match store.get_user_by_email(&email).await {
            Ok(user) => Ok(user),
            Err(StoreError::NotFound { .. }) => Err(ActingUserError::Unknown(format!(
                "no user has the e-mail address {email}"
            ))),
            Err(e) => Err(e.into()),
        };
    }
    let mut users = store.list_users().await?;
    match users.len() {
        0 => Err(ActingUserError::NoUsers),
        1 => Ok(users.remove(0)),
        n => Err(ActingUserError::Ambiguous(n)),
    }
}
