//! The audit record of MCP tool calls and its port.
//!
//! A record names the tool, the scope it needed, the outcome, the latency and the key
//! that called it. By design it has no field for arguments, results or error text, so
//! none can ever be stored. Knows nothing of HTTP or SQL.

mod model;
pub mod ports;
mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use model::*;
pub use ports::McpCallLog;
pub use service::*;

#[cfg(test)]
mod tests;
