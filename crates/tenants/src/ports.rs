//! The tenant, user and membership store ports. A change given an `event` stores it in
//! the same transaction: the event if and only if the change.

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_scopes::Role;

use crate::{
    Email, Member, Membership, MembershipChange, Tenant, TenantId, TenantRole, User, UserId,
};

/// Persistence of tenants.
#[async_trait]
pub trait TenantRepository: Send + Sync {
    /// Stores a new tenant.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if a tenant with the same id exists.
    async fn insert(&self, tenant: &Tenant, event: &AuditEvent) -> Result<(), RepoError>;

    /// The tenant with this id, or `None`.
    async fn find(&self, id: TenantId) -> Result<Option<Tenant>, RepoError>;

    /// Deletes the tenant and everything it owns. MUST return `false` if there is no
    /// such tenant.
    async fn delete(&self, id: TenantId) -> Result<bool, RepoError>;
}

/// Persistence of users.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user together with a new tenant the user owns and is active in,
    /// all or nothing.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the e-mail is taken (and store nothing).
    async fn insert_with_tenant(
        &self,
        user: &User,
        tenant: &Tenant,
        event: &AuditEvent,
    ) -> Result<(), RepoError>;

    /// The user with this id, or `None`.
    async fn find(&self, id: UserId) -> Result<Option<User>, RepoError>;

    /// The user with this e-mail, or `None`.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError>;

    /// Makes `tenant` the user's active tenant. MUST return `false` (and change
    /// nothing) unless the user is a member of `tenant`.
    async fn set_active_tenant(
        &self,
        user: UserId,
        tenant: TenantId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;
}

/// Persistence of memberships. Every method is scoped to one tenant, except
/// `tenants_of`, which is scoped to one user.
#[async_trait]
pub trait MembershipRepository: Send + Sync {
    /// Stores a new tenant and makes `owner` its owner, all or nothing, unless `owner`
    /// owns `max_owned` tenants already: then it MUST store nothing and return
    /// `false`, also when several such calls for one user run at once.
    async fn insert_tenant_with_owner(
        &self,
        tenant: &Tenant,
        owner: UserId,
        max_owned: usize,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// Adds a membership.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the user is a member already.
    async fn insert(&self, membership: &Membership, event: &AuditEvent) -> Result<(), RepoError>;

    /// The user's membership of the tenant, or `None`.
    async fn find(&self, tenant: TenantId, user: UserId) -> Result<Option<Membership>, RepoError>;

    /// The tenant's members ordered by `(created_at, user id)`.
    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<Member>, RepoError>;

    /// Every tenant the user belongs to, oldest membership first.
    async fn tenants_of(&self, user: UserId) -> Result<Vec<TenantRole>, RepoError>;

    /// Changes a member's role. MUST return `NotGranted` (and change nothing) when the
    /// member's current role is not in `may_manage`, and `LastOwner` (and change
    /// nothing) when the change would leave the tenant without an owner; both judged
    /// on the role as it is in the change's own transaction, even under concurrent
    /// changes.
    async fn change_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: Role,
        may_manage: &[Role],
        event: &AuditEvent,
    ) -> Result<MembershipChange, RepoError>;

    /// Removes a member, under the same rules as `change_role`. A user whose active
    /// tenant this was has no active tenant afterwards.
    async fn remove(
        &self,
        tenant: TenantId,
        user: UserId,
        may_manage: &[Role],
        event: &AuditEvent,
    ) -> Result<MembershipChange, RepoError>;
}
