//! `POST /v1/tenants`: a new tenant, for a signed-in person (outside the operation
//! table, which takes scoped callers).

use paperclip::actix::web;
use paperclip::actix::{CreatedJson, api_v2_operation};

use hydracore_api as api;

use crate::error::{CreateTenantErrors, Documented};
use crate::extract::{State, UserAuth, ValidJson};
use crate::idempotency::Idempotent;
use crate::routes::method_not_allowed;
use hydracore_api::{CreateTenantRequest, TenantDto};

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

/// Mounts the tenant route (inside `/v1`).
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::resource("/tenants")
            .route(web::post().to(create))
            .default_service(method_not_allowed("POST")),
    );
}
