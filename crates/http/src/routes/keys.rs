//! `/v1/api-keys`: minting, listing, changing and revoking API keys.

use paperclip::actix::web;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web::Json};
use serde::Deserialize;
use uuid::Uuid;

use hydracore_api as api;
use hydracore_keys::ApiKeyId;

use crate::error::{ApiError, MayConflict};
use crate::extract::{
    ListQuery, OptionalJson, ResourcePath, Scoped, State, UsageQuery, ValidJson, query_problem,
};
use crate::idempotency::Idempotent;
use crate::paged::Paged;
use crate::routes::method_not_allowed;
use hydracore_api::{
    ApiKeyDto, ApiKeyUsageDto, CreateApiKeyRequest, CreatedApiKeyDto, RotateApiKeyRequest,
    UpdateApiKeyRequest,
};
use hydracore_api::{ApiKeysRead, ApiKeysWrite};

/// The path of one API key.
#[derive(Deserialize, Apiv2Schema)]
pub struct KeyPath {
    /// The key's id (a UUID).
    key_id: Uuid,
}

impl KeyPath {
    fn id(&self) -> ApiKeyId {
        ApiKeyId(self.key_id)
    }
}

/// Create an API key
///
/// Mints a key with the given scopes; the response is the only place the key's
/// plaintext ever appears. A key can grant only scopes it holds itself (403 otherwise).
/// With `Idempotency-Key`, a retry replays this response from a sealed record.
#[api_v2_operation(operation_id = "createApiKey", tags(ApiKeys))]
async fn create(
    auth: Scoped<ApiKeysWrite>,
    _: Idempotent,
    state: State,
    body: ValidJson<CreateApiKeyRequest>,
) -> Result<CreatedJson<CreatedApiKeyDto>, ApiError> {
    Ok(CreatedJson(
        api::create_api_key(&state.api, &auth.caller(), body.0).await?,
    ))
}

/// List API keys
///
/// The tenant's keys that are not revoked, oldest first. Secrets are never shown.
#[api_v2_operation(operation_id = "listApiKeys", tags(ApiKeys))]
async fn list(
    auth: Scoped<ApiKeysRead>,
    state: State,
    query: ListQuery,
) -> Result<Paged<ApiKeyDto>, ApiError> {
    Ok(api::list_api_keys(&state.api, &auth.caller(), query.0)
        .await?
        .into())
}

/// Get an API key
#[api_v2_operation(operation_id = "getApiKey", tags(ApiKeys))]
async fn get(
    auth: Scoped<ApiKeysRead>,
    state: State,
    path: ResourcePath<KeyPath>,
) -> Result<Json<ApiKeyDto>, ApiError> {
    Ok(Json(
        api::get_api_key(&state.api, &auth.caller(), path.0.id()).await?,
    ))
}

/// Update an API key
///
/// Renames a key or changes its scopes, expiry or rate limit; `null` clears
/// `expires_at` or `rate_limit`. The caller must hold every scope the key holds and
/// every scope it is given (403 otherwise), and a key changing itself may tighten its
/// rate limit and expiry but never loosen them (403).
#[api_v2_operation(operation_id = "updateApiKey", tags(ApiKeys))]
async fn update(
    auth: Scoped<ApiKeysWrite>,
    state: State,
    path: ResourcePath<KeyPath>,
    body: ValidJson<UpdateApiKeyRequest>,
) -> Result<Json<ApiKeyDto>, ApiError> {
    Ok(Json(
        api::update_api_key(&state.api, &auth.caller(), path.0.id(), body.0).await?,
    ))
}

/// Revoke an API key
///
/// The key stops working at once, on every node, and disappears from reads. The caller
/// must hold every scope the key holds (403 otherwise).
#[api_v2_operation(operation_id = "revokeApiKey", tags(ApiKeys))]
async fn revoke(
    auth: Scoped<ApiKeysWrite>,
    state: State,
    path: ResourcePath<KeyPath>,
) -> Result<NoContent, ApiError> {
    api::revoke_api_key(&state.api, &auth.caller(), path.0.id()).await?;
    Ok(NoContent)
}

/// Rotate an API key
///
/// Mints a successor with the same name, scopes, expiry and rate limit; the response
/// carries its plaintext once. The old key keeps working for `grace_seconds` (default
/// 300, at most 604800) so deployments can switch without downtime, then is 401. The
/// caller must hold every scope of the key (403). A key is rotated once: rotating one
/// already rotated, or expired, is 409 (rotate its successor instead).
#[api_v2_operation(operation_id = "rotateApiKey", tags(ApiKeys))]
async fn rotate(
    auth: Scoped<ApiKeysWrite>,
    _: Idempotent,
    state: State,
    path: ResourcePath<KeyPath>,
    body: OptionalJson<RotateApiKeyRequest>,
) -> Result<CreatedJson<CreatedApiKeyDto>, MayConflict> {
    Ok(CreatedJson(
        api::rotate_api_key(&state.api, &auth.caller(), path.0.id(), body.0).await?,
    ))
}

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
#[api_v2_operation(operation_id = "getApiKeyUsage", tags(ApiKeys))]
async fn usage(
    auth: Scoped<ApiKeysRead>,
    state: State,
    path: ResourcePath<KeyPath>,
    query: UsageQuery,
) -> Result<Json<ApiKeyUsageDto>, ApiError> {
    Ok(Json(
        api::get_api_key_usage(&state.api, &auth.caller(), path.0.id(), query.0)
            .await
            .map_err(query_problem)?,
    ))
}

/// Mounts the API key routes.
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::resource("/api-keys")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api-keys/{key_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(revoke))
            .default_service(method_not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api-keys/{key_id}/usage")
            .route(web::get().to(usage))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/api-keys/{key_id}/rotate")
            .route(web::post().to(rotate))
            .default_service(method_not_allowed("POST")),
    );
}
