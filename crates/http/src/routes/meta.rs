//! The scope catalogue, the calling key's context, and the health probes.

use paperclip::actix::web;
use paperclip::actix::{api_v2_operation, web::Json};

use hydracore_api as api;

use crate::error::ApiError;
use crate::extract::{Authenticated, KeyAuth, State};
use crate::routes::method_not_allowed;
use hydracore_api::{ApiKeyContextDto, HealthDto, ScopeDto};

/// List scopes
///
/// The catalogue of scopes a key can hold. `<resource>:*` grants every verb of a
/// resource; no verb implies another.
#[api_v2_operation(operation_id = "listScopes", tags(Scopes))]
async fn scopes(_auth: Authenticated) -> Result<Json<Vec<ScopeDto>>, ApiError> {
    Ok(Json(api::list_scopes()))
}

/// Get the calling key's context
///
/// Which key is calling, its tenant, scopes and rate limit. Any live API key may ask.
#[api_v2_operation(operation_id = "getApiKeyContext", tags(ApiKeys))]
async fn key_context(auth: KeyAuth) -> Result<Json<ApiKeyContextDto>, ApiError> {
    Ok(Json(api::api_key_context(&auth.caller())?))
}

/// Liveness
///
/// 200 while the process is up.
#[api_v2_operation(operation_id = "healthz", tags(Operations))]
async fn healthz() -> Result<Json<HealthDto>, ApiError> {
    Ok(Json(HealthDto {
        status: "ok".into(),
    }))
}

/// Readiness
///
/// 200 while the database and the instance runtime answer; 503 while one does not,
/// its `detail` naming which (`Not ready: the database does not answer`, `Not ready:
/// the instance runtime does not answer`).
#[api_v2_operation(operation_id = "readyz", tags(Operations))]
async fn readyz(state: State) -> Result<Json<HealthDto>, ApiError> {
    state
        .readiness
        .check()
        .await
        .map_err(|n| ApiError::Unavailable(n.said, n.cause))?;
    Ok(Json(HealthDto {
        status: "ok".into(),
    }))
}

/// Mounts `/v1/scopes` and `/v1/mcp/api-key-context` (inside `/v1`).
pub fn configure_v1(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::resource("/scopes")
            .route(web::get().to(scopes))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/mcp/api-key-context")
            .route(web::get().to(key_context))
            .default_service(method_not_allowed("GET")),
    );
}

/// Mounts the probes (outside `/v1`, unauthenticated).
pub fn configure_probes(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(healthz))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(readyz))
            .default_service(method_not_allowed("GET")),
    );
}
