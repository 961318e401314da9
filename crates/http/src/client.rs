//! Who is calling, by network address: the peer, or, when the peer is a proxy the
//! operator trusts, the address that proxy says it forwarded for (`X-Forwarded-For`,
//! read from the right: the nearest address no trusted proxy owns). Used to throttle
//! sign-in attempts per client.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::DefaultOperationRaw;
use paperclip::v2::schema::Apiv2Schema;

use crate::error::ApiError;

/// Where a request came from, for the audit log: its id (as tracing-actix-web gave it
/// to the logs) and the client's address (through the trusted proxies).
pub fn origin(req: &HttpRequest) -> hydracore_audit::Origin {
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let proxies = req
        .app_data::<actix_web::web::Data<crate::AppState>>()
        .map(|s| s.trusted_proxies.clone())
        .unwrap_or_default();
    hydracore_audit::Origin {
        request_id: req
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string),
        client: proxies.client(req.peer_addr().map(|a| a.ip()), &forwarded),
    }
}

/// Where the request came from (see [`origin`]), for operations that record a change
/// without an authenticated caller (signing up and in) or as the operator.
pub struct RequestOrigin(pub hydracore_audit::Origin);

impl FromRequest for RequestOrigin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(RequestOrigin(
            req.extensions()
                .get::<hydracore_audit::Origin>()
                .cloned()
                .unwrap_or_else(|| origin(req)),
        )))
    }
}

impl Apiv2Schema for RequestOrigin {}
impl OperationModifier for RequestOrigin {}

/// The address a sign-in attempt comes from (see [`TrustedProxies`]); the operation
/// documents that such attempts are throttled.
pub struct SignInClient(pub hydracore_audit::Origin);

impl FromRequest for SignInClient {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(SignInClient(origin(req))))
    }
}

impl Apiv2Schema for SignInClient {}

impl OperationModifier for SignInClient {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        crate::extract::insert_error(
            op,
            "429",
            "Too many sign-in attempts from this address or for this e-mail; see Retry-After",
        );
        crate::extract::insert_error(
            op,
            "503",
            "The database is unreachable, or the server is checking as many passwords as it can; see Retry-After",
        );
    }
}
