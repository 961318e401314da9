//! Agent instances: their shapes, and the operations on them.

use hydracore_core::rules::Rule;
use hydracore_instances::{ImageReference, InstanceName};
use hydracore_instances::{Instance, Status};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use hydracore_core::{Page, PageRequest};
pub use hydracore_instances::InstanceId;
use hydracore_instances::{CreateInstance, InstanceError, InstancePatch, LogTail};

use crate::shapes::{Shapes, body, nested};
use crate::{Caller, FieldRules, JsonObject, Problem, RawJsonObject, Services, Timestamp};

needs! {
    INSTANCES_READ: InstancesRead = "instances":"read";
    INSTANCES_WRITE: InstancesWrite = "instances":"write";
    INSTANCES_DELETE: InstancesDelete = "instances":"delete";
}

path_id! {
    InstanceId = "The instance's id (a UUID).";
}

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[body::<CreateInstanceRequest>, body::<UpdateInstanceRequest>],
    nested: &[nested::<InstanceStatus>],
};

/// An instance's lifecycle status.
#[derive(Debug, Clone, Copy, Serialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    Stopped,
    Starting,
    Running,
    Stopping,
    Failed,
}

impl InstanceStatus {
    /// The status as the wire writes it.
    pub fn as_str(self) -> &'static str {
        Status::from(self).as_str()
    }

    /// Whether an instance in this status may be started (the lifecycle's rule).
    pub fn can_start(self) -> bool {
        Status::from(self).can_start()
    }

    /// Whether an instance in this status may be stopped (the lifecycle's rule).
    pub fn can_stop(self) -> bool {
        Status::from(self).can_stop()
    }
}

impl From<InstanceStatus> for Status {
    fn from(s: InstanceStatus) -> Self {
        match s {
            InstanceStatus::Stopped => Self::Stopped,
            InstanceStatus::Starting => Self::Starting,
            InstanceStatus::Running => Self::Running,
            InstanceStatus::Stopping => Self::Stopping,
            InstanceStatus::Failed => Self::Failed,
        }
    }
}

impl From<Status> for InstanceStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Stopped => Self::Stopped,
            Status::Starting => Self::Starting,
            Status::Running => Self::Running,
            Status::Stopping => Self::Stopping,
            Status::Failed => Self::Failed,
        }
    }
}

/// An agent instance.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct InstanceDto {
    pub id: Uuid,
    /// Unique within the tenant.
    pub name: String,
    pub status: InstanceStatus,
    /// Why the instance is `failed`, in the runtime's words (an exit code, OOM, an
    /// image that cannot be had); `null` in every other status.
    pub status_reason: Option<String>,
    /// The image reference the instance runs.
    pub runtime_image: String,
    /// Free-form configuration (a JSON object).
    pub config: RawJsonObject,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Instance> for InstanceDto {
    fn from(i: Instance) -> Self {
        Self {
            id: i.id.0,
            name: i.name.into_string(),
            status: i.status.into(),
            status_reason: i.status_reason,
            runtime_image: i.runtime_image.to_string(),
            config: RawJsonObject(i.config.into_raw()),
            created_at: Timestamp(i.created_at),
            updated_at: Timestamp(i.updated_at),
        }
    }
}

/// Creates an instance.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateInstanceRequest {
    /// Unique within the tenant.
    #[openapi(example = "web-1")]
    pub name: String,
    /// Defaults to the image promoted to the `stable` channel, or the server default.
    pub runtime_image: Option<String>,
    /// A JSON object (default `{}`).
    pub config: Option<JsonObject>,
    /// Start the instance at once (default false).
    pub start: Option<bool>,
}

/// Changes an instance; absent fields are left as they are.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInstanceRequest {
    pub name: Option<String>,
    pub runtime_image: Option<String>,
    /// Replaces the whole configuration object.
    pub config: Option<JsonObject>,
}

impl FieldRules for CreateInstanceRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        vec![
            ("name", InstanceName::RULE),
            ("runtime_image", ImageReference::RULE),
        ]
    }
}

impl FieldRules for UpdateInstanceRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        CreateInstanceRequest::field_rules()
    }
}

impl CreateInstanceRequest {
    /// The domain's request.
    pub fn into_domain(self) -> CreateInstance {
        CreateInstance {
            name: self.name,
            runtime_image: self.runtime_image,
            config: self.config.map(|c| c.0),
            start: self.start.unwrap_or(false),
        }
    }
}

impl UpdateInstanceRequest {
    /// The domain's patch.
    pub fn into_domain(self) -> InstancePatch {
        InstancePatch {
            name: self.name,
            runtime_image: self.runtime_image,
            config: self.config.map(|c| c.0),
        }
    }
}

/// The tenant's instances, oldest first, a page at a time.
///
/// # Errors
/// Store failures.
pub async fn list_instances(
    svc: &Services,
    caller: &Caller<'_>,
    page: PageRequest,
) -> Result<Page<InstanceDto>, Problem> {
    caller.require(&INSTANCES_READ)?;
    Ok(svc
        .instances
        .list(caller.tenant, page)
        .await?
        .map(InstanceDto::from))
}

