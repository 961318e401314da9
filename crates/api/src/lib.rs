//! The operation layer: what clients send and receive (DTOs, with their conversions
//! from and to domain types), shared by every driving adapter (HTTP, MCP) so a tool and
//! its route answer alike. Domain types never serialise; these do.

mod access;
mod audit;
mod client;
mod cursor;
mod identity;
mod images;
mod instances;
mod json;
mod keys;
mod mcp;
mod members;
mod meta;
mod oauth;
mod problem;
mod rules;
mod services;
mod shapes;
mod time;

pub use access::*;
pub use audit::*;
pub use client::{ProxyError, TrustedProxies};
pub use cursor::*;
pub use identity::*;
pub use images::*;
pub use instances::*;
pub use json::*;
pub use keys::*;
pub use mcp::*;
pub use members::*;
pub use meta::*;
pub use oauth::*;
pub use problem::{Outcome, Problem, RUNTIME_AWAY};
pub use rules::{FieldRules, request_rules};
pub use services::{Caller, Services};
pub use shapes::nested_shapes;
pub use time::*;
