//! The root span of every request: tracing-actix-web's own, with its fields (method,
//! route, client, status, request id), made only when a subscriber records spans of
//! its target at `info`. Its fields are read eagerly (the route takes a second walk of
//! every resource's pattern, the client a parse of the forwarding headers), so with
//! `RUST_LOG=warn` building one nobody records was a tenth of a cheap request's time.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// The target tracing-actix-web's spans are filtered by (`RUST_LOG=tracing_actix_web=…`).
const TARGET: &str = "tracing_actix_web::root_span_builder";

/// The request span, when one is recorded; [`Span::none`] otherwise.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        if tracing::span_enabled!(target: TARGET, tracing::Level::INFO) {
            DefaultRootSpanBuilder::on_request_start(request)
        } else {
            Span::none()
        }
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
