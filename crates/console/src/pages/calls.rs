//! `/mcp/call-log`: the tenant's MCP tool calls, newest first, filtered by key, tool
//! and status.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web::{self, Query, ServiceConfig};
use askama::Template;
use hydracore_api::{self as api, CallLogFilter, McpCallDto};
use hydracore_core::PageRequest;
use serde::Deserialize;

use super::{ListQuery, Pager, chrome};
use crate::request::Signed;
use crate::view::{self, Chrome, Refusal, Section, iso, when};

/// This page's section of the navigation.
pub const SECTION: Section = Section {
    href: "/mcp/call-log",
    label: "MCP call log",
    need: None,
};

pub struct CallView {
    pub at: String,
    pub at_iso: String,
    pub tool: String,
    pub scope: String,
    pub status: &'static str,
    pub latency: String,
    pub key: String,
}

/// The filters as typed (kept in the form and on every page link).
#[derive(Debug, Default, Deserialize)]
pub struct FilterForm {
    #[serde(default)]
    pub key_id: String,
    #[serde(default)]
    pub tool: String,
    #[serde(default)]
    pub status: String,
}

impl FilterForm {
    pub fn any(&self) -> bool {
        !(self.key_id.is_empty() && self.tool.is_empty() && self.status.is_empty())
    }
}

#[derive(Template)]
#[template(path = "call_log.html")]
struct CallLogPage {
    chrome: Chrome,
    rows: Vec<CallView>,
    pager: Pager,
    filter: FilterForm,
    keys: Vec<(String, String)>,
    statuses: Vec<&'static str>,
    error: Option<String>,
}

fn latency(us: i64) -> String {
    if us >= 1_000_000 {
        format!("{:.2} s", us as f64 / 1e6)
    } else if us >= 1_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{us} µs")
    }
}

async fn list(
    signed: Signed,
    q: Query<ListQuery>,
    f: Query<FilterForm>,
) -> Result<HttpResponse, Refusal> {
    let caller = signed.caller()?;
    let svc = &signed.state.api;
    // The key names, for the filter and the rows (a tenant's first thousand keys).
    let keys: Vec<(String, String)> = if signed.may(&api::API_KEYS_READ) {
        api::list_api_keys(
            svc,
            &caller,
            PageRequest::new(1000, None).map_err(api::Problem::from)?,
        )
        .await?
        .items
        .into_iter()
        .map(|k| (k.id.to_string(), format!("{} ({}…)", k.name, k.prefix)))
        .collect()
    } else {
        Vec::new()
    };
    let names: HashMap<&str, &str> = keys
        .iter()
        .map(|(id, n)| (id.as_str(), n.as_str()))
        .collect();
    let filter = CallLogFilter::parse(
        Some(f.key_id.as_str()).filter(|s| !s.is_empty()),
        Some(f.tool.trim()).filter(|s| !s.is_empty()),
        Some(f.status.as_str()).filter(|s| !s.is_empty()),
        Some("desc"),
    );
    let (status, rows, pager, error) = match filter {
        Err(problem) => {
            let (status, errors) = view::form_problem(problem)?;
            let empty = hydracore_core::Page::<McpCallDto> {
                items: Vec::new(),
                next: None,
            };
            let pager = Pager::new("/mcp/call-log", &q, &empty, &[]);
            (status, Vec::new(), pager, Some(errors.all().join(" ")))
        }
        Ok(filter) => {
            let page = api::list_calls(svc, &caller, &filter, q.page()?).await?;
            let extra = [
                ("key_id", f.key_id.as_str()),
                ("tool", f.tool.as_str()),
                ("status", f.status.as_str()),
            ];
            let pager = Pager::new("/mcp/call-log", &q, &page, &extra);
            let rows = page
                .items
                .iter()
                .map(|c| {
                    let key = match (c.key_id, c.oauth_client.as_deref()) {
                        (Some(id), _) => {
                            let id = id.to_string();
                            names.get(id.as_str()).map_or_else(
                                || format!("{}… (revoked)", &id[..8]),
                                |n| (*n).to_owned(),
                            )
                        }
                        (None, Some(client)) => format!("{client} (OAuth)"),
                        (None, None) => String::new(),
                    };
                    CallView {
                        at: when(c.created_at.0),
                        at_iso: iso(c.created_at.0),
                        tool: c.tool.clone(),
                        scope: c.scope.clone(),
                        status: c.status.as_str(),
                        latency: latency(c.latency_us),
                        key,
                    }
                })
                .collect();
            (StatusCode::OK, rows, pager, None)
        }
    };
    let body = CallLogPage {
        chrome: chrome(&signed, "MCP call log", &SECTION, None).await?,
        rows,
        pager,
        filter: f.into_inner(),
        keys,
        statuses: vec!["ok", "error", "denied"],
        error,
    };
    Ok(view::page(status, &body))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.route("/mcp/call-log", web::get().to(list));
}
