//! Reading the audit log, and keeping it to its retention.

use std::sync::Arc;

use hydracore_core::audit::{AuditEvent, AuditEventId};
use hydracore_core::{Page, PageRequest, RepoError, SharedClock};
use hydracore_tenants::TenantId;

use crate::{AuditLog, AuditQuery};

/// How long events are kept unless configured otherwise.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

/// What reading the audit log can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit event not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// The audit log, read.
#[derive(Clone)]
pub struct AuditService {
    log: Arc<dyn AuditLog>,
    clock: SharedClock,
    retention: time::Duration,
}

impl AuditService {
    pub fn new(log: Arc<dyn AuditLog>, clock: SharedClock) -> Self {
        Self {
            log,
            clock,
            retention: time::Duration::days(i64::from(DEFAULT_RETENTION_DAYS)),
        }
    }

    /// Keeps events for `days`.
    #[must_use]
    pub fn with_retention_days(mut self, days: u32) -> Self {
        self.retention = time::Duration::days(i64::from(days));
        self
    }

    /// The tenant's events that `query` matches, in its order.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list(
        &self,
        tenant: TenantId,
        query: &AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, AuditError> {
        Ok(self.log.list(Some(tenant), query, page).await?)
    }

    /// Every event that `query` matches, of any tenant or none (runtime images): the
    /// operator's view.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list_all(
        &self,
        query: &AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, AuditError> {
        Ok(self.log.list(None, query, page).await?)
    }

    /// One of the tenant's events.
    ///
    /// # Errors
    /// `NotFound` for an unknown or another tenant's event.
    pub async fn get(&self, tenant: TenantId, id: AuditEventId) -> Result<AuditEvent, AuditError> {
        self.log.find(tenant, id).await?.ok_or(AuditError::NotFound)
    }

    /// Deletes the events older than the retention; answers how many.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn sweep(&self) -> Result<u64, AuditError> {
        Ok(self.log.sweep(self.clock.now() - self.retention).await?)
    }
}
