//! Authentication: argon2id passwords (hashed off the async runtime), session tokens
//! ([`tokens`]) and API keys ([`api_keys`]).

pub mod action_token;
pub mod api_keys;
pub mod throttle;
pub mod tokens;
pub mod vault;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;

use crate::Secret;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted, in bytes (hashing cost must not depend on what a client sends).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a password cannot be used or checked.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// Too short or too long.
    #[error("the password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long")]
    Length,
    /// The stored hash is not a PHC string argon2 can read.
    #[error("the stored password hash is unreadable")]
    Corrupt,
    /// Hashing failed (or its task did not finish).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// argon2id with the parameters OWASP recommends: 19 MiB of memory, 2 passes, 1 lane.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password's length.
///
/// # Errors
/// [`PasswordError::Length`].
pub fn check_new_password(password: &Secret) -> Result<(), PasswordError> {
    let text = password.expose();
    let length = text.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length) {
        return Err(PasswordError::Length);
    }
    Ok(())
}

/// Hashes a new password (after [`check_new_password`]) on a blocking thread; returns the PHC
/// string to store.
///
/// # Errors
/// [`PasswordError`] when the password is refused or hashing fails.
pub async fn hash_password(password: Secret) -> Result<Secret, PasswordError> {
    check_new_password(&password)?;
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.expose().as_bytes())
            .map(|hash| Secret::new(hash.to_string()))
            .map_err(|e| PasswordError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| PasswordError::Hashing(e.to_string()))?
}

/// Whether `password` matches the stored PHC string, checked on a blocking thread.
///
/// # Errors
/// [`PasswordError::Corrupt`] when the stored hash cannot be read.
pub async fn verify_password(password: Secret, stored: Secret) -> Result<bool, PasswordError> {
    if password.expose().chars().count() > MAX_PASSWORD_LEN {
        return Ok(false);
    }
    tokio::task::spawn_blocking(move || {
        let hash = PasswordHash::new(stored.expose()).map_err(|_| PasswordError::Corrupt)?;
        Ok(hasher()
            .verify_password(password.expose().as_bytes(), &hash)
            .is_ok())
    })
    .await
    .map_err(|e| PasswordError::Hashing(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_the_parameters() {
        let hash = hash_password(Secret::new("correct horse")).await.unwrap();
        assert!(
            hash.expose().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.expose()
        );
        assert!(
            verify_password(Secret::new("correct horse"), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password(Secret::new("correct horsE"), hash.clone())
                .await
                .unwrap()
        );
        let again = hash_password(Secret::new("correct horse")).await.unwrap();
        assert_ne!(again.expose(), hash.expose(), "a fresh salt each time");
        assert!(
            !format!("{hash:?}").contains("argon2id"),
            "Debug is redacted"
        );
    }

    #[tokio::test]
    async fn short_passwords_and_corrupt_hashes_are_refused() {
        assert!(matches!(
            hash_password(Secret::new("short")).await,
            Err(PasswordError::Length)
        ));
        assert!(matches!(
            verify_password(Secret::new("whatever1"), Secret::new("not a hash")).await,
            Err(PasswordError::Corrupt)
        ));
    }
}
