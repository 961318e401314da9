//! In-memory fakes of the instance ports.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::testing::EventSink;
use hydracore_core::{Page, PageKey, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::ports::{InstanceRepository, Runtime, RuntimeError, RuntimeImageRepository};
use crate::{Channel, Instance, InstanceId, Observed, RuntimeImage, RuntimeImageId, Status};

fn poisoned<T>(e: std::sync::PoisonError<T>) -> RepoError {
    RepoError::Unexpected(e.to_string().into())
}

fn duplicate(constraint: &str) -> RepoError {
    RepoError::Duplicate {
        constraint: constraint.into(),
    }
}

fn page<T: Clone>(
    mut rows: Vec<T>,
    req: PageRequest,
    key: impl Fn(&T) -> PageKey + Copy,
) -> Page<T> {
    rows.retain(|r| req.after.is_none_or(|a| key(r) > a));
    rows.sort_by_key(key);
    rows.truncate(req.limit() as usize + 1);
    Page::from_overfetch(rows, &req, key)
}

fn instance_key(i: &Instance) -> PageKey {
    PageKey {
        created_at: i.created_at,
        id: i.id.0,
    }
}

/// An [`InstanceRepository`] in a map, recording the audit event of each change.
#[derive(Debug, Default)]
pub struct InMemoryInstanceRepository {
    rows: Mutex<BTreeMap<InstanceId, Instance>>,
    events: EventSink,
}

impl InMemoryInstanceRepository {
    /// A repository recording its events in `events` (shared with other fakes).
    pub fn with_events(events: EventSink) -> Self {
        Self {
            rows: Mutex::default(),
            events,
        }
    }

    /// The audit events of the changes made.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.events()
    }
}

