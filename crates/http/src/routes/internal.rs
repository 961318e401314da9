//! `/internal/v1`: the operator's surface, reachable only with the ops bearer token.

use actix_web::middleware::from_fn;
use paperclip::actix::web;
use paperclip::actix::{Apiv2Schema, CreatedJson, api_v2_operation, web::Json};
use serde::Deserialize;
use uuid::Uuid;

use hydracore_api as api;
use hydracore_instances::RuntimeImageId;

use crate::client::RequestOrigin;
use crate::error::{ApiError, Documented, MayConflict, SmokeErrors};
use crate::extract::{AuditLogQuery, ListQuery, OpsAuth, ResourcePath, State, ValidJson};
use crate::paged::Paged;
use crate::routes::method_not_allowed;
use hydracore_api::{
    CreateRuntimeImageRequest, PromoteRequest, RuntimeImageDto, SmokeDto, SmokeStepDto,
};

/// The path of one runtime image.
#[derive(Deserialize, Apiv2Schema)]
pub struct ImagePath {
    /// The image's id (a UUID).
    image_id: Uuid,
}

/// Smoke test
///
/// A write, read and delete round trip through every store (tenants, instances, API
/// keys, sealed credentials, the call log), with the time each step took. 503 when a
/// step fails; nothing is left behind either way.
#[api_v2_operation(operation_id = "smoke", tags(Internal))]
async fn smoke(_ops: OpsAuth, state: State) -> Result<Json<SmokeDto>, Documented<SmokeErrors>> {
    let steps = state.smoke.run().await;
    let ok = steps.iter().all(|s| s.ok);
    let total_ms = steps.iter().map(|s| s.millis).sum();
    let dto = SmokeDto {
        ok,
        total_ms,
        steps: steps
            .into_iter()
            .map(|s| SmokeStepDto {
                step: s.step.to_owned(),
                ok: s.ok,
                ms: s.millis,
            })
            .collect(),
    };
    if ok {
        Ok(Json(dto))
    } else {
        let failed: Vec<String> = dto
            .steps
            .iter()
            .filter(|s| !s.ok)
            .map(|s| s.step.clone())
            .collect();
        Err(ApiError::Unavailable(
            "Service unavailable".into(),
            format!("smoke steps failed: {}", failed.join(", ")).into(),
        )
        .into())
    }
}

/// List runtime images
#[api_v2_operation(operation_id = "listRuntimeImages", tags(Internal))]
async fn list_images(
    _ops: OpsAuth,
    state: State,
    query: ListQuery,
) -> Result<Paged<RuntimeImageDto>, ApiError> {
    Ok(api::list_images(&state.api, query.0).await?.into())
}

/// Register a runtime image
///
/// Name and version are unique together (409); the digest is `sha256:` and 64 hex
/// characters.
#[api_v2_operation(operation_id = "createRuntimeImage", tags(Internal))]
async fn create_image(
    _ops: OpsAuth,
    origin: RequestOrigin,
    state: State,
    body: ValidJson<CreateRuntimeImageRequest>,
) -> Result<CreatedJson<RuntimeImageDto>, MayConflict> {
    Ok(CreatedJson(
        api::create_image(&state.api, &origin.0, body.0).await?,
    ))
}

/// List every audit event
///
/// The audit log across every tenant, with the events that belong to none (runtime
/// images registered and promoted): the operator's view. The same filters as
/// `GET /v1/audit-log`.
#[api_v2_operation(operation_id = "listAllAuditEvents", tags(Internal))]
async fn audit_log(
    _ops: OpsAuth,
    state: State,
    filter: AuditLogQuery,
    query: ListQuery,
) -> Result<Paged<hydracore_api::AuditEventDto>, ApiError> {
    Ok(api::list_all_audit_events(&state.api, &filter.0, query.0)
        .await?
        .into())
}

/// Promote a runtime image
///
/// Points a channel (`stable` or `canary`) at the image. Instances created without a
/// `runtime_image` take the `stable` one.
#[api_v2_operation(operation_id = "promoteRuntimeImage", tags(Internal))]
async fn promote(
    _ops: OpsAuth,
    origin: RequestOrigin,
    state: State,
    path: ResourcePath<ImagePath>,
    body: ValidJson<PromoteRequest>,
) -> Result<Json<RuntimeImageDto>, ApiError> {
    Ok(Json(
        api::promote_image(
            &state.api,
            &origin.0,
            RuntimeImageId(path.0.image_id),
            body.0,
        )
        .await?,
    ))
}

/// Mounts `/internal/v1`.
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::scope("/internal/v1")
            .wrap(from_fn(crate::auth::ops_authenticate))
            .service(
                web::resource("/smoke")
                    .route(web::post().to(smoke))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/runtime-images")
                    .route(web::get().to(list_images))
                    .route(web::post().to(create_image))
                    .default_service(method_not_allowed("GET, POST")),
            )
            .service(
                web::resource("/runtime-images/{image_id}/promote")
                    .route(web::post().to(promote))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/audit-log")
                    .route(web::get().to(audit_log))
                    .default_service(method_not_allowed("GET")),
            ),
    );
}
