//! The tenant rules: creating tenants, and membership with its grant and last-owner
//! rules.

use std::sync::Arc;

use hydracore_core::audit::{Action, AuditEvent, AuditTarget, TargetKind, Who};
use hydracore_core::{Page, PageRequest, RepoError, SharedClock, ValidationError};
use hydracore_scopes::{Role, ScopeSet};

use crate::{
    Email, Member, Membership, MembershipChange, MembershipRepository, Tenant, TenantId,
    TenantName, TenantRepository, TenantRole, UserId, UserRepository,
};

/// What creating or reading a tenant can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("tenant not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// The tenant rules.
#[derive(Clone)]
pub struct TenantService {
    repo: Arc<dyn TenantRepository>,
    clock: SharedClock,
}

impl TenantService {
    pub fn new(repo: Arc<dyn TenantRepository>, clock: SharedClock) -> Self {
        Self { repo, clock }
    }

    /// Creates a tenant.
    ///
    /// # Errors
    /// `Invalid` for a bad name; `Store` when the store fails.
    pub async fn create(&self, who: &Who, name: &str) -> Result<Tenant, TenantError> {
        let tenant = Tenant {
            id: TenantId::new(),
            name: TenantName::parse(name)?,
            created_at: self.clock.now(),
        };
        self.repo
            .insert(&tenant, &tenant_created(&tenant, who))
            .await?;
        Ok(tenant)
    }

    /// Deletes a tenant and everything it owns.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    pub async fn delete(&self, id: TenantId) -> Result<(), TenantError> {
        if self.repo.delete(id).await? {
            Ok(())
        } else {
            Err(TenantError::NotFound)
        }
    }

    /// The tenant with this id.
    ///
    /// # Errors
    /// `NotFound` when there is none.
    pub async fn get(&self, id: TenantId) -> Result<Tenant, TenantError> {
        self.repo.find(id).await?.ok_or(TenantError::NotFound)
    }
}

/// What the membership operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("user not found")]
    UserNotFound,
    #[error("member not found")]
    MemberNotFound,
    #[error("the user is a member already")]
    AlreadyMember,
    #[error("a tenant must keep at least one owner")]
    LastOwner,
    /// The caller's scopes do not cover the role it tries to grant, or the role of
    /// the member it tries to change.
    #[error("cannot manage the {0} role without holding its scopes")]
    RoleNotGranted(&'static str),
    /// The user owns as many tenants as a user may.
    #[error("the user owns {0} tenants, the most allowed")]
    TenantLimit(usize),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// Tenants created by users, and their members.
#[derive(Clone)]
pub struct MemberService {
    users: Arc<dyn UserRepository>,
    members: Arc<dyn MembershipRepository>,
    clock: SharedClock,
    max_owned_tenants: usize,
}

/// How many tenants a user may own unless the server says otherwise.
pub const DEFAULT_MAX_OWNED_TENANTS: usize = 10;

fn check_grant(role: Role, grantor: &ScopeSet) -> Result<(), MemberError> {
    if role.scopes().not_granted_by(grantor).is_empty() {
        Ok(())
    } else {
        Err(MemberError::RoleNotGranted(role.as_str()))
    }
}

/// The roles `grantor` may manage: those whose every scope it holds. The repository
/// checks the member's role against them in the change's own transaction, so a role
/// changed meanwhile by someone else cannot slip past the check.
fn manageable(grantor: &ScopeSet) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| check_grant(*r, grantor).is_ok())
        .collect()
}

fn outcome<T>(
    change: MembershipChange,
    done: impl FnOnce(Membership) -> T,
) -> Result<T, MemberError> {
    match change {
        MembershipChange::Done(before) => Ok(done(before)),
        MembershipChange::NotFound => Err(MemberError::MemberNotFound),
        MembershipChange::LastOwner => Err(MemberError::LastOwner),
        MembershipChange::NotGranted(role) => Err(MemberError::RoleNotGranted(role.as_str())),
    }
}

