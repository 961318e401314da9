//! The routes: the operation table's (`table`), and those written by hand, one module
//! each.

pub mod auth;
pub mod internal;
pub mod meta;
pub mod oauth;
pub mod table;
pub mod tenants;

use actix_web::HttpResponse;
use paperclip::actix::web::ServiceConfig;
use serde_json::json;

/// Mounts every resource under `/v1`: the operation table's (a new resource's routes
/// come with its table) and the hand-written ones.
pub fn configure_v1(cfg: &mut ServiceConfig<'_>) {
    // actix tries a scope's resources in order, each pattern with a parameter by
    // regex: `/scopes` and `/mcp/api-key-context` have none, so they go first and are
    // found without one.
    meta::configure_v1(cfg);
    table::routes().mount(cfg);
    tenants::configure(cfg);
}

/// The 405 of a resource: `Allow` lists the methods it has.
pub fn method_not_allowed(allow: impl Into<String>) -> actix_web::Route {
    let allow: String = allow.into();
    actix_web::web::to(move || {
        let allow = allow.clone();
        async move {
            HttpResponse::MethodNotAllowed()
                .insert_header(("Allow", allow))
                .json(json!({ "detail": "Method Not Allowed" }))
        }
    })
}

/// The 404 of every path that names no route.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "detail": "Not Found" }))
}
