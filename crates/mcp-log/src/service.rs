//! Reading and appending the call log.

use std::sync::Arc;

use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;

use crate::{CallQuery, McpCall, McpCallLog};

/// Reading the call log.
#[derive(Clone)]
pub struct CallLogService {
    log: Arc<dyn McpCallLog>,
}

impl CallLogService {
    pub fn new(log: Arc<dyn McpCallLog>) -> Self {
        Self { log }
    }

    /// The tenant's calls that `query` matches, in its order.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list(
        &self,
        tenant: TenantId,
        query: &CallQuery,
        page: PageRequest,
    ) -> Result<Page<McpCall>, RepoError> {
        self.log.list(tenant, query, page).await
    }

    /// Appends records (the MCP adapter's writer calls this in batches).
    ///
    /// # Errors
    /// Store failures only.
    pub async fn append(&self, calls: &[McpCall]) -> Result<(), RepoError> {
        self.log.append(calls).await
    }
}
