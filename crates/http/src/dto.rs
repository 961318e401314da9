//! Wire shapes: what clients send and receive. Domain types never serialise.

use hydracore_instances::{Instance, Status};
use hydracore_keys::{ApiKey, RateLimit};
use paperclip::actix::Apiv2Schema;
use paperclip::v2::models::{DataType, DataTypeFormat};
use paperclip::v2::schema::TypedData;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// An instant on the wire: RFC 3339 in UTC with a `Z` suffix and microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub OffsetDateTime);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        let utc = self.0.to_offset(time::UtcOffset::UTC);
        s.serialize_str(&utc.format(FORMAT).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        OffsetDateTime::parse(&raw, &Rfc3339)
            .map(|t| {
                Timestamp(hydracore_core::truncate_to_micros(
                    t.to_offset(time::UtcOffset::UTC),
                ))
            })
            .map_err(|_| {
                serde::de::Error::invalid_value(
                    serde::de::Unexpected::Str(&raw),
                    &"an RFC 3339 date-time",
                )
            })
    }
}

impl TypedData for Timestamp {
    fn data_type() -> DataType {
        DataType::String
    }

    fn format() -> Option<DataTypeFormat> {
        Some(DataTypeFormat::DateTime)
    }
}

/// A JSON object, relayed as it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonObject(pub serde_json::Value);

impl TypedData for JsonObject {
    fn data_type() -> DataType {
        DataType::Object
    }
}

/// Deserialises a present field (even `null`) as `Some`, so `None` means "absent".
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

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
    pub config: JsonObject,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl From<Instance> for InstanceDto {
    fn from(i: Instance) -> Self {
        Self {
            id: i.id.0,
            name: i.name.to_string(),
            status: i.status.into(),
            runtime_image: i.runtime_image,
            config: JsonObject(i.config),
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

/// A per-key request budget.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitDto {
    /// Requests allowed per window (1 to 1,000,000).
    pub requests: u32,
    /// The window, in seconds (1 to 86,400).
    pub per_seconds: u32,
}

impl From<RateLimit> for RateLimitDto {
    fn from(r: RateLimit) -> Self {
        Self {
            requests: r.requests,
            per_seconds: r.per_seconds,
        }
    }
}

/// An API key, without its secret.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// `null`: the server default applies.
    pub rate_limit: Option<RateLimitDto>,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.0,
            name: k.name,
            prefix: k.prefix,
            scopes: k.scopes.to_strings(),
            created_at: Timestamp(k.created_at),
            expires_at: k.expires_at.map(Timestamp),
            last_used_at: k.last_used_at.map(Timestamp),
            rate_limit: k.rate_limit.map(Into::into),
        }
    }
}

/// A newly minted API key: the only response that carries its plaintext.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct CreatedApiKeyDto {
    /// The key itself. Shown once: store it now.
    pub key: String,
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub rate_limit: Option<RateLimitDto>,
}

/// Mints an API key.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    #[openapi(example = "ci-deploy")]
    pub name: String,
    /// Scopes from the catalogue (`GET /v1/scopes`); a key can only grant scopes it holds.
    pub scopes: Vec<String>,
    /// When the key stops working (RFC 3339); never, if absent.
    pub expires_at: Option<Timestamp>,
    /// The key's own budget; the server default, if absent.
    pub rate_limit: Option<RateLimitDto>,
}

/// Changes an API key; absent fields are left as they are, `null` clears.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiKeyRequest {
    pub name: Option<String>,
    pub scopes: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub expires_at: Option<Option<Timestamp>>,
    #[serde(default, deserialize_with = "present")]
    pub rate_limit: Option<Option<RateLimitDto>>,
}

/// One scope of the catalogue.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ScopeDto {
    /// `<resource>:<verb>`, or `<resource>:*` for every verb.
    pub scope: String,
    pub resource: String,
    pub verb: String,
    pub description: String,
    /// Served by other platform components: grantable here, enforced there.
    pub reserved: bool,
}

/// The calling API key, as the server sees it.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ApiKeyContextDto {
    pub key_id: Uuid,
    pub name: String,
    pub tenant_id: Uuid,
    pub scopes: Vec<String>,
    pub rate_limit: Option<RateLimitDto>,
}

/// Liveness or readiness.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct HealthDto {
    /// `ok`, or `unavailable`.
    pub status: String,
}

/// Converts a wire rate limit into the domain's, with its bounds checked.
///
/// # Errors
/// A value out of bounds.
pub fn rate_limit(dto: RateLimitDto) -> Result<RateLimit, hydracore_core::ValidationError> {
    RateLimit::new(dto.requests, dto.per_seconds)
}
