use std::fmt;
use std::str::FromStr;

use hydracore_core::ValidationError;
use hydracore_core::id_type;
use hydracore_core::rules::Rule;
use hydracore_tenants::TenantId;
use serde_json::value::RawValue;
use time::OffsetDateTime;

id_type! {
    /// An instance's id.
    pub struct InstanceId;
}

/// An instance name: 1..=64 characters of `[a-z0-9-]`, unique within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceName(String);

impl InstanceName {
    pub const MAX_LEN: usize = 64;
    /// The grammar, as the spec states it (its bound is [`Self::MAX_LEN`]).
    pub const PATTERN: &str = "^[a-z0-9-]{1,64}$";
    pub const RULE: Rule = Rule::Text {
        min: 1,
        max: Self::MAX_LEN,
        pattern: Some(Self::PATTERN),
        chars: Some("lowercase letters, digits and `-`"),
    };

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
                format!("String should match pattern '{}'", Self::PATTERN),
                raw,
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
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
    /// Why the instance is `failed` (the runtime's words: an exit code, OOM, an image
    /// that cannot be had); `None` in every other status.
    pub status_reason: Option<String>,
    pub runtime_image: ImageReference,
    pub config: Config,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What the runtime reports of an instance it was asked to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub status: Status,
    /// Why, when the status is `failed`.
    pub reason: Option<String>,
    /// The runtime's own name for what runs the instance (a container id), if any.
    pub runtime_ref: Option<String>,
}

/// How many of an instance's last log lines to read: 1 to 10,000, 100 when not said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogTail(u32);

impl LogTail {
    pub const MAX: u32 = 10_000;
    pub const DEFAULT: Self = Self(100);
    pub const RULE: Rule = Rule::Whole {
        min: 1,
        max: Self::MAX as u64,
    };

    /// # Errors
    /// A number below 1 or above [`Self::MAX`]; `raw` is what was sent.
    pub fn new(lines: i64, raw: &str) -> Result<Self, ValidationError> {
        match u32::try_from(lines) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ if lines < 1 => Err(ValidationError::new(
                "tail",
                "greater_than_equal",
                "Input should be greater than or equal to 1",
                raw,
            )),
            _ => Err(ValidationError::new(
                "tail",
                "less_than_equal",
                format!("Input should be less than or equal to {}", Self::MAX),
                raw,
            )),
        }
    }

    /// # Errors
    /// Text that is not a whole number, or one out of bounds.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let lines = raw.parse::<i64>().map_err(|_| {
            ValidationError::new(
                "tail",
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer",
                raw,
            )
        })?;
        Self::new(lines, raw)
    }

    pub fn lines(self) -> u32 {
        self.0
    }
}

/// An instance's configuration: a JSON object, kept as its JSON text so that reading
/// and answering it never builds a tree (it is only relayed).
#[derive(Debug, Clone)]
pub struct Config(Box<RawValue>);

impl Config {
    /// The most a configuration may take, serialised.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// `{}`.
    pub fn empty() -> Self {
        Self::from_text("{}".to_owned()).unwrap_or_else(|_| unreachable!("`{{}}` is JSON"))
    }

    /// Checks a client's value: an object of at most [`Config::MAX_BYTES`] once
    /// serialised.
    ///
    /// # Errors
    /// Anything but an object (`dict_type`), or one too large (`too_long`).
    pub fn from_value(value: &serde_json::Value) -> Result<Self, ValidationError> {
        if !value.is_object() {
            return Err(ValidationError::new(
                "config",
                "dict_type",
                "Input should be a valid dictionary",
                value.to_string(),
            ));
        }
        let text = value.to_string();
        if text.len() > Self::MAX_BYTES {
            return Err(ValidationError::new(
                "config",
                "too_long",
                format!(
                    "config must be at most {} bytes of JSON (got {})",
                    Self::MAX_BYTES,
                    text.len()
                ),
                "{…}",
            ));
        }
        Self::from_text(text).map_err(|e| ValidationError::new("config", "json_invalid", e, "{…}"))
    }

