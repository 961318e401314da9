//! The credential store port.

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::seal::Sealed;
use hydracore_core::{Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;

use crate::{CredentialId, McpCredential};

/// Persistence of credentials. Every method is scoped to one tenant; a change stores
/// its `event` in the same transaction.
#[async_trait]
pub trait McpCredentialRepository: Send + Sync {
    /// Stores a credential and its sealed secret.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the tenant has a credential of that name.
    async fn insert(
        &self,
        credential: &McpCredential,
        secret: &Sealed,
        event: &AuditEvent,
    ) -> Result<(), RepoError>;

    /// The tenant's credential with this id, or `None`.
    async fn find(
        &self,
        tenant: TenantId,
        id: CredentialId,
    ) -> Result<Option<McpCredential>, RepoError>;

    /// The tenant's credential with its sealed secret, for the runtime that uses it.
    async fn find_sealed(
        &self,
        tenant: TenantId,
        id: CredentialId,
    ) -> Result<Option<(McpCredential, Sealed)>, RepoError>;

    /// The tenant's credentials ordered by `(created_at, id)`.
    async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<McpCredential>, RepoError>;

    /// Deletes a credential. MUST return `false` if the tenant has no such credential.
    async fn delete(
        &self,
        tenant: TenantId,
        id: CredentialId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;
}
