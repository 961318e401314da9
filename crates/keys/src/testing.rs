//! In-memory fakes of the key ports.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::testing::EventSink;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::{ApiKey, ApiKeyId, KeyHash, KeyRepository, UsageBucket, UsageCounts};

/// A [`KeyRepository`] in a map, recording the audit event of each change.
#[derive(Debug, Default)]
pub struct InMemoryKeyRepository {
    rows: Mutex<BTreeMap<ApiKeyId, (ApiKey, KeyHash)>>,
    events: EventSink,
    /// Usage counts by key and hour, with the key's tenant.
    usage: Mutex<BTreeMap<(ApiKeyId, OffsetDateTime), (TenantId, UsageCounts)>>,
}

impl InMemoryKeyRepository {
    /// A repository recording its events in `events` (shared with other fakes).
    pub fn with_events(events: EventSink) -> Self {
        Self {
            rows: Mutex::default(),
            events,
            usage: Mutex::default(),
        }
    }

    /// The audit events of the changes made.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.events()
    }
}

fn poisoned<T>(e: std::sync::PoisonError<T>) -> RepoError {
    RepoError::Unexpected(e.to_string().into())
}

fn key_of(k: &ApiKey) -> PageKey {
    PageKey {
        created_at: k.created_at,
        id: k.id.0,
    }
}

#[async_trait]
impl KeyRepository for InMemoryKeyRepository {
    async fn insert(
        &self,
        key: &ApiKey,
        hash: &KeyHash,
        event: &AuditEvent,
    ) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows.contains_key(&key.id) || rows.values().any(|(_, h)| h == hash) {
            return Err(RepoError::Duplicate {
                constraint: "api_keys_key_hash".into(),
            });
        }
        rows.insert(key.id, (key.clone(), *hash));
        self.events.record(event);
        Ok(())
    }

    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKey>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        Ok(rows
            .values()
            .find(|(_, h)| h == hash)
            .map(|(k, _)| k.clone()))
    }

    async fn find(&self, tenant: TenantId, id: ApiKeyId) -> Result<Option<ApiKey>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        Ok(rows
            .get(&id)
            .filter(|(k, _)| k.tenant_id == tenant)
            .map(|(k, _)| k.clone()))
    }

    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<ApiKey>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        let mut keys: Vec<ApiKey> = rows
            .values()
            .map(|(k, _)| k)
            .filter(|k| k.tenant_id == tenant && k.revoked_at.is_none())
            .filter(|k| page.after.is_none_or(|a| key_of(k) > a))
            .cloned()
            .collect();
        keys.sort_by_key(key_of);
        keys.truncate(page.limit() as usize + 1);
        Ok(Page::from_overfetch(keys, &page, key_of))
    }

    async fn update(&self, key: &ApiKey, event: &AuditEvent) -> Result<bool, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        match rows.get_mut(&key.id) {
            Some((k, _)) if k.tenant_id == key.tenant_id && k.revoked_at.is_none() => {
                k.name.clone_from(&key.name);
                k.scopes = key.scopes.clone();
                k.expires_at = key.expires_at;
                k.rate_limit = key.rate_limit;
                self.events.record(event);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke(
        &self,
        tenant: TenantId,
        id: ApiKeyId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        match rows.get_mut(&id) {
            Some((k, _)) if k.tenant_id == tenant && k.revoked_at.is_none() => {
                k.revoked_at = Some(at);
                self.events.record(event);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn rotate(
        &self,
        old: ApiKeyId,
        at: OffsetDateTime,
        old_expires_at: OffsetDateTime,
        new: &ApiKey,
        hash: &KeyHash,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        match rows.get_mut(&old) {
            Some((k, _))
                if k.tenant_id == new.tenant_id
                    && k.revoked_at.is_none()
                    && k.rotated_at.is_none()
                    && !k.is_expired_at(at) =>
            {
                k.expires_at = Some(old_expires_at);
                k.rotated_at = Some(at);
            }
            _ => return Ok(false),
        }
        rows.insert(new.id, (new.clone(), *hash));
        self.events.record(event);
        Ok(true)
    }

    async fn record_usage(&self, used: &[(ApiKeyId, OffsetDateTime)]) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        for (id, at) in used {
            if let Some((k, _)) = rows.get_mut(id)
                && k.last_used_at.is_none_or(|l| l < *at)
            {
                k.last_used_at = Some(*at);
            }
        }
        Ok(())
    }

    async fn add_usage(&self, buckets: &[UsageBucket]) -> Result<(), RepoError> {
        let mut usage = self.usage.lock().map_err(poisoned)?;
        for b in buckets {
            usage
                .entry((b.key_id, b.hour))
                .or_insert_with(|| (b.tenant_id, UsageCounts::default()))
                .1
                .add(&b.counts);
        }
        Ok(())
    }

    async fn usage(
        &self,
        tenant: TenantId,
        keys: &[ApiKeyId],
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<UsageBucket>, RepoError> {
        let usage = self.usage.lock().map_err(poisoned)?;
        Ok(usage
            .iter()
            .filter(|((key, hour), (t, _))| {
                *t == tenant && keys.contains(key) && since <= *hour && *hour < until
            })
            .map(|(&(key_id, hour), &(tenant_id, counts))| UsageBucket {
                key_id,
                tenant_id,
                hour,
                counts,
            })
            .collect())
    }

    async fn delete_usage_before(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        let mut usage = self.usage.lock().map_err(poisoned)?;
        let was = usage.len();
        usage.retain(|(_, hour), _| *hour >= before);
        Ok((was - usage.len()) as u64)
    }
}
