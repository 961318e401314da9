//! Authentication happens once, before any extractor runs: a missing or bad
//! credential is 401 before any 404 or 422. The resolved [`Principal`] goes into the
//! request's extensions, where the extractors read it.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use hydracore_auth::{AuthError, Principal, oauth};
use hydracore_keys::{Budget, UsageOutcome};

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

/// Which header carried the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carrier {
    /// `X-Api-Key`: API keys only.
    ApiKeyHeader,
    /// `Authorization: Bearer`: an API key or a user's access token.
    Bearer,
}

/// The one credential of a request: `X-Api-Key`, or `Authorization: Bearer <key or
/// access token>`. Both may be sent only when they are the same key.
///
/// # Errors
/// 401 when the two headers name different credentials: the server never picks one.
fn credential(req: &ServiceRequest) -> Result<Option<(String, Carrier)>, ApiError> {
    let header_key = req
        .headers()
        .get("x-api-key")
        .map(|v| v.to_str().map(|s| s.trim().to_owned()).unwrap_or_default());
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    Ok(match (header_key, bearer) {
        (Some(key), Some(token)) if key != token => {
            return Err(ApiError::Unauthorized(
                "Send one credential: X-Api-Key and Authorization name different ones".into(),
            ));
        }
        (Some(key), _) => Some((key, Carrier::ApiKeyHeader)),
        (None, Some(token)) => Some((token, Carrier::Bearer)),
        (None, None) => None,
    })
}

/// Where a credential is presented: OAuth access tokens are good at `/mcp` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    Api,
    Mcp,
}

/// The principal of the request's credential.
async fn resolve(
    req: &ServiceRequest,
    state: &AppState,
    surface: Surface,
) -> Result<Principal, ApiError> {
    Ok(match credential(req)? {
        None => return Err(ApiError::from(AuthError::Missing)),
        Some((c, _)) if c.is_empty() => return Err(ApiError::from(AuthError::Missing)),
        Some((c, _)) if c.starts_with(hydracore_keys::KEY_PREFIX) => {
            state.auth.api_key(&c).await.map_err(ApiError::from)?
        }
        // `X-Api-Key` carries API keys only: anything else there is no key.
        Some((_, Carrier::ApiKeyHeader)) => return Err(ApiError::from(AuthError::Invalid)),
        Some((c, Carrier::Bearer)) if c.starts_with(oauth::ACCESS_PREFIX) => match surface {
            Surface::Mcp => state.api.oauth.principal(&c).await.map_err(|e| match e {
                AuthError::Invalid => {
                    ApiError::Unauthorized("Invalid or revoked access token".into())
                }
                AuthError::Expired => ApiError::Unauthorized("Access token has expired".into()),
                other => ApiError::from(other),
            })?,
            Surface::Api => {
                return Err(ApiError::Unauthorized(
                    "OAuth access tokens are good at the MCP endpoint (/mcp) only: use an API key or a user's access token here".into(),
                ));
            }
        },
        Some((c, Carrier::Bearer)) => state.auth.access_token(&c).await.map_err(|e| match e {
            AuthError::Invalid => ApiError::Unauthorized("Invalid access token".into()),
            AuthError::Expired => ApiError::Unauthorized("Access token has expired".into()),
            other => ApiError::from(other),
        })?,
    })
}

/// Resolves the request's credential into a principal, or answers 401.
///
/// # Errors
/// 401 for a missing, unknown, revoked or expired credential, or two different ones;
/// 503 when the store cannot be asked.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = app_state(&req)?;
    let principal = resolve(&req, &state, Surface::Api).await?;
    proceed(req, next, &state, principal).await
}

