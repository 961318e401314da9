//! The black-box suite: every behaviour of the HTTP contract, over real HTTP, on
//! SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

mod auth;
mod errors;
mod instances;
mod keys;
mod meta;
mod pagination;
