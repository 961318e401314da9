//! Credentials that instances use to reach third-party MCP servers. The secret is
//! sealed with AES-256-GCM before it reaches a port and is never returned: reads show
//! only that it exists and its last four characters.
//!
//! Knows nothing of HTTP or SQL.

mod model;
pub mod ports;
mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use hydracore_core::seal::{Cipher, CipherError, Sealed, parse_hex_key};
pub use model::*;
pub use ports::McpCredentialRepository;
pub use service::*;

#[cfg(test)]
mod tests;
