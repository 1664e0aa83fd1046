use serde::Serialize;

use super::{Email, UserId};
use crate::Secret;
use crate::time::Timestamp;

/// An account. Rules, alerts, channels, API keys and holdings belong to one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// Login name, lower-cased.
    pub email: Email,
    /// PHC string of the argon2id password hash. Never serialized.
    #[serde(skip)]
    pub password_hash: Secret,
    /// Name to show, if the user gave one.
    pub display_name: Option<String>,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When the account last changed.
    pub updated_at: Timestamp,
}

/// What it takes to create a [`User`].
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name.
    pub email: Email,
    /// PHC string of the password hash (hashing is the auth module's job, not storage's).
    pub password_hash: Secret,
    /// Name to show.
    pub display_name: Option<String>,
}

/// Changes to a [`User`]; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// A new password hash.
    pub password_hash: Option<Secret>,
    /// A new display name (`Some(None)` clears it).
    pub display_name: Option<Option<String>>,
}
