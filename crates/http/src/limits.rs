//! Limits on what a request may carry, checked before anything else runs.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// The most a request's header fields may take, names and values together.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// 431 when the header fields exceed [`MAX_HEADER_BYTES`].
#[derive(Debug)]
struct HeadersTooLarge;

impl std::fmt::Display for HeadersTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Request headers are larger than the limit of {MAX_HEADER_BYTES} bytes"
        )
    }
}

impl ResponseError for HeadersTooLarge {
    fn status_code(&self) -> StatusCode {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .insert_header((actix_web::http::header::CONNECTION, "close"))
            .json(json!({ "detail": self.to_string() }))
    }
}

/// Refuses requests whose header fields are too large.
pub async fn header_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let size: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > MAX_HEADER_BYTES {
        return Err(HeadersTooLarge.into());
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}
