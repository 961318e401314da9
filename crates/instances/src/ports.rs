//! The instance ports: persistence of instances and images, and the runtime that runs
//! instances.

use async_trait::async_trait;
use hydracore_core::audit::AuditEvent;
use hydracore_core::{BoxError, Page, PageRequest, RepoError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::{Channel, Instance, InstanceId, Observed, RuntimeImage, RuntimeImageId, Status};

/// Persistence of instances. Every method is scoped to one tenant: another tenant's
/// instance MUST behave as if it did not exist. A change given an `event` stores it in
/// the same transaction: the event if and only if the change.
#[async_trait]
pub trait InstanceRepository: Send + Sync {
    /// Stores a new instance.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the tenant has an instance of that name.
    async fn insert(&self, instance: &Instance, event: &AuditEvent) -> Result<(), RepoError>;

    /// The tenant's instance with this id, or `None`.
    async fn find(&self, tenant: TenantId, id: InstanceId) -> Result<Option<Instance>, RepoError>;

    /// The tenant's instances ordered by `(created_at, id)`.
    async fn list(&self, tenant: TenantId, page: PageRequest) -> Result<Page<Instance>, RepoError>;

    /// Saves name, runtime image, config and `updated_at`. MUST return `false` if the
    /// tenant has no such instance.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if the new name is taken in the tenant.
    async fn update(&self, instance: &Instance, event: &AuditEvent) -> Result<bool, RepoError>;

    /// Moves the instance from `from` to `to`, setting `updated_at = at` and
    /// `status_reason = reason` (cleared when `None`), only if its status is `from` at
    /// that moment (compare-and-set). Returns the instance after the change, or `None`
    /// if it does not exist or its status was not `from`. A transition someone asked
    /// for carries its `event`; one the runtime or the reconciler reached carries none.
    #[allow(clippy::too_many_arguments, reason = "one compare-and-set, all of it")]
    async fn transition(
        &self,
        tenant: TenantId,
        id: InstanceId,
        from: Status,
        to: Status,
        reason: Option<&str>,
        at: OffsetDateTime,
        event: Option<&AuditEvent>,
    ) -> Result<Option<Instance>, RepoError>;

    /// Deletes the instance. MUST return `false` if the tenant has no such instance.
    async fn delete(
        &self,
        tenant: TenantId,
        id: InstanceId,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// Instances of any tenant that are `starting` or `stopping` and have not changed
    /// since `before` (`updated_at <= before`), the longest-waiting first, at most
    /// `limit`. The one method that crosses tenants: only the reconciler calls it, to
    /// drive on transitions whose request died half-way.
    async fn unsettled(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Instance>, RepoError>;

    /// Instances of any tenant that are `running`, ordered by id, after `after` (the
    /// last id of the previous batch), at most `limit`. Crosses tenants like
    /// [`InstanceRepository::unsettled`]: only the runtime sweep calls it.
    async fn running(
        &self,
        after: Option<InstanceId>,
        limit: u32,
    ) -> Result<Vec<Instance>, RepoError>;
}

/// Persistence of runtime images and channel promotions; each change stores its
/// `event` in the same transaction.
#[async_trait]
pub trait RuntimeImageRepository: Send + Sync {
    /// Stores a new image.
    ///
    /// # Errors
    /// MUST return `RepoError::Duplicate` if an image with the same name and version
    /// exists.
    async fn insert(&self, image: &RuntimeImage, event: &AuditEvent) -> Result<(), RepoError>;

    /// The image with this id, or `None`.
    async fn find(&self, id: RuntimeImageId) -> Result<Option<RuntimeImage>, RepoError>;

    /// All images ordered by `(created_at, id)`.
    async fn list(&self, page: PageRequest) -> Result<Page<RuntimeImage>, RepoError>;

    /// Points `channel` at the image (replacing any earlier promotion). MUST return
    /// `false` if the image does not exist.
    async fn promote(
        &self,
        channel: Channel,
        id: RuntimeImageId,
        at: OffsetDateTime,
        event: &AuditEvent,
    ) -> Result<bool, RepoError>;

    /// The image currently promoted to `channel`, or `None`.
    async fn promoted(&self, channel: Channel) -> Result<Option<RuntimeImage>, RepoError>;
}

/// Why the runtime could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime could not be reached (an engine that is down, a socket that is
    /// gone): nothing is known of the instance, and nothing is concluded about it. The
    /// caller may retry once the runtime is back.
    #[error("the instance runtime cannot be reached")]
    Unreachable(#[source] BoxError),
    /// The runtime answered and refused (an image that cannot be had, a container the
    /// engine will not create): the instance cannot run as asked.
    #[error("the instance runtime refused")]
    Refused(#[source] BoxError),
}

impl RuntimeError {
    /// The runtime's own words, for an instance's `status_reason`.
    pub fn reason(&self) -> String {
        match self {
            Self::Unreachable(e) | Self::Refused(e) => e.to_string(),
        }
    }

    /// Whether the runtime could not be reached (as opposed to refusing).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable(_))
    }
}

/// What actually runs instances. The control plane asks; the runtime answers with the
/// status the instance reached. `start` and `stop` MUST be idempotent (starting a
/// running instance answers `Running`): the reconciler repeats them for instances that
/// were left `starting` or `stopping`. `observe` says what runs now, so an instance that
/// died behind the control plane's back is seen. Every method answers
/// [`RuntimeError::Unreachable`] when the runtime cannot be asked, and the control
/// plane then changes nothing.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Whether the runtime can be asked now (a cheap round trip).
    ///
    /// # Errors
    /// [`RuntimeError::Unreachable`], saying why.
    async fn ready(&self) -> Result<(), RuntimeError>;

    /// Starts the instance. Returns `Running` once it runs, or `Starting` if it is still
    /// coming up (a later report moves it on).
    ///
    /// # Errors
    /// `Refused` when it could not be started: the instance becomes `failed`.
    async fn start(&self, instance: &Instance) -> Result<Status, RuntimeError>;

    /// Stops the instance. Returns `Stopped`, or `Stopping` if it is still going down.
    ///
    /// # Errors
    /// `Refused` when it could not be stopped: the instance becomes `failed`.
    async fn stop(&self, instance: &Instance) -> Result<Status, RuntimeError>;

    /// What the runtime sees of the instance now.
    ///
    /// # Errors
    /// When the runtime cannot be asked: nothing is concluded from that.
    async fn observe(&self, instance: &Instance) -> Result<Observed, RuntimeError>;

    /// What the runtime sees of each of `instances` now, in their order. A runtime that
    /// can answer for many at once (one listing of its containers) overrides this; the
    /// default asks about each in turn.
    ///
    /// # Errors
    /// When the runtime cannot be asked: nothing is concluded from that.
    async fn observe_all(&self, instances: &[Instance]) -> Result<Vec<Observed>, RuntimeError> {
        let mut seen = Vec::with_capacity(instances.len());
        for instance in instances {
            seen.push(self.observe(instance).await?);
        }
        Ok(seen)
    }

    /// The last `tail` lines the instance wrote (its standard output and error, in the
    /// order written), as text; empty when it never ran.
    ///
    /// # Errors
    /// When the runtime cannot be asked.
    async fn logs(&self, instance: &Instance, tail: u32) -> Result<String, RuntimeError>;

    /// Removes whatever ran the instance (it is being deleted); nothing to remove is
    /// not an error.
    ///
    /// # Errors
    /// When it could not be removed: the instance is not deleted.
    async fn remove(&self, instance: &Instance) -> Result<(), RuntimeError>;
}

/// The shipped runtime: the control plane records each transition at once and
/// launches no process. A real runtime plugs in behind [`Runtime`].
#[derive(Debug, Default, Clone, Copy)]
pub struct RecordingRuntime;

#[async_trait]
impl Runtime for RecordingRuntime {
    /// Always: nothing is asked of anyone.
    async fn ready(&self) -> Result<(), RuntimeError> {
        Ok(())
    }

    async fn start(&self, _instance: &Instance) -> Result<Status, RuntimeError> {
        Ok(Status::Running)
    }

    async fn stop(&self, _instance: &Instance) -> Result<Status, RuntimeError> {
        Ok(Status::Stopped)
    }

    /// Nothing ran.
    async fn remove(&self, _instance: &Instance) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Nothing ran, so nothing was written.
    async fn logs(&self, _instance: &Instance, _tail: u32) -> Result<String, RuntimeError> {
        Ok(String::new())
    }

    /// What was recorded: nothing runs that could have died.
    async fn observe(&self, instance: &Instance) -> Result<Observed, RuntimeError> {
        Ok(Observed {
            status: instance.status,
            reason: instance.status_reason.clone(),
            runtime_ref: None,
        })
    }
}
