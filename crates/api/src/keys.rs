//! API keys and their budgets.

use hydracore_core::rules::Rule;
use hydracore_keys::{ApiKey, KeyUsage, RateLimit};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use hydracore_core::{Page, PageRequest};
pub use hydracore_keys::ApiKeyId;
use hydracore_keys::{KeyError, KeyPatch, MintKey, NotRotatable, OwnLimit};

use crate::shapes::{Shapes, body, nested};
use crate::{Caller, FieldRules, Problem, Services, Timestamp, present};

needs! {
    API_KEYS_READ: ApiKeysRead = "api-keys":"read";
    API_KEYS_WRITE: ApiKeysWrite = "api-keys":"write";
}

path_id! {
    ApiKeyId = "The key's id (a UUID).";
}

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[body::<CreateApiKeyRequest>, body::<RateLimitDto>, body::<UpdateApiKeyRequest>, body::<RotateApiKeyRequest>],
    nested: &[nested::<RateLimitDto>],
};

/// A per-key request budget.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitDto {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window, in seconds.
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
    /// How long the old key keeps working, in seconds (default 300).
    pub grace_seconds: Option<u32>,
}

impl FieldRules for RotateApiKeyRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        vec![("grace_seconds", hydracore_keys::ROTATION_GRACE)]
    }
}

impl FieldRules for CreateApiKeyRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        vec![
            ("name", hydracore_keys::KEY_NAME),
            ("scopes", hydracore_keys::KEY_SCOPES),
        ]
    }
}

impl FieldRules for RateLimitDto {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        vec![
            ("requests", RateLimit::REQUESTS),
            ("per_seconds", RateLimit::WINDOW),
        ]
    }
}

impl FieldRules for UpdateApiKeyRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        CreateApiKeyRequest::field_rules()
    }
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

/// The calling API key, as the server sees it.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ApiKeyContextDto {
    pub key_id: Uuid,
    pub name: String,
    pub tenant_id: Uuid,
    pub scopes: Vec<String>,
    pub rate_limit: Option<RateLimitDto>,
}

/// Requests a key made in one UTC hour, by how they were answered.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ApiKeyUsageBucketDto {
    /// The start of the hour.
    pub hour: Timestamp,
    /// Answered 2xx or 3xx.
    pub ok: u64,
    /// Answered 4xx other than 403 and 429.
    pub client_error: u64,
    /// Answered 403: outside the key's scopes or authority.
    pub forbidden: u64,
    /// Answered 429: over the key's rate limit.
    pub rate_limited: u64,
    /// Answered 5xx.
    pub server_error: u64,
}

/// An API key's requests per UTC hour in `[since, until)`; hours without requests are
/// left out.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct ApiKeyUsageDto {
    pub key_id: Uuid,
    pub since: Timestamp,
    pub until: Timestamp,
    /// Oldest first.
    pub buckets: Vec<ApiKeyUsageBucketDto>,
}

impl From<KeyUsage> for ApiKeyUsageDto {
    fn from(u: KeyUsage) -> Self {
        Self {
            key_id: u.key_id.0,
            since: Timestamp(u.since),
            until: Timestamp(u.until),
            buckets: u
                .buckets
                .into_iter()
                .map(|b| ApiKeyUsageBucketDto {
                    hour: Timestamp(b.hour),
                    ok: b.counts.ok,
                    client_error: b.counts.client_error,
                    forbidden: b.counts.forbidden,
                    rate_limited: b.counts.rate_limited,
                    server_error: b.counts.server_error,
                })
                .collect(),
        }
    }
}

