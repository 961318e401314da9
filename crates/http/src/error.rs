//! The one table of status codes: [`ApiError`], its FastAPI-shaped bodies, and the
//! conversion of every domain error and extractor failure into it.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use hydracore_api::{Outcome, Problem};
use hydracore_auth::{AuthError, IdentityError};
use hydracore_core::{RepoError, ValidationError};
use hydracore_instances::{ImageError, InstanceError};
use hydracore_keys::KeyError;
use hydracore_mcp_creds::CredentialError;
use hydracore_tenants::{MemberError, TenantError};
use paperclip::v2::schema::Apiv2Errors;
use serde::Serialize;
use serde_json::{Value, json};

/// One item of a 422 body: `{"type", "loc", "msg", "input"}`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorItem {
    #[serde(rename = "type")]
    pub kind: String,
    pub loc: Vec<Value>,
    pub msg: String,
    pub input: Value,
}

impl ErrorItem {
    pub fn new(kind: &str, loc: Vec<Value>, msg: impl Into<String>, input: Value) -> Self {
        Self {
            kind: kind.to_owned(),
            loc,
            msg: msg.into(),
            input,
        }
    }

    /// A domain validation failure of a body field.
    pub fn body(v: &ValidationError) -> Self {
        Self::located("body", v)
    }

    /// A domain validation failure located in `part` (`body`, `query`, `path`).
    pub fn located(part: &str, v: &ValidationError) -> Self {
        let mut loc = vec![Value::from(part)];
        loc.extend(v.field.iter().map(|segment| match segment.parse::<u64>() {
            Ok(index) => Value::from(index),
            Err(_) => Value::from(segment.as_str()),
        }));
        Self::new(
            v.kind,
            loc,
            v.message.clone(),
            Value::from(v.input.as_str()),
        )
    }
}

/// The body of every error: `{"detail": ...}`, fields in FastAPI's order.
#[derive(Serialize)]
struct Detail<T> {
    detail: T,
}

/// Every failure a route can answer with. Its `Debug` (which request logs record)
/// names a 422's fields and kinds, never the inputs, which may be secrets.
pub enum ApiError {
    /// 401, with `WWW-Authenticate`.
    Unauthorized(Cow<'static, str>),
    /// 403.
    Forbidden(String),
    /// 404.
    NotFound(Cow<'static, str>),
    /// 409.
    Conflict(String),
    /// 408: the body did not arrive in time (the limit in milliseconds).
    BodyTimeout(u128),
    /// 413: the body is larger than the server takes (the limit is in the message).
    PayloadTooLarge(usize),
    /// 422.
    Validation(Vec<ErrorItem>),
    /// 429: the API key's budget is spent.
    RateLimited(hydracore_keys::Decision),
    /// 429: too many sign-in attempts; retry after this many seconds.
    Throttled(u64),
    /// 503: too much password work is running; retry in a second.
    Busy,
    /// 503: a dependency (the database, the instance runtime) cannot be reached: what
    /// the client is told, and the cause (logged, never shown).
    Unavailable(
        std::borrow::Cow<'static, str>,
        Box<dyn std::error::Error + Send + Sync>,
    ),
    /// 500: logged with its whole source chain, answered with a generic body.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn invalid(item: ErrorItem) -> Self {
        Self::Validation(vec![item])
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Validation(items) => {
                let fields: Vec<String> = items
                    .iter()
                    .map(|i| {
                        let loc: Vec<String> = i
                            .loc
                            .iter()
                            .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_owned))
                            .collect();
                        format!("{} at {}", i.kind, loc.join("."))
                    })
                    .collect();
                f.debug_tuple("Validation").field(&fields).finish()
            }
            ApiError::Unavailable(said, e) => {
                f.debug_tuple("Unavailable").field(said).field(e).finish()
            }
            ApiError::Internal(e) => f.debug_tuple("Internal").field(e).finish(),
            ApiError::RateLimited(d) => f.debug_tuple("RateLimited").field(d).finish(),
            other => write!(f, "{:?}({})", other.status_code(), other),
        }
    }
}

