//! Tenants and their members.

use hydracore_core::rules::Rule;
use hydracore_scopes::Role;
use hydracore_tenants::{Email, TenantName};
use hydracore_tenants::{Member, Tenant};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use hydracore_core::{Page, PageRequest};
pub use hydracore_tenants::UserId;
use hydracore_tenants::{MemberError, TenantError};

use crate::shapes::{Shapes, body, nested};
use crate::{Caller, FieldRules, Problem, Services, Timestamp};

needs! {
    TENANTS_READ: TenantsRead = "tenants":"read";
    MEMBERS_READ: MembersRead = "members":"read";
    MEMBERS_WRITE: MembersWrite = "members":"write";
}

path_id! {
    UserId = "The member's user id (a UUID).";
}

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[body::<CreateTenantRequest>, body::<AddMemberRequest>, body::<UpdateMemberRequest>],
    nested: &[nested::<RoleDto>, nested::<TenantDto>],
};

/// A tenant member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl RoleDto {
    /// Every role, most powerful first.
    pub const ALL: [RoleDto; 4] = [Self::Owner, Self::Admin, Self::Member, Self::Viewer];

    /// The role as the wire writes it.
    pub fn as_str(self) -> &'static str {
        Role::from(self).as_str()
    }
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

/// Creates a tenant owned by the caller.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    #[openapi(example = "Acme Labs")]
    pub name: String,
}

impl FieldRules for CreateTenantRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        vec![("name", TenantName::RULE)]
    }
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

impl FieldRules for AddMemberRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        vec![("email", Email::RULE)]
    }
}

/// Changes a member's role.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: RoleDto,
}

/// The role is an enum: the schema holds it.
impl FieldRules for UpdateMemberRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        Vec::new()
    }
}

/// The tenant the caller acts on.
///
/// # Errors
/// Not found.
pub async fn current_tenant(svc: &Services, caller: &Caller<'_>) -> Result<TenantDto, Problem> {
    caller.require(&TENANTS_READ)?;
    Ok(TenantDto::from(&svc.tenants.get(caller.tenant).await?))
}

/// Another tenant, owned by `user`.
///
/// # Errors
/// A field rule; the most tenants one user may own (forbidden).
pub async fn create_tenant(
    svc: &Services,
    user: &hydracore_auth::Principal,
    origin: &hydracore_audit::Origin,
    req: CreateTenantRequest,
) -> Result<TenantDto, Problem> {
    let owner = user
        .user_id()
        .ok_or_else(|| Problem::unauthorized("Only a signed-in user may create a tenant"))?;
    let who = origin.by(crate::services::actor(user));
    Ok(TenantDto::from(
        &svc.members.create_tenant(owner, &who, &req.name).await?,
    ))
}

/// The tenant's members, oldest first.
///
/// # Errors
/// Store failures.
pub async fn list_members(
    svc: &Services,
    caller: &Caller<'_>,
    page: PageRequest,
) -> Result<Page<MemberDto>, Problem> {
    caller.require(&MEMBERS_READ)?;
    Ok(svc
        .members
        .list(caller.tenant, page)
        .await?
        .map(MemberDto::from))
}

/// Adds an existing user to the tenant.
///
/// # Errors
/// A field rule, no such user, a member already (conflict), a role the caller may not
/// grant (forbidden).
pub async fn add_member(
    svc: &Services,
    caller: &Caller<'_>,
    req: AddMemberRequest,
) -> Result<MemberDto, Problem> {
    caller.require(&MEMBERS_WRITE)?;
    Ok(svc
        .members
        .add(
            caller.tenant,
            &caller.principal.scopes,
            &caller.who(),
            &req.email,
            req.role.into(),
        )
        .await?
        .into())
}

/// One of the tenant's members.
///
/// # Errors
/// Not found.
pub async fn get_member(
    svc: &Services,
    caller: &Caller<'_>,
    user: UserId,
) -> Result<MemberDto, Problem> {
    caller.require(&MEMBERS_READ)?;
    Ok(svc.members.get(caller.tenant, user).await?.into())
}

