//! Resolving a request's credential into one [`Principal`] (tenant, actor, scopes), and
//! the identity rules behind the user credential: argon2id passwords, JWT access
//! tokens, rotating refresh tokens.
//!
//! Routes see only the principal: an API key's scopes are its own, a user's are those
//! of the user's role in the active tenant. Knows nothing of HTTP.

mod identity;
mod ops;
mod password;
pub mod ports;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod token;

use std::sync::Arc;

use hydracore_core::SharedClock;
use hydracore_keys::{ApiKeyId, KeyService, RateLimit, VerifyError};
use hydracore_scopes::{Scope, ScopeSet};
use hydracore_tenants::{MembershipRepository, TenantId, UserId, UserRepository};

pub use identity::{IdentityError, IdentityService, REFRESH_TTL, SignInLimits, TokenPair};
pub use ops::{OpsToken, verify_ops_bearer_token};
pub use password::{Busy, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, PASSWORD, Passwords};
pub use ports::{RefreshToken, RefreshTokenRepository};
pub use token::{AccessClaims, AccessTokens, ISSUER, REFRESH_PREFIX, RefreshSecret, TokenError};

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    ApiKey { id: ApiKeyId, name: String },
    User { id: UserId, email: String },
}

/// The resolved caller of one request.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The tenant the request acts on; `None` for a user who belongs to no tenant.
    pub tenant_id: Option<TenantId>,
    pub actor: Actor,
    /// What the caller may do in that tenant.
    pub scopes: ScopeSet,
    /// An API key's own limit; `None` means the server default.
    pub rate_limit: Option<RateLimit>,
}

impl Principal {
    /// # Errors
    /// `Forbidden` naming the scope when the principal does not hold it.
    pub fn authorize(&self, required: &Scope) -> Result<(), AuthError> {
        if self.scopes.allows(required) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                required: required.to_string(),
            })
        }
    }

    pub fn key_id(&self) -> Option<ApiKeyId> {
        match &self.actor {
            Actor::ApiKey { id, .. } => Some(*id),
            Actor::User { .. } => None,
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        match &self.actor {
            Actor::User { id, .. } => Some(*id),
            Actor::ApiKey { .. } => None,
        }
    }
}

/// Why a request is not let through.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no credential")]
    Missing,
    #[error("invalid credential")]
    Invalid,
    #[error("credential revoked")]
    Revoked,
    #[error("credential expired")]
    Expired,
    #[error("missing scope {required}")]
    Forbidden { required: String },
    #[error(transparent)]
    Store(hydracore_core::RepoError),
}

/// Resolves credentials.
#[derive(Clone)]
pub struct Authenticator {
    keys: KeyService,
    users: Arc<dyn UserRepository>,
    members: Arc<dyn MembershipRepository>,
    tokens: AccessTokens,
    clock: SharedClock,
}

impl Authenticator {
    pub fn new(
        keys: KeyService,
        users: Arc<dyn UserRepository>,
        members: Arc<dyn MembershipRepository>,
        tokens: AccessTokens,
        clock: SharedClock,
    ) -> Self {
        Self {
            keys,
            users,
            members,
            tokens,
            clock,
        }
    }

    /// The principal of an API key's plaintext.
    ///
    /// # Errors
    /// `Invalid`, `Revoked` or `Expired` when the key does not authenticate.
    pub async fn api_key(&self, presented: &str) -> Result<Principal, AuthError> {
        let key = self.keys.verify(presented).await.map_err(|e| match e {
            VerifyError::Unknown => AuthError::Invalid,
            VerifyError::Revoked => AuthError::Revoked,
            VerifyError::Expired => AuthError::Expired,
            VerifyError::Store(e) => AuthError::Store(e),
        })?;
        Ok(Principal {
            tenant_id: Some(key.tenant_id),
            actor: Actor::ApiKey {
                id: key.id,
                name: key.name,
            },
            scopes: key.scopes,
            rate_limit: key.rate_limit,
        })
    }

    /// The principal of a user's access token: the user's active tenant and the
    /// scopes of the user's role there, read at every request so a changed role or a
    /// removed membership applies at once.
    ///
    /// # Errors
    /// `Invalid` or `Expired` for a token that does not authenticate (or whose user is
    /// gone).
    pub async fn access_token(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self
            .tokens
            .verify(token, self.clock.now())
            .map_err(|e| match e {
                TokenError::Invalid => AuthError::Invalid,
                TokenError::Expired => AuthError::Expired,
            })?;
        let user = self
            .users
            .find(claims.user)
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::Invalid)?;
        let membership = match user.active_tenant_id {
            Some(t) => self
                .members
                .find(t, user.id)
                .await
                .map_err(AuthError::Store)?,
            None => None,
        };
        let (tenant_id, scopes) = match membership {
            Some(m) => (Some(m.tenant_id), m.role.scopes()),
            None => (None, ScopeSet::default()),
        };
        Ok(Principal {
            tenant_id,
            actor: Actor::User {
                id: user.id,
                email: user.email.as_str().to_owned(),
            },
            scopes,
            rate_limit: None,
        })
    }
}
