use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_core::audit::AuditEvent;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_instances::{
    Channel, Config, ImageReference, Instance, InstanceId, InstanceName, InstanceRepository,
    RuntimeImage, RuntimeImageId, RuntimeImageRepository, Status,
};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::audit::{insert_recorded, record};
use crate::{DbId, DbJson, DbTime, Store, corrupt, db, keyset};

#[derive(Queryable)]
struct InstanceRow {
    id: DbId,
    tenant_id: DbId,
    name: String,
    status: String,
    runtime_image: String,
    config: DbJson,
    created_at: DbTime,
    updated_at: DbTime,
    status_reason: Option<String>,
}

macro_rules! instance_columns {
    ($s:ident) => {
        (
            $s::instances::id,
            $s::instances::tenant_id,
            $s::instances::name,
            $s::instances::status,
            $s::instances::runtime_image,
            $s::instances::config,
            $s::instances::created_at,
            $s::instances::updated_at,
            $s::instances::status_reason,
        )
    };
}

impl TryFrom<InstanceRow> for Instance {
    type Error = RepoError;

    fn try_from(r: InstanceRow) -> Result<Self, RepoError> {
        Ok(Instance {
            id: InstanceId(r.id.0),
            tenant_id: TenantId(r.tenant_id.0),
            name: InstanceName::parse(&r.name).map_err(|e| corrupt(e.to_string()))?,
            status: r.status.parse::<Status>().map_err(corrupt)?,
            status_reason: r.status_reason,
            runtime_image: ImageReference::trusted(r.runtime_image),
            config: Config::from_text(r.config.0).map_err(corrupt)?,
            created_at: r.created_at.0,
            updated_at: r.updated_at.0,
        })
    }
}

fn instances(rows: Vec<InstanceRow>) -> Result<Vec<Instance>, RepoError> {
    rows.into_iter().map(Instance::try_from).collect()
}

#[async_trait]
impl InstanceRepository for Store {
    async fn insert(&self, i: &Instance, event: &AuditEvent) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            let change = diesel::insert_into(s::instances::table).values((
                s::instances::id.eq(DbId(i.id.0)),
                s::instances::tenant_id.eq(DbId(i.tenant_id.0)),
                s::instances::name.eq(i.name.as_str().to_owned()),
                s::instances::status.eq(i.status.as_str()),
                s::instances::runtime_image.eq(i.runtime_image.as_str().to_owned()),
                s::instances::config.eq(DbJson(i.config.as_str().to_owned())),
                s::instances::created_at.eq(DbTime(i.created_at)),
                s::instances::updated_at.eq(DbTime(i.updated_at)),
            ));
            insert_recorded!(conn, s, change, event).map(|_| ())
        })
    }

    async fn find(&self, tenant: TenantId, id: InstanceId) -> Result<Option<Instance>, RepoError> {
        let row: Option<InstanceRow> = db!(self, |conn, s| {
            s::instances::table
                .filter(s::instances::id.eq(DbId(id.0)))
                .filter(s::instances::tenant_id.eq(DbId(tenant.0)))
                .select(instance_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(Instance::try_from).transpose()
    }

    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<Instance>, RepoError> {
        let rows: Vec<InstanceRow> = db!(self, |conn, s| {
            let q = s::instances::table
                .filter(s::instances::tenant_id.eq(DbId(tenant.0)))
                .select(instance_columns!(s))
                .order((s::instances::created_at, s::instances::id))
                .limit(page.fetch_limit())
                .into_boxed();
            keyset!(q, s::instances, page).load(conn).await
        })?;
        Ok(Page::from_overfetch(instances(rows)?, &page, |i| PageKey {
            created_at: i.created_at,
            id: i.id.0,
        }))
    }

    async fn update(&self, i: &Instance, event: &AuditEvent) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::update(
                    s::instances::table
                        .filter(s::instances::id.eq(DbId(i.id.0)))
                        .filter(s::instances::tenant_id.eq(DbId(i.tenant_id.0))),
                )
                .set((
                    s::instances::name.eq(i.name.as_str()),
                    s::instances::runtime_image.eq(i.runtime_image.as_str()),
                    s::instances::config.eq(DbJson(i.config.as_str().to_owned())),
                    s::instances::updated_at.eq(DbTime(i.updated_at)),
                ))
                .execute(conn)
                .await?;
                if n == 1 {
                    record!(conn, s, event)?;
                }
                Ok(n == 1)
            })
            .await
        })
    }

    async fn transition(
        &self,
        tenant: TenantId,
        id: InstanceId,
        from: Status,
        to: Status,
        reason: Option<&str>,
        at: OffsetDateTime,
        event: Option<&AuditEvent>,
    ) -> Result<Option<Instance>, RepoError> {
        let rows: Vec<InstanceRow> = db!(self, |conn, s| {
            let moved = diesel::update(
                s::instances::table
                    .filter(s::instances::id.eq(DbId(id.0)))
                    .filter(s::instances::tenant_id.eq(DbId(tenant.0)))
                    .filter(s::instances::status.eq(from.as_str())),
            )
            .set((
                s::instances::status.eq(to.as_str()),
                s::instances::status_reason.eq(reason),
                s::instances::updated_at.eq(DbTime(at)),
            ))
            .returning(instance_columns!(s));
            match event {
                // A move the runtime reached: one statement.
                None => moved.get_results(conn).await,
                // A move someone asked for: the move and its event in one transaction.
                Some(e) => {
                    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                        let rows: Vec<InstanceRow> = moved.get_results(conn).await?;
                        if !rows.is_empty() {
                            record!(conn, s, e)?;
                        }
                        Ok(rows)
                    })
                    .await
                }
            }
        })?;
        Ok(instances(rows)?.pop())
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: InstanceId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::delete(
                    s::instances::table
                        .filter(s::instances::id.eq(DbId(id.0)))
                        .filter(s::instances::tenant_id.eq(DbId(tenant.0))),
                )
                .execute(conn)
                .await?;
                if n == 1 {
                    record!(conn, s, event)?;
                }
                Ok(n == 1)
            })
            .await
        })
    }

    async fn unsettled(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Instance>, RepoError> {
        let unsettled = [Status::Starting.as_str(), Status::Stopping.as_str()];
        let rows: Vec<InstanceRow> = db!(self, |conn, s| {
            s::instances::table
                .filter(s::instances::status.eq_any(unsettled))
                .filter(s::instances::updated_at.le(DbTime(before)))
                .select(instance_columns!(s))
                .order((s::instances::updated_at, s::instances::id))
                .limit(i64::from(limit))
                .load(conn)
                .await
        })?;
        instances(rows)
    }

    async fn running(
        &self,
        after: Option<InstanceId>,
        limit: u32,
    ) -> Result<Vec<Instance>, RepoError> {
        let rows: Vec<InstanceRow> = db!(self, |conn, s| {
            let mut q = s::instances::table
                .filter(s::instances::status.eq(Status::Running.as_str()))
                .select(instance_columns!(s))
                .order(s::instances::id)
                .limit(i64::from(limit))
                .into_boxed();
            if let Some(a) = after {
                q = q.filter(s::instances::id.gt(DbId(a.0)));
            }
            q.load(conn).await
        })?;
        instances(rows)
    }
}

