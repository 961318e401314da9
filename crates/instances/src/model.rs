use std::fmt;
use std::str::FromStr;

use hydracore_core::ValidationError;
use hydracore_tenants::TenantId;
use time::OffsetDateTime;
use uuid::Uuid;

/// An instance's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId(pub Uuid);

impl InstanceId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for InstanceId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An instance name: 1..=64 characters of `[a-z0-9-]`, unique within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceName(String);

impl InstanceName {
    pub const MAX_LEN: usize = 64;

    /// # Errors
    /// An empty name, one longer than 64, or one with a character outside `[a-z0-9-]`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::new(
                "name",
                "string_too_short",
                "String should have at least 1 character",
                raw,
            ));
        }
        if raw.len() > Self::MAX_LEN {
            return Err(ValidationError::new(
                "name",
                "string_too_long",
                format!("String should have at most {} characters", Self::MAX_LEN),
                raw,
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ValidationError::new(
                "name",
                "string_pattern_mismatch",
                "String should match pattern '^[a-z0-9-]{1,64}$'",
                raw,
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an instance is in its lifecycle.
///
/// ```text
/// stopped | failed --start--> starting --runtime--> running | failed
/// running | starting | failed --stop--> stopping --runtime--> stopped | failed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Stopped,
    Starting,
    Running,
    Stopping,
    Failed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Stopped,
        Status::Starting,
        Status::Running,
        Status::Stopping,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Stopped => "stopped",
            Status::Starting => "starting",
            Status::Running => "running",
            Status::Stopping => "stopping",
            Status::Failed => "failed",
        }
    }

    /// Whether `start` may begin from this status.
    pub fn can_start(self) -> bool {
        matches!(self, Status::Stopped | Status::Failed)
    }

    /// Whether `stop` may begin from this status.
    pub fn can_stop(self) -> bool {
        matches!(self, Status::Running | Status::Starting | Status::Failed)
    }

    /// Whether a process may be live in this status, so deleting must stop it first.
    pub fn may_be_live(self) -> bool {
        matches!(self, Status::Running | Status::Starting)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown instance status '{s}'"))
    }
}

/// An agent instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: InstanceId,
    pub tenant_id: TenantId,
    pub name: InstanceName,
    pub status: Status,
    pub runtime_image: String,
    /// Always a JSON object.
    pub config: serde_json::Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A runtime image's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuntimeImageId(pub Uuid);

impl RuntimeImageId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for RuntimeImageId {
    fn default() -> Self {
        Self::new()
    }
}

/// An image instances can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeImage {
    pub id: RuntimeImageId,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub created_at: OffsetDateTime,
}

impl RuntimeImage {
    /// The reference an instance records: `name:version`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }
}

/// A promotion channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Stable,
    Canary,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Stable => "stable",
            Channel::Canary => "canary",
        }
    }
}

impl FromStr for Channel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "stable" => Ok(Channel::Stable),
            "canary" => Ok(Channel::Canary),
            _ => Err(format!("unknown channel '{s}' (stable, canary)")),
        }
    }
}

/// Checks a runtime image reference: 1..=255 printable characters without spaces.
///
/// # Errors
/// A reference that is empty, too long, or has whitespace or control characters.
pub fn parse_image_reference(raw: &str) -> Result<String, ValidationError> {
    if raw.is_empty() || raw.len() > 255 {
        return Err(ValidationError::new(
            "runtime_image",
            "string_too_long",
            "runtime_image must be 1 to 255 characters",
            raw,
        ));
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ValidationError::new(
            "runtime_image",
            "string_pattern_mismatch",
            "runtime_image must not contain whitespace or control characters",
            raw,
        ));
    }
    Ok(raw.to_owned())
}
