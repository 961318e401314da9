//! Agent instances.

use hydracore_instances::{Instance, Status};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{JsonObject, RawJsonObject, Timestamp};

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
    /// Unique within the tenant: 1 to 64 of `[a-z0-9-]`.
    pub name: String,
    pub status: InstanceStatus,
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
            runtime_image: i.runtime_image,
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
    /// Unique within the tenant: 1 to 64 of `[a-z0-9-]`.
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
