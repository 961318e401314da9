use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_core::RepoError;
use hydracore_core::idempotency::{Begin, IdempotencyStore};
use time::OffsetDateTime;

use crate::{DbTime, Store, db};

#[async_trait]
impl IdempotencyStore for Store {
    async fn begin(
        &self,
        owner: &str,
        key: &str,
        fingerprint: &[u8; 32],
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Begin, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let mine = s::idempotency_keys::table
                    .filter(s::idempotency_keys::owner.eq(owner))
                    .filter(s::idempotency_keys::idem_key.eq(key));
                diesel::delete(mine.filter(s::idempotency_keys::expires_at.le(DbTime(now))))
                    .execute(conn)
                    .await?;
                let claimed = diesel::insert_into(s::idempotency_keys::table)
                    .values((
                        s::idempotency_keys::owner.eq(owner),
                        s::idempotency_keys::idem_key.eq(key),
                        s::idempotency_keys::fingerprint.eq(fingerprint.as_slice()),
                        s::idempotency_keys::created_at.eq(DbTime(now)),
                        s::idempotency_keys::expires_at.eq(DbTime(expires_at)),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                if claimed == 1 {
                    return Ok(Begin::Started);
                }
                let (stored, status, body): (Vec<u8>, Option<i32>, Option<Vec<u8>>) = mine
                    .select((
                        s::idempotency_keys::fingerprint,
                        s::idempotency_keys::status,
                        s::idempotency_keys::body,
                    ))
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
        status: u16,
        body: &[u8],
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            diesel::update(
                s::idempotency_keys::table
                    .filter(s::idempotency_keys::owner.eq(owner))
                    .filter(s::idempotency_keys::idem_key.eq(key)),
            )
            .set((
                s::idempotency_keys::status.eq(Some(i32::from(status))),
                s::idempotency_keys::body.eq(Some(body)),
            ))
            .execute(conn)
            .await
            .map(|_| ())
        })
    }

    async fn abandon(&self, owner: &str, key: &str) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            diesel::delete(
                s::idempotency_keys::table
                    .filter(s::idempotency_keys::owner.eq(owner))
                    .filter(s::idempotency_keys::idem_key.eq(key)),
            )
            .execute(conn)
            .await
            .map(|_| ())
        })
    }
}
