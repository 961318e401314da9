//! In-memory fakes of the tenant, user and membership ports, sharing one state.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::testing::EventSink;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_scopes::Role;

use crate::{
    Email, Member, Membership, MembershipChange, MembershipRepository, Tenant, TenantId,
    TenantRepository, TenantRole, User, UserId, UserRepository,
};

#[derive(Debug, Default)]
struct State {
    tenants: BTreeMap<TenantId, Tenant>,
    users: BTreeMap<UserId, User>,
    members: Vec<Membership>,
}

/// Tenants, users and memberships in memory, recording the audit event of each change.
#[derive(Debug, Default)]
pub struct InMemoryTenants {
    state: Mutex<State>,
    events: EventSink,
}

/// The tenant fake under its port's name.
pub type InMemoryTenantRepository = InMemoryTenants;

impl InMemoryTenants {
    /// Fakes recording their events in `events` (shared with other fakes).
    pub fn with_events(events: EventSink) -> Self {
        Self {
            state: Mutex::default(),
            events,
        }
    }

    /// The audit events of the changes made.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.events()
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, RepoError> {
        self.state
            .lock()
            .map_err(|e| RepoError::Unexpected(e.to_string().into()))
    }
}

fn duplicate(what: &str) -> RepoError {
    RepoError::Duplicate {
        constraint: what.into(),
    }
}

fn owners(state: &State, tenant: TenantId) -> usize {
    state
        .members
        .iter()
        .filter(|m| m.tenant_id == tenant && m.role == Role::Owner)
        .count()
}

#[async_trait]
impl TenantRepository for InMemoryTenants {
    async fn insert(&self, tenant: &Tenant, event: &AuditEvent) -> Result<(), RepoError> {
        let mut s = self.lock()?;
        if s.tenants.contains_key(&tenant.id) {
            return Err(duplicate("tenants_pkey"));
        }
        s.tenants.insert(tenant.id, tenant.clone());
        self.events.record(event);
        Ok(())
    }

    async fn find(&self, id: TenantId) -> Result<Option<Tenant>, RepoError> {
        Ok(self.lock()?.tenants.get(&id).cloned())
    }

    async fn delete(&self, id: TenantId) -> Result<bool, RepoError> {
        let mut s = self.lock()?;
        s.members.retain(|m| m.tenant_id != id);
        for u in s.users.values_mut() {
            if u.active_tenant_id == Some(id) {
                u.active_tenant_id = None;
            }
        }
        Ok(s.tenants.remove(&id).is_some())
    }
}

#[async_trait]
impl UserRepository for InMemoryTenants {
    async fn insert_with_tenant(
        &self,
        user: &User,
        tenant: &Tenant,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        let mut s = self.lock()?;
        if s.users.values().any(|u| u.email == user.email) {
            return Err(duplicate("users_email"));
        }
        s.tenants.insert(tenant.id, tenant.clone());
        let mut user = user.clone();
        user.active_tenant_id = Some(tenant.id);
        s.members.push(Membership {
            tenant_id: tenant.id,
            user_id: user.id,
            role: Role::Owner,
            created_at: user.created_at,
        });
        s.users.insert(user.id, user);
        self.events.record(event);
        Ok(())
    }

    async fn find(&self, id: UserId) -> Result<Option<User>, RepoError> {
        Ok(self.lock()?.users.get(&id).cloned())
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        Ok(self
            .lock()?
            .users
            .values()
            .find(|u| &u.email == email)
            .cloned())
    }

