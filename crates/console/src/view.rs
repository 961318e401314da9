//! How pages are answered: the chrome every signed-in page shares, the security headers
//! every response carries, problems rendered as pages or as messages beside the fields
//! at fault, and times as people read them.

use std::collections::BTreeMap;
use std::fmt;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use askama::Template;
use hydracore_api::{Outcome, Problem, Services};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::assets;
use crate::request::Signed;

/// The policy of every console response: nothing but this origin, no inline script or
/// style, no framing, forms post only here.
pub const CSP: &str = "default-src 'self'; base-uri 'none'; form-action 'self'; \
                       frame-ancestors 'none'; object-src 'none'";

/// The headers every console response carries. Pages may hold a key shown once, so
/// nothing is stored by the browser or any cache on the way.
pub fn secured(mut res: HttpResponseBuilder) -> HttpResponseBuilder {
    res.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    res
}

/// A rendered page with `status`.
pub fn page(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => secured(HttpResponse::build(status))
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            secured(HttpResponse::InternalServerError())
                .content_type("text/plain; charset=utf-8")
                .body("Internal Server Error")
        }
    }
}

pub fn ok(template: &impl Template) -> HttpResponse {
    page(StatusCode::OK, template)
}

/// Sends the browser on to `to` after a change: `303 See Other`, or for htmx an
/// `HX-Location` it follows without reloading the page.
pub fn see_other(req: &actix_web::HttpRequest, to: &str) -> HttpResponse {
    if crate::request::from_htmx(req) {
        secured(HttpResponse::Ok())
            .insert_header(("HX-Location", to))
            .finish()
    } else {
        secured(HttpResponse::SeeOther())
            .insert_header((header::LOCATION, to))
            .finish()
    }
}

/// Sends the browser to `to` with a whole new page (htmx too: `HX-Redirect`), for
/// changes after which nothing of the current page may stay, such as signing out.
pub fn reload(req: &actix_web::HttpRequest, to: &str) -> HttpResponse {
    if crate::request::from_htmx(req) {
        secured(HttpResponse::Ok())
            .insert_header(("HX-Redirect", to))
            .finish()
    } else {
        secured(HttpResponse::SeeOther())
            .insert_header((header::LOCATION, to))
            .finish()
    }
}

/// A section of the navigation: where it lives, what its link says, and the scope a
/// person needs for the link to be shown (`None`: everyone signed in). Each page
/// module declares its own; `pages::NAV` lists them in order.
#[derive(Debug, PartialEq, Eq)]
pub struct Section {
    pub href: &'static str,
    pub label: &'static str,
    pub need: Option<hydracore_scopes::Scope>,
}

/// A link of the navigation as a page shows it.
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    /// The page is of this section (`aria-current`).
    pub current: bool,
}

/// One of the person's tenants, for the switcher.
pub struct TenantChoice {
    pub id: String,
    pub name: String,
    pub role: String,
    pub active: bool,
}

/// What every signed-in page shows around its content.
pub struct Chrome {
    pub title: String,
    /// The sections the person may see, the page's own marked.
    pub nav: Vec<NavLink>,
    pub email: String,
    pub csrf: String,
    pub tenants: Vec<TenantChoice>,
    pub tenant_name: String,
    pub role: String,
    /// A message about what just happened (from `?done=`).
    pub notice: Option<&'static str>,
}

impl Chrome {
    /// The chrome of a page of `section` (one of `nav`), for `signed`: the person's
    /// tenants (one read).
    ///
    /// # Errors
    /// The store fails.
    pub async fn new(
        api: &Services,
        signed: &Signed,
        title: impl Into<String>,
        nav: &[&'static Section],
        section: &'static Section,
    ) -> Result<Self, Refusal> {
        // A page whose section is missing from `pages::NAV` would have no link: every
        // test that renders it fails here.
        debug_assert!(
            nav.contains(&section),
            "{} is not in pages::NAV",
            section.href
        );
        let me = hydracore_api::me(api, signed.user).await?;
        let active = me.active_tenant.as_ref().map(|t| t.tenant_id);
        let active = active.filter(|_| signed.tenant().is_some());
        let mut tenant_name = String::new();
        let mut role = String::new();
        let tenants = me
            .memberships
            .iter()
            .map(|m| {
                let is_active = Some(m.tenant_id) == active;
                if is_active {
                    tenant_name.clone_from(&m.tenant_name);
                    role = m.role.as_str().to_owned();
                }
                TenantChoice {
                    id: m.tenant_id.to_string(),
                    name: m.tenant_name.clone(),
                    role: m.role.as_str().to_owned(),
                    active: is_active,
                }
            })
            .collect();
        Ok(Self {
            title: title.into(),
            nav: nav
                .iter()
                .filter(|s| s.need.is_none_or(|need| signed.may(&need)))
                .map(|s| NavLink {
                    href: s.href,
                    label: s.label,
                    current: **s == *section,
                })
                .collect(),
            email: signed.email.clone(),
            csrf: signed.csrf.clone(),
            tenants,
            tenant_name,
            role,
            notice: None,
        })
    }

    #[must_use]
    pub fn with_notice(mut self, notice: Option<&'static str>) -> Self {
        self.notice = notice;
        self
    }

    pub fn css(&self) -> &'static str {
        assets::version("console.css")
    }

