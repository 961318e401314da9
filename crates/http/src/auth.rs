//! Authentication happens once, before any extractor runs: a missing or bad
//! credential is 401 before any 404 or 422. The resolved [`Principal`] goes into the
//! request's extensions, where the extractors read it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use hydracore_auth::AuthError;

use crate::AppState;
use crate::error::ApiError;

/// The application state of a request.
///
/// # Errors
/// An app built without it: a programming error, answered 500.
pub fn app_state(req: &ServiceRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))
}

/// The credential of a request: `X-Api-Key`, or `Authorization: Bearer <key or access
/// token>`.
fn credential(req: &ServiceRequest) -> Option<String> {
    if let Some(v) = req.headers().get("x-api-key") {
        return v.to_str().ok().map(|s| s.trim().to_owned());
    }
    let auth = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// Resolves the request's credential into a principal, or answers 401.
///
/// # Errors
/// 401 for a missing, unknown, revoked or expired credential; 503 when the store
/// cannot be asked.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = app_state(&req)?;
    let principal = match credential(&req) {
        None => return Err(ApiError::from(AuthError::Missing).into()),
        Some(c) if c.is_empty() => return Err(ApiError::from(AuthError::Missing).into()),
        Some(c) if c.starts_with(hydracore_keys::KEY_PREFIX) => {
            state.auth.api_key(&c).await.map_err(ApiError::from)?
        }
        Some(c) => state.auth.access_token(&c).await.map_err(|e| match e {
            AuthError::Invalid => ApiError::Unauthorized("Invalid access token"),
            AuthError::Expired => ApiError::Unauthorized("Access token has expired"),
            other => ApiError::from(other),
        })?,
    };
    let decision = match principal.key_id() {
        Some(key) => {
            let limit = principal.rate_limit.unwrap_or(state.default_rate_limit);
            let d = state.limiter.check(key, limit).await;
            if !d.allowed {
                return Err(ApiError::RateLimited(d).into());
            }
            Some(d)
        }
        None => None,
    };
    req.extensions_mut().insert(principal);
    let mut res = next.call(req).await?;
    if let Some(d) = decision {
        crate::error::rate_limit_headers(res.headers_mut(), &d);
    }
    Ok(res)
}

/// Lets through only `Authorization: Bearer <ops token>`: every other credential, API
/// keys and user tokens of any scope or role included, is 401.
///
/// # Errors
/// 401 for anything but the ops token, or while the surface is closed.
pub async fn ops_authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = app_state(&req)?;
    let Some(ops) = state.ops.as_deref() else {
        return Err(ApiError::Unauthorized(
            "The internal ops surface is closed: HYDRACORE_OPS_TOKEN is not set",
        )
        .into());
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    match presented {
        Some(token) if hydracore_auth::verify_ops_bearer_token(&token, ops) => next.call(req).await,
        _ => Err(ApiError::Unauthorized("Not authenticated").into()),
    }
}
