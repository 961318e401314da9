//! `/settings/audit-log`: who changed what in the tenant, filtered, and one event.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Path, Query, ServiceConfig};
use askama::Template;
use hydracore_api::{self as api, AuditEventDto, AuditLogFilter};
use hydracore_audit::{Action, AuditEventId};
use hydracore_core::PageRequest;
use serde::Deserialize;

use super::{ListQuery, Pager, chrome, path_id};
use crate::request::Signed;
use crate::view::{self, Chrome, Refusal, Section, iso, when};

/// This page's section of the navigation.
pub const SECTION: Section = Section {
    href: "/settings/audit-log",
    label: "Audit log",
    need: Some(api::AUDIT_LOG_READ),
};

pub struct EventView {
    pub id: String,
    pub at: String,
    pub at_iso: String,
    pub action: String,
    pub actor_kind: String,
    pub actor: String,
    pub actor_id: Option<String>,
    pub target_kind: String,
    pub target: String,
    pub target_id: String,
    pub fields: Vec<String>,
    pub request_id: Option<String>,
    pub client: Option<String>,
}

impl From<AuditEventDto> for EventView {
    fn from(e: AuditEventDto) -> Self {
        Self {
            id: e.id.to_string(),
            at: when(e.at.0),
            at_iso: iso(e.at.0),
            action: e.action,
            actor_kind: e.actor.kind.replace('_', " "),
            actor: e.actor.name,
            actor_id: e.actor.id.map(|i| i.to_string()),
            target_kind: e.target.kind.replace('_', " "),
            target: e.target.name,
            target_id: e.target.id.to_string(),
            fields: e.fields,
            request_id: e.request_id,
            client: e.client,
        }
    }
}

/// The filters as typed (kept in the form and on every page link).
#[derive(Debug, Default, Deserialize)]
pub struct FilterForm {
    #[serde(default)]
    pub actor_id: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub target_id: String,
    /// A date (`YYYY-MM-DD`), from its first instant.
    #[serde(default)]
    pub since: String,
    /// A date, through its last instant.
    #[serde(default)]
    pub until: String,
}

impl FilterForm {
    pub fn any(&self) -> bool {
        [
            &self.actor_id,
            &self.action,
            &self.target_id,
            &self.since,
            &self.until,
        ]
        .iter()
        .any(|v| !v.is_empty())
    }

    /// The operation's filter: dates become instants (`until` takes its whole day).
    fn filter(&self) -> Result<AuditLogFilter, api::Problem> {
        let day = |field: &'static str, raw: &str, next: bool| {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(raw.trim(), format)
                .map(|d| {
                    let d = if next { d.next_day().unwrap_or(d) } else { d };
                    d.midnight()
                        .assume_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                })
                .map_err(|_| {
                    api::Problem::from(hydracore_core::ValidationError::new(
                        field,
                        "date_parsing",
                        "Choose a date",
                        raw,
                    ))
                })
        };
        let since = Some(self.since.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| day("since", s, false))
            .transpose()?;
        let until = Some(self.until.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| day("until", s, true))
            .transpose()?;
        let actions: Vec<&str> = Some(self.action.as_str())
            .filter(|a| !a.is_empty())
            .into_iter()
            .collect();
        AuditLogFilter::parse(
            Some(self.actor_id.as_str()).filter(|s| !s.is_empty()),
            &actions,
            Some(self.target_id.trim()).filter(|s| !s.is_empty()),
            since.as_deref(),
            until.as_deref(),
            Some("desc"),
        )
    }
}

#[derive(Template)]
#[template(path = "audit_log.html")]
struct AuditLogPage {
    chrome: Chrome,
    rows: Vec<EventView>,
    pager: Pager,
    filter: FilterForm,
    actors: Vec<(String, String)>,
    actions: Vec<&'static str>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "audit_event.html")]
struct EventPage {
    chrome: Chrome,
    e: EventView,
    description: &'static str,
}

/// The people and keys of the tenant, for the actor filter (the first thousand of each).
async fn actors(signed: &Signed) -> Result<Vec<(String, String)>, Refusal> {
    let svc = &signed.state.api;
    let caller = signed.caller()?;
    let all = PageRequest::new(1000, None).map_err(api::Problem::from)?;
    let mut out = Vec::new();
    if signed.may(&api::MEMBERS_READ) {
        for m in api::list_members(svc, &caller, all).await?.items {
            out.push((m.user_id.to_string(), m.email));
        }
    }
    if signed.may(&api::API_KEYS_READ) {
        for k in api::list_api_keys(svc, &caller, all).await?.items {
            out.push((k.id.to_string(), format!("key {} ({}…)", k.name, k.prefix)));
        }
    }
    Ok(out)
}

async fn list(
    signed: Signed,
    q: Query<ListQuery>,
    f: Query<FilterForm>,
) -> Result<HttpResponse, Refusal> {
    let caller = signed.caller()?;
    let svc = &signed.state.api;
    let (status, rows, pager, error) = match f.filter() {
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            let empty = hydracore_core::Page::<AuditEventDto> {
                items: Vec::new(),
                next: None,
            };
            let pager = Pager::new("/settings/audit-log", &q, &empty, &[]);
            (status, Vec::new(), pager, Some(errors.all().join(" ")))
        }
        Ok(filter) => {
            let page = api::list_audit_events(svc, &caller, &filter, q.page()?).await?;
            let extra = [
                ("actor_id", f.actor_id.as_str()),
                ("action", f.action.as_str()),
                ("target_id", f.target_id.as_str()),
                ("since", f.since.as_str()),
                ("until", f.until.as_str()),
            ];
            let pager = Pager::new("/settings/audit-log", &q, &page, &extra);
            let rows = page.items.into_iter().map(EventView::from).collect();
            (StatusCode::OK, rows, pager, None)
        }
    };
    let body = AuditLogPage {
        chrome: chrome(&signed, "Audit log", &SECTION, None).await?,
        rows,
        pager,
        actors: actors(&signed).await?,
        filter: f.into_inner(),
        actions: api::audit_actions(),
        error,
    };
    Ok(view::page(status, &body))
}

async fn detail(signed: Signed, id: Path<String>) -> Result<HttpResponse, Refusal> {
    let id: AuditEventId = path_id(&id, "Audit event not found")?;
    let event = api::get_audit_event(&signed.state.api, &signed.caller()?, id).await?;
    let description = Action::parse(&event.action).map_or("", Action::describe);
    Ok(view::ok(&EventPage {
        chrome: chrome(&signed, "Audit event", &SECTION, None).await?,
        e: EventView::from(event),
        description,
    }))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/settings/audit-log", web::get().to(list))
        .route("/settings/audit-log/{id}", web::get().to(detail));
}
