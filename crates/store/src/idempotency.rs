use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_core::RepoError;
use hydracore_core::idempotency::{Begin, Claim, IdempotencyStore};
use time::OffsetDateTime;

use crate::{DbTime, Store, db};

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
                let (stored, status, body): (Vec<u8>, Option<i32>, Option<Vec<u8>>) = mine
                    .select((k::fingerprint, k::status, k::body))
                    .first(conn)
                    .await?;
                Ok(if stored != fingerprint.as_slice() {
                    Begin::Mismatch
                } else {
                    match status {
                        None => Begin::InProgress,
                        Some(code) => Begin::Replay {
                            status: u16::try_from(code).unwrap_or(500),
                            body: body.unwrap_or_default(),
                        },
                    }
                })
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
        body: &[u8],
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
                k::body.eq(Some(body)),
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
}