/// The request body as sent, kept by the body extractors so a 422 can quote it.
#[derive(Debug, Clone)]
pub struct SentBody(pub actix_web::web::Bytes);

/// The value at `path` (object keys and array indexes) inside `root`.
fn at<'v>(root: &'v Value, path: &[Value]) -> Option<&'v Value> {
    path.iter().try_fold(root, |node, step| match step {
        Value::String(k) => node.get(k.as_str()),
        Value::Number(n) => n.as_u64().and_then(|i| node.get(usize::try_from(i).ok()?)),
        _ => None,
    })
}

/// Finishes one 422 item: its `input` is the value as the client sent it (for a
/// missing field, the object it is missing from), as FastAPI answers, and a secret's
/// value is masked wherever it appears in the item.
fn finish_item(item: &mut Value, sent: Option<&Value>) {
    let Some(loc) = item.get("loc").and_then(Value::as_array).cloned() else {
        return;
    };
    if let (Some(sent), Some(Value::String(part))) = (sent, loc.first())
        && part == "body"
    {
        let mut path = &loc[1..];
        if item.get("type").and_then(Value::as_str) == Some("missing") {
            path = &path[..path.len().saturating_sub(1)];
        }
        if let Some(value) = at(sent, path) {
            item["input"] = value.clone();
        }
    }
    let secret_field = loc
        .iter()
        .filter_map(Value::as_str)
        .any(hydracore_api::is_secret_field);
    if secret_field {
        item["input"] = Value::from(hydracore_api::MASK);
        if item.get("type").and_then(Value::as_str) == Some("value_error") {
            item["msg"] = Value::from("Value error, the value is not valid");
        }
    } else if let Some(input) = item.get_mut("input") {
        hydracore_api::mask_secrets(input);
    }
}

/// Finishes every 422: inputs quoted as sent, secrets masked (see [`finish_item`]).
/// Other responses pass untouched.
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn finish_validation(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    use actix_web::HttpMessage as _;
    let res = next.call(req).await?;
    if res.status() != StatusCode::UNPROCESSABLE_ENTITY {
        return Ok(res.map_into_boxed_body());
    }
    let sent: Option<Value> = res
        .request()
        .extensions()
        .get::<SentBody>()
        .and_then(|b| serde_json::from_slice(&b.0).ok());
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| ApiError::Internal("error body".into()))?;
    let finished = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut doc) => {
            if let Some(items) = doc.get_mut("detail").and_then(Value::as_array_mut) {
                items.iter_mut().for_each(|i| finish_item(i, sent.as_ref()));
            }
            serde_json::to_vec(&doc).unwrap_or_default()
        }
        Err(_) => bytes.to_vec(),
    };
    let mut head = head.set_body(actix_web::body::BoxBody::new(finished));
    head.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(actix_web::dev::ServiceResponse::new(req, head))
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unauthorized(m) | ApiError::NotFound(m) => f.write_str(m),
            ApiError::Forbidden(m) | ApiError::Conflict(m) => f.write_str(m),
            ApiError::BodyTimeout(ms) => {
                write!(f, "The request body did not arrive within {ms} ms")
            }
            ApiError::PayloadTooLarge(limit) => {
                write!(f, "Request body is larger than the limit of {limit} bytes")
            }
            ApiError::Validation(items) => write!(f, "{} validation error(s)", items.len()),
            ApiError::RateLimited(_) => f.write_str("Rate limit exceeded"),
            ApiError::Throttled(secs) => write!(
                f,
                "Too many sign-in attempts; retry in {secs} second{}",
                if *secs == 1 { "" } else { "s" }
            ),
            ApiError::Busy => {
                f.write_str("The server is checking as many passwords as it can; retry in a moment")
            }
            ApiError::Unavailable(said, _) => f.write_str(said),
            ApiError::Internal(_) => f.write_str("Internal Server Error"),
        }
    }
}

