//! The authorization endpoint of `/mcp`'s OAuth server, `/oauth/authorize`: the
//! request is checked before anything else (a client or redirect URI that cannot be
//! trusted is an error page, never a redirect), then the person signs in and sees the
//! consent page: the client, the tenant (a switcher when they have several), the scopes
//! asked within their role, Allow and Deny. And `/settings/connected-apps`, where each
//! grant can be revoked.

use std::str::FromStr;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::web::{self, Path, Query, ServiceConfig};
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use askama::Template;
use hydracore_api::{self as api, Problem};
use hydracore_audit::AuditActor;
use hydracore_auth::oauth::{AuthorizationRequest, AuthorizeError, Consent, GrantId, OAuthService};
use hydracore_scopes::{CATALOGUE, Role, Scope, ScopeSet, Verb};
use hydracore_tenants::TenantId;
use serde::Deserialize;

use super::{Confirm, ListQuery, chrome};
use crate::request::{self as rq, Action, Fields, Signed};
use crate::view::{self, Bare, Chrome, ErrorPage, Refusal, Section, TenantChoice, iso, when};

/// This page's section of the navigation.
pub const SECTION: Section = Section {
    href: "/settings/connected-apps",
    label: "Connected apps",
    need: None,
};

/// The parameters of an authorization request, carried through the consent form.
const PARAMS: [&str; 8] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
];

#[derive(Debug, Deserialize, Default)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    resource: Option<String>,
    tenant: Option<String>,
}

impl AuthorizeQuery {
    fn request(&self) -> AuthorizationRequest {
        AuthorizationRequest {
            response_type: self.response_type.clone(),
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scope: self.scope.clone(),
            state: self.state.clone(),
            code_challenge: self.code_challenge.clone(),
            code_challenge_method: self.code_challenge_method.clone(),
            resource: self.resource.clone(),
        }
    }
}

fn request_of(f: &Fields) -> AuthorizationRequest {
    let get = |k: &str| Some(f.text(k).to_owned()).filter(|v| !v.is_empty());
    AuthorizationRequest {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope_asked"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        resource: get("resource"),
    }
}

/// The request's parameters as hidden fields (the asked scope renamed, so it is not
/// mistaken for the scopes the person chose).
fn params(r: &AuthorizationRequest) -> Vec<(&'static str, String)> {
    let values = [
        &r.response_type,
        &r.client_id,
        &r.redirect_uri,
        &r.scope,
        &r.state,
        &r.code_challenge,
        &r.code_challenge_method,
        &r.resource,
    ];
    PARAMS
        .iter()
        .zip(values)
        .filter_map(|(k, v)| {
            let k = if *k == "scope" { "scope_asked" } else { k };
            v.clone().map(|v| (k, v))
        })
        .collect()
}

pub struct ScopeChoice {
    pub scope: String,
    pub summary: String,
}

