//! What the operations run on: the application services, and who is calling.

use hydracore_auth::{IdentityService, Principal};
use hydracore_instances::{ImageService, InstanceService};
use hydracore_keys::{Grantor, KeyService};
use hydracore_mcp_creds::CredentialService;
use hydracore_mcp_log::CallLogService;
use hydracore_tenants::{MemberService, TenantId, TenantService};

/// The application services every operation runs on, built once by the composition
/// root and shared by every adapter.
#[derive(Clone)]
pub struct Services {
    pub instances: InstanceService,
    pub images: ImageService,
    pub keys: KeyService,
    pub credentials: CredentialService,
    pub calls: CallLogService,
    pub tenants: TenantService,
    pub members: MemberService,
    pub identity: IdentityService,
}

/// Who calls a tenant's operation: the authenticated principal, acting in `tenant`
/// (each operation checks the scope it needs, see [`crate::access`]).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub principal: &'a Principal,
    pub tenant: TenantId,
}

impl<'a> Caller<'a> {
    pub fn new(principal: &'a Principal, tenant: TenantId) -> Self {
        Self { principal, tenant }
    }

    /// The caller as the grantor of key operations: its scopes, and its own key when
    /// it is one.
    pub fn grantor(&self) -> Grantor<'a> {
        Grantor::holder(&self.principal.scopes, self.principal.key_id())
    }
}
