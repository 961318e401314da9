use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hydracore_core::audit::AuditEvent;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_mcp_creds::{AuthKind, CredentialId, McpCredential, McpCredentialRepository, Sealed};
use hydracore_tenants::TenantId;

use crate::audit::record;
use crate::{DbId, DbTime, Store, corrupt, db, keyset};

#[derive(Queryable)]
struct CredentialRow {
    id: DbId,
    tenant_id: DbId,
    name: String,
    server_url: String,
    auth_kind: String,
    header_name: Option<String>,
    secret_hint: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    created_at: DbTime,
}

macro_rules! credential_columns {
    ($s:ident) => {
        (
            $s::mcp_credentials::id,
            $s::mcp_credentials::tenant_id,
            $s::mcp_credentials::name,
            $s::mcp_credentials::server_url,
            $s::mcp_credentials::auth_kind,
            $s::mcp_credentials::header_name,
            $s::mcp_credentials::secret_hint,
            $s::mcp_credentials::key_id,
            $s::mcp_credentials::nonce,
            $s::mcp_credentials::ciphertext,
            $s::mcp_credentials::created_at,
        )
    };
}

impl CredentialRow {
    fn split(self) -> Result<(McpCredential, Sealed), RepoError> {
        let auth = match (self.auth_kind.as_str(), self.header_name) {
            ("bearer", _) => AuthKind::Bearer,
            ("header", Some(name)) => AuthKind::Header { name },
            (other, _) => {
                return Err(corrupt(format!(
                    "credential {}: auth kind {other}",
                    self.id.0
                )));
            }
        };
        Ok((
            McpCredential {
                id: CredentialId(self.id.0),
                tenant_id: TenantId(self.tenant_id.0),
                name: self.name,
                server_url: self.server_url,
                auth,
                secret_hint: self.secret_hint,
                created_at: self.created_at.0,
            },
            Sealed {
                key_id: self.key_id,
                nonce: self.nonce,
                ciphertext: self.ciphertext,
            },
        ))
    }
}

#[async_trait]
impl McpCredentialRepository for Store {
    async fn insert(
        &self,
        c: &McpCredential,
        sealed: &Sealed,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::insert_into(s::mcp_credentials::table)
                    .values((
                        s::mcp_credentials::id.eq(DbId(c.id.0)),
                        s::mcp_credentials::tenant_id.eq(DbId(c.tenant_id.0)),
                        s::mcp_credentials::name.eq(&c.name),
                        s::mcp_credentials::server_url.eq(&c.server_url),
                        s::mcp_credentials::auth_kind.eq(c.auth.as_str()),
                        s::mcp_credentials::header_name.eq(c.auth.header_name()),
                        s::mcp_credentials::secret_hint.eq(&c.secret_hint),
                        s::mcp_credentials::key_id.eq(&sealed.key_id),
                        s::mcp_credentials::nonce.eq(&sealed.nonce),
                        s::mcp_credentials::ciphertext.eq(&sealed.ciphertext),
                        s::mcp_credentials::created_at.eq(DbTime(c.created_at)),
                    ))
                    .execute(conn)
                    .await?;
                record!(conn, s, event)
            })
            .await
        })
    }

    async fn find(
        &self,
        tenant: TenantId,
        id: CredentialId,
    ) -> Result<Option<McpCredential>, RepoError> {
        Ok(self.find_sealed(tenant, id).await?.map(|(c, _)| c))
    }

    async fn find_sealed(
        &self,
        tenant: TenantId,
        id: CredentialId,
    ) -> Result<Option<(McpCredential, Sealed)>, RepoError> {
        let row: Option<CredentialRow> = db!(self, |conn, s| {
            s::mcp_credentials::table
                .filter(s::mcp_credentials::id.eq(DbId(id.0)))
                .filter(s::mcp_credentials::tenant_id.eq(DbId(tenant.0)))
                .select(credential_columns!(s))
                .first(conn)
                .await
                .optional()
        })?;
        row.map(CredentialRow::split).transpose()
    }

    async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<McpCredential>, RepoError> {
        let rows: Vec<CredentialRow> = db!(self, |conn, s| {
            let q = s::mcp_credentials::table
                .filter(s::mcp_credentials::tenant_id.eq(DbId(tenant.0)))
                .select(credential_columns!(s))
                .order((s::mcp_credentials::created_at, s::mcp_credentials::id))
                .limit(page.fetch_limit())
                .into_boxed();
            keyset!(q, s::mcp_credentials, page).load(conn).await
        })?;
        let creds = rows
            .into_iter()
            .map(|r| r.split().map(|(c, _)| c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(creds, &page, |c| PageKey {
            created_at: c.created_at,
            id: c.id.0,
        }))
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: CredentialId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        db!(self, |conn, s| {
            conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                let n = diesel::delete(
                    s::mcp_credentials::table
                        .filter(s::mcp_credentials::id.eq(DbId(id.0)))
                        .filter(s::mcp_credentials::tenant_id.eq(DbId(tenant.0))),
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
}
