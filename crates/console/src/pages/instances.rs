//! `/instances`: the tenant's agents, their lifecycle, and one instance's details.

use actix_web::http::StatusCode;
use actix_web::web::{self, Path, Query, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use hydracore_api::{
    self as api, CreateInstanceRequest, InstanceDto, JsonObject, UpdateInstanceRequest,
};
use hydracore_instances::{InstanceId, InstanceName, LogTail};

use super::{Confirm, ListQuery, Pager, chrome};
use crate::request::{Action, Fields, Signed};
use crate::view::{self, Chrome, FormErrors, Refusal, Section, iso, when};

/// This page's section of the navigation.
pub const SECTION: Section = Section {
    href: "/instances",
    label: "Instances",
    need: None,
};

/// An instance as a row or a details page shows it.
pub struct InstanceView {
    pub id: String,
    pub name: String,
    pub status: &'static str,
    /// Why it failed, in the runtime's words.
    pub reason: Option<String>,
    pub image: String,
    pub created: String,
    pub created_iso: String,
    pub updated: String,
    pub updated_iso: String,
    pub can_start: bool,
    pub can_stop: bool,
}

impl From<&InstanceDto> for InstanceView {
    fn from(i: &InstanceDto) -> Self {
        Self {
            id: i.id.to_string(),
            name: i.name.clone(),
            status: i.status.as_str(),
            reason: i.status_reason.clone(),
            image: i.runtime_image.clone(),
            created: when(i.created_at.0),
            created_iso: iso(i.created_at.0),
            updated: when(i.updated_at.0),
            updated_iso: iso(i.updated_at.0),
            can_start: i.status.can_start(),
            can_stop: i.status.can_stop(),
        }
    }
}

/// What the create and change forms hold, as typed.
#[derive(Default)]
pub struct InstanceForm {
    pub name: String,
    pub runtime_image: String,
    pub config: String,
    pub start: bool,
}

impl InstanceForm {
    fn read(f: &Fields) -> Self {
        Self {
            name: f.text("name").to_owned(),
            runtime_image: f.text("runtime_image").to_owned(),
            config: f.text("config").to_owned(),
            start: f.text("start") == "true",
        }
    }

    /// The configuration as JSON: `None` when left empty; a message when it is not JSON
    /// (whether it is an object is the operation's rule).
    fn config(&self) -> Result<Option<JsonObject>, FormErrors> {
        let text = self.config.trim();
        if text.is_empty() {
            return Ok(None);
        }
        serde_json::from_str(text)
            .map(|v| Some(JsonObject(v)))
            .map_err(|e| {
                FormErrors::field(
                    "config",
                    format!("This is not valid JSON ({e}); write an object such as {{\"model\": \"small\"}}"),
                )
            })
    }
}

#[derive(Template)]
#[template(path = "instances.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<InstanceView>,
    pager: Pager,
    may_write: bool,
    may_delete: bool,
    form: InstanceForm,
    errors: FormErrors,
    name_rule: String,
}

#[derive(Template)]
#[template(path = "instance.html")]
struct DetailPage {
    chrome: Chrome,
    i: InstanceView,
    config_pretty: String,
    /// The last lines of its log; `None` while the runtime cannot be reached.
    log: Option<String>,
    log_lines: u32,
    may_write: bool,
    may_delete: bool,
    form: InstanceForm,
    errors: FormErrors,
}

/// How many log lines the details page shows.
const PAGE_LOG_LINES: u32 = 200;

/// The CSRF token a row partial needs (it is rendered without the page's chrome).
struct RowChrome {
    csrf: String,
}

#[derive(Template)]
#[template(path = "instance_row.html")]
struct Row {
    chrome: RowChrome,
    i: InstanceView,
    may_write: bool,
    may_delete: bool,
}

async fn list_page(
    signed: &Signed,
    q: &ListQuery,
    status: StatusCode,
    form: InstanceForm,
    errors: FormErrors,
) -> Result<HttpResponse, Refusal> {
    let caller = signed.caller()?;
    let page = api::list_instances(&signed.state.api, &caller, q.page()?).await?;
    let pager = Pager::new("/instances", q, &page, &[]);
    let body = ListPage {
        chrome: chrome(signed, "Instances", &SECTION, q.done.as_deref()).await?,
        rows: page.items.iter().map(InstanceView::from).collect(),
        pager,
        may_write: signed.may(&api::INSTANCES_WRITE),
        may_delete: signed.may(&api::INSTANCES_DELETE),
        form,
        errors,
        name_rule: view::plain(&InstanceName::RULE.describe()),
    };
    Ok(view::page(status, &body))
}

async fn list(signed: Signed, q: Query<ListQuery>) -> Result<HttpResponse, Refusal> {
    list_page(
        &signed,
        &q,
        StatusCode::OK,
        InstanceForm::default(),
        FormErrors::none(),
    )
    .await
}

async fn create(req: HttpRequest, action: Action) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let form = InstanceForm::read(&action.form);
    let q = ListQuery::default();
    let config = match form.config() {
        Ok(c) => c,
        Err(errors) => {
            return list_page(signed, &q, StatusCode::UNPROCESSABLE_ENTITY, form, errors).await;
        }
    };
    let request = CreateInstanceRequest {
        name: form.name.clone(),
        runtime_image: Some(form.runtime_image.trim().to_owned()).filter(|s| !s.is_empty()),
        config,
        start: Some(form.start),
    };
    match api::create_instance(&signed.state.api, &signed.caller()?, request).await {
        Ok(created) => Ok(view::see_other(
            &req,
            &format!("/instances/{}?done=instance-created", created.id),
        )),
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            list_page(signed, &q, status, form, errors).await
        }
    }
}

