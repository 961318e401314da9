//! Runtime images and their promotion channels.

use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;

/// A promotion channel.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelDto {
    Stable,
    Canary,
}

/// A runtime image.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct RuntimeImageDto {
    pub id: Uuid,
    pub name: String,
    pub version: String,
    pub digest: String,
    /// What instances record as their `runtime_image`: `name:version`.
    pub reference: String,
    pub created_at: Timestamp,
}

impl From<hydracore_instances::RuntimeImage> for RuntimeImageDto {
    fn from(i: hydracore_instances::RuntimeImage) -> Self {
        Self {
            reference: i.reference(),
            id: i.id.0,
            name: i.name,
            version: i.version,
            digest: i.digest,
            created_at: Timestamp(i.created_at),
        }
    }
}

/// Registers a runtime image.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateRuntimeImageRequest {
    #[openapi(example = "ghcr.io/hydracore/agent-runtime")]
    pub name: String,
    #[openapi(example = "1.4.2")]
    pub version: String,
    /// `sha256:` followed by 64 hex characters.
    #[openapi(example = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    pub digest: String,
}

/// Promotes an image.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub channel: ChannelDto,
}
