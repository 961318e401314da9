//! The console: the web application people use, served by the same binary. A third
//! driving adapter beside HTTP and MCP: every page calls the operations of
//! `hydracore-api`, shows their problems (the same sentences the API answers), and
//! holds no rule of its own.
//!
//! Server-rendered HTML (askama templates, checked at compile time) that works without
//! JavaScript wherever a form can do the job; htmx (vendored, no CDN) and one small
//! script of our own enhance it. Sessions are cookies naming a server-side session;
//! every state change carries a CSRF token; every response forbids framing, inline
//! script and inline style.

mod assets;
mod pages;
mod request;
mod view;

use std::sync::Arc;

use actix_web::web::{Data, ServiceConfig};
use hydracore_api::{Services, TrustedProxies};
use hydracore_auth::Authenticator;

pub use request::SESSION_COOKIE;

/// What the console runs on.
#[derive(Clone)]
pub struct ConsoleState {
    /// The services every operation runs on.
    pub api: Services,
    /// Resolves a session cookie into the person's principal.
    pub auth: Authenticator,
    /// The server as people's browsers and tools reach it (`HYDRACORE_PUBLIC_URL`),
    /// used in the snippets shown beside a new key.
    pub public_url: Arc<str>,
    /// Cookies are marked `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Whether `/signup` is offered.
    pub signup_enabled: bool,
    /// The proxies whose `X-Forwarded-For` names the client (sign-in budgets).
    pub trusted_proxies: TrustedProxies,
    /// The clock that says which keys expire soon.
    pub clock: hydracore_core::SharedClock,
    /// The budget of keys without one of their own, as the key pages show it.
    pub default_rate_limit: hydracore_keys::RateLimit,
}

/// Mounts the console's pages and assets. Each page is its own resource (no catch-all
/// scope), so every other route of the application keeps answering as before.
pub fn configure(state: ConsoleState) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.app_data(Data::new(state));
        assets::configure(cfg);
        pages::configure(cfg);
    }
}
