//! Access tokens (JWT, HS256, signed and checked with biscuit) and refresh tokens
//! (opaque, random, stored as SHA-256).

use std::fmt;

use biscuit::jwa::SignatureAlgorithm;
use biscuit::jws::{RegisteredHeader, Secret};
use biscuit::{
    ClaimPresenceOptions, ClaimsSet, Empty, JWT, Presence, RegisteredClaims, SingleOrMultiple,
    Validation, ValidationOptions,
};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;
use uuid::Uuid;

use hydracore_tenants::UserId;

/// The issuer and audience every token names.
pub const ISSUER: &str = "hydracore";

/// Why an access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed or wrongly signed token")]
    Invalid,
    #[error("expired token")]
    Expired,
}

/// Issues and checks access tokens with one HMAC key.
#[derive(Clone)]
pub struct AccessTokens {
    secret: std::sync::Arc<Vec<u8>>,
    ttl: time::Duration,
}

impl fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// What a valid access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user: UserId,
    pub token_id: String,
    pub expires_at: OffsetDateTime,
}

impl AccessTokens {
    /// At least 32 bytes of key.
    ///
    /// # Errors
    /// A shorter key.
    pub fn new(secret: Vec<u8>, ttl: time::Duration) -> Result<Self, String> {
        if secret.len() < 32 {
            return Err("the JWT signing key must be at least 32 bytes".into());
        }
        Ok(Self {
            secret: std::sync::Arc::new(secret),
            ttl,
        })
    }

    /// Seconds an access token lives.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl.whole_seconds()
    }

    /// A signed token for `user`, issued at `now`.
    ///
    /// # Errors
    /// Signing failures (none expected with HS256).
    pub fn issue(&self, user: UserId, now: OffsetDateTime) -> Result<String, TokenError> {
        let claims = ClaimsSet::<Empty> {
            registered: RegisteredClaims {
                issuer: Some(ISSUER.into()),
                subject: Some(user.0.to_string()),
                audience: Some(SingleOrMultiple::Single(ISSUER.into())),
                expiry: Some((now + self.ttl).unix_timestamp().into()),
                issued_at: Some(now.unix_timestamp().into()),
                id: Some(Uuid::new_v4().to_string()),
                not_before: None,
            },
            private: Empty {},
        };
        let header = RegisteredHeader {
            algorithm: SignatureAlgorithm::HS256,
            ..Default::default()
        };
        let jwt = JWT::new_decoded(header.into(), claims);
        let encoded = jwt
            .into_encoded(&Secret::Bytes(self.secret.to_vec()))
            .map_err(|_| TokenError::Invalid)?;
        Ok(encoded.unwrap_encoded().to_string())
    }

    /// Checks signature, algorithm, issuer, audience and every required claim, and the
    /// expiry against `now`. biscuit's decoding checks only the signature, so the claims
    /// are validated here explicitly.
    ///
    /// # Errors
    /// `Invalid` for anything malformed, wrongly signed, of another algorithm
    /// (`none` included) or missing a claim; `Expired` past `exp`.
    pub fn verify(&self, token: &str, now: OffsetDateTime) -> Result<AccessClaims, TokenError> {
        let jwt: JWT<Empty, Empty> = JWT::new_encoded(token);
        let decoded = jwt
            .into_decoded(
                &Secret::Bytes(self.secret.to_vec()),
                SignatureAlgorithm::HS256,
            )
            .map_err(|_| TokenError::Invalid)?;
        let claims = decoded.payload().map_err(|_| TokenError::Invalid)?;
        let options = ValidationOptions {
            claim_presence_options: ClaimPresenceOptions {
                issued_at: Presence::Required,
                expiry: Presence::Required,
                issuer: Presence::Required,
                audience: Presence::Required,
                subject: Presence::Required,
                id: Presence::Required,
                not_before: Presence::Optional,
            },
            expiry: Validation::Ignored,
            not_before: Validation::Ignored,
            issued_at: Validation::Ignored,
            issuer: Validation::Validate(ISSUER.into()),
            audience: Validation::Validate(ISSUER.into()),
            temporal_options: Default::default(),
        };
        claims
            .registered
            .validate(options)
            .map_err(|_| TokenError::Invalid)?;
        let exp = claims
            .registered
            .expiry
            .as_ref()
            .map(|t| t.timestamp())
            .ok_or(TokenError::Invalid)?;
        if exp <= now.unix_timestamp() {
            return Err(TokenError::Expired);
        }
        let user = claims
            .registered
            .subject
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
            .map(UserId)
            .ok_or(TokenError::Invalid)?;
        Ok(AccessClaims {
            user,
            token_id: claims.registered.id.clone().unwrap_or_default(),
            expires_at: OffsetDateTime::from_unix_timestamp(exp)
                .map_err(|_| TokenError::Invalid)?,
        })
    }
}

