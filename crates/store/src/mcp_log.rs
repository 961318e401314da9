use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_keys::ApiKeyId;
use hydracore_mcp_log::{CallCaller, CallId, CallQuery, CallStatus, McpCall, McpCallLog};
use hydracore_tenants::TenantId;

use crate::{DbId, DbTime, Store, corrupt, db, keyset, keyset_before};

#[derive(Queryable)]
struct CallRow {
    id: DbId,
    tenant_id: DbId,
    key_id: Option<DbId>,
    tool: String,
    scope: String,
    status: String,
    latency_us: i64,
    created_at: DbTime,
    grant_id: Option<DbId>,
    client_name: Option<String>,
}

#[async_trait]
impl McpCallLog for Store {
    async fn append(&self, calls: &[McpCall]) -> Result<(), RepoError> {
        if calls.is_empty() {
            return Ok(());
        }
        db!(self, |conn, s| {
            // One statement per row: SQLite cannot take a multi-row VALUES list of
            // bound tuples through diesel, and batches here are small.
            for c in calls {
                diesel::insert_into(s::mcp_call_log::table)
                    .values((
                        s::mcp_call_log::id.eq(DbId(c.id.0)),
                        s::mcp_call_log::tenant_id.eq(DbId(c.tenant_id.0)),
                        s::mcp_call_log::key_id.eq(c.caller.key_id().map(|k| DbId(k.0))),
                        s::mcp_call_log::grant_id.eq(match &c.caller {
                            CallCaller::Grant { id, .. } => Some(DbId(*id)),
                            CallCaller::Key(_) => None,
                        }),
                        s::mcp_call_log::client_name.eq(match &c.caller {
                            CallCaller::Grant { client, .. } => Some(client.as_str()),
                            CallCaller::Key(_) => None,
                        }),
                        s::mcp_call_log::tool.eq(&c.tool),
                        s::mcp_call_log::scope.eq(&c.scope),
                        s::mcp_call_log::status.eq(c.status.as_str()),
                        s::mcp_call_log::latency_us.eq(c.latency_us),
                        s::mcp_call_log::created_at.eq(DbTime(c.created_at)),
                    ))
                    .execute(conn)
                    .await?;
            }
            Ok(())
        })
    }

    async fn list(
        &self,
        tenant: TenantId,
        query: &CallQuery,
        page: PageRequest,
    ) -> Result<Page<McpCall>, RepoError> {
        let rows: Vec<CallRow> = db!(self, |conn, s| {
            let mut q = s::mcp_call_log::table
                .filter(s::mcp_call_log::tenant_id.eq(DbId(tenant.0)))
                .select((
                    s::mcp_call_log::id,
                    s::mcp_call_log::tenant_id,
                    s::mcp_call_log::key_id,
                    s::mcp_call_log::tool,
                    s::mcp_call_log::scope,
                    s::mcp_call_log::status,
                    s::mcp_call_log::latency_us,
                    s::mcp_call_log::created_at,
                    s::mcp_call_log::grant_id,
                    s::mcp_call_log::client_name,
                ))
                .limit(page.fetch_limit())
                .into_boxed();
            if let Some(key) = query.key_id {
                q = q.filter(s::mcp_call_log::key_id.eq(DbId(key.0)));
            }
            if let Some(tool) = &query.tool {
                q = q.filter(s::mcp_call_log::tool.eq(tool));
            }
            if let Some(status) = query.status {
                q = q.filter(s::mcp_call_log::status.eq(status.as_str()));
            }
            let q = if query.newest_first {
                keyset_before!(q, s::mcp_call_log, page).order((
                    s::mcp_call_log::created_at.desc(),
                    s::mcp_call_log::id.desc(),
                ))
            } else {
                keyset!(q, s::mcp_call_log, page)
                    .order((s::mcp_call_log::created_at, s::mcp_call_log::id))
            };
            q.load(conn).await
        })?;
        let calls = rows
            .into_iter()
            .map(|r| {
                Ok(McpCall {
                    id: CallId(r.id.0),
                    tenant_id: TenantId(r.tenant_id.0),
                    caller: match (r.key_id, r.grant_id) {
                        (Some(k), _) => CallCaller::Key(ApiKeyId(k.0)),
                        (None, Some(g)) => CallCaller::Grant {
                            id: g.0,
                            client: r.client_name.unwrap_or_default(),
                        },
                        (None, None) => return Err(corrupt("an MCP call with no caller")),
                    },
                    tool: r.tool,
                    scope: r.scope,
                    status: CallStatus::parse(&r.status).map_err(corrupt)?,
                    latency_us: r.latency_us,
                    created_at: r.created_at.0,
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        Ok(Page::from_overfetch(calls, &page, |c| PageKey {
            created_at: c.created_at,
            id: c.id.0,
        }))
    }
}
