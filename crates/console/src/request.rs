//! Who is at the browser, and whether a form may change anything: the session cookie,
//! the CSRF token every state change carries, the same-origin check, and the form
//! fields as sent.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{Bytes, Data};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use hydracore_api::{Caller, Problem};
use hydracore_audit::Origin;
use hydracore_auth::{Principal, session_csrf_token};
use hydracore_tenants::{TenantId, UserId};

use crate::ConsoleState;
use crate::view::Refusal;

/// The cookie that names a person's server-side session.
pub const SESSION_COOKIE: &str = "hc_session";
/// The cookie of the sign-in and sign-up forms' CSRF token (before any session).
pub const FORM_COOKIE: &str = "hc_form";
/// The form field (or `X-CSRF-Token` header) carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf_token";
/// The largest form the console reads.
const MAX_FORM_BYTES: usize = 256 * 1024;

pub fn state(req: &HttpRequest) -> Data<ConsoleState> {
    req.app_data::<Data<ConsoleState>>()
        .cloned()
        .expect("the console's state is registered by hydracore_console::configure")
}

/// Where the request came from: its id (as the logs carry it) and the client's address
/// (for the sign-in budgets and the audit log).
pub fn origin(req: &HttpRequest, state: &ConsoleState) -> Origin {
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    Origin {
        request_id: req
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string),
        client: state
            .trusted_proxies
            .client(req.peer_addr().map(|a| a.ip()), &forwarded),
    }
}

/// A cookie of the console: HttpOnly, `SameSite=Lax`, `Secure` when the public URL is
/// https, for the whole site.
pub fn cookie(state: &ConsoleState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.secure_cookies)
        .finish()
}

/// The cookie that ends one: empty, expired.
pub fn removal(state: &ConsoleState, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(state, name, String::new());
    c.make_removal();
    c
}

/// A person signed in to the console: the session's principal, recomputed at every
/// request (so a changed role or a removed membership applies at once), and the CSRF
/// token of the session.
pub struct Signed {
    pub state: Data<ConsoleState>,
    pub principal: Principal,
    pub user: UserId,
    pub email: String,
    pub csrf: String,
    /// Where the request came from.
    pub origin: Origin,
    /// The session cookie's value: only to end the session with.
    secret: String,
}

impl Signed {
    /// Whether the person may do what `need` names, in the active tenant.
    pub fn may(&self, need: &hydracore_scopes::Scope) -> bool {
        self.tenant().is_some() && hydracore_api::holds(&self.principal, need)
    }

    /// The caller of a tenant's operation.
    ///
    /// # Errors
    /// The person belongs to no tenant (any more).
    pub fn caller(&self) -> Result<Caller<'_>, Refusal> {
        let tenant = self.tenant().ok_or(Refusal::NoTenant)?;
        Ok(Caller::new(&self.principal, tenant, &self.origin))
    }

    pub fn tenant(&self) -> Option<TenantId> {
        self.principal.tenant_id
    }

    /// The session cookie's value, to end the session.
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// The path and query of the request, to come back to.
fn here(req: &HttpRequest) -> String {
    match req.uri().path_and_query() {
        Some(pq) if req.method() == actix_web::http::Method::GET => pq.as_str().to_owned(),
        _ => req.path().to_owned(),
    }
}

async fn signed(req: &HttpRequest) -> Result<Signed, Refusal> {
    let state = state(req);
    let sign_in = || Refusal::SignIn { next: here(req) };
    let secret = cookie_value(req, SESSION_COOKIE).ok_or_else(sign_in)?;
    let principal = match state.auth.session(&secret).await {
        Ok(p) => p,
        Err(hydracore_auth::AuthError::Store(e)) => return Err(Problem::from(e).into()),
        Err(_) => return Err(sign_in()),
    };
    let (user, email) = match &principal.actor {
        hydracore_auth::Actor::User { id, email } => (*id, email.clone()),
        hydracore_auth::Actor::ApiKey { .. } | hydracore_auth::Actor::OAuth { .. } => {
            return Err(sign_in());
        }
    };
    Ok(Signed {
        origin: origin(req, &state),
        state,
        csrf: session_csrf_token(&secret),
        principal,
        user,
        email,
        secret,
    })
}

