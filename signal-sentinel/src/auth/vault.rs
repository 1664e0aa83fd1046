//! Sealing secrets we keep for users (brokerage access tokens) so a copy of the database alone
//! does not reveal them.
//!
//! A token is sealed with ChaCha20-Poly1305 under a key derived (HKDF-SHA256) from
//! `SECRET_KEY`, with a fresh random nonce, bound to its owner and purpose as associated data
//! (a sealed token moved to another user's row does not open). The sealed form names the key
//! that sealed it: `v1.<key id>.<nonce hex>.<ciphertext hex>`, the key id being the first 8 hex
//! digits of SHA-256 of the derived key (it says nothing of the key).
//!
//! During a rotation of `SECRET_KEY` the vault also holds the key derived from
//! `SECRET_KEY_PREVIOUS`: it opens what either key sealed, and [`Vault::needs_reseal`] tells
//! which sealed values to seal again under the current key.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf::{HKDF_SHA256, Salt};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::Secret;

const VERSION: &str = "v1";
const INFO: &[u8] = b"signal-sentinel sealed secrets v1";

/// Why a sealed value does not open.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum VaultError {
    /// The value is not in the sealed format.
    #[error("the sealed value is malformed")]
    Malformed,
    /// Sealed under a key the vault does not hold (`SECRET_KEY` changed without
    /// `SECRET_KEY_PREVIOUS` set to the old one).
    #[error(
        "sealed under a SECRET_KEY this server does not have: set SECRET_KEY_PREVIOUS to the previous SECRET_KEY and restart"
    )]
    UnknownKey,
    /// The key matches but the value was altered or belongs to another owner.
    #[error("the sealed value does not authenticate")]
    Tampered,
    /// The system's random source failed.
    #[error("no randomness available")]
    Random,
}

struct VaultKey {
    id: String,
    key: LessSafeKey,
}

impl VaultKey {
    fn derive(secret: &[u8]) -> Self {
        let prk = Salt::new(HKDF_SHA256, b"signal-sentinel").extract(secret);
        let mut bytes = [0u8; 32];
        prk.expand(&[INFO], &CHACHA20_POLY1305)
            .and_then(|okm| okm.fill(&mut bytes))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let id = hex::encode(&Sha256::digest(bytes)[..4]);
        let key = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &bytes).expect("a 32-byte ChaCha20 key"),
        );
        Self { id, key }
    }
}

/// Seals and opens secrets with keys derived from `SECRET_KEY` (and `SECRET_KEY_PREVIOUS`).
pub struct Vault {
    current: VaultKey,
    previous: Option<VaultKey>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("key_id", &self.current.id)
            .field("previous_key_id", &self.previous.as_ref().map(|k| &k.id))
            .finish()
    }
}

impl Vault {
    /// A vault for the current secret and, during a rotation, the previous one.
    pub fn new(current: &[u8], previous: Option<&[u8]>) -> Self {
        Self {
            current: VaultKey::derive(current),
            previous: previous.map(VaultKey::derive),
        }
    }

    /// The id of the key new values are sealed under.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `secret` for `context` (who owns it and what it is, e.g. `user:7/plaid`).
    ///
    /// # Errors
    /// [`VaultError::Random`] when no nonce can be drawn.
    pub fn seal(&self, secret: &Secret, context: &str) -> Result<String, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce)
            .map_err(|_| VaultError::Random)?;
        let mut data = secret.expose().as_bytes().to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| VaultError::Random)?;
        Ok(format!(
            "{VERSION}.{}.{}.{}",
            self.current.id,
            hex::encode(nonce),
            hex::encode(data)
        ))
    }

    /// Opens what [`Vault::seal`] sealed for the same `context`, under the current or the
    /// previous key.
    ///
    /// # Errors
    /// [`VaultError::Malformed`], [`VaultError::UnknownKey`] or [`VaultError::Tampered`].
    pub fn open(&self, sealed: &str, context: &str) -> Result<Secret, VaultError> {
        let (key_id, nonce, mut data) = parse(sealed)?;
        let key = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == key_id)
            .ok_or(VaultError::UnknownKey)?;
        let plain = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut data,
            )
            .map_err(|_| VaultError::Tampered)?;
        String::from_utf8(plain.to_vec())
            .map(Secret::new)
            .map_err(|_| VaultError::Tampered)
    }

    /// Whether `sealed` was sealed under a key other than the current one.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        parse(sealed).is_ok_and(|(key_id, _, _)| key_id != self.current.id)
    }
}

fn parse(sealed: &str) -> Result<(&str, [u8; NONCE_LEN], Vec<u8>), VaultError> {
    let mut parts = sealed.split('.');
    let (Some(VERSION), Some(key_id), Some(nonce), Some(data), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(VaultError::Malformed);
    };
    let nonce: [u8; NONCE_LEN] = hex::decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or(VaultError::Malformed)?;
    let data = hex::decode(data).map_err(|_| VaultError::Malformed)?;
    Ok((key_id, nonce, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &[u8] = b"old-secret-key-0123456789abcdef-0123456789";
    const NEW: &[u8] = b"new-secret-key-0123456789abcdef-0123456789";

    #[test]
    fn seals_without_revealing_and_opens_for_the_same_context_only() {
        let vault = Vault::new(OLD, None);
        let token = Secret::new("access-sandbox-12345678-aaaa");
        let sealed = vault.seal(&token, "user:1/plaid").unwrap();
        assert!(!sealed.contains("access-sandbox"), "{sealed}");
        assert!(sealed.starts_with(&format!("v1.{}.", vault.key_id())));
        assert_ne!(
            sealed,
            vault.seal(&token, "user:1/plaid").unwrap(),
            "fresh nonce"
        );
        assert_eq!(vault.open(&sealed, "user:1/plaid").unwrap(), token);
        assert_eq!(
            vault.open(&sealed, "user:2/plaid").unwrap_err(),
            VaultError::Tampered
        );
        let mut altered = sealed.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == '0' { '1' } else { '0' });
        assert_eq!(
            vault.open(&altered, "user:1/plaid").unwrap_err(),
            VaultError::Tampered
        );
        assert_eq!(
            vault.open("plain-token", "user:1/plaid").unwrap_err(),
            VaultError::Malformed
        );
        assert!(!format!("{vault:?}").contains("secret-key"));
    }

    #[test]
    fn a_rotation_opens_old_values_and_asks_to_reseal_them() {
        let token = Secret::new("access-production-xyz");
        let sealed_old = Vault::new(OLD, None).seal(&token, "c").unwrap();

        let forgot_previous = Vault::new(NEW, None);
        let err = forgot_previous.open(&sealed_old, "c").unwrap_err();
        assert_eq!(err, VaultError::UnknownKey);
        assert!(err.to_string().contains("SECRET_KEY_PREVIOUS"));

        let rotating = Vault::new(NEW, Some(OLD));
        assert!(rotating.needs_reseal(&sealed_old));
        let opened = rotating.open(&sealed_old, "c").unwrap();
        let resealed = rotating.seal(&opened, "c").unwrap();
        assert!(!rotating.needs_reseal(&resealed));
        assert_eq!(forgot_previous.open(&resealed, "c").unwrap(), token);
    }
}
