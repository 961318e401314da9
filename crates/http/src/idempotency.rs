//! `Idempotency-Key` on `POST`: the first response of a request is remembered for 24
//! hours per credential and tenant; a retry with the same key and request replays it
//! (with `Idempotent-Replayed: true`), the same key with another request is 409, and
//! so is a retry while the first is still running. Records live in the database, so
//! every node sees them, and their responses are sealed with the server's keyring (the
//! record's owner and key as associated data): a minted key's plaintext never rests in
//! a table. Only successful responses are remembered: a failed request may be retried
//! with the same key. A request that neither answered nor recorded its outcome (its
//! node died, or its database went away) holds its key for the configured lease at
//! most; then a retry runs.
//!
//! A retry passes the same authorization as a fresh request before anything is
//! replayed: the route's scope (or that it takes a person, not a key) is read from the
//! finished spec, the one place each route declares it.

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use std::future::{Ready, ready};

use actix_web::dev::{Payload, ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
use hydracore_auth::{Actor, Principal};
use hydracore_core::idempotency::{Begin, Claim};
use hydracore_core::seal::Cipher;
use hydracore_scopes::Scope;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DataType, DefaultOperationRaw, Either, Parameter, ParameterIn};
use paperclip::v2::schema::Apiv2Schema;
use ring::digest::{SHA256, digest};
use serde_json::{Value, json};

use crate::error::{ApiError, ErrorItem};
use crate::extract::{BEARER_SCHEME, require_scope, require_user};

/// The request header.
pub const HEADER: &str = "Idempotency-Key";
/// The longest accepted key.
pub const MAX_KEY_LEN: usize = 255;
/// How long a response is remembered.
pub const TTL: time::Duration = time::Duration::hours(24);

/// Declares, by being a handler's argument, that its route honours `Idempotency-Key`:
/// the spec documents the header there and only there (`spec::finish` writes it out),
/// and [`IdempotentRoutes`] reads the routes back from the spec, so the middleware
/// applies to exactly these. Extracting it reads nothing: the middleware has done its
/// work before the handler runs.
pub struct Idempotent;

impl FromRequest for Idempotent {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Idempotent))
    }
}

impl Apiv2Schema for Idempotent {}

impl OperationModifier for Idempotent {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        op.parameters.push(Either::Right(Parameter {
            in_: ParameterIn::Header,
            name: HEADER.into(),
            data_type: Some(DataType::String),
            ..Default::default()
        }));
    }
}

/// Declares, by being a handler's argument, that its route does not honour
/// `Idempotency-Key` (the operation table's `idempotent no`): reads and documents
/// nothing.
pub struct NotIdempotent;

impl FromRequest for NotIdempotent {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(NotIdempotent))
    }
}

impl Apiv2Schema for NotIdempotent {}

impl OperationModifier for NotIdempotent {}

/// Whether an operation of the finished spec declares [`Idempotent`].
pub fn declared(op: &Value) -> bool {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["in"] == "header" && p["name"] == HEADER)
}

/// What a `POST` route asks of its caller, as the spec declares it.
#[derive(Debug, Clone)]
enum Needs {
    /// This scope, in an active tenant.
    Scope(Scope),
    /// Any live credential.
    Credential,
    /// A signed-in person, not an API key.
    User,
}

/// The routes that declare [`Idempotent`] and what each asks of its caller, read from
/// the finished spec (`x-required-scope`, `security`).
#[derive(Clone, Default)]
pub struct IdempotentRoutes(Arc<Vec<(ResourceDef, Needs)>>);

