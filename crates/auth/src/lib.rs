//! Resolving a request's credential into one [`Principal`] (tenant, actor, scopes),
//! and checking a principal against the scope a route requires.
//!
//! Today the credential is an API key; every route sees only the principal, so further
//! credentials resolve into the same type. Knows nothing of HTTP.

use hydracore_keys::{ApiKeyId, KeyService, RateLimit, VerifyError};
use hydracore_scopes::{Scope, ScopeSet};
use hydracore_tenants::TenantId;

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    ApiKey { id: ApiKeyId, name: String },
}

/// The resolved caller of one request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub actor: Actor,
    pub scopes: ScopeSet,
    /// The key's own limit; `None` means the server default.
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
}

impl Authenticator {
    pub fn new(keys: KeyService) -> Self {
        Self { keys }
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
            tenant_id: key.tenant_id,
            actor: Actor::ApiKey {
                id: key.id,
                name: key.name,
            },
            scopes: key.scopes,
            rate_limit: key.rate_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hydracore_core::SystemClock;
    use hydracore_keys::testing::InMemoryKeyRepository;
    use hydracore_keys::{Grantor, MintKey};

    use super::*;

    #[tokio::test]
    async fn a_key_resolves_to_its_tenant_and_scopes() {
        let keys = KeyService::new(
            Arc::new(InMemoryKeyRepository::default()),
            Arc::new(SystemClock),
        );
        let tenant = TenantId::new();
        let minted = keys
            .mint(
                tenant,
                Grantor::Operator,
                MintKey {
                    name: "k".into(),
                    scopes: vec!["instances:read".into()],
                    ..MintKey::default()
                },
            )
            .await
            .unwrap();
        let auth = Authenticator::new(keys.clone());
        let p = auth.api_key(minted.secret.expose()).await.unwrap();
        assert_eq!(p.tenant_id, tenant);
        assert!(p.authorize(&Scope::of("instances", "read")).is_ok());
        assert!(matches!(
            p.authorize(&Scope::of("instances", "write")),
            Err(AuthError::Forbidden { required }) if required == "instances:write"
        ));
        keys.revoke(tenant, minted.key.id).await.unwrap();
        assert!(matches!(
            auth.api_key(minted.secret.expose()).await,
            Err(AuthError::Revoked)
        ));
        assert!(matches!(
            auth.api_key("hc_live_x").await,
            Err(AuthError::Invalid)
        ));
    }
}
