//! `/v1/tenants` and `/v1/members`: the current tenant, new tenants, and members.

use paperclip::actix::web;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web::Json};
use serde::Deserialize;
use uuid::Uuid;

use hydracore_api as api;
use hydracore_tenants::UserId;

use crate::error::{AddMemberErrors, ApiError, CreateTenantErrors, Documented, MayConflict};
use crate::extract::{ListQuery, ResourcePath, Scoped, State, UserAuth, ValidJson};
use crate::idempotency::Idempotent;
use crate::paged::Paged;
use crate::routes::method_not_allowed;
use hydracore_api::{
    AddMemberRequest, CreateTenantRequest, MemberDto, TenantDto, UpdateMemberRequest,
};
use hydracore_api::{MembersRead, MembersWrite, TenantsRead};

/// The path of one member.
#[derive(Deserialize, Apiv2Schema)]
pub struct MemberPath {
    /// The member's user id (a UUID).
    user_id: Uuid,
}

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

/// List members
#[api_v2_operation(operation_id = "listMembers", tags(Members))]
async fn list(
    auth: Scoped<MembersRead>,
    state: State,
    query: ListQuery,
) -> Result<Paged<MemberDto>, ApiError> {
    Ok(api::list_members(&state.api, &auth.caller(), query.0)
        .await?
        .into())
}

/// Add a member
///
/// Adds an existing user (by e-mail) to the tenant. The caller must hold every scope
/// of the role it grants (an admin cannot make owners).
#[api_v2_operation(operation_id = "addMember", tags(Members))]
async fn add(
    auth: Scoped<MembersWrite>,
    _: Idempotent,
    state: State,
    body: ValidJson<AddMemberRequest>,
) -> Result<CreatedJson<MemberDto>, Documented<AddMemberErrors>> {
    Ok(CreatedJson(
        api::add_member(&state.api, &auth.caller(), body.0).await?,
    ))
}

/// Get a member
#[api_v2_operation(operation_id = "getMember", tags(Members))]
async fn get(
    auth: Scoped<MembersRead>,
    state: State,
    path: ResourcePath<MemberPath>,
) -> Result<Json<MemberDto>, ApiError> {
    Ok(Json(
        api::get_member(&state.api, &auth.caller(), UserId(path.0.user_id)).await?,
    ))
}

/// Change a member's role
///
/// The caller must hold every scope of both the old and the new role. Demoting the
/// last owner is 409.
#[api_v2_operation(operation_id = "updateMember", tags(Members))]
async fn update(
    auth: Scoped<MembersWrite>,
    state: State,
    path: ResourcePath<MemberPath>,
    body: ValidJson<UpdateMemberRequest>,
) -> Result<Json<MemberDto>, MayConflict> {
    Ok(Json(
        api::update_member(&state.api, &auth.caller(), UserId(path.0.user_id), body.0).await?,
    ))
}

/// Remove a member
///
/// The caller must hold every scope of the member's role. Removing the last owner is
/// 409.
#[api_v2_operation(operation_id = "removeMember", tags(Members))]
async fn remove(
    auth: Scoped<MembersWrite>,
    state: State,
    path: ResourcePath<MemberPath>,
) -> Result<NoContent, MayConflict> {
    api::remove_member(&state.api, &auth.caller(), UserId(path.0.user_id)).await?;
    Ok(NoContent)
}

/// Mounts the tenant and member routes (inside `/v1`).
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
    )
    .service(
        web::resource("/members")
            .route(web::get().to(list))
            .route(web::post().to(add))
            .default_service(method_not_allowed("GET, POST")),
    )
    .service(
        web::resource("/members/{user_id}")
            .route(web::get().to(get))
            .route(web::patch().to(update))
            .route(web::delete().to(remove))
            .default_service(method_not_allowed("GET, PATCH, DELETE")),
    );
}