impl IdempotentRoutes {
    pub fn from_spec(spec: &Value) -> Self {
        let mut routes = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let op = &item["post"];
            if !declared(op) {
                continue;
            }
            let user_only = op["security"]
                .as_array()
                .is_some_and(|s| s.len() == 1 && s[0].get(BEARER_SCHEME).is_some());
            let needs = match op["x-required-scope"].as_str() {
                Some(scope) => match hydracore_scopes::ScopeSet::parse(&[scope]) {
                    Ok(set) => match set.iter().next() {
                        Some(s) => Needs::Scope(*s),
                        None => continue,
                    },
                    Err(_) => continue,
                },
                None if user_only => Needs::User,
                None => Needs::Credential,
            };
            routes.push((ResourceDef::new(path.as_str()), needs));
        }
        Self(Arc::new(routes))
    }

    fn needs(&self, path: &str) -> Option<&Needs> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, needs)| needs)
    }
}

/// Whose records these are: the credential, in the tenant it acts on.
fn owner(p: Option<&Principal>) -> String {
    let tenant = p
        .and_then(|p| p.tenant_id)
        .map_or_else(|| "-".to_owned(), |t| t.0.to_string());
    match p.map(|p| &p.actor) {
        Some(Actor::ApiKey { id, .. }) => format!("{tenant}:key:{id}"),
        Some(Actor::User { id, .. }) => format!("{tenant}:user:{}", id.0),
        Some(Actor::OAuth { grant, .. }) => format!("{tenant}:grant:{}", grant.0),
        None => format!("{tenant}:ops"),
    }
}

/// The associated data a record's response is sealed with: the record's identity.
fn aad(owner: &str, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(owner.len() + key.len() + 1);
    out.extend_from_slice(owner.as_bytes());
    out.push(0);
    out.extend_from_slice(key.as_bytes());
    out
}

