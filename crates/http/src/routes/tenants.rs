//! `/v1/tenants` and `/v1/members`: the current tenant, new tenants, and members.

use paperclip::actix::web;
use paperclip::actix::{Apiv2Schema, CreatedJson, NoContent, api_v2_operation, web::Json};
use serde::Deserialize;
use uuid::Uuid;

use hydracore_tenants::UserId;

use crate::error::{AddMemberErrors, ApiError, CreateTenantErrors, Documented, MayConflict};
use crate::extract::{
    ListQuery, MembersRead, MembersWrite, ResourcePath, Scoped, State, TenantsRead, UserAuth,
    ValidJson,
};
use crate::paged::Paged;
use crate::routes::method_not_allowed;
use hydracore_api::{
    AddMemberRequest, CreateTenantRequest, MemberDto, TenantDto, UpdateMemberRequest,
};

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
    let tenant = state.tenants.get(auth.tenant).await?;
    Ok(Json(TenantDto::from(&tenant)))
}

/// Create a tenant
///
/// Creates another tenant owned by the signed-in user. It does not become active:
/// switch to it with `POST /auth/switch-tenant`. A user owns at most 10 tenants by
/// default (403 past it).
#[api_v2_operation(operation_id = "createTenant", tags(Tenants))]
async fn create(
    auth: UserAuth,
    state: State,
    body: ValidJson<CreateTenantRequest>,
) -> Result<CreatedJson<TenantDto>, Documented<CreateTenantErrors>> {
    let tenant = state.members.create_tenant(auth.user, &body.0.name).await?;
    Ok(CreatedJson(TenantDto::from(&tenant)))
}

/// List members
#[api_v2_operation(operation_id = "listMembers", tags(Members))]
async fn list(
    auth: Scoped<MembersRead>,
    state: State,
    query: ListQuery,
) -> Result<Paged<MemberDto>, ApiError> {
    let page = state.members.list(auth.tenant, query.0).await?;
    Ok(Paged::from_page(page, MemberDto::from))
}

/// Add a member
///
/// Adds an existing user (by e-mail) to the tenant. The caller must hold every scope
/// of the role it grants (an admin cannot make owners).
#[api_v2_operation(operation_id = "addMember", tags(Members))]
async fn add(
    auth: Scoped<MembersWrite>,
    state: State,
    body: ValidJson<AddMemberRequest>,
) -> Result<CreatedJson<MemberDto>, Documented<AddMemberErrors>> {
    let b = body.0;
    let member = state
        .members
        .add(auth.tenant, &auth.principal.scopes, &b.email, b.role.into())
        .await?;
    Ok(CreatedJson(member.into()))
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
    let member = state
        .members
        .change_role(
            auth.tenant,
            &auth.principal.scopes,
            UserId(path.0.user_id),
            body.0.role.into(),
        )
        .await?;
    Ok(Json(member.into()))
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
    state
        .members
        .remove(auth.tenant, &auth.principal.scopes, UserId(path.0.user_id))
        .await?;
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
            .route(web::patch().to(update))
            .route(web::delete().to(remove))
            .default_service(method_not_allowed("PATCH, DELETE")),
    );
}
