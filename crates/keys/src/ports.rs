//! The API key store port.

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::{ApiKey, ApiKeyId, KeyHash, UsageBucket};

/// Persistence of API keys. Every method but `find_by_hash` is scoped to one tenant:
/// another tenant's key MUST behave as if it did not exist.
///
/// Where several nodes share the store and cache resolved keys, `update`, `revoke` and
/// `rotate` MUST announce the changed key to every node in the same transaction as the
/// change, so a change is announced if and only if it is committed (PostgreSQL:
/// `pg_notify`, heard by `listen_key_changes`).
///
/// Every change stores its `event` in the same transaction: the event if and only if
/// the change.
#[async_trait]
pub trait KeyRepository: Send + Sync {
    /// Stores a new key with the hash of its plaintext.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the id or the hash exists already.
    async fn insert(
        &self,
        key: &ApiKey,
        hash: &KeyHash,
        event: &AuditEvent,
    ) -> Result<(), RepoError>;

    /// The key whose plaintext hashes to `hash`, revoked or not.
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKey>, RepoError>;

    /// The tenant's key with this id, revoked or not.
    async fn find(&self, tenant: TenantId, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError>;

    /// The tenant's keys that are not revoked, ordered by `(created_at, id)`.
    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<ApiKey>, RepoError>;

    /// Saves name, scopes, expiry and rate limit of a key that is not revoked.
    /// MUST return `false` if no such key of `key.tenant_id` exists.
    async fn update(&self, key: &ApiKey, event: &AuditEvent) -> Result<bool, RepoError>;

    /// Marks the key revoked at `at`. MUST return `false` if the tenant has no such
    /// key or it is revoked already.
    async fn revoke(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// Stores `new` (a rotation of key `old`), sets `old`'s expiry to `old_expires_at`
    /// and marks it rotated at `at`, all or nothing. MUST return `false` (and store
    /// nothing) unless `old` is a key of `new.tenant_id` that at `at` is not revoked,
    /// not rotated and not expired; of concurrent rotations of one key exactly one
    /// succeeds.
    async fn rotate(
        &self,
        old: ApiKeyId,
        at: OffsetDateTime,
        old_expires_at: OffsetDateTime,
        new: &ApiKey,
        hash: &KeyHash,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// Records when keys were last used; later instants win, earlier ones are ignored.
    async fn record_usage(&self, used: &[(ApiKeyId, OffsetDateTime)]) -> Result<(), RepoError>;

    /// Adds each bucket's counts to those stored for its key and hour (creating the
    /// row on first use), all or nothing: on an error nothing of the batch is added,
    /// so the caller may retry it whole. Buckets of one key and hour in one batch add
    /// up. Nodes add concurrently: no count may be lost.
    async fn add_usage(&self, buckets: &[UsageBucket]) -> Result<(), RepoError>;

    /// The tenant's buckets of `keys` whose hour is in `[since, until)`, ordered by key
    /// id then hour. Another tenant's key has none.
    async fn usage(
        &self,
        tenant: TenantId,
        keys: &[ApiKeyId],
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<UsageBucket>, RepoError>;

    /// Deletes the buckets of every tenant whose hour is before `before`; returns how
    /// many.
    async fn delete_usage_before(&self, before: OffsetDateTime) -> Result<u64, RepoError>;
}
