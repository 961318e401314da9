use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hydracore_core::RepoError;
use hydracore_tenants::{Tenant, TenantId, TenantName, TenantRepository};

use crate::{DbId, DbTime, Store, corrupt, db};

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
    async fn insert(&self, tenant: &Tenant) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            diesel::insert_into(s::tenants::table)
                .values((
                    s::tenants::id.eq(DbId(tenant.id.0)),
                    s::tenants::name.eq(tenant.name.as_str()),
                    s::tenants::created_at.eq(DbTime(tenant.created_at)),
                ))
                .execute(conn)
                .await
                .map(|_| ())
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
}