impl MemberService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        members: Arc<dyn MembershipRepository>,
        clock: SharedClock,
    ) -> Self {
        Self {
            users,
            members,
            clock,
            max_owned_tenants: DEFAULT_MAX_OWNED_TENANTS,
        }
    }

    /// How many tenants one user may own.
    #[must_use]
    pub fn with_max_owned_tenants(mut self, max: usize) -> Self {
        self.max_owned_tenants = max;
        self
    }

    /// A new tenant, owned by `owner`.
    ///
    /// # Errors
    /// `Invalid` for a bad name; `TenantLimit` when `owner` owns the most tenants a
    /// user may.
    pub async fn create_tenant(
        &self,
        owner: UserId,
        who: &Who,
        name: &str,
    ) -> Result<Tenant, MemberError> {
        let tenant = Tenant {
            id: TenantId::new(),
            name: TenantName::parse(name)?,
            created_at: self.clock.now(),
        };
        if self
            .members
            .insert_tenant_with_owner(
                &tenant,
                owner,
                self.max_owned_tenants,
                &tenant_created(&tenant, who),
            )
            .await?
        {
            Ok(tenant)
        } else {
            Err(MemberError::TenantLimit(self.max_owned_tenants))
        }
    }

    /// Every tenant the user belongs to, with the role there.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn tenants_of(&self, user: UserId) -> Result<Vec<TenantRole>, MemberError> {
        Ok(self.members.tenants_of(user).await?)
    }

    /// The tenant's members, oldest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<Member>, MemberError> {
        Ok(self.members.list(tenant, page).await?)
    }

    /// One of the tenant's members.
    ///
    /// # Errors
    /// `MemberNotFound` unless the user is a member of the tenant.
    pub async fn get(&self, tenant: TenantId, user: UserId) -> Result<Member, MemberError> {
        let membership = self
            .members
            .find(tenant, user)
            .await?
            .ok_or(MemberError::MemberNotFound)?;
        let user = self
            .users
            .find(user)
            .await?
            .ok_or(MemberError::MemberNotFound)?;
        Ok(Member {
            user_id: user.id,
            email: user.email,
            role: membership.role,
            created_at: membership.created_at,
        })
    }

    /// Adds an existing user to the tenant in `role`; the grantor must hold every
    /// scope of that role.
    ///
    /// # Errors
    /// `Invalid` e-mail, `UserNotFound`, `AlreadyMember`, `RoleNotGranted`.
    pub async fn add(
        &self,
        tenant: TenantId,
        grantor: &ScopeSet,
        who: &Who,
        email: &str,
        role: Role,
    ) -> Result<Member, MemberError> {
        let email = Email::parse(email)?;
        check_grant(role, grantor)?;
        let user = self
            .users
            .find_by_email(&email)
            .await?
            .ok_or(MemberError::UserNotFound)?;
        let membership = Membership {
            tenant_id: tenant,
            user_id: user.id,
            role,
            created_at: self.clock.now(),
        };
        let event = member_event(
            tenant,
            &user.id,
            user.email.as_str(),
            Action::MemberAdded,
            who,
            membership.created_at,
        )
        .with_fields(["role"]);
        self.members
            .insert(&membership, &event)
            .await
            .map_err(|e| match e {
                RepoError::Duplicate { .. } => MemberError::AlreadyMember,
                other => MemberError::Store(other),
            })?;
        Ok(Member {
            user_id: user.id,
            email: user.email,
            role,
            created_at: membership.created_at,
        })
    }

    /// Changes a member's role; the grantor must hold the scopes of both the old and
    /// the new role (the old one as it is when the change is made).
    ///
    /// # Errors
    /// `MemberNotFound`, `RoleNotGranted`, `LastOwner`.
    pub async fn change_role(
        &self,
        tenant: TenantId,
        grantor: &ScopeSet,
        who: &Who,
        user: UserId,
        role: Role,
    ) -> Result<Member, MemberError> {
        check_grant(role, grantor)?;
        let user = self
            .users
            .find(user)
            .await?
            .ok_or(MemberError::MemberNotFound)?;
        let event = member_event(
            tenant,
            &user.id,
            user.email.as_str(),
            Action::MemberRoleChanged,
            who,
            self.clock.now(),
        )
        .with_fields(["role"]);
        let change = self
            .members
            .change_role(tenant, user.id, role, &manageable(grantor), &event)
            .await?;
        let before = outcome(change, |before| before)?;
        Ok(Member {
            user_id: user.id,
            email: user.email,
            role,
            created_at: before.created_at,
        })
    }

    /// Removes a member; the grantor must hold the scopes of the member's role (as it
    /// is when the member is removed).
    ///
    /// # Errors
    /// `MemberNotFound`, `RoleNotGranted`, `LastOwner`.
    pub async fn remove(
        &self,
        tenant: TenantId,
        grantor: &ScopeSet,
        who: &Who,
        user: UserId,
    ) -> Result<(), MemberError> {
        let email = self
            .users
            .find(user)
            .await?
            .map(|u| u.email.as_str().to_owned())
            .unwrap_or_default();
        let event = member_event(
            tenant,
            &user,
            &email,
            Action::MemberRemoved,
            who,
            self.clock.now(),
        );
        let change = self
            .members
            .remove(tenant, user, &manageable(grantor), &event)
            .await?;
        outcome(change, |_| ())
    }
}

/// The audit event of a new tenant.
fn tenant_created(tenant: &Tenant, who: &Who) -> AuditEvent {
    AuditEvent::new(
        Some(tenant.id.0),
        tenant.created_at,
        Action::TenantCreated,
        who,
        AuditTarget::new(TargetKind::Tenant, tenant.id.0, tenant.name.as_str()),
    )
}

/// The audit event of `action` on the membership of user `user` (e-mail `email`).
fn member_event(
    tenant: TenantId,
    user: &UserId,
    email: &str,
    action: Action,
    who: &Who,
    at: time::OffsetDateTime,
) -> AuditEvent {
    AuditEvent::new(
        Some(tenant.0),
        at,
        action,
        who,
        AuditTarget::new(TargetKind::Member, user.0, email),
    )
}
