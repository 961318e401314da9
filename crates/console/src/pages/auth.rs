//! Signing in and out, signing up, and switching tenants.

use actix_web::http::StatusCode;
use actix_web::web::{self, Query, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use hydracore_api::{self as api, LoginRequest, Outcome, SignupRequest, SwitchTenantRequest};
use serde::Deserialize;

use crate::request::{self as rq, Action, FORM_COOKIE, PublicForm, SESSION_COOKIE, Signed};
use crate::view::{self, Bare, FormErrors, Refusal, safe_next};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    bare: Bare,
    token: String,
    next: String,
    email: String,
    errors: FormErrors,
    signup_enabled: bool,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    bare: Bare,
    token: String,
    email: String,
    tenant_name: String,
    password_hint: String,
    errors: FormErrors,
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// The page of a public form, setting its token cookie when the browser has none.
fn public_page(
    req: &HttpRequest,
    status: StatusCode,
    render: impl FnOnce(String) -> HttpResponse,
) -> HttpResponse {
    let (token, new) = rq::form_token(req);
    let mut res = render(token.clone());
    res.head_mut().status = status;
    if new {
        let state = rq::state(req);
        let _ = res.add_cookie(&rq::cookie(&state, FORM_COOKIE, token));
    }
    res
}

/// A failed sign-in or sign-up: the status of its problem, and what the form says.
fn form_outcome(problem: api::Problem) -> Result<(StatusCode, FormErrors, Option<u64>), Refusal> {
    let status = match problem.outcome {
        Outcome::Unauthorized => StatusCode::UNAUTHORIZED,
        Outcome::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        Outcome::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Outcome::Invalid | Outcome::Conflict | Outcome::Forbidden => {
            let (status, errors) = view::form_problem(problem)?;
            return Ok((status, errors, None));
        }
        _ => return Err(problem.into()),
    };
    let retry = match problem.outcome {
        Outcome::Throttled { retry_after_secs } => Some(retry_after_secs),
        _ => None,
    };
    Ok((
        status,
        FormErrors {
            form: Some(problem.detail.into_owned()),
            ..FormErrors::none()
        },
        retry,
    ))
}

/// The session's cookie, and on to `to`.
fn signed_in(req: &HttpRequest, secret: String, to: &str) -> HttpResponse {
    let state = rq::state(req);
    let mut res = view::see_other(req, to);
    let _ = res.add_cookie(&rq::cookie(&state, SESSION_COOKIE, secret));
    let _ = res.add_cookie(&rq::removal(&state, FORM_COOKIE));
    res
}

async fn root(signed: Option<Signed>, req: HttpRequest) -> HttpResponse {
    let to = if signed.is_some() {
        "/instances"
    } else {
        "/login"
    };
    view::see_other(&req, to)
}

async fn login_form(req: HttpRequest, signed: Option<Signed>, q: Query<Next>) -> HttpResponse {
    let next = safe_next(q.next.as_deref().unwrap_or("/instances")).to_owned();
    if signed.is_some() {
        return view::see_other(&req, &next);
    }
    let signup_enabled = rq::state(&req).signup_enabled;
    public_page(&req, StatusCode::OK, |token| {
        view::ok(&LoginPage {
            bare: Bare,
            token,
            next,
            email: String::new(),
            errors: FormErrors::none(),
            signup_enabled,
        })
    })
}

async fn login(req: HttpRequest, posted: PublicForm) -> Result<HttpResponse, Refusal> {
    let state = rq::state(&req);
    let f = &posted.form;
    let next = safe_next(f.text("next")).to_owned();
    let request = LoginRequest {
        email: f.text("email").to_owned(),
        password: f.text("password").to_owned(),
    };
    match api::start_session(&state.api, request, &posted.origin).await {
        Ok(secret) => Ok(signed_in(&req, secret.expose().to_owned(), &next)),
        Err(problem) => {
            let (status, errors, retry) = form_outcome(problem)?;
            let page = LoginPage {
                bare: Bare,
                token: f.text(rq::CSRF_FIELD).to_owned(),
                next,
                email: f.text("email").to_owned(),
                errors,
                signup_enabled: state.signup_enabled,
            };
            Ok(view::with_retry(view::page(status, &page), retry))
        }
    }
}

fn signup_page(
    token: String,
    email: String,
    tenant_name: String,
    errors: FormErrors,
) -> SignupPage {
    SignupPage {
        bare: Bare,
        token,
        email,
        tenant_name,
        password_hint: view::plain(&hydracore_auth::PASSWORD.describe()),
        errors,
    }
}

async fn signup_form(req: HttpRequest, signed: Option<Signed>) -> Result<HttpResponse, Refusal> {
    if signed.is_some() {
        return Ok(view::see_other(&req, "/instances"));
    }
    if !rq::state(&req).signup_enabled {
        return Err(api::Problem::forbidden("Sign-up is disabled").into());
    }
    Ok(public_page(&req, StatusCode::OK, |token| {
        view::ok(&signup_page(
            token,
            String::new(),
            String::new(),
            FormErrors::none(),
        ))
    }))
}

async fn signup(req: HttpRequest, posted: PublicForm) -> Result<HttpResponse, Refusal> {
    let state = rq::state(&req);
    let f = &posted.form;
    let request = SignupRequest {
        email: f.text("email").to_owned(),
        password: f.text("password").to_owned(),
        tenant_name: f.text("tenant_name").to_owned(),
    };
    match api::sign_up_session(&state.api, request, &posted.origin).await {
        Ok(secret) => Ok(signed_in(&req, secret.expose().to_owned(), "/instances")),
        Err(problem) => {
            let (status, errors, retry) = form_outcome(problem)?;
            let page = signup_page(
                f.text(rq::CSRF_FIELD).to_owned(),
                f.text("email").to_owned(),
                f.text("tenant_name").to_owned(),
                errors,
            );
            Ok(view::with_retry(view::page(status, &page), retry))
        }
    }
}

async fn logout(req: HttpRequest, action: Action) -> Result<HttpResponse, Refusal> {
    let state = rq::state(&req);
    api::end_session(&state.api, action.signed.secret(), &action.signed.origin).await?;
    let mut res = view::reload(&req, "/login");
    let _ = res.add_cookie(&rq::removal(&state, SESSION_COOKIE));
    Ok(res)
}

async fn switch_tenant(req: HttpRequest, action: Action) -> Result<HttpResponse, Refusal> {
    let state = rq::state(&req);
    let tenant_id = action
        .form
        .text("tenant_id")
        .parse()
        .map_err(|_| Refusal::BadForm)?;
    api::switch_tenant(
        &state.api,
        action.signed.user,
        SwitchTenantRequest { tenant_id },
        &action.signed.origin,
    )
    .await?;
    Ok(view::see_other(&req, "/instances"))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/", web::get().to(root))
        .service(
            web::resource("/login")
                .route(web::get().to(login_form))
                .route(web::post().to(login)),
        )
        .service(
            web::resource("/signup")
                .route(web::get().to(signup_form))
                .route(web::post().to(signup)),
        )
        .route("/logout", web::post().to(logout))
        .route("/switch-tenant", web::post().to(switch_tenant));
}
