//! The black-box suite: every behaviour of the HTTP contract, over real HTTP, on
//! SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a failed step is a failed test"
)]

mod auth;
mod clients;
mod console;
mod containers;
mod credentials;
mod deploy;
mod errors;
mod faults;
mod hostile;
mod idempotency;
mod identity;
mod instances;
mod internal;
mod keys;
mod matrix;
mod mcp;
mod meta;
mod nodes;
mod oauth;
mod pagination;
mod ratelimit;
mod schemathesis;
mod usage;
