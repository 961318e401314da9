//! The OAuth server's ports: where clients, grants and tokens are kept, and how client
//! metadata documents are fetched.

use async_trait::async_trait;
use hydracore_core::RepoError;
use hydracore_core::audit::AuditEvent;
use hydracore_scopes::ScopeSet;
use hydracore_tenants::UserId;
use time::OffsetDateTime;

use super::model::{ClientDocument, Grant, GrantId, OAuthClient, StoredToken};

/// Fetches client metadata documents (a driven adapter: HTTPS, size and time limits,
/// public addresses only).
#[async_trait]
pub trait ClientDocuments: Send + Sync {
    /// The document at `url`.
    ///
    /// # Errors
    /// Why it could not be had, in one sentence a person can act on.
    async fn fetch(&self, url: &str) -> Result<ClientDocument, String>;
}

/// Persistence of clients, grants and their tokens.
#[async_trait]
pub trait OAuthRepository: Send + Sync {
    /// Stores a registered client.
    async fn insert_client(&self, client: &OAuthClient) -> Result<(), RepoError>;

    /// The registered client `id`.
    async fn find_client(&self, id: &str) -> Result<Option<OAuthClient>, RepoError>;

    /// Stores a grant with its first code and its event, in one transaction.
    async fn insert_grant(
        &self,
        grant: &Grant,
        code: &StoredToken,
        event: &AuditEvent,
    ) -> Result<(), RepoError>;

    /// Widens the live grant `grant` to `scopes` (its client now named `client_name`)
    /// and stores `code` for it, with the event, in one transaction; MUST return `false`
    /// (and store nothing) when the grant is revoked or does not exist.
    async fn extend_grant(
        &self,
        grant: GrantId,
        scopes: &ScopeSet,
        client_name: &str,
        code: &StoredToken,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// The token whose plaintext hashes to `hash` and its grant, used, expired or
    /// revoked or not.
    async fn find_token(&self, hash: &[u8; 32]) -> Result<Option<(StoredToken, Grant)>, RepoError>;

    /// Exchanges the code or refresh token `old` for `new`, all or nothing: marks `old`
    /// used at `at` and stores `new`, only if `old` is unused and its grant not
    /// revoked. Of concurrent exchanges exactly one succeeds; the others MUST return
    /// `false` and store nothing.
    async fn exchange(
        &self,
        old: &[u8; 32],
        at: OffsetDateTime,
        new: &[StoredToken],
    ) -> Result<bool, RepoError>;

    /// Deletes one access or refresh token (RFC 7009 revocation of an access token).
    async fn delete_token(&self, hash: &[u8; 32]) -> Result<(), RepoError>;

    /// Records that the grant was used at `at`.
    async fn touch(&self, grant: GrantId, at: OffsetDateTime) -> Result<(), RepoError>;

    /// Revokes the grant and deletes its tokens, with the event in the same
    /// transaction; MUST return `false` (and store no event) when it was revoked
    /// already or does not exist.
    async fn revoke_grant(
        &self,
        grant: GrantId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// The grant `id`, revoked or not.
    async fn find_grant(&self, id: GrantId) -> Result<Option<Grant>, RepoError>;

    /// The user's grants that are not revoked, newest first, in every tenant.
    async fn grants_of(&self, user: UserId) -> Result<Vec<Grant>, RepoError>;

    /// Deletes codes and tokens that expired at or before `now`, and grants revoked
    /// then; returns how many rows went.
    async fn sweep(&self, now: OffsetDateTime) -> Result<u64, RepoError>;
}
