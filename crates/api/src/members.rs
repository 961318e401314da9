//! Tenants and their members.

use hydracore_scopes::Role;
use hydracore_tenants::{Member, Tenant};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;

/// A tenant member's role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
            Role::Viewer => Self::Viewer,
        }
    }
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Owner => Self::Owner,
            RoleDto::Admin => Self::Admin,
            RoleDto::Member => Self::Member,
            RoleDto::Viewer => Self::Viewer,
        }
    }
}

/// A tenant.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TenantDto {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
}

impl From<&Tenant> for TenantDto {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.0,
            name: t.name.as_str().to_owned(),
            created_at: Timestamp(t.created_at),
        }
    }
}

/// Creates a tenant owned by the caller.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    #[openapi(example = "Acme Labs")]
    pub name: String,
}

/// A member of the tenant.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MemberDto {
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    /// When the user joined the tenant.
    pub created_at: Timestamp,
}

impl From<Member> for MemberDto {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user_id.0,
            email: m.email.as_str().to_owned(),
            role: m.role.into(),
            created_at: Timestamp(m.created_at),
        }
    }
}

/// Adds an existing user to the tenant.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    #[openapi(example = "grace@example.com")]
    pub email: String,
    pub role: RoleDto,
}

/// Changes a member's role.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: RoleDto,
}
