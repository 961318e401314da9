//! Safe retries: the first response to an `Idempotency-Key` is remembered per
//! credential and tenant, and replayed to retries of the same request (Stripe's
//! semantics). The response is kept sealed ([`crate::seal`]): it may carry a key's
//! plaintext, which must never rest in a table.
//!
//! A request claims its key before it runs. A claim is named by its owner, its key and
//! the instant it was made; only that claim may complete or abandon it. A claim that
//! neither completes nor abandons (its node died, or its database went away before the
//! request could answer) is treated as abandoned once it is older than the caller's
//! lease, so a retry is not refused until the record expires.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::RepoError;
use crate::seal::Sealed;

/// What beginning a request under an idempotency key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// No live record: this request runs, and must `complete` or `abandon` its claim.
    Started,
    /// The same request finished before: answer with this (the body sealed as it
    /// was given to `complete`).
    Replay { status: u16, body: Sealed },
    /// The same key is running right now.
    InProgress,
    /// The key was used with a different request.
    Mismatch,
}

/// A request's claim on a key.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    /// Whose key it is: a credential in a tenant (one owner's keys never meet
    /// another's).
    pub owner: &'a str,
    pub key: &'a str,
    /// What the request is; a retry must match it.
    pub fingerprint: &'a [u8; 32],
    /// When the claim is made (whole microseconds); with owner and key it names the
    /// claim in `complete` and `abandon`.
    pub at: OffsetDateTime,
    /// When the record may be forgotten.
    pub expires_at: OffsetDateTime,
    /// A claim made at or before this instant that has not completed is abandoned: it
    /// is replaced as if it did not exist.
    pub stale_before: OffsetDateTime,
}

/// Persistence of idempotency records, shared by every node.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `(owner, key)` unless a live record exists. A record that has expired, or
    /// a claim still running that is stale, is replaced. Claiming MUST be atomic: of
    /// concurrent claims exactly one gets `Started`, and the others an answer (never
    /// an error) even when the winner abandons its claim while they look at it.
    async fn begin(&self, claim: &Claim<'_>) -> Result<Begin, RepoError>;

    /// Stores the (sealed) response of the claim made at `claimed_at`. MUST NOT change
    /// a record that another claim has since replaced, nor one already complete.
    async fn complete(
        &self,
        owner: &str,
        key: &str,
        claimed_at: OffsetDateTime,
        status: u16,
        body: &Sealed,
    ) -> Result<(), RepoError>;

    /// Forgets the claim made at `claimed_at` (it failed in a way a retry may fix).
    /// MUST NOT remove a record that another claim has since replaced, nor a complete
    /// one.
    async fn abandon(
        &self,
        owner: &str,
        key: &str,
        claimed_at: OffsetDateTime,
    ) -> Result<(), RepoError>;

    /// Deletes every record that has expired at `now`; returns how many.
    async fn sweep(&self, now: OffsetDateTime) -> Result<u64, RepoError>;
}

/// An [`IdempotencyStore`] in a map, for tests of the rules above the port.
#[cfg(feature = "testing")]
pub mod testing {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Clone)]
    struct Record {
        fingerprint: [u8; 32],
        at: OffsetDateTime,
        expires_at: OffsetDateTime,
        response: Option<(u16, Sealed)>,
    }

    type Records = HashMap<(String, String), Record>;

    /// Records in a map keyed by owner and key.
    #[derive(Debug, Default)]
    pub struct InMemoryIdempotency {
        rows: Mutex<Records>,
    }

    impl InMemoryIdempotency {
        fn rows(&self) -> Result<std::sync::MutexGuard<'_, Records>, RepoError> {
            self.rows
                .lock()
                .map_err(|e| RepoError::Unexpected(e.to_string().into()))
        }
    }

    #[async_trait]
    impl IdempotencyStore for InMemoryIdempotency {
        async fn begin(&self, claim: &Claim<'_>) -> Result<Begin, RepoError> {
            let mut rows = self.rows()?;
            let id = (claim.owner.to_owned(), claim.key.to_owned());
            if let Some(r) = rows.get(&id) {
                let dead = r.expires_at <= claim.at
                    || (r.response.is_none() && r.at <= claim.stale_before);
                if !dead {
                    return Ok(if r.fingerprint != *claim.fingerprint {
                        Begin::Mismatch
                    } else {
                        match &r.response {
                            None => Begin::InProgress,
                            Some((status, body)) => Begin::Replay {
                                status: *status,
                                body: body.clone(),
                            },
                        }
                    });
                }
            }
            rows.insert(
                id,
                Record {
                    fingerprint: *claim.fingerprint,
                    at: claim.at,
                    expires_at: claim.expires_at,
                    response: None,
                },
            );
            Ok(Begin::Started)
        }

        async fn complete(
            &self,
            owner: &str,
            key: &str,
            claimed_at: OffsetDateTime,
            status: u16,
            body: &Sealed,
        ) -> Result<(), RepoError> {
            let mut rows = self.rows()?;
            if let Some(r) = rows.get_mut(&(owner.to_owned(), key.to_owned()))
                && r.at == claimed_at
                && r.response.is_none()
            {
                r.response = Some((status, body.clone()));
            }
            Ok(())
        }

        async fn abandon(
            &self,
            owner: &str,
            key: &str,
            claimed_at: OffsetDateTime,
        ) -> Result<(), RepoError> {
            let mut rows = self.rows()?;
            let id = (owner.to_owned(), key.to_owned());
            if rows
                .get(&id)
                .is_some_and(|r| r.at == claimed_at && r.response.is_none())
            {
                rows.remove(&id);
            }
            Ok(())
        }

        async fn sweep(&self, now: OffsetDateTime) -> Result<u64, RepoError> {
            let mut rows = self.rows()?;
            let before = rows.len();
            rows.retain(|_, r| r.expires_at > now);
            Ok((before - rows.len()) as u64)
        }
    }
}
