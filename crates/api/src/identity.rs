//! Users, sign-in and tokens.

use hydracore_auth::{IdentityError, SessionSecret, TokenPair};
use hydracore_core::rules::Rule;
use hydracore_tenants::{Email, TenantName};
use hydracore_tenants::{TenantRole, User};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use hydracore_audit::Origin;

use hydracore_tenants::{TenantId, UserId};

use crate::shapes::{Shapes, body, nested};
use crate::{FieldRules, Outcome, Problem, RoleDto, Services, TenantDto, Timestamp};

/// The request bodies (with their field rules) and the shapes used inside other
/// schemas that this resource adds to the spec's components.
pub(crate) const SHAPES: Shapes = Shapes {
    bodies: &[body::<SignupRequest>, body::<LoginRequest>, body::<RefreshRequest>, body::<SwitchTenantRequest>],
    nested: &[nested::<UserDto>, nested::<MembershipDto>],
};

/// A user.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub created_at: Timestamp,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            email: u.email.as_str().to_owned(),
            created_at: Timestamp(u.created_at),
        }
    }
}

/// Access and refresh tokens.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct TokenDto {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Single use: exchange it at `POST /auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

impl From<TokenPair> for TokenDto {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            refresh_token: p.refresh_token.expose().to_owned(),
            token_type: "bearer".into(),
            expires_in: p.expires_in,
        }
    }
}

/// A new account: the user, the tenant it owns, and tokens.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct SignupDto {
    pub user: UserDto,
    pub tenant: TenantDto,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

/// Signs up.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[openapi(example = "ada@example.com")]
    pub email: String,
    #[openapi(example = "correct horse battery staple")]
    pub password: String,
    /// The first tenant, owned by the new user.
    #[openapi(example = "Acme")]
    pub tenant_name: String,
}

impl FieldRules for SignupRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        vec![
            ("email", Email::RULE),
            ("password", hydracore_auth::PASSWORD),
            ("tenant_name", TenantName::RULE),
        ]
    }
}

/// Signs in.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[openapi(example = "ada@example.com")]
    pub email: String,
    pub password: String,
}

/// A refresh token, to exchange or to revoke.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Switches the active tenant.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SwitchTenantRequest {
    pub tenant_id: Uuid,
}

/// Signing in and exchanging tokens check a credential, not a new value: a wrong
/// one is 401 whatever its shape.
impl FieldRules for LoginRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        Vec::new()
    }
}

impl FieldRules for RefreshRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        Vec::new()
    }
}

impl FieldRules for SwitchTenantRequest {
    fn field_rules() -> Vec<(&'static str, Rule)> {
        Vec::new()
    }
}

/// One of the user's tenants.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MembershipDto {
    pub tenant_id: Uuid,
    pub tenant_name: String,
    pub role: RoleDto,
}

/// The signed-in user, the active tenant and every membership.
#[derive(Debug, Serialize, Apiv2Schema)]
pub struct MeDto {
    pub user: UserDto,
    /// `null` when the user belongs to no tenant.
    pub active_tenant: Option<MembershipDto>,
    pub memberships: Vec<MembershipDto>,
}

impl MeDto {
    pub fn new(user: &User, tenants: Vec<TenantRole>) -> Self {
        let memberships: Vec<MembershipDto> = tenants
            .into_iter()
            .map(|t| MembershipDto {
                tenant_id: t.tenant.id.0,
                tenant_name: t.tenant.name.as_str().to_owned(),
                role: t.role.into(),
            })
            .collect();
        let active_tenant = user.active_tenant_id.and_then(|active| {
            memberships
                .iter()
                .find(|m| m.tenant_id == active.0)
                .map(|m| MembershipDto {
                    tenant_id: m.tenant_id,
                    tenant_name: m.tenant_name.clone(),
                    role: m.role,
                })
        });
        Self {
            user: user.into(),
            active_tenant,
            memberships,
        }
    }
}

/// A new user, owning a new tenant, signed in. `client` is the caller's address.
///
/// # Errors
/// Sign-up closed (forbidden), throttled, a field rule, a taken e-mail (conflict), busy.
pub async fn signup(
    svc: &Services,
    req: SignupRequest,
    origin: &Origin,
) -> Result<SignupDto, Problem> {
    let (user, tenant, pair) = svc
        .identity
        .signup(&req.email, &req.password, &req.tenant_name, origin)
        .await?;
    let tokens = TokenDto::from(pair);
    Ok(SignupDto {
        user: UserDto::from(&user),
        tenant: TenantDto::from(&tenant),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        token_type: tokens.token_type,
        expires_in: tokens.expires_in,
    })
}

