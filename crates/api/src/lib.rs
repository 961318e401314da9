//! The operation layer: what clients send and receive (DTOs, with their conversions
//! from and to domain types), shared by every driving adapter (HTTP, MCP, the console)
//! so a tool and its route answer alike. Domain types never serialise; these do.

#[macro_use]
mod access;
mod client;
mod cursor;
mod json;
mod problem;
mod rules;
mod services;
mod shapes;
mod time;

pub use access::*;
pub use client::{ProxyError, TrustedProxies};
pub use cursor::*;
pub use json::*;
pub use problem::{Outcome, Problem};
pub use rules::FieldRules;
pub use services::{Caller, Services};
pub use shapes::BodyRules;
pub use time::*;

/// The resources. Each module holds a resource's DTOs and their conversions, its
/// operations, the scopes they need (`needs!`), the outcomes of its errors (`From<…>
/// for Problem`) and its `SHAPES`; this list is the one place a new one is named.
macro_rules! resources {
    ($($resource:ident),* $(,)?) => {
        $(
            mod $resource;
            pub use $resource::*;
        )*

        /// Every request body (and shape inside one), by schema name, with its field
        /// rules.
        pub fn request_rules() -> Vec<BodyRules> {
            [$($resource::SHAPES.bodies),*].concat().iter().map(|of| of()).collect()
        }

        /// Every DTO used inside another, by name, with the schema paperclip makes of
        /// it.
        pub fn nested_shapes() -> Vec<(String, serde_json::Value)> {
            [$($resource::SHAPES.nested),*].concat().iter().map(|of| of()).collect()
        }
    };
}

resources! {
    instances,
    keys,
    members,
    identity,
    mcp,
    images,
    meta,
    audit,
    oauth,
}
