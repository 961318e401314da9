//! The audit log: events are written by [`record!`] inside the transaction of the
//! change they record (every repository that changes something calls it); this module
//! reads them back.

use std::net::IpAddr;

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hydracore_audit::{AuditLog, AuditQuery};
use hydracore_core::audit::{
    Action, ActorKind, AuditActor, AuditEvent, AuditEventId, AuditTarget, TargetKind,
};
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::{DbId, DbTime, Store, corrupt, db, keyset, keyset_before};

/// The statement inserting audit event `$event`, with the backend's schema module `$s`.
macro_rules! event_insert {
    ($s:ident, $event:expr) => {{
        let e: &hydracore_core::audit::AuditEvent = $event;
        diesel::insert_into($s::audit_events::table).values((
            $s::audit_events::id.eq($crate::DbId(e.id.0)),
            $s::audit_events::tenant_id.eq(e.tenant_id.map($crate::DbId)),
            $s::audit_events::created_at.eq($crate::DbTime(e.at)),
            $s::audit_events::action.eq(e.action.as_str()),
            $s::audit_events::actor_kind.eq(e.actor.kind.as_str()),
            $s::audit_events::actor_id.eq(e.actor.id.map($crate::DbId)),
            $s::audit_events::actor_name.eq(e.actor.name.clone()),
            $s::audit_events::target_kind.eq(e.target.kind.as_str()),
            $s::audit_events::target_id.eq($crate::DbId(e.target.id)),
            $s::audit_events::target_name.eq(e.target.name.clone()),
            $s::audit_events::fields.eq(e.fields.join(",")),
            $s::audit_events::request_id.eq(e.request_id.clone()),
            $s::audit_events::client.eq(e.client.map(|c| c.to_string())),
        ))
    }};
}
pub(crate) use event_insert;

/// Inserts audit event `$event` on connection `$conn` with the backend's schema module
/// `$s`: one statement, meant for the transaction of the change it records.
macro_rules! record {
    ($conn:expr, $s:ident, $event:expr) => {{
        $crate::audit::event_insert!($s, $event)
            .execute($conn)
            .await
            .map(|_| ())
    }};
}
pub(crate) use record;

/// Runs `$change` (an insert, which either adds its row or fails) and inserts
/// `$event`, all or nothing; returns the change's row count. On PostgreSQL the two go
/// as one statement (`WITH audit_event AS (…) INSERT …`), which needs no BEGIN and
/// COMMIT round trips; SQLite runs them in a transaction.
macro_rules! insert_recorded {
    ($conn:expr, $s:ident, $change:expr, $event:expr) => {{
        let event = $crate::audit::event_insert!($s, $event);
        $crate::audit::Recorded::insert_recorded($conn, $change, event).await
    }};
}
pub(crate) use insert_recorded;

/// `WITH audit_event AS (<event>) <change>`: PostgreSQL runs a data-modifying `WITH`
/// and its main statement atomically, as one.
#[derive(Debug)]
pub(crate) struct WithEvent<E, C> {
    event: E,
    change: C,
}

impl<E, C> diesel::query_builder::QueryId for WithEvent<E, C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<E, C> diesel::query_builder::QueryFragment<diesel::pg::Pg> for WithEvent<E, C>
where
    E: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    C: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH audit_event AS (");
        self.event.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.change.walk_ast(out.reborrow())
    }
}

/// A change and its event, all or nothing, as each backend does it best.
pub(crate) trait Recorded: Sized {
    fn insert_recorded<C, E>(
        &mut self,
        change: C,
        event: E,
    ) -> impl Future<Output = QueryResult<usize>> + Send
    where
        C: diesel::query_builder::QueryFragment<
                <Self as diesel_async::AsyncConnectionCore>::Backend,
            > + diesel::query_builder::QueryId
            + Send
            + Sync,
        E: diesel::query_builder::QueryFragment<
                <Self as diesel_async::AsyncConnectionCore>::Backend,
            > + diesel::query_builder::QueryId
            + Send
            + Sync,
        Self: diesel_async::AsyncConnectionCore;
}

impl Recorded for diesel_async::AsyncPgConnection {
    async fn insert_recorded<C, E>(&mut self, change: C, event: E) -> QueryResult<usize>
    where
        C: diesel::query_builder::QueryFragment<diesel::pg::Pg>
            + diesel::query_builder::QueryId
            + Send
            + Sync,
        E: diesel::query_builder::QueryFragment<diesel::pg::Pg>
            + diesel::query_builder::QueryId
            + Send
            + Sync,
    {
        WithEvent { event, change }.execute(self).await
    }
}

impl Recorded for crate::SqliteConn {
    async fn insert_recorded<C, E>(&mut self, change: C, event: E) -> QueryResult<usize>
    where
        C: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>
            + diesel::query_builder::QueryId
            + Send
            + Sync,
        E: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>
            + diesel::query_builder::QueryId
            + Send
            + Sync,
    {
        use diesel_async::AsyncConnection;
        self.transaction::<_, diesel::result::Error, _>(async |conn| {
            let n = change.execute(conn).await?;
            event.execute(conn).await?;
            Ok(n)
        })
        .await
    }
}

