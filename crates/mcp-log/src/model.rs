//! The call record: one MCP tool call and how it ended.

use hydracore_core::id_type;
use hydracore_keys::ApiKeyId;
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

id_type! {
    /// A recorded call's id.
    pub struct CallId;
}

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
    pub id: CallId,
    pub tenant_id: TenantId,
    /// Who made the call.
    pub caller: CallCaller,
    pub tool: String,
    /// The scope the tool requires.
    pub scope: String,
    pub status: CallStatus,
    pub latency_us: i64,
    pub created_at: OffsetDateTime,
}

/// Who made a call: an API key, or an OAuth client through a person's grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCaller {
    Key(ApiKeyId),
    Grant {
        /// The grant's id.
        id: uuid::Uuid,
        /// The client's name when it called.
        client: String,
    },
}

impl CallCaller {
    pub fn key_id(&self) -> Option<ApiKeyId> {
        match self {
            CallCaller::Key(k) => Some(*k),
            CallCaller::Grant { .. } => None,
        }
    }
}

/// Which of a tenant's calls a list returns, and in which order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallQuery {
    /// Only the calls of this key.
    pub key_id: Option<ApiKeyId>,
    /// Only the calls of the tool of exactly this name.
    pub tool: Option<String>,
    /// Only the calls that ended so.
    pub status: Option<CallStatus>,
    /// Newest first, as an audit trail is read; oldest first otherwise.
    pub newest_first: bool,
}

impl CallQuery {
    /// Whether `call` is one the query returns (its order aside).
    pub fn matches(&self, call: &McpCall) -> bool {
        self.key_id.is_none_or(|k| call.caller.key_id() == Some(k))
            && self.tool.as_deref().is_none_or(|t| call.tool == t)
            && self.status.is_none_or(|s| call.status == s)
    }
}