impl FromRequest for Signed {
    type Error = Refusal;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Refusal>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { signed(&req).await })
    }
}

/// A form as sent: its fields in order (a field may repeat, as checkboxes do).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &[u8]) -> Result<Self, Refusal> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(Fields)
            .map_err(|_| Refusal::BadForm)
    }

    /// The field's first value, as sent ("" when absent).
    pub fn text(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The field's first value, trimmed, or `None` when absent or blank.
    pub fn given(&self, name: &str) -> Option<&str> {
        Some(self.text(name).trim()).filter(|v| !v.is_empty())
    }

    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Whether a state-changing request comes from a page of this site: a browser sends
/// `Sec-Fetch-Site` and (on POST) `Origin`; either naming another site refuses it.
fn same_origin(req: &HttpRequest, state: &ConsoleState) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    host.is_some_and(|h| h.eq_ignore_ascii_case(origin_host))
        || origin.trim_end_matches('/') == state.public_url.trim_end_matches('/')
}

/// The token a form (or an htmx request's header) carries.
fn presented_token(req: &HttpRequest, fields: &Fields) -> Option<String> {
    fields.given(CSRF_FIELD).map(str::to_owned).or_else(|| {
        req.headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

/// Compares without stopping at the first difference.
fn equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn body(req: &HttpRequest, payload: &mut Payload) -> Result<Fields, Refusal> {
    let bytes = Bytes::from_request(req, payload)
        .await
        .map_err(|_| Refusal::BadForm)?;
    if bytes.len() > MAX_FORM_BYTES {
        return Err(Refusal::BadForm);
    }
    Fields::parse(&bytes)
}

/// A state change by a signed-in person: same-origin, carrying the session's CSRF
/// token, with the form's fields.
pub struct Action {
    pub signed: Signed,
    pub form: Fields,
}

impl FromRequest for Action {
    type Error = Refusal;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Refusal>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !same_origin(&req, &state(&req)) {
                return Err(Refusal::Csrf);
            }
            let signed = signed(&req).await?;
            let form = body(&req, &mut payload).await?;
            match presented_token(&req, &form) {
                Some(t) if equal(&t, &signed.csrf) => Ok(Action { signed, form }),
                _ => Err(Refusal::Csrf),
            }
        })
    }
}

/// A form posted before any session (sign-in, sign-up): same-origin, and carrying the
/// token its page set in [`FORM_COOKIE`] (a double-submitted cookie).
pub struct PublicForm {
    pub form: Fields,
    pub origin: Origin,
}

impl FromRequest for PublicForm {
    type Error = Refusal;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Refusal>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let state = state(&req);
            if !same_origin(&req, &state) {
                return Err(Refusal::Csrf);
            }
            let form = body(&req, &mut payload).await?;
            let expected = cookie_value(&req, FORM_COOKIE);
            match (presented_token(&req, &form), expected) {
                (Some(t), Some(e)) if equal(&t, &e) => Ok(PublicForm {
                    form,
                    origin: origin(&req, &state),
                }),
                _ => Err(Refusal::Csrf),
            }
        })
    }
}

/// The token of a page's public form: the one its cookie holds already, or a new one.
pub fn form_token(req: &HttpRequest) -> (String, bool) {
    match cookie_value(req, FORM_COOKIE) {
        Some(t) if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) => (t, false),
        _ => (uuid::Uuid::new_v4().simple().to_string(), true),
    }
}

/// Whether htmx made the request (it swaps the answer in place).
pub fn from_htmx(req: &HttpRequest) -> bool {
    req.headers()
        .get("hx-request")
        .is_some_and(|v| v.as_bytes() == b"true")
}
