//! Who is calling: the credential a route takes, the scope it requires, and how
//! each documents itself (security, 401, 403).

use std::collections::BTreeMap;
use std::future::{Ready, ready};
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use hydracore_audit::Origin;
use hydracore_auth::Principal;

use hydracore_api::Need;
use hydracore_scopes::Scope;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, SecurityScheme};
use paperclip::v2::schema::Apiv2Schema;

use super::insert_error;
use crate::error::ApiError;

/// The name of the API key security scheme in the spec.
pub const API_KEY_SCHEME: &str = "ApiKeyHeader";

fn principal(req: &HttpRequest) -> Result<Principal, ApiError> {
    req.extensions()
        .get::<Principal>()
        .cloned()
        .ok_or(ApiError::Unauthorized("Not authenticated".into()))
}

/// Where the request came from, as the authentication middleware found it.
fn origin(req: &HttpRequest) -> Origin {
    req.extensions()
        .get::<Origin>()
        .cloned()
        .unwrap_or_else(|| crate::client::origin(req))
}

fn document_auth(op: &mut DefaultOperationRaw, scope: Option<String>) {
    insert_error(
        op,
        "429",
        "The API key's rate limit is spent; see Retry-After",
    );
    let scopes: Vec<String> = scope.into_iter().collect();
    op.security
        .push(BTreeMap::from([(API_KEY_SCHEME.to_owned(), scopes)]));
    insert_error(
        op,
        "401",
        "No credential, or an unknown, revoked or expired one",
    );
    insert_error(op, "503", "The database is unreachable");
}

fn document_scheme(map: &mut BTreeMap<String, SecurityScheme>) {
    map.insert(
        API_KEY_SCHEME.to_owned(),
        SecurityScheme {
            name: Some("X-Api-Key".into()),
            type_: "apiKey".into(),
            in_: Some("header".into()),
            description: Some("An API key (hc_live_...)".into()),
            ..Default::default()
        },
    );
}

/// The caller, authenticated by any credential, acting in a tenant and holding scope
/// `S` there.
pub struct Scoped<S: Need> {
    pub principal: Principal,
    pub tenant: hydracore_tenants::TenantId,
    pub origin: Origin,
    _scope: PhantomData<S>,
}

impl<S: Need> Scoped<S> {
    pub fn scope() -> Scope {
        S::SCOPE
    }

    /// The caller, as the operations take it.
    pub fn caller(&self) -> hydracore_api::Caller<'_> {
        hydracore_api::Caller::new(&self.principal, self.tenant, &self.origin)
    }
}

/// The 403 of a user who belongs to no tenant.
pub fn no_tenant() -> ApiError {
    ApiError::Forbidden(
        "No active tenant: switch to one of your tenants (POST /auth/switch-tenant) or create one (POST /v1/tenants)".into(),
    )
}

/// What a route that needs `scope` asks of `p`: a tenant to act in, and the scope
/// there.
///
/// # Errors
/// 403 without an active tenant or without the scope.
pub fn require_scope(
    p: &Principal,
    scope: &Scope,
) -> Result<hydracore_tenants::TenantId, ApiError> {
    let tenant = p.tenant_id.ok_or_else(no_tenant)?;
    p.authorize(scope).map_err(ApiError::from)?;
    Ok(tenant)
}

/// What a route only a person may call asks of `p`: to be a signed-in user.
///
/// # Errors
/// 401 for an API key.
pub fn require_user(p: &Principal) -> Result<hydracore_tenants::UserId, ApiError> {
    p.user_id().ok_or(ApiError::Unauthorized(
        "This route takes a user's access token (Authorization: Bearer <access_token>), not an API key".into()
    ))
}

impl<S: Need> FromRequest for Scoped<S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).and_then(|p| {
            let tenant = require_scope(&p, &Self::scope())?;
            Ok(Scoped {
                principal: p,
                tenant,
                origin: origin(req),
                _scope: PhantomData,
            })
        }))
    }
}

impl<S: Need> Apiv2Schema for Scoped<S> {}

impl<S: Need> OperationModifier for Scoped<S> {
    fn update_security(op: &mut DefaultOperationRaw) {
        document_auth(op, Some(Self::scope().to_string()));
        insert_error(op, "403", "The credential lacks the required scope");
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        document_scheme(map);
    }
}

