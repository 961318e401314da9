//! What each operation needs of its caller: the scope it checks before it runs, named
//! here once, so every adapter (HTTP, MCP, the console) is refused alike and a page can
//! ask whether to offer an action at all.

use hydracore_auth::Principal;
use hydracore_scopes::Scope;

use crate::{Caller, Problem};

pub const TENANTS_READ: Scope = Scope::named("tenants", "read");
pub const MEMBERS_READ: Scope = Scope::named("members", "read");
pub const MEMBERS_WRITE: Scope = Scope::named("members", "write");
pub const INSTANCES_READ: Scope = Scope::named("instances", "read");
pub const INSTANCES_WRITE: Scope = Scope::named("instances", "write");
pub const INSTANCES_DELETE: Scope = Scope::named("instances", "delete");
pub const API_KEYS_READ: Scope = Scope::named("api-keys", "read");
pub const API_KEYS_WRITE: Scope = Scope::named("api-keys", "write");
pub const MCP_CREDS_READ: Scope = Scope::named("mcp-creds", "read");
pub const MCP_CREDS_WRITE: Scope = Scope::named("mcp-creds", "write");
pub const MCP_LOG_READ: Scope = Scope::named("mcp-log", "read");
pub const AUDIT_LOG_READ: Scope = Scope::named("audit-log", "read");

/// Whether `principal` holds `need`.
pub fn holds(principal: &Principal, need: &Scope) -> bool {
    principal.scopes.allows(need)
}

impl Caller<'_> {
    /// Refuses a caller without `need`, naming it.
    ///
    /// # Errors
    /// Forbidden.
    pub fn require(&self, need: &Scope) -> Result<(), Problem> {
        Ok(self.principal.authorize(need)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_need_is_a_scope_of_the_catalogue() {
        for need in [
            TENANTS_READ,
            MEMBERS_READ,
            MEMBERS_WRITE,
            INSTANCES_READ,
            INSTANCES_WRITE,
            INSTANCES_DELETE,
            API_KEYS_READ,
            API_KEYS_WRITE,
            MCP_CREDS_READ,
            MCP_CREDS_WRITE,
            MCP_LOG_READ,
            AUDIT_LOG_READ,
        ] {
            assert_eq!(need.to_string().parse::<Scope>(), Ok(need));
        }
    }
}
