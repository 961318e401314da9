//! The tenant store port.

use async_trait::async_trait;
use hydracore_core::RepoError;

use crate::{Tenant, TenantId};

/// Persistence of tenants.
#[async_trait]
pub trait TenantRepository: Send + Sync {
    /// Stores a new tenant.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if a tenant with the same id exists.
    async fn insert(&self, tenant: &Tenant) -> Result<(), RepoError>;

    /// The tenant with this id, or `None`.
    ///
    /// # Errors
    /// Only store failures.
    async fn find(&self, id: TenantId) -> Result<Option<Tenant>, RepoError>;
}
