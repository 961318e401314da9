use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_auth::{Session, SessionId, SessionRepository};
use hydracore_core::RepoError;
use hydracore_core::audit::AuditEvent;
use hydracore_tenants::UserId;
use time::OffsetDateTime;

use crate::audit::record;
use crate::{DbId, DbTime, Store, db};

#[derive(Queryable)]
struct SessionRow {
    id: DbId,
    user_id: DbId,
    created_at: DbTime,
    expires_at: DbTime,
}

#[async_trait]
impl SessionRepository for Store {
    async fn insert(
        &self,
        session: &Session,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::console_sessions::table)
                    .values((
                        s::console_sessions::id.eq(DbId(session.id.0)),
                        s::console_sessions::user_id.eq(DbId(session.user_id.0)),
                        s::console_sessions::token_hash.eq(hash.as_slice()),
                        s::console_sessions::created_at.eq(DbTime(session.created_at)),
                        s::console_sessions::expires_at.eq(DbTime(session.expires_at)),
                    ))
                    .execute(conn)
                    .await?;
                match event {
                    Some(e) => record!(conn, s, e),
                    None => Ok(()),
                }
            })
            .await
        })
    }

    async fn find_by_hash(&self, hash: &[u8; 32]) -> Result<Option<Session>, RepoError> {
        let row: Option<SessionRow> = db!(self, |conn, s| {
            s::console_sessions::table
                .filter(s::console_sessions::token_hash.eq(hash.as_slice()))
                .select((
                    s::console_sessions::id,
                    s::console_sessions::user_id,
                    s::console_sessions::created_at,
                    s::console_sessions::expires_at,
                ))
                .first(conn)
                .await
                .optional()
        })?;
        Ok(row.map(|r| Session {
            id: SessionId(r.id.0),
            user_id: UserId(r.user_id.0),
            created_at: r.created_at.0,
            expires_at: r.expires_at.0,
        }))
    }

    async fn delete_by_hash(
        &self,
        hash: &[u8; 32],
        event: Option<&AuditEvent>,
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::delete(
                    s::console_sessions::table
                        .filter(s::console_sessions::token_hash.eq(hash.as_slice())),
                )
                .execute(conn)
                .await?;
                if let (true, Some(e)) = (n > 0, event) {
                    record!(conn, s, e)?;
                }
                Ok(n > 0)
            })
            .await
        })
    }

    async fn delete_expired(&self, now: OffsetDateTime) -> Result<u64, RepoError> {
        let n = db!(self, |conn, s| {
            diesel::delete(
                s::console_sessions::table.filter(s::console_sessions::expires_at.le(DbTime(now))),
            )
            .execute(conn)
            .await
        })?;
        Ok(n as u64)
    }
}