fn source_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited(_) | ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unavailable(..) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        let body = match self {
            ApiError::Validation(items) => return res.json(Detail { detail: items }),
            ApiError::Unauthorized(m) => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"hydracore\""),
                ));
                json!({ "detail": m })
            }
            ApiError::RateLimited(d) => {
                let mut built = res.json(json!({ "detail": "Rate limit exceeded" }));
                rate_limit_headers(built.headers_mut(), d);
                if let Ok(v) = HeaderValue::from_str(&d.retry_after_secs.to_string()) {
                    built.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return built;
            }
            ApiError::Unavailable(said, e) => {
                tracing::error!(error = %source_chain(e.as_ref()), detail = %said, "a dependency is unavailable");
                res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
                json!({ "detail": said })
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %source_chain(e.as_ref()), "request failed");
                json!({ "detail": "Internal Server Error" })
            }
            ApiError::BodyTimeout(_) => {
                res.insert_header((header::CONNECTION, HeaderValue::from_static("close")));
                json!({ "detail": self.to_string() })
            }
            ApiError::Throttled(secs) => {
                if let Ok(v) = HeaderValue::from_str(&secs.max(&1).to_string()) {
                    res.insert_header((header::RETRY_AFTER, v));
                }
                json!({ "detail": self.to_string() })
            }
            ApiError::Busy => {
                res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
                json!({ "detail": self.to_string() })
            }
            other => json!({ "detail": other.to_string() }),
        };
        res.json(body)
    }
}

impl Apiv2Errors for ApiError {}

/// The rate-limit fields of a response: GitHub's `X-RateLimit-*` (reset as UTC epoch
/// seconds) and the IETF draft's `RateLimit-Policy` / `RateLimit`.
pub fn rate_limit_headers(
    headers: &mut actix_web::http::header::HeaderMap,
    d: &hydracore_keys::Decision,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.as_secs());
    let pairs = [
        ("x-ratelimit-limit", d.limit.to_string()),
        ("x-ratelimit-remaining", d.remaining.to_string()),
        ("x-ratelimit-reset", (now + d.reset_secs).to_string()),
        (
            "ratelimit-policy",
            format!("\"key\";q={};w={}", d.limit, d.window_secs),
        ),
        (
            "ratelimit",
            format!("\"key\";r={};t={}", d.remaining, d.reset_secs),
        ),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(actix_web::http::header::HeaderName::from_static(name), v);
        }
    }
}

/// The 422 for a path that did not parse: every path parameter here is a UUID, so
/// each one that is not becomes one `uuid_parsing` item.
pub fn path_error(req: &actix_web::HttpRequest) -> ApiError {
    let items: Vec<ErrorItem> = req
        .match_info()
        .iter()
        .filter_map(|(name, value)| {
            let err = uuid::Uuid::parse_str(value).err()?;
            Some(ErrorItem::new(
                "uuid_parsing",
                vec![json!("path"), json!(name)],
                format!("Input should be a valid UUID, {err}"),
                json!(value),
            ))
        })
        .collect();
    if items.is_empty() {
        ApiError::NotFound("Not Found".into())
    } else {
        ApiError::Validation(items)
    }
}

/// Statuses an operation can answer besides those its extractors document.
pub trait ErrorCodes {
    const CODES: &'static [(&'static str, &'static str)];
}

/// The errors of an operation: the same table as [`ApiError`], and the spec lists the
/// extra statuses `C` names for it.
pub struct Documented<C: ErrorCodes>(pub ApiError, std::marker::PhantomData<C>);

impl<C: ErrorCodes> fmt::Debug for Documented<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<C: ErrorCodes> fmt::Display for Documented<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<C: ErrorCodes> ResponseError for Documented<C> {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.error_response()
    }
}

impl<C: ErrorCodes> Apiv2Errors for Documented<C> {
    /// The operation's own codes. Its 503 says more than the extractors' generic one
    /// (the database) and replaces it; any other code an extractor documented stays.
    fn update_error_definitions(op: &mut paperclip::v2::models::DefaultOperationRaw) {
        for (code, description) in C::CODES {
            let response = paperclip::v2::models::Either::Right(paperclip::v2::models::Response {
                description: Some((*description).to_owned()),
                ..Default::default()
            });
            if *code == "503" {
                op.responses.insert((*code).to_owned(), response);
            } else {
                op.responses.entry((*code).to_owned()).or_insert(response);
            }
        }
    }
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = [$(($code:literal, $description:literal)),* $(,)?];)*) => {
        $(
            $(#[$doc])*
            pub struct $name;
            impl ErrorCodes for $name {
                const CODES: &'static [(&'static str, &'static str)] = &[$(($code, $description)),*];
            }
        )*
    };
}