/// Every refresh token starts with this.
pub const REFRESH_PREFIX: &str = "hc_rt_";

/// A refresh token's plaintext. Its `Debug` hides it.
pub struct RefreshSecret(String);

/// `prefix` and 256 random bits in hex.
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    #[allow(
        clippy::expect_used,
        reason = "no safe token can be made without randomness"
    )]
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system CSPRNG failed");
    let mut s = String::from(prefix);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl RefreshSecret {
    /// A fresh token: 256 random bits.
    pub fn generate() -> Self {
        Self(random_token(REFRESH_PREFIX))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> [u8; 32] {
        hash(&self.0)
    }
}

impl fmt::Debug for RefreshSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshSecret(…)")
    }
}

/// Every console session's secret starts with this.
pub const SESSION_PREFIX: &str = "hc_s_";

/// A console session's secret, as its cookie carries it. Its `Debug` hides it.
pub struct SessionSecret(String);

impl SessionSecret {
    /// A fresh secret: 256 random bits.
    pub fn generate() -> Self {
        Self(random_token(SESSION_PREFIX))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> [u8; 32] {
        hash(&self.0)
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(…)")
    }
}

/// The CSRF token of the session whose secret is `secret`: derived from it (SHA-256,
/// domain-separated), so it needs no storage, changes with every session, and reveals
/// nothing of the secret to a page that shows it.
pub fn session_csrf_token(secret: &str) -> String {
    let d = digest(
        &SHA256,
        format!("hydracore console csrf\0{secret}").as_bytes(),
    );
    d.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of a presented refresh token or session secret.
pub fn hash(presented: &str) -> [u8; 32] {
    let d = digest(&SHA256, presented.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> AccessTokens {
        AccessTokens::new(vec![7; 32], time::Duration::minutes(15)).unwrap()
    }

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let t = tokens();
        let user = UserId::new();
        let now = OffsetDateTime::now_utc();
        let token = t.issue(user, now).unwrap();
        assert_eq!(t.verify(&token, now).unwrap().user, user);
        assert_eq!(
            t.verify(&token, now + time::Duration::minutes(16)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn tampered_foreign_and_unsigned_tokens_are_invalid() {
        let t = tokens();
        let now = OffsetDateTime::now_utc();
        let token = t.issue(UserId::new(), now).unwrap();
        let other = AccessTokens::new(vec![8; 32], time::Duration::minutes(15)).unwrap();
        assert_eq!(other.verify(&token, now), Err(TokenError::Invalid));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        // alg: none, no signature.
        parts[0] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0".into();
        assert_eq!(
            t.verify(&format!("{}.{}.", parts[0], parts[1]), now),
            Err(TokenError::Invalid)
        );
        let flipped = format!("{}x", token);
        assert_eq!(t.verify(&flipped, now), Err(TokenError::Invalid));
        assert_eq!(t.verify("eyJ.garbage", now), Err(TokenError::Invalid));
        assert!(AccessTokens::new(vec![1; 31], time::Duration::minutes(1)).is_err());
    }

    #[test]
    fn session_secrets_hide_in_debug_and_derive_distinct_csrf_tokens() {
        let (a, b) = (SessionSecret::generate(), SessionSecret::generate());
        assert!(a.expose().starts_with(SESSION_PREFIX));
        assert_eq!(a.expose().len(), SESSION_PREFIX.len() + 64);
        assert!(!format!("{a:?}").contains(a.expose()));
        let token = session_csrf_token(a.expose());
        assert_eq!(token.len(), 32);
        assert_eq!(token, session_csrf_token(a.expose()));
        assert_ne!(token, session_csrf_token(b.expose()));
        assert!(!a.expose().contains(&token));
    }

    #[test]
    fn refresh_secrets_hide_in_debug() {
        let s = RefreshSecret::generate();
        assert!(s.expose().starts_with(REFRESH_PREFIX));
        assert!(!format!("{s:?}").contains(s.expose()));
        assert_eq!(hash(s.expose()), s.hash());
    }
}
