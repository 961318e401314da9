//! In-memory fake of the call log.

use std::sync::Mutex;

use async_trait::async_trait;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_tenants::TenantId;

use crate::{CallQuery, McpCall, McpCallLog};

/// A [`McpCallLog`] in a vector.
#[derive(Debug, Default)]
pub struct InMemoryMcpCallLog {
    rows: Mutex<Vec<McpCall>>,
}

fn key(c: &McpCall) -> PageKey {
    PageKey {
        created_at: c.created_at,
        id: c.id.0,
    }
}

#[async_trait]
impl McpCallLog for InMemoryMcpCallLog {
    async fn append(&self, calls: &[McpCall]) -> Result<(), RepoError> {
        let mut rows = self
            .rows
            .lock()
            .map_err(|e| RepoError::Unexpected(e.to_string().into()))?;
        rows.extend_from_slice(calls);
        Ok(())
    }

    async fn list(
        &self,
        tenant: TenantId,
        query: &CallQuery,
        page: PageRequest,
    ) -> Result<Page<McpCall>, RepoError> {
        let rows = self
            .rows
            .lock()
            .map_err(|e| RepoError::Unexpected(e.to_string().into()))?;
        let after = |c: &McpCall| match page.after {
            None => true,
            Some(a) if query.newest_first => key(c) < a,
            Some(a) => key(c) > a,
        };
        let mut mine: Vec<McpCall> = rows
            .iter()
            .filter(|c| c.tenant_id == tenant && query.matches(c) && after(c))
            .cloned()
            .collect();
        mine.sort_by_key(key);
        if query.newest_first {
            mine.reverse();
        }
        mine.truncate(page.limit() as usize + 1);
        Ok(Page::from_overfetch(mine, &page, key))
    }
}