    async fn set_active_tenant(
        &self,
        user: UserId,
        tenant: TenantId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut s = self.lock()?;
        if !s
            .members
            .iter()
            .any(|m| m.user_id == user && m.tenant_id == tenant)
        {
            return Ok(false);
        }
        match s.users.get_mut(&user) {
            Some(u) => {
                u.active_tenant_id = Some(tenant);
                self.events.record(event);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl MembershipRepository for InMemoryTenants {
    async fn insert_tenant_with_owner(
        &self,
        tenant: &Tenant,
        owner: UserId,
        max_owned: usize,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut s = self.lock()?;
        let owned = s
            .members
            .iter()
            .filter(|m| m.user_id == owner && m.role == Role::Owner)
            .count();
        if owned >= max_owned {
            return Ok(false);
        }
        s.tenants.insert(tenant.id, tenant.clone());
        s.members.push(Membership {
            tenant_id: tenant.id,
            user_id: owner,
            role: Role::Owner,
            created_at: tenant.created_at,
        });
        self.events.record(event);
        Ok(true)
    }

    async fn insert(&self, membership: &Membership, event: &AuditEvent) -> Result<(), RepoError> {
        let mut s = self.lock()?;
        if s.members
            .iter()
            .any(|m| m.tenant_id == membership.tenant_id && m.user_id == membership.user_id)
        {
            return Err(duplicate("memberships_pkey"));
        }
        s.members.push(membership.clone());
        self.events.record(event);
        Ok(())
    }

    async fn find(&self, tenant: TenantId, user: UserId) -> Result<Option<Membership>, RepoError> {
        Ok(self
            .lock()?
            .members
            .iter()
            .find(|m| m.tenant_id == tenant && m.user_id == user)
            .cloned())
    }

    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<Member>, RepoError> {
        let s = self.lock()?;
        let key = |m: &Member| PageKey {
            created_at: m.created_at,
            id: m.user_id.0,
        };
        let mut rows: Vec<Member> = s
            .members
            .iter()
            .filter(|m| m.tenant_id == tenant)
            .filter_map(|m| {
                let u = s.users.get(&m.user_id)?;
                Some(Member {
                    user_id: m.user_id,
                    email: u.email.clone(),
                    role: m.role,
                    created_at: m.created_at,
                })
            })
            .filter(|m| page.after.is_none_or(|a| key(m) > a))
            .collect();
        rows.sort_by_key(key);
        rows.truncate(page.limit() as usize + 1);
        Ok(Page::from_overfetch(rows, &page, key))
    }

    async fn tenants_of(&self, user: UserId) -> Result<Vec<TenantRole>, RepoError> {
        let s = self.lock()?;
        let mut mine: Vec<&Membership> = s.members.iter().filter(|m| m.user_id == user).collect();
        mine.sort_by_key(|m| (m.created_at, m.tenant_id));
        Ok(mine
            .into_iter()
            .filter_map(|m| {
                Some(TenantRole {
                    tenant: s.tenants.get(&m.tenant_id)?.clone(),
                    role: m.role,
                })
            })
            .collect())
    }

    async fn change_role(
        &self,
        tenant: TenantId,
        user: UserId,
        role: Role,
        may_manage: &[Role],
        event: &AuditEvent,
    ) -> Result<MembershipChange, RepoError> {
        let mut s = self.lock()?;
        let last_owner = owners(&s, tenant) <= 1;
        let Some(m) = s
            .members
            .iter_mut()
            .find(|m| m.tenant_id == tenant && m.user_id == user)
        else {
            return Ok(MembershipChange::NotFound);
        };
        if !may_manage.contains(&m.role) {
            return Ok(MembershipChange::NotGranted(m.role));
        }
        if m.role == Role::Owner && role != Role::Owner && last_owner {
            return Ok(MembershipChange::LastOwner);
        }
        let before = m.clone();
        m.role = role;
        self.events.record(event);
        Ok(MembershipChange::Done(before))
    }

    async fn remove(
        &self,
        tenant: TenantId,
        user: UserId,
        may_manage: &[Role],
        event: &AuditEvent,
    ) -> Result<MembershipChange, RepoError> {
        let mut s = self.lock()?;
        let Some(i) = s
            .members
            .iter()
            .position(|m| m.tenant_id == tenant && m.user_id == user)
        else {
            return Ok(MembershipChange::NotFound);
        };
        if !may_manage.contains(&s.members[i].role) {
            return Ok(MembershipChange::NotGranted(s.members[i].role));
        }
        if s.members[i].role == Role::Owner && owners(&s, tenant) <= 1 {
            return Ok(MembershipChange::LastOwner);
        }
        let before = s.members.remove(i);
        if let Some(u) = s.users.get_mut(&user)
            && u.active_tenant_id == Some(tenant)
        {
            u.active_tenant_id = None;
        }
        self.events.record(event);
        Ok(MembershipChange::Done(before))
    }
}
