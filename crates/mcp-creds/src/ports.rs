//! The credential store port.

use async_trait::async_trait;
use hydracore_core::seal::Sealed;
use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use uuid::Uuid;

use crate::McpCredential;

/// Persistence of credentials. Every method is scoped to one tenant.
#[async_trait]
pub trait McpCredentialRepository: Send + Sync {
    /// Stores a credential and its sealed secret.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the tenant has a credential of that name.
    async fn insert(&self, credential: &McpCredential, secret: &Sealed) -> Result<(), RepoError>;

    /// The tenant's credential with this id, or `None`.
    async fn find(&self, tenant: TenantId, id: Uuid) -> Result<Option<McpCredential>, RepoError>;

    /// The tenant's credential with its sealed secret, for the runtime that uses it.
    async fn find_sealed(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<(McpCredential, Sealed)>, RepoError>;

    /// The tenant's credentials ordered by `(created_at, id)`.
    async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<McpCredential>, RepoError>;

    /// Deletes a credential. MUST return `false` if the tenant has no such credential.
    async fn delete(&self, tenant: TenantId, id: Uuid) -> Result<bool, RepoError>;
}
