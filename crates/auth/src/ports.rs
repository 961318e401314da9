//! The refresh-token and console-session store ports.

use async_trait::async_trait;
use hydracore_core::RepoError;
use hydracore_core::audit::AuditEvent;
use time::OffsetDateTime;

use crate::{RefreshToken, RefreshTokenId, Session, TokenFamilyId};

/// Persistence of refresh tokens.
#[async_trait]
pub trait RefreshTokenRepository: Send + Sync {
    /// Stores a new token with the hash of its plaintext.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the hash exists already.
    /// With an `event` (a sign-in), stores it in the same transaction.
    async fn insert(
        &self,
        token: &RefreshToken,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError>;

    /// The token whose plaintext hashes to `hash`, used or revoked or not.
    async fn find_by_hash(&self, hash: &[u8; 32]) -> Result<Option<RefreshToken>, RepoError>;

    /// Exchanges token `old` for `new`, all or nothing: marks `old` used at `at` and
    /// stores `new` (of the same family) with the hash of its plaintext, only if `old`
    /// is neither used nor revoked. Of concurrent exchanges of one token exactly one
    /// succeeds; the others MUST return `false` and store nothing. Because the new
    /// token exists as soon as the old one is seen used, revoking the family after
    /// seeing reuse revokes the new token too.
    async fn rotate(
        &self,
        old: RefreshTokenId,
        at: OffsetDateTime,
        new: &RefreshToken,
        hash: &[u8; 32],
    ) -> Result<bool, RepoError>;

    /// Revokes every token of the family that is not revoked yet. With an `event` (a
    /// sign-out), stores it in the same transaction.
    async fn revoke_family(
        &self,
        family: TokenFamilyId,
        at: OffsetDateTime,
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError>;
}

/// Persistence of console sessions.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session with the hash of its secret.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the hash exists already.
    /// With an `event` (a sign-in), stores it in the same transaction.
    async fn insert(
        &self,
        session: &Session,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError>;

    /// The session whose secret hashes to `hash`, expired or not.
    async fn find_by_hash(&self, hash: &[u8; 32]) -> Result<Option<Session>, RepoError>;

    /// Deletes the session whose secret hashes to `hash`; MUST return `false` when
    /// there is none.
    /// With an `event` (a sign-out), stores it in the same transaction when a session
    /// was deleted.
    async fn delete_by_hash(
        &self,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<bool, RepoError>;

    /// Deletes every session that expired at or before `now`; returns how many.
    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepoError>;
}