#[async_trait]
impl InstanceRepository for InMemoryInstanceRepository {
    async fn insert(&self, instance: &Instance, event: &AuditEvent) -> Result<(), RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows
            .values()
            .any(|i| i.tenant_id == instance.tenant_id && i.name == instance.name)
        {
            return Err(duplicate("instances_tenant_id_name"));
        }
        rows.insert(instance.id, instance.clone());
        self.events.record(event);
        Ok(())
    }

    async fn find(&self, tenant: TenantId, id: InstanceId) -> Result<Option<Instance>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        Ok(rows.get(&id).filter(|i| i.tenant_id == tenant).cloned())
    }

    async fn list(&self, tenant: TenantId, req: PageRequest) -> Result<Page<Instance>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        let mine = rows
            .values()
            .filter(|i| i.tenant_id == tenant)
            .cloned()
            .collect();
        Ok(page(mine, req, instance_key))
    }

    async fn update(&self, instance: &Instance, event: &AuditEvent) -> Result<bool, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows.values().any(|i| {
            i.tenant_id == instance.tenant_id && i.name == instance.name && i.id != instance.id
        }) {
            return Err(duplicate("instances_tenant_id_name"));
        }
        match rows.get_mut(&instance.id) {
            Some(i) if i.tenant_id == instance.tenant_id => {
                i.name = instance.name.clone();
                i.runtime_image.clone_from(&instance.runtime_image);
                i.config = instance.config.clone();
                i.updated_at = instance.updated_at;
                self.events.record(event);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn transition(
        &self,
        tenant: TenantId,
        id: InstanceId,
        from: Status,
        to: Status,
        reason: Option<&str>,
        at: OffsetDateTime,
        event: Option<&AuditEvent>,
    ) -> Result<Option<Instance>, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        match rows.get_mut(&id) {
            Some(i) if i.tenant_id == tenant && i.status == from => {
                i.status = to;
                i.status_reason = reason.map(str::to_owned);
                i.updated_at = at;
                if let Some(e) = event {
                    self.events.record(e);
                }
                Ok(Some(i.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: InstanceId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        let mut rows = self.rows.lock().map_err(poisoned)?;
        if rows.get(&id).is_some_and(|i| i.tenant_id == tenant) {
            rows.remove(&id);
            self.events.record(event);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn unsettled(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Instance>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        let mut out: Vec<Instance> = rows
            .values()
            .filter(|i| matches!(i.status, Status::Starting | Status::Stopping))
            .filter(|i| i.updated_at <= before)
            .cloned()
            .collect();
        out.sort_by_key(|i| (i.updated_at, i.id));
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn running(
        &self,
        after: Option<InstanceId>,
        limit: u32,
    ) -> Result<Vec<Instance>, RepoError> {
        let rows = self.rows.lock().map_err(poisoned)?;
        let mut out: Vec<Instance> = rows
            .values()
            .filter(|i| i.status == Status::Running && after.is_none_or(|a| i.id > a))
            .cloned()
            .collect();
        out.sort_by_key(|i| i.id);
        out.truncate(limit as usize);
        Ok(out)
    }
}

/// A [`RuntimeImageRepository`] in maps, recording the audit event of each change.
#[derive(Debug, Default)]
pub struct InMemoryRuntimeImageRepository {
    images: Mutex<BTreeMap<RuntimeImageId, RuntimeImage>>,
    channels: Mutex<HashMap<Channel, RuntimeImageId>>,
    events: EventSink,
}

impl InMemoryRuntimeImageRepository {
    /// A repository recording its events in `events` (shared with other fakes).
    pub fn with_events(events: EventSink) -> Self {
        Self {
            events,
            ..Self::default()
        }
    }
}

fn image_key(i: &RuntimeImage) -> PageKey {
    PageKey {
        created_at: i.created_at,
        id: i.id.0,
    }
}

#[async_trait]
impl RuntimeImageRepository for InMemoryRuntimeImageRepository {
    async fn insert(&self, image: &RuntimeImage, event: &AuditEvent) -> Result<(), RepoError> {
        let mut images = self.images.lock().map_err(poisoned)?;
        if images
            .values()
            .any(|i| i.name == image.name && i.version == image.version)
        {
            return Err(duplicate("runtime_images_name_version"));
        }
        images.insert(image.id, image.clone());
        self.events.record(event);
        Ok(())
    }

    async fn find(&self, id: RuntimeImageId) -> Result<Option<RuntimeImage>, RepoError> {
        Ok(self.images.lock().map_err(poisoned)?.get(&id).cloned())
    }

    async fn list(&self, req: PageRequest) -> Result<Page<RuntimeImage>, RepoError> {
        let images = self.images.lock().map_err(poisoned)?;
        Ok(page(images.values().cloned().collect(), req, image_key))
    }

    async fn promote(
        &self,
        channel: Channel,
        id: RuntimeImageId,
        _at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError> {
        if !self.images.lock().map_err(poisoned)?.contains_key(&id) {
            return Ok(false);
        }
        self.channels.lock().map_err(poisoned)?.insert(channel, id);
        self.events.record(event);
        Ok(true)
    }

    async fn promoted(&self, channel: Channel) -> Result<Option<RuntimeImage>, RepoError> {
        let Some(id) = self
            .channels
            .lock()
            .map_err(poisoned)?
            .get(&channel)
            .copied()
        else {
            return Ok(None);
        };
        self.find(id).await
    }
}

/// A [`Runtime`] that answers and refuses every start and stop, to exercise the
/// failure paths.
#[derive(Debug, Default, Clone, Copy)]
pub struct FailingRuntime;

#[async_trait]
impl Runtime for FailingRuntime {
    async fn ready(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn start(&self, _instance: &Instance) -> Result<Status, RuntimeError> {
        Err(RuntimeError::Refused("no capacity".into()))
    }

    async fn stop(&self, _instance: &Instance) -> Result<Status, RuntimeError> {
        Err(RuntimeError::Refused("the agent will not stop".into()))
    }

    async fn observe(&self, _instance: &Instance) -> Result<Observed, RuntimeError> {
        Err(RuntimeError::Refused("no such agent".into()))
    }

    async fn logs(&self, _instance: &Instance, _tail: u32) -> Result<String, RuntimeError> {
        Err(RuntimeError::Refused("no such agent".into()))
    }

    async fn remove(&self, _instance: &Instance) -> Result<(), RuntimeError> {
        Ok(())
    }
}

/// A runtime whose instances run until [`MortalRuntime::kill`] ends one behind the
/// control plane's back, and which can be made unreachable.
#[derive(Debug, Default)]
pub struct MortalRuntime {
    dead: Mutex<HashMap<InstanceId, String>>,
    /// How many times each instance was started (each start writes a line).
    said: Mutex<HashMap<InstanceId, u32>>,
    unreachable: std::sync::atomic::AtomicBool,
}

impl MortalRuntime {
    /// The instance's agent ends, for `reason`.
    pub fn kill(&self, id: InstanceId, reason: &str) {
        if let Ok(mut dead) = self.dead.lock() {
            dead.insert(id, reason.to_owned());
        }
    }

    /// The runtime stops (or starts again) answering.
    pub fn set_unreachable(&self, down: bool) {
        self.unreachable
            .store(down, std::sync::atomic::Ordering::SeqCst);
    }

    fn reachable(&self) -> Result<(), RuntimeError> {
        if self.unreachable.load(std::sync::atomic::Ordering::SeqCst) {
            Err(RuntimeError::Unreachable(
                "the engine does not answer".into(),
            ))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Runtime for MortalRuntime {
    async fn ready(&self) -> Result<(), RuntimeError> {
        self.reachable()
    }

    async fn start(&self, instance: &Instance) -> Result<Status, RuntimeError> {
        self.reachable()?;
        if let Ok(mut dead) = self.dead.lock() {
            dead.remove(&instance.id);
        }
        if let Ok(mut said) = self.said.lock() {
            *said.entry(instance.id).or_default() += 1;
        }
        Ok(Status::Running)
    }

    async fn stop(&self, _instance: &Instance) -> Result<Status, RuntimeError> {
        self.reachable()?;
        Ok(Status::Stopped)
    }

    async fn remove(&self, _instance: &Instance) -> Result<(), RuntimeError> {
        self.reachable()
    }

    /// One line per start, as an agent that says hello would write: the last `tail`.
    async fn logs(&self, instance: &Instance, tail: u32) -> Result<String, RuntimeError> {
        self.reachable()?;
        let said = self
            .said
            .lock()
            .map_or(0, |s| s.get(&instance.id).copied().unwrap_or(0));
        let line = format!("agent {} started\n", instance.id);
        Ok(line.repeat(said.min(tail) as usize))
    }

    async fn observe(&self, instance: &Instance) -> Result<Observed, RuntimeError> {
        self.reachable()?;
        let dead = self
            .dead
            .lock()
            .ok()
            .and_then(|d| d.get(&instance.id).cloned());
        Ok(match dead {
            Some(reason) => Observed {
                status: Status::Failed,
                reason: Some(reason),
                runtime_ref: None,
            },
            None => Observed {
                status: instance.status,
                reason: None,
                runtime_ref: None,
            },
        })
    }
}