fn fingerprint(req: &ServiceRequest, body: &[u8]) -> [u8; 32] {
    let mut material = Vec::with_capacity(body.len() + 64);
    for part in [req.method().as_str(), req.path(), req.query_string()] {
        material.extend_from_slice(part.as_bytes());
        material.push(0);
    }
    material.extend_from_slice(body);
    let d = digest(&SHA256, &material);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The checks of a fresh request to this route, passed before any record is looked at.
fn authorize(needs: &Needs, p: Option<&Principal>) -> Result<(), ApiError> {
    let p = p.ok_or(ApiError::Unauthorized("Not authenticated".into()))?;
    match needs {
        Needs::Scope(scope) => require_scope(p, scope).map(|_| ()),
        Needs::User => require_user(p).map(|_| ()),
        Needs::Credential => Ok(()),
    }
}

/// Applies idempotency to `POST`s that carry the header; runs after authentication.
///
/// # Errors
/// 422 for a malformed key; 401 or 403 as the route would answer; 409 for reuse, a
/// request still running, or a response that can no longer be opened; 503 when the
/// records cannot be read.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = match req.headers().get("idempotency-key") {
        Some(v) if req.method() == Method::POST => {
            v.to_str().ok().map(str::to_owned).unwrap_or_default()
        }
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let routes = req
        .app_data::<web::Data<IdempotentRoutes>>()
        .map(|r| r.get_ref().clone())
        .unwrap_or_default();
    let Some(needs) = routes.needs(req.path()).cloned() else {
        // No such route: it answers for itself (404, 405).
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let owner = {
        let extensions = req.extensions();
        let principal = extensions.get::<Principal>();
        authorize(&needs, principal)?;
        owner(principal)
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(ErrorItem::new(
            "string_too_long",
            vec![json!("header"), json!("idempotency-key")],
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            json!(key),
        ))
        .into());
    }
    let state = crate::auth::app_state(&req)?;
    let body =
        match actix_web::rt::time::timeout(state.body_timeout, req.extract::<web::Bytes>()).await {
            Ok(read) => read.map_err(|e| crate::extract::body_error(&e))?,
            Err(_) => return Err(ApiError::BodyTimeout(state.body_timeout.as_millis()).into()),
        };
    let print = fingerprint(&req, &body);
    req.set_payload(Payload::from(body));
    let now = state.clock.now();
    let claim = Claim {
        owner: &owner,
        key: &key,
        fingerprint: &print,
        at: now,
        expires_at: now + TTL,
        stale_before: now - state.idempotency_lease,
    };
    let begun = state
        .idempotency
        .begin(&claim)
        .await
        .map_err(ApiError::from)?;
    match begun {
        Begin::Started => {}
        Begin::Replay { status, body } => {
            let Ok(body) = state.keyring.open(&body, &aad(&owner, &key)) else {
                tracing::warn!("an idempotent response does not open with the keyring");
                return Err(ApiError::Conflict(
                    "The first response to this Idempotency-Key can no longer be replayed; use a new key".into(),
                )
                .into());
            };
            let status = actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::OK);
            let res = HttpResponse::build(status)
                .insert_header((header::CONTENT_TYPE, "application/json"))
                .insert_header(("Idempotent-Replayed", "true"))
                .body(body);
            return Ok(req.into_response(res));
        }
        Begin::InProgress => {
            return Err(ApiError::Conflict(
                "A request with this Idempotency-Key is still being processed; retry later".into(),
            )
            .into());
        }
        Begin::Mismatch => {
            return Err(ApiError::Conflict(
                "This Idempotency-Key was already used with a different request".into(),
            )
            .into());
        }
    }
    let keyring: Arc<Cipher> = state.keyring.clone();
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            let _ = state.idempotency.abandon(&owner, &key, now).await;
            return Err(e);
        }
    };
    let (http_req, res) = res.into_parts();
    let (res, body) = res.into_parts();
    let bytes = to_bytes(body)
        .await
        .map_err(|_| ApiError::Internal("response body".into()))?;
    let status = res.status();
    let sealed = status
        .is_success()
        .then(|| keyring.seal(&bytes, &aad(&owner, &key)));
    let kept = match sealed {
        Some(Ok(sealed)) => {
            state
                .idempotency
                .complete(&owner, &key, now, status.as_u16(), &sealed)
                .await
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "could not seal an idempotent response; not keeping it");
            state.idempotency.abandon(&owner, &key, now).await
        }
        None => state.idempotency.abandon(&owner, &key, now).await,
    };
    if let Err(e) = kept {
        tracing::warn!(error = %e, "could not record an idempotent response");
    }
    let mut res = res.set_body(BoxBody::new(bytes));
    res.headers_mut().insert(
        header::HeaderName::from_static("idempotent-replayed"),
        HeaderValue::from_static("false"),
    );
    Ok(ServiceResponse::new(http_req, res))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_what_they_ask_come_from_the_spec() {
        let routes = IdempotentRoutes::from_spec(&crate::openapi());
        let scope = |path: &str| match routes.needs(path) {
            Some(Needs::Scope(s)) => Some(s.to_string()),
            _ => None,
        };
        assert_eq!(scope("/v1/api-keys").as_deref(), Some("api-keys:write"));
        assert_eq!(
            scope(&format!("/v1/api-keys/{}/rotate", uuid::Uuid::new_v4())).as_deref(),
            Some("api-keys:write")
        );
        assert_eq!(scope("/v1/instances").as_deref(), Some("instances:write"));
        assert!(matches!(routes.needs("/v1/tenants"), Some(Needs::User)));
        assert!(routes.needs("/v1/nothing-here").is_none());
        assert!(routes.needs("/internal/v1/runtime-images").is_none());
    }

    /// The middleware wraps `/v1` and looks at `POST` alone: a declaration anywhere else
    /// would be documented and not honoured.
    #[test]
    fn only_post_routes_under_v1_declare_it() {
        let spec = crate::openapi();
        let mut declaring = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if declared(op) {
                    assert!(
                        method == "post" && path.starts_with("/v1/"),
                        "{method} {path}"
                    );
                    declaring.push(op["operationId"].as_str().unwrap_or_default());
                }
            }
        }
        declaring.sort_unstable();
        assert_eq!(
            declaring,
            [
                "addMember",
                "createApiKey",
                "createInstance",
                "createMcpCredential",
                "createTenant",
                "rotateApiKey",
                "startInstance",
                "stopInstance"
            ]
        );
    }
}