    pub fn js(&self) -> &'static str {
        assets::version("console.js")
    }

    pub fn htmx(&self) -> &'static str {
        assets::version("htmx.min.js")
    }
}

/// The asset versions for pages without chrome.
pub struct Bare;

impl Bare {
    pub fn css(&self) -> &'static str {
        assets::version("console.css")
    }

    pub fn js(&self) -> &'static str {
        assets::version("console.js")
    }
}

/// The messages of a form's fields, keyed by field name, and one for the form as a
/// whole: the operation's own sentences.
#[derive(Debug, Default)]
pub struct FormErrors {
    pub form: Option<String>,
    pub fields: BTreeMap<String, String>,
}

impl FormErrors {
    pub fn none() -> Self {
        Self::default()
    }

    /// The message of `field`, if it has one.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    pub fn any(&self) -> bool {
        self.form.is_some() || !self.fields.is_empty()
    }

    /// Every message, for the summary at the top of the form.
    pub fn all(&self) -> Vec<&str> {
        self.form
            .iter()
            .map(String::as_str)
            .chain(self.fields.values().map(String::as_str))
            .collect()
    }

    /// A message about one field the console itself reads (a JSON text, a number).
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::default();
        e.fields.insert(field.to_owned(), message.into());
        e
    }
}

/// What a form shows for a failed operation, and the status it answers with; `None`
/// when the problem is not about the form (it becomes a page of its own).
pub fn form_problem(problem: Problem) -> Result<(StatusCode, FormErrors), Refusal> {
    match problem.outcome {
        Outcome::Invalid => {
            let mut errors = FormErrors::default();
            for item in &problem.items {
                // `["rate_limit", "requests"]` is the field `rate_limit.requests`; a
                // list position (`["scopes", "2"]`) belongs to the list.
                let name: Vec<&str> = item
                    .field
                    .iter()
                    .map(String::as_str)
                    .filter(|s| !s.bytes().all(|b| b.is_ascii_digit()))
                    .collect();
                errors
                    .fields
                    .entry(name.join("."))
                    .or_insert_with(|| item.message.clone());
            }
            if errors.fields.is_empty() {
                errors.form = Some(problem.detail.into_owned());
            }
            Ok((StatusCode::UNPROCESSABLE_ENTITY, errors))
        }
        Outcome::Conflict => Ok((
            StatusCode::CONFLICT,
            FormErrors {
                form: Some(problem.detail.into_owned()),
                fields: BTreeMap::new(),
            },
        )),
        Outcome::Forbidden => Ok((
            StatusCode::FORBIDDEN,
            FormErrors {
                form: Some(problem.detail.into_owned()),
                fields: BTreeMap::new(),
            },
        )),
        _ => Err(Refusal::Problem(problem)),
    }
}

/// Why a request gets no page of its own: answered as a sign-in redirect or an error
/// page, with the console's headers.
pub enum Refusal {
    /// No live session: sign in, then come back to `next`.
    SignIn { next: String },
    /// A state change without this session's token, or from another site.
    Csrf,
    /// A form that is not a form.
    BadForm,
    /// The person belongs to no tenant.
    NoTenant,
    /// An operation's problem that is not about a form's fields.
    Problem(Problem),
}

impl From<Problem> for Refusal {
    fn from(p: Problem) -> Self {
        Refusal::Problem(p)
    }
}

impl fmt::Debug for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::SignIn { .. } => f.write_str("SignIn"),
            Refusal::Csrf => f.write_str("Csrf"),
            Refusal::BadForm => f.write_str("BadForm"),
            Refusal::NoTenant => f.write_str("NoTenant"),
            Refusal::Problem(p) => fmt::Debug::fmt(p, f),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Problem(p) => fmt::Display::fmt(p, f),
            other => fmt::Debug::fmt(other, f),
        }
    }
}

/// A page that explains why nothing else could be shown.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub bare: Bare,
    pub title: String,
    pub heading: &'static str,
    pub detail: String,
    pub signed_in: bool,
}

