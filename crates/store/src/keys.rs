use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_core::audit::AuditEvent;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_keys::{
    ApiKey, ApiKeyId, KeyHash, KeyRepository, RateLimit, UsageBucket, UsageCounts,
};
use hydracore_scopes::ScopeSet;
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::audit::record;
use crate::{DbId, DbTime, Store, corrupt, db, keyset};

#[derive(Queryable)]
struct KeyRow {
    id: DbId,
    tenant_id: DbId,
    name: String,
    prefix: String,
    scopes: String,
    created_at: DbTime,
    expires_at: Option<DbTime>,
    revoked_at: Option<DbTime>,
    last_used_at: Option<DbTime>,
    rate_limit_requests: Option<i32>,
    rate_limit_per_seconds: Option<i32>,
    rotated_at: Option<DbTime>,
}

/// The columns of [`KeyRow`], in order, from the schema module `$s`.
macro_rules! key_columns {
    ($s:ident) => {
        (
            $s::api_keys::id,
            $s::api_keys::tenant_id,
            $s::api_keys::name,
            $s::api_keys::prefix,
            $s::api_keys::scopes,
            $s::api_keys::created_at,
            $s::api_keys::expires_at,
            $s::api_keys::revoked_at,
            $s::api_keys::last_used_at,
            $s::api_keys::rate_limit_requests,
            $s::api_keys::rate_limit_per_seconds,
            $s::api_keys::rotated_at,
        )
    };
}

/// The column values of a new key row, from the schema module `$s`.
macro_rules! key_values {
    ($s:ident, $key:expr, $hash:expr) => {{
        let key: &ApiKey = $key;
        let (requests, per_seconds) = limit_columns(key.rate_limit);
        (
            $s::api_keys::id.eq(DbId(key.id.0)),
            $s::api_keys::tenant_id.eq(DbId(key.tenant_id.0)),
            $s::api_keys::name.eq(key.name.clone()),
            $s::api_keys::prefix.eq(key.prefix.clone()),
            $s::api_keys::key_hash.eq($hash.to_vec()),
            $s::api_keys::scopes.eq(scopes_text(&key.scopes)),
            $s::api_keys::created_at.eq(DbTime(key.created_at)),
            $s::api_keys::expires_at.eq(key.expires_at.map(DbTime)),
            $s::api_keys::revoked_at.eq(key.revoked_at.map(DbTime)),
            $s::api_keys::last_used_at.eq(key.last_used_at.map(DbTime)),
            $s::api_keys::rate_limit_requests.eq(requests),
            $s::api_keys::rate_limit_per_seconds.eq(per_seconds),
            $s::api_keys::rotated_at.eq(key.rotated_at.map(DbTime)),
        )
    }};
}

fn scopes_text(scopes: &ScopeSet) -> String {
    scopes.to_strings().join(" ")
}

fn limit_columns(limit: Option<RateLimit>) -> (Option<i32>, Option<i32>) {
    match limit {
        Some(l) => (
            i32::try_from(l.requests).ok(),
            i32::try_from(l.per_seconds).ok(),
        ),
        None => (None, None),
    }
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = RepoError;

    fn try_from(r: KeyRow) -> Result<Self, RepoError> {
        let words: Vec<&str> = r.scopes.split_whitespace().collect();
        let scopes = ScopeSet::parse(&words)
            .map_err(|(_, e)| corrupt(format!("api key {}: {e}", r.id.0)))?;
        let rate_limit = match (r.rate_limit_requests, r.rate_limit_per_seconds) {
            (Some(n), Some(per)) => Some(
                RateLimit::new(
                    u32::try_from(n).map_err(|e| corrupt(e.to_string()))?,
                    u32::try_from(per).map_err(|e| corrupt(e.to_string()))?,
                )
                .map_err(|e| corrupt(e.to_string()))?,
            ),
            _ => None,
        };
        Ok(ApiKey {
            id: ApiKeyId(r.id.0),
            tenant_id: TenantId(r.tenant_id.0),
            name: r.name,
            prefix: r.prefix,
            scopes,
            created_at: r.created_at.0,
            expires_at: r.expires_at.map(|t| t.0),
            revoked_at: r.revoked_at.map(|t| t.0),
            last_used_at: r.last_used_at.map(|t| t.0),
            rate_limit,
            rotated_at: r.rotated_at.map(|t| t.0),
        })
    }
}

fn page_key(k: &ApiKey) -> PageKey {
    PageKey {
        created_at: k.created_at,
        id: k.id.0,
    }
}