/// Creates an instance (started at once with `start: true`).
///
/// # Errors
/// A field rule, a taken name (conflict), the runtime.
pub async fn create_instance(
    svc: &Services,
    caller: &Caller<'_>,
    req: CreateInstanceRequest,
) -> Result<InstanceDto, Problem> {
    caller.require(&INSTANCES_WRITE)?;
    Ok(svc
        .instances
        .create(caller.tenant, &caller.who(), req.into_domain())
        .await?
        .into())
}

/// One of the tenant's instances.
///
/// # Errors
/// Not found.
pub async fn get_instance(
    svc: &Services,
    caller: &Caller<'_>,
    id: InstanceId,
) -> Result<InstanceDto, Problem> {
    caller.require(&INSTANCES_READ)?;
    Ok(svc.instances.get(caller.tenant, id).await?.into())
}

/// Renames, re-images or reconfigures an instance.
///
/// # Errors
/// Not found, a field rule, a taken name.
pub async fn update_instance(
    svc: &Services,
    caller: &Caller<'_>,
    id: InstanceId,
    req: UpdateInstanceRequest,
) -> Result<InstanceDto, Problem> {
    caller.require(&INSTANCES_WRITE)?;
    Ok(svc
        .instances
        .update(caller.tenant, &caller.who(), id, req.into_domain())
        .await?
        .into())
}

/// Deletes an instance, stopping it first.
///
/// # Errors
/// Not found, the runtime.
pub async fn delete_instance(
    svc: &Services,
    caller: &Caller<'_>,
    id: InstanceId,
) -> Result<(), Problem> {
    caller.require(&INSTANCES_DELETE)?;
    Ok(svc
        .instances
        .delete(caller.tenant, &caller.who(), id)
        .await?)
}

/// Starts an instance.
///
/// # Errors
/// Not found, an illegal transition (conflict), the runtime.
pub async fn start_instance(
    svc: &Services,
    caller: &Caller<'_>,
    id: InstanceId,
) -> Result<InstanceDto, Problem> {
    caller.require(&INSTANCES_WRITE)?;
    Ok(svc
        .instances
        .start(caller.tenant, &caller.who(), id)
        .await?
        .into())
}

/// Stops an instance.
///
/// # Errors
/// Not found, an illegal transition (conflict), the runtime.
pub async fn stop_instance(
    svc: &Services,
    caller: &Caller<'_>,
    id: InstanceId,
) -> Result<InstanceDto, Problem> {
    caller.require(&INSTANCES_WRITE)?;
    Ok(svc
        .instances
        .stop(caller.tenant, &caller.who(), id)
        .await?
        .into())
}

/// The query parameter that says how many log lines to read.
pub const LOG_TAIL_PARAMETER: &str = "tail";

/// Reads `tail` as sent (absent: [`LogTail::DEFAULT`]).
///
/// # Errors
/// Not a whole number from 1 to 10,000: an invalid problem naming `tail`.
pub fn log_tail(raw: Option<&str>) -> Result<LogTail, Problem> {
    raw.map_or(Ok(LogTail::DEFAULT), |r| {
        LogTail::parse(r).map_err(Problem::invalid)
    })
}

/// The last lines an instance's agent wrote (standard output and error, in the order
/// written), as text; empty while it never ran.
///
/// # Errors
/// Not found; the runtime cannot be reached.
pub async fn get_instance_logs(
    svc: &Services,
    caller: &Caller<'_>,
    id: InstanceId,
    tail: LogTail,
) -> Result<String, Problem> {
    caller.require(&INSTANCES_READ)?;
    Ok(svc.instances.logs(caller.tenant, id, tail).await?)
}

/// What a request that needs the instance runtime is told while it cannot be reached.
pub const RUNTIME_AWAY: &str = "The instance runtime cannot be reached; retry shortly";

impl From<InstanceError> for Problem {
    fn from(e: InstanceError) -> Self {
        match e {
            InstanceError::NotFound => Problem::not_found("Instance not found"),
            InstanceError::Duplicate { name } => {
                Problem::conflict(format!("An instance named '{name}' already exists"))
            }
            e @ InstanceError::IllegalTransition { .. } => {
                let msg = e.to_string();
                let mut chars = msg.chars();
                let first = chars.next().map(|c| c.to_uppercase().collect::<String>());
                Problem::conflict(format!("{}{}", first.unwrap_or_default(), chars.as_str()))
            }
            InstanceError::Invalid(v) => Problem::invalid(v),
            InstanceError::Runtime(e) if e.is_unreachable() => Problem {
                detail: RUNTIME_AWAY.into(),
                ..Problem::unavailable(e)
            },
            InstanceError::Runtime(e) => Problem::internal(e),
            InstanceError::Store(e) => e.into(),
        }
    }
}

