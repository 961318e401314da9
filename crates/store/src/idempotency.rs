use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_core::RepoError;
use hydracore_core::idempotency::{Begin, Claim, IdempotencyStore};
use hydracore_core::seal::Sealed;
use time::OffsetDateTime;

use crate::{DbTime, Store, db};

/// What a record holds: its request's fingerprint and, once complete, the sealed
/// response.
type Row = (
    Vec<u8>,
    Option<i32>,
    Option<Vec<u8>>,
    Option<String>,
    Option<Vec<u8>>,
);

/// What a request with `fingerprint` finds in `row`.
fn found(row: Row, fingerprint: &[u8; 32]) -> Begin {
    let (stored, status, body, key_id, nonce) = row;
    if stored != fingerprint.as_slice() {
        return Begin::Mismatch;
    }
    match status {
        None => Begin::InProgress,
        Some(code) => Begin::Replay {
            status: u16::try_from(code).unwrap_or(500),
            body: Sealed {
                key_id: key_id.unwrap_or_default(),
                nonce: nonce.unwrap_or_default(),
                ciphertext: body.unwrap_or_default(),
            },
        },
    }
}

#[async_trait]
impl IdempotencyStore for Store {
    async fn begin(&self, claim: &Claim<'_>) -> Result<Begin, RepoError> {
        let Claim {
            owner,
            key,
            fingerprint,
            at,
            expires_at,
            stale_before,
        } = *claim;
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                use s::idempotency_keys as k;
                let mine = k::table
                    .filter(k::owner.eq(owner))
                    .filter(k::idem_key.eq(key));
                // An expired record, or a claim that never answered and is past its
                // lease, no longer holds the key.
                diesel::delete(
                    mine.filter(
                        k::expires_at.le(DbTime(at)).or(k::status
                            .is_null()
                            .and(k::created_at.le(DbTime(stale_before)))),
                    ),
                )
                .execute(conn)
                .await?;
                // The claim that held the key may be abandoned between our insert
                // seeing it and our read: then the key is free, and we try again
                // (on PostgreSQL each statement sees what committed before it).
                for _ in 0..3 {
                    let claimed = diesel::insert_into(k::table)
                        .values((
                            k::owner.eq(owner),
                            k::idem_key.eq(key),
                            k::fingerprint.eq(fingerprint.as_slice()),
                            k::created_at.eq(DbTime(at)),
                            k::expires_at.eq(DbTime(expires_at)),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?;
                    if claimed == 1 {
                        return Ok(Begin::Started);
                    }
                    let record: Option<Row> = mine
                        .select((
                            k::fingerprint,
                            k::status,
                            k::body,
                            k::seal_key_id,
                            k::seal_nonce,
                        ))
                        .first(conn)
                        .await
                        .optional()?;
                    if let Some(row) = record {
                        return Ok(found(row, fingerprint));
                    }
                }
                // Claimed and abandoned again and again: someone is still at it.
                Ok(Begin::InProgress)
            })
            .await
        })
    }

    async fn complete(
        &self,
        owner: &str,
        key: &str,
        claimed_at: OffsetDateTime,
        status: u16,
        body: &Sealed,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            use s::idempotency_keys as k;
            diesel::update(
                k::table
                    .filter(k::owner.eq(owner))
                    .filter(k::idem_key.eq(key))
                    .filter(k::created_at.eq(DbTime(claimed_at)))
                    .filter(k::status.is_null()),
            )
            .set((
                k::status.eq(Some(i32::from(status))),
                k::body.eq(Some(body.ciphertext.as_slice())),
                k::seal_key_id.eq(Some(body.key_id.as_str())),
                k::seal_nonce.eq(Some(body.nonce.as_slice())),
            ))
            .execute(conn)
            .await
            .map(|_| ())
        })
    }

    async fn abandon(
        &self,
        owner: &str,
        key: &str,
        claimed_at: OffsetDateTime,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            use s::idempotency_keys as k;
            diesel::delete(
                k::table
                    .filter(k::owner.eq(owner))
                    .filter(k::idem_key.eq(key))
                    .filter(k::created_at.eq(DbTime(claimed_at)))
                    .filter(k::status.is_null()),
            )
            .execute(conn)
            .await
            .map(|_| ())
        })
    }

    async fn sweep(&self, now: OffsetDateTime) -> Result<u64, RepoError> {
        let n = db!(self, |conn, s| {
            use s::idempotency_keys as k;
            diesel::delete(k::table.filter(k::expires_at.le(DbTime(now))))
                .execute(conn)
                .await
        })?;
        Ok(n as u64)
    }
}
