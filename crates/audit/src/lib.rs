//! The management audit log: who changed what, when, from where. Every change a
//! service makes leaves one [`AuditEvent`], written by the repository that makes the
//! change in the same transaction (see `hydracore_core::audit`); this crate reads the
//! log back and keeps it to its retention.
//!
//! Knows nothing of HTTP or SQL.

mod model;
pub mod ports;
mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use hydracore_core::audit::{
    Action, ActorKind, AuditActor, AuditEvent, AuditEventId, AuditTarget, Origin, TargetKind, Who,
};
pub use model::*;
pub use ports::AuditLog;
pub use service::*;

#[cfg(test)]
mod tests;
