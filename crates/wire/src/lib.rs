//! Wire shapes: what clients send and receive, shared by the HTTP and MCP adapters so
//! a tool and its route answer alike. Domain types never serialise; these do.

use std::fmt::Write as _;

use hydracore_auth::TokenPair;
use hydracore_instances::{Instance, Status};
use hydracore_keys::{ApiKey, RateLimit};
use hydracore_mcp_creds::{AuthKind, McpCredential};
use hydracore_mcp_log::{CallStatus, McpCall};
use hydracore_scopes::Role;
use hydracore_tenants::{Member, Tenant, TenantRole, User};
use paperclip::actix::Apiv2Schema;
use paperclip::v2::models::{DataType, DataTypeFormat};
use paperclip::v2::schema::TypedData;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Request fields that hold secrets (passwords, tokens, keys, credential secrets): an
/// error that quotes a request masks their values, at any depth.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "refresh_token",
    "access_token",
    "token",
    "secret",
    "key",
    "client_secret",
];

/// What a masked secret reads as.
pub const MASK: &str = "**********";

/// Whether `field` names a secret.
pub fn is_secret_field(field: &str) -> bool {
    SECRET_FIELDS.contains(&field)
}

/// Replaces the value of every secret field in `value`, at any depth, with [`MASK`].
pub fn mask_secrets(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret_field(k) {
                    *v = serde_json::Value::from(MASK);
                } else {
                    mask_secrets(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// An instant on the wire: RFC 3339 in UTC with a `Z` suffix and microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub OffsetDateTime);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0_u8; 27];
        match fixed_width_utc(self.0, &mut buf) {
            Some(text) => s.serialize_str(text),
            None => {
                const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
                );
                let utc = self.0.to_offset(time::UtcOffset::UTC);
                s.serialize_str(&utc.format(FORMAT).map_err(serde::ser::Error::custom)?)
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` written straight into `buf` (years 0 to 9999); the
/// same text as the `time` format description, without interpreting one per value
/// (a list page formats two hundred of them).
fn fixed_width_utc(t: OffsetDateTime, buf: &mut [u8; 27]) -> Option<&str> {
    fn digits(out: &mut [u8], mut v: u32) {
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    let utc = t.to_offset(time::UtcOffset::UTC);
    let year = u32::try_from(utc.year()).ok().filter(|y| *y <= 9999)?;
    digits(&mut buf[0..4], year);
    buf[4] = b'-';
    digits(&mut buf[5..7], u32::from(u8::from(utc.month())));
    buf[7] = b'-';
    digits(&mut buf[8..10], u32::from(utc.day()));
    buf[10] = b'T';
    digits(&mut buf[11..13], u32::from(utc.hour()));
    buf[13] = b':';
    digits(&mut buf[14..16], u32::from(utc.minute()));
    buf[16] = b':';
    digits(&mut buf[17..19], u32::from(utc.second()));
    buf[19] = b'.';
    digits(&mut buf[20..26], utc.microsecond());
    buf[26] = b'Z';
    std::str::from_utf8(buf).ok()
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

/// Whether a request body holds a string or key with a NUL character, which no text
/// column stores (PostgreSQL refuses it); if so, `loc` ends with the path to the first
/// one. `config` is exempt: it is kept as JSON text, where a NUL is only an escape.
pub fn nul_in_body(body: &serde_json::Value, loc: &mut Vec<serde_json::Value>) -> bool {
    match body {
        serde_json::Value::Object(fields) => fields.iter().any(|(k, v)| {
            loc.push(serde_json::Value::from(k.as_str()));
            let found = k.contains('\0') || (k != "config" && nul_at(v, loc));
            if !found {
                loc.pop();
            }
            found
        }),
        other => nul_at(other, loc),
    }
}

/// Whether `value` holds a string or key with a NUL character; if so, `loc` ends with
/// the path to the first one.
pub fn nul_at(value: &serde_json::Value, loc: &mut Vec<serde_json::Value>) -> bool {
    use serde_json::Value;
    let mut descend = |step: Value, key_has_nul: bool, child: &Value| {
        loc.push(step);
        let found = key_has_nul || nul_at(child, loc);
        if !found {
            loc.pop();
        }
        found
    };
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .any(|(i, v)| descend(Value::from(i), false, v)),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| descend(Value::from(k.as_str()), k.contains('\0'), v)),
        _ => false,
    }
}

/// A JSON object answered as the text it is stored as (never parsed on the way out).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct RawJsonObject(pub Box<serde_json::value::RawValue>);

impl TypedData for RawJsonObject {
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
    /// When a successor replaced this key (`POST …/rotate`); it then works until its
    /// `expires_at`, the end of the grace period, and cannot be rotated again.
    pub rotated_at: Option<Timestamp>,
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
            rotated_at: k.rotated_at.map(Timestamp),
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
    pub rotated_at: Option<Timestamp>,
}

impl From<hydracore_keys::MintedKey> for CreatedApiKeyDto {
    fn from(minted: hydracore_keys::MintedKey) -> Self {
        let dto = ApiKeyDto::from(minted.key);
        Self {
            key: minted.secret.expose().to_owned(),
            id: dto.id,
            name: dto.name,
            prefix: dto.prefix,
            scopes: dto.scopes,
            created_at: dto.created_at,
            expires_at: dto.expires_at,
            last_used_at: dto.last_used_at,
            rate_limit: dto.rate_limit,
            rotated_at: dto.rotated_at,
        }
    }
}

/// Rotates an API key.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RotateApiKeyRequest {
    /// How long the old key keeps working, in seconds (default 300, at most 604800).
    pub grace_seconds: Option<u32>,
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

/// A tenant member's role.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Member => Self::Member,
            Role::Viewer => Self::Viewer,
        }
    }
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Owner => Self::Owner,
            RoleDto::Admin => Self::Admin,
            RoleDto::Member => Self::Member,
            RoleDto::Viewer => Self::Viewer,
        }
    }
}

/// A user.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub created_at: Timestamp,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            email: u.email.as_str().to_owned(),
            created_at: Timestamp(u.created_at),
        }
    }
}

/// A tenant.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TenantDto {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
}

impl From<&Tenant> for TenantDto {
    fn from(t: &Tenant) -> Self {
        Self {
            id: t.id.0,
            name: t.name.as_str().to_owned(),
            created_at: Timestamp(t.created_at),
        }
    }
}

/// Access and refresh tokens.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TokenDto {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Single use: exchange it at `POST /auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

impl From<TokenPair> for TokenDto {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            refresh_token: p.refresh_token.expose().to_owned(),
            token_type: "bearer".into(),
            expires_in: p.expires_in,
        }
    }
}

/// A new account: the user, the tenant it owns, and tokens.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SignupDto {
    pub user: UserDto,
    pub tenant: TenantDto,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

/// Signs up.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[openapi(example = "ada@example.com")]
    pub email: String,
    /// 8 to 256 characters.
    #[openapi(example = "correct horse battery staple")]
    pub password: String,
    /// The first tenant, owned by the new user.
    #[openapi(example = "Acme")]
    pub tenant_name: String,
}

/// Signs in.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[openapi(example = "ada@example.com")]
    pub email: String,
    pub password: String,
}

