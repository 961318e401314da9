//! Memberships: which users belong to which tenants, in which role.

use hydracore_scopes::Role;
use time::OffsetDateTime;

use crate::{Email, Tenant, TenantId, UserId};

/// A user's membership of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

/// A member as the tenant sees it: the membership and the user's e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub email: Email,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

/// One of a user's tenants, with the user's role there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRole {
    pub tenant: Tenant,
    pub role: Role,
}

/// The outcome of changing or removing a membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    /// Done; the membership as it was before the change.
    Done(Membership),
    NotFound,
    /// Refused: the tenant would be left without an owner.
    LastOwner,
    /// Refused: the member's role (as read in the change's transaction) is not one the
    /// caller may manage.
    NotGranted(Role),
}
