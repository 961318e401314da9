//! In-memory fake of the credential port.

use std::sync::Mutex;

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::testing::EventSink;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_tenants::TenantId;

use crate::{CredentialId, McpCredential, McpCredentialRepository, Sealed};

/// A [`McpCredentialRepository`] in a vector, recording the audit event of each change.
#[derive(Debug, Default)]
pub struct InMemoryMcpCredentials {
    rows: Mutex<Vec<(McpCredential, Sealed)>>,
    events: EventSink,
}

impl InMemoryMcpCredentials {
    /// A repository recording its events in `events` (shared with other fakes).
    pub fn with_events(events: EventSink) -> Self {
        Self {
            rows: Mutex::default(),
            events,
        }
    }

    /// The audit events of the changes made.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.events()
    }
}

fn poisoned<T>(e: std::sync::PoisonError<T>) -> RepoError {
    RepoError::Unexpected(e.to_string().into())
}

#[async_trait]
impl McpCredentialRepository for InMemoryMcpCredentials {
    async fn insert(
        &self,
        c: &McpCredential,
        s: &Sealed,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows
            .iter()
            .any(|(r, _)| r.tenant_id == c.tenant_id && r.name == c.name)
        {
            return Err(RepoError::Duplicate {
                constraint: "mcp_credentials_tenant_id_name".into(),
            });
        }
        rows.push((c.clone(), s.clone()));
        self.events.record(event);
        Ok(())
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
        let rows = self.rows.lock().map_err(poisoned)?;
        Ok(rows
            .iter()
            .find(|(c, _)| c.tenant_id == tenant && c.id == id)
            .cloned())
    }

    async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<McpCredential>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        let key = |c: &McpCredential| PageKey {
            created_at: c.created_at,
            id: c.id.0,
        };
        let mut mine: Vec<McpCredential> = rows
            .iter()
            .map(|(c, _)| c)
            .filter(|c| c.tenant_id == tenant && page.after.is_none_or(|a| key(c) > a))
            .cloned()
            .collect();
        mine.sort_by_key(key);
        mine.truncate(page.limit() as usize + 1);
        Ok(Page::from_overfetch(mine, &page, key))
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: CredentialId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        let before = rows.len();
        rows.retain(|(c, _)| !(c.tenant_id == tenant && c.id == id));
        let deleted = rows.len() < before;
        if deleted {
            self.events.record(event);
        }
        Ok(deleted)
    }
}