/// A refresh token, to exchange or to revoke.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Switches the active tenant.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SwitchTenantRequest {
    pub tenant_id: Uuid,
}

/// One of the user's tenants.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MembershipDto {
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub role: RoleDto,
}

/// The signed-in user, the active tenant and every membership.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MeDto {
    pub user: UserDto,
    /// `null` when the user belongs to no tenant.
    pub active_tenant: Option<MembershipDto>,
    pub memberships: Vec<MembershipDto>,
}

impl MeDto {
    pub fn new(user: &User, tenants: Vec<TenantRole>) -> Self {
        let memberships: Vec<MembershipDto> = tenants
            .into_iter()
            .map(|t| MembershipDto {
                tenant_id: t.tenant.id.0,
                tenant_name: t.tenant.name.as_str().to_owned(),
                role: t.role.into(),
            })
            .collect();
        let active_tenant = user.active_tenant_id.and_then(|active| {
            memberships
                .iter()
                .find(|m| m.tenant_id == active.0)
                .map(|m| MembershipDto {
                    tenant_id: m.tenant_id,
                    tenant_name: m.tenant_name.clone(),
                    role: m.role,
                })
        });
        Self {
            user: user.into(),
            active_tenant,
            memberships,
        }
    }
}

/// Creates a tenant owned by the caller.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    #[openapi(example = "Acme Labs")]
    pub name: String,
}

