//! The API key store port.

use async_trait::async_trait;
use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::{ApiKey, ApiKeyId, KeyHash};

/// Persistence of API keys. Every method but `find_by_hash` is scoped to one tenant:
/// another tenant's key MUST behave as if it did not exist.
#[async_trait]
pub trait KeyRepository: Send + Sync {
    /// Stores a new key with the hash of its plaintext.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the id or the hash exists already.
    async fn insert(&self, key: &ApiKey, hash: &KeyHash) -> Result<(), RepoError>;

    /// The key whose plaintext hashes to `hash`, revoked or not.
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKey>, RepoError>;

    /// The tenant's key with this id, revoked or not.
    async fn find(&self, tenant: TenantId, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError>;

    /// The tenant's keys that are not revoked, ordered by `(created_at, id)`.
    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<ApiKey>, RepoError>;

    /// Saves name, scopes, expiry and rate limit of a key that is not revoked.
    /// MUST return `false` if no such key of `key.tenant_id` exists.
    async fn update(&self, key: &ApiKey) -> Result<bool, RepoError>;

    /// Marks the key revoked at `at`. MUST return `false` if the tenant has no such
    /// key or it is revoked already.
    async fn revoke(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> Result<bool, RepoError>;

    /// Stores `new` (a rotation of key `old`) and sets `old`'s expiry to
    /// `old_expires_at`, all or nothing. MUST return `false` (and store nothing) if
    /// `old` is not a live key of `new.tenant_id`.
    async fn rotate(
        &self,
        old: ApiKeyId,
        old_expires_at: OffsetDateTime,
        new: &ApiKey,
        hash: &KeyHash,
    ) -> Result<bool, RepoError>;

    /// Records when keys were last used; later instants win, earlier ones are ignored.
    async fn record_usage(&self, used: &[(ApiKeyId, OffsetDateTime)]) -> Result<(), RepoError>;
}

/// Tells every node that a key changed (revoked, rotated, re-scoped, re-limited), so
/// nodes that cache resolved keys drop it at once.
#[async_trait]
pub trait KeyEvents: Send + Sync {
    /// Announces that `id` changed.
    ///
    /// # Errors
    /// Store failures: the change itself is already saved.
    async fn key_changed(&self, id: ApiKeyId) -> Result<(), RepoError>;
}
