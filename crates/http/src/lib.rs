//! The actix-web adapter: routes, DTOs, extractors, the one [`error::ApiError`] table
//! of status codes, and the OpenAPI spec emitted through paperclip.
//!
//! Handlers extract, convert, call one service method and convert back: no SQL, no
//! business rules. This crate depends on domain crates only, never on the store, and
//! binds no socket: the server crate does.

pub mod auth;
pub mod client;
mod docs_ui;
pub mod error;
pub mod extract;
pub mod hosts;
pub mod idempotency;
pub mod limits;
pub mod metrics;
pub mod paged;
pub mod reference;
mod routes;
mod rules;
pub mod span;
pub mod spec;
pub mod text;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::web::{Bytes, Data as ActixData, PayloadConfig};
use actix_web::{HttpResponse, http::header};
use hydracore_auth::{Authenticator, OpsToken};
use paperclip::actix::{OpenApiExt, web};

pub use auth::{authenticate, authenticate_mcp};
pub use error::ApiError;

/// Why the service cannot serve requests: which dependency, in words a client is
/// shown, and the cause (logged, never shown).
#[derive(Debug)]
pub struct NotReady {
    pub said: std::borrow::Cow<'static, str>,
    pub cause: Box<dyn std::error::Error + Send + Sync>,
}

/// Whether the service can serve requests (its dependencies answer).
pub trait Readiness: Send + Sync {
    /// # Errors
    /// The first dependency that does not answer.
    fn check(&self) -> futures_util::future::BoxFuture<'_, Result<(), NotReady>>;
}

/// One step of the smoke test.
#[derive(Debug, Clone)]
pub struct SmokeStep {
    pub step: &'static str,
    pub ok: bool,
    pub millis: f64,
}

/// A write/read/delete round trip through every store.
pub trait Smoke: Send + Sync {
    fn run(&self) -> futures_util::future::BoxFuture<'_, Vec<SmokeStep>>;
}

/// What the routes run on: the operations' services, and what only HTTP needs.
#[derive(Clone)]
pub struct AppState {
    /// The services every operation runs on.
    pub api: hydracore_api::Services,
    pub auth: Authenticator,
    pub readiness: Arc<dyn Readiness>,
    pub smoke: Arc<dyn Smoke>,
    /// Remembered responses for `Idempotency-Key`.
    pub idempotency: Arc<dyn hydracore_core::idempotency::IdempotencyStore>,
    /// The server's AEAD keyring: seals remembered responses.
    pub keyring: Arc<hydracore_core::seal::Cipher>,
    /// The clock of idempotency records.
    pub clock: hydracore_core::SharedClock,
    /// How long a request may hold its `Idempotency-Key` without answering.
    pub idempotency_lease: time::Duration,
    /// Per-key budgets.
    pub limiter: Arc<dyn hydracore_keys::RateLimiter>,
    /// The budget of keys that have none of their own.
    pub default_rate_limit: hydracore_keys::RateLimit,
    /// `None`: the internal surface is closed.
    pub ops: Option<Arc<OpsToken>>,
    /// How long a request body may take to arrive before the request is answered 408.
    pub body_timeout: std::time::Duration,
    /// The proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: hydracore_api::TrustedProxies,
}

/// Mounts every documented route.
fn configure_api(cfg: &mut web::ServiceConfig<'_>) {
    cfg.service(
        web::scope("/v1")
            .wrap(from_fn(idempotency::idempotency))
            .wrap(from_fn(auth::authenticate))
            .configure(routes::configure_v1),
    );
    routes::auth::configure(cfg);
    routes::internal::configure(cfg);
    routes::meta::configure_probes(cfg);
}

/// The finished OpenAPI 3 document, built from the routes alone (no database, no
/// socket).
pub fn openapi() -> serde_json::Value {
    let mut captured = serde_json::Value::Null;
    let _app = actix_web::App::new()
        .wrap_api()
        .configure(configure_api)
        .with_raw_json_spec_v3(|app, spec| {
            captured = spec;
            app
        })
        .build();
    spec::finish(captured)
}

/// The spec as served: pretty JSON with sorted keys.
pub fn openapi_json() -> String {
    spec_json(&openapi())
}

/// `spec` as served: pretty JSON with sorted keys.
pub fn spec_json(spec: &serde_json::Value) -> String {
    let mut out = serde_json::to_string_pretty(spec).unwrap_or_default();
    out.push('\n');
    out
}

/// The application: every route, the spec at `/openapi.json`, Swagger UI at `/docs`,
/// ReDoc at `/redoc`,
/// and FastAPI-shaped errors for unknown routes and bad input.
pub fn app(
    state: AppState,
    spec: Bytes,
    metrics: ActixData<metrics::Metrics>,
) -> actix_web::App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let parsed = serde_json::from_slice::<serde_json::Value>(&spec).unwrap_or_default();
    let reference = Bytes::from(reference::render(&parsed));
    let idempotent = ActixData::new(idempotency::IdempotentRoutes::from_spec(&parsed));
    actix_web::App::new()
        .app_data(ActixData::new(state))
        .app_data(idempotent)
        .app_data(metrics)
        .app_data(PayloadConfig::new(extract::MAX_BODY_BYTES))
        .wrap_api()
        .configure(configure_api)
        .build()
        .wrap(from_fn(error::finish_validation))
        .wrap(from_fn(limits::header_limit))
        .route(
            "/openapi.json",
            actix_web::web::get().to(move || {
                let spec = spec.clone();
                async move {
                    HttpResponse::Ok()
                        .insert_header((header::CONTENT_TYPE, "application/json"))
                        .body(spec)
                }
            }),
        )
        .route("/metrics", actix_web::web::get().to(metrics::scrape))
        .configure(routes::oauth::configure)
        .route(
            "/docs/api",
            actix_web::web::get().to(move || {
                let page = reference.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .body(page)
                }
            }),
        )
        .configure(docs_ui::configure)
        .route(
            "/docs",
            actix_web::web::get().to(|| async {
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, "/docs/"))
                    .finish()
            }),
        )
        .service(swagger_ui_dist::generate_scope(
            swagger_ui_dist::ApiDefinition {
                uri_prefix: "/docs",
                api_definition: swagger_ui_dist::OpenApiSource::Uri("/openapi.json"),
                title: Some("HydraCore API"),
            },
        ))
        .default_service(actix_web::web::to(routes::not_found))
}
