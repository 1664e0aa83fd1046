use serde::Serialize;

use super::{ApiKeyId, UserId};
use crate::time::Timestamp;

/// A stored API key. Only its public prefix and a SHA-256 hash of the whole key are kept; the
/// key itself is shown to its owner once, when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// Identifier.
    pub id: ApiKeyId,
    /// Owner.
    pub user_id: UserId,
    /// The owner's name for the key ("home server", "CI").
    pub name: String,
    /// Public, unique start of the key, used to find it (safe to show).
    pub prefix: String,
    /// Hex SHA-256 of the whole key. Never serialized.
    #[serde(skip)]
    pub key_hash: String,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key was last used to authenticate.
    pub last_used_at: Option<Timestamp>,
    /// When the key was revoked; a revoked key authenticates nobody.
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    /// Whether the key may still be used.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// What it takes to store a new [`ApiKey`].
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Owner.
    pub user_id: UserId,
    /// The owner's name for the key; unique per owner.
    pub name: String,
    /// Public, unique start of the key.
    pub prefix: String,
    /// Hex SHA-256 of the whole key.
    pub key_hash: String,
}
