//! The instance lifecycle and the runtime-image channels.

use std::sync::Arc;

use hydracore_core::audit::{self, AuditEvent, AuditTarget, TargetKind, Who};
use hydracore_core::{Page, PageRequest, RepoError, SharedClock, ValidationError};
use hydracore_tenants::TenantId;
use time::OffsetDateTime;

use crate::RuntimeImage;

use crate::ports::{InstanceRepository, Runtime, RuntimeError, RuntimeImageRepository};
use crate::{Channel, Config, ImageReference, Instance, InstanceId, InstanceName, LogTail, Status};

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct CreateInstance {
    pub name: String,
    /// `None`: the `stable` channel's image, or the configured default.
    pub runtime_image: Option<String>,
    /// `None`: an empty object.
    pub config: Option<serde_json::Value>,
    /// Start it at once.
    pub start: bool,
}

/// A partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct InstancePatch {
    pub name: Option<String>,
    pub runtime_image: Option<String>,
    pub config: Option<serde_json::Value>,
}

/// A lifecycle action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
        }
    }
}

/// What the instance operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("instance not found")]
    NotFound,
    #[error("an instance named '{name}' exists already")]
    Duplicate { name: String },
    /// The action is not allowed from the instance's status.
    #[error("cannot {} an instance that is {status}", action.as_str())]
    IllegalTransition { action: Action, status: Status },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Store(RepoError),
}

impl From<RepoError> for InstanceError {
    fn from(e: RepoError) -> Self {
        Self::Store(e)
    }
}

/// The instance rules.
#[derive(Clone)]
pub struct InstanceService {
    repo: Arc<dyn InstanceRepository>,
    images: Arc<dyn RuntimeImageRepository>,
    runtime: Arc<dyn Runtime>,
    clock: SharedClock,
    default_image: ImageReference,
}

impl InstanceService {
    /// `default_image` is used while no image is promoted to `stable`.
    pub fn new(
        repo: Arc<dyn InstanceRepository>,
        images: Arc<dyn RuntimeImageRepository>,
        runtime: Arc<dyn Runtime>,
        clock: SharedClock,
        default_image: ImageReference,
    ) -> Self {
        Self {
            repo,
            images,
            runtime,
            clock,
            default_image,
        }
    }