/// The hours a usage read covers, `since` and `until` as sent (absent: the defaults).
#[derive(Debug, Clone, Copy, Default)]
pub struct UsageRange {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl UsageRange {
    /// The query parameters' names, for adapters that read them one by one.
    pub const PARAMETERS: [&'static str; 2] = ["since", "until"];

    /// Reads `since` and `until` as sent.
    ///
    /// # Errors
    /// A value that is not an RFC 3339 date-time: an invalid problem naming each
    /// parameter at fault.
    pub fn parse(since: Option<&str>, until: Option<&str>) -> Result<Self, Problem> {
        use ::time::OffsetDateTime;
        use ::time::format_description::well_known::Rfc3339;
        let mut items = Vec::new();
        let mut read = |name: &str, raw: Option<&str>| {
            let raw = raw?;
            match OffsetDateTime::parse(raw, &Rfc3339) {
                Ok(t) => Some(Timestamp(hydracore_core::truncate_to_micros(
                    t.to_offset(::time::UtcOffset::UTC),
                ))),
                Err(_) => {
                    items.push(hydracore_core::ValidationError::new(
                        name,
                        "datetime_parsing",
                        "Input should be a valid datetime: RFC 3339, such as 2026-12-04T10:00:00Z",
                        raw,
                    ));
                    None
                }
            }
        };
        let range = Self {
            since: read("since", since),
            until: read("until", until),
        };
        if items.is_empty() {
            Ok(range)
        } else {
            Err(Problem {
                items,
                ..Problem::new(crate::Outcome::Invalid, "The request breaks a field rule")
            })
        }
    }
}

/// Converts a wire rate limit into the domain's, with its bounds checked.
///
/// # Errors
/// A value out of bounds.
pub fn rate_limit(dto: RateLimitDto) -> Result<RateLimit, hydracore_core::ValidationError> {
    RateLimit::new(dto.requests, dto.per_seconds)
}

impl CreateApiKeyRequest {
    /// The domain's request.
    ///
    /// # Errors
    /// A rate limit out of bounds.
    pub fn into_domain(self) -> Result<MintKey, Problem> {
        Ok(MintKey {
            name: self.name,
            scopes: self.scopes,
            expires_at: self.expires_at.map(|t| t.0),
            rate_limit: self.rate_limit.map(rate_limit).transpose()?,
        })
    }
}

impl UpdateApiKeyRequest {
    /// The domain's patch.
    ///
    /// # Errors
    /// A rate limit out of bounds.
    pub fn into_domain(self) -> Result<KeyPatch, Problem> {
        Ok(KeyPatch {
            name: self.name,
            scopes: self.scopes,
            expires_at: self.expires_at.map(|t| t.map(|t| t.0)),
            rate_limit: match self.rate_limit {
                Some(Some(dto)) => Some(Some(rate_limit(dto)?)),
                Some(None) => Some(None),
                None => None,
            },
        })
    }
}

/// Mints a key; the only answer that carries its plaintext.
///
/// # Errors
/// A field rule; a scope the caller does not hold (forbidden).
pub async fn create_api_key(
    svc: &Services,
    caller: &Caller<'_>,
    req: CreateApiKeyRequest,
) -> Result<CreatedApiKeyDto, Problem> {
    caller.require(&API_KEYS_WRITE)?;
    Ok(svc
        .keys
        .mint(
            caller.tenant,
            caller.grantor(),
            &caller.who(),
            req.into_domain()?,
        )
        .await?
        .into())
}

/// The tenant's live keys, oldest first, never their secrets.
///
/// # Errors
/// Store failures.
pub async fn list_api_keys(
    svc: &Services,
    caller: &Caller<'_>,
    page: PageRequest,
) -> Result<Page<ApiKeyDto>, Problem> {
    caller.require(&API_KEYS_READ)?;
    Ok(svc
        .keys
        .list(caller.tenant, page)
        .await?
        .map(ApiKeyDto::from))
}

/// One of the tenant's keys.
///
/// # Errors
/// Not found.
pub async fn get_api_key(
    svc: &Services,
    caller: &Caller<'_>,
    id: ApiKeyId,
) -> Result<ApiKeyDto, Problem> {
    caller.require(&API_KEYS_READ)?;
    Ok(svc.keys.get(caller.tenant, id).await?.into())
}

/// A key's requests per hour and outcome (by default the last 36 hours).
///
/// # Errors
/// Not found.
pub async fn get_api_key_usage(
    svc: &Services,
    caller: &Caller<'_>,
    id: ApiKeyId,
    range: UsageRange,
) -> Result<ApiKeyUsageDto, Problem> {
    caller.require(&API_KEYS_READ)?;
    Ok(svc
        .keys
        .usage(
            caller.tenant,
            id,
            range.since.map(|t| t.0),
            range.until.map(|t| t.0),
        )
        .await?
        .into())
}

/// The usage of several of the tenant's keys, in one read: one answer per key, in the
/// order given (a list page's sparklines).
///
/// # Errors
/// A bad range, as [`get_api_key_usage`]; store failures.
pub async fn list_api_key_usage(
    svc: &Services,
    caller: &Caller<'_>,
    ids: &[ApiKeyId],
    range: UsageRange,
) -> Result<Vec<ApiKeyUsageDto>, Problem> {
    caller.require(&API_KEYS_READ)?;
    Ok(svc
        .keys
        .usage_of(
            caller.tenant,
            ids,
            range.since.map(|t| t.0),
            range.until.map(|t| t.0),
        )
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// Changes a key the caller could have minted.
///
/// # Errors
/// Not found, a field rule, the authority rules (forbidden).
pub async fn update_api_key(
    svc: &Services,
    caller: &Caller<'_>,
    id: ApiKeyId,
    req: UpdateApiKeyRequest,
) -> Result<ApiKeyDto, Problem> {
    caller.require(&API_KEYS_WRITE)?;
    Ok(svc
        .keys
        .update(
            caller.tenant,
            caller.grantor(),
            &caller.who(),
            id,
            req.into_domain()?,
        )
        .await?
        .into())
}

/// Revokes a key the caller could have minted.
///
/// # Errors
/// Not found, the authority rules (forbidden).
pub async fn revoke_api_key(
    svc: &Services,
    caller: &Caller<'_>,
    id: ApiKeyId,
) -> Result<(), Problem> {
    caller.require(&API_KEYS_WRITE)?;
    Ok(svc
        .keys
        .revoke(caller.tenant, caller.grantor(), &caller.who(), id)
        .await?)
}

/// Replaces a key with a successor; the old one works through the grace period.
///
/// # Errors
/// Not found, a grace out of bounds, the authority rules, a key not rotatable
/// (conflict).
pub async fn rotate_api_key(
    svc: &Services,
    caller: &Caller<'_>,
    id: ApiKeyId,
    req: Option<RotateApiKeyRequest>,
) -> Result<CreatedApiKeyDto, Problem> {
    caller.require(&API_KEYS_WRITE)?;
    let grace = req.and_then(|r| r.grace_seconds);
    Ok(svc
        .keys
        .rotate(caller.tenant, caller.grantor(), &caller.who(), id, grace)
        .await?
        .into())
}

/// The calling key itself.
///
/// # Errors
/// A caller that is not an API key (unauthorized: the operation takes a key).
pub fn api_key_context(caller: &Caller<'_>) -> Result<ApiKeyContextDto, Problem> {
    match &caller.principal.actor {
        hydracore_auth::Actor::ApiKey { id, name } => Ok(ApiKeyContextDto {
            key_id: id.0,
            name: name.clone(),
            tenant_id: caller.tenant.0,
            scopes: caller.principal.scopes.to_strings(),
            rate_limit: caller.principal.rate_limit.map(Into::into),
        }),
        hydracore_auth::Actor::User { .. } | hydracore_auth::Actor::OAuth { .. } => {
            Err(Problem::unauthorized(
                "This route takes an API key (X-Api-Key: hc_live_...), not a user's or an OAuth client's token",
            ))
        }
    }
}

impl From<KeyError> for Problem {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::NotFound => Problem::not_found("API key not found"),
            KeyError::Invalid(v) => Problem::invalid(v),
            KeyError::ScopeNotGranted(scopes) => Problem::forbidden(format!(
                "Cannot grant scopes the caller does not hold: {}",
                scopes.join(", ")
            )),
            KeyError::NotManageable(scopes) => Problem::forbidden(format!(
                "Cannot manage a key holding scopes the caller does not hold: {}",
                scopes.join(", ")
            )),
            KeyError::OwnLimit(OwnLimit::RateLimit) => Problem::forbidden(
                "A key cannot loosen its own rate limit (a larger burst, a faster refill, or the server default in place of its own)",
            ),
            KeyError::OwnLimit(OwnLimit::Expiry) => {
                Problem::forbidden("A key cannot extend or remove its own expiry")
            }
            KeyError::NotRotatable(NotRotatable::Rotated) => {
                Problem::conflict("This key was rotated already: rotate its successor")
            }
            KeyError::NotRotatable(NotRotatable::Expired) => {
                Problem::conflict("This key has expired: mint a new one")
            }
            KeyError::Store(e) => e.into(),
        }
    }
}

/// The API key operations, for each driving adapter to render (see [`crate::operations!`]).
#[macro_export]
#[doc(hidden)]
macro_rules! keys {
    ($then:path) => {
        $then! { keys;
            /// List API keys
            ///
            /// The tenant's keys that are not revoked, oldest first. Secrets are never shown.
            list_api_keys: GET "/api-keys" "listApiKeys" ApiKeys,
                needs $crate::ApiKeysRead, idempotent no, takes [page()],
                answers paged $crate::ApiKeyDto, fails plain,
                tool [api_keys_list "List API keys" "List the tenant's API keys (never their secrets)."];

            /// Create an API key
            ///
            /// Mints a key with the given scopes; the response is the only place the key's
            /// plaintext ever appears. A key can grant only scopes it holds itself (403 otherwise).
            /// With `Idempotency-Key`, a retry replays this response from a sealed record.
            create_api_key: POST "/api-keys" "createApiKey" ApiKeys,
                needs $crate::ApiKeysWrite, idempotent yes,
                takes [body($crate::CreateApiKeyRequest)],
                answers created $crate::CreatedApiKeyDto, fails plain,
                tool [];

            /// Get an API key
            get_api_key: GET "/api-keys/{key_id}" "getApiKey" ApiKeys,
                needs $crate::ApiKeysRead, idempotent no,
                takes [id($crate::ApiKeyId)],
                answers json $crate::ApiKeyDto, fails plain,
                tool [api_keys_get "Get an API key" "Get one API key by id (never its secret)."];

            /// Update an API key
            ///
            /// Renames a key or changes its scopes, expiry or rate limit; `null` clears
            /// `expires_at` or `rate_limit`. The caller must hold every scope the key holds and
            /// every scope it is given (403 otherwise), and a key changing itself may tighten its
            /// rate limit and expiry but never loosen them (403).
            update_api_key: PATCH "/api-keys/{key_id}" "updateApiKey" ApiKeys,
                needs $crate::ApiKeysWrite, idempotent no,
                takes [id($crate::ApiKeyId), body($crate::UpdateApiKeyRequest)],
                answers json $crate::ApiKeyDto, fails plain,
                tool [];

            /// Revoke an API key
            ///
            /// The key stops working at once, on every node, and disappears from reads. The caller
            /// must hold every scope the key holds (403 otherwise).
            revoke_api_key: DELETE "/api-keys/{key_id}" "revokeApiKey" ApiKeys,
                needs $crate::ApiKeysWrite, idempotent no,
                takes [id($crate::ApiKeyId)],
                answers none (), fails plain,
                tool [];

            /// Get an API key's usage
            ///
            /// The key's requests per UTC hour in `[since, until)` (by default the 36 hours up to
            /// the end of this hour), by how they were answered: `ok` (2xx, 3xx), `client_error`
            /// (4xx but 403 and 429), `forbidden` (403), `rate_limited` (429) and `server_error`
            /// (5xx), over HTTP and MCP alike. Hours without requests are left out. Counts are
            /// written in batches (every 10 s by default), so the last seconds may be missing. A
            /// range reaches back at most 90 days before `until` (the answer's `since` says where
            /// it starts), one that holds no instant has no hours, and counts are kept 90 days by
            /// default.
            get_api_key_usage: GET "/api-keys/{key_id}/usage" "getApiKeyUsage" ApiKeys,
                needs $crate::ApiKeysRead, idempotent no,
                takes [id($crate::ApiKeyId), usage()],
                answers json $crate::ApiKeyUsageDto, fails query,
                tool [api_keys_usage "Get an API key's usage" "One API key's requests per UTC hour, by outcome (ok, client_error, forbidden, rate_limited, server_error); since and until (RFC 3339) default to the last 36 hours, at most 90 days apart."];

            /// Rotate an API key
            ///
            /// Mints a successor with the same name, scopes, expiry and rate limit; the response
            /// carries its plaintext once. The old key keeps working for `grace_seconds` (default
            /// 300, at most 604800) so deployments can switch without downtime, then is 401. The
            /// caller must hold every scope of the key (403). A key is rotated once: rotating one
            /// already rotated, or expired, is 409 (rotate its successor instead).
            rotate_api_key: POST "/api-keys/{key_id}/rotate" "rotateApiKey" ApiKeys,
                needs $crate::ApiKeysWrite, idempotent yes,
                takes [id($crate::ApiKeyId), optional_body($crate::RotateApiKeyRequest)],
                answers created $crate::CreatedApiKeyDto, fails conflict,
                tool [];
        }
    };
}
