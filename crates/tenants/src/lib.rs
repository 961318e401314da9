//! Tenants: the unit of isolation. Every other resource belongs to exactly one tenant.
//! Users belong to tenants through memberships, each with a role.
//!
//! Holds the domain types, the ports ([`TenantRepository`], [`UserRepository`],
//! [`MembershipRepository`]) and the [`TenantService`]. Knows nothing of HTTP or SQL.

mod members;
pub mod ports;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod users;

use std::fmt;
use std::sync::Arc;

use hydracore_core::rules::Rule;
use hydracore_core::{RepoError, SharedClock, ValidationError};
use time::OffsetDateTime;
use uuid::Uuid;

pub use members::{Member, Membership, MembershipChange, TenantRole};
pub use ports::{MembershipRepository, TenantRepository, UserRepository};
pub use users::{Email, User, UserId};

/// A tenant's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(pub Uuid);

impl TenantId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A tenant's display name: 1..=128 characters, not blank, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantName(String);

impl TenantName {
    pub const MAX_LEN: usize = 128;
    pub const RULE: Rule = Rule::printable(Self::MAX_LEN);

    /// # Errors
    /// A blank name, one over 128 characters, or one with control characters.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new(
                "name",
                "string_too_short",
                "Tenant name must not be blank",
                raw,
            ));
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(ValidationError::new(
                "name",
                "string_too_long",
                format!("Tenant name must be at most {} characters", Self::MAX_LEN),
                raw,
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "name",
                "string_pattern_mismatch",
                "Tenant name must not contain control characters",
                raw,
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: TenantName,
    pub created_at: OffsetDateTime,
}

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
    pub async fn create(&self, name: &str) -> Result<Tenant, TenantError> {
        let tenant = Tenant {
            id: TenantId::new(),
            name: TenantName::parse(name)?,
            created_at: self.clock.now(),
        };
        self.repo.insert(&tenant).await?;
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

mod service;
pub use service::{DEFAULT_MAX_OWNED_TENANTS, MemberError, MemberService};

#[cfg(test)]
mod tests;
