//! The audit record of MCP tool calls and its port.
//!
//! A record names the tool, the scope it needed, the outcome, the latency and the key
//! that called it. By design it has no field for arguments, results or error text, so
//! none can ever be stored. Knows nothing of HTTP or SQL.

#[cfg(any(test, feature = "testing"))]
pub mod testing;

use async_trait::async_trait;
use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    Ok,
    Error,
    /// The key lacked the tool's scope.
    Denied,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ok => "ok",
            CallStatus::Error => "error",
            CallStatus::Denied => "denied",
        }
    }

    /// # Errors
    /// An unknown status name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "ok" => Ok(CallStatus::Ok),
            "error" => Ok(CallStatus::Error),
            "denied" => Ok(CallStatus::Denied),
            _ => Err(format!("unknown call status '{s}'")),
        }
    }
}

/// One MCP tool call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpCall {
    pub id: Uuid,
    pub tenant_id: TenantId,
    /// The API key that made the call.
    pub key_id: Uuid,
    pub tool: String,
    /// The scope the tool requires.
    pub scope: String,
    pub status: CallStatus,
    pub latency_us: i64,
    pub created_at: OffsetDateTime,
}

/// Persistence of the call log. Reads are scoped to one tenant.
#[async_trait]
pub trait McpCallLog: Send + Sync {
    /// Appends records, in one batch.
    ///
    /// # Errors
    /// Store failures only.
    async fn append(&self, calls: &[McpCall]) -> Result<(), RepoError>;

    /// The tenant's calls ordered by `(created_at, id)`.
    ///
    /// # Errors
    /// Store failures only.
    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<McpCall>, RepoError>;
}

/// Reading the call log.
#[derive(Clone)]
pub struct CallLogService {
    log: std::sync::Arc<dyn McpCallLog>,
}

impl CallLogService {
    pub fn new(log: std::sync::Arc<dyn McpCallLog>) -> Self {
        Self { log }
    }

    /// The tenant's calls, oldest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<McpCall>, RepoError> {
        self.log.list(tenant, page).await
    }

    /// Appends records (the MCP adapter's writer calls this in batches).
    ///
    /// # Errors
    /// Store failures only.
    pub async fn append(&self, calls: &[McpCall]) -> Result<(), RepoError> {
        self.log.append(calls).await
    }
}
