//! The auth model: who is acting, the principal a request resolves to, why a request
//! is not let through, the stored refresh token and the console session.

use hydracore_core::{RepoError, id_type};
use hydracore_keys::{ApiKeyId, RateLimit};
use hydracore_scopes::{Scope, ScopeSet};
use hydracore_tenants::{TenantId, UserId};
use time::OffsetDateTime;

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    ApiKey {
        id: ApiKeyId,
        name: String,
    },
    User {
        id: UserId,
        email: String,
    },
    /// An OAuth client acting for a person through one of their grants.
    OAuth {
        grant: crate::oauth::GrantId,
        client: String,
        user: UserId,
    },
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
            Actor::User { .. } | Actor::OAuth { .. } => None,
        }
    }

    pub fn grant_id(&self) -> Option<crate::oauth::GrantId> {
        match &self.actor {
            Actor::OAuth { grant, .. } => Some(*grant),
            Actor::User { .. } | Actor::ApiKey { .. } => None,
        }
    }

    pub fn user_id(&self) -> Option<UserId> {
        match &self.actor {
            Actor::User { id, .. } => Some(*id),
            Actor::ApiKey { .. } | Actor::OAuth { .. } => None,
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
    Store(RepoError),
}

id_type! {
    /// A refresh token's id.
    pub struct RefreshTokenId;
}

id_type! {
    /// A token family's id: the tokens rotated from one sign-in, revoked together.
    pub struct TokenFamilyId;
}

/// A stored refresh token (its hash lives beside it, never its plaintext).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub id: RefreshTokenId,
    /// Every token rotated from one login shares the login's family.
    pub family_id: TokenFamilyId,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Set when the token was exchanged for a new one: it must never work again.
    pub used_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
}

id_type! {
    /// A console session's id.
    pub struct SessionId;
}

/// A person's session in the console, stored server-side (its secret's hash beside it,
/// never the secret): deleting the row signs the browser out at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}