    /// Wraps stored JSON text (checked to be JSON, not parsed into a tree).
    ///
    /// # Errors
    /// Text that is not JSON.
    pub fn from_text(text: String) -> Result<Self, String> {
        RawValue::from_string(text)
            .map(Self)
            .map_err(|e| e.to_string())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The JSON text, to embed as it is in a response.
    pub fn into_raw(self) -> Box<RawValue> {
        self.0
    }

    /// The value as a tree (for comparisons and tests; the serving path never needs it).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }
}

/// Equal when they hold the same JSON value, whatever the spacing or key order.
impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

id_type! {
    /// A runtime image's id.
    pub struct RuntimeImageId;
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
    pub const MAX_NAME: usize = 200;
    pub const MAX_VERSION: usize = 128;
    pub const NAME: Rule = Rule::no_space(Self::MAX_NAME);
    pub const VERSION: Rule = Rule::no_space(Self::MAX_VERSION);
    /// `sha256:` and 64 hex digits.
    pub const DIGEST: Rule = Rule::Text {
        min: 71,
        max: 71,
        pattern: Some("^sha256:[0-9a-fA-F]{64}$"),
        chars: Some("`sha256:` and 64 hex digits"),
    };

    /// The reference an instance records: `name:version`.
    pub fn reference(&self) -> ImageReference {
        ImageReference::trusted(format!("{}:{}", self.name, self.version))
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

/// A runtime image reference, `[registry/]path[:tag][@digest]` (the OCI distribution
/// grammar), as instances record it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference(String);

impl ImageReference {
    pub const MAX_LEN: usize = 255;
    /// The grammar, as the spec states it: the same as [`ImageReference::parse`].
    pub const PATTERN: &str = concat!(
        r"^(?:(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+)(?::[0-9]{1,5})?/",
        r"|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?:[0-9]{1,5}/)?",
        r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*",
        r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?",
        r"(?:@[A-Za-z][A-Za-z0-9+._-]*:[0-9a-fA-F]{32,})?$",
    );
    pub const RULE: Rule = Rule::Text {
        min: 1,
        max: Self::MAX_LEN,
        pattern: Some(Self::PATTERN),
        chars: Some("an image reference, `[registry/]path[:tag][@digest]`"),
    };

    /// # Errors
    /// A reference that is empty, too long, or not in the grammar.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(ValidationError::new(
                "runtime_image",
                "string_too_long",
                format!("runtime_image must be 1 to {} characters", Self::MAX_LEN),
                raw,
            ));
        }
        if !is_image_reference(raw) {
            return Err(ValidationError::new(
                "runtime_image",
                "string_pattern_mismatch",
                "runtime_image must be an image reference: [registry/]path[:tag][@digest], \
                 e.g. `ghcr.io/acme/agent:1.4`",
                raw,
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A reference read back from storage or configuration, where it was checked when
    /// it was written.
    pub fn trusted(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `host[:port]` naming a registry: `localhost`, a dotted host name, or any host name
/// with a port.
fn is_registry(host: &str) -> bool {
    let (domain, port) = match host.split_once(':') {
        Some((d, p)) => (d, Some(p)),
        None => (host, None),
    };
    let valid_labels = domain.split('.').all(|label| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let valid_port =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    valid_labels && valid_port && (domain == "localhost" || domain.contains('.') || port.is_some())
}

/// The OCI distribution grammar of a reference: an optional registry
/// (`host[:port]`), lowercase path components separated by `/` (each alphanumeric runs
/// joined by `.`, `_`, `__` or dashes), then an optional `:tag` and `@algorithm:hex`.
fn is_image_reference(raw: &str) -> bool {
    let (rest, digest) = match raw.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (raw, None),
    };
    let valid_digest = digest.is_none_or(|d| {
        d.split_once(':').is_some_and(|(alg, hex)| {
            alg.starts_with(|c: char| c.is_ascii_alphabetic())
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        })
    });
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    let valid_tag = tag.is_none_or(|t| {
        (1..=128).contains(&t.len())
            && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    });
    let mut parts: Vec<&str> = name.split('/').collect();
    // The first component is a registry when it reads as one (`localhost`, a dotted
    // host name, or any host with a port); otherwise it is part of the path.
    if parts.len() > 1 && is_registry(parts[0]) {
        parts.remove(0);
    }
    let valid_path = parts.iter().all(|component| {
        let bytes = component.as_bytes();
        let edges_ok = bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && bytes
                .last()
                .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let chars_ok = bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b));
        // `.` and `_` separate runs singly (`__` is allowed); dashes may repeat.
        let separators_ok = !component.contains("..")
            && !component.contains("._")
            && !component.contains("_.")
            && !component.contains("___")
            && !component.contains(".-")
            && !component.contains("-.")
            && !component.contains("_-")
            && !component.contains("-_");
        edges_ok && chars_ok && separators_ok
    });
    valid_digest && valid_tag && valid_path
}