#[derive(Queryable)]
struct ImageRow {
    id: DbId,
    name: String,
    version: String,
    digest: String,
    created_at: DbTime,
}

macro_rules! image_columns {
    ($s:ident) => {
        (
            $s::runtime_images::id,
            $s::runtime_images::name,
            $s::runtime_images::version,
            $s::runtime_images::digest,
            $s::runtime_images::created_at,
        )
    };
}

impl From<ImageRow> for RuntimeImage {
    fn from(r: ImageRow) -> Self {
        RuntimeImage {
            id: RuntimeImageId(r.id.0),
            name: r.name,
            version: r.version,
            digest: r.digest,
            created_at: r.created_at.0,
        }
    }
}

#[async_trait]
impl RuntimeImageRepository for Store {
    async fn insert(&self, image: &RuntimeImage, event: &AuditEvent) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::runtime_images::table)
                    .values((
                        s::runtime_images::id.eq(DbId(image.id.0)),
                        s::runtime_images::name.eq(&image.name),
                        s::runtime_images::version.eq(&image.version),
                        s::runtime_images::digest.eq(&image.digest),
                        s::runtime_images::created_at.eq(DbTime(image.created_at)),
                    ))
                    .execute(conn)
                    .await?;
                record!(conn, s, event)
            })
            .await
        })
    }

    async fn find(&self, id: RuntimeImageId) -> Result<Option<RuntimeImage>, RepoError> {
        let row: Option<ImageRow> = db!(self, |conn, s| {
            s::runtime_images::table
                .filter(s::runtime_images::id.eq(DbId(id.0)))
                .select(image_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        Ok(row.map(RuntimeImage::from))
    }

    async fn list(&self, page: PageRequest) -> Result<Page<RuntimeImage>, RepoError> {
        let rows: Vec<ImageRow> = db!(self, |conn, s| {
            let q = s::runtime_images::table
                .select(image_columns!(s))
                .order((s::runtime_images::created_at, s::runtime_images::id))
                .limit(page.fetch_limit())
                .into_boxed();
            keyset!(q, s::runtime_images, page).load(conn).await
        })?;
        let images = rows.into_iter().map(RuntimeImage::from).collect();
        Ok(Page::from_overfetch(images, &page, |i| PageKey {
            created_at: i.created_at,
            id: i.id.0,
        }))
    }

    async fn promote(
        &self,
        channel: Channel,
        id: RuntimeImageId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        if RuntimeImageRepository::find(self, id).await?.is_none() {
            return Ok(false);
        }
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::runtime_image_channels::table)
                    .values((
                        s::runtime_image_channels::channel.eq(channel.as_str()),
                        s::runtime_image_channels::image_id.eq(DbId(id.0)),
                        s::runtime_image_channels::promoted_at.eq(DbTime(at)),
                    ))
                    .on_conflict(s::runtime_image_channels::channel)
                    .do_update()
                    .set((
                        s::runtime_image_channels::image_id.eq(DbId(id.0)),
                        s::runtime_image_channels::promoted_at.eq(DbTime(at)),
                    ))
                    .execute(conn)
                    .await?;
                record!(conn, s, event)?;
                Ok(true)
            })
            .await
        })
    }

    async fn promoted(&self, channel: Channel) -> Result<Option<RuntimeImage>, RepoError> {
        let row: Option<ImageRow> = db!(self, |conn, s| {
            s::runtime_images::table
                .inner_join(s::runtime_image_channels::table)
                .filter(s::runtime_image_channels::channel.eq(channel.as_str()))
                .select(image_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        Ok(row.map(RuntimeImage::from))
    }
}
