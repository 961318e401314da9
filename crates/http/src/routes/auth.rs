//! `/auth`: sign-up, sign-in, token refresh and sign-out, the active tenant.

use actix_web::middleware::from_fn;
use paperclip::actix::web;
use paperclip::actix::{CreatedJson, NoContent, api_v2_operation, web::Json};

use hydracore_api as api;

use crate::client::RequestOrigin;
use crate::client::SignInClient;
use crate::error::{ApiError, Documented, LoginErrors, RefreshErrors, SignupErrors, SwitchErrors};
use crate::extract::{State, UserAuth, ValidJson};
use crate::routes::method_not_allowed;
use hydracore_api::{
    LoginRequest, MeDto, RefreshRequest, SignupDto, SignupRequest, SwitchTenantRequest, TokenDto,
};

/// Sign up
///
/// Creates a user, a tenant the user owns, and a signed-in session. Can be turned off
/// by the operator (403). Attempts are throttled per e-mail and per client address
/// (429 with `Retry-After`).
#[api_v2_operation(operation_id = "signup", tags(Auth))]
async fn signup(
    client: SignInClient,
    state: State,
    body: ValidJson<SignupRequest>,
) -> Result<CreatedJson<SignupDto>, Documented<SignupErrors>> {
    Ok(CreatedJson(
        api::signup(&state.api, body.0, &client.0).await?,
    ))
}

/// Log in
///
/// Exchanges an e-mail and password for an access token (15 minutes by default) and
/// a refresh token. A wrong password and an unknown e-mail fail alike (401). Attempts
/// are throttled per e-mail and per client address (429 with `Retry-After`).
#[api_v2_operation(operation_id = "login", tags(Auth))]
async fn login(
    client: SignInClient,
    state: State,
    body: ValidJson<LoginRequest>,
) -> Result<Json<TokenDto>, Documented<LoginErrors>> {
    Ok(Json(api::login(&state.api, body.0, &client.0).await?))
}

/// Refresh tokens
///
/// Exchanges a refresh token for a new pair. Each refresh token works once; using one
/// again revokes every token of its session (401). Attempts are throttled per client
/// address (429 with `Retry-After`).
#[api_v2_operation(operation_id = "refreshTokens", tags(Auth))]
async fn refresh(
    client: SignInClient,
    state: State,
    body: ValidJson<RefreshRequest>,
) -> Result<Json<TokenDto>, Documented<RefreshErrors>> {
    Ok(Json(api::refresh(&state.api, body.0, &client.0).await?))
}

/// Log out
///
/// Revokes the refresh token's whole session. Unknown tokens are accepted silently.
#[api_v2_operation(operation_id = "logout", tags(Auth))]
async fn logout(
    state: State,
    origin: RequestOrigin,
    body: ValidJson<RefreshRequest>,
) -> Result<NoContent, ApiError> {
    api::logout(&state.api, body.0, &origin.0).await?;
    Ok(NoContent)
}

/// Switch the active tenant
///
/// Makes one of the user's tenants the one every request acts on. A tenant the user
/// does not belong to is 404.
#[api_v2_operation(operation_id = "switchTenant", tags(Auth))]
async fn switch_tenant(
    auth: UserAuth,
    state: State,
    body: ValidJson<SwitchTenantRequest>,
) -> Result<Json<MeDto>, Documented<SwitchErrors>> {
    Ok(Json(
        api::switch_tenant(&state.api, auth.user, body.0, &auth.origin).await?,
    ))
}

/// Who am I
///
/// The signed-in user, the active tenant and every membership with its role.
#[api_v2_operation(operation_id = "me", tags(Auth))]
async fn me(auth: UserAuth, state: State) -> Result<Json<MeDto>, ApiError> {
    Ok(Json(api::me(&state.api, auth.user).await?))
}

/// Mounts `/auth`.
pub fn configure(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::scope("/auth")
            .service(
                web::resource("/signup")
                    .route(web::post().to(signup))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/login")
                    .route(web::post().to(login))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/refresh")
                    .route(web::post().to(refresh))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/logout")
                    .route(web::post().to(logout))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/switch-tenant")
                    .wrap(from_fn(crate::auth::authenticate))
                    .route(web::post().to(switch_tenant))
                    .default_service(method_not_allowed("POST")),
            )
            .service(
                web::resource("/me")
                    .wrap(from_fn(crate::auth::authenticate))
                    .route(web::get().to(me))
                    .default_service(method_not_allowed("GET")),
            ),
    );
}