fn instance_id(id: &str) -> Result<InstanceId, Refusal> {
    super::path_id(id, "Instance not found")
}

async fn detail_page(
    signed: &Signed,
    instance: InstanceDto,
    done: Option<&str>,
    status: StatusCode,
    form: Option<InstanceForm>,
    errors: FormErrors,
) -> Result<HttpResponse, Refusal> {
    let value: serde_json::Value =
        serde_json::from_str(instance.config.0.get()).unwrap_or_default();
    let config_pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
    let form = form.unwrap_or_else(|| InstanceForm {
        name: instance.name.clone(),
        runtime_image: instance.runtime_image.clone(),
        config: config_pretty.clone(),
        start: false,
    });
    let tail = LogTail::new(i64::from(PAGE_LOG_LINES), "").map_err(api::Problem::invalid)?;
    let id = InstanceId(instance.id);
    let log = match api::get_instance_logs(&signed.state.api, &signed.caller()?, id, tail).await {
        Ok(text) => Some(text),
        Err(p) if p.outcome == api::Outcome::Unavailable => None,
        Err(p) => return Err(p.into()),
    };
    let body = DetailPage {
        chrome: chrome(signed, &instance.name, &SECTION, done).await?,
        i: InstanceView::from(&instance),
        config_pretty,
        log,
        log_lines: PAGE_LOG_LINES,
        may_write: signed.may(&api::INSTANCES_WRITE),
        may_delete: signed.may(&api::INSTANCES_DELETE),
        form,
        errors,
    };
    Ok(view::page(status, &body))
}

async fn detail(
    signed: Signed,
    id: Path<String>,
    q: Query<ListQuery>,
) -> Result<HttpResponse, Refusal> {
    let id = instance_id(&id)?;
    let instance = api::get_instance(&signed.state.api, &signed.caller()?, id).await?;
    detail_page(
        &signed,
        instance,
        q.done.as_deref(),
        StatusCode::OK,
        None,
        FormErrors::none(),
    )
    .await
}

async fn update(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let id = instance_id(&id)?;
    let form = InstanceForm::read(&action.form);
    let api_ = &signed.state.api;
    let caller = signed.caller()?;
    let (status, errors) = match form.config() {
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        Ok(config) => {
            let request = UpdateInstanceRequest {
                name: Some(form.name.clone()),
                runtime_image: Some(form.runtime_image.clone()),
                config: Some(config.unwrap_or_else(|| JsonObject(serde_json::json!({})))),
            };
            match api::update_instance(api_, &caller, id, request).await {
                Ok(_) => {
                    return Ok(view::see_other(
                        &req,
                        &format!("/instances/{}?done=instance-updated", id.0),
                    ));
                }
                Err(p) => view::form_problem(p)?,
            }
        }
    };
    let instance = api::get_instance(api_, &caller, id).await?;
    detail_page(signed, instance, None, status, Some(form), errors).await
}

/// Starts or stops an instance: htmx gets the row back, a plain form the page it came
/// from.
async fn lifecycle(
    req: &HttpRequest,
    action: Action,
    id: &str,
    start: bool,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let id = instance_id(id)?;
    let caller = signed.caller()?;
    let api_ = &signed.state.api;
    let done = if start {
        api::start_instance(api_, &caller, id).await
    } else {
        api::stop_instance(api_, &caller, id).await
    }?;
    if crate::request::from_htmx(req) && action.form.text("back") != "detail" {
        return Ok(view::ok(&Row {
            chrome: RowChrome {
                csrf: signed.csrf.clone(),
            },
            i: InstanceView::from(&done),
            may_write: signed.may(&api::INSTANCES_WRITE),
            may_delete: signed.may(&api::INSTANCES_DELETE),
        }));
    }
    let code = if start {
        "instance-started"
    } else {
        "instance-stopped"
    };
    let to = if action.form.text("back") == "detail" {
        format!("/instances/{}?done={code}", id.0)
    } else {
        format!("/instances?done={code}")
    };
    Ok(view::see_other(req, &to))
}

async fn start(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    lifecycle(&req, action, &id, true).await
}

async fn stop(req: HttpRequest, action: Action, id: Path<String>) -> Result<HttpResponse, Refusal> {
    lifecycle(&req, action, &id, false).await
}

async fn confirm_delete(signed: Signed, id: Path<String>) -> Result<HttpResponse, Refusal> {
    let id = instance_id(&id)?;
    let instance = api::get_instance(&signed.state.api, &signed.caller()?, id).await?;
    Ok(view::ok(&Confirm {
        chrome: chrome(&signed, "Delete instance", &SECTION, None).await?,
        heading: format!("Delete {}?", instance.name),
        text: "The instance is stopped and deleted, with its configuration. This cannot be undone."
            .into(),
        action: format!("/instances/{}/delete", instance.id),
        button: "Delete instance",
        cancel: format!("/instances/{}", instance.id),
        error: None,
    }))
}

async fn delete(
    req: HttpRequest,
    action: Action,
    id: Path<String>,
) -> Result<HttpResponse, Refusal> {
    let signed = &action.signed;
    let id = instance_id(&id)?;
    api::delete_instance(&signed.state.api, &signed.caller()?, id).await?;
    Ok(view::see_other(&req, "/instances?done=instance-deleted"))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        web::resource("/instances")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/instances/{id}")
            .route(web::get().to(detail))
            .route(web::post().to(update)),
    )
    .route("/instances/{id}/start", web::post().to(start))
    .route("/instances/{id}/stop", web::post().to(stop))
    .service(
        web::resource("/instances/{id}/delete")
            .route(web::get().to(confirm_delete))
            .route(web::post().to(delete)),
    );
}
