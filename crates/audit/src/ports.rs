//! The audit log port (reads and retention; every write happens with its change).

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::AuditQuery;

/// Reading the audit log: a tenant's events, or (for the operator) every event.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// The events that `query` matches, of `tenant` or (`None`) of every tenant and
    /// none, ordered by `(at, id)`, or by the reverse when `query.newest_first` (a page
    /// then starts strictly *before* `page.after`).
    ///
    /// # Errors
    /// Store failures only.
    async fn list(
        &self,
        tenant: Option<TenantId>,
        query: &AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, RepoError>;

    /// The tenant's event with this id, or `None`.
    ///
    /// # Errors
    /// Store failures only.
    async fn find(
        &self,
        tenant: TenantId,
        id: hydracore_core::audit::AuditEventId,
    ) -> Result<Option<AuditEvent>, RepoError>;

    /// Deletes every event older than `before`; answers how many.
    ///
    /// # Errors
    /// Store failures only.
    async fn sweep(&self, before: OffsetDateTime) -> Result<u64, RepoError>;
}
