//! `/settings/tenant`: the tenant the person works in, and making another.

use actix_web::http::StatusCode;
use actix_web::web::{self, Query, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use hydracore_api::{self as api, CreateTenantRequest, SwitchTenantRequest};

use super::{ListQuery, chrome};
use crate::request::{Action, Signed};
use crate::view::{self, Chrome, FormErrors, Refusal, Section, iso, when};

/// This page's section of the navigation.
pub const SECTION: Section = Section {
    href: "/settings/tenant",
    label: "Tenant",
    need: None,
};

pub struct TenantView {
    pub id: String,
    pub name: String,
    pub created: String,
    pub created_iso: String,
}

#[derive(Template)]
#[template(path = "tenant.html")]
struct TenantPage {
    chrome: Chrome,
    tenant: Option<TenantView>,
    name: String,
    errors: FormErrors,
}

async fn page(
    signed: &Signed,
    done: Option<&str>,
    status: StatusCode,
    name: String,
    errors: FormErrors,
) -> Result<HttpResponse, Refusal> {
    let tenant = match signed.caller() {
        Ok(caller) => {
            let t = api::current_tenant(&signed.state.api, &caller).await?;
            Some(TenantView {
                id: t.id.to_string(),
                name: t.name,
                created: when(t.created_at.0),
                created_iso: iso(t.created_at.0),
            })
        }
        Err(_) => None,
    };
    let body = TenantPage {
        chrome: chrome(signed, "Tenant", &SECTION, done).await?,
        tenant,
        name,
        errors,
    };
    Ok(view::page(status, &body))
}

async fn show(signed: Signed, q: Query<ListQuery>) -> Result<HttpResponse, Refusal> {
    page(
        &signed,
        q.done.as_deref(),
        StatusCode::OK,
        String::new(),
        FormErrors::none(),
    )
    .await
}

async fn create(req: HttpRequest, action: Action) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let name = action.form.text("name").to_owned();
    let request = CreateTenantRequest { name: name.clone() };
    match api::create_tenant(
        &signed.state.api,
        &signed.principal,
        &signed.origin,
        request,
    )
    .await
    {
        Ok(t) => {
            api::switch_tenant(
                &signed.state.api,
                signed.user,
                SwitchTenantRequest { tenant_id: t.id },
                &signed.origin,
            )
            .await?;
            Ok(view::see_other(
                &req,
                "/settings/tenant?done=tenant-created",
            ))
        }
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            page(signed, None, status, name, errors).await
        }
    }
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        web::resource("/settings/tenant")
            .route(web::get().to(show))
            .route(web::post().to(create)),
    );
}