#[derive(Queryable)]
struct EventRow {
    id: DbId,
    tenant_id: Option<DbId>,
    created_at: DbTime,
    action: String,
    actor_kind: String,
    actor_id: Option<DbId>,
    actor_name: String,
    target_kind: String,
    target_id: DbId,
    target_name: String,
    fields: String,
    request_id: Option<String>,
    client: Option<String>,
}

macro_rules! event_columns {
    ($s:ident) => {
        (
            $s::audit_events::id,
            $s::audit_events::tenant_id,
            $s::audit_events::created_at,
            $s::audit_events::action,
            $s::audit_events::actor_kind,
            $s::audit_events::actor_id,
            $s::audit_events::actor_name,
            $s::audit_events::target_kind,
            $s::audit_events::target_id,
            $s::audit_events::target_name,
            $s::audit_events::fields,
            $s::audit_events::request_id,
            $s::audit_events::client,
        )
    };
}

impl TryFrom<EventRow> for AuditEvent {
    type Error = RepoError;

    fn try_from(r: EventRow) -> Result<Self, RepoError> {
        let bad = |what: &str, v: &str| corrupt(format!("audit event {}: {what} '{v}'", r.id.0));
        Ok(AuditEvent {
            id: AuditEventId(r.id.0),
            tenant_id: r.tenant_id.map(|t| t.0),
            at: r.created_at.0,
            action: Action::parse(&r.action).ok_or_else(|| bad("action", &r.action))?,
            actor: AuditActor {
                kind: ActorKind::parse(&r.actor_kind)
                    .ok_or_else(|| bad("actor kind", &r.actor_kind))?,
                id: r.actor_id.map(|a| a.0),
                name: r.actor_name,
            },
            target: AuditTarget {
                kind: TargetKind::parse(&r.target_kind)
                    .ok_or_else(|| bad("target kind", &r.target_kind))?,
                id: r.target_id.0,
                name: r.target_name,
            },
            fields: r
                .fields
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            request_id: r.request_id,
            client: r.client.and_then(|c| c.parse::<IpAddr>().ok()),
        })
    }
}

fn page_key(e: &AuditEvent) -> PageKey {
    PageKey {
        created_at: e.at,
        id: e.id.0,
    }
}

#[async_trait]
impl AuditLog for Store {
    async fn list(
        &self,
        tenant: Option<TenantId>,
        query: &AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, RepoError> {
        let actions: Vec<&str> = query.actions.iter().map(|a| a.as_str()).collect();
        let rows: Vec<EventRow> = db!(self, |conn, s| {
            let mut q = s::audit_events::table
                .select(event_columns!(s))
                .limit(page.fetch_limit())
                .into_boxed();
            if let Some(t) = tenant {
                q = q.filter(s::audit_events::tenant_id.eq(Some(DbId(t.0))));
            }
            if let Some(actor) = query.actor_id {
                q = q.filter(s::audit_events::actor_id.eq(Some(DbId(actor))));
            }
            if !actions.is_empty() {
                q = q.filter(s::audit_events::action.eq_any(&actions));
            }
            if let Some(target) = query.target_id {
                q = q.filter(s::audit_events::target_id.eq(DbId(target)));
            }
            if let Some(since) = query.since {
                q = q.filter(s::audit_events::created_at.ge(DbTime(since)));
            }
            if let Some(until) = query.until {
                q = q.filter(s::audit_events::created_at.lt(DbTime(until)));
            }
            let q = if query.newest_first {
                keyset_before!(q, s::audit_events, page).order((
                    s::audit_events::created_at.desc(),
                    s::audit_events::id.desc(),
                ))
            } else {
                keyset!(q, s::audit_events, page)
                    .order((s::audit_events::created_at, s::audit_events::id))
            };
            q.load(conn).await
        })?;
        let events = rows
            .into_iter()
            .map(AuditEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(events, &page, page_key))
    }

    async fn find(
        &self,
        tenant: TenantId,
        id: AuditEventId,
    ) -> Result<Option<AuditEvent>, RepoError> {
        let row: Option<EventRow> = db!(self, |conn, s| {
            s::audit_events::table
                .filter(s::audit_events::id.eq(DbId(id.0)))
                .filter(s::audit_events::tenant_id.eq(Some(DbId(tenant.0))))
                .select(event_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(AuditEvent::try_from).transpose()
    }

    async fn sweep(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        let n = db!(self, |conn, s| {
            diesel::delete(
                s::audit_events::table.filter(s::audit_events::created_at.lt(DbTime(before))),
            )
            .execute(conn)
            .await
        })?;
        Ok(n as u64)
    }
}
