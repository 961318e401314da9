use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_auth::oauth::{Grant, GrantId, OAuthClient, OAuthRepository, StoredToken, TokenKind};
use hydracore_core::RepoError;
use hydracore_core::audit::AuditEvent;
use hydracore_scopes::ScopeSet;
use hydracore_tenants::{TenantId, UserId};
use time::OffsetDateTime;

use crate::audit::record;
use crate::{DbId, DbTime, Store, corrupt, db};

type GrantRow = (
    DbId,
    DbId,
    DbId,
    String,
    String,
    String,
    String,
    DbTime,
    Option<DbTime>,
    Option<DbTime>,
);

type TokenRow = (
    Vec<u8>,
    DbId,
    String,
    String,
    Option<String>,
    Option<String>,
    DbTime,
    DbTime,
    Option<DbTime>,
);

macro_rules! grant_columns {
    ($s:ident) => {
        (
            $s::oauth_grants::id,
            $s::oauth_grants::tenant_id,
            $s::oauth_grants::user_id,
            $s::oauth_grants::client_id,
            $s::oauth_grants::client_name,
            $s::oauth_grants::scopes,
            $s::oauth_grants::resource,
            $s::oauth_grants::created_at,
            $s::oauth_grants::last_used_at,
            $s::oauth_grants::revoked_at,
        )
    };
}

macro_rules! token_columns {
    ($s:ident) => {
        (
            $s::oauth_tokens::token_hash,
            $s::oauth_tokens::grant_id,
            $s::oauth_tokens::kind,
            $s::oauth_tokens::scopes,
            $s::oauth_tokens::redirect_uri,
            $s::oauth_tokens::challenge,
            $s::oauth_tokens::created_at,
            $s::oauth_tokens::expires_at,
            $s::oauth_tokens::used_at,
        )
    };
}

macro_rules! insert_tokens {
    ($conn:expr, $s:ident, $tokens:expr) => {{
        let mut result = Ok(0);
        for t in $tokens {
            result = diesel::insert_into($s::oauth_tokens::table)
                .values((
                    $s::oauth_tokens::token_hash.eq(t.hash.as_slice()),
                    $s::oauth_tokens::grant_id.eq(DbId(t.grant_id.0)),
                    $s::oauth_tokens::kind.eq(t.kind.as_str()),
                    $s::oauth_tokens::scopes.eq(t.scopes.to_strings().join(" ")),
                    $s::oauth_tokens::redirect_uri.eq(t.redirect_uri.as_deref()),
                    $s::oauth_tokens::challenge.eq(t.challenge.as_deref()),
                    $s::oauth_tokens::created_at.eq(DbTime(t.created_at)),
                    $s::oauth_tokens::expires_at.eq(DbTime(t.expires_at)),
                    $s::oauth_tokens::used_at.eq(t.used_at.map(DbTime)),
                ))
                .execute($conn)
                .await;
            if result.is_err() {
                break;
            }
        }
        result.map(|_| ())
    }};
}

fn scopes(text: &str, what: &str) -> Result<ScopeSet, RepoError> {
    let words: Vec<&str> = text.split_whitespace().collect();
    ScopeSet::parse(&words).map_err(|(_, e)| corrupt(format!("{what}: {e}")))
}

fn grant(r: GrantRow) -> Result<Grant, RepoError> {
    Ok(Grant {
        id: GrantId(r.0.0),
        tenant_id: TenantId(r.1.0),
        user_id: UserId(r.2.0),
        client_id: r.3,
        client_name: r.4,
        scopes: scopes(&r.5, "oauth grant")?,
        resource: r.6,
        created_at: r.7.0,
        last_used_at: r.8.map(|t| t.0),
        revoked_at: r.9.map(|t| t.0),
    })
}

