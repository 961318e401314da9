//! `Idempotency-Key` on `POST`: the first response of a request is remembered for 24
//! hours per credential; a retry with the same key and request replays it (with
//! `Idempotent-Replayed: true`), the same key with another request is 409, and so is
//! a retry while the first is still running. Records live in the database, so every
//! node sees them. Only successful responses are remembered: a failed request may be
//! retried with the same key. A request that neither answered nor recorded its outcome
//! (its node died, or its database went away) holds its key for the configured lease
//! at most; then a retry runs.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use hydracore_auth::{Actor, Principal};
use hydracore_core::idempotency::{Begin, Claim};
use ring::digest::{SHA256, digest};
use serde_json::json;

use crate::error::{ApiError, ErrorItem};

/// The longest accepted key.
pub const MAX_KEY_LEN: usize = 255;
/// How long a response is remembered.
pub const TTL: time::Duration = time::Duration::hours(24);

fn owner(req: &ServiceRequest) -> String {
    match req.extensions().get::<Principal>().map(|p| p.actor.clone()) {
        Some(Actor::ApiKey { id, .. }) => format!("key:{id}"),
        Some(Actor::User { id, .. }) => format!("user:{id}"),
        None => "ops".into(),
    }
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

/// Applies idempotency to `POST`s that carry the header; runs after authentication.
///
/// # Errors
/// 422 for a malformed key, 409 for reuse or a request still running, 503 when the
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
    let owner = owner(&req);
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
    let kept = if status.is_success() {
        state
            .idempotency
            .complete(&owner, &key, now, status.as_u16(), &bytes)
            .await
    } else {
        state.idempotency.abandon(&owner, &key, now).await
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
