//! The call log port.

use async_trait::async_trait;
use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;

use crate::{CallQuery, McpCall};

/// Persistence of the call log. Reads are scoped to one tenant.
#[async_trait]
pub trait McpCallLog: Send + Sync {
    /// Appends records, in one batch.
    ///
    /// # Errors
    /// Store failures only.
    async fn append(&self, calls: &[McpCall]) -> Result<(), RepoError>;

    /// The tenant's calls that `query` matches, ordered by `(created_at, id)`, or by
    /// the reverse when `query.newest_first` (a page then starts strictly *before*
    /// `page.after`).
    ///
    /// # Errors
    /// Store failures only.
    async fn list(
        &self,
        tenant: TenantId,
        query: &CallQuery,
        page: PageRequest,
    ) -> Result<Page<McpCall>, RepoError>;
}
