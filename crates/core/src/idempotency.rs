//! Safe retries: the first response to an `Idempotency-Key` is remembered per
//! credential and replayed to retries of the same request (Stripe's semantics).

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::RepoError;

/// What beginning a request under an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// No live record: this request runs, and must `complete` or `abandon` it.
    Started,
    /// The same request finished before: answer with this.
    Replay { status: u16, body: Vec<u8> },
    /// The same key is running right now.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// Persistence of idempotency records, shared by every node.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `(owner, key)` for a request whose fingerprint is `fingerprint`, unless a
    /// record that has not expired exists; an expired record is replaced. Claiming MUST
    /// be atomic: of concurrent claims exactly one gets `Started`.
    async fn begin(
        &self,
        owner: &str,
        key: &str,
        fingerprint: &[u8; 32],
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Begin, RepoError>;

    /// Stores the response of a started request.
    async fn complete(
        &self,
        owner: &str,
        key: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), RepoError>;

    /// Forgets a started request (it failed in a way a retry may fix).
    async fn abandon(&self, owner: &str, key: &str) -> Result<(), RepoError>;
}
