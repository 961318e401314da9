//! The API reference pages, from assets compiled into the binary: nothing they load
//! comes from another origin. ReDoc at `/redoc`; Swagger UI at `/docs/`, its assets
//! from the `swagger-ui-dist` crate and its page from here (the crate's page leaves
//! Swagger UI's online validator on, whose badge is an image from
//! validator.swagger.io on any host but localhost).

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// ReDoc's bundle as vendored, with its one reference to another origin (the sidebar's
/// Redocly logo, an image on cdn.redoc.ly) replaced by an empty inline image.
static REDOC_JS: LazyLock<String> = LazyLock::new(|| {
    String::from_utf8_lossy(include_bytes!("../assets/redoc/redoc.standalone.js")).replace(
        "https://cdn.redoc.ly/redoc/logo-mini.svg",
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E",
    )
});

const SWAGGER_PAGE: &str = r##"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>HydraCore API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script>
      window.onload = () => {
        window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null });
      };
    </script>
  </body>
</html>
"##;

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
        .body(REDOC_JS.as_str())
}

async fn swagger_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(SWAGGER_PAGE)
}

/// Mounts `/redoc` and the Swagger UI page (before the scope serving its assets).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/docs/", web::get().to(swagger_page))
        .route("/docs/index.html", web::get().to(swagger_page))
        .route("/redoc", web::get().to(redoc_page))
        .route("/redoc/", web::get().to(redoc_page))
        .route("/redoc/redoc.standalone.js", web::get().to(redoc_js));
}
