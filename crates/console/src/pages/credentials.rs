//! `/settings/mcp-credentials`: secrets for third-party MCP servers, write-only.

use actix_web::http::StatusCode;
use actix_web::web::{self, Path, Query, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use hydracore_api::{self as api, CreateMcpCredentialRequest, McpAuthKindDto, McpCredentialDto};
use hydracore_mcp_creds::CredentialId;

use super::{Confirm, ListQuery, Pager, chrome};
use crate::request::{Action, Signed};
use crate::view::{self, Chrome, FormErrors, Refusal, Section, iso, when};

/// This page's section of the navigation.
pub const SECTION: Section = Section {
    href: "/settings/mcp-credentials",
    label: "MCP credentials",
    need: None,
};

pub struct CredentialView {
    pub id: String,
    pub name: String,
    pub server_url: String,
    pub sent_as: String,
    pub has_secret: bool,
    pub last4: String,
    pub created: String,
    pub created_iso: String,
}

impl From<&McpCredentialDto> for CredentialView {
    fn from(c: &McpCredentialDto) -> Self {
        Self {
            id: c.id.to_string(),
            name: c.name.clone(),
            server_url: c.server_url.clone(),
            sent_as: match (&c.auth_kind, &c.header_name) {
                (McpAuthKindDto::Header, Some(h)) => format!("{h} header"),
                _ => "Bearer token".to_owned(),
            },
            has_secret: c.has_secret,
            last4: c.secret_last4.clone().unwrap_or_default(),
            created: when(c.created_at.0),
            created_iso: iso(c.created_at.0),
        }
    }
}

/// The create form as typed, the secret excepted: it is never sent back to the page.
#[derive(Default)]
pub struct CredentialForm {
    pub name: String,
    pub server_url: String,
    pub auth_kind: String,
    pub header_name: String,
}

#[derive(Template)]
#[template(path = "credentials.html")]
struct CredentialsPage {
    chrome: Chrome,
    rows: Vec<CredentialView>,
    pager: Pager,
    may_write: bool,
    form: CredentialForm,
    errors: FormErrors,
}

async fn page(
    signed: &Signed,
    q: &ListQuery,
    status: StatusCode,
    form: CredentialForm,
    errors: FormErrors,
) -> Result<HttpResponse, Refusal> {
    let caller = signed.caller()?;
    let page = api::list_credentials(&signed.state.api, &caller, q.page()?).await?;
    let body = CredentialsPage {
        chrome: chrome(signed, "MCP credentials", &SECTION, q.done.as_deref()).await?,
        pager: Pager::new("/settings/mcp-credentials", q, &page, &[]),
        rows: page.items.iter().map(CredentialView::from).collect(),
        may_write: signed.may(&api::MCP_CREDS_WRITE),
        form,
        errors,
    };
    Ok(view::page(status, &body))
}

async fn list(signed: Signed, q: Query<ListQuery>) -> Result<HttpResponse, Refusal> {
    page(
        &signed,
        &q,
        StatusCode::OK,
        CredentialForm::default(),
        FormErrors::none(),
    )
    .await
}

async fn create(req: HttpRequest, action: Action) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let f = &action.form;
    let form = CredentialForm {
        name: f.text("name").to_owned(),
        server_url: f.text("server_url").to_owned(),
        auth_kind: f.text("auth_kind").to_owned(),
        header_name: f.text("header_name").to_owned(),
    };
    let request = CreateMcpCredentialRequest {
        name: form.name.clone(),
        server_url: form.server_url.clone(),
        auth_kind: if form.auth_kind == "header" {
            McpAuthKindDto::Header
        } else {
            McpAuthKindDto::Bearer
        },
        header_name: f.given("header_name").map(str::to_owned),
        secret: f.text("secret").to_owned(),
    };
    match api::create_credential(&signed.state.api, &signed.caller()?, request).await {
        Ok(_) => Ok(view::see_other(
            &req,
            "/settings/mcp-credentials?done=credential-created",
        )),
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            page(signed, &ListQuery::default(), status, form, errors).await
        }
    }
}

fn credential_id(id: &str) -> Result<CredentialId, Refusal> {
    super::path_id(id, "Credential not found")
}

async fn confirm_delete(signed: Signed, id: Path<String>) -> Result<HttpResponse, Refusal> {
    let id = credential_id(&id)?;
    let c = api::get_credential(&signed.state.api, &signed.caller()?, id).await?;
    Ok(view::ok(&Confirm {
        chrome: chrome(&signed, "Delete credential", &SECTION, None).await?,
        heading: format!("Delete {}?", c.name),
        text: format!(
            "Instances lose the credential for {} at once. This cannot be undone.",
            c.server_url
        ),
        action: format!("/settings/mcp-credentials/{}/delete", c.id),
        button: "Delete credential",
        cancel: "/settings/mcp-credentials".into(),
        error: None,
    }))
}

async fn delete(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let id = credential_id(&id)?;
    api::delete_credential(&signed.state.api, &signed.caller()?, id).await?;
    Ok(view::see_other(
        &req,
        "/settings/mcp-credentials?done=credential-deleted",
    ))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        web::resource("/settings/mcp-credentials")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/settings/mcp-credentials/{id}/delete")
            .route(web::get().to(confirm_delete))
            .route(web::post().to(delete)),
    );
}
