//! Session tokens: HS256 JSON Web Tokens with `exp`, `iat`, `iss`, `aud` and `sub`.
//!
//! Only HS256 is accepted: a token whose header names any other algorithm (`none` included)
//! is refused before its signature is looked at. During a key rotation the previous key
//! still verifies tokens while new ones are signed with the current key.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::domain::UserId;
use crate::time::Timestamp;

/// The `iss` and `aud` of every token.
pub const TOKEN_ISSUER: &str = "signal-sentinel";
/// The `aud` of session tokens.
pub const TOKEN_AUDIENCE: &str = "signal-sentinel-api";

/// Why a token is refused. The message is safe to show: it names no key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Past its `exp`.
    #[error("the token has expired; log in again")]
    Expired,
    /// Anything else: bad signature, other algorithm, wrong audience or issuer, garbage.
    #[error("the token is not valid")]
    Invalid,
    /// The key cannot be used (never from a request).
    #[error("the signing key cannot be used")]
    Key,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
}

/// A token handed out at login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token to send as `Authorization: Bearer …`.
    pub token: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Signs and verifies session tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: Vec<DecodingKey>,
    validation: Validation,
    lifetime: chrono::Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("keys", &self.decoding.len())
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Keys from the current secret and, during a rotation, the previous one; tokens live for
    /// `lifetime`.
    ///
    /// # Errors
    /// [`TokenError::Key`] when a key is empty.
    pub fn new(
        current: &[u8],
        previous: Option<&[u8]>,
        lifetime: chrono::Duration,
    ) -> Result<Self, TokenError> {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        if current.is_empty() || previous.is_some_and(<[u8]>::is_empty) {
            return Err(TokenError::Key);
        }
        let encoding = EncodingKey::from_secret(current).map_err(|_| TokenError::Key)?;
        let mut decoding = vec![DecodingKey::from_secret(current).map_err(|_| TokenError::Key)?];
        if let Some(previous) = previous {
            decoding.push(DecodingKey::from_secret(previous).map_err(|_| TokenError::Key)?);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[TOKEN_AUDIENCE]);
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding,
            decoding,
            validation,
            lifetime,
        })
    }

    /// How long a new token lives.
    pub fn lifetime(&self) -> chrono::Duration {
        self.lifetime
    }

    /// A token for `user`, issued at `now`.
    ///
    /// # Errors
    /// [`TokenError::Key`] if signing fails.
    pub fn issue(&self, user: UserId, now: Timestamp) -> Result<IssuedToken, TokenError> {
        let expires_at = now + self.lifetime;
        let claims = Claims {
            sub: user.to_string(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
            iss: TOKEN_ISSUER.to_owned(),
            aud: TOKEN_AUDIENCE.to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Key)?;
        Ok(IssuedToken { token, expires_at })
    }

    /// The user a token was issued to, if it is valid now (the system clock decides expiry).
    ///
    /// # Errors
    /// [`TokenError::Expired`] or [`TokenError::Invalid`].
    pub fn verify(&self, token: &str) -> Result<UserId, TokenError> {
        let mut expired = false;
        for key in &self.decoding {
            match jsonwebtoken::decode::<Claims>(token, key, &self.validation) {
                Ok(data) => {
                    return data
                        .claims
                        .sub
                        .parse::<UserId>()
                        .map_err(|_| TokenError::Invalid);
                }
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind;
                    match e.kind() {
                        // Only a correctly signed token can be "expired"; keep trying the
                        // other key for anything signed with it.
                        ErrorKind::ExpiredSignature => expired = true,
                        ErrorKind::InvalidSignature => {}
                        _ => return Err(TokenError::Invalid),
                    }
                }
            }
        }
        Err(if expired {
            TokenError::Expired
        } else {
            TokenError::Invalid
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(current: &str, previous: Option<&str>) -> TokenKeys {
        TokenKeys::new(
            current.as_bytes(),
            previous.map(str::as_bytes),
            chrono::Duration::hours(1),
        )
        .unwrap()
    }

    /// URL-safe base64 without padding, as JWTs are written.
    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_token_names_its_user_until_it_expires() {
        let keys = keys("k1-0123456789abcdef0123456789abcdef", None);
        let now = crate::time::now();
        let issued = keys.issue(UserId::new(7), now).unwrap();
        assert_eq!(issued.expires_at, now + chrono::Duration::hours(1));
        assert_eq!(keys.verify(&issued.token), Ok(UserId::new(7)));
        let old = keys
            .issue(UserId::new(7), now - chrono::Duration::hours(2))
            .unwrap();
        assert_eq!(keys.verify(&old.token), Err(TokenError::Expired));
    }

    #[test]
    fn the_previous_key_still_verifies_during_a_rotation() {
        let old = keys("old-0123456789abcdef0123456789abcdef", None);
        let token = old.issue(UserId::new(3), crate::time::now()).unwrap().token;
        let rotated = keys(
            "new-0123456789abcdef0123456789abcdef",
            Some("old-0123456789abcdef0123456789abcdef"),
        );
        assert_eq!(rotated.verify(&token), Ok(UserId::new(3)));
        let forgotten = keys("new-0123456789abcdef0123456789abcdef", None);
        assert_eq!(forgotten.verify(&token), Err(TokenError::Invalid));
    }

    #[test]
    fn other_algorithms_audiences_and_garbage_are_refused() {
        let keys = keys("k1-0123456789abcdef0123456789abcdef", None);
        let now = crate::time::now().timestamp();
        let claims = format!(
            r#"{{"sub":"1","iat":{now},"exp":{},"iss":"signal-sentinel","aud":"signal-sentinel-api"}}"#,
            now + 600
        );
        let unsigned = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(claims.as_bytes())
        );
        assert_eq!(keys.verify(&unsigned), Err(TokenError::Invalid));
        let good = keys
            .issue(UserId::new(1), crate::time::now())
            .unwrap()
            .token;
        let mut parts: Vec<&str> = good.split('.').collect();
        let hs512 = b64(br#"{"alg":"HS512","typ":"JWT"}"#);
        parts[0] = &hs512;
        assert_eq!(keys.verify(&parts.join(".")), Err(TokenError::Invalid));
        let wrong_aud = claims.replace("signal-sentinel-api", "someone-else");
        let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
        parts[1] = b64(wrong_aud.as_bytes());
        assert_eq!(keys.verify(&parts.join(".")), Err(TokenError::Invalid));
        assert_eq!(keys.verify("not.a.token"), Err(TokenError::Invalid));
        assert_eq!(keys.verify(""), Err(TokenError::Invalid));
    }
}
