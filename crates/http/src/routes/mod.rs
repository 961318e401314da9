//! The routes, one module per resource.

pub mod audit;
pub mod auth;
pub mod instances;
pub mod internal;
pub mod keys;
pub mod mcp;
pub mod meta;
pub mod oauth;
pub mod tenants;

use actix_web::HttpResponse;
use serde_json::json;

/// The 405 of a resource: `Allow` lists the methods it has.
pub fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(move || async move {
        HttpResponse::MethodNotAllowed()
            .insert_header(("Allow", allow))
            .json(json!({ "detail": "Method Not Allowed" }))
    })
}

/// The 404 of every path that names no route.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({ "detail": "Not Found" }))
}
