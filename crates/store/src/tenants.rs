use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_core::RepoError;
use hydracore_core::audit::AuditEvent;
use hydracore_tenants::{Tenant, TenantId, TenantName, TenantRepository};

use crate::audit::record;
use crate::{DbId, DbTime, Store, corrupt, db};

/// The column values of a new tenant row, from the schema module `$s`.
macro_rules! tenant_values {
    ($s:ident, $tenant:expr) => {{
        let t: &Tenant = $tenant;
        (
            $s::tenants::id.eq(DbId(t.id.0)),
            $s::tenants::name.eq(t.name.as_str().to_owned()),
            $s::tenants::created_at.eq(DbTime(t.created_at)),
        )
    }};
}
pub(crate) use tenant_values;

#[derive(Queryable)]
struct TenantRow {
    id: DbId,
    name: String,
    created_at: DbTime,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = RepoError;

    fn try_from(r: TenantRow) -> Result<Self, RepoError> {
        Ok(Tenant {
            id: TenantId(r.id.0),
            name: TenantName::parse(&r.name).map_err(|e| corrupt(e.to_string()))?,
            created_at: r.created_at.0,
        })
    }
}

#[async_trait]
impl TenantRepository for Store {
    async fn insert(&self, tenant: &Tenant, event: &AuditEvent) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::tenants::table)
                    .values(tenant_values!(s, tenant))
                    .execute(conn)
                    .await?;
                record!(conn, s, event)
            })
            .await
        })
    }

    async fn find(&self, id: TenantId) -> Result<Option<Tenant>, RepoError> {
        let row: Option<TenantRow> = db!(self, |conn, s| {
            s::tenants::table
                .filter(s::tenants::id.eq(DbId(id.0)))
                .select((s::tenants::id, s::tenants::name, s::tenants::created_at))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(Tenant::try_from).transpose()
    }

    async fn delete(&self, id: TenantId) -> Result<bool, RepoError> {
        let n = db!(self, |conn, s| {
            diesel::delete(s::tenants::table.filter(s::tenants::id.eq(DbId(id.0))))
                .execute(conn)
                .await
        })?;
        Ok(n == 1)
    }
}
