use std::sync::Arc;

use hydracore_core::{Page, PageRequest, RepoError, SharedClock, ValidationError};
use hydracore_scopes::{Role, ScopeSet};

use crate::{
    Email, Member, Membership, MembershipChange, MembershipRepository, Tenant, TenantId,
    TenantName, TenantRole, UserId, UserRepository,
};

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
}

fn check_grant(role: Role, grantor: &ScopeSet) -> Result<(), MemberError> {
    if role.scopes().not_granted_by(grantor).is_empty() {
        Ok(())
    } else {
        Err(MemberError::RoleNotGranted(role.as_str()))
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
        }
    }

    /// A new tenant, owned by `owner`.
    ///
    /// # Errors
    /// `Invalid` for a bad name.
    pub async fn create_tenant(&self, owner: UserId, name: &str) -> Result<Tenant, MemberError> {
        let tenant = Tenant {
            id: TenantId::new(),
            name: TenantName::parse(name)?,
            created_at: self.clock.now(),
        };
        self.members
            .insert_tenant_with_owner(&tenant, owner)
            .await?;
        Ok(tenant)
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

    /// Adds an existing user to the tenant in `role`; the grantor must hold every
    /// scope of that role.
    ///
    /// # Errors
    /// `Invalid` e-mail, `UserNotFound`, `AlreadyMember`, `RoleNotGranted`.
    pub async fn add(
        &self,
        tenant: TenantId,
        grantor: &ScopeSet,
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
        self.members
            .insert(&membership)
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

    async fn current(&self, tenant: TenantId, user: UserId) -> Result<Membership, MemberError> {
        self.members
            .find(tenant, user)
            .await?
            .ok_or(MemberError::MemberNotFound)
    }

    /// Changes a member's role; the grantor must hold the scopes of both the old and
    /// the new role.
    ///
    /// # Errors
    /// `MemberNotFound`, `RoleNotGranted`, `LastOwner`.
    pub async fn change_role(
        &self,
        tenant: TenantId,
        grantor: &ScopeSet,
        user: UserId,
        role: Role,
    ) -> Result<Member, MemberError> {
        let current = self.current(tenant, user).await?;
        check_grant(current.role, grantor)?;
        check_grant(role, grantor)?;
        match self.members.change_role(tenant, user, role).await? {
            MembershipChange::Done(before) => {
                let user = self
                    .users
                    .find(user)
                    .await?
                    .ok_or(MemberError::MemberNotFound)?;
                Ok(Member {
                    user_id: user.id,
                    email: user.email,
                    role,
                    created_at: before.created_at,
                })
            }
            MembershipChange::NotFound => Err(MemberError::MemberNotFound),
            MembershipChange::LastOwner => Err(MemberError::LastOwner),
        }
    }

    /// Removes a member; the grantor must hold the scopes of the member's role.
    ///
    /// # Errors
    /// `MemberNotFound`, `RoleNotGranted`, `LastOwner`.
    pub async fn remove(
        &self,
        tenant: TenantId,
        grantor: &ScopeSet,
        user: UserId,
    ) -> Result<(), MemberError> {
        let current = self.current(tenant, user).await?;
        check_grant(current.role, grantor)?;
        match self.members.remove(tenant, user).await? {
            MembershipChange::Done(_) => Ok(()),
            MembershipChange::NotFound => Err(MemberError::MemberNotFound),
            MembershipChange::LastOwner => Err(MemberError::LastOwner),
        }
    }
}
