//! In-memory fake of the audit log, over the events the other in-memory repositories
//! record in a shared [`EventSink`].

use async_trait::async_trait;
use hydracore_core::audit::{AuditEvent, AuditEventId};
use hydracore_core::testing::EventSink;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::{AuditLog, AuditQuery};

/// An [`AuditLog`] reading the events of a shared sink.
#[derive(Debug, Default, Clone)]
pub struct InMemoryAuditLog {
    events: EventSink,
}

impl InMemoryAuditLog {
    /// The log of the events recorded in `events`.
    pub fn over(events: EventSink) -> Self {
        Self { events }
    }
}

fn key(e: &AuditEvent) -> PageKey {
    PageKey {
        created_at: e.at,
        id: e.id.0,
    }
}

#[async_trait]
impl AuditLog for InMemoryAuditLog {
    async fn list(
        &self,
        tenant: Option<TenantId>,
        query: &AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, RepoError> {
        let after = |e: &AuditEvent| match page.after {
            None => true,
            Some(a) if query.newest_first => key(e) < a,
            Some(a) => key(e) > a,
        };
        let mut mine: Vec<AuditEvent> = self
            .events
            .events()
            .into_iter()
            .filter(|e| tenant.is_none_or(|t| e.tenant_id == Some(t.0)))
            .filter(|e| query.matches(e) && after(e))
            .collect();
        mine.sort_by_key(key);
        if query.newest_first {
            mine.reverse();
        }
        mine.truncate(page.limit() as usize + 1);
        Ok(Page::from_overfetch(mine, &page, key))
    }

    async fn find(
        &self,
        tenant: TenantId,
        id: AuditEventId,
    ) -> Result<Option<AuditEvent>, RepoError> {
        Ok(self
            .events
            .events()
            .into_iter()
            .find(|e| e.id == id && e.tenant_id == Some(tenant.0)))
    }

    async fn sweep(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        Ok(self.events.retain(|e| e.at >= before) as u64)
    }
}
