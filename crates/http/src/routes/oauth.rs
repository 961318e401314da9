//! The OAuth protocol endpoints of `/mcp`'s authorization server: the metadata
//! documents (RFC 9728, RFC 8414), dynamic client registration (RFC 7591), the token
//! endpoint (RFC 6749) and revocation (RFC 7009). Their shapes are the RFCs', not the
//! API's (`{"error": …, "error_description": …}`), so they are outside the OpenAPI
//! spec; the authorization endpoint is a console page. Clients in browsers call them
//! too, so they answer any origin (none of them reads a cookie).

use actix_web::http::{StatusCode, header};
use actix_web::web::{self, Bytes, Data, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use hydracore_auth::oauth::{OAuthError, Registration, TokenRequest};
use hydracore_keys::{Budget, RateLimit};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

/// Registrations one address may make per hour.
const REGISTRATIONS_PER_HOUR: u32 = 60;
/// The largest registration, token or revocation request read.
const MAX_BYTES: usize = 16 * 1024;

fn open(mut res: HttpResponseBuilder) -> HttpResponseBuilder {
    res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    res
}

fn document(v: Value) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"));
    res.json(v)
}

/// An RFC 6749 5.2 error.
fn refusal(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    open(HttpResponse::build(status)).json(json!({
        "error": error,
        "error_description": description,
    }))
}

fn oauth_error(e: OAuthError) -> HttpResponse {
    match e {
        OAuthError::Refused { error, description } => {
            refusal(StatusCode::BAD_REQUEST, error, &description)
        }
        OAuthError::Store(e) => {
            let api = ApiError::from(hydracore_api::Problem::from(e));
            actix_web::ResponseError::error_response(&api)
        }
    }
}

async fn protected_resource(state: Data<AppState>) -> HttpResponse {
    document(hydracore_api::protected_resource_metadata(
        state.api.oauth.settings(),
    ))
}

async fn authorization_server(state: Data<AppState>) -> HttpResponse {
    document(hydracore_api::authorization_server_metadata(
        state.api.oauth.settings(),
    ))
}

/// The CORS preflight of every endpoint here.
async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Authorization, Content-Type, MCP-Protocol-Version",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish()
}

#[derive(Deserialize)]
struct RegistrationBody {
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
}

async fn register(req: HttpRequest, state: Data<AppState>, body: Bytes) -> HttpResponse {
    if body.len() > MAX_BYTES {
        return refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_client_metadata",
            "the registration is larger than 16 KiB",
        );
    }
    if let Some(ip) = crate::client::origin(&req).client {
        let d = state
            .limiter
            .check(
                Budget::Registration(ip),
                RateLimit::new(REGISTRATIONS_PER_HOUR, 3600).unwrap_or(state.default_rate_limit),
            )
            .await;
        if !d.allowed {
            return actix_web::ResponseError::error_response(&ApiError::RateLimited(d));
        }
    }
    let parsed: RegistrationBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                &format!("the body is not a JSON client registration: {e}"),
            );
        }
    };
    let registration = Registration {
        client_name: parsed.client_name,
        redirect_uris: parsed.redirect_uris.unwrap_or_default(),
        grant_types: parsed.grant_types,
        response_types: parsed.response_types,
    };
    match state.api.oauth.register(registration).await {
        Ok(c) => open(HttpResponse::Created()).json(json!({
            "client_id": c.id,
            "client_id_issued_at": c.created_at.unix_timestamp(),
            "client_name": c.name,
            "redirect_uris": c.redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })),
        Err(e) => oauth_error(e),
    }
}

/// A form body's fields; a field sent twice is an error (RFC 6749 3.1).
fn form(body: &[u8]) -> Result<std::collections::HashMap<String, String>, Box<HttpResponse>> {
    if body.len() > MAX_BYTES {
        return Err(Box::new(refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the request is larger than 16 KiB",
        )));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
        Box::new(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ))
    })?;
    let mut out = std::collections::HashMap::new();
    for (k, v) in pairs {
        if out.insert(k.clone(), v).is_some() {
            return Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("{k} is sent more than once"),
            )));
        }
    }
    Ok(out)
}

async fn token(state: Data<AppState>, body: Bytes) -> HttpResponse {
    let mut f = match form(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let request = TokenRequest {
        grant_type: f.remove("grant_type"),
        code: f.remove("code"),
        redirect_uri: f.remove("redirect_uri"),
        code_verifier: f.remove("code_verifier"),
        client_id: f.remove("client_id"),
        refresh_token: f.remove("refresh_token"),
        resource: f.remove("resource"),
        scope: f.remove("scope"),
    };
    match state.api.oauth.token(request).await {
        Ok(t) => open(HttpResponse::Ok()).json(json!({
            "access_token": t.access_token,
            "token_type": "Bearer",
            "expires_in": t.expires_in,
            "refresh_token": t.refresh_token,
            "scope": t.scope,
        })),
        Err(e) => oauth_error(e),
    }
}

async fn revoke(state: Data<AppState>, body: Bytes) -> HttpResponse {
    let f = match form(&body) {
        Ok(f) => f,
        Err(res) => return *res,
    };
    let Some(token) = f.get("token") else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    match state
        .api
        .oauth
        .revoke_token(token, f.get("client_id").map(String::as_str))
        .await
    {
        Ok(()) => open(HttpResponse::Ok()).finish(),
        Err(e) => oauth_error(e),
    }
}

pub fn configure(cfg: &mut ServiceConfig) {
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        cfg.service(
            web::resource(path)
                .route(web::get().to(protected_resource))
                .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
        );
    }
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server/mcp",
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration/mcp",
        "/mcp/.well-known/openid-configuration",
    ] {
        cfg.service(
            web::resource(path)
                .route(web::get().to(authorization_server))
                .route(web::method(actix_web::http::Method::OPTIONS).to(preflight)),
        );
    }
    for (path, post) in [
        ("/oauth/token", web::post().to(token)),
        ("/oauth/register", web::post().to(register)),
        ("/oauth/revoke", web::post().to(revoke)),
    ] {
        cfg.service(
            web::resource(path)
                .route(post)
                .route(web::method(actix_web::http::Method::OPTIONS).to(preflight))
                .route(super::method_not_allowed("POST, OPTIONS")),
        );
    }
}
