//! Resolving a request's credential into one [`Principal`] (tenant, actor, scopes), and
//! the identity rules behind the user credential: argon2id passwords, JWT access
//! tokens, rotating refresh tokens, console sessions.
//!
//! Routes see only the principal: an API key's scopes are its own, a user's are those
//! of the user's role in the active tenant. Knows nothing of HTTP.

mod identity;
mod model;
pub mod oauth;
mod ops;
mod password;
pub mod ports;
mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod token;

pub use identity::{
    IdentityError, IdentityService, REFRESH_TTL, SESSION_TTL, SignInLimits, TokenPair,
};
pub use model::*;
pub use ops::{OpsToken, verify_ops_bearer_token};
pub use password::{Busy, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, PASSWORD, Passwords};
pub use ports::{RefreshTokenRepository, SessionRepository};
pub use service::*;
pub use token::{
    AccessClaims, AccessTokens, ISSUER, REFRESH_PREFIX, RefreshSecret, SESSION_PREFIX,
    SessionSecret, TokenError, session_csrf_token,
};

#[cfg(test)]
mod tests;
