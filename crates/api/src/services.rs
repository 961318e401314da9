//! Who is calling an operation (the services it runs on are listed in `lib.rs`, by
//! resource).

use hydracore_audit::{AuditActor, Origin, Who};
use hydracore_auth::{Actor, Principal};
use hydracore_keys::Grantor;
use hydracore_tenants::TenantId;

/// Who calls a tenant's operation: the authenticated principal, acting in `tenant`
/// (each operation checks the scope it needs, see [`crate::access`]).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub principal: &'a Principal,
    pub tenant: TenantId,
    /// Where the request came from, for the audit log.
    pub origin: &'a Origin,
}

impl<'a> Caller<'a> {
    pub fn new(principal: &'a Principal, tenant: TenantId, origin: &'a Origin) -> Self {
        Self {
            principal,
            tenant,
            origin,
        }
    }

    /// Who the audit log says made a change: the user or the key, from where.
    pub fn who(&self) -> Who {
        self.origin.by(actor(self.principal))
    }

    /// The caller as the grantor of key operations: its scopes, and its own key when
    /// it is one.
    pub fn grantor(&self) -> Grantor<'a> {
        Grantor::holder(&self.principal.scopes, self.principal.key_id())
    }
}

/// A principal as the audit log names it.
pub fn actor(principal: &Principal) -> AuditActor {
    match &principal.actor {
        Actor::User { id, email } => AuditActor::user(id.0, email.as_str()),
        Actor::ApiKey { id, name } => AuditActor::api_key(id.0, name.as_str()),
        Actor::OAuth { grant, client, .. } => AuditActor::oauth_client(grant.0, client.as_str()),
    }
}
