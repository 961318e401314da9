//! Runtime images and their promotion channels.

use hydracore_core::rules::Rule;
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use hydracore_core::{Page, PageRequest};
use hydracore_instances::{Channel, ImageError, RuntimeImageId};

use crate::shapes::{Shapes, body, nested};
use crate::{FieldRules, Problem, Services, Timestamp};

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[body::<CreateRuntimeImageRequest>, body::<PromoteRequest>],
    nested: &[nested::<ChannelDto>],
};

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
            reference: i.reference().to_string(),
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
    #[openapi(example = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    pub digest: String,
}

/// Promotes an image.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    pub channel: ChannelDto,
}

impl FieldRules for CreateRuntimeImageRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        vec![
            ("name", hydracore_instances::RuntimeImage::NAME),
            ("version", hydracore_instances::RuntimeImage::VERSION),
            ("digest", hydracore_instances::RuntimeImage::DIGEST),
        ]
    }
}

impl FieldRules for PromoteRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        Vec::new()
    }
}

impl From<ChannelDto> for Channel {
    fn from(c: ChannelDto) -> Self {
        match c {
            ChannelDto::Stable => Channel::Stable,
            ChannelDto::Canary => Channel::Canary,
        }
    }
}

/// Every registered image, oldest first.
///
/// # Errors
/// Store failures.
pub async fn list_images(
    svc: &Services,
    page: PageRequest,
) -> Result<Page<RuntimeImageDto>, Problem> {
    Ok(svc.images.list(page).await?.map(RuntimeImageDto::from))
}

/// Registers an image.
///
/// # Errors
/// A field rule, a taken name and version (conflict).
pub async fn create_image(
    svc: &Services,
    origin: &hydracore_audit::Origin,
    req: CreateRuntimeImageRequest,
) -> Result<RuntimeImageDto, Problem> {
    let who = origin.by(hydracore_audit::AuditActor::ops());
    Ok(svc
        .images
        .create(&who, &req.name, &req.version, &req.digest)
        .await?
        .into())
}

/// Points a channel at an image.
///
/// # Errors
/// Not found.
pub async fn promote_image(
    svc: &Services,
    origin: &hydracore_audit::Origin,
    id: RuntimeImageId,
    req: PromoteRequest,
) -> Result<RuntimeImageDto, Problem> {
    let who = origin.by(hydracore_audit::AuditActor::ops());
    Ok(svc
        .images
        .promote(&who, id, req.channel.into())
        .await?
        .into())
}

impl From<ImageError> for Problem {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::NotFound => Problem::not_found("Runtime image not found"),
            e @ ImageError::Duplicate { .. } => Problem::conflict(format!("Runtime {e}")),
            ImageError::Invalid(v) => Problem::invalid(v),
            ImageError::Store(e) => e.into(),
        }
    }
}

/// No operation of this resource is in the table: its routes are the operator's runtime images (`/internal/v1`),
/// written by hand.
#[macro_export]
#[doc(hidden)]
macro_rules! images {
    ($then:path) => {
        $then! { images; }
    };
}