    fn duplicate(name: &InstanceName) -> impl FnOnce(RepoError) -> InstanceError + '_ {
        move |e| match e {
            RepoError::Duplicate { .. } => InstanceError::Duplicate {
                name: name.to_string(),
            },
            other => InstanceError::Store(other),
        }
    }

    /// Creates an instance, stopped (or started, with `start`). Started, it is
    /// answered once the runtime has started it; if the runtime stops answering half-way
    /// it is answered `starting`, and the reconciler starts it once the runtime is back.
    ///
    /// # Errors
    /// `Invalid` for a bad name, image or config; `Duplicate` for a taken name;
    /// with `start`, `Runtime` when the runtime cannot be reached (nothing is created).
    /// A runtime that refuses leaves it `failed`, with the runtime's reason.
    pub async fn create(
        &self,
        tenant: TenantId,
        who: &Who,
        req: CreateInstance,
    ) -> Result<Instance, InstanceError> {
        let name = InstanceName::parse(&req.name)?;
        let config = match req.config {
            Some(value) => Config::from_value(&value)?,
            None => Config::empty(),
        };
        let runtime_image = match req.runtime_image {
            Some(image) => ImageReference::parse(&image)?,
            None => match self.images.promoted(Channel::Stable).await? {
                Some(image) => image.reference(),
                None => self.default_image.clone(),
            },
        };
        if req.start {
            self.runtime.ready().await?;
        }
        let now = self.clock.now();
        let instance = Instance {
            id: InstanceId::new(),
            tenant_id: tenant,
            name,
            // Started at once: stored as `starting` in the same statement, so a request
            // that dies half-way leaves nothing or an instance the reconciler finishes.
            status: if req.start {
                Status::Starting
            } else {
                Status::Stopped
            },
            status_reason: None,
            runtime_image,
            config,
            created_at: now,
            updated_at: now,
        };
        let event = audit(&instance, now, audit::Action::InstanceCreated, who);
        self.repo
            .insert(&instance, &event)
            .await
            .map_err(Self::duplicate(&instance.name))?;
        if req.start {
            return match self.settle(instance.clone(), Action::Start, None).await {
                Err(InstanceError::Runtime(e)) if e.is_unreachable() => Ok(instance),
                settled => settled,
            };
        }
        Ok(instance)
    }

    /// # Errors
    /// `NotFound` for an unknown or other tenant's instance.
    pub async fn get(&self, tenant: TenantId, id: InstanceId) -> Result<Instance, InstanceError> {
        self.repo
            .find(tenant, id)
            .await?
            .ok_or(InstanceError::NotFound)
    }

    /// The tenant's instances, oldest first.
    ///
    /// # Errors
    /// Store failures only.
    pub async fn list(
        &self,
        tenant: TenantId,
        page: PageRequest,
    ) -> Result<Page<Instance>, InstanceError> {
        Ok(self.repo.list(tenant, page).await?)
    }

    /// Renames, re-images or reconfigures an instance.
    ///
    /// # Errors
    /// As [`Self::create`], and `NotFound`.
    pub async fn update(
        &self,
        tenant: TenantId,
        who: &Who,
        id: InstanceId,
        patch: InstancePatch,
    ) -> Result<Instance, InstanceError> {
        let mut instance = self.get(tenant, id).await?;
        let before = instance.clone();
        if let Some(name) = patch.name {
            instance.name = InstanceName::parse(&name)?;
        }
        if let Some(image) = patch.runtime_image {
            instance.runtime_image = ImageReference::parse(&image)?;
        }
        if let Some(config) = patch.config {
            instance.config = Config::from_value(&config)?;
        }
        instance.updated_at = self.clock.now();
        let changed = [
            ("name", before.name != instance.name),
            (
                "runtime_image",
                before.runtime_image != instance.runtime_image,
            ),
            ("config", before.config.as_str() != instance.config.as_str()),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field));
        let event = audit(
            &before,
            instance.updated_at,
            audit::Action::InstanceUpdated,
            who,
        )
        .with_fields(changed);
        let found = self
            .repo
            .update(&instance, &event)
            .await
            .map_err(Self::duplicate(&instance.name))?;
        if found {
            Ok(instance)
        } else {
            Err(InstanceError::NotFound)
        }
    }

    /// Deletes an instance, stopping it first when a process may be live.
    ///
    /// # Errors
    /// `NotFound`; `Runtime` when a live instance cannot be stopped (it is kept).
    pub async fn delete(
        &self,
        tenant: TenantId,
        who: &Who,
        id: InstanceId,
    ) -> Result<(), InstanceError> {
        let instance = self.get(tenant, id).await?;
        if instance.status.may_be_live() {
            self.runtime.stop(&instance).await?;
        }
        self.runtime.remove(&instance).await?;
        let event = audit(
            &instance,
            self.clock.now(),
            audit::Action::InstanceDeleted,
            who,
        );
        if self.repo.delete(tenant, id, &event).await? {
            Ok(())
        } else {
            Err(InstanceError::NotFound)
        }
    }

    /// The last `tail` lines the instance wrote, as the runtime keeps them.
    ///
    /// # Errors
    /// `NotFound`; `Runtime` when the runtime cannot be asked.
    pub async fn logs(
        &self,
        tenant: TenantId,
        id: InstanceId,
        tail: LogTail,
    ) -> Result<String, InstanceError> {
        let instance = self.get(tenant, id).await?;
        Ok(self.runtime.logs(&instance, tail.lines()).await?)
    }

    /// Whether the runtime can be asked now.
    ///
    /// # Errors
    /// Why it cannot.
    pub async fn runtime_ready(&self) -> Result<(), RuntimeError> {
        self.runtime.ready().await
    }

    /// Starts an instance through the runtime.
    ///
    /// # Errors
    /// `IllegalTransition` unless it is `stopped` or `failed`; `Runtime` when the
    /// runtime cannot be reached (it is left as it was). A runtime that refuses leaves
    /// it `failed`, with the runtime's reason.
    pub async fn start(
        &self,
        tenant: TenantId,
        who: &Who,
        id: InstanceId,
    ) -> Result<Instance, InstanceError> {
        self.drive(tenant, who, id, Action::Start).await
    }

    /// Stops an instance through the runtime.
    ///
    /// # Errors
    /// `IllegalTransition` unless it is `running`, `starting` or `failed`; `Runtime`
    /// when the runtime cannot be reached (it is left as it was). A runtime that
    /// refuses leaves it `failed`, with the runtime's reason.
    pub async fn stop(
        &self,
        tenant: TenantId,
        who: &Who,
        id: InstanceId,
    ) -> Result<Instance, InstanceError> {
        self.drive(tenant, who, id, Action::Stop).await
    }

    async fn drive(
        &self,
        tenant: TenantId,
        who: &Who,
        id: InstanceId,
        action: Action,
    ) -> Result<Instance, InstanceError> {
        let current = self.get(tenant, id).await?;
        let (allowed, via) = match action {
            Action::Start => (current.status.can_start(), Status::Starting),
            Action::Stop => (current.status.can_stop(), Status::Stopping),
        };
        if !allowed {
            return Err(InstanceError::IllegalTransition {
                action,
                status: current.status,
            });
        }
        // An engine that is away refuses the request before anything is written.
        self.runtime.ready().await?;
        let now = self.clock.now();
        let asked = match action {
            Action::Start => audit::Action::InstanceStarted,
            Action::Stop => audit::Action::InstanceStopped,
        };
        let event = audit(&current, now, asked, who);
        let Some(moving) = self
            .repo
            .transition(tenant, id, current.status, via, None, now, Some(&event))
            .await?
        else {
            // Someone else moved it in between: report what it is now.
            let now = self.get(tenant, id).await?;
            return Err(InstanceError::IllegalTransition {
                action,
                status: now.status,
            });
        };
        let back_to = (current.status, current.status_reason);
        self.settle(moving, action, Some(back_to)).await
    }

    /// Asks the runtime to carry out `action` on an instance that is `starting` or
    /// `stopping` for it, and records the status it reached (`failed`, with the
    /// runtime's reason, when it refused). A runtime that cannot be
    /// reached concludes nothing: the instance goes back to `back_to` (a request's
    /// status before it asked), or stays as it is for the reconciler's next pass.
    async fn settle(
        &self,
        moving: Instance,
        action: Action,
        back_to: Option<(Status, Option<String>)>,
    ) -> Result<Instance, InstanceError> {
        let (tenant, id, via) = (moving.tenant_id, moving.id, moving.status);
        let outcome = match action {
            Action::Start => self.runtime.start(&moving).await,
            Action::Stop => self.runtime.stop(&moving).await,
        };
        let (reached, reason) = match outcome {
            Ok(status) => (status, None),
            Err(e) if e.is_unreachable() => {
                if let Some((status, reason)) = back_to {
                    self.repo
                        .transition(
                            tenant,
                            id,
                            via,
                            status,
                            reason.as_deref(),
                            self.clock.now(),
                            None,
                        )
                        .await?;
                }
                return Err(e.into());
            }
            // The runtime answered and refused: the instance is `failed`, with its words.
            Err(e) => (Status::Failed, Some(e.reason())),
        };
        let settled = if reached == via {
            Some(moving)
        } else {
            self.repo
                .transition(
                    tenant,
                    id,
                    via,
                    reached,
                    reason.as_deref(),
                    self.clock.now(),
                    None,
                )
                .await?
        };
        match settled {
            Some(instance) => Ok(instance),
            None => self.get(tenant, id).await,
        }
    }

    /// Drives on instances left `starting` or `stopping` for longer than `older_than`
    /// (their request died half-way: a node stopped, or its database went away), at
    /// most `limit` of them: the runtime is asked again and the status it reaches is
    /// recorded. Safe on several nodes at once: the runtime calls are idempotent and
    /// each status change is a compare-and-set.
    ///
    /// # Errors
    /// Store failures (the pass stops; the next one resumes).
    pub async fn reconcile(
        &self,
        older_than: time::Duration,
        limit: u32,
    ) -> Result<Reconciled, InstanceError> {
        let before = self.clock.now() - older_than;
        let mut done = Reconciled::default();
        for instance in self.repo.unsettled(before, limit).await? {
            let action = match instance.status {
                Status::Starting => Action::Start,
                _ => Action::Stop,
            };
            done.found += 1;
            match self.settle(instance, action, None).await {
                Ok(i) if matches!(i.status, Status::Starting | Status::Stopping) => {}
                Ok(i) if i.status == Status::Failed => done.failed += 1,
                Ok(_) => done.settled += 1,
                Err(InstanceError::Runtime(e)) if e.is_unreachable() => done.unreachable += 1,
                // Deleted meanwhile.
                Err(InstanceError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Asks the runtime what runs now of every `running` instance, `batch` at a time,
    /// and marks `failed` (with the runtime's reason) each one that died behind the
    /// control plane's back. An instance the runtime cannot be asked about is left as
    /// it is: an engine's outage alone fails nothing. Safe on several nodes at once:
    /// each change is a compare-and-set from `running`.
    ///
    /// # Errors
    /// Store failures (the pass stops; the next one starts over).
    pub async fn sweep(&self, batch: u32) -> Result<Swept, InstanceError> {
        let mut done = Swept::default();
        let mut after = None;
        loop {
            let running = self.repo.running(after, batch).await?;
            let Some(last) = running.last() else { break };
            after = Some(last.id);
            let full = running.len() == batch as usize;
            done.observed += running.len();
            // One question for the whole batch, where the runtime can answer it so.
            let Ok(seen) = self.runtime.observe_all(&running).await else {
                done.unreachable += running.len();
                if full {
                    continue;
                }
                break;
            };
            for (instance, seen) in running.iter().zip(seen) {
                if matches!(seen.status, Status::Failed | Status::Stopped) {
                    let reason = seen
                        .reason
                        .unwrap_or_else(|| "the runtime reports it is no longer running".into());
                    let changed = self
                        .repo
                        .transition(
                            instance.tenant_id,
                            instance.id,
                            Status::Running,
                            Status::Failed,
                            Some(&reason),
                            self.clock.now(),
                            None,
                        )
                        .await?;
                    if changed.is_some() {
                        done.failed += 1;
                    }
                }
            }
            if !full {
                break;
            }
        }
        Ok(done)
    }
}

/// What one [`InstanceService::sweep`] pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Running instances the runtime was asked about.
    pub observed: usize,
    /// Of those, how many it could not be asked about (left as they were).
    pub unreachable: usize,
    /// Of those, how many had died and are now `failed`.
    pub failed: usize,
}

/// What one [`InstanceService::reconcile`] pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Instances found waiting in `starting` or `stopping`.
    pub found: usize,
    /// Of those, how many reached a settled status.
    pub settled: usize,
    /// Of those, how many the runtime refused (now `failed`).
    pub failed: usize,
    /// Of those, how many the runtime could not be asked about (left for the next pass).
    pub unreachable: usize,
}

/// What the runtime-image operations can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("runtime image not found")]
    NotFound,
    #[error("image {name}:{version} exists already")]
    Duplicate { name: String, version: String },
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] RepoError),
}

