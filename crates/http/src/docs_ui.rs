//! The API reference pages, from assets compiled into the binary (no CDN): ReDoc at
//! `/redoc`. Swagger UI at `/docs` comes from the `swagger-ui-dist` crate.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const REDOC_JS: &[u8] = include_bytes!("../assets/redoc/redoc.standalone.js");

const REDOC_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>HydraCore API reference</title>
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="/openapi.json"></redoc>
    <script src="/redoc/redoc.standalone.js"></script>
  </body>
</html>
"#;

async fn redoc_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(REDOC_PAGE)
}

async fn redoc_js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(REDOC_JS)
}

/// Mounts `/redoc`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/redoc", web::get().to(redoc_page))
        .route("/redoc/", web::get().to(redoc_page))
        .route("/redoc/redoc.standalone.js", web::get().to(redoc_js));
}
