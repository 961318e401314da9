//! `/v1/tenants`: the current tenant, and new tenants.

use paperclip::actix::web;
use paperclip::actix::{CreatedJson, api_v2_operation, web::Json};

use hydracore_api as api;

use crate::error::{ApiError, CreateTenantErrors, Documented};
use crate::extract::{Scoped, State, UserAuth, ValidJson};
use crate::idempotency::Idempotent;
use crate::routes::method_not_allowed;
use hydracore_api::TenantsRead;
use hydracore_api::{CreateTenantRequest, TenantDto};

/// Get the current tenant
///
/// The tenant this credential acts on.
#[api_v2_operation(operation_id = "getCurrentTenant", tags(Tenants))]
async fn current(auth: Scoped<TenantsRead>, state: State) -> Result<Json<TenantDto>, ApiError> {
    Ok(Json(api::current_tenant(&state.api, &auth.caller()).await?))
}

/// Create a tenant
///
/// Creates another tenant owned by the signed-in user. It does not become active:
/// switch to it with `POST /auth/switch-tenant`. A user owns at most 10 tenants by
/// default (403 past it).
#[api_v2_operation(operation_id = "createTenant", tags(Tenants))]
async fn create(
    auth: UserAuth,
    _: Idempotent,
    state: State,
    body: ValidJson<CreateTenantRequest>,
) -> Result<CreatedJson<TenantDto>, Documented<CreateTenantErrors>> {
    Ok(CreatedJson(
        api::create_tenant(&state.api, &auth.principal, &auth.origin, body.0).await?,
    ))
}

/// Mounts the tenant routes (inside `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::resource("/tenants/current")
            .route(web::get().to(current))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/tenants")
            .route(web::post().to(create))
            .default_service(method_not_allowed("POST")),
    );
}