/// Signs in.
///
/// # Errors
/// Throttled, wrong e-mail or password (unauthorized), busy.
pub async fn login(
    svc: &Services,
    req: LoginRequest,
    origin: &Origin,
) -> Result<TokenDto, Problem> {
    Ok(svc
        .identity
        .login(&req.email, &req.password, origin)
        .await?
        .into())
}

/// Exchanges a refresh token for a new pair.
///
/// # Errors
/// Throttled; an unknown, expired, revoked or reused token (unauthorized).
pub async fn refresh(
    svc: &Services,
    req: RefreshRequest,
    origin: &Origin,
) -> Result<TokenDto, Problem> {
    Ok(svc
        .identity
        .refresh(&req.refresh_token, origin)
        .await?
        .into())
}

/// Signs in to the console: the checks and budgets of [`login`], answered with a
/// session's secret (for its cookie) instead of tokens.
///
/// # Errors
/// As [`login`].
pub async fn start_session(
    svc: &Services,
    req: LoginRequest,
    origin: &Origin,
) -> Result<SessionSecret, Problem> {
    Ok(svc
        .identity
        .login_session(&req.email, &req.password, origin)
        .await?)
}

/// Signs up in the console: the rules of [`signup`], answered with a session's secret.
///
/// # Errors
/// As [`signup`].
pub async fn sign_up_session(
    svc: &Services,
    req: SignupRequest,
    origin: &Origin,
) -> Result<SessionSecret, Problem> {
    Ok(svc
        .identity
        .signup_session(&req.email, &req.password, &req.tenant_name, origin)
        .await?)
}

/// Ends the console session whose secret is `presented`.
///
/// # Errors
/// Store failures.
pub async fn end_session(svc: &Services, presented: &str, origin: &Origin) -> Result<(), Problem> {
    Ok(svc.identity.end_session(presented, origin).await?)
}

/// Signs out: revokes the refresh token's session.
///
/// # Errors
/// Store failures.
pub async fn logout(svc: &Services, req: RefreshRequest, origin: &Origin) -> Result<(), Problem> {
    Ok(svc.identity.logout(&req.refresh_token, origin).await?)
}

/// Makes one of the user's tenants the active one, and answers who the user is then.
///
/// # Errors
/// A tenant the user does not belong to (not found).
pub async fn switch_tenant(
    svc: &Services,
    user: UserId,
    req: SwitchTenantRequest,
    origin: &Origin,
) -> Result<MeDto, Problem> {
    svc.identity
        .switch_tenant(user, TenantId(req.tenant_id), origin)
        .await?;
    me(svc, user).await
}

/// The user, the active tenant and every membership.
///
/// # Errors
/// A user that is gone (unauthorized).
pub async fn me(svc: &Services, user: UserId) -> Result<MeDto, Problem> {
    let (user, tenants) = svc.identity.me(user).await?;
    Ok(MeDto::new(&user, tenants))
}

impl From<IdentityError> for Problem {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::SignupDisabled => Problem::forbidden("Sign-up is disabled"),
            IdentityError::EmailTaken => {
                Problem::conflict("An account with this email already exists")
            }
            IdentityError::InvalidCredentials => {
                Problem::unauthorized("Incorrect email or password")
            }
            IdentityError::InvalidRefreshToken => {
                Problem::unauthorized("Invalid or expired refresh token")
            }
            IdentityError::TenantNotFound => Problem::not_found("Tenant not found"),
            IdentityError::UserNotFound => Problem::unauthorized("Invalid access token"),
            IdentityError::Throttled { retry_after_secs } => Problem::new(
                Outcome::Throttled { retry_after_secs },
                format!(
                    "Too many sign-in attempts; retry in {retry_after_secs} second{}",
                    if retry_after_secs == 1 { "" } else { "s" }
                ),
            ),
            IdentityError::Busy(_) => Problem::new(
                Outcome::Busy,
                "The server is checking as many passwords as it can; retry in a moment",
            ),
            IdentityError::Invalid(v) => Problem::invalid(v),
            IdentityError::Store(e) => e.into(),
        }
    }
}

/// No operation of this resource is in the table: its routes are sign-up, sign-in and the session's tenant, which take a person rather than a scoped caller (`/auth`),
/// written by hand.
#[macro_export]
#[doc(hidden)]
macro_rules! identity {
    ($then:path) => {
        $then! { identity; }
    };
}
