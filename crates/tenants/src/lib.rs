//! Tenants: the unit of isolation. Every other resource belongs to exactly one tenant.
//! Users belong to tenants through memberships, each with a role.
//!
//! Holds the domain types, the ports ([`TenantRepository`], [`UserRepository`],
//! [`MembershipRepository`]) and the [`TenantService`]. Knows nothing of HTTP or SQL.

mod model;
pub mod ports;
mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use model::*;
pub use ports::{MembershipRepository, TenantRepository, UserRepository};
pub use service::*;

#[cfg(test)]
mod tests;