error_codes! {
    /// A taken name or an illegal state transition.
    Conflict = [("409", "Conflicts with the current state (a taken name, an illegal transition, the last owner)")];
    /// An operation that asks the instance runtime.
    Runtime = [("503", "The database or the instance runtime cannot be reached; nothing was concluded, retry after Retry-After seconds")];
    /// An operation that asks the instance runtime and can conflict.
    RuntimeConflict = [
        ("409", "Conflicts with the current state (a taken name, an illegal transition, the last owner)"),
        ("503", "The database or the instance runtime cannot be reached; nothing was concluded, retry after Retry-After seconds"),
    ];
    /// Signing up.
    SignupErrors = [
        ("403", "Sign-up is disabled on this server"),
        ("409", "An account with this e-mail exists"),
    ];
    /// Logging in.
    LoginErrors = [("401", "Incorrect e-mail or password")];
    /// Refreshing tokens.
    RefreshErrors = [("401", "Unknown, expired, revoked or reused refresh token")];
    /// Switching tenants.
    SwitchErrors = [("404", "The user is not a member of that tenant")];
    /// Creating a tenant.
    CreateTenantErrors = [(
        "403",
        "The user owns as many tenants as one user may (HYDRACORE_MAX_TENANTS_PER_USER)"
    )];
    /// Adding a member.
    AddMemberErrors = [
        ("404", "No user has that e-mail"),
        ("409", "The user is a member already"),
    ];
    /// The smoke test.
    SmokeErrors = [("503", "A step of the round trip failed")];
}

/// The errors of an operation that can also conflict (409).
pub type MayConflict = Documented<Conflict>;

/// The errors of an operation that asks the instance runtime (503 while it is away).
pub type AsksRuntime = Documented<Runtime>;

/// The errors of an operation that asks the instance runtime and can conflict.
pub type AsksRuntimeMayConflict = Documented<RuntimeConflict>;

/// How HTTP answers a failed operation: the one place an outcome becomes a status.
impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        match p.outcome {
            Outcome::Unauthorized => ApiError::Unauthorized(p.detail),
            Outcome::Forbidden => ApiError::Forbidden(p.detail.into_owned()),
            Outcome::NotFound => ApiError::NotFound(p.detail),
            Outcome::Conflict => ApiError::Conflict(p.detail.into_owned()),
            Outcome::Invalid => ApiError::Validation(p.items.iter().map(ErrorItem::body).collect()),
            Outcome::Throttled { retry_after_secs } => ApiError::Throttled(retry_after_secs),
            Outcome::Busy => ApiError::Busy,
            Outcome::Unavailable => {
                let source = p.source.unwrap_or_else(|| p.detail.to_string().into());
                ApiError::Unavailable(p.detail, source)
            }
            Outcome::Internal => {
                ApiError::Internal(p.source.unwrap_or_else(|| p.detail.into_owned().into()))
            }
        }
    }
}

/// Domain errors reach HTTP through the operation layer's table ([`Problem`]).
macro_rules! through_problem {
    ($($error:ty),*) => {
        $(
            impl From<$error> for ApiError {
                fn from(e: $error) -> Self {
                    Problem::from(e).into()
                }
            }
        )*
    };
}
through_problem!(
    RepoError,
    AuthError,
    InstanceError,
    KeyError,
    TenantError,
    CredentialError,
    ImageError,
    MemberError,
    IdentityError
);

macro_rules! documented_from {
    ($($error:ty),*) => {
        $(
            impl<C: ErrorCodes> From<$error> for Documented<C> {
                fn from(e: $error) -> Self {
                    Self(e.into(), std::marker::PhantomData)
                }
            }
        )*
    };
}
documented_from!(
    ApiError,
    Problem,
    InstanceError,
    MemberError,
    IdentityError,
    KeyError,
    TenantError,
    CredentialError,
    ImageError
);
