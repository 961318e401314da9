//! Agent instances and their lifecycle, the runtime images they run and the channels
//! (`stable`, `canary`) images are promoted to.
//!
//! Holds the domain types, the ports ([`ports::InstanceRepository`],
//! [`ports::RuntimeImageRepository`], [`ports::Runtime`]) and the [`InstanceService`].
//! Knows nothing of HTTP or SQL.

mod model;
pub mod ports;
mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use model::*;
pub use ports::{InstanceRepository, Runtime, RuntimeError, RuntimeImageRepository};
pub use service::*;

#[cfg(test)]
mod tests;