/// A member of the tenant.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MemberDto {
    pub user_id: Uuid,
    pub email: String,
    pub role: RoleDto,
    /// When the user joined the tenant.
    pub created_at: Timestamp,
}

impl From<Member> for MemberDto {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user_id.0,
            email: m.email.as_str().to_owned(),
            role: m.role.into(),
            created_at: Timestamp(m.created_at),
        }
    }
}

/// Adds an existing user to the tenant.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    #[openapi(example = "grace@example.com")]
    pub email: String,
    pub role: RoleDto,
}

/// Changes a member's role.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: RoleDto,
}

/// How a credential is presented to its server.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum McpAuthKindDto {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `<header_name>: <secret>`.
    Header,
}

/// A credential for a third-party MCP server. The secret is never shown.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct McpCredentialDto {
    pub id: Uuid,
    pub name: String,
    pub server_url: String,
    pub auth_kind: McpAuthKindDto,
    /// The header carrying the secret, for `auth_kind: header`.
    pub header_name: Option<String>,
    /// Always true: a credential is stored with its secret.
    pub has_secret: bool,
    /// The secret's last 4 characters, for secrets of 12 or more; otherwise `null`.
    pub secret_last4: Option<String>,
    pub created_at: Timestamp,
}

impl From<McpCredential> for McpCredentialDto {
    fn from(c: McpCredential) -> Self {
        Self {
            id: c.id,
            name: c.name,
            server_url: c.server_url,
            auth_kind: match c.auth {
                AuthKind::Bearer => McpAuthKindDto::Bearer,
                AuthKind::Header { .. } => McpAuthKindDto::Header,
            },
            header_name: c.auth.header_name().map(str::to_owned),
            has_secret: true,
            secret_last4: (!c.secret_hint.is_empty()).then_some(c.secret_hint),
            created_at: Timestamp(c.created_at),
        }
    }
}

/// Stores a credential. The secret is sealed at once and never returned.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateMcpCredentialRequest {
    /// Unique within the tenant.
    #[openapi(example = "github")]
    pub name: String,
    /// The MCP server's URL (`http` or `https`).
    #[openapi(example = "https://mcp.example.com/mcp")]
    pub server_url: String,
    pub auth_kind: McpAuthKindDto,
    /// Required for `auth_kind: header`, e.g. `X-Api-Token`.
    pub header_name: Option<String>,
    /// The token or key for the server (1 to 8192 characters).
    pub secret: String,
}

/// How an MCP tool call ended.
#[derive(Debug, Clone, Copy, Serialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum McpCallStatusDto {
    Ok,
    Error,
    Denied,
}

/// One MCP tool call. Arguments, results and error text are never recorded.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct McpCallDto {
    pub id: Uuid,
    pub tool: String,
    /// The scope the tool requires.
    pub scope: String,
    pub status: McpCallStatusDto,
    /// Time spent serving the call, in microseconds.
    pub latency_us: i64,
    /// The API key that called.
    pub key_id: Uuid,
    pub created_at: Timestamp,
}