/// Changes a member's role.
///
/// # Errors
/// Not found, a role the caller may not manage (forbidden), the last owner (conflict).
pub async fn update_member(
    svc: &Services,
    caller: &Caller<'_>,
    user: UserId,
    req: UpdateMemberRequest,
) -> Result<MemberDto, Problem> {
    caller.require(&MEMBERS_WRITE)?;
    Ok(svc
        .members
        .change_role(
            caller.tenant,
            &caller.principal.scopes,
            &caller.who(),
            user,
            req.role.into(),
        )
        .await?
        .into())
}

/// Removes a member.
///
/// # Errors
/// Not found, a role the caller may not manage (forbidden), the last owner (conflict).
pub async fn remove_member(
    svc: &Services,
    caller: &Caller<'_>,
    user: UserId,
) -> Result<(), Problem> {
    caller.require(&MEMBERS_WRITE)?;
    Ok(svc
        .members
        .remove(caller.tenant, &caller.principal.scopes, &caller.who(), user)
        .await?)
}

impl From<TenantError> for Problem {
    fn from(e: TenantError) -> Self {
        match e {
            TenantError::NotFound => Problem::not_found("Tenant not found"),
            TenantError::Invalid(v) => Problem::invalid(v),
            TenantError::Store(e) => e.into(),
        }
    }
}

impl From<MemberError> for Problem {
    fn from(e: MemberError) -> Self {
        match e {
            MemberError::UserNotFound => Problem::not_found("User not found"),
            MemberError::MemberNotFound => Problem::not_found("Member not found"),
            MemberError::AlreadyMember => {
                Problem::conflict("The user is already a member of this tenant")
            }
            MemberError::LastOwner => Problem::conflict("A tenant must keep at least one owner"),
            MemberError::RoleNotGranted(role) => Problem::forbidden(format!(
                "Cannot manage the {role} role without holding every scope it grants"
            )),
            MemberError::TenantLimit(max) => Problem::forbidden(format!(
                "You own {max} tenants, the most one user may own (HYDRACORE_MAX_TENANTS_PER_USER)"
            )),
            MemberError::Invalid(v) => Problem::invalid(v),
            MemberError::Store(e) => e.into(),
        }
    }
}

/// The current tenant's and the member operations, for each driving adapter to render (see
/// [`crate::operations!`]).
#[macro_export]
#[doc(hidden)]
macro_rules! members {
    ($then:path) => {
        $then! { members;
            /// Get the current tenant
            ///
            /// The tenant this credential acts on.
            current_tenant: GET "/tenants/current" "getCurrentTenant" Tenants,
                needs $crate::TenantsRead, idempotent no, takes [],
                answers json $crate::TenantDto, fails plain,
                tool [];

            /// List members
            list_members: GET "/members" "listMembers" Members,
                needs $crate::MembersRead, idempotent no, takes [page()],
                answers paged $crate::MemberDto, fails plain,
                tool [];

            /// Add a member
            ///
            /// Adds an existing user (by e-mail) to the tenant. The caller must hold every scope
            /// of the role it grants (an admin cannot make owners).
            add_member: POST "/members" "addMember" Members,
                needs $crate::MembersWrite, idempotent yes,
                takes [body($crate::AddMemberRequest)],
                answers created $crate::MemberDto, fails AddMemberErrors,
                tool [];

            /// Get a member
            get_member: GET "/members/{user_id}" "getMember" Members,
                needs $crate::MembersRead, idempotent no,
                takes [id($crate::UserId)],
                answers json $crate::MemberDto, fails plain,
                tool [];

            /// Change a member's role
            ///
            /// The caller must hold every scope of both the old and the new role. Demoting the
            /// last owner is 409.
            update_member: PATCH "/members/{user_id}" "updateMember" Members,
                needs $crate::MembersWrite, idempotent no,
                takes [id($crate::UserId), body($crate::UpdateMemberRequest)],
                answers json $crate::MemberDto, fails conflict,
                tool [];

            /// Remove a member
            ///
            /// The caller must hold every scope of the member's role. Removing the last owner is
            /// 409.
            remove_member: DELETE "/members/{user_id}" "removeMember" Members,
                needs $crate::MembersWrite, idempotent no,
                takes [id($crate::UserId)],
                answers none (), fails conflict,
                tool [];
        }
    };
}