/// Runtime images and their promotion to channels (an operator's concern).
#[derive(Clone)]
pub struct ImageService {
    images: Arc<dyn RuntimeImageRepository>,
    clock: SharedClock,
}

fn image_field(field: &'static str, raw: &str, max: usize) -> Result<String, ValidationError> {
    let v = raw;
    if v.is_empty()
        || v.chars().count() > max
        || v.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ValidationError::new(
            field,
            "string_pattern_mismatch",
            format!("{field} must be 1 to {max} characters without whitespace"),
            raw,
        ));
    }
    Ok(v.to_owned())
}

impl ImageService {
    pub fn new(images: Arc<dyn RuntimeImageRepository>, clock: SharedClock) -> Self {
        Self { images, clock }
    }

    /// Registers an image.
    ///
    /// # Errors
    /// `Invalid` fields (the digest must be `sha256:` and 64 hex characters);
    /// `Duplicate` name and version.
    pub async fn create(
        &self,
        who: &Who,
        name: &str,
        version: &str,
        digest: &str,
    ) -> Result<RuntimeImage, ImageError> {
        let name = image_field("name", name, RuntimeImage::MAX_NAME)?;
        let version = image_field("version", version, RuntimeImage::MAX_VERSION)?;
        let hex = digest.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ValidationError::new(
                "digest",
                "string_pattern_mismatch",
                "digest must be sha256: followed by 64 hex characters",
                digest,
            )
            .into());
        }
        let image = RuntimeImage {
            id: crate::RuntimeImageId::new(),
            name,
            version,
            digest: digest.to_ascii_lowercase(),
            created_at: self.clock.now(),
        };
        let event = image_audit(
            &image,
            image.created_at,
            audit::Action::RuntimeImageRegistered,
            who,
        );
        self.images
            .insert(&image, &event)
            .await
            .map_err(|e| match e {
                RepoError::Duplicate { .. } => ImageError::Duplicate {
                    name: image.name.clone(),
                    version: image.version.clone(),
                },
                other => ImageError::Store(other),
            })?;
        Ok(image)
    }

    /// # Errors
    /// Store failures only.
    pub async fn list(&self, page: PageRequest) -> Result<Page<RuntimeImage>, ImageError> {
        Ok(self.images.list(page).await?)
    }

    /// Promotes an image to a channel; new instances take the `stable` one.
    ///
    /// # Errors
    /// `NotFound`.
    pub async fn promote(
        &self,
        who: &Who,
        id: crate::RuntimeImageId,
        channel: Channel,
    ) -> Result<RuntimeImage, ImageError> {
        let image = self.images.find(id).await?.ok_or(ImageError::NotFound)?;
        let now = self.clock.now();
        let event = image_audit(&image, now, audit::Action::RuntimeImagePromoted, who)
            .with_fields([channel.as_str()]);
        if !self.images.promote(channel, id, now, &event).await? {
            return Err(ImageError::NotFound);
        }
        self.images.find(id).await?.ok_or(ImageError::NotFound)
    }
}

/// The audit event of `action` on `instance` (as it was before the change).
fn audit(instance: &Instance, at: OffsetDateTime, action: audit::Action, who: &Who) -> AuditEvent {
    AuditEvent::new(
        Some(instance.tenant_id.0),
        at,
        action,
        who,
        AuditTarget::new(TargetKind::Instance, instance.id.0, instance.name.as_str()),
    )
}

/// The audit event of `action` on a runtime image (belonging to no tenant).
fn image_audit(
    image: &RuntimeImage,
    at: OffsetDateTime,
    action: audit::Action,
    who: &Who,
) -> AuditEvent {
    AuditEvent::new(
        None,
        at,
        action,
        who,
        AuditTarget::new(
            TargetKind::RuntimeImage,
            image.id.0,
            format!("{}:{}", image.name, image.version),
        ),
    )
}