fn choice(s: &Scope) -> ScopeChoice {
    let verb = match s.verb() {
        Verb::Named(v) => v,
        Verb::Any => "*",
    };
    ScopeChoice {
        scope: s.to_string(),
        summary: CATALOGUE
            .iter()
            .find(|r| r.resource == s.resource())
            .map(|r| r.summary(verb))
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    bare: Bare,
    client_name: String,
    client_id: String,
    by_document: bool,
    redirect_uri: String,
    email: String,
    csrf: String,
    tenants: Vec<TenantChoice>,
    tenant_id: String,
    tenant_name: String,
    role: String,
    grantable: Vec<ScopeChoice>,
    beyond: Vec<ScopeChoice>,
    params: Vec<(&'static str, String)>,
    error: Option<String>,
}

/// Forms on the consent page may lead to the client's redirect URI: the policy's
/// `form-action` names its origin (or its scheme, for an app's own scheme), since
/// browsers hold a form's redirects to it.
fn consent_policy(redirect_uri: &str) -> String {
    let target = match redirect_uri.split_once("://") {
        Some((scheme, rest)) if scheme == "http" || scheme == "https" => {
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            format!("{scheme}://{host}")
        }
        _ => redirect_uri
            .split_once(':')
            .map(|(scheme, _)| format!("{scheme}:"))
            .unwrap_or_default(),
    };
    view::CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {target}"),
    )
}

async fn consent_page(
    signed: &Signed,
    consent: &Consent,
    request: &AuthorizationRequest,
    tenant: Option<&str>,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, Refusal> {
    let me = api::me(&signed.state.api, signed.user).await?;
    let wanted = tenant
        .and_then(|t| uuid::Uuid::parse_str(t).ok())
        .or_else(|| me.active_tenant.as_ref().map(|t| t.tenant_id))
        .filter(|t| me.memberships.iter().any(|m| m.tenant_id == *t))
        .or_else(|| me.memberships.first().map(|m| m.tenant_id));
    let Some(chosen) = wanted.and_then(|t| me.memberships.iter().find(|m| m.tenant_id == t)) else {
        return Err(Refusal::NoTenant);
    };
    let role_scopes = Role::from_str(chosen.role.as_str())
        .map(Role::scopes)
        .unwrap_or_else(|_| ScopeSet::default());
    let (grantable, beyond) = OAuthService::offer(consent, &role_scopes);
    let body = ConsentPage {
        bare: Bare,
        client_name: consent.client.name.clone(),
        client_id: consent.client.id.clone(),
        by_document: consent.by_document,
        redirect_uri: consent.redirect_uri.clone(),
        email: signed.email.clone(),
        csrf: signed.csrf.clone(),
        tenants: me
            .memberships
            .iter()
            .map(|m| TenantChoice {
                id: m.tenant_id.to_string(),
                name: m.tenant_name.clone(),
                role: m.role.as_str().to_owned(),
                active: m.tenant_id == chosen.tenant_id,
            })
            .collect(),
        tenant_id: chosen.tenant_id.to_string(),
        tenant_name: chosen.tenant_name.clone(),
        role: chosen.role.as_str().to_owned(),
        grantable: grantable.iter().map(choice).collect(),
        beyond: beyond.iter().map(choice).collect(),
        params: params(request),
        error,
    };
    let mut res = view::page(status, &body);
    if let Ok(v) = header::HeaderValue::from_str(&consent_policy(&consent.redirect_uri)) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(res)
}

/// Sends the browser back to the client.
fn to_client(location: &str) -> HttpResponse {
    view::secured(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, location))
        .finish()
}

/// What a refused authorization request is answered with.
fn refused(e: AuthorizeError) -> Result<HttpResponse, Refusal> {
    match e {
        AuthorizeError::Page(detail) => Ok(view::page(
            StatusCode::BAD_REQUEST,
            &ErrorPage {
                bare: Bare,
                title: "Sign-in request refused · HydraCore".into(),
                heading: "This sign-in request cannot be used",
                detail,
                signed_in: false,
            },
        )),
        AuthorizeError::Redirect { location, .. } => Ok(to_client(&location)),
        AuthorizeError::Store(e) => Err(Problem::from(e).into()),
    }
}

async fn authorize(req: HttpRequest, q: Query<AuthorizeQuery>) -> Result<HttpResponse, Refusal> {
    let state = rq::state(&req);
    let request = q.request();
    let consent = match state.api.oauth.check(&request).await {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    let signed = Signed::from_request(&req, &mut Payload::None).await?;
    consent_page(
        &signed,
        &consent,
        &request,
        q.tenant.as_deref(),
        StatusCode::OK,
        None,
    )
    .await
}

async fn decide(action: Action) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let f = &action.form;
    let oauth = &signed.state.api.oauth;
    let request = request_of(f);
    let consent = match oauth.check(&request).await {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    if f.text("decision") != "allow" {
        return Ok(to_client(&oauth.error_location(
            &consent.redirect_uri,
            consent.state.as_deref(),
            "access_denied",
            "The user denied the request",
        )));
    }
    let Some(tenant) = uuid::Uuid::parse_str(f.text("tenant")).ok().map(TenantId) else {
        return refused(AuthorizeError::Page("The form names no tenant".into()));
    };
    let who = signed
        .origin
        .by(AuditActor::user(signed.user.0, signed.email.as_str()));
    match oauth
        .approve(&consent, signed.user, tenant, &f.all("scope"), &who)
        .await
    {
        Ok(location) => Ok(to_client(&location)),
        Err(AuthorizeError::Page(message)) => {
            consent_page(
                signed,
                &consent,
                &request,
                Some(f.text("tenant")),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
            )
            .await
        }
        Err(e) => refused(e),
    }
}

pub struct GrantView {
    pub id: String,
    pub client: String,
    pub tenant: String,
    pub scopes: String,
    pub created: String,
    pub created_iso: String,
    pub last_used: Option<String>,
    pub last_used_iso: String,
}

#[derive(Template)]
#[template(path = "connected_apps.html")]
struct ConnectedAppsPage {
    chrome: Chrome,
    rows: Vec<GrantView>,
}

async fn connected_apps(signed: Signed, q: Query<ListQuery>) -> Result<HttpResponse, Refusal> {
    let svc = &signed.state.api;
    let me = api::me(svc, signed.user).await?;
    let grants = api::connected_apps(svc, signed.user).await?;
    let rows = grants
        .iter()
        .map(|g| GrantView {
            id: g.id.to_string(),
            client: g.client_name.clone(),
            tenant: me
                .memberships
                .iter()
                .find(|m| m.tenant_id == g.tenant_id.0)
                .map_or_else(
                    || "(no longer a member)".to_owned(),
                    |m| m.tenant_name.clone(),
                ),
            scopes: g.scopes.to_string(),
            created: when(g.created_at),
            created_iso: iso(g.created_at),
            last_used: g.last_used_at.map(when),
            last_used_iso: g.last_used_at.map(iso).unwrap_or_default(),
        })
        .collect();
    Ok(view::ok(&ConnectedAppsPage {
        chrome: chrome(&signed, "Connected apps", &SECTION, q.done.as_deref()).await?,
        rows,
    }))
}

fn grant_id(id: &str) -> Result<GrantId, Refusal> {
    super::path_id(id, "Connected application not found")
}

async fn confirm_revoke(signed: Signed, id: Path<String>) -> Result<HttpResponse, Refusal> {
    let id = grant_id(&id)?;
    let grants = api::connected_apps(&signed.state.api, signed.user).await?;
    let g = grants
        .iter()
        .find(|g| g.id == id)
        .ok_or_else(|| Refusal::from(Problem::not_found("Connected application not found")))?;
    Ok(view::ok(&Confirm {
        chrome: chrome(&signed, "Revoke connected app", &SECTION, None).await?,
        heading: format!("Revoke {}?", g.client_name),
        text: format!(
            "{} loses access at once: its tokens stop working on every node. It can ask you again.",
            g.client_name
        ),
        action: format!("/settings/connected-apps/{}/revoke", g.id),
        button: "Revoke",
        cancel: "/settings/connected-apps".into(),
        error: None,
    }))
}

async fn revoke(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let id = grant_id(&id)?;
    api::revoke_connected_app(
        &signed.state.api,
        signed.user,
        &signed.email,
        id,
        &signed.origin,
    )
    .await?;
    Ok(view::see_other(
        &req,
        "/settings/connected-apps?done=grant-revoked",
    ))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        web::resource("/oauth/authorize")
            .route(web::get().to(authorize))
            .route(web::post().to(decide)),
    )
    .service(web::resource("/settings/connected-apps").route(web::get().to(connected_apps)))
    .service(
        web::resource("/settings/connected-apps/{id}/revoke")
            .route(web::get().to(confirm_revoke))
            .route(web::post().to(revoke)),
    );
}
