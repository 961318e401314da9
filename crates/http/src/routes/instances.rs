//! `/v1/instances`: agent instances and their lifecycle.

use paperclip::actix::web;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web::Json};
use serde::Deserialize;
use uuid::Uuid;

use hydracore_api as api;
use hydracore_instances::InstanceId;

use crate::error::{ApiError, AsksRuntime, AsksRuntimeMayConflict, MayConflict};
use crate::extract::{ListQuery, ResourcePath, Scoped, State, TailQuery, ValidJson};
use crate::idempotency::Idempotent;
use crate::paged::Paged;
use crate::routes::method_not_allowed;
use crate::text::PlainText;
use hydracore_api::{CreateInstanceRequest, InstanceDto, UpdateInstanceRequest};
use hydracore_api::{InstancesDelete, InstancesRead, InstancesWrite};

/// The path of one instance.
#[derive(Deserialize, Apiv2Schema)]
pub struct InstancePath {
    /// The instance's id (a UUID).
    instance_id: Uuid,
}

impl InstancePath {
    fn id(&self) -> InstanceId {
        InstanceId(self.instance_id)
    }
}

/// List instances
///
/// The tenant's instances, oldest first, a page at a time.
#[api_v2_operation(operation_id = "listInstances", tags(Instances))]
async fn list(
    auth: Scoped<InstancesRead>,
    state: State,
    query: ListQuery,
) -> Result<Paged<InstanceDto>, ApiError> {
    Ok(api::list_instances(&state.api, &auth.caller(), query.0)
        .await?
        .into())
}

/// Create an instance
///
/// Creates a stopped instance (or a started one, with `start: true`). Without
/// `runtime_image` it runs the image promoted to `stable`, or the server default.
/// With `start: true` the instance is stored `starting` and answered once the runtime
/// has started it; if the request is cut short (a 503), the instance may exist and is
/// brought to `running` (or `failed`) by the server's reconciler within a minute or so.
/// A runtime that refuses (an image it cannot pull) leaves the instance `failed`, with
/// the runtime's words in `status_reason`: still 201.
/// With `start: true` while the instance runtime cannot be reached, 503 with
/// `Retry-After` and nothing is created; if the runtime goes away half-way, the
/// instance is answered `starting` and the reconciler starts it once the runtime is
/// back.
#[api_v2_operation(operation_id = "createInstance", tags(Instances))]
async fn create(
    auth: Scoped<InstancesWrite>,
    _: Idempotent,
    state: State,
    body: ValidJson<CreateInstanceRequest>,
) -> Result<CreatedJson<InstanceDto>, AsksRuntimeMayConflict> {
    Ok(CreatedJson(
        api::create_instance(&state.api, &auth.caller(), body.0).await?,
    ))
}

/// Get an instance
#[api_v2_operation(operation_id = "getInstance", tags(Instances))]
async fn get(
    auth: Scoped<InstancesRead>,
    state: State,
    path: ResourcePath<InstancePath>,
) -> Result<Json<InstanceDto>, ApiError> {
    Ok(Json(
        api::get_instance(&state.api, &auth.caller(), path.0.id()).await?,
    ))
}

/// Update an instance
///
/// Renames, re-images or reconfigures an instance; absent fields are left as they are.
#[api_v2_operation(operation_id = "updateInstance", tags(Instances))]
async fn update(
    auth: Scoped<InstancesWrite>,
    state: State,
    path: ResourcePath<InstancePath>,
    body: ValidJson<UpdateInstanceRequest>,
) -> Result<Json<InstanceDto>, MayConflict> {
    Ok(Json(
        api::update_instance(&state.api, &auth.caller(), path.0.id(), body.0).await?,
    ))
}

/// Delete an instance
///
/// Stops the instance first if it may be running, removes what ran it, then deletes
/// it. While the instance runtime cannot be reached nothing is deleted: 503 with
/// `Retry-After`.
#[api_v2_operation(operation_id = "deleteInstance", tags(Instances))]
async fn delete(
    auth: Scoped<InstancesDelete>,
    state: State,
    path: ResourcePath<InstancePath>,
) -> Result<NoContent, AsksRuntime> {
    api::delete_instance(&state.api, &auth.caller(), path.0.id()).await?;
    Ok(NoContent)
}

/// Start an instance
///
/// Allowed from `stopped` and `failed`; anything else is 409. Answered once the runtime
/// has started it (`running`), or `failed` with its `status_reason` when the runtime
/// refused; while the runtime cannot be reached, 503 with `Retry-After` and the
/// instance is left as it was.
#[api_v2_operation(operation_id = "startInstance", tags(Instances))]
async fn start(
    auth: Scoped<InstancesWrite>,
    _: Idempotent,
    state: State,
    path: ResourcePath<InstancePath>,
) -> Result<Json<InstanceDto>, AsksRuntimeMayConflict> {
    Ok(Json(
        api::start_instance(&state.api, &auth.caller(), path.0.id()).await?,
    ))
}

/// Stop an instance
///
/// Allowed from `running`, `starting` and `failed`; anything else is 409. While the
/// runtime cannot be reached, 503 with `Retry-After` and the instance is left as it was.
#[api_v2_operation(operation_id = "stopInstance", tags(Instances))]
async fn stop(
    auth: Scoped<InstancesWrite>,
    _: Idempotent,
    state: State,
    path: ResourcePath<InstancePath>,
) -> Result<Json<InstanceDto>, AsksRuntimeMayConflict> {
    Ok(Json(
        api::stop_instance(&state.api, &auth.caller(), path.0.id()).await?,
    ))
}

/// Get an instance's log
///
/// The last `tail` lines the instance's agent wrote to its standard output and error,
/// in the order written, as `text/plain` (empty while it never ran, and always with
/// the default runtime, which runs nothing). 503 with `Retry-After` while the instance
/// runtime cannot be reached.
#[api_v2_operation(operation_id = "getInstanceLogs", tags(Instances))]
async fn logs(
    auth: Scoped<InstancesRead>,
    state: State,
    path: ResourcePath<InstancePath>,
    tail: TailQuery,
) -> Result<PlainText, AsksRuntime> {
    Ok(PlainText(
        api::get_instance_logs(&state.api, &auth.caller(), path.0.id(), tail.0).await?,
    ))
}

/// Mounts the instance routes.
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::resource("/instances")
            .route(web::get().to(list))
            .route(web::post().to(create))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/instances/{instance_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(delete))
            .default_service(method_not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/instances/{instance_id}/logs")
            .route(web::get().to(logs))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/instances/{instance_id}/start")
            .route(web::post().to(start))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/instances/{instance_id}/stop")
            .route(web::post().to(stop))
            .default_service(method_not_allowed("POST")),
    );
}
