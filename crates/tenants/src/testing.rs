//! In-memory fakes of the tenant ports.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use hydracore_core::RepoError;

use crate::{Tenant, TenantId, TenantRepository};

/// A [`TenantRepository`] in a map.
#[derive(Debug, Default)]
pub struct InMemoryTenantRepository {
    rows: Mutex<BTreeMap<TenantId, Tenant>>,
}

#[async_trait]
impl TenantRepository for InMemoryTenantRepository {
    async fn insert(&self, tenant: &Tenant) -> Result<(), RepoError> {
        let mut rows = self
            .rows
            .lock()
            .map_err(|e| RepoError::Unexpected(e.to_string().into()))?;
        if rows.contains_key(&tenant.id) {
            return Err(RepoError::Duplicate {
                constraint: "tenants_pkey".into(),
            });
        }
        rows.insert(tenant.id, tenant.clone());
        Ok(())
    }

    async fn find(&self, id: TenantId) -> Result<Option<Tenant>, RepoError> {
        let rows = self
            .rows
            .lock()
            .map_err(|e| RepoError::Unexpected(e.to_string().into()))?;
        Ok(rows.get(&id).cloned())
    }
}