#[async_trait]
impl KeyRepository for Store {
    async fn insert(
        &self,
        key: &ApiKey,
        hash: &KeyHash,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::api_keys::table)
                    .values(key_values!(s, key, hash))
                    .execute(conn)
                    .await?;
                record!(conn, s, event)
            })
            .await
        })
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKey>, RepoError> {
        let row: Option<KeyRow> = db!(self, |conn, s| {
            s::api_keys::table
                .filter(s::api_keys::key_hash.eq(hash.as_slice()))
                .select(key_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(ApiKey::try_from).transpose()
    }

    async fn find(&self, tenant: TenantId, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError> {
        let row: Option<KeyRow> = db!(self, |conn, s| {
            s::api_keys::table
                .filter(s::api_keys::id.eq(DbId(id.0)))
                .filter(s::api_keys::tenant_id.eq(DbId(tenant.0)))
                .select(key_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(ApiKey::try_from).transpose()
    }

    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<ApiKey>, RepoError> {
        let rows: Vec<KeyRow> = db!(self, |conn, s| {
            let mut q = s::api_keys::table
                .filter(s::api_keys::tenant_id.eq(DbId(tenant.0)))
                .filter(s::api_keys::revoked_at.is_null())
                .select(key_columns!(s))
                .order((s::api_keys::created_at, s::api_keys::id))
                .limit(page.fetch_limit())
                .into_boxed();
            q = keyset!(q, s::api_keys, page);
            q.load(conn).await
        })?;
        let keys = rows
            .into_iter()
            .map(ApiKey::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(keys, &page, page_key))
    }

    async fn update(&self, key: &ApiKey, event: &AuditEvent) -> Result<bool, RepoError> {
        let (requests, per_seconds) = limit_columns(key.rate_limit);
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(
                    s::api_keys::table
                        .filter(s::api_keys::id.eq(DbId(key.id.0)))
                        .filter(s::api_keys::tenant_id.eq(DbId(key.tenant_id.0)))
                        .filter(s::api_keys::revoked_at.is_null()),
                )
                .set((
                    s::api_keys::name.eq(&key.name),
                    s::api_keys::scopes.eq(scopes_text(&key.scopes)),
                    s::api_keys::expires_at.eq(key.expires_at.map(DbTime)),
                    s::api_keys::rate_limit_requests.eq(requests),
                    s::api_keys::rate_limit_per_seconds.eq(per_seconds),
                ))
                .execute(conn)
                .await?;
                if n == 1 {
                    s::announce_key(conn, key.id.0).await?;
                    record!(conn, s, event)?;
                }
                Ok(n == 1)
            })
            .await
        })
    }

    async fn revoke(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(
                    s::api_keys::table
                        .filter(s::api_keys::id.eq(DbId(id.0)))
                        .filter(s::api_keys::tenant_id.eq(DbId(tenant.0)))
                        .filter(s::api_keys::revoked_at.is_null()),
                )
                .set(s::api_keys::revoked_at.eq(Some(DbTime(at))))
                .execute(conn)
                .await?;
                if n == 1 {
                    s::announce_key(conn, id.0).await?;
                    record!(conn, s, event)?;
                }
                Ok(n == 1)
            })
            .await
        })
    }

    async fn rotate(
        &self,
        old: ApiKeyId,
        at: OffsetDateTime,
        old_expires_at: OffsetDateTime,
        new: &ApiKey,
        hash: &KeyHash,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(
                    s::api_keys::table
                        .filter(s::api_keys::id.eq(DbId(old.0)))
                        .filter(s::api_keys::tenant_id.eq(DbId(new.tenant_id.0)))
                        .filter(s::api_keys::revoked_at.is_null())
                        .filter(s::api_keys::rotated_at.is_null())
                        .filter(
                            s::api_keys::expires_at
                                .is_null()
                                .or(s::api_keys::expires_at.gt(DbTime(at))),
                        ),
                )
                .set((
                    s::api_keys::expires_at.eq(Some(DbTime(old_expires_at))),
                    s::api_keys::rotated_at.eq(Some(DbTime(at))),
                ))
                .execute(conn)
                .await?;
                if n != 1 {
                    return Ok(false);
                }
                diesel::insert_into(s::api_keys::table)
                    .values(key_values!(s, new, hash))
                    .execute(conn)
                    .await?;
                s::announce_key(conn, old.0).await?;
                record!(conn, s, event)?;
                Ok(true)
            })
            .await
        })
    }

    async fn record_usage(&self, used: &[(ApiKeyId, OffsetDateTime)]) -> Result<(), RepoError> {
        for (id, at) in used {
            db!(self, |conn, s| {
                diesel::update(
                    s::api_keys::table
                        .filter(s::api_keys::id.eq(DbId(id.0)))
                        .filter(
                            s::api_keys::last_used_at
                                .is_null()
                                .or(s::api_keys::last_used_at.lt(DbTime(*at))),
                        ),
                )
                .set(s::api_keys::last_used_at.eq(Some(DbTime(*at))))
                .execute(conn)
                .await
                .map(|_| ())
            })?;
        }
        Ok(())
    }

    async fn add_usage(&self, buckets: &[UsageBucket]) -> Result<(), RepoError> {
        // One row per key and hour, in key and hour order: concurrent flushes of
        // several nodes then lock rows in one order and cannot deadlock.
        let mut rows: std::collections::BTreeMap<(uuid::Uuid, DbTime), (DbId, UsageCounts)> =
            std::collections::BTreeMap::new();
        for b in buckets {
            rows.entry((b.key_id.0, DbTime(b.hour)))
                .or_insert_with(|| (DbId(b.tenant_id.0), UsageCounts::default()))
                .1
                .add(&b.counts);
        }
        let column = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                use diesel::upsert::excluded;
                use s::api_key_usage as u;
                for ((key, hour), (tenant, counts)) in &rows {
                    diesel::insert_into(u::table)
                        .values((
                            u::key_id.eq(DbId(*key)),
                            u::tenant_id.eq(*tenant),
                            u::hour.eq(*hour),
                            u::ok.eq(column(counts.ok)),
                            u::client_error.eq(column(counts.client_error)),
                            u::forbidden.eq(column(counts.forbidden)),
                            u::rate_limited.eq(column(counts.rate_limited)),
                            u::server_error.eq(column(counts.server_error)),
                        ))
                        .on_conflict((u::key_id, u::hour))
                        .do_update()
                        .set((
                            u::ok.eq(u::ok + excluded(u::ok)),
                            u::client_error.eq(u::client_error + excluded(u::client_error)),
                            u::forbidden.eq(u::forbidden + excluded(u::forbidden)),
                            u::rate_limited.eq(u::rate_limited + excluded(u::rate_limited)),
                            u::server_error.eq(u::server_error + excluded(u::server_error)),
                        ))
                        .execute(conn)
                        .await?;
                }
                Ok(())
            })
            .await
        })
    }

    async fn usage(
        &self,
        tenant: TenantId,
        keys: &[ApiKeyId],
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<UsageBucket>, RepoError> {
        type Row = (DbId, DbId, DbTime, i64, i64, i64, i64, i64);
        let ids: Vec<DbId> = keys.iter().map(|k| DbId(k.0)).collect();
        let rows: Vec<Row> = db!(self, |conn, s| {
            use s::api_key_usage as u;
            u::table
                .filter(u::key_id.eq_any(&ids))
                .filter(u::tenant_id.eq(DbId(tenant.0)))
                .filter(u::hour.ge(DbTime(since)))
                .filter(u::hour.lt(DbTime(until)))
                .select((
                    u::key_id,
                    u::tenant_id,
                    u::hour,
                    u::ok,
                    u::client_error,
                    u::forbidden,
                    u::rate_limited,
                    u::server_error,
                ))
                .order((u::key_id, u::hour))
                .load(conn)
                .await
        })?;
        let count = |n: i64| u64::try_from(n).map_err(|e| corrupt(format!("usage count: {e}")));
        rows.into_iter()
            .map(|(key, t, hour, ok, client, forbidden, limited, server)| {
                Ok(UsageBucket {
                    key_id: ApiKeyId(key.0),
                    tenant_id: TenantId(t.0),
                    hour: hour.0,
                    counts: UsageCounts {
                        ok: count(ok)?,
                        client_error: count(client)?,
                        forbidden: count(forbidden)?,
                        rate_limited: count(limited)?,
                        server_error: count(server)?,
                    },
                })
            })
            .collect()
    }

    async fn delete_usage_before(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        let n = db!(self, |conn, s| {
            use s::api_key_usage as u;
            diesel::delete(u::table.filter(u::hour.lt(DbTime(before))))
                .execute(conn)
                .await
        })?;
        Ok(n as u64)
    }
}