fn token(r: TokenRow) -> Result<StoredToken, RepoError> {
    Ok(StoredToken {
        hash: r
            .0
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("an oauth token hash is not 32 bytes"))?,
        grant_id: GrantId(r.1.0),
        kind: TokenKind::parse(&r.2).ok_or_else(|| corrupt("unknown oauth token kind"))?,
        scopes: scopes(&r.3, "oauth token")?,
        redirect_uri: r.4,
        challenge: r.5,
        created_at: r.6.0,
        expires_at: r.7.0,
        used_at: r.8.map(|t| t.0),
    })
}

#[async_trait]
impl OAuthRepository for Store {
    async fn insert_client(&self, client: &OAuthClient) -> Result<(), RepoError> {
        let uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|e| RepoError::Unexpected(e.into()))?;
        db!(self, |conn, s| {
            diesel::insert_into(s::oauth_clients::table)
                .values((
                    s::oauth_clients::id.eq(&client.id),
                    s::oauth_clients::name.eq(&client.name),
                    s::oauth_clients::redirect_uris.eq(&uris),
                    s::oauth_clients::created_at.eq(DbTime(client.created_at)),
                ))
                .execute(conn)
                .await
                .map(|_| ())
        })
    }

    async fn find_client(&self, id: &str) -> Result<Option<OAuthClient>, RepoError> {
        let row: Option<(String, String, String, DbTime)> = db!(self, |conn, s| {
            s::oauth_clients::table
                .filter(s::oauth_clients::id.eq(id))
                .select((
                    s::oauth_clients::id,
                    s::oauth_clients::name,
                    s::oauth_clients::redirect_uris,
                    s::oauth_clients::created_at,
                ))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(|(id, name, uris, created_at)| {
            Ok(OAuthClient {
                redirect_uris: serde_json::from_str(&uris)
                    .map_err(|e| corrupt(format!("oauth client {id}: {e}")))?,
                id,
                name,
                created_at: created_at.0,
            })
        })
        .transpose()
    }

    async fn insert_grant(
        &self,
        grant: &Grant,
        code: &StoredToken,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::oauth_grants::table)
                    .values((
                        s::oauth_grants::id.eq(DbId(grant.id.0)),
                        s::oauth_grants::tenant_id.eq(DbId(grant.tenant_id.0)),
                        s::oauth_grants::user_id.eq(DbId(grant.user_id.0)),
                        s::oauth_grants::client_id.eq(&grant.client_id),
                        s::oauth_grants::client_name.eq(&grant.client_name),
                        s::oauth_grants::scopes.eq(grant.scopes.to_strings().join(" ")),
                        s::oauth_grants::resource.eq(&grant.resource),
                        s::oauth_grants::created_at.eq(DbTime(grant.created_at)),
                    ))
                    .execute(conn)
                    .await?;
                insert_tokens!(conn, s, std::slice::from_ref(code))?;
                record!(conn, s, event)
            })
            .await
        })
    }

    async fn extend_grant(
        &self,
        grant: GrantId,
        scopes: &ScopeSet,
        client_name: &str,
        code: &StoredToken,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(
                    s::oauth_grants::table
                        .filter(s::oauth_grants::id.eq(DbId(grant.0)))
                        .filter(s::oauth_grants::revoked_at.is_null()),
                )
                .set((
                    s::oauth_grants::scopes.eq(scopes.to_strings().join(" ")),
                    s::oauth_grants::client_name.eq(client_name),
                ))
                .execute(conn)
                .await?;
                if n == 0 {
                    return Ok(false);
                }
                insert_tokens!(conn, s, std::slice::from_ref(code))?;
                record!(conn, s, event)?;
                Ok(true)
            })
            .await
        })
    }

    async fn find_token(&self, hash: &[u8; 32]) -> Result<Option<(StoredToken, Grant)>, RepoError> {
        let row: Option<(TokenRow, GrantRow)> = db!(self, |conn, s| {
            s::oauth_tokens::table
                .inner_join(s::oauth_grants::table)
                .filter(s::oauth_tokens::token_hash.eq(hash.as_slice()))
                .select((token_columns!(s), grant_columns!(s)))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(|(t, g)| Ok((token(t)?, grant(g)?))).transpose()
    }

    async fn exchange(
        &self,
        old: &[u8; 32],
        at: OffsetDateTime,
        new: &[StoredToken],
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let live = s::oauth_grants::table
                    .filter(s::oauth_grants::revoked_at.is_null())
                    .select(s::oauth_grants::id);
                let n = diesel::update(
                    s::oauth_tokens::table
                        .filter(s::oauth_tokens::token_hash.eq(old.as_slice()))
                        .filter(s::oauth_tokens::used_at.is_null())
                        .filter(s::oauth_tokens::grant_id.eq_any(live)),
                )
                .set(s::oauth_tokens::used_at.eq(DbTime(at)))
                .execute(conn)
                .await?;
                if n != 1 {
                    return Ok(false);
                }
                insert_tokens!(conn, s, new)?;
                Ok(true)
            })
            .await
        })
    }

    async fn delete_token(&self, hash: &[u8; 32]) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            diesel::delete(
                s::oauth_tokens::table.filter(s::oauth_tokens::token_hash.eq(hash.as_slice())),
            )
            .execute(conn)
            .await
            .map(|_| ())
        })
    }

    async fn touch(&self, grant: GrantId, at: OffsetDateTime) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            diesel::update(s::oauth_grants::table.filter(s::oauth_grants::id.eq(DbId(grant.0))))
                .set(s::oauth_grants::last_used_at.eq(DbTime(at)))
                .execute(conn)
                .await
                .map(|_| ())
        })
    }

    async fn revoke_grant(
        &self,
        grant: GrantId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(
                    s::oauth_grants::table
                        .filter(s::oauth_grants::id.eq(DbId(grant.0)))
                        .filter(s::oauth_grants::revoked_at.is_null()),
                )
                .set(s::oauth_grants::revoked_at.eq(DbTime(at)))
                .execute(conn)
                .await?;
                if n == 0 {
                    return Ok(false);
                }
                diesel::delete(
                    s::oauth_tokens::table.filter(s::oauth_tokens::grant_id.eq(DbId(grant.0))),
                )
                .execute(conn)
                .await?;
                record!(conn, s, event)?;
                Ok(true)
            })
            .await
        })
    }

    async fn find_grant(&self, id: GrantId) -> Result<Option<Grant>, RepoError> {
        let row: Option<GrantRow> = db!(self, |conn, s| {
            s::oauth_grants::table
                .filter(s::oauth_grants::id.eq(DbId(id.0)))
                .select(grant_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(grant).transpose()
    }

    async fn grants_of(&self, user: UserId) -> Result<Vec<Grant>, RepoError> {
        let rows: Vec<GrantRow> = db!(self, |conn, s| {
            s::oauth_grants::table
                .filter(s::oauth_grants::user_id.eq(DbId(user.0)))
                .filter(s::oauth_grants::revoked_at.is_null())
                .order((
                    s::oauth_grants::created_at.desc(),
                    s::oauth_grants::id.desc(),
                ))
                .select(grant_columns!(s))
                .load(conn)
                .await
        })?;
        rows.into_iter().map(grant).collect()
    }

    async fn sweep(&self, now: OffsetDateTime) -> Result<u64, RepoError> {
        let n = db!(self, |conn, s| {
            let tokens = diesel::delete(
                s::oauth_tokens::table.filter(s::oauth_tokens::expires_at.le(DbTime(now))),
            )
            .execute(conn)
            .await?;
            let grants = diesel::delete(
                s::oauth_grants::table.filter(s::oauth_grants::revoked_at.le(DbTime(now))),
            )
            .execute(conn)
            .await?;
            Ok(tokens + grants)
        })?;
        Ok(n as u64)
    }
}