impl From<McpCall> for McpCallDto {
    fn from(c: McpCall) -> Self {
        Self {
            id: c.id,
            tool: c.tool,
            scope: c.scope,
            status: match c.status {
                CallStatus::Ok => McpCallStatusDto::Ok,
                CallStatus::Error => McpCallStatusDto::Error,
                CallStatus::Denied => McpCallStatusDto::Denied,
            },
            latency_us: c.latency_us,
            key_id: c.key_id,
            created_at: Timestamp(c.created_at),
        }
    }
}

/// Encodes a page key as 48 lowercase hex digits: 8 bytes of Unix nanoseconds (big
/// endian, two's complement), then the 16 bytes of the id. Every such string is a key:
/// the `i64` nanoseconds span 1677 to 2262, all of them representable instants (later
/// or earlier instants, which no row has, are clamped to that span).
pub fn encode_cursor(key: &hydracore_core::PageKey) -> String {
    let nanos = key.created_at.unix_timestamp_nanos();
    let nanos = i64::try_from(nanos).unwrap_or(if nanos < 0 { i64::MIN } else { i64::MAX });
    let mut out = String::with_capacity(CURSOR_LEN);
    for b in nanos.to_be_bytes().iter().chain(key.id.as_bytes()) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The length of a cursor.
pub const CURSOR_LEN: usize = 48;

/// Decodes a cursor made by [`encode_cursor`]; `None` for anything else.
pub fn decode_cursor(s: &str) -> Option<hydracore_core::PageKey> {
    // Exactly what `encode_cursor` writes: lowercase hex digits (no sign, no case).
    if s.len() != CURSOR_LEN
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let bytes: Vec<u8> = (0..CURSOR_LEN / 2)
        .map(|i| u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok())
        .collect::<Option<_>>()?;
    let nanos = i64::from_be_bytes(bytes[..8].try_into().ok()?);
    Some(hydracore_core::PageKey {
        created_at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).ok()?,
        id: Uuid::from_slice(&bytes[8..]).ok()?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_fixed_width_utc_with_microseconds() {
        use time::macros::datetime;
        let cases = [
            (
                datetime!(2026-11-28 15:04:19.123456 UTC),
                "2026-11-28T15:04:19.123456Z",
            ),
            (
                datetime!(2026-11-28 17:04:19.1234567 +02:00),
                "2026-11-28T15:04:19.123456Z",
            ),
            (
                datetime!(0001-01-01 00:00:00 UTC),
                "0001-01-01T00:00:00.000000Z",
            ),
            (
                datetime!(9999-12-31 23:59:59.999999 UTC),
                "9999-12-31T23:59:59.999999Z",
            ),
        ];
        for (t, text) in cases {
            assert_eq!(serde_json::to_value(super::Timestamp(t)).unwrap(), text);
        }
        // Every second of a leap day, every microsecond digit position.
        let start = datetime!(2028-02-29 00:00:00 UTC);
        for i in 0..86_400_i64 {
            let t = start
                + time::Duration::seconds(i)
                + time::Duration::microseconds(i * 7 % 1_000_000);
            let ours = serde_json::to_value(super::Timestamp(t)).unwrap();
            let theirs = t
                .format(time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
                ))
                .unwrap();
            assert_eq!(ours, theirs);
        }
    }

    use super::*;
    use hydracore_core::PageKey;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = PageKey {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_764_000_000_123_456_000)
                .unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor(&"zz".repeat(32)), None);
        assert_eq!(decode_cursor(&"é".repeat(32)), None);
        let encoded = encode_cursor(&key);
        assert_eq!(decode_cursor(&encoded.to_uppercase()), None);
        assert_eq!(decode_cursor(&"+0".repeat(24)), None);
        // Every cursor of the right shape is a key.
        assert!(decode_cursor(&"f".repeat(48)).is_some());
        assert!(decode_cursor(&"0".repeat(48)).is_some());
    }
}

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

/// One step of the smoke test.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SmokeStepDto {
    pub step: String,
    pub ok: bool,
    /// Milliseconds the step took.
    pub ms: f64,
}

/// The smoke test's outcome.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SmokeDto {
    pub ok: bool,
    pub total_ms: f64,
    pub steps: Vec<SmokeStepDto>,
}
