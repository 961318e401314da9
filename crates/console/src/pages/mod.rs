//! The pages, one module per section, and what they share: pages of a list, the
//! confirmation of a destructive action, and reading what a notice code means.

mod audit;
mod auth;
mod calls;
mod credentials;
mod instances;
mod keys;
mod members;
mod oauth;
mod tenant;

use actix_web::web::ServiceConfig;
use askama::Template;
use hydracore_api as api;
use hydracore_core::{Page, PageRequest};
use serde::Deserialize;

use crate::view::{Chrome, Refusal, Section, encode_component};

/// How many rows a list page shows unless asked for another number (1..=1000).
pub const PAGE_SIZE: u32 = 100;

/// `?limit=&cursor=` of a list page, plus what happened (`?done=`).
#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    pub done: Option<String>,
}

impl ListQuery {
    /// The page asked for.
    ///
    /// # Errors
    /// A limit out of range or a cursor this server did not make: the operation's
    /// own problem.
    pub fn page(&self) -> Result<PageRequest, Refusal> {
        let after = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(api::decode_cursor(c).ok_or_else(|| {
                api::Problem::invalid(hydracore_core::ValidationError::new(
                    "cursor",
                    "value_error",
                    "Not a cursor of this server: start again from the first page",
                    "",
                ))
            })?),
        };
        Ok(PageRequest::new(self.limit.unwrap_or(PAGE_SIZE), after).map_err(api::Problem::from)?)
    }
}

/// The id in a page's path. One that is not a UUID names nothing here: 404, with the
/// operation's own sentence for a missing row (`missing`).
pub fn path_id<T: From<uuid::Uuid>>(raw: &str, missing: &'static str) -> Result<T, Refusal> {
    uuid::Uuid::parse_str(raw)
        .map(T::from)
        .map_err(|_| api::Problem::not_found(missing).into())
}

/// The links between the pages of a list.
pub struct Pager {
    pub first: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// The links of `page` of the list at `path`, shown `limit` rows at a time, with
    /// `extra` query pairs (filters) kept on every link.
    pub fn new<T>(path: &str, q: &ListQuery, page: &Page<T>, extra: &[(&str, &str)]) -> Self {
        let mut base = String::from(path);
        let mut sep = '?';
        for (k, v) in extra.iter().filter(|(_, v)| !v.is_empty()) {
            base.push(sep);
            base.push_str(k);
            base.push('=');
            base.push_str(&encode_component(v));
            sep = '&';
        }
        if let Some(limit) = q.limit.filter(|l| *l != PAGE_SIZE) {
            base.push(sep);
            base.push_str(&format!("limit={limit}"));
            sep = '&';
        }
        let first = q.cursor.as_ref().map(|_| base.clone());
        let next = page
            .next
            .as_ref()
            .map(|k| format!("{base}{sep}cursor={}", api::encode_cursor(k)));
        Self { first, next }
    }
}

/// The confirmation of a destructive action (the page a form without JavaScript
/// reaches; it posts to the action itself).
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct Confirm {
    pub chrome: Chrome,
    pub heading: String,
    pub text: String,
    pub action: String,
    pub button: &'static str,
    pub cancel: String,
    pub error: Option<String>,
}

/// The sentence of a `?done=` code: a fixed table, so no text of the query reaches
/// the page.
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "instance-created" => "Instance created.",
        "instance-updated" => "Instance updated.",
        "instance-started" => "Instance started.",
        "instance-stopped" => "Instance stopped.",
        "instance-deleted" => "Instance deleted.",
        "key-updated" => "API key updated.",
        "key-revoked" => "API key revoked: it no longer authenticates.",
        "member-added" => "Member added.",
        "member-updated" => "Role changed.",
        "member-removed" => "Member removed.",
        "credential-created" => "Credential stored.",
        "credential-deleted" => "Credential deleted.",
        "tenant-created" => "Tenant created: you are now working in it.",
        "grant-revoked" => "Connected app revoked: its tokens no longer work.",
        _ => return None,
    })
}

pub fn configure(cfg: &mut ServiceConfig) {
    auth::configure(cfg);
    audit::configure(cfg);
    instances::configure(cfg);
    keys::configure(cfg);
    members::configure(cfg);
    credentials::configure(cfg);
    calls::configure(cfg);
    tenant::configure(cfg);
    oauth::configure(cfg);
}

/// The navigation, in order: a new section's page adds its `SECTION` here.
pub const NAV: &[&Section] = &[
    &instances::SECTION,
    &keys::SECTION,
    &members::SECTION,
    &credentials::SECTION,
    &calls::SECTION,
    &audit::SECTION,
    &oauth::SECTION,
    &tenant::SECTION,
];

/// The chrome of a page of `section`.
pub async fn chrome(
    signed: &crate::request::Signed,
    title: &str,
    section: &'static Section,
    done: Option<&str>,
) -> Result<Chrome, Refusal> {
    Ok(Chrome::new(&signed.state.api, signed, title, NAV, section)
        .await?
        .with_notice(notice(done)))
}
