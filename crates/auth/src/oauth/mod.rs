//! HydraCore as an OAuth 2.1 authorization server for its own MCP endpoint: public
//! clients (registered dynamically or named by a client metadata document), the
//! authorization code flow with PKCE (S256 only), tokens bound to one resource, refresh
//! tokens that rotate and whose reuse revokes the whole grant.
//!
//! A grant is what a person allowed at the consent page: one client acting for them in
//! one tenant with some scopes. Every code, access token and refresh token belongs to
//! one grant; revoking the grant stops all of them at once (every node reads the grant
//! with the token at each request). Tokens are opaque and stored only as SHA-256.
//! What a token allows is its scopes, never more than the person's role in the tenant
//! now.

mod model;
mod ports;
mod service;
#[cfg(test)]
mod tests;

pub use model::*;
pub use ports::*;
pub use service::*;