/// The instance operations, for each driving adapter to render (see [`crate::operations!`]).
#[macro_export]
#[doc(hidden)]
macro_rules! instances {
    ($then:path) => {
        $then! { instances;
            /// List instances
            ///
            /// The tenant's instances, oldest first, a page at a time.
            list_instances: GET "/instances" "listInstances" Instances,
                needs $crate::InstancesRead, idempotent no, takes [page()],
                answers paged $crate::InstanceDto, fails plain,
                tool [instances_list "List instances" "List the tenant's agent instances, oldest first, a page at a time (limit 1-1000, cursor from next_cursor)."];

            /// Get an instance
            get_instance: GET "/instances/{instance_id}" "getInstance" Instances,
                needs $crate::InstancesRead, idempotent no,
                takes [id($crate::InstanceId)],
                answers json $crate::InstanceDto, fails plain,
                tool [instances_get "Get an instance" "Get one agent instance by id."];

            /// Get an instance's log
            ///
            /// The last `tail` lines the instance's agent wrote to its standard output and error,
            /// in the order written, as `text/plain` (empty while it never ran, and always with
            /// the default runtime, which runs nothing). 503 with `Retry-After` while the instance
            /// runtime cannot be reached.
            get_instance_logs: GET "/instances/{instance_id}/logs" "getInstanceLogs" Instances,
                needs $crate::InstancesRead, idempotent no,
                takes [id($crate::InstanceId), tail()],
                answers text String, fails runtime,
                tool [instances_logs "Read an instance's log" "The last lines an instance's agent wrote to its standard output and error, oldest first (tail: 1-10000 lines, default 100); empty while it never ran."];

            /// Create an instance
            ///
            /// Creates a stopped instance (or a started one, with `start: true`). Without
            /// `runtime_image` it runs the image promoted to `stable`, or the server default.
            /// With `start: true` the instance is stored `starting` and answered once the runtime
            /// has started it; if the request is cut short (a 503), the instance may exist and is
            /// brought to `running` (or `failed`) by the server's reconciler within a minute or so.
            /// A runtime that refuses (an image it cannot pull) leaves the instance `failed`, with
            /// the runtime's words in `status_reason`: still 201.
            /// With `start: true` while the instance runtime cannot be reached, 503 with
            /// `Retry-After` and nothing is created; if the runtime goes away half-way, the
            /// instance is answered `starting` and the reconciler starts it once the runtime is
            /// back.
            create_instance: POST "/instances" "createInstance" Instances,
                needs $crate::InstancesWrite, idempotent yes, takes [body($crate::CreateInstanceRequest)],
                answers created $crate::InstanceDto, fails runtime_conflict,
                tool [instances_create "Create an instance" "Create an agent instance: a name unique in the tenant, and optionally a runtime_image, a config object and start."];

            /// Update an instance
            ///
            /// Renames, re-images or reconfigures an instance; absent fields are left as they are.
            update_instance: PATCH "/instances/{instance_id}" "updateInstance" Instances,
                needs $crate::InstancesWrite, idempotent no,
                takes [id($crate::InstanceId), body($crate::UpdateInstanceRequest)],
                answers json $crate::InstanceDto, fails conflict,
                tool [instances_update "Update an instance" "Rename, re-image or reconfigure an instance; omitted fields are left as they are."];

            /// Start an instance
            ///
            /// Allowed from `stopped` and `failed`; anything else is 409. Answered once the runtime
            /// has started it (`running`), or `failed` with its `status_reason` when the runtime
            /// refused; while the runtime cannot be reached, 503 with `Retry-After` and the
            /// instance is left as it was.
            start_instance: POST "/instances/{instance_id}/start" "startInstance" Instances,
                needs $crate::InstancesWrite, idempotent yes,
                takes [id($crate::InstanceId)],
                answers json $crate::InstanceDto, fails runtime_conflict,
                tool [instances_start "Start an instance" "Start a stopped or failed instance."];

            /// Stop an instance
            ///
            /// Allowed from `running`, `starting` and `failed`; anything else is 409. While the
            /// runtime cannot be reached, 503 with `Retry-After` and the instance is left as it was.
            stop_instance: POST "/instances/{instance_id}/stop" "stopInstance" Instances,
                needs $crate::InstancesWrite, idempotent yes,
                takes [id($crate::InstanceId)],
                answers json $crate::InstanceDto, fails runtime_conflict,
                tool [instances_stop "Stop an instance" "Stop a running, starting or failed instance."];

            /// Delete an instance
            ///
            /// Stops the instance first if it may be running, removes what ran it, then deletes
            /// it. While the instance runtime cannot be reached nothing is deleted: 503 with
            /// `Retry-After`.
            delete_instance: DELETE "/instances/{instance_id}" "deleteInstance" Instances,
                needs $crate::InstancesDelete, idempotent no,
                takes [id($crate::InstanceId)],
                answers none (), fails runtime,
                tool [instances_delete "Delete an instance" "Delete an instance, stopping it first if it runs. This cannot be undone."];
        }
    };
}
