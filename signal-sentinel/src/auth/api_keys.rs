//! API keys for scripts: `ss_` + 48 hex digits of randomness (192 bits) + an 8-digit
//! checksum.
//!
//! The prefix makes a leaked key recognisable to secret scanners; the checksum lets a typo be
//! refused without a database lookup. Only a SHA-256 hash of the key is stored, with its
//! first [`LOOKUP_PREFIX_LEN`] characters in clear so the row can be found; a request costs
//! one indexed read and one hash, not a slow password hash.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::Secret;

/// What every key starts with.
pub const KEY_PREFIX: &str = "ss_";
/// Random bytes in a key.
const RANDOM_BYTES: usize = 24;
/// Hex digits of checksum at the end.
const CHECKSUM_LEN: usize = 8;
/// Length of a key.
pub const KEY_LEN: usize = KEY_PREFIX.len() + RANDOM_BYTES * 2 + CHECKSUM_LEN;
/// Characters of the key kept in clear to find its row (and shown in listings).
pub const LOOKUP_PREFIX_LEN: usize = 12;

/// A newly generated key: shown to its owner once, then only its hash is kept.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The whole key.
    pub key: Secret,
    /// Its first characters, stored in clear.
    pub prefix: String,
    /// SHA-256 of the key, hex.
    pub hash: String,
}

fn checksum(body: &str) -> String {
    hex::encode(&Sha256::digest(body.as_bytes())[..CHECKSUM_LEN / 2])
}

/// SHA-256 of a key, hex-encoded: what is stored.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh random key.
pub fn generate() -> GeneratedKey {
    let body = format!(
        "{KEY_PREFIX}{}",
        hex::encode(rand::random::<[u8; RANDOM_BYTES]>())
    );
    let key = format!("{body}{}", checksum(&body));
    GeneratedKey {
        prefix: key[..LOOKUP_PREFIX_LEN].to_owned(),
        hash: hash_key(&key),
        key: Secret::new(key),
    }
}

/// Whether `candidate` looks like one of our keys (prefix, length, hex digits, checksum).
/// Returns its lookup prefix when it does.
pub fn lookup_prefix(candidate: &str) -> Option<&str> {
    if candidate.len() != KEY_LEN || !candidate.starts_with(KEY_PREFIX) {
        return None;
    }
    let (body, sum) = candidate.split_at(KEY_LEN - CHECKSUM_LEN);
    let hex_ok = candidate[KEY_PREFIX.len()..]
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (hex_ok && checksum(body) == sum).then(|| &candidate[..LOOKUP_PREFIX_LEN])
}

/// Whether `candidate` hashes to `stored_hash`, compared in constant time.
pub fn matches(candidate: &str, stored_hash: &str) -> bool {
    hash_key(candidate)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_recognisable_and_checked() {
        let a = generate();
        let b = generate();
        assert_ne!(a.key.expose(), b.key.expose());
        assert_eq!(a.key.expose().len(), KEY_LEN);
        assert!(a.key.expose().starts_with("ss_"));
        assert_eq!(lookup_prefix(a.key.expose()), Some(a.prefix.as_str()));
        assert!(matches(a.key.expose(), &a.hash));
        assert!(!matches(b.key.expose(), &a.hash));
        assert!(!format!("{a:?}").contains(a.key.expose()));
        // One changed digit breaks the checksum.
        let mut typo = a.key.expose().to_owned();
        let last_random = KEY_LEN - CHECKSUM_LEN - 1;
        let digit = if &typo[last_random..=last_random] == "0" {
            "1"
        } else {
            "0"
        };
        typo.replace_range(last_random..=last_random, digit);
        assert_eq!(lookup_prefix(&typo), None);
        assert_eq!(lookup_prefix("ss_short"), None);
        assert_eq!(lookup_prefix(&a.key.expose().to_uppercase()), None);
    }
}
