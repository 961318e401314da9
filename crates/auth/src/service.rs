//! The authenticator: resolving a request's credential (an API key, a user's access
//! token or a console session) into its principal.

use std::sync::Arc;

use hydracore_core::SharedClock;
use hydracore_keys::{KeyService, VerifyError};
use hydracore_scopes::ScopeSet;
use hydracore_tenants::{MembershipRepository, UserRepository};

use crate::ports::SessionRepository;
use crate::{AccessTokens, Actor, AuthError, Principal, TokenError};

/// Resolves credentials.
#[derive(Clone)]
pub struct Authenticator {
    keys: KeyService,
    users: Arc<dyn UserRepository>,
    members: Arc<dyn MembershipRepository>,
    tokens: AccessTokens,
    clock: SharedClock,
    sessions: Option<Arc<dyn SessionRepository>>,
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
            sessions: None,
        }
    }

    /// Resolves console sessions from `sessions` too.
    #[must_use]
    pub fn with_sessions(mut self, sessions: Arc<dyn SessionRepository>) -> Self {
        self.sessions = Some(sessions);
        self
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
        self.user(claims.user).await
    }

    /// The principal of a console session's secret, like a user's access token's.
    ///
    /// # Errors
    /// `Invalid` for an unknown (or signed-out) session, `Expired` for one past its
    /// lifetime.
    pub async fn session(&self, presented: &str) -> Result<Principal, AuthError> {
        let sessions = self.sessions.as_ref().ok_or(AuthError::Invalid)?;
        let session = sessions
            .find_by_hash(&crate::token::hash(presented))
            .await
            .map_err(AuthError::Store)?
            .ok_or(AuthError::Invalid)?;
        if session.expires_at <= self.clock.now() {
            return Err(AuthError::Expired);
        }
        self.user(session.user_id).await
    }

    /// A signed-in user's principal: the active tenant and the scopes of the user's
    /// role there, read now.
    async fn user(&self, id: hydracore_tenants::UserId) -> Result<Principal, AuthError> {
        let user = self
            .users
            .find(id)
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