/// [`authenticate`] for `/mcp`, which also takes OAuth access tokens: a 401 says where
/// to sign in (`WWW-Authenticate: Bearer resource_metadata="…", scope="…"`, RFC 9728),
/// so a client with no credential can discover the authorization server.
///
/// # Errors
/// As [`authenticate`].
pub async fn authenticate_mcp<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let state = app_state(&req)?;
    match resolve(&req, &state, Surface::Mcp).await {
        Ok(principal) => Ok(proceed(req, next, &state, principal)
            .await?
            .map_into_left_body()),
        Err(e) => {
            let invalid = !matches!(credential(&req), Ok(None));
            let mut res = actix_web::ResponseError::error_response(&e);
            if res.status() == StatusCode::UNAUTHORIZED {
                let settings = state.api.oauth.settings();
                let mut value = format!(
                    "Bearer resource_metadata=\"{}\", scope=\"{}\"",
                    hydracore_api::resource_metadata_url(settings),
                    hydracore_api::challenge_scopes()
                );
                if invalid {
                    value.push_str(", error=\"invalid_token\"");
                }
                if let Ok(v) = header::HeaderValue::from_str(&value) {
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Ok(req.into_response(res).map_into_right_body())
        }
    }
}

/// Spends the caller's budget, runs the request, and counts it for a key's usage.
async fn proceed<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
    state: &AppState,
    principal: Principal,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    // The key and its tenant, to count the request under when it is answered.
    let counted = principal.key_id().zip(principal.tenant_id);
    let budget = match (principal.key_id(), principal.grant_id()) {
        (Some(key), _) => Some(Budget::Key(key)),
        (None, Some(grant)) => Some(Budget::Grant(grant.0)),
        (None, None) => None,
    };
    let decision = match budget {
        Some(budget) => {
            let limit = principal.rate_limit.unwrap_or(state.default_rate_limit);
            let d = state.limiter.check(budget, limit).await;
            if !d.allowed {
                if let Some((key, tenant)) = counted {
                    state
                        .api
                        .keys
                        .count_request(key, tenant, UsageOutcome::RateLimited);
                }
                return Err(ApiError::RateLimited(d).into());
            }
            Some(d)
        }
        None => None,
    };
    let origin = crate::client::origin(req.request());
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(origin);
    let res = next.call(req).await;
    if let Some((key, tenant)) = counted {
        let status = match &res {
            Ok(res) => res.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        state
            .api
            .keys
            .count_request(key, tenant, usage_outcome(status));
    }
    let mut res = res?;
    if let Some(d) = decision {
        crate::error::rate_limit_headers(res.headers_mut(), &d);
    }
    Ok(res)
}

/// How a key's usage counts a request answered `status`.
fn usage_outcome(status: StatusCode) -> UsageOutcome {
    match status.as_u16() {
        403 => UsageOutcome::Forbidden,
        429 => UsageOutcome::RateLimited,
        400..=499 => UsageOutcome::ClientError,
        500.. => UsageOutcome::ServerError,
        _ => UsageOutcome::Ok,
    }
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
            "The internal ops surface is closed: HYDRACORE_OPS_TOKEN is not set".into(),
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
        Some(token) if hydracore_auth::verify_ops_bearer_token(&token, ops) => {
            req.extensions_mut().insert(crate::extract::OpsVerified);
            next.call(req).await
        }
        _ => Err(ApiError::Unauthorized("Not authenticated".into()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_in_the_documented_outcomes() {
        for (status, outcome) in [
            (200, UsageOutcome::Ok),
            (201, UsageOutcome::Ok),
            (204, UsageOutcome::Ok),
            (303, UsageOutcome::Ok),
            (400, UsageOutcome::ClientError),
            (404, UsageOutcome::ClientError),
            (409, UsageOutcome::ClientError),
            (422, UsageOutcome::ClientError),
            (403, UsageOutcome::Forbidden),
            (429, UsageOutcome::RateLimited),
            (500, UsageOutcome::ServerError),
            (503, UsageOutcome::ServerError),
        ] {
            assert_eq!(
                usage_outcome(StatusCode::from_u16(status).unwrap()),
                outcome,
                "{status}"
            );
        }
    }
}