/// The caller, authenticated by an API key (in `X-Api-Key` or as a bearer token); a
/// user's access token is 401, the credential this route takes being absent.
pub struct KeyAuth {
    pub key: hydracore_keys::ApiKeyId,
    pub name: String,
    pub tenant: hydracore_tenants::TenantId,
    pub principal: Principal,
    pub origin: Origin,
}

impl KeyAuth {
    /// The caller, as the operations take it.
    pub fn caller(&self) -> hydracore_api::Caller<'_> {
        hydracore_api::Caller::new(&self.principal, self.tenant, &self.origin)
    }
}

impl FromRequest for KeyAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).and_then(|p| match (&p.actor, p.tenant_id) {
            (hydracore_auth::Actor::ApiKey { id, name }, Some(tenant)) => Ok(KeyAuth {
                key: *id,
                name: name.clone(),
                tenant,
                principal: p,
                origin: origin(req),
            }),
            _ => Err(ApiError::Unauthorized(
                "This route takes an API key (X-Api-Key: hc_live_...), not a user's access token".into()
            )),
        }))
    }
}

impl Apiv2Schema for KeyAuth {}

/// Marks an operation only an API key may call; the finished spec lists the API key
/// scheme alone for it.
pub const KEY_ONLY_MARKER: &str = "ApiKeyOnly";

impl OperationModifier for KeyAuth {
    fn update_security(op: &mut DefaultOperationRaw) {
        document_auth(op, None);
        op.security
            .push(BTreeMap::from([(KEY_ONLY_MARKER.to_owned(), Vec::new())]));
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        document_scheme(map);
    }
}

/// The name of the bearer scheme in the spec.
pub const BEARER_SCHEME: &str = "BearerAuth";

/// A signed-in user (an access token, not an API key).
pub struct UserAuth {
    pub user: hydracore_tenants::UserId,
    pub principal: Principal,
    pub origin: Origin,
}

impl FromRequest for UserAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).and_then(|p| {
            let user = require_user(&p)?;
            Ok(UserAuth {
                user,
                principal: p,
                origin: origin(req),
            })
        }))
    }
}

impl Apiv2Schema for UserAuth {}

impl OperationModifier for UserAuth {
    fn update_security(op: &mut DefaultOperationRaw) {
        op.security
            .push(BTreeMap::from([(BEARER_SCHEME.to_owned(), Vec::new())]));
        insert_error(
            op,
            "401",
            "No user access token: none, an unknown or expired one, or an API key",
        );
        insert_error(op, "503", "The database is unreachable");
    }
}

/// The caller, authenticated by any live credential; no scope needed.
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).map(Authenticated))
    }
}

impl Apiv2Schema for Authenticated {}

impl OperationModifier for Authenticated {
    fn update_security(op: &mut DefaultOperationRaw) {
        document_auth(op, None);
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        document_scheme(map);
    }
}

/// The name of the ops bearer scheme in the spec.
pub const OPS_SCHEME: &str = "OpsBearer";

/// A request the ops middleware let through (the ops token, nothing else). Fails
/// closed: without the mark [`crate::auth::ops_authenticate`] leaves on a request it
/// verified, extraction is 401, so a route mounted outside `/internal/v1` is shut.
pub struct OpsAuth;

/// Left on a request by the ops middleware once its token is verified.
#[derive(Clone, Copy)]
pub(crate) struct OpsVerified;

impl FromRequest for OpsAuth {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<OpsVerified>()
                .map(|_| OpsAuth)
                .ok_or(ApiError::Unauthorized("Not authenticated".into())),
        )
    }
}

impl Apiv2Schema for OpsAuth {}

impl OperationModifier for OpsAuth {
    fn update_security(op: &mut DefaultOperationRaw) {
        op.security
            .push(BTreeMap::from([(OPS_SCHEME.to_owned(), Vec::new())]));
        insert_error(
            op,
            "401",
            "Anything but the ops bearer token (API keys and user tokens included)",
        );
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn ops_auth_fails_closed_without_the_middleware() {
        let req = TestRequest::default().to_http_request();
        let got = OpsAuth::from_request(&req, &mut Payload::None).into_inner();
        assert!(matches!(got, Err(ApiError::Unauthorized(_))));

        let req = TestRequest::default().to_http_request();
        req.extensions_mut().insert(OpsVerified);
        let got = OpsAuth::from_request(&req, &mut Payload::None).into_inner();
        assert!(got.is_ok());
    }
}