impl Refusal {
    fn status_and_page(&self) -> (StatusCode, ErrorPage) {
        let page = |heading, detail: String| ErrorPage {
            bare: Bare,
            title: heading_title(heading),
            heading,
            detail,
            signed_in: !matches!(self, Refusal::SignIn { .. }),
        };
        match self {
            Refusal::SignIn { .. } => (
                StatusCode::UNAUTHORIZED,
                page("Sign in", "Your session has ended. Sign in again.".into()),
            ),
            Refusal::Csrf => (
                StatusCode::FORBIDDEN,
                page(
                    "This form cannot be accepted",
                    "It came from another site, or from a page older than your current session. \
                     Go back, reload the page and try again."
                        .into(),
                ),
            ),
            Refusal::BadForm => (
                StatusCode::BAD_REQUEST,
                page(
                    "This form cannot be read",
                    "Go back, reload the page and try again.".into(),
                ),
            ),
            Refusal::NoTenant => (
                StatusCode::FORBIDDEN,
                page(
                    "No tenant",
                    "You are not a member of any tenant. Ask a tenant's owner or admin to add you, or create a tenant of your own under Settings → Tenant."
                        .into(),
                ),
            ),
            Refusal::Problem(p) => {
                let (status, heading) = match p.outcome {
                    Outcome::Unauthorized => (StatusCode::UNAUTHORIZED, "Not signed in"),
                    Outcome::Forbidden => (StatusCode::FORBIDDEN, "Not allowed"),
                    Outcome::NotFound => (StatusCode::NOT_FOUND, "Not found"),
                    Outcome::Conflict => (StatusCode::CONFLICT, "Conflict"),
                    Outcome::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "Not valid"),
                    Outcome::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "Slow down"),
                    Outcome::Unavailable | Outcome::Busy => {
                        (StatusCode::SERVICE_UNAVAILABLE, "Try again shortly")
                    }
                    Outcome::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
                };
                if let Some(source) = &p.source {
                    tracing::error!(error = %source, outcome = ?p.outcome, "console request failed");
                }
                let mut detail = p.detail.clone().into_owned();
                for item in &p.items {
                    detail.push_str(&format!(" {}: {}.", item.field.join("."), item.message));
                }
                (status, page(heading, detail))
            }
        }
    }
}

fn heading_title(heading: &str) -> String {
    format!("{heading} · HydraCore")
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Refusal::SignIn { .. } => StatusCode::SEE_OTHER,
            other => other.status_and_page().0,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Refusal::SignIn { next } = self {
            let to = format!("/login?next={}", encode_component(next));
            return secured(HttpResponse::SeeOther())
                .insert_header((header::LOCATION, to.clone()))
                // htmx follows a redirect inside its request: send it to the page.
                .insert_header(("HX-Redirect", to))
                .finish();
        }
        let (status, body) = self.status_and_page();
        let res = page(status, &body);
        let retry = match self {
            Refusal::Problem(Problem {
                outcome: Outcome::Throttled { retry_after_secs },
                ..
            }) => Some(*retry_after_secs),
            _ => None,
        };
        with_retry(res, retry)
    }
}

/// `res` with `Retry-After` when `secs` is given.
pub fn with_retry(mut res: HttpResponse, secs: Option<u64>) -> HttpResponse {
    if let Some(v) = secs.and_then(|s| header::HeaderValue::from_str(&s.to_string()).ok()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// `s` percent-encoded for a query value.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A local path to come back to after signing in: only this site's own pages.
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n']);
    if ok { next } else { "/instances" }
}

/// A rule's sentence as a page shows it: the spec's Markdown code marks dropped.
pub fn plain(sentence: &str) -> String {
    sentence.replace('`', "")
}

/// An instant as people read it: `2026-12-04 21:10 UTC`.
pub fn when(t: OffsetDateTime) -> String {
    t.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

/// An instant as machines read it, for `<time datetime>`.
pub fn iso(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// How far `t` lies from `now`, in words: "in 3 days", "2 hours ago".
pub fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = t - now;
    let (future, secs) = if d.is_negative() {
        (false, -d.whole_seconds())
    } else {
        (true, d.whole_seconds())
    };
    // To the nearest unit: a key made to expire in 7 days, looked at a second later,
    // still expires "in 7 days".
    let (n, unit) = match secs {
        0..60 => {
            return if future {
                "in under a minute".into()
            } else {
                "just now".into()
            };
        }
        60..3_570 => ((secs + 30) / 60, "minute"),
        3_570..84_600 => ((secs + 1_800) / 3_600, "hour"),
        _ => ((secs + 43_200) / 86_400, "day"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if future {
        format!("in {n} {unit}{plural}")
    } else {
        format!("{n} {unit}{plural} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            safe_next("/settings/api-keys?cursor=x"),
            "/settings/api-keys?cursor=x"
        );
        assert_eq!(safe_next("//evil.example/"), "/instances");
        assert_eq!(safe_next("/\\evil.example/"), "/instances");
        assert_eq!(safe_next("https://evil.example/"), "/instances");
        assert_eq!(safe_next("/a\r\nSet-Cookie: x"), "/instances");
    }

    #[test]
    fn times_read_as_people_say_them() {
        let now = datetime!(2026-12-04 12:00 UTC);
        assert_eq!(when(now), "2026-12-04 12:00 UTC");
        assert_eq!(relative(datetime!(2026-12-07 12:00 UTC), now), "in 3 days");
        assert_eq!(relative(datetime!(2026-12-04 11:00 UTC), now), "1 hour ago");
        assert_eq!(
            relative(datetime!(2026-12-04 12:00:30 UTC), now),
            "in under a minute"
        );
        assert_eq!(
            relative(datetime!(2026-12-11 11:59:59 UTC), now),
            "in 7 days"
        );
        assert_eq!(
            relative(datetime!(2026-12-04 12:59:50 UTC), now),
            "in 1 hour"
        );
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(encode_component("/a?b=c&d"), "/a%3Fb%3Dc%26d");
    }
}
