//! `/settings/members`: who belongs to the tenant, with which role.

use actix_web::http::StatusCode;
use actix_web::web::{self, Path, Query, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use hydracore_api::{self as api, AddMemberRequest, MemberDto, RoleDto, UpdateMemberRequest};
use hydracore_tenants::UserId;

use super::{Confirm, ListQuery, Pager, chrome};
use crate::request::{Action, Signed};
use crate::view::{self, Chrome, FormErrors, Refusal, Section, iso, when};

/// This page's section of the navigation.
pub const SECTION: Section = Section {
    href: "/settings/members",
    label: "Members",
    need: None,
};

pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub role: &'static str,
    pub since: String,
    pub since_iso: String,
    pub is_you: bool,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    chrome: Chrome,
    rows: Vec<MemberView>,
    pager: Pager,
    may_write: bool,
    roles: Vec<&'static str>,
    email: String,
    role: &'static str,
    errors: FormErrors,
    row_error: Option<String>,
}

struct Added {
    email: String,
    role: &'static str,
}

async fn page(
    signed: &Signed,
    q: &ListQuery,
    status: StatusCode,
    added: Added,
    errors: FormErrors,
    row_error: Option<String>,
) -> Result<HttpResponse, Refusal> {
    let caller = signed.caller()?;
    let page = api::list_members(&signed.state.api, &caller, q.page()?).await?;
    let rows = page
        .items
        .iter()
        .map(|m: &MemberDto| MemberView {
            user_id: m.user_id.to_string(),
            email: m.email.clone(),
            role: m.role.as_str(),
            since: when(m.created_at.0),
            since_iso: iso(m.created_at.0),
            is_you: m.user_id == signed.user.0,
        })
        .collect();
    let body = MembersPage {
        chrome: chrome(signed, "Members", &SECTION, q.done.as_deref()).await?,
        pager: Pager::new("/settings/members", q, &page, &[]),
        rows,
        may_write: signed.may(&api::MEMBERS_WRITE),
        roles: RoleDto::ALL.iter().map(|r| r.as_str()).collect(),
        email: added.email,
        role: added.role,
        errors,
        row_error,
    };
    Ok(view::page(status, &body))
}

async fn list(signed: Signed, q: Query<ListQuery>) -> Result<HttpResponse, Refusal> {
    let added = Added {
        email: String::new(),
        role: RoleDto::Member.as_str(),
    };
    page(&signed, &q, StatusCode::OK, added, FormErrors::none(), None).await
}

/// The role a form names.
fn role(text: &str) -> Result<RoleDto, FormErrors> {
    RoleDto::ALL
        .into_iter()
        .find(|r| r.as_str() == text)
        .ok_or_else(|| FormErrors::field("role", "Choose one of the roles"))
}

async fn add(req: HttpRequest, action: Action) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let email = action.form.text("email").to_owned();
    let q = ListQuery::default();
    let outcome = match role(action.form.text("role")) {
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, RoleDto::Member),
        Ok(r) => {
            let request = AddMemberRequest {
                email: email.clone(),
                role: r,
            };
            match api::add_member(&signed.state.api, &signed.caller()?, request).await {
                Ok(_) => return Ok(view::see_other(&req, "/settings/members?done=member-added")),
                Err(problem) => {
                    let (status, errors) = view::form_problem(problem)?;
                    (status, errors, r)
                }
            }
        }
    };
    let (status, errors, r) = outcome;
    let added = Added {
        email,
        role: r.as_str(),
    };
    page(signed, &q, status, added, errors, None).await
}

fn user_id(id: &str) -> Result<UserId, Refusal> {
    super::path_id(id, "Member not found")
}

async fn change_role(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let user = user_id(&id)?;
    let outcome = match role(action.form.text("role")) {
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        Ok(r) => {
            let request = UpdateMemberRequest { role: r };
            match api::update_member(&signed.state.api, &signed.caller()?, user, request).await {
                Ok(_) => {
                    return Ok(view::see_other(
                        &req,
                        "/settings/members?done=member-updated",
                    ));
                }
                Err(problem) => view::form_problem(problem)?,
            }
        }
    };
    let (status, errors) = outcome;
    row_refused(signed, status, &errors).await
}

/// The members page again, saying why a change to a row was refused.
async fn row_refused(
    signed: &Signed,
    status: StatusCode,
    errors: &FormErrors,
) -> Result<HttpResponse, Refusal> {
    let added = Added {
        email: String::new(),
        role: RoleDto::Member.as_str(),
    };
    let message = errors.all().join(" ");
    page(
        signed,
        &ListQuery::default(),
        status,
        added,
        FormErrors::none(),
        Some(message),
    )
    .await
}

async fn confirm_remove(signed: Signed, id: Path<String>) -> Result<HttpResponse, Refusal> {
    let user = user_id(&id)?;
    let caller = signed.caller()?;
    let member = api::get_member(&signed.state.api, &caller, user).await?;
    let yourself = member.user_id == signed.user.0;
    Ok(view::ok(&Confirm {
        chrome: chrome(&signed, "Remove member", &SECTION, None).await?,
        heading: format!("Remove {}?", member.email),
        text: if yourself {
            "You will lose access to this tenant at once.".into()
        } else {
            format!(
                "{} loses access to this tenant at once; their account stays.",
                member.email
            )
        },
        action: format!("/settings/members/{}/remove", member.user_id),
        button: "Remove member",
        cancel: "/settings/members".into(),
        error: None,
    }))
}

async fn remove(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let user = user_id(&id)?;
    match api::remove_member(&signed.state.api, &signed.caller()?, user).await {
        Ok(()) if user == signed.user => Ok(view::see_other(&req, "/settings/tenant")),
        Ok(()) => Ok(view::see_other(
            &req,
            "/settings/members?done=member-removed",
        )),
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            row_refused(signed, status, &errors).await
        }
    }
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        web::resource("/settings/members")
            .route(web::get().to(list))
            .route(web::post().to(add)),
    )
    .route("/settings/members/{id}", web::post().to(change_role))
    .service(
        web::resource("/settings/members/{id}/remove")
            .route(web::get().to(confirm_remove))
            .route(web::post().to(remove)),
    );
}
